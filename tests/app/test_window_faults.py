"""The window in front of a hostile daemon: a clear status or message, then recovery.

A fault-injecting proxy (tests/fault_proxy.py) sits between the session and a
real engine; every answer it does not fault is the engine's own.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.session import ConnectionState, EngineSession
from tests.app.conftest import wait_connected
from tests.conftest import EngineUnderTest
from tests.fault_proxy import MALFORMED_OBJECTS, Fault, FaultProxy, raw_body
from tests.waits import wait_ms


@pytest.fixture
def proxy(any_engine: EngineUnderTest, tmp_path: Path) -> Iterator[FaultProxy]:
    with FaultProxy(any_engine.endpoint.socket_path or "", tmp_path / "proxy.sock") as relay:
        yield relay


def window_on(qtbot: QtBot, make_session: Any, url: str, deadline: float | None = None
              ) -> MainWindow:
    session: EngineSession = make_session(url)
    session.DEADLINE = deadline
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    return window


def assert_says_then_recovers(qtbot: QtBot, window: MainWindow, proxy: FaultProxy,
                              reason: str) -> None:
    """The no-engine page names the reason and offers Retry; Retry connects once sound."""
    session = window.session
    qtbot.waitUntil(lambda: session.status.state == ConnectionState.UNREACHABLE,
                    timeout=wait_ms(30))
    page = window.unavailable_page
    assert window.root.currentWidget() is page
    assert reason in session.status.error
    assert html.escape(reason) in page.details.text()
    assert not page.retry.isHidden()

    proxy.fault = None
    qtbot.mouseClick(page.retry, Qt.MouseButton.LeftButton)
    wait_connected(qtbot, window.session)
    assert window.root.currentIndex() == 0


@pytest.mark.parametrize(("name", "reason"), [
    ("invalid-json", "the engine's answer to /version is not valid JSON"),
    ("list", "the engine sent a list where a version report was expected"),
    ("string", "the engine sent a string where a version report was expected"),
    ("null", "the engine sent null where a version report was expected"),
    ("deep-arrays", "the engine's answer to /version is nested too deeply to read"),
])
def test_malformed_handshake_is_said_and_retry_recovers(
    qtbot: QtBot, make_session: Any, proxy: FaultProxy, name: str, reason: str,
) -> None:
    """One malformed /version used to kill the supervisor: "Looking for…" for ever."""
    proxy.fault = raw_body(r"/version$", MALFORMED_OBJECTS[name])
    window = window_on(qtbot, make_session, proxy.url)
    assert_says_then_recovers(qtbot, window, proxy, reason)


def test_trickled_handshake_is_given_up_on_and_retry_recovers(
    qtbot: QtBot, make_session: Any, proxy: FaultProxy,
) -> None:
    """One byte every 0.3 s kept the first connection waiting without limit, no Retry shown."""
    proxy.fault = Fault(r"/version$", "trickle", interval=0.3)
    window = window_on(qtbot, make_session, proxy.url, deadline=1.5)
    assert_says_then_recovers(qtbot, window, proxy,
                              "did not finish answering the handshake within 1.5 s")


def test_unexpected_failure_of_one_attempt_does_not_end_supervision(
    qtbot: QtBot, make_session: Any, any_engine: EngineUnderTest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever one attempt raises (here a bug of ours), the supervisor says it and retries."""
    real_discover = engine.discover
    calls: list[None] = []

    async def broken_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        if len(calls) == 1:
            raise RuntimeError("a bug in one attempt")
        return await real_discover(*args, **kwargs)

    monkeypatch.setattr(engine, "discover", broken_once)
    session: EngineSession = make_session(any_engine.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    qtbot.waitUntil(lambda: session.status.state == ConnectionState.UNREACHABLE,
                    timeout=wait_ms(10))
    assert "a bug in one attempt" in window.unavailable_page.details.text()
    qtbot.mouseClick(window.unavailable_page.retry, Qt.MouseButton.LeftButton)
    wait_connected(qtbot, session)


@pytest.mark.parametrize(("body", "reason"), [
    (b"[1, 2, 3]", "the engine sent a number where a container was expected"),
    (b'"hello"', "the engine sent a string where the list of containers was expected"),
    (b"null", "the engine sent null where the list of containers was expected"),
])
def test_container_list_of_the_wrong_shape_is_said_and_rows_kept(
    qtbot: QtBot, make_session: Any, proxy: FaultProxy, any_engine: EngineUnderTest,
    body: bytes, reason: str,
) -> None:
    """It used to say Connected with empty lists and no message until a reconnect."""
    container_id, _name = any_engine.create(any_engine.image, "true")
    window = window_on(qtbot, make_session, proxy.url)
    session = window.session
    wait_connected(qtbot, session)
    model = window.containers_page.model
    qtbot.waitUntil(lambda: model.row_of(container_id) is not None, timeout=wait_ms(10))
    rows = model.rowCount()

    proxy.fault = raw_body(r"/containers/json$", body)
    session.refresh()
    qtbot.waitUntil(lambda: "Could not refresh the lists" in window.messages.text(),
                    timeout=wait_ms(15))
    assert reason in window.messages.text()
    assert model.row_of(container_id) is not None
    assert model.rowCount() >= min(rows, 1)
    assert session.status.state == ConnectionState.CONNECTED

    proxy.fault = None
    other_id, _other = any_engine.create(any_engine.image, "true")
    qtbot.waitUntil(lambda: model.row_of(other_id) is not None, timeout=wait_ms(10))
