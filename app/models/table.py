"""A table model keyed by ID and updated by diffs.

Replacing the whole list resets a view's selection and scroll; here a refresh
removes the rows that went away, emits ``dataChanged`` for the cells that
changed and appends the rows that are new, so the view keeps its place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from app.models.ticking import RelativeTimeTicker

AnyIndex = QModelIndex | QPersistentModelIndex

#: The row's object itself, for views and actions.
ItemRole = Qt.ItemDataRole.UserRole + 1
#: A value that sorts the way a user expects (bytes, not "1.2 MB").
SortRole = Qt.ItemDataRole.UserRole + 2
#: How a state looks ("good", "busy", "bad", "idle"): a badge delegate paints it.
ToneRole = Qt.ItemDataRole.UserRole + 5


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[Any], str]
    sort_key: Callable[[Any], Any] | None = None
    tooltip: Callable[[Any], str] | None = None
    align_right: bool = False
    #: A colour swatch before the text (e.g. the state of a container).
    decoration: Callable[[Any], Any] | None = None
    #: The text says how long ago something was, so it changes as time passes.
    ticks: bool = False
    #: The text is a state: its tone ("good", "busy", "bad", "idle") for a badge.
    tone: Callable[[Any], str] | None = None

    def data(self, item: Any, role: int) -> Any:
        """What this column shows of ``item`` for a Qt role (every model here asks this)."""
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(item)
        if role == SortRole:
            return self.sort_key(item) if self.sort_key else self.text(item).lower()
        if role == ItemRole:
            return item
        if role == ToneRole and self.tone:
            return self.tone(item)
        if role == Qt.ItemDataRole.DecorationRole and self.decoration:
            return self.decoration(item)
        if role == Qt.ItemDataRole.ToolTipRole and self.tooltip:
            return self.tooltip(item)
        if role == Qt.ItemDataRole.TextAlignmentRole and self.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class KeyedTableModel(QAbstractTableModel):
    def __init__(
        self, columns: Sequence[Column], key: Callable[[Any], str], parent: Any = None
    ) -> None:
        super().__init__(parent)
        self._columns = tuple(columns)
        self._key = key
        self._items: list[Any] = []
        self._rows: dict[str, int] = {}
        if ticking := [i for i, column in enumerate(self._columns) if column.ticks]:
            self.ticker = RelativeTimeTicker(self, ticking)

    # -- Qt interface ---------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self._columns)
        ):
            return self._columns[section].title
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        return self._columns[index.column()].data(self._items[index.row()], role)

    # -- diffing ----------------------------------------------------------------------

    def items(self) -> list[Any]:
        return list(self._items)

    def item_at(self, row: int) -> Any:
        return self._items[row]

    def row_of(self, key: str) -> int | None:
        return self._rows.get(key)

    def set_items(self, items: Sequence[Any], columns: Sequence[int] | None = None) -> None:
        """Show ``items``, by diffs.  ``columns``: the only columns the caller knows can
        have changed (e.g. a count worked out from another list); their cells are
        announced as changed without comparing every cell's text."""
        incoming = {self._key(item): item for item in items}
        self._remove_missing(incoming)
        self._update_changed(incoming, columns)
        new = [item for key, item in incoming.items() if key not in self._rows]
        if new:
            first = len(self._items)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._items.extend(new)
            self._reindex()
            self.endInsertRows()

    def _remove_missing(self, incoming: dict[str, Any]) -> None:
        gone = [row for row, item in enumerate(self._items) if self._key(item) not in incoming]
        # Remove contiguous runs from the bottom up so earlier row numbers stay valid.
        while gone:
            last = gone.pop()
            first = last
            while gone and gone[-1] == first - 1:
                first = gone.pop()
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._items[first : last + 1]
            self._reindex()
            self.endRemoveRows()

    #: More changed rows than this in one refresh: one ``dataChanged`` over their span,
    #: without working out which cells changed (each cell's text is a formatting call:
    #: a thousand tags of one image all change their "used by" together).
    MOST_ROWS_DIFFED = 8

    def _update_changed(self, incoming: dict[str, Any],
                        columns: Sequence[int] | None = None) -> None:
        changed_rows = []
        for row, old in enumerate(self._items):
            new = incoming[self._key(old)]
            if new is not old and new != old:
                changed_rows.append(row)
        if columns is not None or len(changed_rows) > self.MOST_ROWS_DIFFED:
            # Only the columns named change: a sorting proxy re-sorts rows only when its
            # sort column is among them (a thousand rows re-sorted per event, otherwise).
            first, last = ((min(columns), max(columns)) if columns
                           else (0, len(self._columns) - 1))
            for row in changed_rows:
                self._items[row] = incoming[self._key(self._items[row])]
            if changed_rows:
                self.dataChanged.emit(self.index(changed_rows[0], first),
                                      self.index(changed_rows[-1], last))
            return
        for row in changed_rows:
            old = self._items[row]
            new = incoming[self._key(old)]
            self._items[row] = new
            changed = [
                col
                for col, column in enumerate(self._columns)
                if column.text(old) != column.text(new)
            ]
            # Even with no visible change the object behind ItemRole is new.
            first, last = (changed[0], changed[-1]) if changed else (0, len(self._columns) - 1)
            self.dataChanged.emit(self.index(row, first), self.index(row, last))

    def _reindex(self) -> None:
        self._rows = {self._key(item): row for row, item in enumerate(self._items)}
