"""The engine switcher (issue 14): every engine listed with its state, and live switches
between Docker and a private Podman service that leave nothing of the old engine behind."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

import engine
from app.engine_switch import remember, remembered, startup_target
from app.main_window import MainWindow
from app.pages.container_detail import ShellTab
from app.pages.containers import ContainersPage
from app.pages.engine import EnginePage
from app.session import ConnectionState, EngineSession
from app.settings import Settings
from app.widgets.engine_switcher import REACHABLE
from tests.app.conftest import answer, shown_box, wait_connected
from tests.conftest import IN_CI, EngineUnderTest
from tests.sshd import SSHServer, keygen, require_sshd, start_sshd
from tests.tls_dockerd import TLSDockerd
from tests.waits import wait_ms


@pytest.fixture
def private_settings_file(tmp_path: Path) -> Settings:
    return Settings(QSettings(str(tmp_path / "dockyard.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def podman_connection(monkeypatch: pytest.MonkeyPatch, podman_engine: EngineUnderTest,
                      tmp_path: Path) -> EngineUnderTest:
    """The private Podman service is known as Podman's tools know one (CONTAINER_HOST); the
    docker CLI's config is a fresh one (no contexts of the developer's)."""
    monkeypatch.setenv("CONTAINER_HOST", podman_engine.url)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    return podman_engine


def open_window(qtbot: QtBot, make_session, url: str, settings: Settings) -> MainWindow:
    session: EngineSession = make_session(url)
    window = MainWindow(session, settings)
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session)
    return window


def listed(window: MainWindow, url: str, state: str = REACHABLE) -> bool:
    entry = window.engine_switch.entry(url)
    return entry is not None and entry.state == state


def names_shown(window: MainWindow) -> set[str]:
    model = window.page(ContainersPage).model
    return {model.item_at(row).name for row in range(model.rowCount())}


def wait_on(qtbot: QtBot, window: MainWindow, url: str) -> None:
    session = window.session
    qtbot.waitUntil(lambda: session.status.state is ConnectionState.CONNECTED
                    and session.status.endpoint == url, timeout=wait_ms(20))


def test_switching_between_docker_and_podman_shows_each_ones_own_containers(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    podman_connection: EngineUnderTest, private_settings_file: Settings,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    podman = podman_connection
    _docker_id, docker_name = docker_engine.create(
        docker_engine.image, "sh", "-c", "echo hello-from-docker; sleep 300")
    docker_engine.cli("start", docker_name)
    _podman_id, podman_name = podman.create(podman.image, "sleep", "300")
    window = open_window(qtbot, make_session, docker_engine.url, private_settings_file)
    page = window.page(ContainersPage)
    qtbot.waitUntil(lambda: docker_name in names_shown(window), timeout=wait_ms(10))

    # Both engines are listed with their state and version, in the status bar and on the
    # Engine page alike; the Podman service came from CONTAINER_HOST.
    qtbot.waitUntil(lambda: listed(window, podman.url), timeout=wait_ms(20))
    podman_entry = window.engine_switch.entry(podman.url)
    assert podman_entry is not None and podman_entry.product == "Podman"
    assert "CONTAINER_HOST" in podman_entry.found_via
    texts = window.engine_switcher.texts()
    assert any(t.startswith(f"{podman.url} — Podman ") for t in texts), texts
    assert any(t.startswith(f"{docker_engine.url}") and " — Docker " in t for t in texts), texts
    assert window.page(EnginePage).switcher.texts() == texts
    assert window.windowTitle().startswith("Dockyard — Docker ")

    # The Docker container is selected, its log followed and a shell open in it.
    page.select_key(_docker_id)
    detail = page.detail
    qtbot.waitUntil(lambda: detail.container is not None, timeout=wait_ms(10))
    qtbot.waitUntil(lambda: detail.logs.model.rowCount() > 0, timeout=wait_ms(10))
    detail.open_shell()
    qtbot.waitUntil(lambda: detail.open_shell_count() == 1, timeout=wait_ms(10))
    old_client = window.session.client
    assert old_client is not None
    closed: list[bool] = []
    real_close = old_client.aclose

    async def close_spy() -> None:
        closed.append(True)
        await real_close()

    monkeypatch.setattr(old_client, "aclose", close_spy)
    old_tasks = set(window.session._tasks)
    assert old_tasks, "the log and the shell run as the session's tasks"

    # Picking Podman asks first (a shell would end), then switches live.
    window.engine_switcher.pick(podman.url)
    text = answer(qtbot, "switch-confirm", "Switch")
    assert "1 open shell" in text
    wait_on(qtbot, window, podman.url)
    qtbot.waitUntil(lambda: podman_name in names_shown(window), timeout=wait_ms(10))
    assert docker_name not in names_shown(window)
    assert window.windowTitle().startswith("Dockyard — Podman ")
    assert window.windowTitle().endswith(f" · {podman.url}")
    # Nothing of the old engine remains: its tasks ended, its client is closed, no shell
    # tab, no selected container, no log lines, no events of it.
    assert all(task.done() for task in old_tasks)
    assert closed
    assert detail.shells.count() == 0 and detail.open_shell_count() == 0
    assert detail.container is None and docker_name not in detail.title.text()
    assert not detail.findChildren(ShellTab)
    assert detail.logs.model.rowCount() == 0
    events = window.page(EnginePage).events
    assert all(docker_name not in events.row_text(row) for row in range(events.rowCount()))
    assert all(e.url != "" for e in window.engine_switch.entries)
    assert window.engine_switcher.combo.currentData() == podman.url

    # And back: Docker's own containers again.
    window.engine_switcher.pick(docker_engine.url)
    wait_on(qtbot, window, docker_engine.url)
    qtbot.waitUntil(lambda: docker_name in names_shown(window), timeout=wait_ms(10))
    assert podman_name not in names_shown(window)
    assert window.windowTitle().startswith("Dockyard — Docker ")
    # No traceback anywhere, no error said to the user.
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    assert not window.messages.isVisible() or "Could not" not in window.messages.text()
    # The choice is remembered for the next start.
    chosen = remembered(private_settings_file)
    assert chosen is not None and chosen.url == docker_engine.url


class SilentRegistry:
    """A "registry" on loopback that accepts connections and never answers: a pull from it
    keeps running until it is cancelled (the daemon waits for the TLS handshake)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent_registry() -> Iterator[SilentRegistry]:
    registry = SilentRegistry()
    yield registry
    registry.close()


