"""The "Clean up" sheet: exactly what each prune would remove, ticked one by one.

It reads ``/system/df`` and :func:`engine.cleanup_plan` (no prune runs to find
out), lists per kind the items and their bytes, and removes only what is
ticked, through :func:`engine.cleanup`, after one non-modal question.  It then
reports what the engine says was reclaimed, and every item it could not
remove with the daemon's reason.  The sheet itself is not modal: the window
stays usable while it is open.

Options narrow the plan: a label (``key`` or ``key=value``, as prune filters
take), named volumes too (``docker volume prune -a``), and build cache last
used more than N hours ago (``docker builder prune --filter until=Nh``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.df_gate import read_disk_usage
from app.models.cleanup import (
    KIND_TITLES,
    CleanupModel,
    CleanupRow,
    short_image,
    size_text,
)
from app.presentation import human_size, relative_time
from app.session import EngineSession, MessageLevel
from app.widgets.ask import ask


def label_filters(text: str) -> dict[str, list[str]] | None:
    """``"a=1, b"`` → ``{"label": ["a=1", "b"]}``; empty → no filter."""
    labels = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    return {"label": labels} if labels else None


def _cache_detail(record: engine.BuildCacheRecord) -> str:
    words = [record.type or "record"]
    if record.shared:
        words.append("shared")
    words.append(f"last used {relative_time(record.last_used or record.created)}")
    return " · ".join(words)


def plan_rows(plan: engine.CleanupPlan, usage: engine.DiskUsage) -> list[CleanupRow]:
    """The plan's items with the words that say what each one is."""
    images = {i.id: i for i in usage.images}
    containers = {c.id: c for c in usage.containers}
    cache = {r.id: r for r in usage.build_cache}
    rows = []
    for item in plan.items:
        detail = ""
        if (image := images.get(item.id)) is not None:
            detail = "dangling" if image.dangling else ", ".join(image.repo_tags[1:])
            detail = detail or f"created {relative_time(image.created)}"
        elif (container := containers.get(item.id)) is not None:
            detail = f"{container.status or container.state} · {short_image(container.image)}"
        elif (record := cache.get(item.id)) is not None:
            detail = _cache_detail(record)
        elif item.kind == engine.UNUSED_VOLUMES:
            detail = "anonymous" if item.name != item.id else ""
        rows.append(CleanupRow(item, detail))
    return rows


async def read_plan(client: engine.Engine, all_volumes: bool, older_than: timedelta | None,
                    filters: Mapping[str, list[str]] | None
                    ) -> tuple[engine.CleanupPlan, engine.DiskUsage]:
    """One df, and the plan computed from it."""
    usage = await read_disk_usage(client)
    plan = await engine.cleanup_plan(client, all_volumes=all_volumes,
                                     cache_older_than=older_than,
                                     filters=dict(filters) if filters else None, usage=usage)
    return plan, usage


def report(results: Mapping[str, engine.PruneResult]) -> tuple[str, list[str]]:
    """One line of what was removed and reclaimed, and one line per failure."""
    counts = [f"{KIND_TITLES[kind].lower()} {len(r.deleted)}"
              for kind, r in results.items() if r.deleted]
    reclaimed = sum(r.reclaimed for r in results.values())
    failures = [f"{item}: {reason}" for r in results.values() for item, reason in r.failed.items()]
    if counts:
        line = f"Removed: {', '.join(counts)}. The engine reclaimed {human_size(reclaimed)}."
    else:
        line = "Nothing was removed."
    return line, failures


