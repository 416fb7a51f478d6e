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
from app.presentation import human_size


def signed_size(delta: int) -> str:
    """``+1.2 kB``, ``-300 Bytes``, ``0 Bytes``."""
    if not delta:
        return human_size(0)
    return ("+" if delta > 0 else "-") + human_size(abs(delta))


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


class DiffTreeModel(FileTreeModel):
    COLUMNS = ("Name", "Delta", "Change")

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and index.column() == 1 and role in (
                Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            info = self._node(index).info
            delta = self._size(info)
            if role == Qt.ItemDataRole.DisplayRole:
                return signed_size(delta)
            return f"/{info.path}  ({delta:+,} bytes)"
        return super().data(index, role)
