"""A directory tree over a flat list of paths, built lazily as folders are expanded.

An image layer can hold tens of thousands of paths; building a node for each
up front would stall the window.  Here one pass indexes paths by parent folder
and rolls sizes up; a folder's node objects are made only when the view asks
for its rows (that is, when the user expands it).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from app.presentation import human_size
from app.theme import Tone

AnyIndex = QModelIndex | QPersistentModelIndex

#: A changed path's text colour by its mark, readable on light and dark lists.
MARK_TONES = {"added": Tone("#1e7b34", "#5cc878"), "modified": Tone("#8a5f00", "#e0a82e"),
              "removed": Tone("#b3261e", "#ff8a80")}


@dataclass(frozen=True, slots=True)
class PathInfo:
    path: str  # "usr/bin/env", no leading slash
    size: int
    mark: str = ""  # "added", "modified", "removed" or "" (aggregated view)
    is_dir: bool = False


class _Node:
    __slots__ = ("children", "ident", "info", "name", "parent", "row")

    def __init__(self, name: str, info: PathInfo, parent: _Node | None, row: int,
                 ident: int) -> None:
        self.name = name
        self.info = info
        self.parent = parent
        self.row = row
        self.ident = ident  # the index's internalId (see FileTreeModel._nodes)
        self.children: list[_Node] | None = None  # None until first asked for


#: What an index from before the last reset finds: an empty leaf with no parent.
_GONE = _Node("", PathInfo("", 0), None, 0, -1)
_GONE.children = []


@dataclass(frozen=True, slots=True)
class FileIndex:
    """Paths by folder, with folder sizes rolled up: what :class:`FileTreeModel` shows.

    Building it for a 57k-file layer takes a few hundred milliseconds, so a page
    builds it in a worker thread (it touches nothing of Qt) and swaps it in at once.
    """

    by_parent: dict[str, list[PathInfo]]
    dir_sizes: dict[str, int]
    count: int  # paths given (folders only implied by a path are not counted)


def index_paths(paths: Iterable[PathInfo]) -> FileIndex:
    by_parent: defaultdict[str, dict[str, PathInfo]] = defaultdict(dict)
    sizes: defaultdict[str, int] = defaultdict(int)
    count = 0
    for info in paths:
        count += 1
        parent, _, _name = info.path.rpartition("/")
        by_parent[parent][info.path] = info
        # A folder's size is what it holds now: removed paths do not add to it.
        if not info.is_dir and info.mark != "removed":
            folder = parent
            while True:
                sizes[folder] += info.size
                if not folder:
                    break
                folder = folder.rpartition("/")[0]
        # Make sure every ancestor folder exists as an entry of its own parent.
        folder = parent
        while folder and folder not in by_parent[folder.rpartition("/")[0]]:
            by_parent[folder.rpartition("/")[0]][folder] = PathInfo(folder, 0, is_dir=True)
            folder = folder.rpartition("/")[0]
    return FileIndex({key: list(value.values()) for key, value in by_parent.items()},
                     dict(sizes), count)


class FileTreeModel(QAbstractItemModel):
    COLUMNS = ("Name", "Size", "Change")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._by_parent: dict[str, list[PathInfo]] = {}
        self._dir_sizes: dict[str, int] = {}
        # Indexes carry a node number, not a pointer to the node: an index Qt kept
        # from before a reset (a view, a proxy, the model tester) then finds nothing
        # instead of reading a freed Python object and crashing.
        self._nodes: dict[int, _Node] = {}
        self._next_ident = itertools.count(1)
        self._root = _Node("", PathInfo("", 0, is_dir=True), None, 0, 0)
        self._sort: tuple[int, Qt.SortOrder] = (0, Qt.SortOrder.AscendingOrder)

    def set_paths(self, paths: Iterable[PathInfo]) -> None:
        self.set_index(index_paths(paths))

    def set_index(self, index: FileIndex) -> None:
        """Show another tree (a new layer or view): a reset is right, it is another tree."""
        self.beginResetModel()
        self._by_parent = index.by_parent
        self._dir_sizes = index.dir_sizes
        self._nodes = {}
        self._root = _Node("", PathInfo("", self._dir_sizes.get("", 0), is_dir=True), None, 0, 0)
        self.endResetModel()

    def total_size(self) -> int:
        return self._dir_sizes.get("", 0)

    def info(self, index: AnyIndex) -> PathInfo | None:
        """The path a row shows (None for no row)."""
        return self._node(index).info if index.isValid() else None

    def is_folder(self, path: str) -> bool:
        return path in self._by_parent or path in self._dir_sizes

    def breakdown(self) -> tuple[str, list[tuple[str, int]]]:
        """The folder where the bytes split up, and its entries with bytes, largest first.

        Starting at the root, a folder holding at least 90 % of its parent's bytes
        is entered: a bar of "usr 100 %" says nothing, "usr/share" split by
        package does.  Removed paths hold no bytes and are left out.
        """
        folder = ""
        while True:
            entries = sorted(
                ((info.path, self._size(info)) for info in self._by_parent.get(folder, [])
                 if info.mark != "removed" and self._size(info) > 0),
                key=lambda entry: (-entry[1], entry[0]))
            total = self._dir_sizes.get(folder, 0)
            if not (entries and total and entries[0][1] >= 0.9 * total
                    and entries[0][0] in self._by_parent):
                return folder, entries
            folder = entries[0][0]

    # -- lazy children --------------------------------------------------------------------

    def _children(self, node: _Node) -> list[_Node]:
        if node.children is None:
            infos = self._by_parent.get(node.info.path, [])
            node.children = [_Node(i.path.rpartition("/")[2], i, node, 0,
                                   next(self._next_ident)) for i in infos]
            self._order(node.children)
            self._nodes.update((child.ident, child) for child in node.children)
        return node.children

    def _order(self, children: list[_Node]) -> None:
        """Sort one folder's rows by the current sort column, then number them."""
        column, order = self._sort
        children.sort(key=lambda n: (not self._is_dir(n.info), n.name.lower()))
        if column == 1:
            children.sort(key=lambda n: self._size(n.info),
                          reverse=order == Qt.SortOrder.DescendingOrder)
        elif column == 2:
            children.sort(key=lambda n: n.info.mark,
                          reverse=order == Qt.SortOrder.DescendingOrder)
        elif order == Qt.SortOrder.DescendingOrder:
            children.reverse()
        for row, child in enumerate(children):
            child.row = row

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorted here, not by a proxy: a proxy sorts every folder a view merely asks
        ``hasChildren`` about, which for /usr/share meant 40k rows to show 30."""
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        pending = [self._root]
        while pending:
            node = pending.pop()
            if node.children is not None:
                self._order(node.children)
                pending.extend(node.children)
        old = self.persistentIndexList()
        new = []
        for index in old:
            kept = self._nodes.get(index.internalId())
            new.append(QModelIndex() if kept is None
                       else self.createIndex(kept.row, index.column(), kept.ident))
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _is_dir(self, info: PathInfo) -> bool:
        return info.is_dir or info.path in self._by_parent

    def _size(self, info: PathInfo) -> int:
        return self._dir_sizes.get(info.path, 0) if self._is_dir(info) else info.size

    def _node(self, index: AnyIndex) -> _Node:
        if not index.isValid():
            return self._root
        return self._nodes.get(index.internalId(), _GONE)

    def find(self, path: str) -> QModelIndex:
        """The index of a path, creating the nodes on the way (to select or reveal it)."""
        node = self._root
        index = QModelIndex()
        parts = path.split("/")
        for depth in range(len(parts)):
            wanted = "/".join(parts[: depth + 1])
            match = next((c for c in self._children(node) if c.info.path == wanted), None)
            if match is None:
                return QModelIndex()
            node = match
            index = self.index(node.row, 0, index)
        return index

    # -- Qt interface -----------------------------------------------------------------------

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        children = self._children(self._node(parent))
        if not (0 <= row < len(children) and 0 <= column < len(self.COLUMNS)):
            return QModelIndex()
        return self.createIndex(row, column, children[row].ident)

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        node = self._node(index).parent
        if node is None or node is self._root:
            return QModelIndex()
        return self.createIndex(node.row, 0, node.ident)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        node = self._node(parent)
        if node is not self._root and not self._is_dir(node.info):
            return 0
        return len(self._children(node))

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        node = self._node(parent)
        # Answer without building the children: that is what keeps expansion lazy.
        return node is self._root or (self._is_dir(node.info)
                                      and bool(self._by_parent.get(node.info.path)))

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self._node(index)
        info = node.info
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return node.name + ("/" if self._is_dir(info) else "")
            if column == 1:
                return human_size(self._size(info))
            return info.mark
        if role == Qt.ItemDataRole.ForegroundRole and info.mark in MARK_TONES and column != 1:
            return QColor(MARK_TONES[info.mark].on())
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"/{info.path}  ({self._size(info):,} bytes)"
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def canFetchMore(self, parent: AnyIndex) -> bool:
        return False
