"""The Apps page against real engines: a project started from a terminal, its actions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.pages.apps import AppsPage, projects_model, services_model
from app.session import EngineSession
from tests.app.conftest import answer, wait_connected
from tests.compose_helpers import ComposeUnderTest, make_project
from tests.conftest import EngineUnderTest
from tests.waits import wait_ms

WAIT = wait_ms(30)


@pytest.fixture
def project(any_engine: EngineUnderTest, tmp_path: Path) -> Iterator[ComposeUnderTest]:
    """Written but not up: the test brings it up from "a terminal" with the page open."""
    yield from make_project(any_engine, tmp_path, up=False)


def open_apps(qtbot: QtBot, make_session, target: EngineUnderTest) -> AppsPage:
    session: EngineSession = make_session(target.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()  # the Logs tab reads only while it is on screen
    session.start()
    wait_connected(qtbot, session)
    page = window.page(AppsPage)
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    return page


def cell(model, key: str, column: str) -> str:
    row = model.row_of(key)
    assert row is not None, f"{key} is not listed"
    titles = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    return str(model.index(row, titles.index(column)).data())


def select(page: AppsPage, name: str) -> None:
    page.search.setText(name)
    assert page.proxy.rowCount() == 1
    page.table.selectRow(0)


def test_a_project_from_a_terminal_appears_live_and_acts_as_one(
    qtbot: QtBot, make_session, project: ComposeUnderTest,
) -> None:
    page = open_apps(qtbot, make_session, project.target)
    name = project.name
    project.up()  # from "a terminal": docker-compose / podman-compose, not Dockyard
    qtbot.waitUntil(lambda: page.model.row_of(name) is not None, timeout=WAIT)
    qtbot.waitUntil(lambda: cell(page.model, name, "State") == "3 of 3 running", timeout=WAIT)
    assert cell(page.model, name, "Services") == "cache, web, worker"
    assert cell(page.model, name, "Working directory") == str(project.directory)
    assert cell(page.model, name, "Config files").endswith("docker-compose.yml")
    assert f"{name}_data" in cell(page.model, name, "Volumes")

    select(page, name)
    assert page.services.rowCount() == 3
    assert cell(page.services, "web", "Replicas") == "1 of 1 running"
    assert cell(page.services, "web", "Image").endswith(project.target.image)
    # Podman without systemd never runs the check (see tests/engine/test_compose.py).
    healthy = "healthy" if project.target.kind == "docker" else "starting"
    qtbot.waitUntil(lambda: cell(page.services, "web", "Health") == healthy, timeout=WAIT)
    assert cell(page.services, "cache", "Health") == "—"
    assert str(project.directory) in page.detail_title.text()
    assert f"{name}_data" in page.resources_label.text()

    # Merged logs: both services' lines, each marked with its service, in time order.
    page.tabs.setCurrentWidget(page.logs)

    def marks() -> list[str]:
        return [page.logs.source_names[e.source] for e in page.logs.model.entries]

    qtbot.waitUntil(lambda: marks().count("web") >= 5 and marks().count("worker") >= 5,
                    timeout=WAIT)
    entries = list(page.logs.model.entries)
    assert all(e.plain.split()[0] == page.logs.source_names[e.source] for e in entries)
    keys = [engine.log_since(e.stamp) for e in entries]
    assert keys == sorted(keys)
    web = next(e for e in entries if e.plain.startswith("web"))
    worker = next(e for e in entries if e.plain.startswith("worker"))
    # Each line shows "service | " in its service's own colour.
    assert page.logs.line_text(web).startswith("web    | web ")
    assert page.logs.mark(web) != page.logs.mark(worker)
    seen = len(entries)
    qtbot.waitUntil(lambda: len(page.logs.model.entries) > seen + 4, timeout=WAIT)  # follows

    page.actions_by_verb["stop"].trigger()
    assert "3 containers" in answer(qtbot, "app-stop-confirm", "Stop")
    qtbot.waitUntil(lambda: cell(page.model, name, "State") == "0 of 3 running", timeout=WAIT)
    assert set(project.ps().values()) == {"exited"}
    assert page.actions_by_verb["start"].isEnabled()
    assert not page.actions_by_verb["stop"].isEnabled()

    page.actions_by_verb["start"].trigger()
    qtbot.waitUntil(lambda: cell(page.model, name, "State") == "3 of 3 running", timeout=WAIT)
    assert set(project.ps().values()) == {"running"}

    page.actions_by_verb["remove"].trigger()
    text = answer(qtbot, "app-remove-confirm", "Remove", tick=True)
    assert "3 containers" in text and f"{name}_data" in text
    qtbot.waitUntil(lambda: page.model.row_of(name) is None, timeout=WAIT)
    assert project.ps() == {}
    # The volume goes after the containers (the row leaves with them).
    label = f"label=com.docker.compose.project={name}"
    qtbot.waitUntil(lambda: project.target.cli("volume", "ls", "-q", "--filter", label) == "",
                    timeout=WAIT)


def _container(name: str, project: str, service: str, state: str, status: str = ""
               ) -> engine.Container:
    labels = {engine.COMPOSE_PROJECT_LABEL: project, engine.COMPOSE_SERVICE_LABEL: service,
              engine.COMPOSE_NUMBER_LABEL: "1", engine.COMPOSE_WORKDIR_LABEL: "/srv",
              engine.COMPOSE_FILES_LABEL: "compose.yaml"}
    return engine.Container(name, name, "img", "sha256:x", "", datetime.now(tz=UTC), state,
                            status, labels=labels)


def test_the_app_models_pass_the_model_tester(qtmodeltester: ModelTester) -> None:
    containers = [_container(f"c{i}", f"p{i % 3}", f"s{i % 2}", "running" if i % 2 else "exited",
                             "Up 1 second (healthy)" if i % 4 == 1 else "") for i in range(9)]
    projects = engine.group_projects(containers)
    model = projects_model()
    model.set_items(projects)
    qtmodeltester.check(model)
    model.set_items(engine.group_projects(containers[3:]))
    qtmodeltester.check(model)
    services = services_model()
    services.set_items(projects[0].services)
    qtmodeltester.check(services)
    services.set_items(projects[1].services[:1])
    qtmodeltester.check(services)
