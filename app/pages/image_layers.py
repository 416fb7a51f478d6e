"""What an image is made of: its layers, their files, the bytes per layer, the waste,
and what it shares with other local images.

Fed an :class:`engine.ImageAnalysis` (the streamed export, analysed in engine/);
nothing here reads the engine except the shared-layer lookup.
"""

from __future__ import annotations

import asyncio
import html
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import shiboken6
from PySide6.QtCore import QModelIndex, QRect, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.file_tree import FileIndex, FileTreeModel, PathInfo, index_paths
from app.models.table import Column, KeyedTableModel
from app.presentation import counted, human_size
from app.theme import contrast

LAYER_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                 "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")

LayerRole = Qt.ItemDataRole.UserRole + 10


def layer_label(layer: LayerLike) -> str:
    return layer.instruction or "(no history for this layer)"


def changes_paths(changes: Sequence[engine.Change]) -> list[PathInfo]:
    return [PathInfo(c.path, c.size, str(c.kind), c.entry_kind == engine.EntryKind.DIR)
            for c in changes]


def aggregated_paths(stacked: dict[str, engine.StackedEntry]) -> list[PathInfo]:
    return [PathInfo(path, entry.size, "", entry.kind == engine.EntryKind.DIR)
            for path, entry in stacked.items()]


def list_files(analysis: engine.ImageAnalysis, mode: int, index: int) -> FileIndex:
    """A layer's changes (mode 0) or the filesystem up to it (mode 1), ready to show.

    Up to a second for a 57k-file layer: run in a worker thread, never on the GUI's.
    """
    with engine.no_cyclic_gc():  # its collections would hold the GIL: GUI stalls of 100+ ms
        if mode == LayerView.CHANGES:
            return index_paths(changes_paths(analysis.changes(index)))
        return index_paths(aggregated_paths(analysis.aggregated(index)))


@dataclass(frozen=True)
class SharedWith:
    name: str
    layers: int
    size: int


async def shared_layers(analysis: engine.ImageAnalysis, others: Sequence[engine.Image],
                        client: engine.Engine) -> list[SharedWith]:
    """Other local images built on the same lower layers (a common RootFS prefix).

    A layer is only shared when everything under it is too, so the shared part of
    two images is the common prefix of their diff_ids.
    """
    ours = [layer.diff_id for layer in analysis.layers]
    sizes = [layer.size for layer in analysis.layers]
    limit = asyncio.Semaphore(8)

    async def compare(image: engine.Image) -> SharedWith | None:
        async with limit:
            try:
                theirs = (await client.image(image.id)).layers
            except engine.NotFound:
                return None
        common = 0
        for mine, other in zip(ours, theirs, strict=False):
            if mine != other:
                break
            common += 1
        if not common:
            return None
        name = image.display_name if image.repo_tags else f"untagged {image.short_id}"
        return SharedWith(name, common, sum(sizes[:common]))

    found = await asyncio.gather(*(compare(i) for i in others if i.id != analysis.image_id))
    return sorted((s for s in found if s is not None), key=lambda s: (-s.size, s.name))


