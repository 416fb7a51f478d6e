"""The one non-modal place where results and failures are reported."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from app.session import MessageLevel
from app.theme import message_colours


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

    def _restyle(self) -> None:
        """Colours for the level and the palette (light or dark) of this moment.

        The text colour is set on the label and the button themselves: a style
        sheet's ``color`` on the frame does not reach its children, which then drew
        the palette's text (light, in dark mode) on the bar's pale background.
        """
        colours = message_colours(self.level.value, self.palette())
        name = self.objectName()
        self._styled = (self.level, colours)
        self.setStyleSheet(
            f"#{name} {{background:{colours.background}; border:1px solid {colours.border};"
            f" border-radius:4px;}}"
            f" #{name} QLabel, #{name} QToolButton {{color:{colours.text};"
            " background:transparent; border:none;}")

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and not self.signalsBlocked():
            # The theme changed: the pair for the new palette (the style sheet's own
            # palette changes do not alter the Window colour this reads).
            colours = message_colours(self.level.value, self.palette())
            if getattr(self, "_styled", None) not in (None, (self.level, colours)):
                self._restyle()
        super().changeEvent(event)

    def show_message(self, level: MessageLevel, text: str, *, sticky: bool = False) -> None:
        self.level = level
        self._restyle()
        self.label.setText(text)
        self.show()
        if level == MessageLevel.INFO and not sticky:
            self._timer.start(self.INFO_SECONDS * 1000)
        else:
            self._timer.stop()

    def text(self) -> str:
        return self.label.text()
