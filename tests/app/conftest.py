"""Qt tests run offscreen with asyncio on Qt's own event loop (qasync), as in the app."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QInputDialog,
    QMenu,
    QMessageBox,
)
from pytestqt.qtbot import QtBot

from app.event_loop import make_event_loop
from app.helper_sweep import HelperSweeper
from app.session import ConnectionState, EngineSession
from tests.conftest import LABEL
from tests.waits import seconds, wait_ms


@pytest.fixture(scope="session", autouse=True)
def private_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read or write the developer's own Dockyard settings."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path_factory.mktemp("settings")))


@pytest.fixture(autouse=True)
def sweep_only_our_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window's sweep of stale volume helpers (any owner's, on the shared daemon) only
    ever looks at containers this run labelled."""
    monkeypatch.setattr(HelperSweeper, "DEFAULT_LABELS", (LABEL,))


@pytest.fixture(autouse=True)
def fresh_window_state() -> None:
    """Each test's window opens as a new user's would: the page, geometry, splitters and
    column widths another test's window saved are not restored (a window left on the
    Apps page gave the next test's palette no container commands)."""
    store = QSettings()
    store.remove("state")
    store.sync()


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


def await_in_qt(qtbot: QtBot, coro: Coroutine[Any, Any, Any],
                timeout: int | None = None) -> Any:
    """Run a coroutine on the qasync loop while Qt keeps processing events.

    ``timeout``: ``wait_ms(…)``; 30 idle seconds by default.
    """
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=wait_ms(30) if timeout is None else timeout)
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


def wait_connected(qtbot: QtBot, session: EngineSession, timeout: int | None = None) -> None:
    """``timeout``: ``wait_ms(…)``; 20 idle seconds by default."""
    qtbot.waitUntil(lambda: session.status.state == ConnectionState.CONNECTED,
                    timeout=wait_ms(20) if timeout is None else timeout)


#: Every call that runs a nested (modal) Qt event loop, instance methods then statics.
_NESTING_METHODS = ((QDialog, "exec"), (QMessageBox, "exec"), (QFileDialog, "exec"),
                    (QInputDialog, "exec"), (QMenu, "exec"))
_NESTING_STATICS = (
    *((QMessageBox, n) for n in ("question", "warning", "information", "critical", "about")),
    *((QFileDialog, n) for n in ("getOpenFileName", "getOpenFileNames", "getSaveFileName",
                                 "getExistingDirectory")),
    *((QInputDialog, n) for n in ("getText", "getItem", "getInt", "getDouble",
                                  "getMultiLineText")),
)


def _running_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop
        return None


@pytest.fixture(autouse=True)
def no_modal_dialog_inside_a_task(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any test in which a modal dialog's loop is entered from inside an asyncio task.

    That nested loop re-enters the task machinery: every other task woken meanwhile dies
    with "Cannot enter into task … while another task … is being executed" and the window
    stops following the engine (issue 12.1).  The call is refused (so the test cannot hang
    in it) and the test fails.
    """
    nested: list[str] = []

    def guard(where: str, real: Any) -> Any:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if (task := _running_task()) is not None:
                nested.append(f"{where} inside {task.get_coro()!r}")
                raise AssertionError(f"{where} opened a modal loop inside an asyncio task")
            return real(*args, **kwargs)
        return guarded

    for cls, name in _NESTING_METHODS:
        monkeypatch.setattr(cls, name, guard(f"{cls.__name__}.{name}", getattr(cls, name)))
    for cls, name in _NESTING_STATICS:
        monkeypatch.setattr(cls, name, staticmethod(
            guard(f"{cls.__name__}.{name}", getattr(cls, name))))
    yield nested
    assert not nested, f"modal dialogs opened inside asyncio tasks: {nested}"


#: Button words that do not say what pressing them does (issue 12.14): a question's
#: affirmative names its verb ("Remove", "Rename", "Save"); Cancel and Close may stay.
VAGUE_BUTTONS = frozenset({"Yes", "No", "OK", "Ok", "Yes to All", "No to All", "Apply"})


def vague_buttons(dialog: QDialog) -> list[str]:
    """The buttons of ``dialog`` (its button boxes') that read Yes, No or OK."""
    return [text for box in dialog.findChildren(QDialogButtonBox) for button in box.buttons()
            if (text := button.text().replace("&", "")) in VAGUE_BUTTONS]


@pytest.fixture(autouse=True)
def confirmations_name_their_verb(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any test in which a dialog or question is shown with a Yes, No or OK button.

    Every dialog the app opens goes through ``open()`` or ``show()``; the buttons are
    there by then.  What is shown is recorded, not refused, so the app goes on as it
    would, and the test fails at its end.
    """
    vague: list[str] = []

    def check(real: Any) -> Any:
        def checked(self: QDialog, *args: Any, **kwargs: Any) -> Any:
            if found := vague_buttons(self):
                vague.append(f"{self.objectName() or type(self).__name__}"
                             f" ({self.windowTitle()!r}): {found}")
            return real(self, *args, **kwargs)
        return checked

    for cls, name in ((QDialog, "open"), (QDialog, "show"), (QMessageBox, "open")):
        monkeypatch.setattr(cls, name, check(getattr(cls, name)))
    yield vague
    assert not vague, f"dialogs with Yes/No/OK instead of their verb: {vague}"


def shown_box(name: str) -> QMessageBox | None:
    """The open question box with this object name (see app.widgets.ask), if any."""
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.objectName() == name \
                and widget.isVisible():
            return widget
    return None


def answer(qtbot: QtBot, name: str, button: str, *, tick: bool | None = None,
           timeout: int | None = None) -> str:
    """Wait for the question ``name``, optionally set its check box, press ``button``
    (its verb, or "Cancel"); returns the question's text.  ``timeout``: ``wait_ms(…)``."""
    qtbot.waitUntil(lambda: shown_box(name) is not None,
                    timeout=wait_ms(20) if timeout is None else timeout)
    box = shown_box(name)
    assert box is not None
    text = box.text()
    if tick is not None:
        box.checkBox().setChecked(tick)
    labels = [b.text().replace("&", "") for b in box.buttons()]
    assert button in labels, f"{button!r} is not among {labels}"
    box.buttons()[labels.index(button)].click()
    return text


@pytest.fixture(autouse=True)
def engine_probes_scaled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switcher gives an engine PROBE_SECONDS to answer; on a busy CI machine a
    healthy engine can take longer, and would be listed as unreachable."""
    import app.engine_switch

    monkeypatch.setattr(app.engine_switch, "PROBE_SECONDS",
                        seconds(app.engine_switch.PROBE_SECONDS))