class SizeBar(QWidget):
    """Sizes as one stacked bar of coloured blocks; clicking a block emits its index."""

    block_clicked = Signal(int)

    def __init__(self, name: str, accessible: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setAccessibleName(accessible)
        self.setMinimumHeight(28)
        self.sizes: list[int] = []
        self.labels: list[str] = []
        self.colours: list[QColor] = []
        self.selected = -1

    def set_blocks(self, sizes: Sequence[int], labels: Sequence[str],
                   colours: Sequence[QColor]) -> None:
        self.sizes, self.labels, self.colours = list(sizes), list(labels), list(colours)
        self.selected = -1
        self.setToolTip("\n".join(f"{label}: {size:,} bytes"
                                   for label, size in zip(labels, sizes, strict=True)))
        self.update()

    def blocks(self) -> list[QRect]:
        total = sum(self.sizes)
        rects: list[QRect] = []
        x = 0.0
        width = self.width()
        for size in self.sizes:
            share = size / total * width if total else width / max(len(self.sizes), 1)
            rects.append(QRect(round(x), 0, max(round(x + share) - round(x), 1), self.height()))
            x += share
        return rects

    def block_text(self, index: int, width: int) -> str:
        """What fits on a block ``width`` px wide: the label cut short before the size is.

        A folder is told by its name, a block's weight by its size, so the name is
        shortened first ("fonts-dej…  12 MB"), then dropped; never a lone "fon… MB".
        """
        metrics = self.fontMetrics()
        size = human_size(self.sizes[index])
        full = f"{self.labels[index]}  {size}"
        if metrics.horizontalAdvance(full) <= width:
            return full
        room = width - metrics.horizontalAdvance(f"  {size}")
        label = metrics.elidedText(self.labels[index], Qt.TextElideMode.ElideRight, room) \
            if room > metrics.horizontalAdvance("x…") else ""
        if label and label != "…":
            return f"{label}  {size}"
        return size if metrics.horizontalAdvance(size) <= width else ""

    def text_colour(self, index: int) -> QColor:
        """Black or white, whichever reads better on the block's colour (WCAG contrast)."""
        fill = self.colours[index]
        white, black = QColor("#ffffff"), QColor("#000000")
        return white if contrast(white, fill) >= contrast(black, fill) else black

    def paintEvent(self, event: QPaintEvent) -> None:
        """Every block in its own colour; the selected one framed, the others left as they are.

        Paling the others hid the colours (and the labels on them) whenever the
        selection was a layer too small to see, as the newest often is.
        """
        painter = QPainter(self)
        blocks = self.blocks()
        for index, rect in enumerate(blocks):
            painter.fillRect(rect, QColor(self.colours[index]))
            text = self.block_text(index, rect.width() - 8) if rect.width() > 24 else ""
            if text:
                painter.setPen(self.text_colour(index))
                painter.drawText(rect.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter, text)
        if 0 <= self.selected < len(blocks):
            pen = QPen(self.palette().color(QPalette.ColorRole.WindowText), 2)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(blocks[self.selected].adjusted(1, 1, -1, -1))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        for index, rect in enumerate(self.blocks()):
            if rect.contains(event.position().toPoint()):
                self.block_clicked.emit(index)
                return


class LayerLike(Protocol):
    """What the layer tree shows: an exact :class:`engine.ImageLayer`, or the history's
    :class:`engine.LayerOutline` while the export is still being read."""

    @property
    def index(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def instruction(self) -> str: ...
    @property
    def step(self) -> engine.HistoryStep | None: ...
    @property
    def steps(self) -> tuple[engine.HistoryStep, ...]: ...
    @property
    def metadata_steps(self) -> tuple[engine.HistoryStep, ...]: ...


def layer_colour(index: int) -> QColor:
    return QColor(LAYER_COLOURS[index % len(LAYER_COLOURS)])


def step_numbers(layers: Sequence[LayerLike]) -> dict[int, int]:
    """Layer index → the number of the build step that made it, as the Build steps tab counts
    (every history row, oldest first, from 1)."""
    numbers: dict[int, int] = {}
    seen = 0
    for layer in layers:
        step = layer.step
        if step is not None:
            numbers[layer.index] = seen + layer.steps.index(step) + 1
        seen += len(layer.steps)
    return numbers


def layer_number(index: int) -> str:
    """Layers are numbered from 1, bottom first, as build steps are ("layer 3 of 5")."""
    return str(index + 1)


def wasted_path(wasted: engine.WastedPath) -> str:
    if wasted.folder:
        return f"/{wasted.path}/ ({counted(wasted.files, 'file')} deleted with it)"
    return "/" + wasted.path


WASTE_COLUMNS = (
    Column("Path", wasted_path),
    Column("Wasted", lambda w: human_size(w.size), sort_key=lambda w: w.size, align_right=True),
    Column("Written in layer", lambda w: ", ".join(map(layer_number, w.layers))),
    Column("Hidden by layer", lambda w: ", ".join(map(layer_number, w.hidden_by))),
)


class LayerView(QWidget):
    """The Layers tab: layer tree, bytes per layer, the files of the selected layer, and
    the bytes per folder of those files.

    The tree shows as soon as the history is read (an outline, see
    :func:`engine.outline_layers`); the files come with the export analysis.
    """

    CHANGES, AGGREGATED = 0, 1
    #: Folders shown as blocks of their own in the folder bar; the rest is one "other" block.
    FOLDER_BLOCKS = 8
    #: File lists kept for going back to a layer or view at once (57k paths: ~20 MB each).
    CACHED_LISTS = 6

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("image-layers-view")
        self.analysis: engine.ImageAnalysis | None = None
        self.shown: Sequence[LayerLike] = ()
        self._files_cache: OrderedDict[tuple[int, int], FileIndex] = OrderedDict()
        self._listing: asyncio.Future[None] | None = None
        self.bar = SizeBar("image-layer-bar", "Bytes per layer", self)
        self.layers_model = QStandardItemModel(self)
        self.layers = QTreeView(self)
        self.layers.setObjectName("image-layers")
        self.layers.setAccessibleName("Image layers")
        self.layers.setModel(self.layers_model)
        self.layers.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.layers.setUniformRowHeights(True)
        self.order = QComboBox(self)
        self.order.setObjectName("image-layer-order")
        self.order.setAccessibleName("Layer order")
        self.order.addItems(["Bottom layer first", "Top layer first"])
        self.mode = QComboBox(self)
        self.mode.setObjectName("image-files-mode")
        self.mode.setAccessibleName("Files shown")
        self.mode.addItems(["Changes in this layer", "Whole image up to this layer"])
        self.files_title = QLabel(self)
        self.files_title.setObjectName("image-files-title")
        self.folder_title = QLabel(self)
        self.folder_title.setObjectName("image-folder-title")
        self.folder_bar = SizeBar("image-folder-bar", "Bytes per folder", self)
        self.folder_paths: list[str] = []
        self.files_model = FileTreeModel(self)
        self.files = QTreeView(self)
        self.files.setObjectName("image-files")
        self.files.setAccessibleName("Files of the selected layer")
        self.files.setModel(self.files_model)
        self.files.setSortingEnabled(True)
        self.files.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.files.setUniformRowHeights(True)
        self.files.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

        top = QWidget(self)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.bar, 1)
        bar_row.addWidget(self.order)
        top_layout.addLayout(bar_row)
        top_layout.addWidget(self.layers, 1)
        bottom = QWidget(self)
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        files_row = QHBoxLayout()
        files_row.addWidget(self.files_title, 1)
        files_row.addWidget(self.mode)
        bottom_layout.addLayout(files_row)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_title)
        folder_row.addWidget(self.folder_bar, 1)
        bottom_layout.addLayout(folder_row)
        bottom_layout.addWidget(self.files, 1)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.bar.block_clicked.connect(self.select_layer)
        self.folder_bar.block_clicked.connect(self._folder_clicked)
        self.order.currentIndexChanged.connect(lambda _i: self._fill_layers())
        self.mode.currentIndexChanged.connect(lambda _i: self._show_files())
        self.layers.selectionModel().selectionChanged.connect(lambda *_: self._show_files())
        self._show_layers(())

    def show_outline(self, outline: Sequence[engine.LayerOutline] | None) -> None:
        """The layers as the history tells them, until :meth:`show_analysis` has the files."""
        if self.analysis is None:
            self._show_layers(outline or ())

    def show_analysis(self, analysis: engine.ImageAnalysis | None) -> None:
        self.analysis = analysis
        self._files_cache.clear()
        self._show_layers(analysis.layers if analysis else ())

    def _show_layers(self, layers: Sequence[LayerLike]) -> None:
        selected = self.selected_layer()
        self.shown = layers
        self.bar.set_blocks([layer.size for layer in layers],
                            [layer_number(layer.index) for layer in layers],
                            [layer_colour(layer.index) for layer in layers])
        self.bar.setToolTip("\n".join(
            f"Layer {layer_number(layer.index)} of {len(layers)}, {layer_label(layer)}: "
            f"{layer.size:,} bytes" for layer in layers))
        self._fill_layers()
        if layers:
            keep = selected is not None and selected < len(layers)
            self.select_layer(selected if keep and selected is not None else len(layers) - 1)
        self._show_files()

    def _fill_layers(self) -> None:
        self.layers_model.clear()
        self.layers_model.setHorizontalHeaderLabels(["Layer", "Size", "Instruction"])
        order = list(self.shown)
        steps = step_numbers(order)
        if self.order.currentIndex() == 1:
            order.reverse()
        for layer in order:
            row = [QStandardItem(layer_number(layer.index)),
                   QStandardItem(human_size(layer.size)), QStandardItem(layer_label(layer))]
            row[0].setData(layer.index, LayerRole)
            made_by = f"build step {steps[layer.index]}" if layer.index in steps else "a step"
            row[0].setToolTip(f"Layer {layer_number(layer.index)} of {len(self.shown)}, "
                              f"made by {made_by}: {layer_label(layer)}")
            row[1].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            row[2].setToolTip(layer.step.created_by if layer.step else "")
            row[0].setData(layer_colour(layer.index), Qt.ItemDataRole.DecorationRole)
            for step in layer.metadata_steps:
                child = [QStandardItem(""), QStandardItem("metadata"),
                         QStandardItem(step.instruction)]
                child[0].setData(layer.index, LayerRole)
                child[2].setToolTip(step.created_by)
                row[0].appendRow(child)
            for item in row:
                item.setEditable(False)
            self.layers_model.appendRow(row)
        self.layers.expandAll()
        self.layers.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.layers.resizeColumnToContents(0)

    def selected_layer(self) -> int | None:
        indexes = self.layers.selectionModel().selectedRows()
        if not indexes:
            return None
        value = indexes[0].data(LayerRole)
        return int(value) if value is not None else None

    def select_layer(self, index: int) -> None:
        for row in range(self.layers_model.rowCount()):
            item = self.layers_model.item(row, 0)
            if item is not None and item.data(LayerRole) == index:
                self.layers.setCurrentIndex(item.index())
                self.layers.selectionModel().select(
                    item.index(), self.layers.selectionModel().SelectionFlag.ClearAndSelect
                    | self.layers.selectionModel().SelectionFlag.Rows)
                return

    def _show_files(self) -> None:
        analysis = self.analysis
        index = self.selected_layer()
        self.bar.selected = -1 if index is None else index
        self.bar.update()
        if analysis is None or index is None:
            self.files_model.set_paths([])
            self.files_title.setText("Reading the files of the layers…" if self.shown else "")
            self._show_folders()
            return
        key = (self.mode.currentIndex(), index)
        if (files := self._files_cache.get(key)) is not None:
            self._files_cache.move_to_end(key)
            self._apply_files(key, files)
            return
        self.files_model.set_paths([])
        self.files_title.setText(f"Listing the files of layer {layer_number(index)}…")
        self._show_folders()
        if self._listing is None or self._listing.done():
            # One listing at a time; when it ends, the selection of that moment is shown.
            self._listing = asyncio.ensure_future(self._list_files(analysis, key))

    async def _list_files(self, analysis: engine.ImageAnalysis, key: tuple[int, int]) -> None:
        try:
            files = await asyncio.to_thread(list_files, analysis, *key)
        finally:
            self._listing = None
        if not shiboken6.isValid(self):  # the page was closed meanwhile
            return
        if analysis is self.analysis:
            self._files_cache[key] = files
            while len(self._files_cache) > self.CACHED_LISTS:
                self._files_cache.popitem(last=False)
        self._show_files()  # what is selected now: from the cache, or listed next

    def _apply_files(self, key: tuple[int, int], files: FileIndex) -> None:
        mode, index = key
        step = step_numbers(self.shown).get(index)
        of = f"{layer_number(index)} of {len(self.shown)}" + (f" (step {step})" if step else "")
        what = (f"Changes in layer {of}" if mode == self.CHANGES
                else f"The filesystem with layers 1 to {of}")
        self.files_model.set_index(files)
        self.files.expandToDepth(1)
        self.files_title.setText(f"{what}: {counted(files.count, 'path')}, "
                                 f"{human_size(self.files_model.total_size())}")
        self._show_folders()

    def _show_folders(self) -> None:
        folder, entries = self.files_model.breakdown()
        shown = entries[: self.FOLDER_BLOCKS]
        rest = sum(size for _path, size in entries[self.FOLDER_BLOCKS:])
        self.folder_paths = [path for path, _size in shown]
        sizes = [size for _path, size in shown]
        labels = [path.rpartition("/")[2] + ("/" if self.files_model.is_folder(path) else "")
                  for path in self.folder_paths]
        colours = [layer_colour(n) for n in range(len(shown))]
        if rest:
            self.folder_paths.append(folder)
            sizes.append(rest)
            labels.append(f"{len(entries) - len(shown)} more")
            colours.append(QColor("#8c8c8c"))
        self.folder_bar.set_blocks(sizes, labels, colours)
        self.folder_bar.setVisible(bool(sizes))
        self.folder_title.setVisible(bool(sizes))
        self.folder_title.setText(f"In /{folder}:" if sizes else "")

    def _folder_clicked(self, block: int) -> None:
        self.folder_bar.selected = block
        self.folder_bar.update()
        if self.folder_paths[block]:
            self.reveal(self.folder_paths[block])

    def reveal(self, path: str) -> QModelIndex:
        """Select a path in the files tree (expanding its folders); returns the view index."""
        index = self.files_model.find(path)
        if index.isValid():
            self.files.scrollTo(index)
            self.files.setCurrentIndex(index)
        return index


