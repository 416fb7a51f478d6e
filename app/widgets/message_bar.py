"""The one non-modal place where results and failures are reported."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from app.session import MessageLevel

_STYLES = {
    MessageLevel.INFO: "background:#e7f1fb; color:#0b3a66; border:1px solid #9cc3ea;",
    MessageLevel.WARNING: "background:#fff4d6; color:#5c4400; border:1px solid #e8c66a;",
    MessageLevel.ERROR: "background:#fde8e8; color:#7a1010; border:1px solid #eaa0a0;",
}


class MessageBar(QFrame):
    """Shows the latest message; information fades by itself, problems stay until closed."""

    INFO_SECONDS = 5

    def __init__(self, name: str = "message-bar", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setAccessibleName("Messages")
        self.label = QLabel(self)
        self.label.setObjectName(f"{name}-text")
        self.label.setWordWrap(True)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAccessibleName("Dismiss message")
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.level = MessageLevel.INFO
        self.hide()

    def show_message(self, level: MessageLevel, text: str, *, sticky: bool = False) -> None:
        self.level = level
        self.setStyleSheet(f"#{self.objectName()} {{{_STYLES[level]} border-radius:4px;}}")
        self.label.setText(text)
        self.show()
        if level == MessageLevel.INFO and not sticky:
            self._timer.start(self.INFO_SECONDS * 1000)
        else:
            self._timer.stop()

    def text(self) -> str:
        return self.label.text()
