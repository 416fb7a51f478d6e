"""The Engine page: what the connected engine is made of, and its events as they happen.

The overview (``/version`` components and ``/info``) is read on every connection
and shown until the next one; while the engine is away it stays, marked as such.
The events log is fed by the session's one event stream (no second connection),
appends with a cap, filters by type, can be paused (arrivals are held, then
appended) and copied as tab-separated text.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.engine_facts import (
    component_details,
    component_tooltip,
    component_version,
    overview_facts,
)
from app.models.event_log import COLUMNS, TYPE_COLUMN, EventLogModel
from app.models.table import Column, KeyedTableModel
from app.session import EngineSession
from app.settings import Settings
from app.theme import MUTED_TEXT, WARNING_TEXT, text_style
from app.widgets.engine_chain import EngineChain
from app.widgets.engine_switcher import EngineSwitcher

ALL_TYPES = "All types"
#: Offered before any event of the kind arrived; others are added as they show up.
EVENT_TYPES = ("container", "image", "network", "volume", "daemon", "plugin")

COMPONENT_COLUMNS = (
    Column("Component", lambda c: c.name),
    Column("Version", component_version, tooltip=component_tooltip),
    Column("Details", component_details, tooltip=component_tooltip),
)


class EnginePage(QWidget):
    #: Arrivals held while the log is paused, at most (the oldest go first).
    MAX_HELD = EventLogModel.MAX_ROWS

    def __init__(self, session: EngineSession, settings: Settings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("engine-page")
        self.setAccessibleName("Engine page")
        self.session = session
        self.overview: engine.EngineOverview | None = None
        self.held: list[engine.Event] = []

        self.title = QLabel("Waiting for the engine…", self)
        self.title.setObjectName("engine-title")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.where = QLabel(self)
        self.where.setObjectName("engine-where")
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chain = EngineChain(self)
        #: Which engine this is, and every other one a pick away (the window binds it).
        self.switcher = EngineSwitcher("engine-page-switcher", self)

        overview = QWidget(self)
        columns = QHBoxLayout(overview)
        columns.setContentsMargins(0, 0, 0, 0)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.facts: dict[str, QLabel] = {}
        for key, label, _text in overview_facts(_EMPTY):
            value = QLabel("—", overview)
            value.setObjectName(f"engine-fact-{key}")
            value.setAccessibleName(label)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.facts[key] = value
            self.form.addRow(f"{label}:", value)
        columns.addLayout(self.form, 1)
        side = QVBoxLayout()
        self.components = KeyedTableModel(COMPONENT_COLUMNS, key=lambda c: c.name, parent=self)
        self.components_view = QTableView(overview)
        self.components_view.setObjectName("engine-components")
        self.components_view.setAccessibleName("Engine components")
        self.components_view.setModel(self.components)
        self.components_view.verticalHeader().hide()
        self.components_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.components_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.components_view.horizontalHeader().setStretchLastSection(True)
        self.components_view.setWordWrap(False)
        self.components_view.verticalHeader().setDefaultSectionSize(
            self.components_view.fontMetrics().height() + 8)
        for column in (0, 1):
            self.components_view.horizontalHeader().setSectionResizeMode(
                column, QHeaderView.ResizeMode.ResizeToContents)
        side.addWidget(self.components_view)
        self.warnings = QLabel(overview)
        self.warnings.setObjectName("engine-warnings")
        self.warnings.setAccessibleName("The daemon's warnings")
        self.warnings.setWordWrap(True)
        self.warnings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        side.addWidget(self.warnings)
        side.addStretch(1)
        columns.addLayout(side, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("engine-splitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(overview)
        self.splitter.addWidget(self._make_events_panel())
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        heading = QHBoxLayout()
        heading.addWidget(self.title)
        heading.addWidget(self.where, 1)
        choose = QHBoxLayout()
        engine_label = QLabel("&Engine:", self)
        engine_label.setBuddy(self.switcher.combo)
        choose.addWidget(engine_label)
        choose.addWidget(self.switcher)
        choose.addStretch(1)
        layout.addLayout(choose)
        layout.addLayout(heading)
        layout.addWidget(self.chain)
        layout.addWidget(self.splitter, 1)

        session.eventReceived.connect(self.add_event)
        session.switched.connect(self._switched)
        session.watch_connection(self, resume=self.reload, pause=self._engine_away)
        if session.connected:
            self.reload()

    # -- overview -----------------------------------------------------------------------

    def reload(self) -> None:
        """Read what the engine is made of (on every connection: it may be another engine)."""
        self.session.run(engine.engine_overview, describe="read what the engine is made of",
                         key="engine-overview", on_done=self.show_overview)

    def show_overview(self, overview: engine.EngineOverview) -> None:
        self.overview = overview
        self.title.setText(f"{overview.product} {overview.version}")
        status = self.session.status
        self.where.setText(f"at {status.endpoint}  ·  found via {status.source}"
                           if status.endpoint else "")
        self.where.setStyleSheet(text_style(MUTED_TEXT, self.where))
        for key, _label, text in overview_facts(overview):
            self.facts[key].setText(text)
        self.components.set_items(overview.components)
        self._fit_components()
        self.chain.set_links(overview.chain)
        if overview.warnings:
            self.warnings.setText("Warnings from the daemon:\n" + "\n".join(
                f"• {w}" for w in overview.warnings))
            self.warnings.setStyleSheet(text_style(WARNING_TEXT, self.warnings))
        else:
            self.warnings.setText("The daemon reports no warnings.")
            self.warnings.setStyleSheet(text_style(MUTED_TEXT, self.warnings))

    def _fit_components(self) -> None:
        """As tall as its rows: the room below belongs to the events log."""
        view = self.components_view
        rows = max(view.model().rowCount(), 3)
        view.setFixedHeight(view.horizontalHeader().sizeHint().height() + 4
                            + rows * view.verticalHeader().defaultSectionSize())

    def _switched(self, _endpoint: engine.Endpoint) -> None:
        """Another engine: the old one's events and held arrivals go."""
        self.events.clear()
        self.held.clear()
        self.held_label.clear()

    def _engine_away(self) -> None:
        if self.overview is not None:
            self.where.setText("the engine is away: this is what it said last")
            self.where.setStyleSheet(text_style(WARNING_TEXT, self.where))

    # -- events log ---------------------------------------------------------------------

    def _make_events_panel(self) -> QWidget:
        panel = QWidget(self)
        bar = QHBoxLayout()
        heading = QLabel("Events", panel)
        heading.setStyleSheet("font-weight: bold;")
        bar.addWidget(heading)
        self.type_filter = QComboBox(panel)
        self.type_filter.setObjectName("engine-events-type")
        self.type_filter.setAccessibleName("Show events of type")
        self.type_filter.addItems([ALL_TYPES, *EVENT_TYPES])
        self.type_filter.currentTextChanged.connect(self._filter_type)
        bar.addWidget(self.type_filter)
        self.pause_button = QPushButton("Pause", panel)
        self.pause_button.setObjectName("engine-events-pause")
        self.pause_button.setAccessibleName("Pause the events log")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self.set_paused)
        bar.addWidget(self.pause_button)
        self.copy_button = QPushButton("Copy", panel)
        self.copy_button.setObjectName("engine-events-copy")
        self.copy_button.setAccessibleName("Copy the selected events, or all shown")
        self.copy_button.clicked.connect(self.copy_events)
        bar.addWidget(self.copy_button)
        self.held_label = QLabel(panel)
        self.held_label.setObjectName("engine-events-held")
        bar.addWidget(self.held_label, 1)

        self.events = EventLogModel(self)
        self.events_proxy = QSortFilterProxyModel(self)
        self.events_proxy.setSourceModel(self.events)
        self.events_proxy.setFilterKeyColumn(TYPE_COLUMN)
        self.events_view = QTableView(panel)
        self.events_view.setObjectName("engine-events")
        self.events_view.setAccessibleName("Engine events")
        self.events_view.setModel(self.events_proxy)
        self.events_view.verticalHeader().hide()
        self.events_view.verticalHeader().setDefaultSectionSize(
            self.events_view.fontMetrics().height() + 6)
        self.events_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.events_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.events_view.setWordWrap(False)
        header = self.events_view.horizontalHeader()
        header.setStretchLastSection(True)
        for column, width in enumerate((110, 90, 200)):
            header.resizeSection(column, width)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        QShortcut(QKeySequence.StandardKey.Copy, self.events_view, self.copy_events,
                  context=Qt.ShortcutContext.WidgetShortcut)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.events_view, 1)
        return panel

    @property
    def paused(self) -> bool:
        return self.pause_button.isChecked()

    def add_event(self, event: engine.Event) -> None:
        if event.type and self.type_filter.findText(event.type) < 0:
            self.type_filter.addItem(event.type)
        if self.paused:
            self.held.append(event)
            del self.held[:-self.MAX_HELD]
            self.held_label.setText(f"Paused: {len(self.held)} new events held")
            return
        self._append([event])

    def _append(self, events: list[engine.Event]) -> None:
        scroll = self.events_view.verticalScrollBar()
        at_end = scroll.value() >= scroll.maximum()
        self.events.append(events)
        if at_end:
            self.events_view.scrollToBottom()

    def set_paused(self, paused: bool) -> None:
        """Hold arrivals while the user reads; on resume append them, in order."""
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self.held_label.setText("Paused: 0 new events held")
            return
        held, self.held = self.held, []
        self.held_label.setText("")
        self._append(held)

    def _filter_type(self, text: str) -> None:
        pattern = "" if text == ALL_TYPES else f"^{re.escape(text)}$"
        self.events_proxy.setFilterRegularExpression(pattern)

    def shown_rows(self) -> list[int]:
        """Source rows of the events shown (after the type filter), in order."""
        proxy = self.events_proxy
        return [proxy.mapToSource(proxy.index(row, 0)).row() for row in range(proxy.rowCount())]

    def copy_events(self) -> str:
        """Put the selected events (or every shown one) on the clipboard as TSV."""
        selected = self.events_view.selectionModel().selectedRows()
        proxy = self.events_proxy
        rows = sorted(proxy.mapToSource(index).row() for index in selected) \
            if selected else self.shown_rows()
        text = "\n".join(["\t".join(COLUMNS), *(self.events.row_text(r) for r in rows)])
        QGuiApplication.clipboard().setText(text)
        return text


_EMPTY = engine.EngineOverview.from_api({}, {})
