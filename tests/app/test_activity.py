"""The activity panel's layout: tall enough to read, newest on top, no empty Details."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from app.widgets.activity import ActivityPanel
from tests.waits import wait_ms


def window_with_panel(qtbot: QtBot) -> tuple[QWidget, ActivityPanel]:
    """A page above the panel, as in the main window: the page takes what is left."""
    window = QWidget()
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    layout.addWidget(QWidget(), 1)
    panel = ActivityPanel()
    layout.addWidget(panel)
    window.resize(900, 700)
    window.show()
    return window, panel


def test_a_failed_builds_log_gets_room_to_be_read(qtbot: QtBot) -> None:
    _window, panel = window_with_panel(qtbot)
    build = panel.add("Build app:1")
    for step in range(40):
        build.append(f"Step {step}/40 : RUN something")
    build.finish(False, "Step 40 failed (Dockerfile line 41): exit code 3")
    build.show_log()
    # The whole log (min 160 px) and the row above it show, not two squeezed lines.
    qtbot.waitUntil(lambda: panel.height() >= build.sizeHint().height(), timeout=wait_ms(5))
    assert build.log.height() >= 160
    assert panel.height() <= ActivityPanel.MAX_HEIGHT


def test_newest_on_top_and_details_only_when_there_is_output(qtbot: QtBot) -> None:
    _window, panel = window_with_panel(qtbot)
    first = panel.add("Pull busybox")
    first.finish(False, "busybox:nope was not found")
    second = panel.add("Pull alpine")
    assert panel.rows.indexOf(second) == 0 and panel.rows.indexOf(first) == 1
    assert not first.toggle.isVisibleTo(first)  # a failed pull has no output beyond its status
    second.append("Pulling fs layer")
    second.finish(True, "Pulled alpine")
    assert second.toggle.isVisibleTo(second)
    second.cancel_button.click()  # Dismiss
    qtbot.waitUntil(lambda: panel.activities() == [first], timeout=wait_ms(5))
    first.cancel_button.click()
    qtbot.waitUntil(lambda: not panel.isVisible(), timeout=wait_ms(5))


def test_build_output_colours_are_not_shown_as_escape_codes(qtbot: QtBot) -> None:
    _window, panel = window_with_panel(qtbot)
    build = panel.add("Build app:1")
    build.append("\x1b[91mabout to fail\n\x1b[0m")
    assert build.log.toPlainText() == "about to fail"
