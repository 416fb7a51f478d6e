"""The Images page: every local image, live, with size and what uses it."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QToolButton,
    QWidget,
)

import engine
from app.icons import icon_for
from app.models.table import Column, KeyedTableModel
from app.pages.image_detail import ImageDetail
from app.pages.table_page import TablePage
from app.presentation import (
    ImageRow,
    counted,
    human_size,
    image_repository,
    image_rows,
    image_tag,
    relative_time,
    same_repository_first,
    used_by_text,
)
from app.resources import CONTAINERS, IMAGES
from app.session import EngineSession, MessageLevel
from app.theme import ERROR_TEXT, text_style
from app.widgets.ask import ask
from app.widgets.message_bar import reserve_space

if TYPE_CHECKING:  # dialogs load when first opened, not with the first window
    from app.pages.push_dialog import PushDialog


def _created_key(row: ImageRow) -> float:
    return row.image.created.timestamp() if row.image.created else 0.0


IMAGE_COLUMNS = (
    Column("Repository", image_repository,
           tooltip=lambda r: "\n".join(r.image.repo_tags) or "untagged"),
    Column("Tag", image_tag),
    Column("ID", lambda r: r.image.short_id, tooltip=lambda r: r.image.id),
    Column("Size", lambda r: human_size(r.image.size), sort_key=lambda r: r.image.size,
           align_right=True, tooltip=lambda r: f"{r.image.size:,} bytes"),
    Column("Created", lambda r: relative_time(r.image.created), sort_key=_created_key,
           ticks=True),
    Column("Used by", lambda r: used_by_text(r.used_by), sort_key=lambda r: r.used_by),
)


#: The columns worked out from the containers list rather than the image itself.
USED_BY_COLUMNS = (len(IMAGE_COLUMNS) - 1,)


def images_model(parent: QWidget | None = None) -> KeyedTableModel:
    """One row per tag (an untagged image: one row, keyed by its ID)."""
    return KeyedTableModel(IMAGE_COLUMNS, key=lambda r: r.key, parent=parent)


class ImagesPage(TablePage):
    pull_requested = Signal(str)
    build_requested = Signal()
    #: A container was started from an image here (its ID): the window selects it.
    container_started = Signal(str)
    #: The push sheet was accepted: (source, target, user name, password, save login).
    push_chosen = Signal(str, str, str, str, bool)
    #: Save these images (references) into this file.
    save_requested = Signal(list, object)
    #: Load this archive (a Path).
    load_requested = Signal(object)
    #: Import this root filesystem tarball (Path) as repository, tag.
    import_requested = Signal(object, str, str)

    #: What the file dialogs offer.
    ARCHIVES = "Image archives (*.tar *.tar.gz *.tgz);;All files (*)"

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__("images", images_model(), parent)
        self.model.setParent(self)
        self.session = session
        self.set_empty_hint("No images yet — pull one with the box above, e.g. busybox.")
        self.dangling_only = QCheckBox("Dangling only", self)
        self.dangling_only.setObjectName("images-dangling-only")
        self.dangling_only.setAccessibleName("Show dangling images only")
        self.toolbar.addWidget(self.dangling_only)
        self.unused_only = QCheckBox("Unused only", self)
        self.unused_only.setObjectName("images-unused-only")
        self.unused_only.setAccessibleName("Show images no container uses")
        self.unused_only.toggled.connect(self._apply_filters)
        self.dangling_only.toggled.connect(self._apply_filters)
        self.toolbar.addWidget(self.unused_only)
        self.run_button = self.add_button("Run", "image-run", self.run_selected)
        self.run_options_button = self.add_button("Run…", "image-run-options",
                                                  self.run_selected_with_options)
        self.tag_button = self.add_button("Tag…", "image-tag", self.tag_selected)
        self.compare_button = self.add_button("Compare with…", "image-compare",
                                              self.compare_selected)
        self.remove_button = self.add_button("Remove", "image-remove", self.remove_selected,
                                             shortcut="Delete")
        self.prune_button = self.add_button("Prune dangling", "images-prune",
                                            self.prune_dangling)
        self.push_button = self.add_button("Push…", "image-push", self.push_selected)
        self.save_button = self.add_button("Save…", "images-save", self.save_selected)
        self.load_button = self.add_button("Load…", "images-load", self.choose_archive)
        self.import_action = self._add_import_action()
        for button in (self.run_button, self.run_options_button, self.tag_button,
                       self.compare_button, self.remove_button, self.push_button,
                       self.save_button):
            button.defaultAction().setEnabled(False)
        #: The images list last shown (the session's own list object).
        self._images_shown: list[engine.Image] | None = None
        # Containers first: each refresh of images is shown with what uses them.
        session.live(CONTAINERS).changed.connect(self._reload)
        session.live(IMAGES).changed.connect(self._reload)
        self.fit_columns({0: 260, 1: 110, 2: 110, 3: 90, 4: 130})
        self.detail = ImageDetail(session, self)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("images-splitter")
        self.main_layout.replaceWidget(self.table, self.splitter)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setSizes([220, 420])
        self._pending_selection: Callable[[ImageRow], bool] | None = None
        self._pending_many: list[set[str]] | None = None
        self._add_pull_box()

    # -- pull box ---------------------------------------------------------------------

    def _add_pull_box(self) -> None:
        self.pull_box = QLineEdit(self)
        self.pull_box.setObjectName("images-pull")
        self.pull_box.setAccessibleName("Image to pull")
        self.pull_box.setPlaceholderText("Pull: busybox, ghcr.io/owner/app:tag, name@sha256:…")
        self.pull_hint = QLabel(self)
        self.pull_hint.setObjectName("images-pull-hint")
        self.pull_button = QPushButton("Pull", self)
        self.pull_button.setObjectName("images-pull-button")
        self.pull_button.setAccessibleName("Pull the image")
        self.pull_button.setEnabled(False)
        self.search_button = QPushButton("Search registry", self)
        self.search_button.setObjectName("images-registry-search")
        self.search_button.setAccessibleName("Search the registry for images")
        self.search_button.clicked.connect(self.search_registry)
        self.search_results = QMenu(self)
        self.search_results.setObjectName("images-search-results")
        # Building has no box of its own: the button beside Pull is where it is found.
        self.build_button = QPushButton("Build…", self)
        self.build_button.setObjectName("images-build-button")
        self.build_button.setAccessibleName("Build an image from a folder")
        self.build_button.setToolTip("Build from a folder with a Dockerfile (Ctrl+B);"
                                     " or drop a Dockerfile, folder or tar on the window")
        self.build_button.clicked.connect(self.build_requested)
        row = QHBoxLayout()
        row.addWidget(self.pull_box, 1)
        row.addWidget(self.search_button)
        row.addWidget(self.pull_button)
        row.addWidget(self.build_button)
        self.main_layout.insertLayout(1, row)
        self.main_layout.insertWidget(2, self.pull_hint)
        self.pull_hint.hide()
        reserve_space(self.pull_hint)  # "Will pull …" appears without moving the table
        self.pull_box.textChanged.connect(self._validate_pull)
        self.pull_box.returnPressed.connect(self._request_pull)
        self.pull_button.clicked.connect(self._request_pull)

    def search_registry(self) -> None:
        """Search through the engine (Docker Hub, or Podman's registries); pick to pull."""
        term = self.pull_box.text().strip()
        if not term:
            self.pull_box.setFocus()
            return
        self.search_button.setEnabled(False)
        task = self.session.run(engine.search_images, term, describe=f"search for {term}",
                                on_done=self._show_search_results)
        if task is not None:
            task.add_done_callback(lambda _t: self._search_ended())
        else:
            self.search_button.setEnabled(True)

    def _search_ended(self) -> None:
        if shiboken6.isValid(self.search_button):  # the window may have closed meanwhile
            self.search_button.setEnabled(True)

    def _show_search_results(self, results: list[engine.SearchResult]) -> None:
        self.search_results.clear()
        if not results:
            self.session.message.emit(MessageLevel.INFO, "No image matches that search.")
            return
        for result in results:
            mark = " (official)" if result.official else ""
            action = self.search_results.addAction(
                f"{result.name}{mark}  ★{result.stars}  {result.description[:70]}")
            action.triggered.connect(partial(self.pull_box.setText, result.name))
        self.search_results.popup(self.search_button.mapToGlobal(
            self.search_button.rect().bottomLeft()))

    def _validate_pull(self, text: str) -> None:
        if not text.strip():
            self.pull_hint.hide()
            self.pull_button.setEnabled(False)
            return
        try:
            ref = engine.parse_reference(text)
        except engine.InvalidReference as exc:
            self.pull_hint.setStyleSheet(text_style(ERROR_TEXT, self.pull_hint))
            self.pull_hint.setText(str(exc))
            self.pull_button.setEnabled(False)
        else:
            self.pull_hint.setStyleSheet("color: palette(placeholder-text);")
            self.pull_hint.setText(f"Will pull {ref.normalized}")
            self.pull_button.setEnabled(True)
        self.pull_hint.show()

    def _request_pull(self) -> None:
        if self.pull_button.isEnabled():
            self.pull_requested.emit(self.pull_box.text().strip())
            self.pull_box.clear()

    # -- selecting what a pull or build made ---------------------------------------------

    def select_reference(self, familiar: str) -> None:
        ref = engine.parse_reference(familiar)
        wanted = {ref.familiar, ref.normalized, f"localhost/{ref.familiar}"}
        self._select_when(lambda r: bool(wanted & set(r.image.repo_tags))
                          or any(d.startswith(ref.familiar_name + "@")
                                 for d in r.image.repo_digests))

    def select_image(self, image_id: str) -> None:
        self._select_when(lambda r: r.image.id == image_id)

    def select_row_when_listed(self, key: str) -> None:
        """Select the row keyed ``key`` (a tag, or an untagged image's ID) once listed."""
        self._select_when(lambda r: r.key == key)

    def _select_when(self, predicate: Callable[[ImageRow], bool]) -> None:
        self._pending_selection = predicate
        self.session.refresh()
        self._apply_pending_selection()

    def _apply_pending_selection(self) -> None:
        predicate = self._pending_selection
        if predicate is None:
            return
        for row, item in enumerate(self.model.items()):
            if predicate(item):
                self._pending_selection = None
                self.search.clear()
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                self.table.selectRow(index.row())
                self.table.scrollTo(index)
                return

    def selection_changed(self) -> None:
        selected: list[ImageRow] = self.selected_items()
        shown = selected[0] if len(selected) == 1 else None
        for button in (self.run_button, self.run_options_button, self.tag_button,
                       self.compare_button):
            button.defaultAction().setEnabled(shown is not None)
        self.remove_button.defaultAction().setEnabled(bool(selected))
        self.push_button.defaultAction().setEnabled(shown is not None)
        self.save_button.defaultAction().setEnabled(bool(selected))
        # The pane follows the row's image: another tag of the same image keeps it.
        if (shown.image.id if shown else None) != self.detail.image_id:
            self.detail.show_image(shown)

    def noun(self, count: int) -> str:
        return "image" if count == 1 else "images"

    def _apply_filters(self) -> None:
        dangling, unused = self.dangling_only.isChecked(), self.unused_only.isChecked()

        def keep(row: ImageRow) -> bool:
            return (not dangling or row.image.dangling) and (not unused or row.used_by == 0)

        self.proxy.set_predicate(keep if dangling or unused else None)

    # -- remove, tag, prune --------------------------------------------------------------

    def remove_selected(self) -> None:
        rows: list[ImageRow] = self.selected_items()
        if not rows:
            return
        names = ", ".join(r.shown for r in rows[:5]) + ("…" if len(rows) > 5 else "")
        # Every row one of several tags: only names go, the images stay.
        untag_only = all(len(r.image.repo_tags) > 1 for r in rows)
        what = counted(len(rows), "tag" if untag_only else "image")
        ask(self, "Remove images", f"Remove {what}: {names}?", "Remove",
            partial(self._remove, rows, force=False), name="images-remove-confirm")

    def _remove(self, rows: list[ImageRow], *, force: bool) -> None:
        """A tag row is removed by its tag: the engine untags it, and deletes the image only
        with its last tag. A forced removal goes by ID, as the question said it would."""
        for row in rows:
            target = row.image.id if force else row.reference
            self.session.run(partial(_remove_image, target, force),
                             describe=f"remove {row.shown}",
                             on_done=partial(self._removed, row))

    def _removed(self, row: ImageRow, outcome: list[str] | engine.Conflict) -> None:
        if not isinstance(outcome, engine.Conflict):
            self.session.refresh()
            deleted = sum(1 for line in outcome if line.startswith("Deleted"))
            if deleted == 0 and any(line.startswith("Untagged") for line in outcome):
                text = f"Untagged {row.shown}; the image keeps its other tags"
            else:
                text = f"Removed {row.shown} ({deleted} layers deleted)"
            self.session.message.emit(MessageLevel.INFO, text)
            return
        # Refused: say exactly what forcing would affect, and ask a second time.
        users = [c.name for c in self.session.items(CONTAINERS) if c.image_id == row.image.id]
        if users:
            why = f"It is used by {counted(len(users), 'container')}: {', '.join(users)}."
        elif len(row.image.repo_tags) > 1:
            why = f"It has {len(row.image.repo_tags)} tags: {', '.join(row.image.repo_tags)}."
        else:
            why = f"The engine refused: {outcome.message}"
        ask(self, "Force removal",
            f"{row.shown} cannot be removed as it is.\n{why}\n\n"
            "Force the removal? Containers keep running, but lose their image's name.",
            "Force removal", partial(self._remove, [row], force=True),
            name="images-force-confirm", icon=QMessageBox.Icon.Warning)

    def tag_selected(self) -> None:
        """Ask for the new name in a dialog that checks it as typed and stays open on a
        refusal (:class:`TagDialog`); the outcome is said there, then in the message bar."""
        reference = self._selected_reference()
        if reference is None:
            return
        from app.pages.tag_dialog import TagDialog

        dialog = TagDialog(self.session, reference, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def prune_dangling(self, filters: dict[str, list[str]] | None = None) -> None:
        """Remove untagged images no container uses — and nothing else."""
        count = sum(1 for r in self.model.items() if r.image.dangling and r.used_by == 0)
        ask(self, "Prune dangling images",
            f"Remove the {counted(count, 'untagged image')} that no container uses?", "Prune",
            partial(self._prune, filters), name="images-prune-confirm")

    def _prune(self, filters: dict[str, list[str]] | None) -> None:
        self.session.run(partial(_prune, filters), describe="prune dangling images",
                         on_done=self._pruned)

    def _pruned(self, result: tuple[list[str], int]) -> None:
        # Podman sends no image events for a prune: look again rather than wait.
        self.session.refresh()
        deleted, freed = result
        self.session.message.emit(
            MessageLevel.INFO,
            f"Removed {counted(len(deleted), 'dangling image')}, freeing {human_size(freed)}.")

    # -- push, save, load, import ---------------------------------------------------------

    def _add_import_action(self) -> QAction:
        """Import sits in the Load button's menu (and the palette), not on the toolbar."""
        menu = QMenu(self)
        menu.setObjectName("images-load-menu")
        load = menu.addAction("Load an image archive (docker save)…")
        load.triggered.connect(self.choose_archive)
        action = menu.addAction("Import a root filesystem tarball as an image…")
        action.setObjectName("action-images-import")
        if (icon := icon_for("images-import")) is not None:
            action.setIcon(icon)
        action.triggered.connect(self.choose_rootfs)
        self.page_actions.append(action)
        self.load_button.setMenu(menu)
        self.load_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        return action

    def push_selected(self) -> PushDialog | None:
        """The push sheet for the selected image: name it for a registry, log in, push."""
        reference = self._selected_reference()
        if reference is None:
            return None
        from app.pages.push_dialog import PushDialog

        dialog = PushDialog(reference, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.chosen.connect(self.push_chosen)
        dialog.open()
        return dialog

    def save_selected(self) -> None:
        """Every selected image (each row's tag, or ID) into one archive; ``.gz``: gzipped."""
        rows: list[ImageRow] = self.selected_items()
        names = list(dict.fromkeys(row.reference for row in rows))
        if not names:
            return
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", names[0]).strip("-") if len(names) == 1 \
            else "images"
        path, _ = QFileDialog.getSaveFileName(
            self, f"Save {counted(len(names), 'image')} to", str(Path.home() / f"{stem}.tar"),
            "Tar archive (*.tar);;Gzipped tar archive (*.tar.gz)")
        if path:
            self.save_requested.emit(names, Path(path))

    def choose_archive(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load images from an archive",
                                              str(Path.home()), self.ARCHIVES)
        if path:
            self.load_requested.emit(Path(path))

    def choose_rootfs(self) -> None:
        """A root filesystem tarball, imported as ``imported/<file name>:latest``
        (Tag… renames it afterwards)."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a root filesystem tarball as an image", str(Path.home()),
            "Tar archives (*.tar *.tar.gz *.tgz *.tar.xz);;All files (*)")
        if path:
            stem = re.sub(r"\.(tar(\.[a-z0-9]+)?|tgz)$", "", Path(path).name.lower())
            name = re.sub(r"[^a-z0-9._-]+", "-", stem).strip("-._") or "rootfs"
            self.import_requested.emit(Path(path), f"imported/{name}", "latest")

    def select_loaded(self, names: tuple[str, ...]) -> None:
        """Select every image a load brought (by name, or ``sha256:`` ID), once the list
        shows them all (they arrive through events one by one)."""
        wanted: list[set[str]] = []
        for name in names:
            forms = {name}
            try:
                ref = engine.parse_reference(name)
            except engine.InvalidReference:
                pass
            else:
                forms |= {ref.familiar, ref.normalized, f"localhost/{ref.familiar}"}
            wanted.append(forms)
        self._pending_many = wanted
        self.session.refresh()
        self._apply_pending_many()

    def _apply_pending_many(self) -> None:
        wanted = self._pending_many
        if not wanted:
            return
        # A row is one tag: the loaded tags' rows, not every tag of the same image.
        matches = [[row for row, item in enumerate(self.model.items())
                    if item.reference in forms or item.image.id in forms] for forms in wanted]
        if not all(matches):
            return  # not all listed yet
        self._pending_many = None
        self.search.clear()
        selection = self.table.selectionModel()
        selection.clearSelection()
        rows = sorted({row for found in matches for row in found})
        for row in rows:
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            selection.select(index, selection.SelectionFlag.Select
                             | selection.SelectionFlag.Rows)
        self.table.scrollTo(self.proxy.mapFromSource(self.model.index(rows[0], 0)))

    # -- run ------------------------------------------------------------------------------

    def _selected_reference(self) -> str | None:
        """The selected row as the engine knows it: its tag, else the image ID."""
        selected: list[ImageRow] = self.selected_items()
        if len(selected) != 1:
            return None
        return selected[0].reference

    def compare_selected(self) -> None:
        """Ask which image to compare the selected one with, then open the diff window."""
        reference = self._selected_reference()
        if reference is None:
            return
        others = list(dict.fromkeys(row.reference for row in self.model.items()
                                    if row.reference != reference))
        # The other tags of the same repository first, the nearest preselected: v1 → v2.
        others, same = same_repository_first(reference, others)
        from app.pages.image_diff import open_compare_picker

        open_compare_picker(self.session, reference, others, parent=self, same_repository=same)

    def run_selected(self) -> None:
        """One click: auto name, exposed ports on free 127.0.0.1 ports, detached."""
        from app.pages.run_dialog import run_one_click

        if (reference := self._selected_reference()) is not None:
            run_one_click(self.session, reference, on_started=self.container_started.emit)

    def run_selected_with_options(self) -> None:
        from app.pages.run_dialog import open_run_dialog

        if (reference := self._selected_reference()) is not None:
            open_run_dialog(self.session, reference, parent=self,
                            on_started=self.container_started.emit)

    def _reload(self, *_args: object) -> None:
        images = self.session.items(IMAGES)
        # The same images read: only the containers changed, so only "Used by" can have.
        same = images is self._images_shown
        self._images_shown = images
        self.model.set_items(image_rows(images, self.session.items(CONTAINERS)),
                             columns=USED_BY_COLUMNS if same else None)
        self._apply_pending_selection()
        self._apply_pending_many()
        shown = self.detail.image_id
        if shown is not None and (row := self.row_of_image(shown)) is not None:
            self.detail.update_summary(self.model.item_at(row))

    def select_key(self, key: str) -> bool:
        """A tag, or an image ID (the Disk page links by ID): then its first tag's row."""
        if self.model.row_of(key) is None and (row := self.row_of_image(key)) is not None:
            key = self.model.item_at(row).key
        return super().select_key(key)

    def row_of_image(self, image_id: str) -> int | None:
        """The first row (of the model) showing this image, whichever of its tags."""
        for row, item in enumerate(self.model.items()):
            if item.image.id == image_id:
                return row
        return None


async def _remove_image(image_id: str, force: bool,
                        client: engine.Engine) -> list[str] | engine.Conflict:
    try:
        return await client.remove_image(image_id, force=force)
    except engine.Conflict as exc:
        if force:
            raise
        return exc  # the page asks again, naming what forcing would affect


async def _prune(filters: dict[str, list[str]] | None,
                 client: engine.Engine) -> tuple[list[str], int]:
    return await client.prune_images(filters=filters)
