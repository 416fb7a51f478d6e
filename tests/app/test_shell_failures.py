"""A shell the engine cannot start says the engine's words in its tab, with Reopen."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from app.session import EngineSession
from tests.app.test_container_detail import open_page, select
from tests.conftest import EngineUnderTest
from tests.waits import wait_ms


def test_a_shell_as_a_user_that_does_not_exist_says_so(
    qtbot: QtBot, make_session: Callable[[str], EngineSession], any_engine: EngineUnderTest
) -> None:
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    page = open_page(qtbot, make_session, any_engine)
    select(qtbot, page, container_id, name)
    qtbot.waitUntil(lambda: page.detail.shell_button.isEnabled(), timeout=wait_ms(10))
    page.detail.shell_user.setText("nosuchuser")
    tab = page.detail.open_shell()
    assert tab is not None
    qtbot.waitUntil(lambda: tab.reopen.isVisible(), timeout=wait_ms(30))
    text = tab.banner.text()
    assert "nosuchuser" in text, text
    assert "unable to find user" in text.lower() or "no matching entries" in text.lower(), text
    assert "\n" not in text
