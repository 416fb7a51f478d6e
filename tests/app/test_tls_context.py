"""A docker CLI context with TLS files, made by ``docker context create`` (issue 14): listed in
the window's switcher by its name, switched to with verification on; one whose CA does not
trust the engine says so and the window stays where it is."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.pages.containers import ContainersPage
from app.pages.volumes import VolumesPage
from app.session import ConnectionState, EngineSession
from app.settings import Settings
from app.widgets.engine_switcher import REACHABLE
from tests.app.conftest import wait_connected
from tests.conftest import DOCKER_CLI, LABEL, EngineUnderTest, unique_name
from tests.tls_dockerd import TLSDockerd
from tests.waits import wait_ms


def make_context(config: Path, name: str, url: str, files: Path) -> None:
    subprocess.run(
        [DOCKER_CLI or "docker", "--config", str(config), "context", "create", name,
         "--docker", f"host={url},ca={files / 'ca.pem'},cert={files / 'cert.pem'},"
         f"key={files / 'key.pem'}"],
        check=True, capture_output=True)


@pytest.mark.skipif(DOCKER_CLI is None, reason="needs the docker CLI to write the context")
@pytest.mark.parametrize("trusted", [True, False], ids=["right-ca", "wrong-ca"])
def test_a_tls_context_is_switched_to_verified(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tls_dockerd: TLSDockerd,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusted: bool,
) -> None:
    config = tmp_path / "docker-config"
    config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "CONTAINER_HOST"):
        monkeypatch.delenv(name, raising=False)
    files = tls_dockerd.certs.client_dir if trusted else tls_dockerd.certs.wrong_ca_dir
    make_context(config, "lab-tls", tls_dockerd.url, files)
    _cid, docker_name = docker_engine.create(docker_engine.image)

    session: EngineSession = make_session(docker_engine.url)
    window = MainWindow(session, Settings(QSettings(str(tmp_path / "dockyard.ini"),
                                                    QSettings.Format.IniFormat)))
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session)
    switch = window.engine_switch
    state = REACHABLE if trusted else "unreachable"
    qtbot.waitUntil(lambda: (e := switch.entry(tls_dockerd.url)) is not None
                    and e.state == state, timeout=wait_ms(20))
    entry = switch.entry(tls_dockerd.url)
    assert entry is not None and entry.name == "lab-tls"
    assert entry.endpoint.tls is not None and entry.endpoint.tls.verify
    [line] = [t for t in window.engine_switcher.texts() if t.startswith("lab-tls")]
    assert "no TLS" not in line

    window.engine_switcher.pick(tls_dockerd.url)
    page = window.page(ContainersPage)
    if trusted:
        qtbot.waitUntil(lambda: session.status.endpoint == tls_dockerd.url
                        and session.status.state is ConnectionState.CONNECTED,
                        timeout=wait_ms(20))
        assert session.status.context == "lab-tls"
        assert window.windowTitle().endswith(" · lab-tls")
        # Its own engine's lists, not the machine's: a volume made on the TLS dockerd
        # shows, and the machine's container does not.
        volume = unique_name("tls-volume")
        subprocess.run([DOCKER_CLI, "-H", tls_dockerd.socket, "volume", "create", "--label",
                        LABEL, volume], check=True, capture_output=True)
        try:
            volumes = window.page(VolumesPage)
            qtbot.waitUntil(lambda: volumes.model.row_of(volume) is not None,
                            timeout=wait_ms(20))
            assert docker_name not in {page.model.item_at(r).name
                                       for r in range(page.model.rowCount())}
        finally:
            subprocess.run([DOCKER_CLI, "-H", tls_dockerd.socket, "volume", "rm", volume],
                           check=False, capture_output=True)
    else:
        qtbot.waitUntil(lambda: "TLS certificate verification failed" in window.messages.text(),
                        timeout=wait_ms(20))
        assert window.messages.text().startswith("Could not switch to lab-tls: ")
        assert session.status.endpoint == docker_engine.url
        assert docker_name in {page.model.item_at(r).name for r in range(page.model.rowCount())}
