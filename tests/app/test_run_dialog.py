"""The Run… dialog: inline messages for bad input, and real runs through the session."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

import engine
from app.pages.run_dialog import RunDialog, open_run_dialog, run_one_click, run_spec
from app.resources import CONTAINERS
from app.session import EngineSession, MessageLevel
from engine._run import PortMapping, RestartPolicy, RunSpec, VolumeMapping, auto_name
from tests.app.conftest import wait_connected
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.waits import wait_ms

LABELS = {LABEL_KEY: RUN_ID}
LEFT = Qt.MouseButton.LeftButton
MakeSession = Callable[[str], EngineSession]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 held by a listening socket, as another program would hold it."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_dialog(qtbot: QtBot, image: str = "demo/busybox:1.36", **kwargs: object) -> RunDialog:
    dialog = RunDialog(image, defaults=RunSpec(image=image, labels=LABELS),
                       **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog, timeout=wait_ms(5))
    return dialog


def shown_errors(dialog: RunDialog) -> dict[str, str]:
    """Every visible problem label, by field, as the user reads them."""
    labels = dialog.findChildren(QLabel)
    return {label.objectName().removeprefix("run-").removesuffix("-error"): label.text()
            for label in labels
            if label.objectName().endswith("-error") and label.isVisible()}


def test_every_field_has_a_name_for_tests_and_screen_readers(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot)
    names = ["run-name", "run-command", "run-entrypoint", "run-ports", "run-publish-all",
             "run-env", "run-env-import", "run-volumes", "run-volumes-add-folder",
             "run-restart", "run-network", "run-auto-remove", "run-tty", "run-interactive",
             "run-accept", "run-cancel"]
    for name in names:
        widget = dialog.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name
    assert dialog.windowTitle() == "Run demo/busybox:1.36"
    assert shown_errors(dialog) == {}
    assert dialog.run_button.isEnabled()


def test_bad_input_is_marked_inline_and_run_is_disabled(
    qtbot: QtBot, taken_port: int, tmp_path: Path
) -> None:
    dialog = make_dialog(qtbot)
    qtbot.keyClicks(dialog.name, "-x")
    dialog.ports.setPlainText("8080:80\n99999:80")
    dialog.env.setPlainText("GOOD=1\n=x")
    qtbot.keyClicks(dialog.volumes, "./site:/site")
    assert shown_errors(dialog) == {
        "name": "A name must start with a letter or digit",
        "ports": "line 2: Host port must be between 1 and 65535, not 99999",
        "env": "line 2: '=x' has no variable name",
        "volumes": "line 1: The host folder must be an absolute path, not './site'",
    }
    assert not dialog.run_button.isEnabled()
    assert dialog.spec() is None

    # Run stays disabled until the last problem is gone.
    dialog.name.setText("web-1")
    dialog.env.setPlainText("GOOD=1")
    dialog.volumes.setPlainText("")
    assert not dialog.run_button.isEnabled()
    dialog.ports.setPlainText("")
    assert shown_errors(dialog) == {}
    assert dialog.run_button.isEnabled()

    # A port another program holds is found as you type, once typing pauses.
    qtbot.keyClicks(dialog.ports, f"127.0.0.1:{taken_port}:80")
    qtbot.waitUntil(lambda: "ports" in shown_errors(dialog), timeout=wait_ms(5))
    assert shown_errors(dialog) == {
        "ports": f"127.0.0.1:{taken_port} is already in use on this computer"}
    assert not dialog.run_button.isEnabled()
    dialog.ports.setPlainText(f"{taken_port}:80")
    qtbot.waitUntil(lambda: shown_errors(dialog).get("ports", "").startswith("0.0.0.0"),
                    timeout=wait_ms(5))
    assert shown_errors(dialog) == {
        "ports": f"0.0.0.0:{taken_port} is already in use on this computer"}
    # Clicking Run does nothing while a problem is shown.
    qtbot.mouseClick(dialog.run_button, LEFT)
    assert dialog.isVisible()
    assert dialog.result_spec is None

    dialog.ports.setPlainText("127.0.0.1::80")
    qtbot.waitUntil(lambda: dialog.run_button.isEnabled(), timeout=wait_ms(5))

    # Combinations the daemon would refuse, and the other single-line fields.
    dialog.restart.setCurrentText("always")
    dialog.auto_remove.setChecked(True)
    assert shown_errors(dialog) == {
        "restart": "A restart policy cannot be combined with auto-remove"}
    dialog.restart.setCurrentText("on-failure:x")
    dialog.command.setText("sh -c 'echo hi")
    assert shown_errors(dialog) == {
        "restart": "The retry count must be a number, not 'x'",
        "command": "No closing quotation in \"sh -c 'echo hi\"",
    }
    assert not dialog.run_button.isEnabled()

    # A broken .env file says which line; a good one is appended to the field.
    env_file = tmp_path / "app.env"
    env_file.write_text("# comment\nDB=db\n=oops\n")
    dialog.import_env_file(str(env_file))
    assert shown_errors(dialog)["env"] == (
        "Could not import: app.env line 3: '=oops' has no variable name")
    assert dialog.env.toPlainText() == "GOOD=1"


def test_good_input_gives_the_run_spec(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = make_dialog(qtbot, networks=["bridge", "host", "none"])
    port = free_port()
    qtbot.keyClicks(dialog.name, "web-a")
    qtbot.keyClicks(dialog.command, "sh -c 'echo $GREETING; sleep 300'")
    dialog.ports.setPlainText(f"127.0.0.1:{port}:8080\n# dns\n127.0.0.1::53/udp")
    dialog.publish_all.setChecked(True)
    env_file = tmp_path / ".env"
    env_file.write_text('GREETING="hi there"\n')
    dialog.env.setPlainText("MODE=test")
    dialog.import_env_file(str(env_file))
    assert dialog.env.toPlainText() == 'MODE=test\nGREETING="hi there"'
    dialog.volumes.setPlainText("cache:/cache:ro")
    dialog.add_folder(str(tmp_path))
    assert dialog.volumes.toPlainText() == f"cache:/cache:ro\n{tmp_path}:/mnt/{tmp_path.name}"
    assert dialog.volumes.textCursor().selectedText() == f"/mnt/{tmp_path.name}"
    dialog.restart.setCurrentText("on-failure:2")
    dialog.network.setCurrentText("bridge")
    dialog.tty.setChecked(True)
    dialog.interactive.setChecked(True)
    assert [dialog.network.itemText(i) for i in range(dialog.network.count())] == [
        "", "bridge", "host", "none"]
    assert shown_errors(dialog) == {}

    with qtbot.waitSignal(dialog.specAccepted, timeout=wait_ms(5)) as accepted:
        qtbot.mouseClick(dialog.run_button, LEFT)
    expected = RunSpec(
        image="demo/busybox:1.36",
        name="web-a",
        command=("sh", "-c", "echo $GREETING; sleep 300"),
        ports=(PortMapping("127.0.0.1", port, 8080, "tcp"),
               PortMapping("127.0.0.1", None, 53, "udp")),
        publish_all=True,
        env=("MODE=test", 'GREETING="hi there"'),
        volumes=(VolumeMapping("cache", "/cache", True),
                 VolumeMapping(str(tmp_path), f"/mnt/{tmp_path.name}", False)),
        restart=RestartPolicy("on-failure", 2),
        network="bridge",
        tty=True,
        interactive=True,
        labels=LABELS,
    )
    assert accepted.args == [expected]
    assert dialog.result_spec == expected
    assert not dialog.isVisible()


def test_names_and_ports_of_existing_containers_clash(
    qtbot: QtBot, make_session: MakeSession, any_engine: EngineUnderTest
) -> None:
    """A running container's name and published port are marked before anything is sent."""
    session: EngineSession = make_session(any_engine.url)
    session.start()
    wait_connected(qtbot, session)
    name = unique_name("clash")
    any_engine.cli("run", "-d", "--label", LABEL, "--name", name, "-p", "127.0.0.1::7000",
                   any_engine.image, "sleep", "300")
    host_port = int(any_engine.cli("port", name, "7000/tcp").splitlines()[0].rsplit(":", 1)[1])
    qtbot.waitUntil(lambda: any(c.name == name and c.running for c in session.items(CONTAINERS)),
                    timeout=wait_ms(10))
    dialog = make_dialog(qtbot, any_engine.image, containers=session.items(CONTAINERS),
                         check_host_ports=False)
    qtbot.keyClicks(dialog.name, name)
    qtbot.keyClicks(dialog.ports, f"{host_port}:80")
    qtbot.waitUntil(lambda: "ports" in shown_errors(dialog), timeout=wait_ms(5))
    assert shown_errors(dialog) == {
        "name": f"A container named {name!r} already exists",
        "ports": f"Port {host_port}/tcp is already published by container {name!r}",
    }
    assert not dialog.run_button.isEnabled()
    # The container goes away: the list update clears both problems.
    session.live(CONTAINERS).changed.connect(dialog.set_containers)
    any_engine.cli("rm", "-f", name)
    qtbot.waitUntil(lambda: shown_errors(dialog) == {}, timeout=wait_ms(10))
    assert dialog.run_button.isEnabled()


