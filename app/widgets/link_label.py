"""A label whose links take the palette's link colour, after a theme switch too.

A QLabel keeps the colours its rich text was laid out with: links written before
the switch to dark stay dark blue on dark grey.  This label keeps its text and
lays it out again, with the palette's link colour written in, when the palette
changes.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QWidget


class LinkLabel(QLabel):
    """Rich text with ``<a href=…>`` links drawn in the palette's link colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        self._html = ""

    def set_html(self, text: str) -> None:
        """Show ``text`` (already escaped), its links in the link colour."""
        self._html = text
        self._lay_out()

    def html(self) -> str:
        return self._html

    def _lay_out(self) -> None:
        colour = self.palette().color(QPalette.ColorRole.Link).name()
        self.setText(self._html.replace("<a href=", f'<a style="color: {colour}" href='))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._html:
            self._lay_out()
