"""The Swarm page on a manager reached over ssh and over TLS: the private swarm dockerd
(tests/swarm_dockerd.py) behind the tests' real sshd (tests/sshd.py), and on its own TLS
listener (certificates from tests/tls_dockerd.py).  The window lists the services,
scales one with its Scale button and reads its log, as on the local socket."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.pages.swarm import SwarmPage
from app.session import EngineSession
from tests.app.conftest import wait_connected
from tests.app.test_swarm_page import cell, running_tasks
from tests.conftest import IN_CI, LABEL, SwarmUnderTest, unique_name
from tests.sshd import SSHServer, require_sshd, start_sshd
from tests.waits import wait_ms

WAIT = wait_ms(60)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SSHServer]:
    require_sshd(IN_CI)
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


def remote_url(transport: str, swarm: SwarmUnderTest, request: pytest.FixtureRequest,
               monkeypatch: pytest.MonkeyPatch) -> str:
    """The swarm's address over ``transport``, with the environment a user would set."""
    if transport == "tls":
        for name, value in swarm.tls_env.items():
            monkeypatch.setenv(name, value)
        return swarm.tls_url
    server: SSHServer = request.getfixturevalue("sshd")
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    socket_path = swarm.url.removeprefix("unix://")
    return f"{server.url}{socket_path}"  # the remote socket: the private swarm's


@pytest.mark.parametrize("transport", ["ssh", "tls"])
def test_swarm_page_lists_scales_and_reads_logs_over_a_remote_transport(
        transport: str, qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest,  # type: ignore[no-untyped-def]
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    url = remote_url(transport, swarm_engine, request, monkeypatch)
    name = unique_name(f"over-{transport}")
    service_id = swarm_engine.cli(
        "service", "create", "--detach", "--name", name, "--replicas", "1", "--label", LABEL,
        swarm_engine.image, "sh", "-c",
        'i=0; while true; do echo "beat $i"; i=$((i+1)); sleep 0.3; done')
    session: EngineSession = make_session(url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session, WAIT)
    assert window.windowTitle().endswith(f" · {url}")
    page = window.page(SwarmPage)
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    qtbot.waitUntil(lambda: page.model.row_of(service_id) is not None
                    and cell(page.model, service_id, "Replicas") == "1/1", timeout=WAIT)
    assert swarm_engine.node_id[:12] in page.status.text()
    assert cell(page.model, service_id, "Name") == name

    page.search.setText(name)
    page.table.selectRow(0)
    qtbot.waitUntil(lambda: running_tasks(page) == 1, timeout=WAIT)
    page.replicas.setValue(2)
    qtbot.mouseClick(page.scale_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(page.model, service_id, "Replicas") == "2/2"
                    and running_tasks(page) == 2, timeout=WAIT)
    assert swarm_engine.cli("service", "inspect", "--format",
                            "{{.Spec.Mode.Replicated.Replicas}}", name) == "2"

    # The service's log streams over the same transport, both tasks marked.
    page.detail_tabs.setCurrentWidget(page.logs)

    def marked_lines() -> set[str]:
        page.logs.flush()
        return {page.logs.source_names[e.source] for e in page.logs.model.entries
                if re.fullmatch(r"beat \d+", e.plain)}

    qtbot.waitUntil(lambda: {m.split("@")[0] for m in marked_lines()}
                    == {f"{name}.1", f"{name}.2"}, timeout=WAIT)