class EfficiencyView(QWidget):
    """Wasted bytes, the efficiency score, the worst paths, and shared layers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("image-efficiency")
        self.summary = QLabel(self)
        self.summary.setObjectName("image-efficiency-summary")
        self.summary.setWordWrap(True)
        self.shared = QLabel(self)
        self.shared.setObjectName("image-shared")
        self.shared.setWordWrap(True)
        self.waste_model = KeyedTableModel(
            WASTE_COLUMNS, key=lambda w: w.path + ("/" if w.folder else ""), parent=self)
        self.waste = QTableView(self)
        self.waste.setObjectName("image-wasted-paths")
        self.waste.setAccessibleName("Largest wasted paths")
        self.waste.setModel(self.waste_model)
        self.waste.verticalHeader().hide()
        self.waste.verticalHeader().setDefaultSectionSize(26)  # as the page tables
        self.waste.setShowGrid(False)
        self.waste.setWordWrap(False)
        self.waste.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.waste.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.shared)
        layout.addWidget(QLabel("<b>Largest wasted paths</b>", self))
        self.total_size = 0
        #: The other images sharing layers (the text names the first eight).
        self.shared_with: list[SharedWith] = []
        layout.addWidget(self.waste, 1)

    def show_analysis(self, analysis: engine.ImageAnalysis | None) -> None:
        if analysis is None:
            self.summary.setText("")
            self.shared.setText("")
            self.waste_model.set_items([])
            return
        self.summary.setText(
            f"<b>{human_size(analysis.wasted_bytes)}</b> wasted of "
            f"{human_size(analysis.total_size)} in {len(analysis.layers)} layers — "
            f"efficiency <b>{analysis.efficiency * 100:.1f} %</b> "
            "(bytes in lower layers that the final filesystem hides: overwritten, deleted, "
            "or under a replaced directory)")
        self.waste_model.set_items(list(analysis.wasted_folders(50)))
        self.shared.setText("Looking for other images that share these layers…")
        self.total_size = analysis.total_size

    def show_shared(self, shared: list[SharedWith]) -> None:
        self.shared_with = shared
        if not shared:
            self.shared.setText("No other local image shares a layer with this one.")
            return
        most = max(s.size for s in shared)
        names = ", ".join(f"{html.escape(s.name)} ({s.layers} layer"
                          f"{'s' if s.layers != 1 else ''}, {human_size(s.size)})"
                          for s in shared[:8])
        more = f" and {len(shared) - 8} more" if len(shared) > 8 else ""
        unique = max(self.total_size - most, 0)
        self.shared.setText(f"Shares up to <b>{human_size(most)}</b> with other local images: "
                            f"{names}{more}. <b>{human_size(unique)}</b> is this image's own.")

