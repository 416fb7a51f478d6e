"""Compare two images: pick the second, then a window with the file changes and the rest.

"Compare with…" on the Images page opens :class:`ComparePicker` (non-modal,
``open()``), which names the other image (the other tags of the same repository
listed first, the first of them preselected: v1 against v2 is two clicks);
:func:`open_image_diff` then opens an :class:`ImageDiffWindow` that streams one
export of both images through :func:`engine.diff_images` in the background.  The
window shows the file changes as a tree with net size deltas per folder (biggest
first), and beside it the layers the images share and where they part, the
history steps that differ and the config changes.  Closing the window cancels
the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSplitter,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.diff_tree import DiffTreeModel, change_details, diff_index
from app.models.file_tree import FileIndex
from app.models.table import Column, KeyedTableModel
from app.presentation import human_size, repository_of, signed_size
from app.session import EngineSession


@dataclass(frozen=True, slots=True)
class Fact:
    """One row beside the tree: a layer, a history step or a config value, both sides."""

    key: str
    what: str
    name: str
    first: str
    second: str


FACT_COLUMNS = (
    Column("What", lambda f: f.what),
    Column("Name", lambda f: f.name),
    Column("First", lambda f: f.first, tooltip=lambda f: f.first),
    Column("Second", lambda f: f.second, tooltip=lambda f: f.second),
)


def _layer_text(layer: engine.DiffLayer) -> str:
    return f"{human_size(layer.size)}  {layer.instruction or '<no history>'}"


def diff_facts(diff: engine.ImageDiff) -> list[Fact]:
    """The rows of the facts table, in reading order: layers, history, config."""
    facts: list[Fact] = []
    shared = diff.shared_layers
    size = sum(layer.size for layer in diff.first.layers[:shared])
    facts.append(Fact("layers-shared", "Layers", "shared", f"{shared} ({human_size(size)})",
                      f"{shared} ({human_size(size)})"))
    for layer in diff.first.layers[shared:]:
        facts.append(Fact(f"layer-1-{layer.index}", "Layer", str(layer.index + 1),
                          _layer_text(layer), ""))
    for layer in diff.second.layers[shared:]:
        facts.append(Fact(f"layer-2-{layer.index}", "Layer", str(layer.index + 1), "",
                          _layer_text(layer)))
    for i, step in enumerate(diff.first_steps):
        facts.append(Fact(f"step-1-{i}", "History", "", step.instruction, ""))
    for i, step in enumerate(diff.second_steps):
        facts.append(Fact(f"step-2-{i}", "History", "", "", step.instruction))
    for change in diff.config_changes:
        facts.append(Fact(f"config-{change.field}-{change.key}", "Config",
                          f"{change.field} {change.key}".strip(), change.before or "—",
                          change.after or "—"))
    return facts


def summary_text(diff: engine.ImageDiff) -> str:
    kinds = engine.ChangeKind
    if diff.identical:
        return f"{diff.first.name} and {diff.second.name} are identical."
    return (f"{diff.first.name} → {diff.second.name}:  {len(diff.of_kind(kinds.ADDED))} added,"
            f" {len(diff.of_kind(kinds.REMOVED))} removed, {len(diff.of_kind(kinds.MODIFIED))}"
            f" modified; {signed_size(diff.size_delta)}  ({human_size(diff.first.size)} →"
            f" {human_size(diff.second.size)})")


class ComparePicker(QDialog):
    """Which image to compare the selected one with; ``chosen(first, second)`` on OK."""

    chosen = Signal(str, str)

    def __init__(self, first: str, others: list[str], parent: QWidget | None = None, *,
                 same_repository: int = 0) -> None:
        """``others[:same_repository]`` are tags of ``first``'s own repository: listed
        first, above a separator, and the first of them is preselected."""
        super().__init__(parent)
        self.setObjectName("image-compare-picker")
        self.setAccessibleName("Choose the image to compare with")
        self.setWindowTitle("Compare images")
        self.first = first
        layout = QVBoxLayout(self)
        repository = repository_of(first) if same_repository else None
        layout.addWidget(QLabel(
            f"Compare {first} with:" + (f"  (the other tags of {repository} first)"
                                         if repository else ""), self))
        self.combo = QComboBox(self)
        self.combo.setObjectName("image-compare-with")
        self.combo.setAccessibleName("Image to compare with")
        self.combo.setEditable(True)  # a reference typed by hand works too
        self.combo.addItems(others)
        if 0 < same_repository < len(others):
            self.combo.insertSeparator(same_repository)
        self.combo.setCurrentIndex(0)
        layout.addWidget(self.combo)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Compare")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.accepted.connect(self._emit)

    def _emit(self) -> None:
        second = self.combo.currentText().strip()
        if second:
            self.chosen.emit(self.first, second)


class ImageDiffWindow(QWidget):
    """The diff of two images, filled in when the background comparison ends."""

    def __init__(self, session: EngineSession, first: str, second: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("image-diff")
        self.setAccessibleName(f"Differences between {first} and {second}")
        self.setWindowTitle(f"{first} → {second} — Dockyard")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.session = session
        self.first, self.second = first, second
        self.diff: engine.ImageDiff | None = None
        self.key = f"image-diff-{id(self)}"
        layout = QVBoxLayout(self)
        self.summary = QLabel(f"Reading {first} and {second}…", self)
        self.summary.setObjectName("image-diff-summary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("image-diff-progress")
        self.progress.setRange(0, 100)
        layout.addWidget(self.progress)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.tree_model = DiffTreeModel(self)
        self.tree = QTreeView(splitter)
        self.tree.setObjectName("image-diff-tree")
        self.tree.setAccessibleName("Changed files")
        self.tree.setModel(self.tree_model)
        self.tree.setSortingEnabled(True)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        self.facts_model = KeyedTableModel(FACT_COLUMNS, key=lambda f: f.key, parent=self)
        self.facts = QTableView(splitter)
        self.facts.setObjectName("image-diff-facts")
        self.facts.setAccessibleName("Layers, history and config differences")
        self.facts.setModel(self.facts_model)
        self.facts.verticalHeader().hide()
        self.facts.horizontalHeader().setStretchLastSection(True)
        self.facts.setWordWrap(False)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.facts)
        splitter.setSizes([560, 560])
        layout.addWidget(splitter, 1)
        self.resize(1200, 720)

    def start(self) -> None:
        self.session.run(_compare, self.first, self.second, self._on_progress,
                         describe=f"compare {self.first} with {self.second}", key=self.key,
                         on_done=self.show_diff)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.session.cancel(self.key)
        super().closeEvent(event)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setValue(int(done / total * 100) if total else 0)

    def show_diff(self, result: tuple[engine.ImageDiff, FileIndex]) -> None:
        diff, index = result
        self.diff = diff
        self.progress.hide()
        self.summary.setText(summary_text(diff))
        self.tree_model.set_diff(index, change_details(diff))
        self.tree.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # biggest change first
        self.tree.expandToDepth(1)
        self.facts_model.set_items(diff_facts(diff))
        self.facts.resizeColumnsToContents()


async def _compare(client: engine.Engine, first: str, second: str,
                   progress: Callable[[int, int], None]
                   ) -> tuple[engine.ImageDiff, FileIndex]:
    diff = await engine.diff_images(client, first, second, progress=progress)
    # The tree's index of tens of thousands of paths: off the GUI thread.
    return diff, await asyncio.to_thread(diff_index, diff)


def open_image_diff(session: EngineSession, first: str, second: str,
                    parent: QWidget | None = None) -> ImageDiffWindow:
    window = ImageDiffWindow(session, first, second, parent)
    window.show()
    window.start()
    return window


def open_compare_picker(session: EngineSession, first: str, others: list[str],
                        parent: QWidget | None = None, *, same_repository: int = 0
                        ) -> ComparePicker:
    """Ask for the second image without blocking (``open()``), then open the diff."""
    picker = ComparePicker(first, others, parent, same_repository=same_repository)
    picker.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    picker.chosen.connect(partial(_open_from_picker, session, parent))
    picker.open()
    return picker


def _open_from_picker(session: EngineSession, parent: QWidget | None, first: str,
                      second: str) -> None:
    open_image_diff(session, first, second, parent)
