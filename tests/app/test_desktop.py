"""Settings, window state, shortcuts, the command palette and themes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.session import EngineSession
from app.settings import CONFIRM_REMOVE, LOG_LINE_CAP, THEME, Settings
from app.theme import apply_theme
from tests.waits import wait_ms


def make_settings(tmp_path: Path) -> Settings:
    return Settings(QSettings(str(tmp_path / "dockyard.ini"), QSettings.Format.IniFormat))


def test_settings_round_trip_through_the_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.get(THEME) == "system"
    assert settings.get(LOG_LINE_CAP) == 100_000
    assert settings.get(CONFIRM_REMOVE) is True
    changed: list[str] = []
    settings.changed.connect(changed.append)
    settings.set(THEME, "dark")
    settings.set(LOG_LINE_CAP, 5000)
    settings.set(CONFIRM_REMOVE, False)
    settings.set(CONFIRM_REMOVE, False)  # no change, no signal
    settings.sync()
    assert changed == [THEME.key, LOG_LINE_CAP.key, CONFIRM_REMOVE.key]
    reread = make_settings(tmp_path)  # INI gives strings back: types are restored
    assert reread.get(THEME) == "dark"
    assert reread.get(LOG_LINE_CAP) == 5000
    assert reread.get(CONFIRM_REMOVE) is False


def test_window_state_is_restored(qtbot: QtBot, qloop, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    window = MainWindow(EngineSession(f"unix://{tmp_path}/none.sock"), settings)
    qtbot.addWidget(window)
    window.resize(700, 500)  # within the offscreen screen, which bounds restored geometry
    window.sidebar.setCurrentRow(1)
    window.containers_page.splitter.setSizes([123, 400])
    window.containers_page.table.setColumnWidth(0, 311)
    window.save_state()

    again = MainWindow(EngineSession(f"unix://{tmp_path}/none.sock"), make_settings(tmp_path))
    qtbot.addWidget(again)
    assert again.sidebar.currentRow() == 1
    assert again.pages.currentWidget() is again.images_page
    assert (again.size().width(), again.size().height()) == (700, 500)
    assert again.containers_page.table.columnWidth(0) == 311
    assert again.settings.state("containers-splitter") == settings.state("containers-splitter")


def test_a_column_layout_saved_with_fewer_columns_is_not_applied(
    qtbot: QtBot, qloop, tmp_path: Path
) -> None:
    """Qt restores a header state saved with fewer sections without complaint and
    then draws the new columns on top of the old ones; such a layout is ignored."""
    from PySide6.QtGui import QStandardItemModel
    from PySide6.QtWidgets import QTreeView

    older = QTreeView()  # the Containers tree before the CPU and Memory columns
    older.setModel(QStandardItemModel(1, 6))
    older.setColumnWidth(0, 311)
    settings = make_settings(tmp_path)
    settings.set_state("containers-columns", older.header().saveState())  # the old key
    settings.set_state("containers-columns-6", older.header().saveState())
    settings.sync()

    window = MainWindow(EngineSession(f"unix://{tmp_path}/none.sock"), make_settings(tmp_path))
    qtbot.addWidget(window)
    header = window.containers_page.table.horizontalHeader()
    assert header.count() == 8
    assert window.containers_page.table.columnWidth(0) != 311
    assert [header.logicalIndex(v) for v in range(header.count())] == list(range(8))


def test_shortcuts_and_palette(qtbot: QtBot, qloop, tmp_path: Path) -> None:
    window = MainWindow(EngineSession(f"unix://{tmp_path}/none.sock"), make_settings(tmp_path))
    qtbot.addWidget(window)
    window.show()
    window.raise_()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=wait_ms(5))
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is window.images_page
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is window.containers_page
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.containers_page.search.hasFocus()

    palette = window.open_palette()
    labels = palette.labels()
    assert "Dockyard: Refresh" in labels and "Dockyard: Go to Images" in labels
    # Nothing is selected, so container actions are disabled and not offered.
    assert not any(label.startswith("Containers: Stop") for label in labels)
    assert "Dockyard: Command palette" not in labels  # it is the one open
    qtbot.keyClicks(palette.query, "go ima")
    assert palette.labels() == ["Dockyard: Go to Images"]
    assert palette.list.currentIndex().data() == "Dockyard: Go to Images    (Ctrl+2)"
    qtbot.keyClick(palette.query, Qt.Key.Key_Return)
    assert window.pages.currentWidget() is window.images_page
    assert not palette.isVisible()


def test_theme_switch_repaints_dark_and_light(qtbot: QtBot, qloop, tmp_path: Path) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    settings = make_settings(tmp_path)
    window = MainWindow(EngineSession(f"unix://{tmp_path}/none.sock"), settings)
    qtbot.addWidget(window)
    try:
        settings.set(THEME, "dark")
        assert app.palette().color(QPalette.ColorRole.Window).lightness() < 80
        qtbot.waitUntil(lambda: window.palette().color(QPalette.ColorRole.Base).lightness() < 80,
                        timeout=wait_ms(5))
        settings.set(THEME, "light")
        assert app.palette().color(QPalette.ColorRole.Window).lightness() > 180
    finally:
        apply_theme(app, "light")


def test_the_log_line_cap_holds_for_container_and_app_logs(qtbot: QtBot, qloop,
                                                          tmp_path: Path) -> None:
    """The setting bounds every log the window keeps, now and when it is changed."""
    from app.pages.apps import AppsPage

    settings = make_settings(tmp_path)
    settings.set(LOG_LINE_CAP, 5000)
    window = MainWindow(EngineSession(f"unix://{tmp_path}/none.sock"), settings)
    qtbot.addWidget(window)
    apps = window.page(AppsPage)
    assert apps.logs.model.cap == 5000
    assert window.containers_page.detail.logs.model.cap == 5000
    settings.set(LOG_LINE_CAP, 7000)
    assert apps.logs.model.cap == 7000
    assert window.containers_page.detail.logs.model.cap == 7000
