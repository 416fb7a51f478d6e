"""Light and dark: follow the desktop's colour scheme unless the user chose one.

Every colour the app sets on text (or behind text) is a :class:`Tone` here, with
one value for a light palette and one for a dark: a colour picked for one
palette alone is what made the message bar unreadable in dark mode (light text
on light blue).  tests/app/test_theme.py checks each pair for WCAG contrast
(4.5:1) on both palettes.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget


@dataclass(frozen=True, slots=True)
class Tone:
    """One colour, as it reads on a light palette and on a dark one."""

    light: str
    dark: str

    def on(self, palette: QPalette | None = None) -> str:
        """The value for ``palette`` (the application's when None)."""
        return self.dark if palette_is_dark(palette) else self.light


#: Text that says something went wrong (under a field, in a summary).
ERROR_TEXT = Tone("#b3261e", "#ff8a80")
#: Text that warns (build context warnings).
WARNING_TEXT = Tone("#8a5300", "#f2b84b")
#: Secondary text painted by hand (log timestamps).
MUTED_TEXT = Tone("#666666", "#a6a6a6")
#: Behind a search hit in the log view; the line's text is painted over it.
SEARCH_HIT = Tone("#f5d76e", "#7a5d00")


@dataclass(frozen=True, slots=True)
class BarColours:
    """A message bar's text, background and border."""

    text: str
    background: str
    border: str


#: The message bar's colours by level ("info", "warning", "error"): light, dark.
MESSAGE_COLOURS: dict[str, tuple[BarColours, BarColours]] = {
    "info": (BarColours("#0b3a66", "#e7f1fb", "#9cc3ea"),
             BarColours("#d6e9ff", "#17354f", "#2f6fb3")),
    "warning": (BarColours("#5c4400", "#fff4d6", "#e8c66a"),
                BarColours("#ffe7a3", "#42330a", "#9c7a1c")),
    "error": (BarColours("#7a1010", "#fde8e8", "#eaa0a0"),
              BarColours("#ffd9d9", "#4f1717", "#a84444")),
}


@dataclass(frozen=True, slots=True)
class BadgeColours:
    """A state badge's text and the pill behind it (the dot takes the text colour)."""

    text: str
    fill: str


#: State badges by tone ("good" running, "busy" paused or changing, "bad" failed,
#: "idle" stopped or created): light, dark.  Text on fill is checked for 4.5:1.
BADGE_COLOURS: dict[str, tuple[BadgeColours, BadgeColours]] = {
    "good": (BadgeColours("#0d5a22", "#d3f1da"), BadgeColours("#c8f7d3", "#1b5229")),
    "busy": (BadgeColours("#6a4600", "#fcecbf"), BadgeColours("#ffe6a0", "#574200")),
    "bad": (BadgeColours("#8e1b16", "#fbdcd9"), BadgeColours("#ffd8d4", "#6b1d19")),
    "idle": (BadgeColours("#3b3b3b", "#e3e3e3"), BadgeColours("#dcdcdc", "#474747")),
}


def badge_colours(tone: str, palette: QPalette | None = None) -> BadgeColours:
    """A badge's colours for ``tone`` on ``palette`` (unknown tones look idle)."""
    light, dark = BADGE_COLOURS.get(tone, BADGE_COLOURS["idle"])
    return dark if palette_is_dark(palette) else light


def palette_is_dark(palette: QPalette | None = None) -> bool:
    """Whether ``palette`` (the application's when None) draws light text on dark."""
    palette = palette if palette is not None else QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def message_colours(level: str, palette: QPalette | None = None) -> BarColours:
    light, dark = MESSAGE_COLOURS[level]
    return dark if palette_is_dark(palette) else light


def text_style(tone: Tone, widget: QWidget) -> str:
    """A style sheet giving ``widget``'s text ``tone`` for its current palette."""
    return f"color: {tone.on(widget.palette())};"


def contrast(first: str | QColor, second: str | QColor) -> float:
    """The WCAG 2 contrast ratio of two colours (1 to 21; text needs 4.5)."""

    def luminance(colour: str | QColor) -> float:
        c = QColor(colour)
        channels = []
        for value in (c.redF(), c.greenF(), c.blueF()):
            channels.append(value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4)
        r, g, b = channels
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


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
        (role.Link, QColor("#6cb4ff")), (role.PlaceholderText, QColor("#949494")),
        (role.Mid, QColor("#3f3f3f")), (role.Midlight, QColor("#454545")),
        (role.Dark, QColor("#1a1a1a")), (role.Shadow, QColor("#000000")),
    ):
        palette.setColor(r, colour)
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.Text, role.ButtonText, role.WindowText):
        palette.setColor(disabled, r, QColor("#7a7a7a"))
    return palette


def light_palette() -> QPalette:
    """Fusion's own light palette, with a selection white text reads on (Fusion's
    #308cc6 gives 3.7:1)."""
    fusion = QStyleFactory.create("Fusion")
    palette = (fusion or QApplication.style()).standardPalette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        palette.setColor(group, QPalette.ColorRole.Highlight, QColor("#2f6fb3"))
        # Fusion's grey placeholder (empty-table hints, search boxes) reads at < 4.5:1.
        palette.setColor(group, QPalette.ColorRole.PlaceholderText, QColor("#6b6b6b"))
    return palette


def system_is_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, theme: str) -> bool:
    """Apply 'system', 'light' or 'dark'; returns whether the result is dark."""
    dark = system_is_dark() if theme == "system" else theme == "dark"
    style = QStyleFactory.create("Fusion")
    if style is not None:
        app.setStyle(style)
    app.setPalette(dark_palette() if dark else light_palette())
    # Widgets with a style sheet of their own (the sidebar) keep the old palette's
    # colours until their sheet is applied again.
    for widget in app.allWidgets():
        if widget.styleSheet():
            widget.setStyleSheet(widget.styleSheet())
    return dark
