"""An icon as a widget of its own (a header's, an empty table's), painted when shown.

A QLabel holding a pixmap would keep the colours of the theme it was made in; this
paints the icon on every paint, so a themed icon (app.icons) follows light and dark.
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget


class Glyph(QWidget):
    """``icon`` at ``size`` pixels; ``quiet`` draws it greyed (decoration, not a control)."""

    def __init__(self, icon: QIcon | None = None, size: int = 32, *, quiet: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon = icon if icon is not None else QIcon()
        self.quiet = quiet
        self.setFixedSize(QSize(size, size))

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.icon.isNull():
            return
        painter = QPainter(self)
        try:
            mode = QIcon.Mode.Disabled if self.quiet else QIcon.Mode.Normal
            self.icon.paint(painter, self.rect(), mode=mode)
        finally:
            painter.end()
