"""The window: a sidebar of pages, a message area and a status bar — nothing else.

Pages own their models and actions; the session owns the engine.  This class
only wires them together and switches between the pages and the "no engine" page.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.pages.containers import ContainersPage
from app.pages.images import ImagesPage
from app.pages.unavailable import UnavailablePage
from app.session import ConnectionState, ConnectionStatus, EngineSession, MessageLevel
from app.widgets.message_bar import MessageBar


class MainWindow(QMainWindow):
    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("main-window")
        self.setWindowTitle("Dockyard")
        self.session = session
        self.containers_page = ContainersPage(session)
        self.images_page = ImagesPage(session)
        self.unavailable_page = UnavailablePage()
        self.unavailable_page.retry.clicked.connect(session.retry_now)

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAccessibleName("Pages")
        self.sidebar.setFixedWidth(170)
        self.sidebar.setStyleSheet(
            "QListWidget#sidebar { border: none; padding-top: 8px; font-size: 11pt; }"
            "QListWidget#sidebar::item { padding: 8px 14px; border-radius: 4px; margin: 1px 6px; }"
            "QListWidget#sidebar::item:selected { background: palette(highlight);"
            " color: palette(highlighted-text); }"
        )
        self.sidebar.setIconSize(QSize(18, 18))
        self.pages = QStackedWidget()
        self.pages.setObjectName("pages")
        for title, page in (("Containers", self.containers_page), ("Images", self.images_page)):
            QListWidgetItem(title, self.sidebar)
            self.pages.addWidget(page)
        self.sidebar.currentRowChanged.connect(self.pages.setCurrentIndex)

        self.banner = MessageBar("connection-banner")
        self.messages = MessageBar("message-bar")
        session.message.connect(self.messages.show_message)

        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(self.sidebar)
        column = QVBoxLayout()
        column.setContentsMargins(8, 8, 8, 0)
        column.addWidget(self.banner)
        column.addWidget(self.messages)
        column.addWidget(self.pages, 1)
        body.addLayout(column, 1)
        workspace = QWidget()
        workspace.setLayout(body)
        # The "no engine" page covers the whole window until a first connection.
        self.root = QStackedWidget()
        self.root.addWidget(workspace)
        self.root.addWidget(self.unavailable_page)
        self.setCentralWidget(self.root)

        self.engine_label = QLabel("Connecting…")
        self.engine_label.setObjectName("engine-status")
        self.engine_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.engine_label, 1)

        for number in range(1, self.sidebar.count() + 1):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.activated.connect(lambda row=number - 1: self.sidebar.setCurrentRow(row))
        QShortcut(QKeySequence(QKeySequence.StandardKey.Refresh), self, session.refresh)

        session.statusChanged.connect(self.show_status)
        self.sidebar.setCurrentRow(0)
        self.show_status(session.status)
        self.resize(1100, 680)

    def show_status(self, status: ConnectionStatus) -> None:
        state = status.state
        if state == ConnectionState.CONNECTED:
            self.engine_label.setText(
                f"Connected to {status.description} at {status.endpoint} ({status.source})"
            )
            self.banner.hide()
            self.pages.setEnabled(True)
            self.root.setCurrentIndex(0)
        elif state == ConnectionState.LOST:
            # The lists stay visible but inert: they show the last known state.
            self.pages.setEnabled(False)
            self.engine_label.setText(f"Disconnected from {status.endpoint}")
            self.banner.show_message(
                MessageLevel.WARNING,
                f"Lost the connection to the engine at {status.endpoint}. Reconnecting…"
                f" (last error: {status.error})",
            )
        else:
            self.engine_label.setText(
                "Looking for an engine…" if state == ConnectionState.CONNECTING else "No engine"
            )
            self.unavailable_page.show_status(status)
            self.root.setCurrentWidget(self.unavailable_page)

