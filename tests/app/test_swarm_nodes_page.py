"""The Swarm page's Nodes, Stacks and Secrets & configs tabs, and its init button, against
private dockerds (the one-node swarm, and a fresh one in no swarm); never the main engine."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

import engine
from app.pages.swarm_nodes import LabelsDialog
from tests.app.conftest import answer
from tests.app.test_swarm_page import cell, open_swarm
from tests.conftest import LABEL, RUN_ID, EngineUnderTest, SwarmUnderTest, unique_name
from tests.swarm_dockerd import free_port
from tests.waits import wait_ms


def node_running(page) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in page.sections.nodes.tasks_model.items()
               if r.task.state == "running" and r.task.desired_state == "running")


def choose(combo, text: str) -> None:  # type: ignore[no-untyped-def]
    """What picking an entry of the drop-down does (``activated`` is the user's choice)."""
    index = combo.findText(text)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_draining_a_node_shows_its_tasks_leave_and_come_back(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("drain")
    swarm_engine.cli("service", "create", "--detach", "--name", name, "--replicas", "2",
                     "--label", LABEL, swarm_engine.image, "sleep", "3600")
    page = open_swarm(qtbot, make_session, swarm_engine)
    nodes = page.sections.nodes
    page.sections.setCurrentWidget(nodes)
    qtbot.waitUntil(lambda: nodes.model.row_of(swarm_engine.node_id) is not None
                    and node_running(page) >= 2, timeout=wait_ms(60))
    node = swarm_engine.node_id
    assert cell(nodes.model, node, "Role") == "manager"
    assert cell(nodes.model, node, "Manager") == "Leader"
    assert cell(nodes.model, node, "Status") == "ready"
    assert cell(nodes.model, node, "Engine")
    assert float(cell(nodes.model, node, "CPUs")) > 0
    assert nodes.availability.currentText() == "active"
    try:
        choose(nodes.availability, "drain")
        text = answer(qtbot, "swarm-drain-question", "Drain")
        assert "Its running tasks (" in text and ") stop here" in text
        qtbot.waitUntil(lambda: cell(nodes.model, node, "Availability") == "drain"
                        and node_running(page) == 0, timeout=wait_ms(60))
        assert "0 running" in nodes.tasks_title.text()
        assert any(r.service == name and r.task.desired_state == "shutdown"
                   for r in nodes.tasks_model.items())  # the tasks that left, by service
    finally:
        choose(nodes.availability, "active")
    qtbot.waitUntil(lambda: cell(nodes.model, node, "Availability") == "active"
                    and node_running(page) >= 2, timeout=wait_ms(60))
    assert swarm_engine.cli("node", "inspect", "--format", "{{.Spec.Availability}}",
                            "self") == "active"
    # The same from the command palette: it asks first, and Cancel changes nothing.
    commands = {a.text(): a for a in page.palette_commands()}
    assert {"Drain the selected node", "Edit the selected node's labels…",
            "Remove the selected stack…", "Show the swarm's nodes"} <= set(commands)
    commands["Drain the selected node"].trigger()
    answer(qtbot, "swarm-drain-question", "Cancel")
    assert cell(nodes.model, node, "Availability") == "active"


def test_a_node_label_is_edited_in_the_window(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest) -> None:  # type: ignore[no-untyped-def]
    page = open_swarm(qtbot, make_session, swarm_engine)
    nodes = page.sections.nodes
    page.sections.setCurrentWidget(nodes)
    qtbot.waitUntil(lambda: nodes.selected() is not None, timeout=wait_ms(30))
    try:
        qtbot.mouseClick(nodes.labels_button, Qt.MouseButton.LeftButton)
        dialog = next(w for w in QApplication.topLevelWidgets()
                      if isinstance(w, LabelsDialog) and w.isVisible())
        dialog.editor.setPlainText("=nameless")
        save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
        assert dialog.isVisible() and "needs a name" in dialog.error.text()
        dialog.editor.setPlainText(f"zone={RUN_ID}\nssd")
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: f"zone={RUN_ID}" in cell(nodes.model, swarm_engine.node_id,
                                                         "Labels"), timeout=wait_ms(30))
        assert swarm_engine.cli("node", "inspect", "--format", "{{json .Spec.Labels}}",
                                "self") == f'{{"ssd":"","zone":"{RUN_ID}"}}'
    finally:
        swarm_engine.cli("node", "update", "--label-rm", "zone", "--label-rm", "ssd",
                         swarm_engine.node_id, check=False)


def test_stacks_secrets_and_configs_and_a_stack_removed(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest,  # type: ignore[no-untyped-def]
        tmp_path: Path) -> None:
    stack = unique_name("stk")
    ns = f"{engine.STACK_NAMESPACE_LABEL}={stack}"
    cli = swarm_engine.cli
    (tmp_path / "data").write_text(f"password-{RUN_ID}")
    cli("network", "create", "--driver", "overlay", "--label", ns, "--label", LABEL,
        f"{stack}_default")
    cli("secret", "create", "--label", ns, "--label", LABEL, f"{stack}_pw",
        str(tmp_path / "data"))
    cli("config", "create", "--label", ns, "--label", LABEL, f"{stack}_conf",
        str(tmp_path / "data"))
    try:
        for part in ("web", "db"):
            cli("service", "create", "--detach", "--name", f"{stack}_{part}", "--label", ns,
                "--label", LABEL, "--network", f"{stack}_default", "--secret", f"{stack}_pw",
                "--config", f"{stack}_conf", swarm_engine.image, "sleep", "3600")
        page = open_swarm(qtbot, make_session, swarm_engine)
        stacks, objects = page.sections.stacks, page.sections.objects
        page.sections.setCurrentWidget(objects)
        users = f"{stack}_db, {stack}_web"
        qtbot.waitUntil(lambda: objects.model.row_of(f"secret:{secret_id(cli, stack)}")
                        is not None, timeout=wait_ms(30))
        key = f"secret:{secret_id(cli, stack)}"
        qtbot.waitUntil(lambda: cell(objects.model, key, "Used by") == users,
                        timeout=wait_ms(30))
        assert cell(objects.model, key, "Name") == f"{stack}_pw"
        assert cell(objects.model, key, "Stack") == stack
        config_key = f"config:{cli('config', 'inspect', '--format', '{{.ID}}', f'{stack}_conf')}"
        assert cell(objects.model, config_key, "Used by") == users
        shown = [objects.model.index(r, c).data() for r in range(objects.model.rowCount())
                 for c in range(objects.model.columnCount())]
        assert not any(f"password-{RUN_ID}" in str(s) for s in shown)

        page.sections.setCurrentWidget(stacks)
        qtbot.waitUntil(lambda: stacks.model.row_of(stack) is not None
                        and cell(stacks.model, stack, "Tasks") == "2/2", timeout=wait_ms(60))
        assert cell(stacks.model, stack, "Services") == "2"
        stacks.table.selectRow(stacks.model.row_of(stack) or 0)
        assert stacks.remove_button.isEnabled()
        qtbot.mouseClick(stacks.remove_button, Qt.MouseButton.LeftButton)
        text = answer(qtbot, "swarm-stack-remove-question", "Remove stack")
        assert f"{stack}_web" in text and ns in text
        qtbot.waitUntil(lambda: stacks.model.row_of(stack) is None
                        and objects.model.row_of(key) is None, timeout=wait_ms(60))
        assert cli("service", "ls", "-q", "--filter", f"label={ns}") == ""
        assert cli("secret", "ls", "-q", "--filter", f"label={ns}") == ""
        assert cli("config", "ls", "-q", "--filter", f"label={ns}") == ""
    finally:
        cli("service", "rm", f"{stack}_web", f"{stack}_db", check=False)
        cli("secret", "rm", f"{stack}_pw", check=False)
        cli("config", "rm", f"{stack}_conf", check=False)
        cli("network", "rm", f"{stack}_default", check=False)


def secret_id(cli, stack: str) -> str:  # type: ignore[no-untyped-def]
    return str(cli("secret", "inspect", "--format", "{{.ID}}", f"{stack}_pw", check=False))


def test_init_a_swarm_from_the_window_on_a_fresh_engine(
        qtbot: QtBot, make_session, plain_dockerd: EngineUnderTest) -> None:  # type: ignore[no-untyped-def]
    page = open_swarm(qtbot, make_session, plain_dockerd)
    qtbot.waitUntil(lambda: page.init_panel.isVisibleTo(page), timeout=wait_ms(30))
    assert "Not a swarm manager" in page.message.text()
    assert not page.table.isVisibleTo(page)
    panel = page.init_panel
    panel.advertise.setText("127.0.0.1")
    panel.listen.setText(f"127.0.0.1:{free_port()}")
    try:
        assert [a.text() for a in page.palette_commands()] == [
            "Initialise a swarm on this engine…"]
        page.palette_commands()[0].trigger()
        answer(qtbot, "swarm-init-question", "Cancel")
        qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
        text = answer(qtbot, "swarm-init-question", "Cancel")
        assert "becomes the <b>manager</b>" in text and "127.0.0.1" in text
        assert "docker swarm leave --force" in text
        assert plain_dockerd.cli("info", "--format", "{{.Swarm.LocalNodeState}}") == "inactive"

        qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
        answer(qtbot, "swarm-init-question", "Initialise swarm")
        qtbot.waitUntil(lambda: page.table.isVisibleTo(page), timeout=wait_ms(60))
        assert not panel.isVisibleTo(page) and not page.message.isVisibleTo(page)
        assert "Swarm manager" in page.status.text()
        nodes = page.sections.nodes
        qtbot.waitUntil(lambda: "docker swarm join --token" in nodes.join.text(),
                        timeout=wait_ms(30))
        token = plain_dockerd.cli("swarm", "join-token", "-q", "worker")
        assert token in nodes.join.text()
        assert plain_dockerd.cli("info", "--format", "{{.Swarm.ControlAvailable}}") == "true"
    finally:
        plain_dockerd.cli("swarm", "leave", "--force", check=False)


def join_as_worker(manager: SwarmUnderTest, worker: EngineUnderTest) -> str:
    """Join the fresh dockerd to the test swarm as a worker; returns its node ID."""
    token = manager.cli("swarm", "join-token", "-q", "worker")
    address = manager.cli("info", "--format",
                          "{{range .Swarm.RemoteManagers}}{{.Addr}}{{end}}")
    worker.cli("swarm", "join", "--token", token, "--listen-addr", f"127.0.0.1:{free_port()}",
               "--advertise-addr", "127.0.0.1", address)
    return worker.cli("info", "--format", "{{.Swarm.NodeID}}")


def test_a_drained_worker_s_task_moves_to_the_manager_and_the_worker_says_what_it_is(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest,  # type: ignore[no-untyped-def]
        plain_dockerd: EngineUnderTest) -> None:
    worker_id = join_as_worker(swarm_engine, plain_dockerd)
    name = unique_name("spread")
    try:
        # The swarm spreads a service's tasks over its nodes: one on each.
        swarm_engine.cli("service", "create", "--detach", "--name", name, "--replicas", "2",
                         "--label", LABEL, swarm_engine.image, "sleep", "3600")
        page = open_swarm(qtbot, make_session, swarm_engine)
        nodes = page.sections.nodes
        page.sections.setCurrentWidget(nodes)
        qtbot.waitUntil(lambda: nodes.model.row_of(worker_id) is not None
                        and cell(nodes.model, worker_id, "Status") == "ready",
                        timeout=wait_ms(60))
        assert cell(nodes.model, worker_id, "Role") == "worker"
        assert cell(nodes.model, worker_id, "Manager") == ""

        def on(node: str) -> int:
            view = page.view
            return 0 if view is None else sum(
                1 for t in view.tasks if t.node_id == node and t.live and t.state == "running")

        qtbot.waitUntil(lambda: on(worker_id) == 1 and on(swarm_engine.node_id) == 1,
                        timeout=wait_ms(90))
        nodes.table.selectRow(nodes.model.row_of(worker_id) or 0)
        qtbot.waitUntil(lambda: node_running(page) == 1, timeout=wait_ms(10))
        choose(nodes.availability, "drain")
        answer(qtbot, "swarm-drain-question", "Drain")
        # The worker's task stops and a new one starts on the manager, in the window.
        qtbot.waitUntil(lambda: cell(nodes.model, worker_id, "Availability") == "drain"
                        and node_running(page) == 0 and on(swarm_engine.node_id) == 2,
                        timeout=wait_ms(90))
        assert "0 running" in nodes.tasks_title.text()
        nodes.table.selectRow(nodes.model.row_of(swarm_engine.node_id) or 0)
        assert node_running(page) == 2 and "2 running" in nodes.tasks_title.text()
        nodes.table.selectRow(nodes.model.row_of(worker_id) or 0)
        choose(nodes.availability, "active")
        qtbot.waitUntil(lambda: cell(nodes.model, worker_id, "Availability") == "active",
                        timeout=wait_ms(30))
        assert on(swarm_engine.node_id) == 2  # a swarm does not move running tasks back
        # A task that starts on the worker has no event on the manager: the page looks
        # again while one is on its way.
        swarm_engine.cli("service", "scale", "--detach", f"{name}=3")
        qtbot.waitUntil(lambda: node_running(page) == 1 and on(worker_id) == 1,
                        timeout=wait_ms(60))

        # The worker's own window says what it is and where its manager is.
        worker_page = open_swarm(qtbot, make_session, plain_dockerd)
        qtbot.waitUntil(lambda: worker_page.message.isVisibleTo(worker_page),
                        timeout=wait_ms(30))
        text = worker_page.message.text()
        assert "This engine is a swarm worker" in text and worker_id in text
        assert "127.0.0.1:" in text  # the manager to connect to
        assert not worker_page.init_panel.isVisibleTo(worker_page)
    finally:
        swarm_engine.cli("service", "rm", name, check=False)
        plain_dockerd.cli("swarm", "leave", "--force", check=False)
        swarm_engine.cli("node", "update", "--availability", "active", worker_id, check=False)
        swarm_engine.cli("node", "rm", "--force", worker_id, check=False)
