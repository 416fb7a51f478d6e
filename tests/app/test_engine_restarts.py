"""The engine restarted under an open window: lists, a followed log and a shell come back.

A private dockerd of this test's own (tests/private_dockerd.py, ``--live-restore``, as
root; never the shared engine) is restarted ``DOCKYARD_RESTARTS`` times (3 here; the
bench ``tests/bench/bench_restarts.py`` runs this test with 20) while the Containers
and Images pages are open, a container's log is followed and a shell is open in it.
After each restart: the session is connected again within 2 s (scaled) of the engine
answering, both lists equal the docker CLI's, and the shell offers Reopen, which
works.  At the end the followed log holds every line the container wrote, each once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.pages.containers import ContainersPage
from app.pages.images import ImagesPage
from app.session import ConnectionState, EngineSession
from tests.app.conftest import wait_connected
from tests.app.test_container_detail import screen_text, select, tick_numbers
from tests.conftest import DOCKER_CLI, IN_CI, EngineUnderTest
from tests.private_dockerd import PrivateDockerd, private_dockerd
from tests.waits import seconds, wait_ms

RESTARTS = int(os.environ.get("DOCKYARD_RESTARTS", "3"))
#: The goal: connected again this soon after the engine answers (on an idle machine).
RECONNECT_SECONDS = 2.0


@pytest.fixture(scope="module")
def daemon(docker_engine: EngineUnderTest) -> Iterator[PrivateDockerd]:
    """A private dockerd with the tests' busybox image; gone afterwards."""
    from tests.swarm_dockerd import require_root

    require_root(IN_CI)
    with private_dockerd() as private:
        env = {**os.environ, "DOCKER_CONFIG": str(docker_engine.cli_config)}
        env.pop("DOCKER_CONTEXT", None)
        env.pop("DOCKER_HOST", None)
        assert DOCKER_CLI
        private.load_image([DOCKER_CLI, "--host", docker_engine.url, "save",
                            docker_engine.image], env)
        private.image = docker_engine.image  # type: ignore[attr-defined]
        yield private


def cli_containers(daemon: PrivateDockerd) -> set[tuple[str, str]]:
    lines = daemon.cli("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.State}}")
    return {(line.split()[0], line.split()[1]) for line in lines.splitlines()}


def cli_images(daemon: PrivateDockerd) -> set[str]:
    return set(daemon.cli("images", "--format", "{{.Repository}}:{{.Tag}}").split())


def test_lists_log_and_shell_come_back_after_each_restart(
    qtbot: QtBot, make_session: Any, daemon: PrivateDockerd,
) -> None:
    image = daemon.image  # type: ignore[attr-defined]
    name = f"ticker-{os.getpid()}"
    container_id = daemon.cli(
        "run", "-d", "--name", name, image, "sh", "-c",
        "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done")
    daemon.cli("create", "--name", f"idle-{os.getpid()}", image, "true")
    session: EngineSession = make_session(daemon.url)
    page = ContainersPage(session)
    images = ImagesPage(session)
    qtbot.addWidget(page)
    qtbot.addWidget(images)
    page.resize(1000, 800)
    page.show()
    session.start()
    wait_connected(qtbot, session)
    select(qtbot, page, container_id, name)
    qtbot.waitUntil(lambda: len(tick_numbers(page)) >= 5, timeout=wait_ms(20))
    shell = page.detail.open_shell()
    assert shell is not None
    qtbot.waitUntil(lambda: screen_text(shell).rstrip().endswith("#"), timeout=wait_ms(15))

    states: list[ConnectionState] = []
    session.statusChanged.connect(lambda status: states.append(status.state))
    took: list[float] = []
    for restart in range(RESTARTS):
        states.clear()
        daemon.restart()  # returns once the CLI gets answers again
        answered = time.monotonic()
        qtbot.waitUntil(lambda: ConnectionState.LOST in states and session.connected,
                        timeout=wait_ms(20))
        took.append(time.monotonic() - answered)
        print(f"restart {restart + 1}: connected again {took[-1] * 1000:.0f} ms after the"
              f" engine answered")
        # The lists are the CLI's (the other container is still there, the ticker runs).
        qtbot.waitUntil(lambda: {(c.id, c.state) for c in page.model.items()}
                        == cli_containers(daemon), timeout=wait_ms(10))
        qtbot.waitUntil(lambda: {row.name for row in images.model.items()}
                        == cli_images(daemon), timeout=wait_ms(10))
        # The shell's exec ended with the engine's connection; Reopen brings a new one.
        qtbot.waitUntil(lambda: shell.reopen.isVisible() and shell.reopen.isEnabled(),
                        timeout=wait_ms(10))
        shell.reopen.click()
        qtbot.waitUntil(lambda: screen_text(shell).rstrip().endswith("#")
                        and not shell.reopen.isVisible(), timeout=wait_ms(15))
        assert session.status.state is ConnectionState.CONNECTED
    assert max(took) <= seconds(RECONNECT_SECONDS), took

    # Every line the container wrote, each once, in order, up to the newest.
    newest = int(daemon.cli("logs", "--tail", "1", name).split()[1])
    qtbot.waitUntil(lambda: bool(tick_numbers(page)) and tick_numbers(page)[-1] >= newest,
                    timeout=wait_ms(15))
    page.detail.logs.flush()
    numbers = tick_numbers(page)
    assert numbers == list(range(numbers[0], numbers[-1] + 1)), (
        "lost: " + str(sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))[:10])
        + " twice: " + str(sorted({n for n in numbers if numbers.count(n) > 1})[:10]))
    session.statusChanged.disconnect()
    daemon.cli("rm", "-f", name, f"idle-{os.getpid()}")
