"""Questions never nest Qt's loop inside a task (issue 12.1), and name their verb."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.session import EngineSession
from app.settings import CONFIRM_REMOVE, Settings
from app.widgets.ask import ask
from app.widgets.settings_dialog import SettingsDialog
from tests.app.conftest import answer, await_in_qt, shown_box, wait_connected
from tests.conftest import EngineUnderTest
from tests.waits import wait_ms


def test_a_modal_box_inside_a_task_is_refused_and_fails_the_test(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, no_modal_dialog_inside_a_task: list[str],
) -> None:
    async def nests() -> None:
        QMessageBox.question(None, "Nested", "Would this freeze the window?")

    with pytest.raises(AssertionError, match="modal loop inside an asyncio task"):
        await_in_qt(qtbot, nests())
    assert len(no_modal_dialog_inside_a_task) == 1
    no_modal_dialog_inside_a_task.clear()  # seen; the guard itself is what is tested here


def test_a_yes_no_question_fails_the_test(
    qtbot: QtBot, confirmations_name_their_verb: list[str],
) -> None:
    """The guard every app test runs under: a box saying Yes/No instead of its verb."""
    parent = QWidget()
    qtbot.addWidget(parent)
    box = QMessageBox(QMessageBox.Icon.Question, "Remove", "Remove 2 things?",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setObjectName("vague-question")
    box.open()
    box.close()
    assert confirmations_name_their_verb == ["vague-question ('Remove'): ['Yes', 'No']"]
    confirmations_name_their_verb.clear()  # seen; the guard itself is what is tested here


def test_ask_returns_at_once_and_acts_only_on_its_verb(qtbot: QtBot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    said: list[str] = []
    box = ask(parent, "Remove things", "Remove 2 things?", "Remove",
              lambda: said.append("removed"), name="things-confirm")
    assert box.isVisible()  # open() returned, no nested loop
    assert [b.text() for b in box.buttons()] == ["Remove", "Cancel"]
    assert box.defaultButton().text() == "Cancel"  # Enter never destroys
    answer(qtbot, "things-confirm", "Cancel")
    assert said == []
    ask(parent, "Remove things", "Remove 2 things?", "Remove",
        lambda: said.append("removed"), name="things-confirm")
    answer(qtbot, "things-confirm", "Remove")
    assert said == ["removed"]
    qtbot.waitUntil(lambda: shown_box("things-confirm") is None, timeout=wait_ms(5))


def test_on_done_runs_outside_the_task(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
) -> None:
    session: EngineSession = make_session(docker_engine.url)
    session.start()
    wait_connected(qtbot, session)
    seen: list[object] = []

    async def version(client: object) -> str:
        return "ok"

    session.run(version, describe="say ok",
                on_done=lambda result: seen.append((result, asyncio.current_task())))
    qtbot.waitUntil(lambda: bool(seen), timeout=wait_ms(5))
    assert seen == [("ok", None)]


def test_the_settings_dialog_saves_with_a_button_that_says_so(
    qtbot: QtBot, tmp_path: Path,
) -> None:
    """Issue 12.14: Save and Cancel, not OK and Cancel; Save keeps what was changed."""
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.open()
    box = dialog.findChild(QDialogButtonBox)
    assert sorted(b.text() for b in box.buttons()) == ["Cancel", "Save"]
    dialog.confirm.setChecked(not settings.get(CONFIRM_REMOVE))
    wanted = dialog.confirm.isChecked()
    dialog.save_button.click()
    assert settings.get(CONFIRM_REMOVE) is wanted
