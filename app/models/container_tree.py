"""Containers grouped by Compose project, as a tree built on the flat keyed model.

The flat :class:`~app.models.table.KeyedTableModel` stays the source of truth
(tests and other code address containers by ID there).  :class:`ContainerTreeModel`
follows it and shows one group row per Compose project with that project's
containers below it; containers without a project sit at the top level.  It
is updated by diffs too — rows inserted and removed, ``dataChanged`` for what
changed — so a refresh never resets the view (selection, scroll and which
groups are collapsed all survive).

Rows keep the order they arrived in; the Containers page's proxy on top sorts
and filters them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QFont

import engine
from app.models.table import Column, KeyedTableModel, SortRole
from app.models.ticking import RelativeTimeTicker

AnyIndex = QModelIndex | QPersistentModelIndex

#: What the State cell says while an action on the container is in flight.
BusyRole = Qt.ItemDataRole.UserRole + 3
#: True for a Compose project's row.
IsGroupRole = Qt.ItemDataRole.UserRole + 4


@dataclass(frozen=True, slots=True)
class ComposeGroup:
    """A Compose project's row: its name and its containers, in arrival order."""

    project: str
    containers: tuple[engine.Container, ...]

    @property
    def running_count(self) -> int:
        return sum(1 for c in self.containers if c.running)

    @property
    def summary(self) -> str:
        """'3 of 4 running' — what a user wants to know about a project at a glance."""
        return f"{self.running_count} of {len(self.containers)} running"


_NO_FLAGS = Qt.ItemFlag.NoItemFlags
_GROUP_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
#: A container's row never has children: the view then never asks (hasChildren).
_CONTAINER_FLAGS = _GROUP_FLAGS | Qt.ItemFlag.ItemNeverHasChildren


def _top_key(container: engine.Container) -> tuple[str, str]:
    project = container.compose_project
    return ("group", project) if project else ("container", container.id)