def test_accepted_spec_runs_on_the_engine(
    qtbot: QtBot, make_session: MakeSession, any_engine: EngineUnderTest
) -> None:
    session: EngineSession = make_session(any_engine.url)
    session.start()
    wait_connected(qtbot, session)
    dialog = make_dialog(qtbot, any_engine.image, containers=session.items(CONTAINERS))
    name = unique_name("dlg")
    port = free_port()
    qtbot.keyClicks(dialog.name, name)
    qtbot.keyClicks(dialog.command, "sleep 300")
    qtbot.keyClicks(dialog.ports, f"127.0.0.1:{port}:8080")
    dialog.env.setPlainText("GREETING=hello")
    dialog.restart.setCurrentText("unless-stopped")
    with qtbot.waitSignal(dialog.specAccepted, timeout=wait_ms(5)) as accepted:
        qtbot.mouseClick(dialog.run_button, LEFT)
    spec = accepted.args[0]
    assert isinstance(spec, RunSpec)

    with qtbot.waitSignal(session.message, timeout=wait_ms(30)) as reported:
        run_spec(session, spec)
    assert reported.args == [MessageLevel.INFO,
                             f"Started {name} (127.0.0.1:{port} → 8080/tcp)"]
    inspected = json.loads(any_engine.cli("inspect", name))[0]
    assert inspected["State"]["Status"] == "running"
    assert inspected["Config"]["Cmd"] == ["sleep", "300"]
    assert "GREETING=hello" in inspected["Config"]["Env"]
    assert inspected["Config"]["Labels"][LABEL_KEY] == RUN_ID
    assert inspected["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert any_engine.cli("port", name, "8080/tcp").splitlines()[0] == f"127.0.0.1:{port}"

    # The same spec again: the daemon's conflict lands in the message area.
    with qtbot.waitSignal(session.message, timeout=wait_ms(30)) as failed:
        run_spec(session, spec)
    level, text = failed.args
    assert level == MessageLevel.ERROR
    assert text.startswith(f"Could not run {any_engine.image}: ")
    assert name in text


def test_run_dialog_opens_with_one_click_defaults(
    qtbot: QtBot, make_session: MakeSession, any_engine: EngineUnderTest
) -> None:
    session: EngineSession = make_session(any_engine.url)
    session.start()
    wait_connected(qtbot, session)
    expected_name = auto_name(any_engine.image,
                              any_engine.cli("ps", "-a", "--format", "{{.Names}}").split())
    open_run_dialog(session, any_engine.image, labels=LABELS)

    def find() -> RunDialog | None:
        return next((w for w in QApplication.topLevelWidgets()
                     if isinstance(w, RunDialog) and w.isVisible()), None)

    qtbot.waitUntil(lambda: find() is not None, timeout=wait_ms(10))
    dialog = find()
    assert dialog is not None
    assert dialog.name.text() == expected_name
    # The test image's command is a bare shell: -it keeps it running detached.
    assert dialog.tty.isChecked() and dialog.interactive.isChecked()
    qtbot.waitUntil(lambda: dialog.network.findText("none") >= 0, timeout=wait_ms(10))
    assert dialog.network.findText("bridge") >= 0
    with qtbot.waitSignal(session.message, timeout=wait_ms(30)) as reported:
        qtbot.mouseClick(dialog.run_button, LEFT)
    assert reported.args == [MessageLevel.INFO, f"Started {expected_name}"]
    state = any_engine.cli("inspect", "--format", "{{.State.Status}} {{.Config.Tty}}",
                           expected_name)
    assert state == "running true"


def test_one_click_run_needs_no_dialog(
    qtbot: QtBot, make_session: MakeSession, any_engine: EngineUnderTest
) -> None:
    session: EngineSession = make_session(any_engine.url)
    session.start()
    wait_connected(qtbot, session)
    expected_name = auto_name(any_engine.image,
                              any_engine.cli("ps", "-a", "--format", "{{.Names}}").split())
    with qtbot.waitSignal(session.message, timeout=wait_ms(30)) as reported:
        run_one_click(session, any_engine.image, labels=LABELS)
    assert reported.args == [MessageLevel.INFO, f"Started {expected_name}"]
    assert any_engine.cli("inspect", "--format", "{{.State.Status}}", expected_name) == "running"
    labels = json.loads(any_engine.cli("inspect", "--format", "{{json .Config.Labels}}",
                                       expected_name))
    assert labels[LABEL_KEY] == RUN_ID


def find_run_dialog() -> RunDialog | None:
    return next((w for w in QApplication.topLevelWidgets()
                 if isinstance(w, RunDialog) and w.isVisible()), None)


def containers_named(target: EngineUnderTest, name: str) -> list[str]:
    return target.cli("ps", "-aq", "--filter", f"name=^{name}$").split()


def test_a_refused_run_keeps_the_dialog_open_with_the_daemons_words(
    qtbot: QtBot, make_session: MakeSession, any_engine: EngineUnderTest
) -> None:
    """The daemon refuses the command: its words show in the dialog, nothing typed is lost."""
    session: EngineSession = make_session(any_engine.url)
    session.start()
    wait_connected(qtbot, session)
    messages: list[tuple[object, str]] = []
    session.message.connect(lambda level, text: messages.append((level, text)))
    open_run_dialog(session, any_engine.image, labels=LABELS)
    # The dialog opens once the defaults are read from the engine (an image inspect and a
    # container list, slow on a busy Podman); a failure to read them is a message instead.
    def failed() -> list[str]:
        return [text for level, text in messages if level == MessageLevel.ERROR]

    qtbot.waitUntil(lambda: find_run_dialog() is not None or bool(failed()),
                    timeout=wait_ms(10))
    assert failed() == []
    dialog = find_run_dialog()
    assert dialog is not None
    dialog.activateWindow()
    qtbot.waitActive(dialog, timeout=wait_ms(5))
    name = unique_name("badcmd")
    dialog.name.setText(name)
    qtbot.keyClicks(dialog.command, "/nope --flag")
    dialog.env.setPlainText("KEEP=me")
    assert shown_errors(dialog) == {}

    qtbot.mouseClick(dialog.run_button, LEFT)
    # Busy until the engine answers: Run cannot be pressed twice, the fields are locked.
    assert dialog.busy
    assert dialog.run_button.text() == "Running…"
    assert not dialog.run_button.isEnabled()
    assert not dialog.command.isEnabled()
    qtbot.waitUntil(lambda: dialog.run_error.isVisible(), timeout=wait_ms(30))
    assert dialog.isVisible()
    assert not dialog.busy
    assert "/nope" in dialog.run_error.text()
    # The daemon's words (a long line) grow the dialog: nothing is drawn over the fields.
    qtbot.waitUntil(lambda: overlapping(dialog) == [], timeout=wait_ms(5))
    assert dialog.run_error.text().startswith("The engine refused to run it: ")
    assert (dialog.name.text(), dialog.command.text(), dialog.env.toPlainText()) == (
        name, "/nope --flag", "KEEP=me")
    assert dialog.command.isEnabled()
    assert dialog.focusWidget() is not dialog.cancel_button  # Enter must not throw it away
    assert not [m for m in messages if m[0] == MessageLevel.ERROR]  # said in the dialog
    assert containers_named(any_engine, name) == []  # the refused container is gone

    # Fixed: the same dialog runs it and closes.
    dialog.command.setText("sleep 300")
    qtbot.waitUntil(dialog.run_button.isEnabled, timeout=wait_ms(10))
    started: list[RunSpec] = []
    dialog.started.connect(lambda spec, _id: started.append(spec))
    # Closed (and deleted) only once the container started.
    with qtbot.waitSignals([dialog.started, dialog.finished], timeout=wait_ms(30)):
        qtbot.mouseClick(dialog.run_button, LEFT)
    assert [spec.name for spec in started] == [name]
    assert (MessageLevel.INFO, f"Started {name}") in messages
    inspected = json.loads(any_engine.cli("inspect", name))[0]
    assert inspected["State"]["Status"] == "running"
    assert inspected["Config"]["Cmd"] == ["sleep", "300"]
    assert "KEEP=me" in inspected["Config"]["Env"]


def test_cancel_while_running_leaves_no_container(
    qtbot: QtBot, make_session: MakeSession, any_engine: EngineUnderTest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cancel after the daemon created the container but before it started: it is removed."""
    session: EngineSession = make_session(any_engine.url)
    session.start()
    wait_connected(qtbot, session)
    reached: list[str] = []
    gate = asyncio.Event()
    real_start = engine.Engine.start_container

    async def held_start(self: engine.Engine, container_id: str, *args: Any,
                         **kwargs: Any) -> Any:
        reached.append(container_id)
        await gate.wait()
        return await real_start(self, container_id, *args, **kwargs)

    monkeypatch.setattr(engine.Engine, "start_container", held_start)
    dialog = make_dialog(qtbot, any_engine.image, containers=session.items(CONTAINERS),
                         session=session)
    name = unique_name("cancel")
    dialog.name.setText(name)
    dialog.command.setText("sleep 300")
    qtbot.mouseClick(dialog.run_button, LEFT)
    qtbot.waitUntil(lambda: bool(reached), timeout=wait_ms(30))
    assert len(containers_named(any_engine, name)) == 1  # created, not started yet
    task = dialog.run_task
    assert task is not None
    qtbot.mouseClick(dialog.cancel_button, LEFT)
    assert not dialog.isVisible()
    gate.set()
    qtbot.waitUntil(task.done, timeout=wait_ms(30))
    assert task.cancelled()
    assert containers_named(any_engine, name) == []


def test_a_missing_bind_folder_is_flagged_inline(qtbot: QtBot, tmp_path: Path) -> None:
    """-v with a host folder that does not exist: blocked, with a way to go ahead."""
    dialog = make_dialog(qtbot)
    dialog.volumes.setPlainText("/nonexistent/qa/path:/data")
    assert shown_errors(dialog) == {
        "volumes": "/nonexistent/qa/path does not exist on this machine; Docker would"
                   " create it as an empty folder owned by root"}
    assert not dialog.run_button.isEnabled()
    assert dialog.create_missing.isVisible() and not dialog.create_missing.isChecked()

    # A folder that exists (or a named volume) is fine; so is everything for a remote engine.
    dialog.volumes.setPlainText(f"{tmp_path}:/data\ncache:/cache")
    assert shown_errors(dialog) == {}
    assert not dialog.create_missing.isVisible()
    remote = make_dialog(qtbot, check_host_ports=False)
    remote.volumes.setPlainText("/nonexistent/qa/path:/data")
    assert shown_errors(remote) == {}

    # Going ahead on purpose: the folders are made (by us, not the daemon as root) on Run.
    missing = tmp_path / "made" / "here"
    dialog.volumes.setPlainText(f"{missing}:/data:ro")
    assert shown_errors(dialog) == {"volumes": f"{missing} does not exist on this machine;"
                                               " Docker would create it as an empty folder"
                                               " owned by root"}
    dialog.create_missing.setChecked(True)
    assert shown_errors(dialog) == {}
    assert not missing.exists()
    with qtbot.waitSignal(dialog.specAccepted, timeout=wait_ms(5)) as accepted:
        qtbot.mouseClick(dialog.run_button, LEFT)
    assert accepted.args[0].volumes == (VolumeMapping(str(missing), "/data", True),)
    assert missing.is_dir()


def open_dialog_on(qtbot: QtBot, session: EngineSession, image: str,
                   started: list[str]) -> RunDialog:
    """The Images page's Run…: the dialog filled from the engine, its new container noted."""
    open_run_dialog(session, image, labels=LABELS, on_started=started.append)
    qtbot.waitUntil(lambda: find_run_dialog() is not None, timeout=wait_ms(10))
    dialog = find_run_dialog()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.network.findText("none") >= 0, timeout=wait_ms(10))
    return dialog


def test_labels_user_workdir_limits_and_a_network_of_ones_own_reach_the_engine(
    qtbot: QtBot, make_session: MakeSession, any_engine: EngineUnderTest
) -> None:
    """Every field the issue found missing, checked where docker inspect shows it."""
    network = unique_name("net")
    any_engine.cli("network", "create", "--label", LABEL, network)
    try:
        session: EngineSession = make_session(any_engine.url)
        session.start()
        wait_connected(qtbot, session)
        started: list[str] = []
        dialog = open_dialog_on(qtbot, session, any_engine.image, started)
        # The engine's own networks are offered, not just the built-in modes.
        qtbot.waitUntil(lambda: dialog.network.findText(network) >= 0, timeout=wait_ms(10))
        name = unique_name("fields")
        dialog.name.setText(name)
        dialog.command.setText("sleep 300")
        # The run's own label is there already (the caller's), and stays.
        assert dialog.labels.toPlainText() == f"{LABEL_KEY}={RUN_ID}"
        dialog.labels.setPlainText(f"{LABEL_KEY}={RUN_ID}\ntier=web\nflag")
        qtbot.keyClicks(dialog.user, "1234:5678")
        qtbot.keyClicks(dialog.workdir, "/srv/app")
        # More CPUs than the engine has (its /info, not this computer's count) is refused.
        engine_cpus = int(any_engine.cli("info", "--format", "{{.NCPU}}").strip())
        dialog.cpus.setText(str(engine_cpus + 1))
        qtbot.waitUntil(lambda: shown_errors(dialog).get("cpus") == (
            f"The engine has only {engine_cpus} CPUs, not {engine_cpus + 1}"),
            timeout=wait_ms(10))
        dialog.cpus.clear()
        qtbot.keyClicks(dialog.cpus, "0.5")
        qtbot.keyClicks(dialog.memory, "64m")
        dialog.network.setCurrentText(network)
        assert shown_errors(dialog) == {}
        with qtbot.waitSignal(dialog.finished, timeout=wait_ms(30)):
            qtbot.mouseClick(dialog.run_button, LEFT)
        inspected = json.loads(any_engine.cli("inspect", name))[0]
        assert started == [inspected["Id"]]
        assert inspected["State"]["Status"] == "running"
        assert inspected["Config"]["User"] == "1234:5678"
        assert inspected["Config"]["WorkingDir"] == "/srv/app"
        labels = inspected["Config"]["Labels"]
        assert (labels["tier"], labels["flag"], labels[LABEL_KEY]) == ("web", "", RUN_ID)
        assert inspected["HostConfig"]["NanoCpus"] == 500_000_000
        assert inspected["HostConfig"]["Memory"] == 64 * 1024 * 1024
        # Docker names the network as the mode; Podman's compatible API says "bridge"
        # for every network of that driver, and lists it under Networks as Docker does.
        mode = inspected["HostConfig"]["NetworkMode"]
        assert mode == (network if any_engine.kind == "docker" else "bridge")
        assert list(inspected["NetworkSettings"]["Networks"]) == [network]
    finally:
        any_engine.remove_test_containers()
        any_engine.cli("network", "rm", network, check=False)


def test_limits_and_user_are_checked_as_typed(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot)
    dialog.cpus.setText("lots")
    dialog.memory.setText("1k")
    dialog.workdir.setText("srv")
    dialog.user.setText("a b")
    dialog.labels.setPlainText("ok=1\n=x")
    assert shown_errors(dialog) == {
        "cpus": "CPUs must be a number such as 1.5, not 'lots'",
        "memory": "Memory must be at least 6m (the engine refuses less)",
        "workdir": "The working directory must be an absolute path, not 'srv'",
        "user": "A user cannot contain spaces",
        "labels": "line 2: '=x' has no label name",
    }
    assert not dialog.run_button.isEnabled()


@pytest.mark.parametrize("network", ["none", "host"])
def test_ports_on_network_none_or_host_are_not_claimed(
    qtbot: QtBot, make_session: MakeSession, any_engine: EngineUnderTest, network: str
) -> None:
    """Nothing is published on none or host: the dialog says so before, and the message
    after the start reports what the engine published (nothing), not what was typed."""
    session: EngineSession = make_session(any_engine.url)
    session.start()
    wait_connected(qtbot, session)
    messages: list[str] = []
    session.message.connect(lambda _level, text: messages.append(text))
    started: list[str] = []
    dialog = open_dialog_on(qtbot, session, any_engine.image, started)
    name = unique_name("noports")
    dialog.name.setText(name)
    dialog.command.setText("sleep 300")
    port = free_port()
    dialog.ports.setPlainText(f"127.0.0.1:{port}:80")
    warning = dialog.findChild(QLabel, "run-ports-warning")
    assert warning is not None and not warning.isVisible()
    dialog.network.setCurrentText(network)
    assert warning.isVisible()
    assert "ports are ignored" in warning.text()
    assert not dialog.ports.isEnabled() and not dialog.publish_all.isEnabled()
    assert dialog.ports.toPlainText() == f"127.0.0.1:{port}:80"  # kept for another network
    spec = dialog.spec()
    assert spec is not None and spec.ports == () and spec.network == network
    with qtbot.waitSignal(dialog.finished, timeout=wait_ms(30)):
        qtbot.mouseClick(dialog.run_button, LEFT)
    assert f"Started {name}" in messages
    assert not any("→" in text for text in messages)
    inspected = json.loads(any_engine.cli("inspect", name))[0]
    assert inspected["HostConfig"]["NetworkMode"] == network
    assert not inspected["HostConfig"].get("PortBindings")
    assert not inspected["NetworkSettings"].get("Ports")

    # Back on a bridge the ports count again, and a port the engine picks is reported
    # as the engine published it.
    started.clear()
    dialog = open_dialog_on(qtbot, session, any_engine.image, started)
    other = unique_name("picked")
    dialog.name.setText(other)
    dialog.command.setText("sleep 300")
    dialog.network.setCurrentText(network)
    dialog.network.setCurrentText("")
    dialog.ports.setPlainText("127.0.0.1::80")
    assert dialog.ports.isEnabled()
    assert not dialog.findChild(QLabel, "run-ports-warning").isVisible()
    with qtbot.waitSignal(dialog.finished, timeout=wait_ms(30)):
        qtbot.mouseClick(dialog.run_button, LEFT)
    published = any_engine.cli("port", other, "80/tcp").splitlines()[0]
    assert published.startswith("127.0.0.1:")
    assert f"Started {other} ({published} → 80/tcp)" in messages


def overlapping(dialog: RunDialog) -> list[tuple[str, str]]:
    """Pairs of visible named widgets of the dialog drawn over each other."""
    shown = [w for w in dialog.findChildren(QWidget)
             if w.objectName().startswith("run-") and w.isVisible()
             and w.objectName() != "run-dialog"]
    boxes = [(w.objectName(), w.geometry().translated(w.parentWidget().mapTo(dialog, QPoint())))
             for w in shown]
    pairs = []
    for i, (first, box) in enumerate(boxes):
        if not dialog.rect().contains(box):
            pairs.append((first, "outside the dialog"))
        pairs += [(first, second) for second, other in boxes[i + 1:] if box.intersects(other)]
    return pairs


def test_messages_grow_the_dialog_instead_of_overlapping_the_fields(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot)
    assert overlapping(dialog) == []
    height = dialog.height()
    dialog.ports.setPlainText("\n".join(f"{n}:{n}:80/xyz" for n in range(1000, 1009)))
    dialog.env.setPlainText("\n".join(f"=v{n}" for n in range(6)))
    dialog.name.setText("ab " + "".join(chr(c) for c in range(0xa1, 0xbf)) + "!#$%&()*+,;<=>?@")
    dialog.cpus.setText("many")
    dialog.memory.setText("a lot")
    dialog.labels.setPlainText("=a\n=b\n=c")
    dialog.workdir.setText("relative/" * 30)
    dialog.network.setCurrentText("host")
    # At once, not after some later layout pass: nothing is ever drawn over a field.
    assert dialog.height() > height
    assert overlapping(dialog) == []
    # Narrower: the messages wrap onto more lines and the dialog grows again.
    taller = dialog.height()
    dialog.resize(dialog.minimumWidth(), dialog.height())
    qtbot.waitUntil(lambda: dialog.width() == dialog.minimumWidth(), timeout=wait_ms(5))
    assert dialog.height() > taller
    assert overlapping(dialog) == []
    # The problems fixed: the dialog returns to the height it opened with.
    dialog.resize(dialog.width(), dialog.minimumHeight())
    for box in (dialog.ports, dialog.env, dialog.labels):
        box.setPlainText("")
    for line in (dialog.name, dialog.cpus, dialog.memory, dialog.workdir):
        line.setText("")
    dialog.network.setCurrentText("")
    assert shown_errors(dialog) == {}
    assert dialog.height() == height
    assert overlapping(dialog) == []
