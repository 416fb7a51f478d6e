"""A one-line label that gives up width instead of taking it, ending in "…" when cut.

A QLabel asks for its whole text as its minimum width, so a long container name
in a pane's title widened the window past the screen (issue 12.14).  This one
takes whatever room the layout has left, and when its (rich) text does not fit
draws what fits and an ellipsis, so the cut is visible; set a tooltip for the rest.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPaintEvent, QTextDocument
from PySide6.QtGui import Qt as QtGuiNamespace
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

ELLIPSIS = "…"


class ElidedLabel(QLabel):
    """A QLabel on one line whose minimum width is its ellipsis."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(False)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def _document(self) -> QTextDocument:
        doc = QTextDocument()
        doc.setDefaultFont(self.font())
        doc.setDocumentMargin(0)
        if QtGuiNamespace.mightBeRichText(self.text()):  # as QLabel's AutoText decides
            doc.setHtml(self.text())
        else:
            doc.setPlainText(self.text())
        return doc

    def full_width(self) -> int:
        """How wide the whole text would be."""
        return int(self._document().idealWidth()) + 1

    def is_elided(self) -> bool:
        return self.full_width() > self.contentsRect().width()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(self.fontMetrics().horizontalAdvance(ELLIPSIS) * 3, hint.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.is_elided():
            super().paintEvent(event)
            return
        rect = self.contentsRect()
        doc = self._document()
        ellipsis = self.fontMetrics().horizontalAdvance(ELLIPSIS)
        painter = QPainter(self)
        top = rect.top() + max(0.0, (rect.height() - doc.size().height()) / 2)
        painter.save()
        painter.translate(rect.left(), top)
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette = self.palette()
        context.clip = QRectF(0, 0, rect.width() - ellipsis, doc.size().height())
        painter.setClipRect(context.clip)
        doc.documentLayout().draw(painter, context)
        painter.restore()
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect.adjusted(rect.width() - ellipsis, 0, 0, 0),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         ELLIPSIS)
        painter.end()
