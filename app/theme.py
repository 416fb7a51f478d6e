"""Light and dark: follow the desktop's colour scheme unless the user chose one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory


def dark_palette() -> QPalette:
    palette = QPalette()
    window, base, text = QColor("#2b2b2b"), QColor("#1f1f1f"), QColor("#e6e6e6")
    role = QPalette.ColorRole
    for r, colour in (
        (role.Window, window), (role.WindowText, text), (role.Base, base),
        (role.AlternateBase, QColor("#262626")), (role.ToolTipBase, QColor("#3a3a3a")),
        (role.ToolTipText, text), (role.Text, text), (role.Button, QColor("#353535")),
        (role.ButtonText, text), (role.BrightText, QColor("#ff6b6b")),
        (role.Highlight, QColor("#2f6fb3")), (role.HighlightedText, QColor("#ffffff")),
        (role.Link, QColor("#6cb4ff")), (role.PlaceholderText, QColor("#8c8c8c")),
        (role.Mid, QColor("#3f3f3f")), (role.Midlight, QColor("#454545")),
        (role.Dark, QColor("#1a1a1a")), (role.Shadow, QColor("#000000")),
    ):
        palette.setColor(r, colour)
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.Text, role.ButtonText, role.WindowText):
        palette.setColor(disabled, r, QColor("#7a7a7a"))
    return palette


def system_is_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, theme: str) -> bool:
    """Apply 'system', 'light' or 'dark'; returns whether the result is dark."""
    dark = system_is_dark() if theme == "system" else theme == "dark"
    style = QStyleFactory.create("Fusion")
    if style is not None:
        app.setStyle(style)
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    # Widgets with a style sheet of their own (the sidebar) keep the old palette's
    # colours until their sheet is applied again.
    for widget in app.allWidgets():
        if widget.styleSheet():
            widget.setStyleSheet(widget.styleSheet())
    return dark
