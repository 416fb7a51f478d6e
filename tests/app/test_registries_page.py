"""The Registries page in the real window, against a real loopback registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.pages.registries import RegistriesPage, TagRow
from tests.app.test_pull_build import open_window
from tests.conftest import EngineUnderTest
from tests.credential_helper import CredentialHelper
from tests.engine.test_build import _free_port
from tests.engine.test_registry import (  # noqa: F401  (fixtures)
    PASSWORD,
    LoopbackRegistry,
    basic_registry,
    docker_home,
    loopback,
)
from tests.waits import wait_ms


def _rows(page: RegistriesPage) -> dict[str, TagRow]:
    return {row.tag: row for row in page.tags.items()}


def test_browse_a_registry_and_pull_a_tag(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    loopback: LoopbackRegistry,  # noqa: F811
) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    page = window.registries_page
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    page.address.setText(f"{loopback.address}/dockyard/alpha")
    with qtbot.waitSignal(page.loaded, timeout=wait_ms(60),
                          check_params_cb=lambda what: what.endswith("/dockyard/alpha")):
        page.browse_button.click()
    names = {r.name for r in page.repositories.items()}
    assert {"dockyard/alpha", "dockyard/beta"} <= names
    assert page.chosen_repository() == "dockyard/alpha"
    rows = _rows(page)
    assert set(rows) == {"v1", "v2"}
    for pushed in loopback.pushed[:2]:
        row = page.tags_table.model().index(
            [page.tags_table.model().index(r, 0).data() for r in range(2)].index(pushed.tag), 1)
        assert row.data() == pushed.digest[7:19]  # what a user reads in the Digest column
        info = rows[pushed.tag].info
        assert info is not None and info.digest == pushed.digest
        assert info.platforms == (pushed.platform,)
    assert page.status.text() == "2 tags in dockyard/alpha."
    assert not page.pull_button.isEnabled()

    # Another repository, then pull its tag through the engine, with the usual activity.
    beta = loopback.pushed[2]
    docker_engine.cli("rmi", beta.reference)
    with qtbot.waitSignal(page.loaded, timeout=wait_ms(60)):
        page._open_repository("dockyard/beta")
    page.tags_table.selectRow(0)
    assert page.pull_button.isEnabled()
    page.pull_button.click()
    [activity] = window.activity.activities()
    qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(60))
    assert activity.succeeded, activity.status.text()
    assert docker_engine.cli("image", "inspect", "--format", "{{index .RepoDigests 0}}",
                             beta.reference) == beta.repo_digest


@pytest.mark.parametrize("typed", ["unreachable", "bad"])
def test_failures_are_one_line_on_the_page(qtbot: QtBot, make_session,
                                           docker_engine: EngineUnderTest, typed: str) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    page = window.registries_page
    messages: list[str] = []
    window.session.message.connect(lambda _level, text: messages.append(text))
    address = f"127.0.0.1:{_free_port()}"
    page.address.setText(address if typed == "unreachable" else "http://x")
    page.browse_button.click()
    if typed == "bad":
        assert page.status.text() == "Give a registry address without a scheme: 'http://x'."
        assert messages == []
        return
    qtbot.waitUntil(lambda: bool(messages), timeout=wait_ms(30))
    assert messages == [f"Could not browse {address}: cannot reach {address}: connection refused"]
    assert page.status.text() == f"Cannot reach {address}: connection refused."
    assert page.repositories.rowCount() == 0


def test_log_in_save_it_in_the_credential_store_and_log_out(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    basic_registry: str, docker_home: Path,  # noqa: F811
) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    page = window.registries_page
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    messages: list[str] = []
    window.session.message.connect(lambda _level, text: messages.append(text))
    page.address.setText(basic_registry)
    page.browse_button.click()
    qtbot.waitUntil(lambda: page.login_button.isVisible(), timeout=wait_ms(30))
    assert page.status.text() == f"{basic_registry} needs a login (docker login {basic_registry})."

    page.login_button.click()
    dialog = page.login_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.save.text() == \
        "Save as docker login does (in the credential helper docker-credential-dyreg)"
    dialog.username.setText("ann")
    dialog.password.setText(PASSWORD)
    dialog.save.setChecked(True)
    with qtbot.waitSignal(page.loaded, timeout=wait_ms(30)):
        dialog.accept()
    assert [r.name for r in page.repositories.items()] == ["dockyard/private"]
    assert not page.login_button.isVisible()
    qtbot.waitUntil(lambda: any(m.startswith("Saved") for m in messages), timeout=wait_ms(10))
    assert "Saved the login in the credential helper docker-credential-dyreg" in messages
    helper = CredentialHelper("dyreg", docker_home.parent.parent / "bin" / "dyreg-logins.json")
    assert helper.logins() == {basic_registry: {"Username": "ann", "Secret": PASSWORD}}
    assert PASSWORD not in (docker_home / "config.json").read_text()
    assert not any(PASSWORD in m for m in messages)

    page.logout_button.click()
    qtbot.waitUntil(lambda: any(m.startswith("Removed") for m in messages),
                    timeout=wait_ms(10))
    assert f"Removed the login for {basic_registry} from the credential helper" \
        " docker-credential-dyreg" in messages
    assert helper.logins() == {}
    assert json.loads((docker_home / "config.json").read_text()) == {
        "credsStore": "dyreg", "auths": {}}
    page.browse_button.click()  # the login typed on the page is forgotten too
    qtbot.waitUntil(lambda: page.login_button.isVisible(), timeout=wait_ms(30))
