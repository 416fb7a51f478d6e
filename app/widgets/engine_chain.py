"""A small picture of the processes that start a container, each with its version.

Docker: dockerd → containerd → containerd-shim → runc; Podman: podman → conmon →
the OCI runtime.  Drawn with QPainter from the palette, so it follows the theme.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

import engine


class EngineChain(QWidget):
    BOX_HEIGHT = 62
    GAP = 34
    MIN_BOX_WIDTH = 120

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("engine-chain")
        self.setAccessibleName("How a container is started")
        self.links: tuple[engine.ChainLink, ...] = ()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_links(self, links: Sequence[engine.ChainLink]) -> None:
        self.links = tuple(links)
        self.setAccessibleDescription(" → ".join(
            f"{link.process} {link.version}".strip() for link in self.links))
        self.setToolTip("\n".join(f"{link.process}: {link.role}" for link in self.links))
        self.updateGeometry()
        self.update()

    def _box_width(self) -> int:
        bold = QFont(self.font())
        bold.setBold(True)
        widths = [self.MIN_BOX_WIDTH]
        for link in self.links:
            widths.append(QFontMetrics(bold).horizontalAdvance(link.process) + 24)
            widths.append(self.fontMetrics().horizontalAdvance(link.version) + 24)
            widths.append(self.fontMetrics().horizontalAdvance(link.role) + 24)
        return max(widths)

    def sizeHint(self) -> QSize:
        count = max(len(self.links), 1)
        return QSize(count * self._box_width() + (count - 1) * self.GAP + 4, self.BOX_HEIGHT + 4)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.links:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        width = self._box_width()
        text = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        bold = QFont(self.font())
        bold.setBold(True)
        line = self.fontMetrics().height()
        for index, link in enumerate(self.links):
            left = 2 + index * (width + self.GAP)
            box = QRectF(left, 2, width, self.BOX_HEIGHT)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1.2))
            painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(box, 6, 6)
            top = box.top() + (self.BOX_HEIGHT - 3 * line) / 2
            rows = ((link.process, bold, text), (link.version or "version unknown", self.font(),
                                                 text if link.version else muted),
                    (link.role, self.font(), muted))
            for row, (words, font, colour) in enumerate(rows):
                painter.setFont(font)
                painter.setPen(colour)
                painter.drawText(QRectF(left, top + row * line, width, line),
                                 Qt.AlignmentFlag.AlignCenter, words)
            if index + 1 < len(self.links):
                y = box.center().y()
                start, end = box.right() + 4, box.right() + self.GAP - 4
                painter.setPen(QPen(text, 1.5))
                painter.drawLine(QPointF(start, y), QPointF(end - 6, y))
                painter.setBrush(text)
                painter.drawPolygon(QPolygonF([QPointF(end, y), QPointF(end - 8, y - 4),
                                               QPointF(end - 8, y + 4)]))
        painter.end()
