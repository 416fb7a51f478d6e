"""The one non-modal place where results and failures are reported."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from app.messages import MessageLevel
from app.theme import message_colours


def reserve_space(widget: QWidget) -> None:
    """Keep ``widget``'s room in its layout while it is hidden (a hint, a progress bar),
    so that showing it moves nothing the user is about to click."""
    policy = widget.sizePolicy()
    policy.setRetainSizeWhenHidden(True)
    widget.setSizePolicy(policy)
    widget.setMinimumHeight(max(widget.sizeHint().height(), widget.fontMetrics().height()))


class MessageBar(QFrame):
    """Shows the latest message; information fades by itself, problems stay until closed."""

    INFO_SECONDS = 5

    def __init__(self, name: str = "message-bar", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host: QWidget | None = None
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
        self._place()  # a longer text may wrap to more lines
        if level == MessageLevel.INFO and not sticky:
            self._timer.start(self.INFO_SECONDS * 1000)
        else:
            self._timer.stop()

    def text(self) -> str:
        return self.label.text()

    # -- floating over a widget ---------------------------------------------------------

    MARGIN = 8

    def float_over(self, host: QWidget) -> None:
        """Show messages over the bottom of ``host`` instead of taking room in a layout.

        A bar that comes and goes in a layout moves everything around it: the user
        clicks the wrong row, and every shell in the window is resized (and prints
        an extra prompt) each time a message appears.  Floating, it covers the
        bottom edge of ``host`` for as long as it shows, and nothing moves.
        """
        self._host = host
        self.setParent(host)
        self.setAutoFillBackground(True)
        host.installEventFilter(self)
        self._place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # getattr: Qt can deliver an event to the filter of a bar whose Python side is
        # already being torn down (seen between tests), where _host no longer exists.
        if watched is getattr(self, "_host", None) and event.type() in (
                QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.LayoutRequest):
            self._place()
        return super().eventFilter(watched, event)

    def _place(self) -> None:
        host = getattr(self, "_host", None)
        if host is None:
            return
        width = max(host.width() - 2 * self.MARGIN, 0)
        height = self.heightForWidth(width) if self.hasHeightForWidth() else -1
        height = max(height, self.sizeHint().height(), self.minimumSizeHint().height())
        self.setGeometry(self.MARGIN, max(host.height() - height - self.MARGIN, 0), width,
                         height)
        self.raise_()

    def showEvent(self, event: QShowEvent) -> None:
        self._place()
        super().showEvent(event)
