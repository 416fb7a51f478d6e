"""The Swarm page against real engines: the private swarm (a manager), the main engine (in
no swarm) and Podman (no Swarm at all)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.pages.swarm import SwarmPage
from app.session import EngineSession
from tests.app.conftest import wait_connected
from tests.conftest import LABEL, EngineUnderTest, SwarmUnderTest, unique_name
from tests.waits import wait_ms


def open_swarm(qtbot: QtBot, make_session, target: EngineUnderTest) -> SwarmPage:  # type: ignore[no-untyped-def]
    session: EngineSession = make_session(target.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()  # as a user sees it: the page polls a multi-node swarm only when shown
    session.start()
    wait_connected(qtbot, session)
    page = window.page(SwarmPage)
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    return page


def cell(model, key: str, column: str) -> str:  # type: ignore[no-untyped-def]
    row = model.row_of(key)
    assert row is not None, f"{key} is not listed"
    titles = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    return str(model.index(row, titles.index(column)).data())


def running_tasks(page: SwarmPage) -> int:
    return sum(1 for t in page.tasks_model.items()
               if t.state == "running" and t.desired_state == "running")


def test_services_and_their_tasks_follow_the_swarm(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest) -> None:  # type: ignore[no-untyped-def]
    page = open_swarm(qtbot, make_session, swarm_engine)
    ModelTester(qtbot).check(page.model)
    qtbot.waitUntil(lambda: page.view is not None, timeout=wait_ms(30))
    assert page.table.isVisibleTo(page) and not page.message.isVisibleTo(page)
    assert swarm_engine.node_id[:12] in page.status.text()

    name = unique_name("page")
    service_id = swarm_engine.cli("service", "create", "--detach", "--name", name,
                                  "--replicas", "2", "--label", LABEL, swarm_engine.image,
                                  "sleep", "3600")
    qtbot.waitUntil(lambda: page.model.row_of(service_id) is not None
                    and cell(page.model, service_id, "Replicas") == "2/2", timeout=wait_ms(60))
    assert cell(page.model, service_id, "Name") == name
    assert cell(page.model, service_id, "Mode") == "replicated 2"
    assert cell(page.model, service_id, "Image") == swarm_engine.image
    page.search.setText(name)
    page.table.selectRow(0)
    qtbot.waitUntil(lambda: running_tasks(page) == 2, timeout=wait_ms(30))
    assert page.tasks_title.text() == f"Tasks of {name}"

    swarm_engine.cli("service", "scale", "--detach", f"{name}=3")
    qtbot.waitUntil(lambda: cell(page.model, service_id, "Replicas") == "3/3"
                    and running_tasks(page) == 3, timeout=wait_ms(60))
    assert page.replicas.value() == 3


def test_the_window_scales_a_service_and_rolls_it_back(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("roll")
    service_id = swarm_engine.cli("service", "create", "--detach", "--name", name,
                                  "--replicas", "1", "--label", LABEL, swarm_engine.image,
                                  "sleep", "3600")
    page = open_swarm(qtbot, make_session, swarm_engine)
    qtbot.waitUntil(lambda: page.model.row_of(service_id) is not None
                    and cell(page.model, service_id, "Replicas") == "1/1", timeout=wait_ms(60))
    page.search.setText(name)
    page.table.selectRow(0)
    assert not page.rollback_button.isEnabled()  # nothing to go back to yet
    page.replicas.setValue(3)
    qtbot.mouseClick(page.scale_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(page.model, service_id, "Replicas") == "3/3"
                    and running_tasks(page) == 3, timeout=wait_ms(60))
    assert cell(page.model, service_id, "Mode") == "replicated 3"
    assert swarm_engine.cli("service", "inspect", "--format",
                            "{{.Spec.Mode.Replicated.Replicas}}", name) == "3"

    qtbot.waitUntil(page.rollback_button.isEnabled, timeout=wait_ms(10))
    qtbot.mouseClick(page.rollback_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(page.model, service_id, "Replicas") == "1/1"
                    and running_tasks(page) == 1, timeout=wait_ms(60))
    assert cell(page.model, service_id, "Update") == "rollback completed"
    assert page.replicas.value() == 1
    swarm_engine.cli("service", "rm", name)
    qtbot.waitUntil(lambda: page.model.row_of(service_id) is None, timeout=wait_ms(30))


def test_an_engine_in_no_swarm_says_how_to_start_one(
        qtbot: QtBot, make_session, docker_engine: EngineUnderTest) -> None:  # type: ignore[no-untyped-def]
    page = open_swarm(qtbot, make_session, docker_engine)
    qtbot.waitUntil(lambda: page.message.isVisibleTo(page), timeout=wait_ms(30))
    text = page.message.text()
    assert "Not a swarm manager" in text and "docker swarm init" in text
    assert not page.table.isVisibleTo(page)


def test_podman_says_it_has_no_swarm(
        qtbot: QtBot, make_session, podman_engine: EngineUnderTest) -> None:  # type: ignore[no-untyped-def]
    page = open_swarm(qtbot, make_session, podman_engine)
    qtbot.waitUntil(lambda: page.message.isVisibleTo(page), timeout=wait_ms(30))
    assert "Podman has no Swarm" in page.message.text()


def test_the_last_update_is_said_once() -> None:
    """The daemon's message is shown when it says more than the state, not repeated."""
    import engine
    from app.pages.swarm import detail

    raw = {"ID": "abc", "Spec": {"Name": "web", "Mode": {"Replicated": {"Replicas": 1}},
                                 "TaskTemplate": {"ContainerSpec": {"Image": "busybox:latest"}}},
           "UpdateStatus": {"State": "rollback_completed", "Message": "rollback completed"}}
    assert detail(engine.Service.from_api(raw)).endswith("last update: rollback completed")
    raw["UpdateStatus"] = {"State": "paused", "Message": "update paused due to failure"}
    assert detail(engine.Service.from_api(raw)).endswith(
        "last update: paused (update paused due to failure)")
