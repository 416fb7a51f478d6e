"""Plain tcp:// without TLS to another machine is said in plain words (issue 14): in the
add-engine dialog as the address is typed, in the switcher's line for it, and once in the
window when it connects; loopback, TLS and ssh:// get no warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.session import EngineSession
from app.settings import Settings
from app.widgets.engine_switcher import AddEngineDialog
from tests.app.conftest import wait_connected
from tests.conftest import EngineUnderTest
from tests.tcp_relay import local_address, tcp_relay
from tests.waits import wait_ms

PLAIN = "is plain tcp without TLS"


@pytest.mark.parametrize(("url", "warned"), [
    ("tcp://192.0.2.10:2375", True),
    ("tcp://build-server.lan", True),
    ("tcp://[2001:db8::1]:2375", True),
    ("tcp://127.0.0.1:2375", False),
    ("tcp://127.0.0.53:2375", False),
    ("tcp://localhost:2375", False),
    ("tcp://[::1]:2375", False),
    ("ssh://me@build-server.lan", False),
    ("unix:///var/run/docker.sock", False),
    ("tcp://192.0.2.10:23", True),
    ("not an address", False),
])
def test_the_add_dialog_warns_about_plain_tcp_to_another_machine(
    qtbot: QtBot, url: str, warned: bool,
) -> None:
    dialog = AddEngineDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.url.setText(url)
    assert dialog.warning.isVisible() is warned
    if warned:
        assert PLAIN in dialog.warning.text() and "Use TLS" in dialog.warning.text()


def test_tls_files_end_the_warning(qtbot: QtBot, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked until connecting\n")
    dialog = AddEngineDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.url.setText("tcp://192.0.2.10:2376")
    assert dialog.warning.isVisible()
    dialog.files["ca"].setText(str(ca))
    assert not dialog.warning.isVisible()
    dialog.files["ca"].clear()
    assert dialog.warning.isVisible()


def test_a_window_on_plain_tcp_to_this_machines_address_says_so(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    socket = docker_engine.endpoint.socket_path
    address = local_address()
    if socket is None or address is None:
        pytest.skip("needs the Docker engine on a unix socket and a non-loopback address")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    settings = Settings(QSettings(str(tmp_path / "dockyard.ini"), QSettings.Format.IniFormat))
    with tcp_relay(socket, address) as exposed, tcp_relay(socket, "127.0.0.1") as local:
        # A real engine at this machine's own network address, over plain tcp://.
        monkeypatch.setenv("CONTAINER_HOST", local.url)
        session: EngineSession = make_session(exposed.url)
        window = MainWindow(session, settings)
        qtbot.addWidget(window)
        window.show()
        session.start()
        wait_connected(qtbot, session)
        qtbot.waitUntil(lambda: PLAIN in window.messages.text(), timeout=wait_ms(10))
        assert window.messages.text().startswith(f"{exposed.url} {PLAIN}")
        # The switcher's line says it as well; the loopback one (CONTAINER_HOST) does not.
        switch = window.engine_switch
        qtbot.waitUntil(lambda: switch.entry(local.url) is not None
                        and switch.entry(local.url).state == "reachable",  # type: ignore[union-attr]
                        timeout=wait_ms(20))
        texts = window.engine_switcher.texts()
        [exposed_line] = [t for t in texts if t.startswith(exposed.url)]
        [local_line] = [t for t in texts if t.startswith(local.url)]
        assert exposed_line.endswith("— no TLS, not private"), exposed_line
        assert "no TLS" not in local_line
        combo = window.engine_switcher.combo
        tip = combo.itemData(window.engine_switcher.row_of(exposed.url), 3)  # ToolTipRole
        assert f"Warning: {exposed.url} {PLAIN}" in tip
