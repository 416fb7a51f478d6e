"""The command palette: fuzzy matching, the overlay, and the commands it offers."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.pages.containers import ContainersPage
from app.session import EngineSession
from app.settings import THEME
from app.theme import apply_theme
from app.widgets.command_palette import fuzzy_score
from tests.app.test_desktop import make_settings
from tests.app.test_window import connected_window
from tests.conftest import EngineUnderTest
from tests.waits import wait_ms


def test_a_subsequence_matches_and_word_starts_rank_first() -> None:
    assert fuzzy_score("img", "Dockyard: Go to Images") is not None
    assert fuzzy_score("gmi", "Dockyard: Go to Images") is None  # order counts
    assert fuzzy_score("xyz", "Dockyard: Go to Images") is None
    # "st" at the start of a word beats "st" inside one.
    stop, last = fuzzy_score("st", "Containers: Stop"), fuzzy_score("st", "Dockyard: Last")
    assert stop is not None and last is not None and stop > last
    # Letters that run together beat the same letters scattered.
    assert (fuzzy_score("ima", "Go to Images") or 0) > (fuzzy_score("ima", "Sim card") or 0)
    assert fuzzy_score("", "anything") == 0


def window_without_engine(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    window = MainWindow(EngineSession(f"unix://{tmp_path}/none.sock"), make_settings(tmp_path))
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=wait_ms(5))
    return window


def test_the_palette_is_an_overlay_that_finds_fuzzily(
    qtbot: QtBot, qloop: object, tmp_path: Path,
) -> None:
    window = window_without_engine(qtbot, tmp_path)
    palette = window.open_palette()
    assert palette.isVisible()
    assert not palette.isWindow() and palette.parentWidget() is window  # no decorated window
    assert window.rect().contains(palette.geometry())
    qtbot.keyClicks(palette.query, "img")
    assert palette.labels()[0] == "Dockyard: Go to Images"
    qtbot.keyClick(palette.query, Qt.Key.Key_Return)
    assert window.pages.currentWidget() is window.images_page
    assert not palette.isVisible()
    window.open_palette()
    qtbot.keyClick(palette.query, Qt.Key.Key_Escape)
    assert not palette.isVisible()


def test_the_palette_switches_the_theme(qtbot: QtBot, qloop: object, tmp_path: Path) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    window = window_without_engine(qtbot, tmp_path)
    palette = window.open_palette()
    assert {"Dockyard: Theme: System", "Dockyard: Theme: Light",
            "Dockyard: Theme: Dark"} <= set(palette.labels())
    try:
        qtbot.keyClicks(palette.query, "theme dark")
        assert palette.labels()[0] == "Dockyard: Theme: Dark"
        qtbot.keyClick(palette.query, Qt.Key.Key_Return)
        assert window.settings.get(THEME) == "dark"
    finally:
        apply_theme(app, "light")


def test_the_palette_offers_the_selected_containers_views(
    qtbot: QtBot, make_session: object, any_engine: EngineUnderTest,
) -> None:
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    window = connected_window(qtbot, make_session, any_engine.url, show=True)
    page = window.page(ContainersPage)
    labels = window.open_palette().labels()
    assert "Containers: Shell" not in labels  # nothing selected: nothing to open it in
    window.palette_dialog.close_palette()
    qtbot.waitUntil(lambda: page.model.row_of(container_id) is not None, timeout=wait_ms(10))
    page.search.setText(name)
    page.table.selectRow(0)
    qtbot.waitUntil(lambda: page.detail.shell_button.isEnabled(), timeout=wait_ms(10))
    palette = window.open_palette()
    assert {"Containers: Shell", "Containers: Logs", "Containers: Inspect",
            "Containers: Stats", "Containers: Change settings…"} <= set(palette.labels())
    qtbot.keyClicks(palette.query, "insp")
    assert palette.labels()[0] == "Containers: Inspect"
    qtbot.keyClick(palette.query, Qt.Key.Key_Return)
    assert page.detail.tabs.currentWidget() is page.detail.inspect
    palette = window.open_palette()
    qtbot.keyClicks(palette.query, "shell")
    assert palette.labels()[0] == "Containers: Shell"
    qtbot.keyClick(palette.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.detail.shells.count() == 1, timeout=wait_ms(10))
    assert page.detail.tabs.currentWidget() is page.detail.shells


def test_the_palette_is_as_tall_as_what_it_lists(
    qtbot: QtBot, qloop: object, tmp_path: Path,
) -> None:
    """Three matches, three rows: no empty box below them (the overlay was always 380 px)."""
    window = window_without_engine(qtbot, tmp_path)
    palette = window.open_palette()
    everything = palette.height()
    qtbot.keyClicks(palette.query, "img")
    assert len(palette.labels()) == 3  # Go to Images, Pull an image…, Build an image…
    row = palette.list.sizeHintForRow(0)
    assert 3 * row <= palette.list.viewport().height() < 4 * row  # the rows, no box below
    assert palette.height() < everything
    assert window.rect().contains(palette.geometry())
