"""Every colour the app sets on or behind text is readable in light and dark (WCAG 4.5:1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app import theme
from app.models.file_tree import MARK_TONES
from app.session import MessageLevel
from app.widgets.message_bar import MessageBar
from tests.waits import wait_ms

ROLE = QPalette.ColorRole
#: The text any widget may sit on: windows, lists and their alternate rows.
GROUNDS = (ROLE.Window, ROLE.Base, ROLE.AlternateBase)
TONES = {"error": theme.ERROR_TEXT, "warning": theme.WARNING_TEXT, "muted": theme.MUTED_TEXT}


def palettes() -> dict[str, QPalette]:
    """The two palettes apply_theme sets."""
    return {"light": theme.light_palette(), "dark": theme.dark_palette()}


@pytest.fixture(params=["light", "dark"])
def palette(request: pytest.FixtureRequest, qapp: QApplication) -> Iterator[QPalette]:
    """The application's palette, light or dark, for one test."""
    before = qapp.palette()
    chosen = palettes()[request.param]
    qapp.setPalette(chosen)
    yield chosen
    qapp.setPalette(before)


@pytest.mark.parametrize("name", sorted(TONES))
@pytest.mark.parametrize("which", ["light", "dark"])
def test_text_tones_read_on_every_ground(name: str, which: str) -> None:
    palette = palettes()[which]
    colour = TONES[name].on(palette)
    for ground in GROUNDS:
        assert theme.contrast(colour, palette.color(ground)) >= 4.5, (name, which, ground)


@pytest.mark.parametrize("which", ["light", "dark"])
def test_palette_text_reads_on_what_the_app_paints_behind_it(which: str) -> None:
    palette = palettes()[which]
    text = palette.color(ROLE.Text)
    assert theme.contrast(text, theme.SEARCH_HIT.on(palette)) >= 4.5  # log search hits
    for ground in GROUNDS:
        assert theme.contrast(text, palette.color(ground)) >= 4.5
    assert theme.contrast(palette.color(ROLE.HighlightedText), palette.color(ROLE.Highlight)) \
        >= 4.5


@pytest.mark.parametrize("level", list(MessageLevel))
def test_the_message_bar_reads_in_both_themes(qtbot: QtBot, palette: QPalette,
                                              level: MessageLevel) -> None:
    bar = MessageBar()
    qtbot.addWidget(bar)
    bar.resize(600, 40)
    bar.show_message(level, "x", sticky=True)
    qtbot.waitExposed(bar, timeout=wait_ms(5))
    label = bar.label
    label.ensurePolished()
    text = label.palette().color(label.foregroundRole())
    # What is actually painted behind the label: a pixel of the bar where no text is.
    image = bar.grab().toImage()
    spot = label.geometry().center()
    spot.setX(label.geometry().right() - 4)
    ground = image.pixelColor(spot)
    assert theme.contrast(text, ground) >= 4.5, (text.name(), ground.name())
    button = bar.close_button
    button.ensurePolished()
    assert theme.contrast(button.palette().color(button.foregroundRole()), ground) >= 4.5


@pytest.mark.parametrize("which", ["light", "dark"])
def test_changed_paths_in_a_layer_read_on_the_list(which: str) -> None:
    palette = palettes()[which]
    for mark, tone in MARK_TONES.items():
        for ground in GROUNDS:
            assert theme.contrast(tone.on(palette), palette.color(ground)) >= 4.5, mark
