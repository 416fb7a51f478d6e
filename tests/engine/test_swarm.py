"""Swarm through the bindings, against a private one-node swarm dockerd (never the main engine).

Each test makes its own labelled services; the fixture removes them after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

import engine
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, SwarmUnderTest, unique_name
from tests.waits import seconds

pytestmark = pytest.mark.anyio

T = TypeVar("T")


async def until(read: Callable[[], Awaitable[T]], ok: Callable[[T], bool], idle: float,
                what: str) -> T:
    """Read until ``ok`` holds (the swarm converges in its own time); fail after the bound."""
    deadline = asyncio.get_running_loop().time() + seconds(idle)
    while True:
        value = await read()
        if ok(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last seen: {value!r:.2000}")
        await asyncio.sleep(0.2)


def running(tasks: list[engine.Task]) -> list[engine.Task]:
    return [t for t in tasks if t.state == "running" and t.desired_state == "running"]


async def make_service(client: engine.Engine, target: SwarmUnderTest, replicas: int = 2,
                       **options: object) -> str:
    name = unique_name("svc")
    await engine.create_service(client, target.image, name=name, replicas=replicas,
                                command=["sleep", "3600"], labels={LABEL_KEY: RUN_ID},
                                **options)  # type: ignore[arg-type]
    return name


async def test_state_of_a_manager(swarm_engine: SwarmUnderTest) -> None:
    async with await swarm_engine.open() as client:
        state = await engine.swarm_state(client)
        assert state.active and state.control_available
        assert state.role == "manager"
        assert state.node_id == swarm_engine.node_id
        assert (state.nodes, state.managers) == (1, 1)
        found = await engine.nodes(client)
    assert [n.id for n in found] == [swarm_engine.node_id]
    only = found[0]
    assert (only.role, only.availability, only.state) == ("manager", "active", "ready")
    assert only.leader and only.manager_status == "Leader"
    assert only.engine_version.startswith("20.") or only.engine_version
    assert only.nano_cpus > 0 and only.memory_bytes > 0
    assert only.hostname


async def test_main_engine_is_no_swarm(docker_engine: EngineUnderTest) -> None:
    """The developer's engine stays out of any swarm; its cluster calls say why they fail."""
    async with await docker_engine.open() as client:
        state = await engine.swarm_state(client)
        assert state.role == "inactive" and not state.control_available
        with pytest.raises(engine.NotSwarmManager, match="not a swarm manager"):
            await engine.services(client)
        summary = await engine.swarm_summary(client)
    assert summary.services is None and summary.state.local_state == "inactive"


async def test_service_of_two_tasks_scales_to_three_and_back(
        swarm_engine: SwarmUnderTest) -> None:
    async with await swarm_engine.open() as client:
        name = await make_service(client, swarm_engine, replicas=2)
        created = await until(lambda: engine.service(client, name),
                              lambda s: s.running == 2, 60, "2 running tasks")
        assert (created.mode_text, created.desired, created.image) == (
            "replicated 2", 2, swarm_engine.image)
        assert created.command == ("sleep", "3600")
        listed = {s.name: s for s in await engine.services(client, label=LABEL)}
        assert listed[name].running == 2 and listed[name].desired == 2
        two = running(await engine.tasks(client, service=name))
        assert sorted(t.slot for t in two) == [1, 2]
        assert all(t.node_id == swarm_engine.node_id and t.container_id for t in two)
        assert all(t.image.startswith(swarm_engine.image) for t in two)

        scaled = await engine.scale_service(client, name, 3)
        assert scaled.replicas == 3 and scaled.version > created.version
        three = await until(lambda: engine.tasks(client, service=name),
                            lambda ts: len(running(ts)) == 3, 60, "3 running tasks")
        assert sorted(t.slot for t in running(three)) == [1, 2, 3]

        await engine.scale_service(client, name, 2)
        back = await until(lambda: engine.tasks(client, service=name, live_only=True),
                           lambda ts: len(ts) == 2 and len(running(ts)) == 2, 60,
                           "back to 2 tasks")
        assert sorted(t.slot for t in back) == [1, 2]
        # The third task is told to go (20.10 removes it outright; later engines keep it as
        # history, desired "remove").
        every = await engine.tasks(client, service=name)
        assert all(t.slot != 3 or t.desired_state in ("shutdown", "remove") for t in every)

        await engine.remove_service(client, name)
        with pytest.raises(engine.NotFound):
            await engine.service(client, name)


