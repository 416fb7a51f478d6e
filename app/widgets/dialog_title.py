"""A dialog as wide as its title, so the window manager does not cut the title short.

A small dialog is only as wide as its fields; a title naming a long container
("Rename dockyard-test-c-44fb99d0e1-1") then ends in "…" in the frame, and the
user cannot see which container the dialog is for (issue 12.14).  The title bar
is drawn by the window manager in its own (usually bold) font, beside its icon
and buttons; the allowance below covers them on the common desktops.
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontMetrics, QGuiApplication
from PySide6.QtWidgets import QWidget

#: Room the window manager takes beside the title: its icon, close/maximise buttons, padding.
TITLE_BAR_ALLOWANCE = 160


def title_width(widget: QWidget) -> int:
    """How wide ``widget``'s window must be to show its whole title in a title bar."""
    font = QFont(widget.font())
    font.setBold(True)
    return QFontMetrics(font).horizontalAdvance(widget.windowTitle()) + TITLE_BAR_ALLOWANCE


def fit_title(widget: QWidget) -> None:
    """Make ``widget`` at least as wide as its title needs (within the screen)."""
    width = title_width(widget)
    screen = widget.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        width = min(width, screen.availableGeometry().width() * 9 // 10)
    widget.setMinimumWidth(max(widget.minimumWidth(), width))
