"""State badges: "running", "exited (1)", "paused" as a rounded pill with a dot.

A bare coloured square said little and nothing to a colour-blind user; the pill
keeps the state's words, in colours picked per palette (app.theme.BADGE_COLOURS,
checked for 4.5:1 contrast in tests/app/test_badges.py).  One painting function
serves the table cells (:class:`StateBadgeDelegate`) and the detail headers
(:class:`StateBadge`), so both look the same.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QIcon, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QApplication,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app.models.container_tree import BusyRole
from app.models.table import ToneRole
from app.theme import badge_colours

AnyIndex = QModelIndex | QPersistentModelIndex

#: Room inside the pill: left and right of the text, and above and below it.
PAD_X, PAD_Y = 8, 2
DOT = 6  # the dot's diameter
GAP = 5  # between the dot and the text


def badge_size(metrics: QFontMetrics, text: str) -> QSize:
    """How big the pill for ``text`` is, in a font with ``metrics``."""
    # +2: text measured to the pixel can still be elided when drawn (rounding).
    return QSize(PAD_X * 2 + DOT + GAP + metrics.horizontalAdvance(text) + 2,
                 metrics.height() + PAD_Y * 2)


def paint_badge(painter: QPainter, rect: QRect, text: str, tone: str,
                widget: QWidget | None = None) -> QRect:
    """Paint the pill for ``text`` at the left of ``rect``, vertically centred; the text is
    elided to fit.  Returns the pill's rectangle."""
    palette = widget.palette() if widget is not None else QApplication.palette()
    colours = badge_colours(tone, palette)
    metrics = painter.fontMetrics()
    size = badge_size(metrics, text)
    width = min(size.width(), rect.width())
    pill = QRect(rect.left(), rect.top() + (rect.height() - size.height()) // 2,
                 width, size.height())
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colours.fill))
    radius = pill.height() / 2
    painter.drawRoundedRect(QRectF(pill), radius, radius)
    painter.setBrush(QColor(colours.text))
    dot_y = pill.top() + (pill.height() - DOT) / 2
    painter.drawEllipse(QRectF(pill.left() + PAD_X, dot_y, DOT, DOT))
    painter.setPen(QColor(colours.text))
    text_rect = pill.adjusted(PAD_X + DOT + GAP, 0, -PAD_X, 0)
    shown = text if metrics.horizontalAdvance(text) <= text_rect.width() else \
        metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(text_rect.width(), 0))
    painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                     shown)
    painter.restore()
    return pill


def index_tone(index: AnyIndex) -> str | None:
    """The badge tone of a cell: "busy" while an action runs on it, else the column's tone."""
    if index.data(BusyRole):
        return "busy"
    tone = index.data(ToneRole)
    return str(tone) if tone else None


class StateBadgeDelegate(QStyledItemDelegate):
    """Paints a state cell as a badge: the row's selection and background as usual, the
    state's words in a pill.  A cell without a tone is painted as plain text."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        tone = index_tone(index)
        if tone is None:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        opt.icon = QIcon()
        opt.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDecoration
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        painter.save()
        painter.setFont(opt.font)
        paint_badge(painter, opt.rect.adjusted(4, 0, -4, 0), text, tone, widget)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        hint = super().sizeHint(option, index)
        text = index.data()
        if text is None:
            return hint
        pill = badge_size(option.fontMetrics, str(text))
        return QSize(max(hint.width(), pill.width() + 8), max(hint.height(), pill.height() + 6))


class StateBadge(QWidget):
    """A badge on its own (the detail headers): ``set_state("running", "good")``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("state-badge")
        self.text = ""
        self.tone = "idle"
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_state(self, text: str, tone: str) -> None:
        self.text, self.tone = text, tone
        self.setAccessibleName(f"State: {text}")
        self.setToolTip(text)
        self.setVisible(bool(text))
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return badge_size(self.fontMetrics(), self.text)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            paint_badge(painter, self.rect(), self.text, self.tone, self)
        finally:
            painter.end()
