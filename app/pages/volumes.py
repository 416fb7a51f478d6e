"""The Volumes page: every volume, live, with its size and the containers that use it.

Sizes come from the engine's ``/system/df`` ("—" where it measured none).
Removing a volume in use is refused by the daemon; its words and the
containers' names are said, and nothing is ever forced.  Prune opens a
preview of exactly which volumes go and their bytes, for "anonymous only"
(what ``docker volume prune`` does on API >= 1.42) or "all unused", the same
on every engine (see :func:`engine.prune_volumes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

import engine
from app.models.table import Column, KeyedTableModel
from app.pages.resource_forms import (
    Call,
    FormDialog,
    PreviewItem,
    PruneDialog,
    PruneMode,
    PrunePlan,
    parse_pairs,
)
from app.pages.table_page import TablePage
from app.pages.volume_files import (
    Progress,
    VolumeFilesDialog,
    VolumeTransferDialog,
    message_level,
    open_transfer,
)
from app.presentation import (
    VolumeRow,
    counted,
    human_size,
    labels_text,
    optional_size,
    relative_time,
    volume_name,
    volume_rows,
)
from app.resources import CONTAINERS, VOLUMES, measuring
from app.session import EngineSession, MessageLevel
from app.widgets.ask import ask

#: What the daemons accept as a volume name.
VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]+")


def _created_key(row: VolumeRow) -> float:
    return row.volume.created.timestamp() if row.volume.created else 0.0


VOLUME_COLUMNS = (
    Column("Name", lambda r: volume_name(r.volume), tooltip=lambda r: r.volume.name),
    Column("Driver", lambda r: r.volume.driver),
    Column("Size", lambda r: optional_size(r.volume.size), align_right=True,
           sort_key=lambda r: -1 if r.volume.size is None else r.volume.size,
           tooltip=lambda r: "The engine did not measure it" if r.volume.size is None
           else f"{r.volume.size:,} bytes"),
    Column("Created", lambda r: relative_time(r.volume.created), sort_key=_created_key),
    Column("Used by", lambda r: ", ".join(r.users) or "unused",
           sort_key=lambda r: (len(r.users), r.users),
           tooltip=lambda r: "\n".join(r.users) or "No container uses it"),
    Column("Compose project", lambda r: r.volume.compose_project or ""),
    Column("Labels", lambda r: labels_text(r.volume.labels),
           tooltip=lambda r: "\n".join(f"{k}={v}" for k, v in sorted(r.volume.labels.items()))),
    Column("Mount point", lambda r: r.volume.mountpoint, tooltip=lambda r: r.volume.mountpoint),
)


def volumes_model(parent: QWidget | None = None) -> KeyedTableModel:
    return KeyedTableModel(VOLUME_COLUMNS, key=lambda r: r.name, parent=parent)


class VolumesPage(TablePage):
    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__("volumes", volumes_model(), parent)
        self.model.setParent(self)
        self.session = session
        #: Narrows what Prune looks at (tests confine it to their own label).
        self.prune_filters: Mapping[str, Sequence[str]] | None = None
        self.create_button = self.add_button("Create…", "volume-create", self.open_create)
        self.remove_button = self.add_button("Remove", "volume-remove", self.remove_selected,
                                             shortcut="Delete")
        self.prune_button = self.add_button("Prune…", "volumes-prune", self.open_prune)
        self.browse_button = self.add_button("Browse files…", "volume-browse", self.browse_selected)
        self.backup_button = self.add_button("Back up…", "volume-backup", self.backup_selected)
        self.restore_button = self.add_button("Restore…", "volume-restore",
                                              self.restore_selected)
        self.clone_button = self.add_button("Clone…", "volume-clone", self.open_clone)
        self.show_container_button = self.add_container_links(
            "volume-show-container", lambda r: list(zip(r.user_ids, r.users, strict=True)))
        #: The image and extra labels of helper containers (None: any image the engine
        #: has; tests give their own image and label).
        self.helper_image: str | None = None
        self.helper_labels: dict[str, str] | None = None
        self.remove_button.defaultAction().setEnabled(False)
        for button in (self.browse_button, self.backup_button, self.clone_button):
            button.defaultAction().setEnabled(False)
        # Containers first: each refresh of volumes is shown with what uses them.
        session.live(CONTAINERS).changed.connect(self._reload)
        session.live(VOLUMES).changed.connect(self._reload)
        self.fit_columns({0: 200, 1: 60, 2: 75, 3: 110, 4: 130, 5: 110, 6: 150})

    def noun(self, count: int) -> str:
        return "volume" if count == 1 else "volumes"

    def _reload(self, *_args: object) -> None:
        self.model.set_items(volume_rows(self.session.items(VOLUMES),
                                         self.session.items(CONTAINERS)))

    def selection_changed(self) -> None:
        rows = self.selected_items()
        self.remove_button.defaultAction().setEnabled(bool(rows))
        for button in (self.browse_button, self.backup_button, self.clone_button):
            button.defaultAction().setEnabled(len(rows) == 1)

    def _one_selected(self) -> engine.Volume | None:
        rows: list[VolumeRow] = self.selected_items()
        return rows[0].volume if len(rows) == 1 else None

    def _helper_options(self) -> dict[str, object]:
        return {"image": self.helper_image, "labels": self.helper_labels}

    # -- files, back up, restore, clone --------------------------------------------

    def browse_selected(self) -> VolumeFilesDialog | None:
        volume = self._one_selected()
        if volume is None:
            return None
        dialog = VolumeFilesDialog(self.session, volume, self, image=self.helper_image,
                                   labels=self.helper_labels)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        dialog.reload()
        return dialog

    def backup_selected(self) -> None:
        volume = self._one_selected()
        if volume is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, f"Back up volume {volume.display_name}",
                                              f"{volume.name}.tar.gz",
                                              "Gzipped tar (*.tar.gz *.tgz)")
        if path:
            self.backup_to(volume.name, Path(path), volume.size)

    def backup_to(self, name: str, destination: Path,
                  size: int | None = None) -> VolumeTransferDialog:
        """Back up ``name``; ``size`` (as listed) is the progress total, else the engine
        measures it (a /system/df of everything)."""
        options = {**self._helper_options(), "size": size}
        return open_transfer(self.session, self, f"Back up volume {name[:24]}", "Backing up",
                             partial(_backup, name, destination, options), self._report)

    def restore_selected(self) -> None:
        """Into the selected volume (asked first when it holds files), or a new one."""
        path, _ = QFileDialog.getOpenFileName(self, "Restore a volume from",
                                              filter="Tar archives (*.tar.gz *.tgz *.tar)")
        if path:
            volume = self._one_selected()
            self.restore_from(Path(path), volume.name if volume else None)

    def restore_from(self, source: Path, target: str | None) -> None:
        """Restore ``source`` into ``target``; None: a new volume named after the file."""
        if target is None:
            stem = source.name.removesuffix(".gz").removesuffix(".tgz").removesuffix(".tar")
            new = self._free_name(re.sub(r"[^A-Za-z0-9_.-]", "-", stem) or "restored")
            self._start_restore(source, new, True)
            return
        self.session.run(partial(engine.volume_is_empty, **self._helper_options()),  # type: ignore[arg-type]
                         target, describe=f"look into volume {target[:24]}",
                         on_done=partial(self._restore_if_empty, source, target))

    def _restore_if_empty(self, source: Path, target: str, empty: bool) -> None:
        if empty:
            self._start_restore(source, target, False)
            return
        ask(self, "Restore into a volume that holds files",
            f"Volume {target} is not empty. Files in {source.name} replace the files of the"
            " same names; the others stay. Restore into it anyway?",
            "Restore", partial(self._start_restore, source, target, False),
            name="volume-restore-confirm")

    def _start_restore(self, source: Path, target: str, new: bool) -> VolumeTransferDialog:
        return open_transfer(self.session, self, f"Restore {source.name} into {target[:24]}",
                             "Restoring",
                             partial(_restore, source, target, new, self._helper_options()),
                             self._report)

    def open_clone(self) -> VolumeCloneDialog | None:
        """Ask the new volume's name (a free one offered), then clone."""
        volume = self._one_selected()
        if volume is None:
            return None
        dialog = VolumeCloneDialog(self.session, volume, self._free_name(f"{volume.name}-copy"),
                                   {v.name for v in self.session.items(VOLUMES)}, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.chosen.connect(partial(self.clone_to, volume))
        dialog.open()
        return dialog

    def clone_to(self, volume: engine.Volume, target: str) -> VolumeTransferDialog:
        return open_transfer(self.session, self, f"Clone {volume.display_name} as {target}",
                             "Copying",
                             partial(_clone, volume.name, target,
                                     {**self._helper_options(), "size": volume.size}),
                             self._report)

    def _free_name(self, wanted: str) -> str:
        taken = {v.name for v in self.session.items(VOLUMES)}
        name, n = wanted, 2
        while name in taken:
            name, n = f"{wanted}-{n}", n + 1
        return name

    def _report(self, text: str) -> None:
        self.session.message.emit(message_level(text), text)

    # -- create ----------------------------------------------------------------------

    def open_create(self) -> VolumeCreateDialog:
        dialog = VolumeCreateDialog(self.session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.succeeded.connect(self._created)
        dialog.open()
        return dialog

    def _created(self, volume: engine.Volume) -> None:
        self.session.message.emit(MessageLevel.INFO, f"Created volume {volume_name(volume)}")

    # -- remove ----------------------------------------------------------------------

    def remove_selected(self) -> None:
        rows: list[VolumeRow] = self.selected_items()
        if not rows:
            return
        names = ", ".join(volume_name(r.volume) for r in rows[:5])
        names += "…" if len(rows) > 5 else ""
        in_use = [r for r in rows if r.users]
        warning = ""
        if in_use:
            warning = ("\n\nIn use, so the engine will refuse: "
                       + "; ".join(f"{volume_name(r.volume)} by {', '.join(r.users)}"
                                   for r in in_use))
        ask(self, "Remove volumes",
            f"Remove {counted(len(rows), 'volume')} and the data in them: {names}?{warning}",
            "Remove", partial(self._remove, rows), name="volumes-remove-confirm")

    def _remove(self, rows: list[VolumeRow]) -> None:
        for row in rows:
            # A refusal (in use) says the daemon's words and the containers' names.
            self.session.run(engine.remove_volume, row.volume.name,
                             describe=f"remove volume {volume_name(row.volume)}",
                             on_done=partial(self._removed, row))

    def _removed(self, row: VolumeRow, _result: None) -> None:
        self.session.message.emit(MessageLevel.INFO,
                                  f"Removed volume {volume_name(row.volume)}")

    # -- prune -----------------------------------------------------------------------

    def open_prune(self) -> PruneDialog:
        filters = dict(self.prune_filters or {})
        modes = [
            PruneMode("anonymous", "Anonymous volumes only (what docker volume prune does)",
                      partial(_plan, False, filters)),
            PruneMode("all", "All unused volumes, named ones too (docker volume prune --all)",
                      partial(_plan, True, filters)),
        ]
        dialog = PruneDialog(self.session, "volumes-prune-dialog", "Prune volumes", modes, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.pruned.connect(self._pruned)
        dialog.open()
        return dialog

    def _pruned(self, result: engine.PruneResult) -> None:
        self.session.refresh()  # Podman sends no volume event for a prune
        text = (f"Removed {counted(len(result.deleted), 'volume')},"
                f" freeing {human_size(result.reclaimed)}.")
        if result.failed:
            text += " Kept: " + "; ".join(f"{n[:12]}: {why}" for n, why in result.failed.items())
        self.session.message.emit(
            MessageLevel.WARNING if result.failed else MessageLevel.INFO, text)


async def _backup(name: str, destination: Path, options: dict[str, Any],
                  client: engine.Engine, progress: Progress) -> str:
    written = await engine.backup_volume(client, name, destination, progress=progress,
                                         **options)
    return f"Backed up volume {name} ({human_size(written)}) to {destination}"


async def _restore(source: Path, target: str, new: bool, options: dict[str, Any],
                   client: engine.Engine, progress: Progress) -> str:
    if new:
        await engine.create_new_volume(client, target, labels=options.get("labels"))
    try:
        await engine.restore_volume(client, target, source, progress=progress, **options)
    except BaseException:
        if new:  # a half-restored new volume is not left behind
            with contextlib.suppress(engine.EngineError):
                await asyncio.shield(engine.remove_volume(client, target))
        raise
    return f"Restored {source.name} into volume {target}"


async def _clone(source: str, target: str, options: dict[str, Any],
                 client: engine.Engine, progress: Progress) -> str:
    await engine.clone_volume(client, source, target, progress=progress, **options)
    return f"Cloned volume {source} as {target}"


async def _plan(all_unused: bool, filters: Mapping[str, Sequence[str]],
                client: engine.Engine) -> PrunePlan:
    plan = await measuring(partial(engine.volume_prune_plan, client, all=all_unused,
                                   filters=filters or None))
    kind = "unused volume" if all_unused else "unused anonymous volume"
    if not plan.volumes:
        summary = f"No {kind}s: nothing to prune."
    else:
        summary = f"{counted(len(plan.volumes), kind)}, {human_size(plan.bytes)}"
        if plan.unknown_sizes:
            summary += f" (+ {counted(plan.unknown_sizes, 'volume')} of unknown size)"
        summary += (" — named volumes included." if all_unused
                    else " — named volumes are kept.")
    items = [PreviewItem(volume_name(v), optional_size(v.size)) for v in plan.volumes]
    prune: Call = partial(_prune, plan, filters)
    verb = f"Remove {counted(len(plan.volumes), 'volume')}"
    return PrunePlan(items, summary, prune, verb)


async def _prune(plan: engine.VolumePrunePlan, filters: Mapping[str, Sequence[str]],
                 client: engine.Engine) -> engine.PruneResult:
    return await engine.prune_volumes(client, all=plan.all, filters=filters or None, plan=plan)


class VolumeCloneDialog(FormDialog):
    """The new volume's name; the copy itself runs in a transfer dialog (progress, Cancel)."""

    chosen = Signal(str)

    def __init__(self, session: EngineSession, volume: engine.Volume, offered: str,
                 taken: set[str], parent: QWidget | None = None) -> None:
        super().__init__(session, "volume-clone-dialog", f"Clone {volume.display_name}",
                         "Clone", parent)
        self.taken = taken
        self.name = QLineEdit(offered, self)
        self.add_row("&New volume:", self.name, "volume-clone-name", "New volume name")
        self.watch(self.name.textChanged)
        self.validate()

    def check(self) -> str:
        name = self.name.text().strip()
        if not VOLUME_NAME.fullmatch(name):
            return (f"{name!r} is not a valid volume name: use letters, digits, '_', '.', '-'"
                    " (two or more, starting with a letter or digit)")
        if name in self.taken:
            return f"A volume named {name} exists already"
        return ""

    def accept(self) -> None:
        if self.validate():
            self.chosen.emit(self.name.text().strip())
            QDialog.accept(self)


class VolumeCreateDialog(FormDialog):
    """Name (empty: the engine names it), driver, driver options and labels."""

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(session, "volume-create-dialog", "Create volume", "Create", parent)
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("empty: an anonymous volume, named by the engine")
        self.add_row("&Name:", self.name, "volume-name", "Volume name")
        self.driver = QComboBox(self)
        self.driver.setEditable(True)
        self.driver.addItem("local")
        self.add_row("&Driver:", self.driver, "volume-driver", "Volume driver")
        self.options = QPlainTextEdit(self)
        self.options.setPlaceholderText("key=value, one a line (e.g. type=tmpfs, device=tmpfs)")
        self.options.setMaximumHeight(70)
        self.add_row("&Options:", self.options, "volume-options", "Driver options")
        self.labels = QPlainTextEdit(self)
        self.labels.setPlaceholderText("key=value, one a line")
        self.labels.setMaximumHeight(70)
        self.add_row("&Labels:", self.labels, "volume-labels", "Labels")
        self.watch(self.name.textChanged, self.driver.currentTextChanged,
                   self.options.textChanged, self.labels.textChanged)
        self.validate()

    def check(self) -> str:
        name = self.name.text().strip()
        if name and not VOLUME_NAME.fullmatch(name):
            return (f"{name!r} is not a valid volume name: use letters, digits, '_', '.', '-'"
                    " (two or more, starting with a letter or digit)")
        if not self.driver.currentText().strip():
            return "Give a driver (local, unless a plugin provides another)"
        try:
            parse_pairs(self.options.toPlainText(), "Options")
            parse_pairs(self.labels.toPlainText(), "Labels")
        except ValueError as exc:
            return str(exc)
        return ""

    def call(self) -> tuple[Call, str]:
        name = self.name.text().strip() or None
        call: Call = partial(
            _create, name, self.driver.currentText().strip(),
            parse_pairs(self.options.toPlainText(), "Options"),
            parse_pairs(self.labels.toPlainText(), "Labels"))
        return call, f"create volume {name or '(anonymous)'}"


async def _create(name: str | None, driver: str, options: dict[str, str],
                  labels: dict[str, str], client: engine.Engine) -> engine.Volume:
    return await engine.create_volume(client, name, driver=driver, driver_options=options,
                                      labels=labels)
