"""The clean-up sheet's model: per kind, the items a prune would remove, each with a tick.

Two levels: one row per kind (in :data:`engine.CLEANUP_KINDS` order, always all of
them, so an empty kind says why), and under it the exact items of the plan.  A
kind's tick is the tristate sum of its items' ticks; ticking it ticks them all.

A dangling image is listed twice (dangling, and unused with ``-a``), as the
prunes see it; both rows share one tick, and :meth:`CleanupModel.ticked` names
it once, so its bytes are counted and removed once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt

import engine
from app.presentation import human_size

AnyIndex = QModelIndex | QPersistentModelIndex

KIND_TITLES = {
    engine.STOPPED_CONTAINERS: "Stopped containers",
    engine.DANGLING_IMAGES: "Dangling images",
    engine.UNUSED_IMAGES: "Unused images",
    engine.UNUSED_NETWORKS: "Unused networks",
    engine.UNUSED_VOLUMES: "Unused volumes",
    engine.BUILD_CACHE: "Build cache",
}
_IMAGE_KINDS = (engine.DANGLING_IMAGES, engine.UNUSED_IMAGES)
COLUMNS = ("Name", "Size", "Details")


@dataclass(frozen=True)
class CleanupRow:
    """One item of the plan and the words that say what it is."""

    item: engine.CleanupItem
    detail: str = ""


def tick_key(item: engine.CleanupItem) -> tuple[str, str]:
    """Rows sharing this key share one tick (an image under both image kinds)."""
    return ("image" if item.kind in _IMAGE_KINDS else item.kind, item.id)


def short_image(image: str) -> str:
    """A container's image as a user reads it: its name, or a 12-digit ID."""
    return image.removeprefix("sha256:")[:12] if image.startswith("sha256:") else image


def size_text(size: int | None) -> str:
    return "—" if size is None else human_size(size)


class CleanupModel(QAbstractItemModel):
    """Kinds and their items, tickable one by one; ``ticked()`` is what to remove."""

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self._kinds = engine.CLEANUP_KINDS
        self._rows: dict[str, list[CleanupRow]] = {k: [] for k in self._kinds}
        self._notes: Mapping[str, str] = {}
        self._ticked: set[tuple[str, str]] = set()
        #: Called after any tick changes (the sheet updates its totals).
        self.on_ticks_changed: Callable[[], None] | None = None

    # -- filling ------------------------------------------------------------------------

    def set_plan(self, rows: Sequence[CleanupRow], notes: Mapping[str, str]) -> None:
        """Show a new plan; ticks of items still planned are kept, the others dropped."""
        self.beginResetModel()
        self._rows = {k: [] for k in self._kinds}
        for row in rows:
            self._rows.setdefault(row.item.kind, []).append(row)
        for kind_rows in self._rows.values():
            kind_rows.sort(key=lambda r: (-(r.item.size or 0), r.item.name))
        self._notes = dict(notes)
        planned = {tick_key(r.item) for r in rows}
        self._ticked &= planned
        self.endResetModel()
        self._ticks_changed()

    def rows_of(self, kind: str) -> list[CleanupRow]:
        return list(self._rows.get(kind, ()))

    def note(self, kind: str) -> str:
        return self._notes.get(kind, "")

    # -- ticks --------------------------------------------------------------------------

    def ticked(self) -> list[engine.CleanupItem]:
        """The ticked items, each once, in kind order."""
        seen: set[tuple[str, str]] = set()
        chosen = []
        for kind in self._kinds:
            for row in self._rows[kind]:
                key = tick_key(row.item)
                if key in self._ticked and key not in seen:
                    seen.add(key)
                    chosen.append(row.item)
        return chosen

    def ticked_bytes(self) -> int:
        return sum(item.size or 0 for item in self.ticked())

    def set_ticked(self, kind: str, item_id: str, ticked: bool) -> bool:
        """Tick or untick one item (by kind and ID); False when no such row."""
        for row, entry in enumerate(self._rows.get(kind, ())):
            if entry.item.id == item_id:
                state = Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
                return self.setData(self.index(row, 0, self.kind_index(kind)), state.value,
                                    Qt.ItemDataRole.CheckStateRole)
        return False

    def kind_index(self, kind: str) -> QModelIndex:
        return self.index(self._kinds.index(kind), 0)

    def _kind_state(self, kind: str) -> Qt.CheckState:
        rows = self._rows[kind]
        count = sum(1 for r in rows if tick_key(r.item) in self._ticked)
        if not rows or count == 0:
            return Qt.CheckState.Unchecked
        return Qt.CheckState.Checked if count == len(rows) else Qt.CheckState.PartiallyChecked

    def _apply(self, keys: set[tuple[str, str]], ticked: bool) -> None:
        if ticked:
            self._ticked |= keys
        else:
            self._ticked -= keys
        # Every row showing one of these keys, and its kind's row, may have changed.
        last = len(COLUMNS) - 1
        for k_row, kind in enumerate(self._kinds):
            rows = [i for i, r in enumerate(self._rows[kind]) if tick_key(r.item) in keys]
            if not rows:
                continue
            parent = self.index(k_row, 0)
            self.dataChanged.emit(self.index(rows[0], 0, parent),
                                  self.index(rows[-1], last, parent))
            self.dataChanged.emit(parent, self.index(k_row, last))
        self._ticks_changed()

    def _ticks_changed(self) -> None:
        if self.on_ticks_changed is not None:
            self.on_ticks_changed()

    # -- Qt interface -------------------------------------------------------------------

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0)
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._kinds)
        if parent.internalId() == 0 and parent.column() == 0:
            return len(self._rows[self._kinds[parent.row()]])
        return 0

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(COLUMNS)):
            return COLUMNS[section]
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0:
            if index.internalId() == 0:
                if self._rows[self._kinds[index.row()]]:
                    flags |= Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsAutoTristate
            else:
                flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        column = index.column()
        if index.internalId() == 0:
            kind = self._kinds[index.row()]
            return self._kind_data(kind, column, role)
        kind = self._kinds[index.internalId() - 1]
        row = self._rows[kind][index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.item.name, size_text(row.item.size), row.detail)[column]
        if role == Qt.ItemDataRole.CheckStateRole and column == 0:
            ticked = tick_key(row.item) in self._ticked
            return (Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked).value
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.item.name}\n{row.item.id}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _kind_data(self, kind: str, column: int, role: int) -> object:
        rows = self._rows[kind]
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return f"{KIND_TITLES[kind]} ({len(rows)})"
            if column == 1:
                return human_size(sum(r.item.size or 0 for r in rows)) if rows else ""
            return self._notes.get(kind) or ("" if rows else "nothing to remove")
        if role == Qt.ItemDataRole.CheckStateRole and column == 0 and rows:
            return self._kind_state(kind).value
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: AnyIndex, value: object,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (not index.isValid() or index.column() != 0
                or role != Qt.ItemDataRole.CheckStateRole):
            return False
        state = value.value if isinstance(value, Qt.CheckState) else value
        ticked = state != Qt.CheckState.Unchecked.value
        if index.internalId() == 0:
            rows = self._rows[self._kinds[index.row()]]
            if not rows:
                return False
            # A partly ticked kind, clicked, ticks all (Qt cycles Partial → Checked).
            self._apply({tick_key(r.item) for r in rows}, ticked)
            return True
        row = self._rows[self._kinds[index.internalId() - 1]][index.row()]
        self._apply({tick_key(row.item)}, ticked)
        return True
