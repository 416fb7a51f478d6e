"""Ctrl+K: every action of the current page and the window, found by typing.

The palette is an overlay: a frame drawn over the top of the main window (a child
widget, not a separate decorated window), closed by Escape, by running a command
or by clicking elsewhere.  Typing matches fuzzily: each typed word must appear in
a command as a subsequence ("img" finds "Images"), and commands whose matches
fall on word starts and run together rank first (then shorter ones).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QFrame, QLineEdit, QListView, QVBoxLayout, QWidget

#: The most commands shown at once; more scroll.
MAX_ROWS = 12

#: The entry's label alone ("Containers: Stop"): what typing filters on and runs by.
LabelRole = Qt.ItemDataRole.UserRole + 1

AnyIndex = QModelIndex | QPersistentModelIndex


def _word_start(text: str, at: int) -> bool:
    return at == 0 or not text[at - 1].isalnum() or (text[at].isupper()
                                                     and text[at - 1].islower())


def word_score(word: str, label: str) -> int | None:
    """How well ``word`` matches ``label`` as a subsequence (case-insensitive), or None.

    Each matched character scores 1, plus 8 on a word start and 4 right after the
    previous match; each skipped character inside the match costs 1.  At each step
    the next word start that holds the character is preferred to a nearer
    mid-word one, so "gi" matches the G and I of "Go to Images"."""
    lower = label.lower()
    score = 0
    at = 0
    previous = -2
    for ch in word.lower():
        found = lower.find(ch, at)
        if found < 0:
            return None
        start = next((i for i in range(found, len(lower))
                      if lower[i] == ch and _word_start(label, i)), None)
        # Keep a consecutive match over a jump to a word start.
        if start is not None and found != previous + 1:
            found = start
        score += 1
        if _word_start(label, found):
            score += 8
        if found == previous + 1:
            score += 4
        elif previous >= 0:
            score -= min(found - previous - 1, 8)
        previous = found
        at = found + 1
    return score


def fuzzy_score(query: str, label: str) -> int | None:
    """Every word of ``query`` must match (in any order): the sum of their scores."""
    total = 0
    for word in query.split():
        score = word_score(word, label)
        if score is None:
            return None
        total += score
    return total


class FuzzyProxy(QSortFilterProxyModel):
    """Keeps the entries that match the query, best first (ties in their own order)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.query = ""

    def set_query(self, query: str) -> None:
        self.beginFilterChange()
        self.query = query
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        self.sort(0 if query.strip() else -1, Qt.SortOrder.AscendingOrder)

    def _score(self, row: int) -> int | None:
        label = str(self.sourceModel().index(row, 0).data(LabelRole))
        return fuzzy_score(self.query, label)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        return self._score(source_row) is not None

    def lessThan(self, left: AnyIndex, right: AnyIndex) -> bool:
        left_score, right_score = self._score(left.row()) or 0, self._score(right.row()) or 0
        if left_score != right_score:
            return left_score > right_score  # best first in ascending order
        # Then the shorter label: less left unmatched ("Images" before "Build an image…").
        left_label, right_label = (str(i.data(LabelRole)) for i in (left, right))
        if len(left_label) != len(right_label):
            return len(left_label) < len(right_label)
        return left.row() < right.row()


class CommandPalette(QFrame):
    """The overlay; ``open_with`` fills it and shows it over its parent's top."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("command-palette")
        self.setAccessibleName("Command palette")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.query = QLineEdit(self)
        self.query.setObjectName("palette-query")
        self.query.setAccessibleName("Search commands")
        self.query.setPlaceholderText("Type a command…")
        self.model = QStandardItemModel(self)
        self.proxy = FuzzyProxy(self)
        self.proxy.setSourceModel(self.model)
        self.list = QListView(self)
        self.list.setObjectName("palette-list")
        self.list.setAccessibleName("Commands")
        self.list.setModel(self.proxy)
        self.list.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self._layout = layout = QVBoxLayout(self)
        layout.addWidget(self.query)
        layout.addWidget(self.list)
        self.query.textChanged.connect(self._filter)
        self.query.returnPressed.connect(self.run_current)
        self.list.activated.connect(lambda _index: self.run_current())
        self.query.installEventFilter(self)
        self.list.installEventFilter(self)
        self._actions: dict[str, QAction] = {}
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._focus_moved)
        self.hide()

    def open_with(self, actions: Sequence[tuple[str, QAction]]) -> None:
        """Show the enabled actions, each labelled with where it belongs and its shortcut."""
        self._actions = {
            f"{group}: {action.text().replace('&', '')}": action
            for group, action in actions if action.isEnabled() and action.isVisible()
        }
        self.model.clear()
        for label, action in self._actions.items():
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            item = QStandardItem(f"{label}    ({keys})" if keys else label)
            item.setData(label, LabelRole)
            self.model.appendRow(item)
        self.query.clear()
        self._filter("")
        self._place()
        self.show()
        self.raise_()
        self.query.setFocus()

    def _place(self) -> None:
        """Centred across the top of the window, as wide as it reasonably can be, and
        as tall as the commands it lists (up to :data:`MAX_ROWS`): no empty box below
        the one command that matches."""
        rows = max(1, min(self.proxy.rowCount(), MAX_ROWS))
        row_height = (self.list.sizeHintForRow(0) if self.proxy.rowCount()
                      else self.list.fontMetrics().height() + 4)
        layout = self._layout
        margins = layout.contentsMargins()
        height = (margins.top() + margins.bottom() + layout.spacing()
                  + self.query.sizeHint().height() + rows * row_height
                  + 2 * self.list.frameWidth() + 2 * self.frameWidth())
        parent = self.parentWidget()
        if parent is None:
            self.resize(480, height)
            return
        width = min(560, max(240, parent.width() - 40))
        height = min(height, max(120, parent.height() - 80))
        self.setGeometry((parent.width() - width) // 2, 48, width, height)

    def close_palette(self) -> None:
        self.hide()

    def _focus_moved(self, _old: QWidget | None, new: QWidget | None) -> None:
        # A click elsewhere in the window closes the overlay, as a popup would.
        if self.isVisible() and new is not None and new is not self \
                and not self.isAncestorOf(new):
            self.close_palette()

    def _filter(self, text: str) -> None:
        self.proxy.set_query(text)
        if self.proxy.rowCount():
            self.list.setCurrentIndex(self.proxy.index(0, 0))
        if self.isVisible():
            self._place()

    def labels(self) -> list[str]:
        return [str(self.proxy.index(r, 0).data(LabelRole)) for r in range(self.proxy.rowCount())]

    def run_current(self) -> None:
        index = self.list.currentIndex()
        if not index.isValid():
            return
        action = self._actions.get(str(index.data(LabelRole)))
        self.close_palette()
        if action is not None:
            action.trigger()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not isinstance(event, QKeyEvent) or event.type() != QEvent.Type.KeyPress:
            return False
        if event.key() == Qt.Key.Key_Escape:
            self.close_palette()
            return True
        # Up and Down in the query field move through the list.
        if watched is self.query and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            row = self.list.currentIndex().row() + (1 if event.key() == Qt.Key.Key_Down else -1)
            if 0 <= row < self.proxy.rowCount():
                self.list.setCurrentIndex(self.proxy.index(row, 0))
            return True
        return False
