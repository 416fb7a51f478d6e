"""A container's file tree: rows made as folders open, inserted in slices that never stall.

The engine reads a folder's whole subtree in one request (the archive API has
no one-level listing), so the model keeps every entry a read found, by parent
folder (:attr:`ContainerFilesModel.known`), and makes rows only for folders the
user opens.  Rows go in through a queue drained by a zero-time timer with a
time budget per turn of the event loop: a folder of 100k entries appears a
slice at a time while the window stays responsive.

Two other shapes reuse the same rows: a search (the paths of the loaded part
whose name matches, with their folders) and "Changes only" (what the container
changed relative to its image, removed paths included).
"""

from __future__ import annotations

import heapq
import stat as stat_module
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont

import engine
from app.models.file_tree import MARK_TONES
from app.presentation import human_size
from app.theme import MUTED_TEXT

AnyIndex = QModelIndex | QPersistentModelIndex

COLUMNS = ("Name", "Size", "Mode", "Owner", "Modified", "Link to", "Change")
NAME, SIZE, MODE, OWNER, MODIFIED, LINK, CHANGE = range(len(COLUMNS))
#: Seconds of inserting per turn of the event loop.
SLICE_SECONDS = 0.004
#: Rows a search shows at most.
SEARCH_LIMIT = 1000
#: Rows a folder shows at first, and how many more each "more" row adds.  A tree view
#: lays out every row of an open folder again after each insert (a call into Python
#: per row): 100k rows at once would stall the window for seconds.
PAGE = 1000

_TYPE_BITS = {engine.FileKind.DIRECTORY: stat_module.S_IFDIR,
              engine.FileKind.SYMLINK: stat_module.S_IFLNK,
              engine.FileKind.FILE: stat_module.S_IFREG, engine.FileKind.OTHER: 0}


def mode_text(entry: engine.ContainerFile) -> str:
    """``drwxr-xr-x``, as ``ls -l`` shows it."""
    return stat_module.filemode(_TYPE_BITS[entry.kind] | entry.mode)


class _Node:
    __slots__ = ("children", "entry", "ident", "limit", "more", "parent", "row")

    def __init__(self, entry: engine.ContainerFile, parent: _Node | None, row: int,
                 ident: int) -> None:
        self.entry = entry
        self.parent = parent
        self.row = row
        self.ident = ident
        self.children: list[_Node] | None = None  # None: not opened yet
        #: Rows of entries this folder shows at most (grows a page at a time).
        self.limit = PAGE
        #: The last row, "… N more", when the folder holds more than ``limit``.
        self.more: _Node | None = None

    def shown(self) -> int:
        """Rows of real entries (the "more" row aside)."""
        children = self.children or ()
        return len(children) - (self.more is not None)


#: Flags by kind, computed once: a view lays out every row of an open folder.
_FILE_FLAGS = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
               | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemNeverHasChildren)
_DIR_FLAGS = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
              | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemIsDropEnabled)
_MORE_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren


def _sort_key(column: int, sizes: Mapping[str, int],
              marks: Mapping[str, engine.ChangeKind]) -> Any:
    """A key on entries for ``column``."""
    if column == SIZE:
        return lambda e: sizes.get(e.path, e.size)
    if column == MODE:
        return lambda e: (e.kind, e.mode)
    if column == OWNER:
        return lambda e: (e.uid, e.gid)
    if column == MODIFIED:
        return lambda e: e.mtime
    if column == LINK:
        return lambda e: e.link_target
    if column == CHANGE:
        return lambda e: marks.get(e.path, "")
    return lambda e: e.path


#: Entries sorted in one step of a paced sort (a few ms of work at most).
SORT_PIECE = 2048