async def test_image_update_then_rollback(swarm_engine: SwarmUnderTest) -> None:
    newer = f"dockyard-test/busybox-next:{RUN_ID}"
    swarm_engine.cli("tag", swarm_engine.image, newer)
    try:
        async with await swarm_engine.open() as client:
            name = await make_service(client, swarm_engine, replicas=2)
            await until(lambda: engine.service(client, name), lambda s: s.running == 2, 60,
                        "2 running tasks")
            updated = await engine.update_service_image(client, name, newer)
            assert updated.image == newer and updated.has_previous
            done = await until(lambda: engine.service(client, name),
                               lambda s: s.update is not None and s.update.state == "completed",
                               120, "the rolling update to complete")
            assert done.running == 2
            live = running(await engine.tasks(client, service=name, live_only=True))
            assert len(live) == 2 and all(t.image.startswith(newer) for t in live)

            rolled = await engine.rollback_service(client, name)
            assert rolled.image == swarm_engine.image
            back = await until(
                lambda: engine.service(client, name),
                lambda s: s.update is not None and s.update.state == "rollback_completed",
                120, "the rollback to complete")
            assert back.running == 2
            live = running(await engine.tasks(client, service=name, live_only=True))
            assert all(t.image.startswith(swarm_engine.image) for t in live)
    finally:
        swarm_engine.cli("rmi", newer, check=False)


async def test_failing_task_shows_its_error_and_exit_code(swarm_engine: SwarmUnderTest) -> None:
    async with await swarm_engine.open() as client:
        name = unique_name("fail")
        await engine.create_service(client, swarm_engine.image, name=name, replicas=1,
                                    command=["sh", "-c", "exit 3"],
                                    labels={LABEL_KEY: RUN_ID}, restart_condition="none")
        failed = await until(lambda: engine.tasks(client, service=name),
                             lambda ts: any(t.failed for t in ts), 60, "a failed task")
        task = next(t for t in failed if t.failed)
        assert task.exit_code == 3
        assert "non-zero exit (3)" in task.error
        assert task.container_id and task.timestamp is not None
        shown = await engine.service(client, name)
        assert shown.running == 0 and shown.desired == 1


async def test_no_image_and_bad_scale_are_refused_plainly(swarm_engine: SwarmUnderTest) -> None:
    async with await swarm_engine.open() as client:
        with pytest.raises(engine.BadRequest, match="needs an image"):
            await engine.create_service(client, " ")
        with pytest.raises(engine.NotFound):
            await engine.scale_service(client, unique_name("missing"), 2)
        name = await make_service(client, swarm_engine, replicas=1)
        with pytest.raises(engine.BadRequest, match="0 or more"):
            await engine.scale_service(client, name, -1)
        with pytest.raises(engine.BadRequest, match="no previous version"):
            await engine.rollback_service(client, name)


async def test_drain_moves_tasks_off_and_activate_brings_them_back(
        swarm_engine: SwarmUnderTest) -> None:
    async with await swarm_engine.open() as client:
        name = await make_service(client, swarm_engine, replicas=2)
        await until(lambda: engine.service(client, name), lambda s: s.running == 2, 60,
                    "2 running tasks")
        try:
            drained = await engine.update_node(client, swarm_engine.node_id, availability="drain")
            assert drained.availability == "drain"
            # One node, drained: nothing may run, the tasks wait for a node.
            await until(lambda: engine.tasks(client, service=name),
                        lambda ts: not running(ts), 60, "the tasks to leave the drained node")
            assert (await engine.service(client, name)).running == 0
        finally:
            active = await engine.update_node(client, swarm_engine.node_id, availability="active")
        assert active.availability == "active"
        await until(lambda: engine.service(client, name), lambda s: s.running == 2, 60,
                    "the tasks back on the active node")
        with pytest.raises(engine.BadRequest, match="availability must be"):
            await engine.update_node(client, swarm_engine.node_id, availability="sleepy")