def test_a_switch_with_a_pull_running_asks_and_cancel_keeps_the_engine(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    podman_connection: EngineUnderTest, private_settings_file: Settings,
    silent_registry: SilentRegistry,
) -> None:
    podman = podman_connection
    window = open_window(qtbot, make_session, docker_engine.url, private_settings_file)
    qtbot.waitUntil(lambda: listed(window, podman.url), timeout=wait_ms(20))
    activity = window.pull(f"127.0.0.1:{silent_registry.port}/dockyard-test/never:1")
    assert activity is not None and not activity.done

    window.engine_switcher.pick(podman.url)
    text = answer(qtbot, "switch-confirm", "Cancel")
    assert "Pull 127.0.0.1:" in text and "Switch anyway?" in text
    # Cancelled: still on Docker, the pull still running.
    assert window.session.status.endpoint == docker_engine.url
    assert window.engine_switcher.combo.currentData() == docker_engine.url
    assert not activity.done

    window.engine_switcher.pick(podman.url)
    answer(qtbot, "switch-confirm", "Switch")
    wait_on(qtbot, window, podman.url)
    # The pull was ended in plain sight, not lost silently.
    assert activity.done and not activity.succeeded
    assert activity.status.text() == "Cancelled."


def test_an_unreachable_added_engine_shows_its_state_and_the_window_stays(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tmp_path: Path,
    private_settings_file: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    window = open_window(qtbot, make_session, docker_engine.url, private_settings_file)
    _cid, name = docker_engine.create(docker_engine.image)
    qtbot.waitUntil(lambda: name in names_shown(window), timeout=wait_ms(10))
    dialog = window.engine_switch.open_add_dialog()
    # A bad address is said in the dialog, which stays open.
    dialog.url.setText("http://example.org")
    dialog.accept()
    assert dialog.isVisible() and "unsupported scheme" in dialog.error.text()
    gone = f"unix://{tmp_path}/nobody-listens.sock"
    dialog.url.setText(gone)
    dialog.accept()

    qtbot.waitUntil(lambda: listed(window, gone, "unreachable"), timeout=wait_ms(10))
    assert window.session.status.state is ConnectionState.CONNECTED
    assert window.session.status.endpoint == docker_engine.url
    assert name in names_shown(window)
    assert any(t == f"{gone} — unreachable" for t in window.engine_switcher.texts())
    assert window.engine_switcher.combo.currentData() == docker_engine.url
    assert "Could not switch to " in window.messages.text()
    # It is remembered among the added engines, and listed again after a new look.
    window.engine_switch.survey()
    qtbot.waitUntil(lambda: listed(window, gone, "unreachable"), timeout=wait_ms(20))
    entry = window.engine_switch.entry(gone)
    assert entry is not None and entry.added


def test_the_remembered_engine_is_used_at_the_next_start_unless_named(
    qtbot: QtBot, make_session, podman_engine: EngineUnderTest, docker_engine: EngineUnderTest,
    private_settings_file: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    remember(private_settings_file, podman_engine.endpoint)
    target = startup_target(None, private_settings_file)
    assert target is not None and target.url == podman_engine.url
    session = EngineSession(None, target=target)
    window = MainWindow(session, private_settings_file)
    qtbot.addWidget(window)
    session.start()
    try:
        wait_on(qtbot, window, podman_engine.url)
        assert window.windowTitle().startswith("Dockyard — Podman ")
    finally:
        task = asyncio.ensure_future(session.aclose())
        qtbot.waitUntil(task.done, timeout=wait_ms(10))

    # --host and DOCKER_HOST (and DOCKER_CONTEXT) win, as for the docker CLI.
    assert startup_target(docker_engine.url, private_settings_file) is None
    monkeypatch.setenv("DOCKER_HOST", docker_engine.url)
    assert startup_target(None, private_settings_file) is None
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    assert startup_target(None, private_settings_file) is None


def test_endpoint_for_checks_what_the_user_typed(tmp_path: Path) -> None:
    with pytest.raises(engine.EndpointError, match="not a readable file"):
        engine.endpoint_for("tcp://127.0.0.1:2376", "x", ca_cert=tmp_path / "none.pem")
    (tmp_path / "ca.pem").write_text("x")
    with pytest.raises(engine.EndpointError, match="only apply to a tcp://"):
        engine.endpoint_for("unix:///x.sock", "x", ca_cert=tmp_path / "ca.pem")
    tls = engine.endpoint_for("tcp://127.0.0.1:2376", "x", ca_cert=tmp_path / "ca.pem").tls
    assert tls is not None and tls.verify and tls.ca_cert == tmp_path / "ca.pem"
    assert engine.endpoint_for("tcp://127.0.0.1:2375", "x").tls is None



@pytest.fixture
def sshd(docker_engine: EngineUnderTest, tmp_path: Path) -> Iterator[SSHServer]:
    """A real sshd on 127.0.0.1 in front of the test Docker (tests/sshd.py)."""
    require_sshd(IN_CI)
    if docker_engine.url != "unix:///var/run/docker.sock":
        pytest.skip("the sshd forwards to /var/run/docker.sock; the test Docker is elsewhere")
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


def use_sshd_files(monkeypatch: pytest.MonkeyPatch, server: SSHServer, known_hosts: Path
                   ) -> None:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DOCKYARD_SSH_KNOWN_HOSTS", str(known_hosts))


def fingerprint(public_line: str, tmp_path: Path) -> str:
    path = tmp_path / "host.pub"
    path.write_text(public_line + "\n")
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def test_an_unknown_ssh_host_key_is_shown_and_trusting_it_connects(
    qtbot: QtBot, make_session, sshd: SSHServer, tmp_path: Path,
    private_settings_file: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    known_hosts = tmp_path / "ssh" / "known_hosts"  # not there yet: made when trusting
    use_sshd_files(monkeypatch, sshd, known_hosts)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    session: EngineSession = make_session(sshd.url)  # as with --host ssh://…
    window = MainWindow(session, private_settings_file)
    qtbot.addWidget(window)
    window.show()
    session.start()

    text = answer(qtbot, "host-key-confirm", "Trust and connect")
    assert fingerprint(sshd.host_public, tmp_path) in text
    assert f"[127.0.0.1]:{sshd.port}" in text
    wait_on(qtbot, window, sshd.url)
    assert window.windowTitle().startswith("Dockyard — Docker ")
    assert window.windowTitle().endswith(f" · {sshd.url}")
    assert known_hosts.read_text() == f"[127.0.0.1]:{sshd.port} {sshd.host_public}\n"


def test_a_changed_ssh_host_key_is_refused_plainly_and_the_window_stays(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, sshd: SSHServer,
    tmp_path: Path, private_settings_file: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    impostor = keygen(tmp_path / "impostor", "the key on record")
    known_hosts = tmp_path / "known_hosts"
    on_record = f"[127.0.0.1]:{sshd.port} {' '.join(impostor.split()[:2])}\n"
    known_hosts.write_text(on_record)
    use_sshd_files(monkeypatch, sshd, known_hosts)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    window = open_window(qtbot, make_session, docker_engine.url, private_settings_file)

    window.engine_switch.add(engine.endpoint_for(sshd.url, "added in Dockyard"))
    qtbot.waitUntil(lambda: listed(window, sshd.url, "unreachable"), timeout=wait_ms(20))
    assert "CHANGED" in window.messages.text() and "refusing" in window.messages.text()
    assert shown_box("host-key-confirm") is None  # never offered to override
    assert window.session.status.endpoint == docker_engine.url
    assert known_hosts.read_text() == on_record

    # With no key on record, picking it asks; Cancel leaves the window where it is.
    known_hosts.write_text("")
    window.engine_switcher.pick(sshd.url)
    text = answer(qtbot, "host-key-confirm", "Cancel")
    assert fingerprint(sshd.host_public, tmp_path) in text
    assert window.session.status.endpoint == docker_engine.url
    assert known_hosts.read_text() == ""
    window.engine_switcher.pick(sshd.url)
    answer(qtbot, "host-key-confirm", "Trust and connect")
    wait_on(qtbot, window, sshd.url)


def test_with_no_engine_at_start_the_switcher_offers_the_others(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tmp_path: Path,
    private_settings_file: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("CONTAINER_HOST", docker_engine.url)
    session: EngineSession = make_session(f"unix://{tmp_path}/nobody.sock")
    window = MainWindow(session, private_settings_file)
    qtbot.addWidget(window)
    window.show()
    session.start()
    qtbot.waitUntil(lambda: session.status.state is ConnectionState.UNREACHABLE,
                    timeout=wait_ms(10))
    qtbot.waitUntil(lambda: listed(window, docker_engine.url), timeout=wait_ms(20))
    combo = window.engine_switcher.combo
    assert combo.currentIndex() == -1 and combo.placeholderText() == "No engine: choose one"

    window.engine_switcher.pick(docker_engine.url)
    wait_on(qtbot, window, docker_engine.url)
    assert window.root.currentIndex() == 0  # the pages, no longer the "no engine" page
    assert combo.currentData() == docker_engine.url


def test_a_tls_engine_from_the_environment_and_from_the_add_dialog(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tls_dockerd: TLSDockerd,
    tmp_path: Path, private_settings_file: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The harness's TLS dockerd (tests/tls_dockerd.py): reached with the docker CLI's
    variables at start, and switched to live with the URL and three files in the dialog;
    a wrong CA is said in the window, which stays on its engine."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    for name, value in tls_dockerd.env().items():
        if name != "DOCKER_HOST":
            monkeypatch.setenv(name, value)
    window = open_window(qtbot, make_session, tls_dockerd.url, private_settings_file)
    assert window.session.status.endpoint == tls_dockerd.url
    assert window.windowTitle().startswith("Dockyard — Docker ")
    assert window.windowTitle().endswith(f" · {tls_dockerd.url}")
    assert names_shown(window) == set()  # its own (empty) engine, not the machine's
    monkeypatch.delenv("DOCKER_TLS_VERIFY")
    monkeypatch.delenv("DOCKER_CERT_PATH")

    # Live to the machine's Docker, then back through the dialog with the files.
    window.engine_switch.add(engine.endpoint_for(docker_engine.url, "added in Dockyard"))
    wait_on(qtbot, window, docker_engine.url)
    _cid, name = docker_engine.create(docker_engine.image)
    qtbot.waitUntil(lambda: name in names_shown(window), timeout=wait_ms(10))

    def add_tls(cert_dir: Path) -> None:
        dialog = window.engine_switch.open_add_dialog()
        dialog.url.setText(tls_dockerd.url)
        for key, file in (("ca", "ca.pem"), ("cert", "cert.pem"), ("key", "key.pem")):
            dialog.files[key].setText(str(cert_dir / file))
        dialog.accept()
        assert not dialog.isVisible(), dialog.error.text()

    add_tls(tls_dockerd.certs.wrong_ca_dir)
    qtbot.waitUntil(lambda: listed(window, tls_dockerd.url, "unreachable"), timeout=wait_ms(20))
    assert "TLS certificate verification failed" in window.messages.text()
    assert window.session.status.endpoint == docker_engine.url
    assert name in names_shown(window)

    add_tls(tls_dockerd.certs.client_dir)
    wait_on(qtbot, window, tls_dockerd.url)
    assert window.windowTitle().endswith(f" · {tls_dockerd.url}")
    qtbot.waitUntil(lambda: name not in names_shown(window), timeout=wait_ms(10))
    qtbot.waitUntil(lambda: listed(window, tls_dockerd.url), timeout=wait_ms(20))
