"""A live list declared outside the session is kept by it: nothing in the session
names a kind (what a Volumes or Networks page relies on)."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

import engine
from app.resources import ResourceKind
from app.session import EngineSession
from tests.app.conftest import wait_connected
from tests.conftest import LABEL, EngineUnderTest
from tests.waits import wait_ms


async def _ours(client: engine.Engine) -> list[engine.Container]:
    return await client.containers(all=True, filters={"label": [LABEL]})


def _kind(name: str) -> ResourceKind[engine.Container]:
    return ResourceKind(name, _ours, lambda event: event.type == "container")


@pytest.mark.parametrize("subscribed", ["before connecting", "once connected"])
def test_a_kind_declared_elsewhere_is_listed_and_follows_events(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, subscribed: str,
) -> None:
    session: EngineSession = make_session(docker_engine.url)
    kind = _kind(f"ours-{subscribed}")
    if subscribed == "before connecting":
        live = session.live(kind)
    session.start()
    wait_connected(qtbot, session)
    if subscribed == "once connected":
        live = session.live(kind)
    lists: list[list[engine.Container]] = []
    live.changed.connect(lists.append)
    try:
        container_id, _ = docker_engine.create(docker_engine.image, "true")
        qtbot.waitUntil(lambda: container_id in {c.id for c in session.items(kind)},
                        timeout=wait_ms(10))
        assert lists and lists[-1] == live.items  # what subscribers were sent
        assert all(LABEL.split("=")[1] == c.labels.get(LABEL.split("=")[0])
                   for c in session.items(kind))
        docker_engine.cli("rm", container_id)
        qtbot.waitUntil(lambda: container_id not in {c.id for c in session.items(kind)},
                        timeout=wait_ms(10))
    finally:
        docker_engine.remove_test_containers()
