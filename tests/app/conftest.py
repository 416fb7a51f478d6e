"""Qt tests run offscreen with asyncio on Qt's own event loop (qasync), as in the app."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.event_loop import make_event_loop
from app.session import ConnectionState, EngineSession


@pytest.fixture(scope="session", autouse=True)
def private_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read or write the developer's own Dockyard settings."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path_factory.mktemp("settings")))


@pytest.fixture(scope="session")
def qloop_session(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """One asyncio loop on Qt's, driven by whatever Qt loop spins (qtbot's waits included).

    One per session: qasync does not survive a second loop on the same QApplication.
    """
    loop = make_event_loop(qapp, already_running=True)
    yield loop
    asyncio.events._set_running_loop(None)
    loop.stop()
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def qloop(
    qloop_session: asyncio.AbstractEventLoop,
) -> Iterator[asyncio.AbstractEventLoop]:
    """The session loop, running for this test; tasks the test leaves behind are cancelled."""
    asyncio.events._set_running_loop(qloop_session)
    yield qloop_session
    for task in asyncio.all_tasks(qloop_session):
        task.cancel()
    # Let abandoned streams finish closing while the loop still counts as running.
    gc.collect()
    QApplication.processEvents()
    asyncio.events._set_running_loop(None)


def await_in_qt(qtbot: QtBot, coro: Coroutine[Any, Any, Any], timeout: int = 30_000) -> Any:
    """Run a coroutine on the qasync loop while Qt keeps processing events."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


@pytest.fixture
def make_session(qtbot: QtBot, qloop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    sessions: list[EngineSession] = []

    def make(host: str) -> EngineSession:
        session = EngineSession(host)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await_in_qt(qtbot, session.aclose())


def wait_connected(qtbot: QtBot, session: EngineSession, timeout: int = 20_000) -> None:
    qtbot.waitUntil(lambda: session.status.state == ConnectionState.CONNECTED, timeout=timeout)
