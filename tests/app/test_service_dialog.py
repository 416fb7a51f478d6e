"""Creating and updating services from the window, against the private swarm (real engine):
the dialogs, the services list, the daemon's own inspect, and the command palette."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPlainTextEdit, QWidget
from pytestqt.qtbot import QtBot

import engine
from app.pages.service_dialog import ServiceCreateDialog, ServiceUpdateDialog
from app.pages.swarm import SwarmPage
from tests.app.test_swarm_page import cell, open_swarm, running_tasks
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, SwarmUnderTest, unique_name
from tests.engine.test_swarm_spec import await_volume_gone
from tests.waits import wait_ms

SWARM_COMMANDS = {"Swarm: Create service…", "Swarm: Scale", "Swarm: Update image…",
                  "Swarm: Roll back", "Swarm: Remove…"}


def palette_run(page: SwarmPage, qtbot: QtBot, query: str, expected: str) -> None:
    """Type ``query`` into the command palette and run its first match, ``expected``."""
    palette = page.window().open_palette()  # type: ignore[attr-defined]
    qtbot.keyClicks(palette.query, query)
    assert palette.labels()[0] == expected
    qtbot.keyClick(palette.query, Qt.Key.Key_Return)


def shot(widget: QWidget, name: str) -> None:
    """With DOCKYARD_SHOTS set, save what the widget shows now (for the README)."""
    shots = os.environ.get("DOCKYARD_SHOTS")
    if shots:
        widget.grab().save(str(Path(shots) / f"{name}.png"))


def test_the_create_dialog_builds_its_spec_and_says_the_first_problem(
        qtbot: QtBot, tmp_path: Path) -> None:
    """No engine needed: what the fields make, and what stops Create (fast tier)."""
    from app.session import EngineSession

    dialog = ServiceCreateDialog(EngineSession(f"unix://{tmp_path}/none.sock"),
                                 published=lambda: {(8080, "tcp"): "web"})
    qtbot.addWidget(dialog)
    assert dialog.problem() == "Give an image, e.g. nginx:1.27"
    dialog.image.setText("nginx:1.27")
    dialog.mode.setCurrentText("global")
    assert not dialog.replicas.isEnabled()
    dialog.ports.setPlainText("9090:90/udp")
    dialog.cpu_limit.setText("1")
    dialog.memory_reservation.setText("32m")
    dialog.restart_delay.setText("")
    spec = dialog.spec()
    assert (spec.replicas, spec.ports, spec.cpu_limit, spec.memory_reservation) == (
        None, (engine.ServicePort(90, 9090, "udp"),), 10**9, 32 << 20)
    assert spec.restart == engine.RestartSpec("any", 5 * 10**9, 0)
    assert spec.update == engine.UpdatePolicy(1, 0, "pause", "stop-first")
    for field, text, problem in (
            (dialog.name, "web.1", "'web.1' is no service name"),
            (dialog.cpu_reservation, "2", "The CPU reservation is more than its limit"),
            (dialog.ports, "8080:80", "Port 8080/tcp is already published by the service web"),
            (dialog.mounts, "data:relative", "Mounts line 1: The path in the container must"),
            (dialog.restart_delay, "5", "Restart delay must be a duration")):
        before = field.toPlainText() if isinstance(field, QPlainTextEdit) else field.text()
        field.setPlainText(text) if isinstance(field, QPlainTextEdit) else field.setText(text)
        assert dialog.problem().startswith(problem), dialog.problem()
        assert not dialog.accept_button.isEnabled()
        field.setPlainText(before) if isinstance(field, QPlainTextEdit) else field.setText(before)
        assert dialog.problem() == ""


def ready(qtbot: QtBot, page: SwarmPage) -> None:
    qtbot.waitUntil(lambda: page.view is not None and page.view.state.control_available,
                    timeout=wait_ms(30))


def test_create_a_service_with_every_option_from_the_dialog(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest) -> None:  # type: ignore[no-untyped-def]
    page = open_swarm(qtbot, make_session, swarm_engine)
    ready(qtbot, page)
    dialog = page.open_create()
    assert isinstance(dialog, ServiceCreateDialog) and dialog.isVisible()
    assert not dialog.accept_button.isEnabled()  # no image yet
    name = unique_name("made")
    # The engine's images are offered as the image is typed.
    qtbot.waitUntil(lambda: swarm_engine.image in dialog.image_completer.choices(),
                    timeout=wait_ms(30))
    dialog.image.setText(swarm_engine.image)
    dialog.name.setText(name)
    dialog.replicas.setValue(2)
    dialog.command.setText("sleep 3600")
    # Host-mode, no fixed number (two tasks on one node): ingress needs the host-wide vxlan
    # another swarm dockerd here may hold.
    dialog.ports.setPlainText("target=80,mode=host")
    dialog.env.setPlainText("GREETING=hello world\nMODE=test")
    dialog.mounts.setPlainText(f"{name}-data:/data\ntype=bind,source=/etc,target=/h,readonly")
    dialog.constraints.setPlainText("node.role==manager")
    dialog.labels.setPlainText(LABEL)
    dialog.cpu_limit.setText("0.5")
    dialog.memory_limit.setText("64m")
    dialog.cpu_reservation.setText("0.1")
    dialog.memory_reservation.setText("16m")
    dialog.restart_condition.setCurrentText("on-failure")
    dialog.restart_delay.setText("2s")
    dialog.restart_attempts.setValue(3)
    dialog.update_fields.parallelism.setValue(2)
    dialog.update_fields.delay.setText("10s")
    dialog.update_fields.failure_action.setCurrentText("rollback")
    dialog.update_fields.order.setCurrentText("start-first")
    assert dialog.problem() == "" and dialog.accept_button.isEnabled()
    shot(dialog, "service-create")
    with qtbot.waitSignal(dialog.succeeded, timeout=wait_ms(60)) as created:
        qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
    ident = created.args[0].id
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=wait_ms(5))

    spec = json.loads(swarm_engine.cli("service", "inspect", name))[0]["Spec"]
    task = spec["TaskTemplate"]
    assert task["ContainerSpec"]["Image"] == swarm_engine.image
    assert task["ContainerSpec"]["Args"] == ["sleep", "3600"]
    assert task["ContainerSpec"]["Env"] == ["GREETING=hello world", "MODE=test"]
    assert [(m["Type"], m["Source"], m["Target"], m.get("ReadOnly", False))
            for m in task["ContainerSpec"]["Mounts"]] == [
        ("volume", f"{name}-data", "/data", False), ("bind", "/etc", "/h", True)]
    assert task["Placement"]["Constraints"] == ["node.role==manager"]
    assert task["Resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 64 << 20}
    assert task["Resources"]["Reservations"] == {"NanoCPUs": 100_000_000,
                                                 "MemoryBytes": 16 << 20}
    assert task["RestartPolicy"] == {"Condition": "on-failure", "Delay": 2 * 10**9,
                                     "MaxAttempts": 3}
    update = spec["UpdateConfig"]
    assert (update["Parallelism"], update["Delay"], update["FailureAction"],
            update["Order"]) == (2, 10 * 10**9, "rollback", "start-first")
    assert spec["Mode"] == {"Replicated": {"Replicas": 2}}
    assert spec["Labels"] == {LABEL_KEY: RUN_ID}

    # The list row, selected once listed, with its tasks and its update policy below.
    qtbot.waitUntil(lambda: page.model.row_of(ident) is not None
                    and cell(page.model, ident, "Replicas") == "2/2", timeout=wait_ms(90))
    assert cell(page.model, ident, "Name") == name
    assert cell(page.model, ident, "Mode") == "replicated 2"
    assert cell(page.model, ident, "Image") == swarm_engine.image
    assert cell(page.model, ident, "Ports") == "80/tcp (host)"
    qtbot.waitUntil(lambda: [s.id for s in page.selected_items()] == [ident],
                    timeout=wait_ms(10))
    qtbot.waitUntil(lambda: running_tasks(page) == 2, timeout=wait_ms(30))
    assert ("Rolling updates: 2 at a time, 10s apart, on failure rollback, start-first"
            in page.detail.text())
    swarm_engine.cli("service", "rm", name)
    qtbot.waitUntil(lambda: page.model.row_of(ident) is None, timeout=wait_ms(30))
    await_volume_gone(swarm_engine, f"{name}-data")


def test_bad_input_is_one_message_in_the_dialog_and_nothing_is_lost(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest) -> None:  # type: ignore[no-untyped-def]
    taken = unique_name("taken")
    swarm_engine.cli("service", "create", "--detach", "--name", taken, "--label", LABEL,
                     "-p", "18282:80", swarm_engine.image, "sleep", "3600")
    page = open_swarm(qtbot, make_session, swarm_engine)
    ready(qtbot, page)
    palette_run(page, qtbot, "create serv", "Swarm: Create service…")
    dialog = page.findChild(ServiceCreateDialog)
    assert dialog is not None and dialog.isVisible()
    name = unique_name("clash")
    dialog.image.setText(swarm_engine.image)
    dialog.name.setText(name)
    dialog.labels.setPlainText(LABEL)
    dialog.env.setPlainText("KEEP=me")

    # Checked as typed: a constraint on no attribute Swarm knows (it would pend for ever).
    dialog.constraints.setPlainText("node.rol==manager")
    assert dialog.problem().startswith("Constraints line 1: 'node.rol' is no attribute")
    assert not dialog.accept_button.isEnabled()
    dialog.constraints.setPlainText("node.role==manager")
    dialog.update_fields.delay.setText("soon")
    assert "Update delay must be a duration" in dialog.problem()
    dialog.update_fields.delay.setText("5s")
    assert dialog.problem() == ""

    # The port is another service's: said as typed, from the live list (the engine test
    # test_bad_input_is_refused_in_one_plain_line has the daemon's own refusal of it).
    qtbot.waitUntil(lambda: any(s.name == taken for s in page.model.items()),
                    timeout=wait_ms(30))
    dialog.ports.setPlainText("18282:80 ")
    assert dialog.problem() == f"Port 18282/tcp is already published by the service {taken}"
    assert not dialog.accept_button.isEnabled()
    dialog.ports.setPlainText("18283:80/udp\n18282:80/udp")  # another protocol is free
    assert dialog.problem() == ""
    assert (dialog.name.text(), dialog.env.toPlainText()) == (name, "KEEP=me")

    # An image no node can get: Swarm would take it and fail every task.
    dialog.ports.setPlainText("")
    dialog.image.setText(f"dockyard-test/no-such-image:{RUN_ID}")
    qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "No image" in dialog.problem() and not dialog.busy,
                    timeout=wait_ms(30))
    assert dialog.problem().startswith(
        f"The engine refused: No image 'dockyard-test/no-such-image:{RUN_ID}' on this engine")
    assert dialog.isVisible() and dialog.name.text() == name
    assert swarm_engine.cli("service", "ls", "-q", "--filter", f"name={name}") == ""
    dialog.reject()


def test_rolling_image_update_then_rollback_seen_in_the_window(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest) -> None:  # type: ignore[no-untyped-def]
    newer = f"dockyard-test/busybox-next:{RUN_ID}"
    swarm_engine.cli("tag", swarm_engine.image, newer)
    name = unique_name("rolling")
    ident = swarm_engine.cli("service", "create", "--detach", "--name", name, "--label", LABEL,
                             "--replicas", "2", "--update-delay", "3s",
                             swarm_engine.image, "sleep", "3600")
    try:
        page = open_swarm(qtbot, make_session, swarm_engine)
        qtbot.waitUntil(lambda: page.model.row_of(ident) is not None
                        and cell(page.model, ident, "Replicas") == "2/2", timeout=wait_ms(90))
        assert page.select_key(ident)
        assert "Rolling updates: 1 at a time, 3s apart, on failure pause, stop-first" \
            in page.detail.text()
        labels = page.window().open_palette().labels()  # type: ignore[attr-defined]
        assert SWARM_COMMANDS - {"Swarm: Roll back"} <= set(labels)  # nothing to go back to
        assert "Swarm: Roll back" not in labels
        page.window().resize(1200, 720)
        shot(page.window(), "swarm-palette")
        page.window().palette_dialog.close_palette()  # type: ignore[attr-defined]
        palette_run(page, qtbot, "update image", "Swarm: Update image…")
        dialog = page.findChild(ServiceUpdateDialog)
        assert dialog is not None and dialog.isVisible()
        assert "Rolling updates: 1 at a time, 3s apart, on failure pause, stop-first" \
            in dialog.current.text()
        assert dialog.image.text() == swarm_engine.image
        assert dialog.update_fields.delay.text() == "3s"
        dialog.image.setText(newer)
        dialog.update_fields.failure_action.setCurrentText("rollback")
        assert dialog.problem() == ""
        assert dialog.problem_label.text() == (
            f"Rolls {name} onto {newer}: 1 at a time, 3s apart, on failure rollback,"
            " stop-first")
        shot(dialog, "service-update")

        seen: set[str] = set()

        def update_seen() -> str:
            state = cell(page.model, ident, "Update")
            seen.add(state)
            return state

        page.model.dataChanged.connect(lambda *_: update_seen())
        with qtbot.waitSignal(dialog.succeeded, timeout=wait_ms(60)):
            qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
        # Live while it rolls (3 s between the two tasks), then done.
        qtbot.waitUntil(lambda: update_seen() == "updating", timeout=wait_ms(60))
        page.window().resize(1200, 720)
        shot(page.window(), "swarm-updating")
        qtbot.waitUntil(lambda: update_seen() == "completed", timeout=wait_ms(120))
        assert cell(page.model, ident, "Image") == newer
        qtbot.waitUntil(lambda: running_tasks(page) == 2
                        and all(t.image.startswith(newer) for t in page.tasks_model.items()
                                if t.desired_state == "running"), timeout=wait_ms(30))
        stored = json.loads(swarm_engine.cli("service", "inspect", name))[0]["Spec"]
        assert stored["UpdateConfig"]["FailureAction"] == "rollback"
        qtbot.waitUntil(lambda: "on failure rollback" in page.detail.text(),
                        timeout=wait_ms(10))

        # Roll back from the command palette (the same action as the button).
        seen.clear()
        qtbot.waitUntil(page.rollback_button.isEnabled, timeout=wait_ms(10))
        palette_run(page, qtbot, "roll back", "Swarm: Roll back")
        qtbot.waitUntil(lambda: update_seen() == "rollback completed", timeout=wait_ms(120))
        assert cell(page.model, ident, "Image") == swarm_engine.image
        qtbot.waitUntil(lambda: running_tasks(page) == 2, timeout=wait_ms(30))
    finally:
        swarm_engine.cli("service", "rm", name, check=False)
        swarm_engine.cli("rmi", newer, check=False)


def test_a_failing_update_pauses_and_the_window_says_why(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An image whose tasks exit at once: the update pauses (failure action "pause"), the
    row says so with the daemon's reason, and Roll back brings the good image back."""
    broken = f"dockyard-test/busybox-broken:{RUN_ID}"
    (tmp_path / "Dockerfile").write_text(f'FROM {swarm_engine.image}\nENTRYPOINT ["false"]\n')
    swarm_engine.cli("build", "-q", "-t", broken, str(tmp_path))
    name = unique_name("pausing")
    ident = swarm_engine.cli("service", "create", "--detach", "--name", name, "--label", LABEL,
                             "--replicas", "1", "--update-failure-action", "pause",
                             "--update-monitor", "3s", swarm_engine.image, "sleep", "3600")
    try:
        page = open_swarm(qtbot, make_session, swarm_engine)
        qtbot.waitUntil(lambda: page.model.row_of(ident) is not None
                        and cell(page.model, ident, "Replicas") == "1/1", timeout=wait_ms(90))
        assert page.select_key(ident)
        dialog = page.open_update()
        assert isinstance(dialog, ServiceUpdateDialog)
        assert dialog.update_fields.failure_action.currentText() == "pause"
        dialog.image.setText(broken)
        with qtbot.waitSignal(dialog.succeeded, timeout=wait_ms(60)):
            qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: cell(page.model, ident, "Update") == "paused",
                        timeout=wait_ms(120))
        row = page.model.row_of(ident)
        assert row is not None
        titles = [page.model.headerData(c, Qt.Orientation.Horizontal)
                  for c in range(page.model.columnCount())]
        reason = page.model.index(row, titles.index("Update")).data(
            Qt.ItemDataRole.ToolTipRole)
        assert "update paused due to failure" in reason
        qtbot.waitUntil(lambda: "last update: paused (update paused due to failure"
                        in page.detail.text(), timeout=wait_ms(10))
        qtbot.waitUntil(page.rollback_button.isEnabled, timeout=wait_ms(10))
        qtbot.mouseClick(page.rollback_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: cell(page.model, ident, "Update") == "rollback completed"
                        and cell(page.model, ident, "Replicas") == "1/1", timeout=wait_ms(120))
        assert cell(page.model, ident, "Image") == swarm_engine.image
    finally:
        swarm_engine.cli("service", "rm", name, check=False)
        swarm_engine.cli("rmi", broken, check=False)