class ContainerTreeModel(QAbstractItemModel):
    """Compose projects and their containers, following a flat :class:`KeyedTableModel`.

    Index ``internalId`` is 0 for a top-level row and the group's serial number
    for a container inside a group, so ``parent()`` is a dictionary look-up.
    """

    def __init__(self, source: KeyedTableModel, columns: Sequence[Column],
                 group_columns: Sequence[Column], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._columns = tuple(columns)
        #: How a group row fills each column (given a ComposeGroup).
        self._group_columns = tuple(group_columns)
        self._top: list[tuple[str, str]] = []
        self._top_rows: dict[tuple[str, str], int] = {}
        self._children: dict[str, list[str]] = {}  # project -> container IDs
        self._child_rows: dict[str, int] = {}  # container ID -> row within its group
        self._serial: dict[str, int] = {}  # project -> internalId of its children
        self._by_serial: dict[int, str] = {}
        self._next_serial = 1
        self._items: dict[str, engine.Container] = {}
        self._groups: dict[str, ComposeGroup] = {}
        self._busy: dict[str, str] = {}
        if ticking := [i for i, column in enumerate(self._columns) if column.ticks]:
            self.ticker = RelativeTimeTicker(self, ticking)
        for signal in (source.rowsInserted, source.rowsRemoved, source.dataChanged,
                       source.layoutChanged, source.modelReset):
            signal.connect(self._sync)
        self._sync()

    # -- Qt interface ---------------------------------------------------------------

    # index(), flags() and hasChildren() are asked for every row, from C++, whenever the
    # view lays itself out (each row inserted or removed): with a thousand containers, the
    # Python they run was most of an event's cost.  Hence plain checks (hasIndex() calls
    # back rowCount() and columnCount()) and flags made once.

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if row < 0 or not 0 <= column < len(self._columns):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(self._top) else QModelIndex()
        if parent.column() != 0 or parent.internalId() != 0 or parent.row() >= len(self._top):
            return QModelIndex()
        kind, project = self._top[parent.row()]
        if kind != "group" or row >= len(self._children[project]):
            return QModelIndex()
        return self.createIndex(row, column, self._serial[project])

    def parent(self, child: AnyIndex | None = None) -> Any:  # type: ignore[override]
        if child is None:  # QObject.parent(), which this override shadows in Python
            return super().parent()
        if not child.isValid() or child.internalId() == 0:
            return QModelIndex()
        project = self._by_serial.get(child.internalId())
        if project is None:
            return QModelIndex()
        return self.createIndex(self._top_rows[("group", project)], 0, 0)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._top)
        if parent.column() != 0 or parent.internalId() != 0:
            return 0
        kind, key = self._top[parent.row()]
        return len(self._children[key]) if kind == "group" else 0

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return len(self._columns)

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        return self.rowCount(parent) > 0

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(self._columns)):
            return self._columns[section].title
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return _NO_FLAGS
        if index.internalId() != 0:
            return _CONTAINER_FLAGS
        row = index.row()
        return (_GROUP_FLAGS if row < len(self._top) and self._top[row][0] == "group"
                else _CONTAINER_FLAGS)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.item(index)
        if isinstance(item, ComposeGroup):
            return self._group_data(item, index.column(), role)
        if item is None:
            return None
        return self._container_data(item, index.column(), role)

    def _container_data(self, item: engine.Container, col: int, role: int) -> Any:
        column = self._columns[col]
        busy = self._busy.get(item.id)
        if role == Qt.ItemDataRole.DisplayRole and busy is not None and column.title == "State":
            return busy
        if role == BusyRole:
            return busy
        if role == IsGroupRole:
            return False
        return column.data(item, role)

    def _group_data(self, group: ComposeGroup, col: int, role: int) -> Any:
        column = self._group_columns[col]
        if role == SortRole:
            if col == 0:
                return group.project.lower()
            # Same kind of value as the containers' keys, so mixed rows sort together.
            member = self._columns[col]
            return min(member.data(c, SortRole) for c in group.containers)
        if role == IsGroupRole:
            return True
        if role == Qt.ItemDataRole.FontRole and col == 0:
            font = QFont()
            font.setBold(True)
            return font
        return column.data(group, role)

    # -- look-ups ---------------------------------------------------------------------

    def item(self, index: AnyIndex) -> engine.Container | ComposeGroup | None:
        """The container or group behind a row of this model."""
        if not index.isValid():
            return None
        if index.internalId() == 0:
            if not 0 <= index.row() < len(self._top):
                return None
            kind, key = self._top[index.row()]
            return self._groups.get(key) if kind == "group" else self._items.get(key)
        project = self._by_serial.get(index.internalId())
        children = self._children.get(project or "", [])
        if not 0 <= index.row() < len(children):
            return None
        return self._items.get(children[index.row()])

    def index_of(self, container_id: str, column: int = 0) -> QModelIndex:
        """This model's index of a container, wherever it sits."""
        item = self._items.get(container_id)
        if item is None:
            return QModelIndex()
        project = item.compose_project
        if project:
            return self.createIndex(self._child_rows[container_id], column, self._serial[project])
        return self.createIndex(self._top_rows[("container", container_id)], column, 0)

    def group_index(self, project: str) -> QModelIndex:
        row = self._top_rows.get(("group", project))
        return QModelIndex() if row is None else self.createIndex(row, 0, 0)

    def groups(self) -> list[ComposeGroup]:
        return [self._groups[key] for kind, key in self._top if kind == "group"]

    # -- progress ---------------------------------------------------------------------

    def set_busy(self, container_id: str, text: str | None) -> None:
        """Show ``text`` ("stopping…") in the container's State cell; None restores it."""
        if text is None:
            if self._busy.pop(container_id, None) is None:
                return
        elif self._busy.get(container_id) == text:
            return
        else:
            self._busy[container_id] = text
        index = self.index_of(container_id)
        if index.isValid():
            row_end = index.siblingAtColumn(len(self._columns) - 1)
            self.dataChanged.emit(index, row_end)

    def busy(self, container_id: str) -> str | None:
        return self._busy.get(container_id)

    def refresh_columns(self, container_id: str, first: int, last: int) -> None:
        """Columns ``first..last`` of a container (and of its group, a sum) changed
        outside the container itself: live CPU and memory figures."""
        index = self.index_of(container_id)
        if not index.isValid():
            return
        self.dataChanged.emit(index.siblingAtColumn(first), index.siblingAtColumn(last))
        if project := self._items[container_id].compose_project:
            group = self.group_index(project)
            self.dataChanged.emit(group.siblingAtColumn(first), group.siblingAtColumn(last))

    def refresh_columns_of(self, container_ids: Iterable[str], first: int, last: int) -> None:
        """:meth:`refresh_columns` for many containers at once: one ``dataChanged`` over
        the span of their rows under each parent, and one per project row.  Each change
        costs the proxy and the tree view a pass of their own (the view re-measures its
        first row), so twenty stats samples a second were twenty such passes."""
        spans: dict[str, tuple[int, int]] = {}  # project ("": top level) -> rows
        for container_id in container_ids:
            item = self._items.get(container_id)
            if item is None:
                continue
            project = item.compose_project or ""
            row = (self._child_rows.get(container_id) if project
                   else self._top_rows.get(("container", container_id)))
            if row is None:
                continue
            low, high = spans.get(project, (row, row))
            spans[project] = (min(low, row), max(high, row))
        for project, (low, high) in spans.items():
            parent = self.group_index(project) if project else QModelIndex()
            self.dataChanged.emit(self.index(low, first, parent), self.index(high, last, parent))
            if project:
                self.dataChanged.emit(parent.siblingAtColumn(first), parent.siblingAtColumn(last))

    # -- following the flat model -------------------------------------------------------

    def _sync(self, *_args: object) -> None:
        """Bring the tree in line with the flat model's items, by diffs."""
        incoming = {c.id: c for c in self._source.items()}
        wanted: dict[str, list[str]] = {}
        for container in incoming.values():
            if project := container.compose_project:
                wanted.setdefault(project, []).append(container.id)
        wanted_top = {_top_key(c) for c in incoming.values()}
        for gone in [key for key in self._busy if key not in incoming]:
            del self._busy[gone]

        # 1. Containers that left a group (removed, or — in theory — relabelled).
        for project, children in self._children.items():
            keep = set(wanted.get(project, ()))
            self._remove_runs(self.group_index(project),
                              [r for r, cid in enumerate(children) if cid not in keep],
                              children, project)
        # 2. Top-level rows that went away: ungrouped containers and emptied groups.
        self._remove_runs(QModelIndex(),
                          [r for r, key in enumerate(self._top) if key not in wanted_top],
                          self._top, None)
        # 3. What changed in place.
        changed_groups: set[str] = set()
        for cid, new in incoming.items():
            old = self._items.get(cid)
            if old is None or old is new or old == new:
                continue
            self._items[cid] = new
            index = self.index_of(cid)
            changed = [col for col, column in enumerate(self._columns)
                       if column.text(old) != column.text(new)]
            first, last = (changed[0], changed[-1]) if changed else (0, len(self._columns) - 1)
            self.dataChanged.emit(index.siblingAtColumn(first), index.siblingAtColumn(last))
            if project := new.compose_project:
                changed_groups.add(project)
        # 4. New top-level rows (new groups come with their first children).
        new_top: list[tuple[str, str]] = []
        for container in incoming.values():
            top_key = _top_key(container)
            if top_key not in self._top_rows and top_key not in new_top:
                new_top.append(top_key)
        if new_top:
            first = len(self._top)
            self.beginInsertRows(QModelIndex(), first, first + len(new_top) - 1)
            for kind, key in new_top:
                if kind == "group":
                    self._ensure_serial(key)
                    self._children[key] = list(wanted[key])
                    for cid in wanted[key]:
                        self._items[cid] = incoming[cid]
                    self._groups[key] = self._make_group(key)
                else:
                    self._items[key] = incoming[key]
            self._top.extend(new_top)
            self._reindex()
            self.endInsertRows()
        # 5. New containers in groups that already existed.
        for project, ids in wanted.items():
            if ("group", project) in new_top:
                continue
            children = self._children[project]
            present = set(children)
            added = [cid for cid in ids if cid not in present]
            if added:
                first = len(children)
                self.beginInsertRows(self.group_index(project), first, first + len(added) - 1)
                children.extend(added)
                for cid in added:
                    self._items[cid] = incoming[cid]
                self._groups[project] = self._make_group(project)
                self._reindex()
                self.endInsertRows()
                changed_groups.add(project)
        # 6. Group rows whose summary changed (counts, states).
        for project in self._children:
            group = self._make_group(project)
            if group != self._groups.get(project) or project in changed_groups:
                self._groups[project] = group
                index = self.group_index(project)
                self.dataChanged.emit(index, index.siblingAtColumn(len(self._columns) - 1))

    def _remove_runs(self, parent: QModelIndex, rows: list[int], rows_list: list[Any],
                     project: str | None) -> None:
        """Remove ``rows`` (ascending) from ``rows_list`` in contiguous runs, bottom up."""
        while rows:
            last = rows.pop()
            first = last
            while rows and rows[-1] == first - 1:
                first = rows.pop()
            self.beginRemoveRows(parent, first, last)
            for entry in rows_list[first:last + 1]:
                self._forget(entry, project)
            del rows_list[first:last + 1]
            if project is not None:
                self._groups[project] = self._make_group(project)
            self._reindex()
            self.endRemoveRows()

    def _forget(self, entry: Any, project: str | None) -> None:
        if project is not None:  # a container ID inside a group
            self._items.pop(entry, None)
            return
        kind, key = entry
        if kind == "container":
            self._items.pop(key, None)
            return
        for cid in self._children.pop(key, []):
            self._items.pop(cid, None)
        self._groups.pop(key, None)
        # The serial stays retired: a stale index can never point into another group.
        serial = self._serial.pop(key)
        del self._by_serial[serial]

    def _ensure_serial(self, project: str) -> None:
        if project not in self._serial:
            self._serial[project] = self._next_serial
            self._by_serial[self._next_serial] = project
            self._next_serial += 1

    def _make_group(self, project: str) -> ComposeGroup:
        return ComposeGroup(project, tuple(self._items[c] for c in self._children[project]
                                           if c in self._items))

    def _reindex(self) -> None:
        self._top_rows = {key: row for row, key in enumerate(self._top)}
        self._child_rows = {cid: row for children in self._children.values()
                            for row, cid in enumerate(children)}