def sorted_in_pieces(entries: Sequence[engine.ContainerFile], key: Callable[[Any], Any],
                     reverse: bool) -> Generator[None, None, list[engine.ContainerFile]]:
    """``sorted(entries, key=key, reverse=reverse)`` (stable), yielding between steps of
    at most :data:`SORT_PIECE` entries: keys in pieces, runs sorted in C, then merged.

    One ``list.sort`` of 100k entries holds the GUI thread (or, in a worker thread,
    the GIL) for 100 ms and more; a step here is a few ms.
    """
    count = len(entries)
    if count <= SORT_PIECE:
        return sorted(entries, key=key, reverse=reverse)
    keys: list[Any] = []
    for start in range(0, count, SORT_PIECE):
        keys.extend(map(key, entries[start:start + SORT_PIECE]))
        yield
    runs = []
    for start in range(0, count, SORT_PIECE):
        runs.append(sorted(range(start, min(count, start + SORT_PIECE)),
                           key=keys.__getitem__, reverse=reverse))
        yield
    merged = heapq.merge(*runs, key=keys.__getitem__, reverse=reverse)
    out: list[engine.ContainerFile] = []
    while len(out) < count:
        out.extend(entries[i] for i in islice(merged, SORT_PIECE))
        yield
    return out


class ContainerFilesModel(QAbstractItemModel):
    """The tree of one container's files (see the module docstring)."""

    #: A folder was opened whose entries no read has brought yet: read it.
    wanted = Signal(str)
    #: Every queued row is in (a read's rows, or an opened folder's).
    settled = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._root = _Node(engine.ContainerFile("/", engine.FileKind.DIRECTORY), None, 0, 0)
        self._root.children = []
        self._nodes: dict[int, _Node] = {0: self._root}
        self._next = 1
        #: Entries found by reads, by parent folder (browse mode).
        self.known: dict[str, list[engine.ContainerFile]] = {}
        #: Folders whose whole subtree a finished read holds.
        self.complete: set[str] = set()
        self.sizes: dict[str, int] = {}
        self.marks: dict[str, engine.ChangeKind] = {}
        #: Not None while a search or "Changes only" shows a fixed set of paths.
        self._static: dict[str, list[engine.ContainerFile]] | None = None
        #: Open folders with rows still to make (from :attr:`known`, up to their limit).
        self._queue: deque[_Node] = deque()
        #: The order asked for, and the order :attr:`known` and the rows are in (they
        #: differ while a sort runs, or a read appends entries in name order).
        self._sort: tuple[int, Qt.SortOrder] = (NAME, Qt.SortOrder.AscendingOrder)
        self._applied: tuple[int, Qt.SortOrder] = self._sort
        self._resort: set[int] = set()
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._drain)
        #: A running sort of every folder's entries, stepped by its own timer.
        self._sorting: Generator[None, None, dict[str, list[engine.ContainerFile]]] | None \
            = None
        self._sort_timer = QTimer(self)
        self._sort_timer.setInterval(0)
        self._sort_timer.timeout.connect(self._step_sort)

    # -- what is known ---------------------------------------------------------------

    def clear(self) -> None:
        """Forget everything (another container, or a reload)."""
        self.beginResetModel()
        self._reset_nodes()
        self._stop_sort()
        self._resort.clear()
        self._applied = (NAME, Qt.SortOrder.AscendingOrder)  # reads come in name order
        self.known.clear()
        self.complete.clear()
        self.sizes.clear()
        self.marks.clear()
        self._static = None
        self.endResetModel()

    def _reset_nodes(self) -> None:
        self._queue.clear()
        self._timer.stop()
        for node in self._nodes.values():  # no cycles left for the collector (see _forget)
            if node is not self._root:
                node.parent = node.children = node.more = None
        self._root.children = []
        self._root.more = None  # the root's "more" row went with its rows
        self._root.limit = PAGE
        self._nodes = {0: self._root}
        self._next = 1

    @property
    def static(self) -> bool:
        """Whether a search or "Changes only" is shown instead of the browsable tree."""
        return self._static is not None

    def is_complete(self, path: str) -> bool:
        """Whether a finished read holds everything under ``path``."""
        while True:
            if path in self.complete:
                return True
            if path == "/":
                return False
            path = path.rpartition("/")[0] or "/"

    def add_entries(self, entries: Sequence[engine.ContainerFile]) -> None:
        """Entries a read found: kept, and queued as rows where their folder is open."""
        known = self.known
        by_parent: dict[str, list[engine.ContainerFile]] = {}
        for entry in entries:
            parent = entry.path.rpartition("/")[0] or "/"
            group = by_parent.get(parent)
            if group is None:
                group = by_parent[parent] = []
            group.append(entry)
        if self._sort != (NAME, Qt.SortOrder.AscendingOrder):
            # Arrivals come in name order: sorted once the read ends, not per batch.
            self._resort.add(0)
        for parent, group in by_parent.items():
            known.setdefault(parent, []).extend(group)
            if self._static is None:
                node = self._open_node(parent)
                if node is not None:
                    self._enqueue(node)

    def finish_read(self, folder: str, sizes: Mapping[str, int]) -> None:
        """A read of ``folder`` ended: its subtree is complete; folder sizes are in."""
        self.complete.add(folder)
        self.sizes.update(sizes)
        self.known.setdefault(folder, [])
        if self._static is None and (node := self._open_node(folder)) is not None \
                and node.children:
            # The folders' sizes: one dataChanged over the size column of each open folder.
            for opened in self._open_under(node):
                if opened.children:
                    self.dataChanged.emit(self.createIndex(0, SIZE, opened.children[0].ident),
                                          self.createIndex(len(opened.children) - 1, SIZE,
                                                           opened.children[-1].ident),
                                          [Qt.ItemDataRole.DisplayRole])
        self.resort()
        if self.settled_now():
            self.settled.emit()

    def resort(self) -> None:
        """Sort what reads added since the last sort (when a read ended or stopped)."""
        if self._resort:
            self.sort(*self._sort)

    def set_marks(self, changes: Iterable[engine.ContainerChange]) -> None:
        """Mark changed paths (added, modified, removed) in whatever is shown."""
        self.marks = {c.path: c.kind for c in changes}
        for node in self._nodes.values():
            if node.children:
                self.dataChanged.emit(self.createIndex(0, 0, node.children[0].ident),
                                      self.createIndex(len(node.children) - 1, CHANGE,
                                                       node.children[-1].ident))

    def _open_node(self, path: str) -> _Node | None:
        """The shown node of folder ``path`` if its rows are made (it was opened)."""
        if path == "/":
            return self._root
        node = self._root
        for part in path.strip("/").split("/"):
            if node.children is None:
                return None
            found = self._child_named(node, part)
            if found is None:
                return None
            node = found
        return node if node.children is not None else None

    def _child_named(self, node: _Node, name: str) -> _Node | None:
        children = (node.children or [])[:node.shown()]
        target = f"{node.entry.path.rstrip('/')}/{name}"
        # Children are in name order unless sorted otherwise: bisect, else scan.
        if self._static is None and not self._resort \
                and self._applied == (NAME, Qt.SortOrder.AscendingOrder):
            low, high = 0, len(children)
            while low < high:
                mid = (low + high) // 2
                if children[mid].entry.path < target:
                    low = mid + 1
                else:
                    high = mid
            if low < len(children) and children[low].entry.path == target:
                return children[low]
            return None
        return next((c for c in children if c.entry.path == target), None)

    def _open_under(self, node: _Node) -> Iterable[_Node]:
        stack = [node]
        while stack:
            current = stack.pop()
            yield current
            stack.extend(c for c in current.children or () if c.children)

    # -- search and "Changes only" ------------------------------------------------------

    def show_static(self, entries: Iterable[engine.ContainerFile]) -> int:
        """Show only ``entries`` and the folders above them; returns how many rows."""
        by_parent: dict[str, dict[str, engine.ContainerFile]] = {}
        count = 0
        for entry in entries:
            count += 1
            path = entry.path
            by_parent.setdefault(path.rpartition("/")[0] or "/", {})[path] = entry
            parent = path.rpartition("/")[0] or "/"
            while parent != "/":
                above = parent.rpartition("/")[0] or "/"
                siblings = by_parent.setdefault(above, {})
                if parent in siblings:
                    break
                siblings[parent] = self._entry_of(parent)
                parent = above
        self.beginResetModel()
        self._reset_nodes()
        self._static = {p: sorted(c.values(), key=lambda e: e.path)
                        for p, c in by_parent.items()}
        # Every row made inside the reset: a view's reset handler must find no
        # folder still to fetch (rows inserted before the reset ends upset it).
        stack = [self._root]
        while stack:
            node = stack.pop()
            self._make_rows(node, self._static.get(node.entry.path, []), inside_reset=True)
            if node.children is None:
                node.children = []
            stack.extend(c for c in node.children if c.entry.is_dir)
        self.endResetModel()
        return count

    def _entry_of(self, path: str) -> engine.ContainerFile:
        parent = path.rpartition("/")[0] or "/"
        for entry in self.known.get(parent, ()):
            if entry.path == path:
                return entry
        return engine.ContainerFile(path, engine.FileKind.DIRECTORY)

    def search(self, text: str) -> tuple[int, bool]:
        """Show the loaded paths whose name holds ``text`` (any case); (matches, capped)."""
        needle = text.casefold()
        found: list[engine.ContainerFile] = []
        for group in self.known.values():
            found.extend(e for e in group if needle in e.path.rpartition("/")[2].casefold())
            if len(found) > SEARCH_LIMIT:
                break
        capped = len(found) > SEARCH_LIMIT
        self.show_static(found[:SEARCH_LIMIT])
        return min(len(found), SEARCH_LIMIT), capped

    def show_changes(self, changes: Sequence[engine.ContainerChange]) -> int:
        """Only what the container changed (the first :data:`SEARCH_LIMIT`), marked,
        removed paths included; returns how many are shown."""
        self.marks = {c.path: c.kind for c in changes}
        changes = changes[:SEARCH_LIMIT]
        parents = {c.path.rpartition("/")[0] for c in changes}
        entries = []
        for change in changes:
            entry = self._entry_of(change.path)
            if change.is_dir or change.path in parents:
                kind = engine.FileKind.DIRECTORY
            elif entry.path == change.path and entry.mtime:
                kind = entry.kind  # a read found it: what it is
            else:
                kind = engine.FileKind.FILE
            size = change.size if change.size is not None else entry.size
            entries.append(entry._replace(kind=kind, size=size or 0))
        return self.show_static(entries)

    def browse(self) -> None:
        """Back to the browsable tree (after a search or "Changes only")."""
        self.beginResetModel()
        self._reset_nodes()
        self._static = None
        self.endResetModel()
        if self.known.get("/"):
            # The top level again (no view asks to fetch the root); folders below
            # come back as they are opened.
            self._enqueue(self._root)

    # -- rows ------------------------------------------------------------------------

    def _enqueue(self, node: _Node) -> None:
        if node not in self._queue:
            self._queue.append(node)
        if not self._timer.isActive():
            self._timer.start()

    def _drain(self) -> None:
        """Make queued rows for at most :data:`SLICE_SECONDS`, then yield the loop."""
        deadline = time.perf_counter() + SLICE_SECONDS
        first = True  # at least one step a turn
        while self._queue and (first or time.perf_counter() < deadline):
            first = False
            node = self._queue.popleft()
            if self._nodes.get(node.ident) is not node or self._static is not None:
                continue  # gone with a reset
            source = self.known.get(node.entry.path, [])
            have = node.shown()
            want = min(len(source), node.limit)
            if have < want:
                self._make_rows(node, source[have:min(want, have + 250)])
                if have + 250 < want:
                    self._queue.appendleft(node)
                    continue
            self._update_more(node, len(source))
        if not self._queue:
            self._timer.stop()
            if self.settled_now():
                self.settled.emit()

    def _update_more(self, node: _Node, total: int) -> None:
        """The "… N more" row: there while the folder holds more than it shows."""
        children = node.children
        if children is None:
            return
        hidden = total - node.shown()
        if total > node.limit and node.more is None:
            row = len(children)
            self.beginInsertRows(self._index_of(node), row, row)
            # Its size is the count it shows, set here only: not while rows go in above it.
            more = _Node(engine.ContainerFile(node.entry.path.rstrip("/") + "/",
                                              engine.FileKind.OTHER, hidden),
                         node, row, self._next)
            self._nodes[self._next] = more
            self._next += 1
            children.append(more)
            node.more = more
            self.endInsertRows()
        elif node.more is not None:
            more = node.more
            if total <= node.limit:
                self.beginRemoveRows(self._index_of(node), more.row, more.row)
                children.pop()
                del self._nodes[more.ident]
                node.more = None
                self.endRemoveRows()
            elif more.entry.size != hidden:
                more.entry = more.entry._replace(size=hidden)
                self.dataChanged.emit(self.createIndex(more.row, 0, more.ident),
                                      self.createIndex(more.row, 0, more.ident))

    def is_more(self, index: AnyIndex) -> bool:
        """Whether ``index`` is a folder's "… N more" row."""
        node = self._node(index)
        return index.isValid() and node.parent is not None and node.parent.more is node

    def show_more(self, index: AnyIndex) -> None:
        """A "more" row was activated: show another page of its folder."""
        if not self.is_more(index):
            return
        folder = self._node(index).parent
        assert folder is not None
        folder.limit += PAGE
        self._enqueue(folder)

    def _make_rows(self, node: _Node, entries: Sequence[engine.ContainerFile], *,
                   inside_reset: bool = False) -> None:
        if not entries:
            return
        children = node.children
        if children is None:
            children = node.children = []
        first = node.shown()
        if not inside_reset:
            self.beginInsertRows(self._index_of(node), first, first + len(entries) - 1)
        nodes = self._nodes
        ident = self._next
        made = []
        for row, entry in enumerate(entries, first):
            child = _Node(entry, node, row, ident)
            nodes[ident] = child
            made.append(child)
            ident += 1
        self._next = ident
        if node.more is not None:
            children[first:first] = made
            node.more.row = len(children) - 1
        else:
            children.extend(made)
        if not inside_reset:
            self.endInsertRows()

    def _index_of(self, node: _Node) -> QModelIndex:
        if node is self._root or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.row, 0, node.ident)

    def settled_now(self) -> bool:
        """Whether every queued row is in and no sort is running."""
        return not self._queue and self._sorting is None

    # -- Qt's model interface ------------------------------------------------------------

    def _node(self, index: AnyIndex) -> _Node:
        if not index.isValid():
            return self._root
        return self._nodes.get(index.internalId(), self._root)

    def entry(self, index: AnyIndex) -> engine.ContainerFile | None:
        """The file or folder at ``index`` (None for no row, or a "more" row)."""
        if not index.isValid() or self.is_more(index):
            return None
        return self._node(index).entry

    def index_of_path(self, path: str) -> QModelIndex:
        """The row of ``path`` if it is shown."""
        node = self._open_node(path.rpartition("/")[0] or "/")
        if node is None:
            return QModelIndex()
        child = next((c for c in node.children or () if c.entry.path == path), None)
        return self._index_of(child) if child is not None else QModelIndex()

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        node = self._node(parent)
        if node.children is None or not 0 <= row < len(node.children) \
                or not 0 <= column < len(COLUMNS):
            return QModelIndex()
        return self.createIndex(row, column, node.children[row].ident)

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        node = self._nodes.get(index.internalId())
        if node is None or node.parent is None or node.parent is self._root:
            return QModelIndex()
        return self.createIndex(node.parent.row, 0, node.parent.ident)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        children = self._node(parent).children
        return len(children) if children is not None else 0

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        node = self._node(parent)
        if parent.isValid() and parent.column() != 0:
            return False
        if node.children is not None:
            return bool(node.children) or (self._static is None
                                           and not self.is_complete(node.entry.path))
        if not node.entry.is_dir:
            return False
        source = self._static if self._static is not None else self.known
        if self._static is None and not self.is_complete(node.entry.path):
            return True
        return bool(source.get(node.entry.path))

    def canFetchMore(self, parent: AnyIndex) -> bool:
        node = self._node(parent)
        return parent.isValid() and node.entry.is_dir and node.children is None

    def fetchMore(self, parent: AnyIndex) -> None:
        node = self._node(parent)
        if node.children is not None or not node.entry.is_dir:
            return
        node.children = []
        if self._static is not None:
            return  # made with the rest (show_static)
        path = node.entry.path
        # Queued, not inserted here: fetchMore runs inside a view's own handlers.
        self._enqueue(node)
        if not self.is_complete(path):
            self.wanted.emit(path)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        node = self._nodes.get(index.internalId())
        if node is None:
            return Qt.ItemFlag.NoItemFlags
        if node.entry.kind is engine.FileKind.DIRECTORY:
            return _DIR_FLAGS
        return _MORE_FLAGS if node.entry.path.endswith("/") else _FILE_FLAGS

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self._nodes.get(index.internalId())
        if node is None:
            return None
        entry = node.entry
        column = index.column()
        if node.parent is not None and node.parent.more is node:
            return self._more_data(node, column, role)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(entry, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == NAME:
                mark = self.marks.get(entry.path)
                return entry.path + (f" ({mark})" if mark else "")
            return self._text(entry, column) or None
        if role == Qt.ItemDataRole.UserRole:
            return entry.path
        if role == Qt.ItemDataRole.TextAlignmentRole and column == SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            mark = self.marks.get(entry.path)
            if mark is not None:
                return QColor(MARK_TONES[mark.value].on())
        if role == Qt.ItemDataRole.FontRole and column == NAME \
                and self.marks.get(entry.path) is engine.ChangeKind.REMOVED:
            font = QFont()
            font.setStrikeOut(True)
            return font
        return None

    def _more_data(self, more: _Node, column: int, role: int) -> Any:
        if column != NAME:
            return None
        hidden = more.entry.size
        if role == Qt.ItemDataRole.DisplayRole:
            return (f"… {hidden:,} more — double-click to show"
                    f" {min(hidden, PAGE):,} more, or Find by name")
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor(MUTED_TEXT.on())
        return None

    def _text(self, entry: engine.ContainerFile, column: int) -> str:
        if column == NAME:
            return entry.name
        if column == SIZE:
            if entry.is_dir:
                size = self.sizes.get(entry.path)
                return human_size(size) if size is not None else ""
            if self.marks.get(entry.path) is engine.ChangeKind.REMOVED:
                return ""
            return human_size(entry.size) if entry.kind is engine.FileKind.FILE else ""
        if column == MODE:
            return mode_text(entry) if entry.mode or entry.kind is not \
                engine.FileKind.DIRECTORY or entry.mtime else ""
        if column == OWNER:
            return f"{entry.uid}:{entry.gid}" if entry.mtime else ""
        if column == MODIFIED:
            return datetime.fromtimestamp(entry.mtime).strftime("%Y-%m-%d %H:%M") \
                if entry.mtime else ""
        if column == LINK:
            return entry.link_target
        if column == CHANGE:
            mark = self.marks.get(entry.path)
            return mark.value if mark is not None else ""
        return ""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort every folder's entries, the unshown ones too (a page shows the first).

        A search or "Changes only" (a thousand rows at most) is sorted at once; the
        browsable tree's entries (100k in one folder, maybe) are sorted in steps of a
        few ms on a zero-time timer, and the rows move when all are sorted
        (:attr:`settled` then).
        """
        if (column, order) == self._sort and not self._resort and self._sorting is None:
            return
        self._sort = (column, order)
        self._resort.clear()
        self._stop_sort()
        if self._static is not None:
            self._apply_sort(None)  # its rows at once; the tree's entries below
        self._sorting = self._sort_steps(column, order)
        self._sort_timer.start()

    def _stop_sort(self) -> None:
        if self._sorting is not None:
            self._sorting.close()
            self._sorting = None
        self._sort_timer.stop()

    def _sort_steps(self, column: int, order: Qt.SortOrder
                    ) -> Generator[None, None, dict[str, list[engine.ContainerFile]]]:
        """Each folder's entries, sorted: what :meth:`_apply_sort` puts in place."""
        key = _sort_key(column, self.sizes, self.marks)
        reverse = order == Qt.SortOrder.DescendingOrder
        done: dict[str, list[engine.ContainerFile]] = {}
        for folder, entries in list(self.known.items()):
            if len(entries) > 1:
                done[folder] = yield from sorted_in_pieces(list(entries), key, reverse)
                yield
        return done

    def _step_sort(self) -> None:
        """Sort for at most :data:`SLICE_SECONDS`, then yield the loop."""
        steps = self._sorting
        if steps is None:
            self._sort_timer.stop()
            return
        deadline = time.perf_counter() + SLICE_SECONDS
        try:
            next(steps)  # at least one step a turn
            while time.perf_counter() < deadline:
                next(steps)
        except StopIteration as ended:
            self._sorting = None
            self._sort_timer.stop()
            self._apply_sort(ended.value)
            if self.settled_now():
                self.settled.emit()

    def _apply_sort(self, done: Mapping[str, list[engine.ContainerFile]] | None) -> None:
        """Put the sorted entries in place (``done``: None for the rows of a search or
        "Changes only" alone) and move the rows (one layout change)."""
        if done is not None:
            for folder, ordered in done.items():
                current = self.known.get(folder)
                if current is None:
                    continue
                if len(current) > len(ordered):  # a read added more meanwhile: sorted later
                    ordered = ordered + current[len(ordered):]
                    self._resort.add(0)
                self.known[folder] = ordered
            if not self._resort:
                self._applied = self._sort
        column, order = self._sort
        key = _sort_key(column, self.sizes, self.marks)
        reverse = order == Qt.SortOrder.DescendingOrder
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        old = [(self._nodes.get(i.internalId()), i.column()) for i in before]
        for node in list(self._nodes.values()):
            children = node.children
            if not children or len(children) < 2:
                continue
            shown = node.shown()
            if self._static is not None:
                children.sort(key=lambda n: key(n.entry), reverse=reverse)
            else:
                # The first ``shown`` entries in the new order: kept nodes move, others
                # are made, the ones that fall out of the page go.
                by_path = {c.entry.path: c for c in children[:shown]}
                fresh: list[_Node] = []
                for entry in self.known.get(node.entry.path, [])[:shown]:
                    child = by_path.pop(entry.path, None)
                    if child is None:
                        child = _Node(entry, node, 0, self._next)
                        self._nodes[self._next] = child
                        self._next += 1
                    fresh.append(child)
                for gone in by_path.values():
                    self._forget(gone)
                children[:shown] = fresh
            for row, child in enumerate(children):
                child.row = row
        after = [self.createIndex(n.row, c, n.ident)
                 if n is not None and self._nodes.get(n.ident) is n else QModelIndex()
                 for n, c in old]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _forget(self, node: _Node) -> None:
        """Drop a node and everything made under it.

        Their parent/children links are cut, so they are freed at once by their
        counts rather than by a later full collection (which walks every entry).
        """
        stack = [node]
        while stack:
            current = stack.pop()
            self._nodes.pop(current.ident, None)
            stack.extend(current.children or ())
            current.parent = current.children = current.more = None