class CleanupSheet(QDialog):
    """Tick what to remove, per kind; only the ticked items go."""

    #: The plan is shown (tests wait on it).
    planned = Signal()
    #: A clean-up ended: the results per kind (the page reads its df again).
    reclaimed = Signal(object)

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cleanup-sheet")
        self.setAccessibleName("Clean up")
        self.setWindowTitle("Clean up")
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.session = session
        self.result_labels: Mapping[str, engine.PruneResult] = {}
        self.failures: list[str] = []

        self.label_box = QLineEdit(self)
        self.label_box.setObjectName("cleanup-label")
        self.label_box.setAccessibleName("Only items with label")
        self.label_box.setPlaceholderText("Only items labelled key or key=value")
        self.label_box.setClearButtonEnabled(True)
        self.named_volumes = QCheckBox("Named volumes too", self)
        self.named_volumes.setObjectName("cleanup-named-volumes")
        self.named_volumes.setAccessibleName("Named volumes too")
        self.named_volumes.setToolTip("Unused named volumes may hold data: they are listed only"
                                      " when this is ticked (docker volume prune --all).")
        self.older_than = QSpinBox(self)
        self.older_than.setObjectName("cleanup-cache-older-than")
        self.older_than.setAccessibleName("Build cache last used more than hours ago")
        self.older_than.setRange(0, 24 * 365)
        self.older_than.setSpecialValueText("any age")
        self.older_than.setSuffix(" h ago")
        self.older_than.setPrefix("last used > ")
        options = QHBoxLayout()
        options.addWidget(self.label_box, 2)
        options.addWidget(self.named_volumes)
        cache_label = QLabel("Build cache:", self)
        cache_label.setBuddy(self.older_than)
        options.addWidget(cache_label)
        options.addWidget(self.older_than)

        self.model = CleanupModel(self)
        self.model.on_ticks_changed = self._update_totals
        self.tree = QTreeView(self)
        self.tree.setObjectName("cleanup-tree")
        self.tree.setAccessibleName("What a clean-up would remove")
        self.tree.setModel(self.model)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 360)
        header.resizeSection(1, 90)

        self.status = QLabel("", self)
        self.status.setObjectName("cleanup-status")
        self.status.setAccessibleName("Clean-up status")
        self.status.setWordWrap(True)
        self.result_label = QLabel("", self)
        self.result_label.setObjectName("cleanup-result")
        self.result_label.setAccessibleName("Clean-up result")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.errors: list[str] = []
        self.error_label = QLabel("", self)
        self.error_label.setObjectName("cleanup-errors")
        self.error_label.setAccessibleName("Clean-up errors")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #dc2626;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()

        self.refresh_button = QPushButton("Plan again", self)
        self.refresh_button.setObjectName("cleanup-refresh")
        self.refresh_button.setAccessibleName("Plan again")
        self.refresh_button.clicked.connect(self.plan)
        self.remove_button = QPushButton("Remove ticked", self)
        self.remove_button.setObjectName("cleanup-remove")
        self.remove_button.setAccessibleName("Remove ticked")
        self.remove_button.setEnabled(False)
        self.remove_button.clicked.connect(self.confirm)
        self.close_button = QPushButton("Close", self)
        self.close_button.setObjectName("cleanup-close")
        self.close_button.setAccessibleName("Close")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(options)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.result_label)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)
        self.resize(820, 560)

        # Options change the plan; a burst of keystrokes or spins is one read.
        self._replan = QTimer(self)
        self._replan.setSingleShot(True)
        self._replan.setInterval(400)
        self._replan.timeout.connect(self.plan)
        # Failures reach the window's message bar; the sheet, which may cover it, says
        # them too.
        session.message.connect(self._on_message)
        self.label_box.textChanged.connect(lambda _t: self._replan.start())
        self.named_volumes.toggled.connect(lambda _on: self._replan.start())
        self.older_than.valueChanged.connect(lambda _v: self._replan.start())

    # -- planning -----------------------------------------------------------------------

    def plan(self) -> None:
        """Read what each prune would remove now (a newer request cancels an older one)."""
        self._replan.stop()
        hours = self.older_than.value()
        self.status.setText("Reading what a clean-up would remove…")
        self.remove_button.setEnabled(False)
        task = self.session.run(
            read_plan, self.named_volumes.isChecked(),
            timedelta(hours=hours) if hours else None, label_filters(self.label_box.text()),
            describe="read what a clean-up would remove", key=f"cleanup-plan-{id(self)}",
            on_done=self._show_plan)
        if task is None:
            self.status.setText("Not connected to an engine.")
        else:
            task.add_done_callback(self._plan_ended)

    def _plan_ended(self, _task: object) -> None:
        if self.status.text().startswith("Reading what"):
            self.status.setText("Could not read what a clean-up would remove.")

    def _on_message(self, level: MessageLevel, text: str) -> None:
        if level is MessageLevel.ERROR:
            self.errors.append(text)
            self.error_label.setText("\n".join(self.errors[-5:]))
            self.error_label.show()

    def _show_plan(self, result: tuple[engine.CleanupPlan, engine.DiskUsage]) -> None:
        plan, usage = result
        self.model.set_plan(plan_rows(plan, usage), plan.notes)
        self.tree.expandAll()
        self._update_totals()
        self.planned.emit()

    def _update_totals(self) -> None:
        ticked = self.model.ticked()
        planned = sum(len(self.model.rows_of(k)) for k in engine.CLEANUP_KINDS)
        if ticked:
            self.status.setText(f"{len(ticked)} of {planned} items ticked:"
                                f" {human_size(self.model.ticked_bytes())}")
        else:
            self.status.setText(f"{planned} items could be removed. Tick what should go."
                                if planned else "Nothing to clean up.")
        self.remove_button.setEnabled(bool(ticked) and self.session.connected)

    # -- removing -----------------------------------------------------------------------

    def confirm(self) -> None:
        """Ask once (never modal to the app), then remove exactly the ticked items."""
        items = self.model.ticked()
        if not items:
            return
        lines = [f"{KIND_TITLES[i.kind]}: {i.name} ({size_text(i.size)})" for i in items[:12]]
        if len(items) > 12:
            lines.append(f"… and {len(items) - 12} more")
        ask(self, "Clean up",
            f"Remove {len(items)} item{'s' if len(items) != 1 else ''}"
            f" ({human_size(self.model.ticked_bytes())})? This cannot be undone.\n\n"
            + "\n".join(lines),
            "Remove", lambda: self.remove(items), name="confirm-cleanup")

    def remove(self, items: Sequence[engine.CleanupItem]) -> None:
        self.remove_button.setEnabled(False)
        self.status.setText(f"Removing {len(items)} items…")
        self.session.run(engine.cleanup, list(items), describe="clean up",
                         on_done=self._removed)

    def _removed(self, results: Mapping[str, engine.PruneResult]) -> None:
        self.result_labels = results
        line, self.failures = report(results)
        text = line if not self.failures else (
            line + "\nCould not remove:\n" + "\n".join(self.failures))
        self.result_label.setText(text)
        self.reclaimed.emit(results)
        self.plan()
