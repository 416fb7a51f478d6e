"""The Engine page's events log: rows appended as events arrive, the oldest dropped at a cap.

Never reset: a view scrolled back through the log keeps its place while new rows
arrive, and its selection survives the oldest rows going.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

import engine
from app.models.engine_facts import event_action, event_actor, event_time
from app.models.table import ItemRole

AnyIndex = QModelIndex | QPersistentModelIndex

COLUMNS = ("Time", "Type", "Action", "Actor")
TYPE_COLUMN = 1


class EventLogModel(QAbstractTableModel):
    #: The most rows kept; older ones go first.
    MAX_ROWS = 2000

    def __init__(self, parent: Any = None, *, max_rows: int | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[engine.Event, tuple[str, str, str, str]]] = []
        self.max_rows = max_rows or self.MAX_ROWS

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        event, cells = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if role == Qt.ItemDataRole.ToolTipRole and index.column() == 3:
                return event.actor_id
            return cells[index.column()]
        if role == ItemRole:
            return event
        return None

    def event_at(self, row: int) -> engine.Event:
        return self._rows[row][0]

    def row_text(self, row: int) -> str:
        """One row as tab-separated text (what Copy puts on the clipboard)."""
        return "\t".join(self._rows[row][1])

    def append(self, events: Sequence[engine.Event]) -> None:
        """Add events at the end; drop the oldest rows beyond the cap."""
        if not events:
            return
        events = list(events)[-self.max_rows:]
        overflow = len(self._rows) + len(events) - self.max_rows
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            del self._rows[:overflow]
            self.endRemoveRows()
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(events) - 1)
        self._rows.extend(
            (e, (event_time(e), e.type, event_action(e), event_actor(e))) for e in events)
        self.endInsertRows()

    def clear(self) -> None:
        """Forget every row (another engine's events do not belong in this one's log)."""
        if self._rows:
            self.beginRemoveRows(QModelIndex(), 0, len(self._rows) - 1)
            self._rows.clear()
            self.endRemoveRows()
