"""The file changes between two images as a tree: each path's change, folders by net delta.

The lazy tree of :mod:`app.models.file_tree` (a folder's rows are made when it
is expanded), with the Size column showing signed byte deltas: a file's own,
a folder's rolled up over every change below it (the engine's
:class:`engine.DirectoryDelta`).  Sorting by that column sorts by the delta.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

import engine
from app.models.file_tree import AnyIndex, FileIndex, FileTreeModel, PathInfo, index_paths
from app.presentation import change_detail, signed_size


def diff_index(diff: engine.ImageDiff) -> FileIndex:
    """The tree's index (folders implied by changed paths), sizes replaced by deltas.

    Pure Python and Qt-free in effect: a page builds it in a worker thread for
    a diff of tens of thousands of changes.
    """
    index = index_paths(PathInfo(f.path, f.delta, f.kind.value,
                                 f.entry_kind is engine.EntryKind.DIR) for f in diff.files)
    deltas = {d.path: d.delta for d in diff.directories}
    deltas[""] = sum(f.delta for f in diff.files)
    return FileIndex(index.by_parent, deltas, index.count)


def change_details(diff: engine.ImageDiff) -> dict[str, str]:
    """What made each modified path modified (:func:`app.presentation.change_detail`)."""
    return {change.path: change_detail(change) for change in diff.files
            if change.kind is engine.ChangeKind.MODIFIED}


class DiffTreeModel(FileTreeModel):
    """Sorting by the Delta column orders by the size of the change, either way."""

    COLUMNS = ("Name", "Delta", "Change")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._details: dict[str, str] = {}

    def set_diff(self, index: FileIndex, details: dict[str, str]) -> None:
        self._details = details
        self.set_index(index)

    def _order(self, children: list[Any]) -> None:
        column, order = self._sort
        if column != 1:
            super()._order(children)
            return
        children.sort(key=lambda n: (abs(self._size(n.info)), n.name.lower()),
                      reverse=order == Qt.SortOrder.DescendingOrder)
        for row, child in enumerate(children):
            child.row = row

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole,
                                               Qt.ItemDataRole.ToolTipRole):
            return super().data(index, role)
        info = self._node(index).info
        if index.column() == 1:
            delta = self._size(info)
            if role == Qt.ItemDataRole.DisplayRole:
                return signed_size(delta)
            return f"/{info.path}  ({delta:+,} bytes)"
        if index.column() == 2 and (detail := self._details.get(info.path)):
            return f"{info.mark}: {detail}"
        return super().data(index, role)
