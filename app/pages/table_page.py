"""What the Containers and Images pages share: a search box over a sortable table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.icons import PAGE_ICONS, icon_for, themed_icon
from app.models.table import ItemRole, KeyedTableModel, SortRole
from app.widgets.glyph import Glyph


class FilterProxy(QSortFilterProxyModel):
    """Text search over every column, plus an optional predicate on the row's object."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._predicate: Callable[[Any], bool] | None = None
        self.setSortRole(SortRole)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)

    def set_predicate(self, predicate: Callable[[Any], bool] | None) -> None:
        self.beginFilterChange()
        self._predicate = predicate
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        if self._predicate is not None:
            item = self.sourceModel().index(source_row, 0, source_parent).data(ItemRole)
            if not self._predicate(item):
                return False
        return super().filterAcceptsRow(source_row, source_parent)


#: What a row names as its containers: (container ID, name) pairs.
ContainersOf = Callable[[Any], Sequence[tuple[str, str]]]


class TablePage(QWidget):
    """A page whose body is one live table; subclasses add their actions to ``toolbar``."""

    #: Show another page's item: (page key, item key); the window connects it.
    open_requested = Signal(str, str)

    def __init__(self, name: str, model: KeyedTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._container_links: tuple[QToolButton, ContainersOf] | None = None
        self.setObjectName(f"{name}-page")
        self.setAccessibleName(f"{name.capitalize()} page")
        self.model = model
        self.proxy = self.make_proxy()

        self.search = QLineEdit(self)
        self.search.setObjectName(f"{name}-search")
        self.search.setAccessibleName(f"Search {name}")
        self.search.setPlaceholderText(f"Search {name}…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)

        self.table = self.make_view()
        self.table.setObjectName(f"{name}-table")
        self.table.setAccessibleName(f"{name.capitalize()} table")
        self.table.setModel(self.proxy)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)

        # An empty table says what to do next (a page sets the words with set_empty_hint).
        self._empty_hint = f"No {name} yet."
        self.empty_label = QLabel(self.table.viewport())
        self.empty_label.setObjectName(f"{name}-empty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: palette(placeholder-text); padding: 0 24px;")
        font = self.empty_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.empty_label.setFont(font)
        # Above the words, the page's own glyph, large and quiet (app/icons.py).
        self.empty_icon = Glyph(themed_icon(PAGE_ICONS[name]) if name in PAGE_ICONS else None,
                                56, quiet=True, parent=self.table.viewport())
        self.empty_icon.setObjectName(f"{name}-empty-icon")
        empty_layout = QVBoxLayout(self.table.viewport())
        empty_layout.setSpacing(12)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty_icon, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addWidget(self.empty_label)
        empty_layout.addStretch(1)

        self.page_actions: list[QAction] = []
        self.count_label = QLabel(self)
        self.count_label.setObjectName(f"{name}-count")
        self.toolbar = QHBoxLayout()
        self.toolbar.addWidget(self.search, 1)

        self.main_layout = QVBoxLayout(self)
        self.main_layout.setContentsMargins(8, 8, 8, 8)
        self.main_layout.addLayout(self.toolbar)
        # Actions get a row of their own: beside the search they squeezed it away.
        self.actions_bar = QHBoxLayout()
        self.actions_bar.addStretch(1)
        self.main_layout.addLayout(self.actions_bar)
        self.main_layout.addWidget(self.table, 1)
        self.main_layout.addWidget(self.count_label)

        for signal in (model.rowsInserted, model.rowsRemoved, self.proxy.layoutChanged,
                       self.proxy.rowsInserted, self.proxy.rowsRemoved):
            signal.connect(self._update_count)
            signal.connect(self._update_empty)
        for signal in (model.modelReset, self.proxy.modelReset):
            signal.connect(self._update_empty)
        self.search.textChanged.connect(self._update_empty)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self._update_count()
        self._update_empty()

    def set_empty_hint(self, text: str) -> None:
        """What the empty table says: the next step, e.g. where to run a container."""
        self._empty_hint = text
        self._update_empty()

    def _update_empty(self, *_args: object) -> None:
        if self.proxy.rowCount() > 0:
            self.empty_label.hide()
            self.empty_icon.hide()
            return
        self.empty_icon.show()
        if self.model.rowCount() > 0:
            self.empty_label.setText("Nothing matches the search or the filter.")
        else:
            self.empty_label.setText(self._empty_hint)
        self.empty_label.show()

    def make_proxy(self) -> FilterProxy:
        """The sorting, filtering model between ``self.model`` and the view (a hook)."""
        proxy = FilterProxy(self)
        proxy.setSourceModel(self.model)
        return proxy

    def make_view(self) -> QTableView:
        """The page's view of ``self.proxy`` (a hook: a page may show a tree instead)."""
        table = QTableView(self)
        table.setSortingEnabled(True)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(26)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        return table

    def add_button(
        self, text: str, name: str, slot: Callable[[], object], shortcut: str | None = None
    ) -> QToolButton:
        """A toolbar button backed by a QAction, so the palette and shortcuts share it."""
        action = QAction(text, self)
        action.setIconText(text)  # a tool button would strip the "…" of "Run…"
        action.setObjectName(f"action-{name}")
        if (icon := icon_for(name)) is not None:  # the same glyph on the menu and the palette
            action.setIcon(icon)
        action.triggered.connect(slot)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(action)
        self.page_actions.append(action)
        button = QToolButton(self)
        button.setObjectName(name)
        button.setAccessibleName(text)
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setToolTip(text)
        self.actions_bar.insertWidget(self.actions_bar.count() - 1, button)
        return button

    def palette_commands(self) -> list[QAction]:
        """What the command palette offers on this page (a hook: the toolbar's actions)."""
        return list(self.page_actions)

    def selected_items(self) -> list[Any]:
        rows = self.table.selectionModel().selectedRows()
        return [index.data(ItemRole) for index in sorted(rows, key=lambda i: i.row())]

    def select_key(self, key: str) -> bool:
        """Select and show the row whose model key is ``key`` (another page links here);
        False when the list has no such row."""
        row = self.model.row_of(key)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():  # hidden by the search: show everything
            self.search.clear()
            index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)
        return True

    def fit_columns(self, widths: dict[int, int]) -> None:
        for column, width in widths.items():
            self.table.setColumnWidth(column, width)

    def _update_count(self, *_args: object) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(
            f"{total} {self.noun(total)}" if shown == total else f"{shown} of {total} shown"
        )

    def noun(self, count: int) -> str:
        return "items"

    def add_container_links(self, name: str, containers_of: ContainersOf) -> QToolButton:
        """A "Show container" button for the one selected row's containers (a volume's
        users, a network's endpoints): one is shown on the Containers page at once,
        several are offered in a menu under the button."""
        button = self.add_button("Show container", name, lambda: self.show_containers(button))
        button.defaultAction().setEnabled(False)
        self._container_links = (button, containers_of)
        return button

    def containers_of_selection(self) -> Sequence[tuple[str, str]]:
        selected = self.selected_items()
        links = self._container_links
        if links is None or len(selected) != 1:
            return ()
        return links[1](selected[0])

    def show_containers(self, button: QToolButton) -> QMenu | None:
        """Show the selected row's container, or offer its containers in a menu (returned)."""
        containers = self.containers_of_selection()
        if len(containers) == 1:
            self.open_requested.emit("containers", containers[0][0])
            return None
        if not containers:
            return None
        menu = QMenu(button)
        menu.setObjectName(f"{button.objectName()}-menu")
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for container_id, name in containers:
            menu.addAction(name).triggered.connect(
                lambda _checked=False, key=container_id: self.open_requested.emit(
                    "containers", key))
        menu.popup(button.mapToGlobal(button.rect().bottomLeft()))
        return menu

    def _on_selection_changed(self, *_args: object) -> None:
        if (links := self._container_links) is not None:
            links[0].defaultAction().setEnabled(bool(self.containers_of_selection()))
        self.selection_changed()

    def selection_changed(self) -> None:
        """Subclasses enable or disable their actions here."""
