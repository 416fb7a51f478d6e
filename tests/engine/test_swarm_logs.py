"""A service's log through the bindings, against the private one-node swarm (never the main
engine): every task's lines, in time order, marked by task and node, and followed."""

from __future__ import annotations

import asyncio
import re

import pytest

import engine
from tests.conftest import LABEL_KEY, RUN_ID, SwarmUnderTest, unique_name
from tests.engine.test_swarm import until
from tests.waits import seconds

pytestmark = pytest.mark.anyio

#: Each task writes "tick N from <its container's hostname>" every 0.3 s.
TICKER = "i=0; while true; do echo \"tick $i from $(hostname)\"; i=$((i+1)); sleep 0.3; done"


async def ticking_service(client: engine.Engine, target: SwarmUnderTest, replicas: int) -> str:
    name = unique_name("logs")
    await engine.create_service(client, target.image, name=name, replicas=replicas,
                                command=["sh", "-c", TICKER], labels={LABEL_KEY: RUN_ID})
    await until(lambda: engine.tasks(client, service=name, live_only=True),
                lambda ts: sum(t.state == "running" for t in ts) == replicas, 90,
                f"{replicas} running tasks")
    return name


async def read_all(client: engine.Engine, name: str, cursor: engine.ServiceLogCursor | None
                   = None) -> list[tuple[str, bytes, bytes | None]]:
    found: list[tuple[str, bytes, bytes | None]] = []
    async for batch in engine.service_logs(client, name, cursor=cursor):
        found += zip(batch.sources, batch.lines, batch.stamps, strict=True)
    return found


async def test_lines_of_every_task_in_time_order_marked_by_slot_and_node(
        swarm_engine: SwarmUnderTest) -> None:
    async with await swarm_engine.open() as client:
        name = await ticking_service(client, swarm_engine, replicas=3)
        hostname = (await engine.nodes(client))[0].hostname
        await until(lambda: read_all(client, name),
                    lambda lines: len({mark for mark, _, _ in lines}) == 3
                    and len(lines) >= 9, 60, "three ticks of each task")
        lines = await read_all(client, name)
    marks = {mark for mark, _, _ in lines}
    assert marks == {f"{name}.{slot}@{hostname}" for slot in (1, 2, 3)}
    # Each task's lines are its own: one container hostname per mark, counting up.
    by_mark: dict[str, list[bytes]] = {}
    for mark, text, _ in lines:
        by_mark.setdefault(mark, []).append(text)
    containers = set()
    for texts in by_mark.values():
        found = [re.fullmatch(rb"tick (\d+) from (\w+)", t) for t in texts]
        assert all(found), texts[:5]
        assert len({m.group(2) for m in found if m}) == 1
        containers.add(found[0].group(2) if found[0] else b"")
        numbers = [int(m.group(1)) for m in found if m]
        assert numbers == sorted(numbers)
    assert len(containers) == 3
    # Interleaved by time (the daemon sends them task by task), no details left in the text.
    stamps = [stamp for _, _, stamp in lines]
    assert None not in stamps and stamps == sorted(stamps)  # type: ignore[type-var]
    assert not any(b"com.docker.swarm" in text for _, text, _ in lines)


async def test_follow_passes_new_lines_on_and_a_cursor_resumes_without_repeats(
        swarm_engine: SwarmUnderTest) -> None:
    async with await swarm_engine.open() as client:
        name = await ticking_service(client, swarm_engine, replicas=2)
        cursor = engine.ServiceLogCursor()
        seen: list[tuple[str, bytes]] = []

        async def follow() -> None:
            async for batch in engine.service_logs(client, name, follow=True, tail=2,
                                                   cursor=cursor):
                seen.extend(zip(batch.sources, batch.lines, strict=True))

        reader = asyncio.ensure_future(follow())
        try:
            await until(lambda: asyncio.sleep(0, len(seen)),
                        lambda count: count >= 14, 60, "lines followed as they come")
        finally:
            reader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reader
        assert len(set(seen)) == len(seen), "a line was passed on twice"
        # A scaled-up task's lines reach a resumed read; nothing already seen comes again.
        await engine.scale_service(client, name, 3)
        await until(lambda: engine.tasks(client, service=name, live_only=True),
                    lambda ts: sum(t.state == "running" for t in ts) == 3, 90,
                    "the third task running")
        more: list[tuple[str, bytes]] = []
        await until(lambda: read_all(client, name, cursor),
                    lambda got: bool(more.extend((m, t) for m, t, _ in got))
                    or len({m for m, _ in more}) == 3, 60, "lines of the new task")
    assert not set(more) & set(seen), "the resumed read repeated lines"
    assert any(mark.startswith(f"{name}.3@") for mark, _ in more)


async def test_no_such_service_and_a_non_manager_say_so(swarm_engine: SwarmUnderTest,
                                                         docker_engine: object) -> None:
    async with await swarm_engine.open() as client:
        with pytest.raises(engine.NotFound):
            await read_all(client, "no-such-service-" + RUN_ID)
    async with await docker_engine.open() as main:  # type: ignore[attr-defined]
        with pytest.raises(engine.NotSwarmManager):
            await asyncio.wait_for(read_all(main, "anything"), seconds(30))


async def test_tasks_that_replaced_one_another_in_a_slot_share_its_mark(
        swarm_engine: SwarmUnderTest) -> None:
    """A task that fails is rescheduled in its slot: every attempt's lines carry the slot's
    mark (one source, one filter button), the attempts told apart by their text."""
    async with await swarm_engine.open() as client:
        name = unique_name("relogs")
        await engine.create_service(
            client, swarm_engine.image, name=name, replicas=1,
            command=["sh", "-c", "echo attempt from $(hostname); exit 3"],
            labels={LABEL_KEY: RUN_ID}, restart_condition="on-failure")
        await until(lambda: engine.tasks(client, service=name),
                    lambda ts: sum(t.failed for t in ts) >= 3, 90, "three failed attempts")
        hostname = (await engine.nodes(client))[0].hostname
        lines = await until(lambda: read_all(client, name),
                            lambda got: len(got) >= 3, 60, "the attempts' lines")
    assert {mark for mark, _, _ in lines} == {f"{name}.1@{hostname}"}
    attempts = {text for _, text, _ in lines}
    assert len(attempts) >= 3 and all(t.startswith(b"attempt from ") for t in attempts)


async def test_a_service_without_a_log_says_so(swarm_engine: SwarmUnderTest) -> None:
    """The ``none`` log driver: the daemon would answer with nothing; we say why."""
    name = unique_name("nolog")
    swarm_engine.cli("service", "create", "--detach", "--name", name, "--log-driver", "none",
                     "--label", LABEL_KEY + "=" + RUN_ID, swarm_engine.image, "sleep", "3600")
    async with await swarm_engine.open() as client:
        with pytest.raises(engine.BadRequest, match="'none' driver: its tasks keep no log"):
            await read_all(client, name)
