"""A horizontal bar split into coloured parts: where the bytes of one kind (or all) go.

Painted, not built from widgets: it is redrawn on every df and must cost nothing.
The parts are named in the tooltip and the accessible description, so the
picture is readable without seeing its colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.presentation import human_size


@dataclass(frozen=True)
class BarPart:
    label: str
    size: int
    color: str


class DiskBar(QWidget):
    def __init__(self, name: str, parent: QWidget | None = None, height: int = 14) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setAccessibleName(name.replace("-", " ").capitalize())
        self._parts: tuple[BarPart, ...] = ()
        self._height = height
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(200, self._height)

    def minimumSizeHint(self) -> QSize:
        return QSize(40, self._height)

    @property
    def parts(self) -> tuple[BarPart, ...]:
        return self._parts

    def set_parts(self, parts: Sequence[BarPart]) -> None:
        self._parts = tuple(parts)
        words = ", ".join(f"{p.label}: {human_size(p.size)}" for p in self._parts)
        self.setToolTip(words.replace(", ", "\n"))
        self.setAccessibleDescription(words)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        track = self.palette().mid().color()
        track.setAlpha(60)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(track)
        painter.drawRoundedRect(rect, 3, 3)
        total = sum(p.size for p in self._parts)
        if total > 0:
            x = rect.left()
            painter.setClipRect(rect)
            for part in self._parts:
                width = rect.width() * part.size / total
                if width <= 0:
                    continue
                painter.setBrush(QColor(part.color))
                painter.drawRect(QRectF(x, rect.top(), width, rect.height()))
                x += width
            painter.setClipping(False)
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, 3, 3)
        painter.end()
