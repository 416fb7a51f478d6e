"""A live list declared outside the session is kept by it: nothing in the session
names a kind (what a Volumes or Networks page relies on)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pytestqt.qtbot import QtBot

import engine
from app.resources import CONTAINERS, IMAGES, ResourceKind
from app.session import EngineSession
from tests.app.conftest import wait_connected
from tests.conftest import LABEL, EngineUnderTest
from tests.fault_proxy import FaultProxy
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


def _container_lists(requests: list[str]) -> list[dict[str, list[str]]]:
    """The filters of each container listing among ``requests`` ({} for the whole list)."""
    found = []
    for request in requests:
        method, _, target = request.partition(" ")
        url = urlsplit(target)
        if method == "GET" and url.path.endswith("/containers/json"):
            query = parse_qs(url.query)
            found.append(json.loads(query["filters"][0]) if "filters" in query else {})
    return found


def test_one_containers_events_read_that_container_alone(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    """On a busy engine a re-read of every container per event was the cost (#18): an
    event naming its container reads that one, and the list still ends as the CLI's."""
    with FaultProxy(any_engine.endpoint.socket_path or "", tmp_path / "proxy.sock") as proxy:
        session: EngineSession = make_session(proxy.url)
        live = session.live(CONTAINERS)
        events: list[engine.Event] = []
        session.eventReceived.connect(events.append)
        with qtbot.waitSignal(live.changed, timeout=wait_ms(10)):  # the first, whole list
            session.start()
        wait_connected(qtbot, session)
        try:
            before = len(proxy.requests)
            container_id, _ = any_engine.create(any_engine.image, "sleep", "300")
            qtbot.waitUntil(lambda: container_id in {c.id for c in live.items},
                            timeout=wait_ms(10))
            any_engine.cli("start", container_id)
            qtbot.waitUntil(lambda: any(c.id == container_id and c.state == "running"
                                        for c in live.items), timeout=wait_ms(10))
            any_engine.cli("rm", "-f", container_id)
            qtbot.waitUntil(lambda: container_id not in {c.id for c in live.items},
                            timeout=wait_ms(10))
            qtbot.waitUntil(lambda: any(e.actor_id == container_id and e.action in (
                "destroy", "remove") for e in events), timeout=wait_ms(10))
            listings = _container_lists(proxy.requests[before:])
            assert listings, "the events were followed by listings"
            # (Other programs' containers may come and go meanwhile: their own reads.)
            assert all(set(filters) == {"id"} for filters in listings), listings
            assert any(container_id in filters["id"] for filters in listings), listings
            # Which images are in use comes from the containers: its events leave the
            # images list alone.
            ours = [e for e in events if e.actor_id == container_id]
            actions = {e.action for e in ours}
            assert {"create", "start"} <= actions and actions & {"destroy", "remove"}, actions
            assert not any(IMAGES.stale_on(e) for e in ours)
            key, value = LABEL.split("=")
            cli_ids = set(any_engine.cli("ps", "-aq", "--no-trunc", "--filter",
                                         f"label={LABEL}").split())
            assert {c.id for c in live.items if c.labels.get(key) == value} == cli_ids
        finally:
            any_engine.remove_test_containers()
