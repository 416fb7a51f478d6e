"""Messages, hints and progress bars that come and go move nothing in the window.

A bar that takes room in a layout when it appears moves the rows a user is about
to click and resizes every open shell (which then prints an extra prompt).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from app.pages.image_detail import ImageDetail
from app.pages.images import ImagesPage
from app.session import EngineSession, MessageLevel
from app.widgets.message_bar import MessageBar
from app.widgets.terminal import TerminalWidget
from tests.app.test_window import connected_window
from tests.conftest import EngineUnderTest
from tests.waits import wait_ms

NOWHERE = "unix:///nonexistent/dockyard-test.sock"  # never started: no engine needed


def test_a_message_covers_the_page_bottom_instead_of_shrinking_it(
    qtbot: QtBot, make_session: Callable[[str], EngineSession], docker_engine: EngineUnderTest
) -> None:
    window = connected_window(qtbot, make_session, docker_engine.url, show=True)
    window.resize(1100, 800)
    qtbot.waitExposed(window, timeout=wait_ms(5))
    qtbot.waitUntil(window.pages.isVisible, timeout=wait_ms(5))
    before = window.pages.geometry()
    window.messages.show_message(MessageLevel.ERROR, "Could not do it: " + "why " * 60,
                                 sticky=True)
    qtbot.waitUntil(window.messages.isVisible, timeout=wait_ms(5))
    assert window.pages.geometry() == before
    bar = window.messages.geometry()
    inside = window.pages.rect()
    assert inside.contains(bar), (bar, inside)
    assert bar.bottom() > inside.height() - 30  # at the bottom edge
    assert window.messages.label.height() >= window.messages.label.sizeHint().height()
    window.messages.hide()
    assert window.pages.geometry() == before


def test_a_shell_is_not_resized_by_a_message(qtbot: QtBot) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    layout = QVBoxLayout(host)
    terminal = TerminalWidget(host)
    layout.addWidget(terminal)
    bar = MessageBar()
    bar.float_over(host)
    host.resize(800, 500)
    host.show()
    qtbot.waitExposed(host, timeout=wait_ms(5))
    sizes: list[tuple[int, int]] = []
    terminal.resized.connect(lambda rows, columns: sizes.append((rows, columns)))
    bar.show_message(MessageLevel.INFO, "Started web-1")
    bar.show_message(MessageLevel.ERROR, "Could not stop web-1", sticky=True)
    bar.hide()
    qtbot.wait(wait_ms(0.05))  # let any layout pass run: a resize would come in it
    assert sizes == []


def test_the_pull_hint_and_the_layer_progress_keep_their_room(
    qtbot: QtBot, make_session: Callable[[str], EngineSession]
) -> None:
    session = make_session(NOWHERE)
    page = ImagesPage(session)
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    qtbot.waitExposed(page, timeout=wait_ms(5))
    table = page.table.geometry()
    page.pull_box.setText("busybox")
    assert page.pull_hint.isVisible()
    qtbot.wait(wait_ms(0.05))
    assert page.table.geometry() == table
    page.pull_box.setText("")
    qtbot.wait(wait_ms(0.05))
    assert page.table.geometry() == table

    detail = ImageDetail(session)
    qtbot.addWidget(detail)
    detail.resize(800, 600)
    detail.show()
    qtbot.waitExposed(detail, timeout=wait_ms(5))
    tabs = detail.tabs.geometry()
    detail.progress.show()
    qtbot.wait(wait_ms(0.05))
    assert detail.tabs.geometry() == tabs
