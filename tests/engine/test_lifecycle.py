"""Lifecycle actions against real engines: the same assertions on Docker and on Podman."""

from __future__ import annotations

import asyncio

import pytest

import engine
from engine._lifecycle import (
    ensure_restarted,
    ensure_started,
    ensure_stopped,
    kill_container,
    pause_container,
    remove_if_present,
    rename_container,
    unpause_container,
)
from tests.conftest import EngineUnderTest, unique_name

pytestmark = pytest.mark.anyio


def status_of(target: EngineUnderTest, name: str) -> str:
    return target.cli("inspect", "--format", "{{.State.Status}}", name)


async def test_pause_and_unpause(any_engine: EngineUnderTest) -> None:
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    async with await any_engine.open() as client:
        # Not running yet: both are conflicts on both daemons.
        with pytest.raises(engine.Conflict):
            await pause_container(client, container_id)
        with pytest.raises(engine.Conflict):
            await unpause_container(client, container_id)
        any_engine.cli("start", name)
        # Docker 20.10 answers 500 here; normalised to a conflict.
        with pytest.raises(engine.Conflict) as not_paused:
            await unpause_container(client, container_id)
        assert "paused" in not_paused.value.message
        await pause_container(client, container_id)
        assert status_of(any_engine, name) == "paused"
        with pytest.raises(engine.Conflict):
            await pause_container(client, container_id)
        await unpause_container(client, container_id)
        assert status_of(any_engine, name) == "running"


async def test_kill_running_then_stopped(any_engine: EngineUnderTest) -> None:
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    async with await any_engine.open() as client:
        with pytest.raises(engine.BadRequest):
            await kill_container(client, container_id, signal="BOGUS")
        await kill_container(client, container_id)
        [killed] = await client.containers(filters={"id": [container_id]})
        assert killed.state == "exited"
        assert killed.exit_code == 137
        with pytest.raises(engine.Conflict) as stopped:
            await kill_container(client, container_id)
        assert stopped.value.message


async def test_kill_with_a_signal_the_process_handles(any_engine: EngineUnderTest) -> None:
    container_id, name = any_engine.create(
        any_engine.image, "sh", "-c", "trap 'exit 7' USR1; while :; do sleep 0.1; done")
    any_engine.cli("start", name)
    async with await any_engine.open() as client:
        await kill_container(client, container_id, signal="SIGUSR1")
        assert any_engine.cli("wait", name) == "7"


async def test_rename(any_engine: EngineUnderTest) -> None:
    container_id, name = any_engine.create(any_engine.image, "true")
    _other_id, taken = any_engine.create(any_engine.image, "true")
    async with await any_engine.open() as client:
        with pytest.raises(engine.Conflict) as conflict:
            await rename_container(client, container_id, taken)
        assert conflict.value.status == 409
        assert taken in conflict.value.message and "already in use" in conflict.value.message
        with pytest.raises(engine.BadRequest):
            await rename_container(client, container_id, "bad name")
        await rename_container(client, container_id, name)  # no-op on both daemons
        new_name = unique_name("renamed")
        await rename_container(client, container_id, new_name)
        [renamed] = await client.containers(filters={"id": [container_id]})
        assert renamed.name == new_name
        with pytest.raises(engine.NotFound):
            await rename_container(client, unique_name("missing"), unique_name("x"))


async def test_start_and_stop_report_no_ops(any_engine: EngineUnderTest) -> None:
    container_id, _name = any_engine.create(any_engine.image, "sleep", "300")
    async with await any_engine.open() as client:
        assert await ensure_started(client, container_id) is True
        assert await ensure_started(client, container_id) is False
        assert await ensure_stopped(client, container_id, timeout=0) is True
        assert await ensure_stopped(client, container_id, timeout=0) is False


async def test_a_paused_container_stops_on_both_engines(any_engine: EngineUnderTest) -> None:
    """Podman refuses to stop a paused container; the engine unpauses it first."""
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    async with await any_engine.open() as client:
        await pause_container(client, container_id)
        assert await ensure_stopped(client, container_id, timeout=0, paused=True) is True
        assert status_of(any_engine, name) == "exited"
        assert await ensure_restarted(client, container_id) is True
        assert status_of(any_engine, name) == "running"


async def test_remove_racing_auto_remove(any_engine: EngineUnderTest) -> None:
    name = unique_name("autorm")
    any_engine.create("--rm", any_engine.image, "sleep", "300", name=name)
    any_engine.cli("start", name)
    async with await any_engine.open() as client:
        await ensure_stopped(client, name, timeout=0)
        # The daemon is removing it (Docker: 409 in progress) or has (404): both done.
        await remove_if_present(client, name)
        # Docker may still be finishing its own removal: wait for it, within reason.
        for _ in range(200):
            if not await client.containers(filters={"name": [name]}):
                break
            await asyncio.sleep(0.05)
        assert await client.containers(filters={"name": [name]}) == []
        assert await remove_if_present(client, name) is False


async def test_remove_with_anonymous_volumes(any_engine: EngineUnderTest) -> None:
    container_id, name = any_engine.create("-v", "/data", any_engine.image, "true")
    volume = any_engine.cli("inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", name)
    assert volume in any_engine.cli("volume", "ls", "-q").split()
    async with await any_engine.open() as client:
        assert await remove_if_present(client, container_id, volumes=True) is True
    assert volume not in any_engine.cli("volume", "ls", "-q").split()
