"""The activity panel: long operations (pulls, builds) that keep going while you navigate.

Each :class:`Activity` is a row with a title, a status line, a progress bar, a
Cancel button and an expandable log.  The newest is on top.  The panel is as tall
as its rows up to :attr:`ActivityPanel.MAX_HEIGHT` (then it scrolls), and hides
itself when it is empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QEvent, QObject, QSize, Signal
from PySide6.QtGui import QFontDatabase, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets.ansi import strip_ansi


class Activity(QFrame):
    """One operation; its owner feeds it progress and says how it ended."""

    finished = Signal(bool)  # succeeded
    dismissed = Signal()
    MAX_LOG_LINES = 5000

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("activity")
        self.setAccessibleName(title)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.task: asyncio.Task[object] | None = None
        self.done = False
        self.succeeded = False
        self.title = QLabel(f"<b>{title}</b>", self)
        self.title.setObjectName("activity-title")
        self.status = QLabel("Starting…", self)
        self.status.setObjectName("activity-status")
        self.status.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("activity-progress")
        self.progress.setRange(0, 0)  # busy until there is something to measure
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("activity-cancel")
        self.cancel_button.setAccessibleName(f"Cancel {title}")
        self.cancel_button.clicked.connect(self.cancel)
        self.toggle = QToolButton(self)
        self.toggle.setObjectName("activity-toggle")
        self.toggle.setText("Details")
        self.toggle.setCheckable(True)
        self.log = QPlainTextEdit(self)
        self.log.setObjectName("activity-log")
        self.log.setAccessibleName(f"Output of {title}")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(self.MAX_LOG_LINES)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setMinimumHeight(160)
        self.log.hide()
        self.toggle.toggled.connect(self.log.setVisible)
        self.top = top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.toggle)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.log)

    def offer(self, text: str, name: str, slot: Callable[[], object]) -> QPushButton:
        """A follow-up the user may take once it ended ("Log in…", "Run")."""
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAccessibleName(text)
        button.clicked.connect(slot)
        self.top.insertWidget(self.top.count() - 2, button)
        return button

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_fraction(self, fraction: float | None) -> None:
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(max(0.0, min(fraction, 1.0)) * 1000))

    def append(self, text: str) -> None:
        # The classic builder colours a step's stderr (ESC[91m … ESC[0m): plain text here.
        self.log.appendPlainText(strip_ansi(text).rstrip("\n"))

    def replace_last(self, old: str, new: str) -> None:
        """Rewrite the log's last line if it reads ``old`` (a step line marked after the fact);
        otherwise add ``new``."""
        document = self.log.document()
        last = document.lastBlock()
        if last.isValid() and last.text() == old:
            cursor = QTextCursor(last)  # at the start of that line
            cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock,
                                QTextCursor.MoveMode.KeepAnchor)
            cursor.insertText(new)
        else:
            self.append(new)

    def show_log(self) -> None:
        self.toggle.setChecked(True)

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if not self.done:
            self.finish(False, "Cancelled.")

    def end_with_task(self) -> None:
        """End when :attr:`task` ends without finishing this activity itself: cancelled,
        or failed in a way the session reported as a message (the engine went away).
        No task at all: the session was not connected."""
        task = self.task
        if task is None:
            self.finish(False, "Not connected to an engine.")
            return

        def ended(done: asyncio.Task[object]) -> None:
            if not self.done:
                self.finish(False, "Cancelled." if done.cancelled() else "Failed unexpectedly.")

        task.add_done_callback(ended)

    def finish(self, succeeded: bool, text: str) -> None:
        if self.done:
            return
        self.done = True
        self.succeeded = succeeded
        self.status.setText(text)
        if self.log.document().isEmpty():  # nothing more to show than the status line
            self.toggle.setChecked(False)  # no tall empty box left open with no way to close it
            self.toggle.hide()
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if succeeded else 0)
        self.cancel_button.setText("Dismiss")
        self.cancel_button.clicked.disconnect()
        self.cancel_button.clicked.connect(self.dismissed.emit)
        self.finished.emit(succeeded)


class ActivityPanel(QScrollArea):
    added = Signal(object)  # Activity: every activity, however it was started
    #: Taller than this and the panel scrolls: the page above keeps most of the window.
    MAX_HEIGHT = 360

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("activity-panel")
        self.setAccessibleName("Activity")
        self.setWidgetResizable(True)
        self.setMaximumHeight(self.MAX_HEIGHT)
        self.body = QWidget(self)
        body = self.body
        self.rows = QVBoxLayout(body)
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.rows.addStretch(1)
        self.setWidget(body)
        # A row growing (its log shown) or going asks the panel to be measured again.
        body.installEventFilter(self)
        self.hide()

    def sizeHint(self) -> QSize:
        """As tall as the rows want (a failed build's log included), up to MAX_HEIGHT.

        A scroll area's own hint is a fixed ~75 px: two lines of a build log showed.
        """
        rows = self.body.sizeHint().height() + 2 * self.frameWidth()
        return QSize(super().sizeHint().width(), min(rows, self.MAX_HEIGHT))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.body and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()
        return False

    def add(self, title: str) -> Activity:
        activity = Activity(title, self.body)
        self.rows.insertWidget(0, activity)
        activity.dismissed.connect(partial(self.dismiss, activity))
        self.show()
        self.verticalScrollBar().setValue(0)  # the new row, on top, in view
        self.added.emit(activity)
        return activity

    def dismiss(self, activity: Activity) -> None:
        self.rows.removeWidget(activity)
        activity.setParent(None)
        activity.deleteLater()
        self.setVisible(bool(self.activities()))

    def activities(self) -> list[Activity]:
        return list(self.body.findChildren(Activity))
