"""Ctrl+K: every action of the current page and the window, found by typing."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QDialog, QLineEdit, QListView, QVBoxLayout, QWidget

#: The entry's label alone ("Containers: Stop"): what typing filters on and runs by.
LabelRole = Qt.ItemDataRole.UserRole + 1


class CommandPalette(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("command-palette")
        self.setAccessibleName("Command palette")
        self.setWindowTitle("Commands")
        self.setModal(False)
        self.query = QLineEdit(self)
        self.query.setObjectName("palette-query")
        self.query.setAccessibleName("Search commands")
        self.query.setPlaceholderText("Type a command…")
        self.model = QStandardItemModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterRole(LabelRole)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.list = QListView(self)
        self.list.setObjectName("palette-list")
        self.list.setAccessibleName("Commands")
        self.list.setModel(self.proxy)
        self.list.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.addWidget(self.query)
        layout.addWidget(self.list)
        self.query.textChanged.connect(self._filter)
        self.query.returnPressed.connect(self.run_current)
        self.list.activated.connect(lambda _index: self.run_current())
        self.query.installEventFilter(self)
        self._actions: dict[str, QAction] = {}
        self.resize(480, 360)

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
        self.show()
        self.raise_()
        self.query.setFocus()

    def _filter(self, text: str) -> None:
        # Every word must appear, in any order: "stop cont" finds "Containers: Stop".
        words = [w for w in text.split() if w]
        pattern = "".join(f"(?=.*{_escape(w)})" for w in words)
        self.proxy.setFilterRegularExpression(pattern)
        if self.proxy.rowCount():
            self.list.setCurrentIndex(self.proxy.index(0, 0))

    def labels(self) -> list[str]:
        return [str(self.proxy.index(r, 0).data(LabelRole)) for r in range(self.proxy.rowCount())]

    def run_current(self) -> None:
        index = self.list.currentIndex()
        if not index.isValid():
            return
        action = self._actions.get(str(index.data(LabelRole)))
        self.hide()
        if action is not None:
            action.trigger()

    def eventFilter(self, watched: object, event: object) -> bool:
        # Up and Down in the query field move through the list.
        if watched is self.query and isinstance(event, QKeyEvent) and \
                event.type() == QKeyEvent.Type.KeyPress and \
                event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            row = self.list.currentIndex().row() + (1 if event.key() == Qt.Key.Key_Down else -1)
            if 0 <= row < self.proxy.rowCount():
                self.list.setCurrentIndex(self.proxy.index(row, 0))
            return True
        return False


def _escape(word: str) -> str:
    return "".join("\\" + ch if not ch.isalnum() else ch for ch in word)
