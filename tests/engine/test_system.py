"""Disk usage against real engines: numbers compared with ``docker system df``, clean-up plans
compared with what the (label-filtered) prunes really removed."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import engine
from app.df_cmd import reclaimable_text
from app.presentation import cli_size
from engine import BuildComplete, build, walk_context
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.disk_helpers import LABELS, OURS, disk_engine  # noqa: F401
from tests.waits import seconds

pytestmark = pytest.mark.anyio


def cli_json_lines(target: EngineUnderTest, *args: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in target.cli(*args).splitlines() if line.strip()]


async def steady_usage(
    client: engine.Engine, target: EngineUnderTest, *cli_args: str
) -> tuple[engine.DiskUsage, Any]:
    """Our df and the CLI's, read while the engine held still (other tests share it)."""
    for _ in range(10):
        before = await engine.disk_usage(client)
        cli = target.cli(*cli_args)
        after = await engine.disk_usage(client)
        if before.summary() == after.summary():
            return after, cli
    pytest.fail("the engine's disk usage kept changing while it was read")


async def test_summary_agrees_with_the_cli(disk_engine: EngineUnderTest) -> None:  # noqa: F811
    async with await disk_engine.open() as client:
        usage, cli = await steady_usage(client, disk_engine,
                                        "system", "df", "--format", "{{json .}}")
    rows = {row["Type"]: row for row in map(json.loads, cli.splitlines())}
    for ours in usage.summary():
        theirs = rows[ours.kind]
        assert int(theirs["TotalCount"]) == ours.total, ours.kind
        assert int(theirs["Active"]) == ours.active, ours.kind
        assert theirs["Size"] == cli_size(ours.size), ours.kind
        assert theirs["Reclaimable"] == reclaimable_text(ours), ours.kind


async def test_reads_at_once_all_answer(disk_engine: EngineUnderTest) -> None:  # noqa: F811
    """Docker 20.10 refuses a df while another runs ("a disk usage operation is already
    running"), from this program or any other: every read is answered all the same."""
    async with await disk_engine.open() as client:
        usages = await asyncio.gather(*(engine.disk_usage(client) for _ in range(4)))
    for usage in usages:
        assert any(tag.endswith(disk_engine.image) for image in usage.images
                   for tag in image.repo_tags), [i.repo_tags for i in usage.images]


async def test_every_item_agrees_with_the_cli(disk_engine: EngineUnderTest) -> None:  # noqa: F811
    volume_name = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, volume_name)
    # A container whose writable layer holds 5000 bytes, and a volume of 12345 bytes.
    _, writer = disk_engine.create("-v", f"{volume_name}:/v", disk_engine.image, "sh", "-c",
                                   "head -c 5000 /dev/zero > /f"
                                   " && head -c 12345 /dev/zero > /v/data")
    disk_engine.cli("start", "-a", writer)
    async with await disk_engine.open() as client:
        usage, cli = await steady_usage(client, disk_engine,
                                        "system", "df", "-v", "--format", "{{json .}}")
    theirs = json.loads(cli)

    [volume] = [v for v in usage.volumes if v.name == volume_name]
    assert volume.size == 12345 and volume.ref_count == 1
    [cli_volume] = [v for v in theirs["Volumes"] if v["Name"] == volume_name]
    assert cli_volume["Size"] == cli_size(12345)
    assert cli_volume["Links"] == "1"

    [container] = [c for c in usage.containers if c.name == writer]
    assert 5000 <= container.size_rw < 5000 + 4096  # the file, plus the daemon's own bits
    # By ID: the CLI cuts the first letter of Podman's names (it expects Docker's "/name").
    [cli_container] = [c for c in theirs["Containers"] if c["ID"] == container.id]
    assert cli_container["Size"] == cli_size(container.size_rw, 3)

    image_id = disk_engine.cli("image", "inspect", "--format", "{{.Id}}", disk_engine.image)
    bare = image_id.removeprefix("sha256:")  # Podman's df gives IDs without the prefix
    [image] = [i for i in usage.images if i.id.removeprefix("sha256:") == bare]
    assert image.containers and image.containers >= 1
    [cli_image] = [i for i in theirs["Images"] if i["ID"].split(":")[-1] == bare]
    assert cli_image["Size"] == cli_size(image.size, 3)
    if image.shared_size is not None:
        assert cli_image["SharedSize"] == cli_size(image.shared_size)
        assert cli_image["UniqueSize"] == cli_size(image.unique_size or 0)

    cache = {b.id: b for b in usage.build_cache}
    for record in theirs["BuildCache"] or []:
        ours = cache[record["ID"].rstrip("*")]  # the CLI marks a record in use with "*"
        assert record["Size"] == cli_size(ours.size, 3)
        assert record["CacheType"] == ours.type
        assert record["Shared"] == str(ours.shared).lower()
        assert record["InUse"] == str(ours.in_use).lower()
    if client.version.is_podman:
        assert not usage.build_cache_supported and not usage.build_cache


async def test_cleanup_plan_is_what_the_prunes_remove(
    disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    target = disk_engine
    _, stopped = target.create(target.image, "sh", "-c", "head -c 3000 /dev/zero > /f")
    target.cli("start", "-a", stopped)
    _, running = target.create(target.image, "sleep", "300")
    target.cli("start", running)
    async with await target.open() as client:
        anonymous = await engine.create_volume(client, labels=LABELS)
        named = await engine.create_volume(client, unique_name("vol"), labels=LABELS)
        idle = await engine.create_network(client, unique_name("net"), labels=LABELS)
        target.cli("run", "--rm", "--label", LABEL, "-v", f"{anonymous.name}:/v", target.image,
                   "sh", "-c", "head -c 4096 /dev/zero > /v/f")

        plan = await engine.cleanup_plan(client, filters=OURS)
        stopped_items = plan.of_kind(engine.STOPPED_CONTAINERS)
        assert [i.name for i in stopped_items] == [stopped]
        assert [i.id for i in plan.of_kind(engine.UNUSED_VOLUMES)] == [anonymous.name]
        assert plan.bytes(engine.UNUSED_VOLUMES) == 4096
        assert [i.name for i in plan.of_kind(engine.UNUSED_NETWORKS)] == [idle.name]
        image_id = target.cli("image", "inspect", "--format", "{{.Id}}", target.image)
        assert image_id not in {i.id for i in plan.of_kind(engine.UNUSED_IMAGES)}  # in use
        assert set(plan.of_kind(engine.DANGLING_IMAGES)) <= {
            engine.CleanupItem(engine.DANGLING_IMAGES, i.id, i.name, i.size)
            for i in plan.of_kind(engine.UNUSED_IMAGES)}
        assert engine.BUILD_CACHE in plan.notes and not plan.of_kind(engine.BUILD_CACHE)
        every = await engine.cleanup_plan(client, filters=OURS, all_volumes=True)
        assert {i.id for i in every.of_kind(engine.UNUSED_VOLUMES)} == {anonymous.name,
                                                                         named.name}

        pruned = await engine.prune_containers(client, filters=OURS)
        assert set(pruned.deleted) == {i.id for i in stopped_items}
        if not client.version.is_podman:  # Docker counts the writable layers it freed
            assert pruned.reclaimed == plan.bytes(engine.STOPPED_CONTAINERS)
        assert target.cli("ps", "-aq", "--filter", f"label={LABEL}", "--no-trunc").split() == [
            target.cli("inspect", "--format", "{{.Id}}", running)]

        networks = await engine.prune_networks(client, filters=OURS)
        assert set(networks.deleted) == {i.name for i in plan.of_kind(engine.UNUSED_NETWORKS)}


async def test_cleanup_removes_only_what_is_ticked(
    disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    target = disk_engine
    first_id, first = target.create(target.image, "true")
    second_id, second = target.create(target.image, "true")
    async with await target.open() as client:
        kept = await engine.create_volume(client, labels=LABELS)
        gone = await engine.create_volume(client, labels=LABELS)
        plan = await engine.cleanup_plan(client, filters=OURS)
        assert {i.name for i in plan.of_kind(engine.STOPPED_CONTAINERS)} == {first, second}
        assert {i.id for i in plan.of_kind(engine.UNUSED_VOLUMES)} == {kept.name, gone.name}
        ticked = [i for i in plan.items if i.id in (first_id, gone.name)]
        results = await engine.cleanup(client, ticked)
        assert results[engine.STOPPED_CONTAINERS].deleted == (first_id,)
        assert results[engine.UNUSED_VOLUMES].deleted == (gone.name,)
        assert not results[engine.STOPPED_CONTAINERS].failed
        names = target.cli("ps", "-a", "--format", "{{.Names}}", "--filter",
                           f"label={LABEL}").split()
        assert names == [second]
        volumes = target.cli("volume", "ls", "-q", "--filter", f"label={LABEL}").split()
        assert volumes == [kept.name]
        # A ticked item another client removed meanwhile is skipped, not an error.
        target.cli("rm", second)
        late = [i for i in plan.items if i.id == second_id]
        assert (await engine.cleanup(client, late))[engine.STOPPED_CONTAINERS].deleted == ()


async def test_build_cache_on_podman_says_there_is_none(
    disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    async with await disk_engine.open() as client:
        usage = await engine.disk_usage(client)
        plan = await engine.cleanup_plan(client, usage=usage)
        if client.version.is_podman:
            assert not usage.build_cache_supported
            assert "Podman" in plan.notes[engine.BUILD_CACHE]
            assert await engine.prune_build_cache(client) == engine.PruneResult()
        else:
            assert usage.build_cache_supported
            # Nothing in use is planned; every record not in use is (no age limit).
            planned = {i.id for i in plan.of_kind(engine.BUILD_CACHE)}
            assert planned == {b.id for b in usage.build_cache if not b.in_use}
            # "Older than" keeps what was used since: a record used just now is not planned.
            recent = max(usage.build_cache, key=lambda b: b.last_used or b.created or 0,
                         default=None)
            aged = await engine.cleanup_plan(client, usage=usage,
                                             cache_older_than=timedelta(hours=1))
            if recent is not None and recent.last_used and recent.last_used > datetime.now(
                    UTC) - timedelta(minutes=50):
                assert recent.id not in {i.id for i in aged.of_kind(engine.BUILD_CACHE)}
            assert {i.id for i in aged.of_kind(engine.BUILD_CACHE)} <= planned


async def test_build_cache_record_of_our_own_is_planned_and_pruned_alone(
    docker_engine: EngineUnderTest, tmp_path: Path
) -> None:
    """A BuildKit record this test made (found by a token in its step) goes; nothing else."""
    token = unique_name("cache")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {docker_engine.image}\nRUN echo {token} > /f\n")
    tag = f"dockyard-test/{token}:1"
    try:
        async with await docker_engine.open() as client:
            events = [event async for event in build(client, walk_context(tmp_path), tags=[tag],
                                                     labels={LABEL_KEY: RUN_ID}, buildkit=True)]
            assert isinstance(events[-1], BuildComplete)
            usage = await engine.disk_usage(client)
            [record] = [b for b in usage.build_cache if token in b.description]
            assert record.type == "regular" and record.size == len(token) + 1
            assert not record.in_use and record.last_used is not None

            plan = await engine.cleanup_plan(client, usage=usage)
            [item] = [i for i in plan.of_kind(engine.BUILD_CACHE) if i.id == record.id]
            assert item.size == record.size
            # Used just now: an "older than an hour" clean-up leaves it.
            aged = await engine.cleanup_plan(client, usage=usage,
                                             cache_older_than=timedelta(hours=1))
            assert record.id not in {i.id for i in aged.of_kind(engine.BUILD_CACHE)}

            before = {b.id for b in usage.build_cache}
            results = await engine.cleanup(client, [item])
            assert results[engine.BUILD_CACHE].deleted == (record.id,)
            assert results[engine.BUILD_CACHE].reclaimed == record.size
            after = {b.id for b in (await engine.disk_usage(client)).build_cache}
            assert record.id not in after
            # Only ours went (others' builds may add records meanwhile, not remove them).
            assert before - after == {record.id}
    finally:
        docker_engine.cli("rmi", "-f", tag, check=False)


async def test_an_unused_image_of_our_own_is_planned_and_removed_when_ticked(
    disk_engine: EngineUnderTest, tmp_path: Path  # noqa: F811
) -> None:
    token = unique_name("img")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {disk_engine.image}\nRUN head -c 7000 /dev/zero > /f\nLABEL {LABEL_KEY}={RUN_ID}\n")
    tag = f"dockyard-test/{token}:1"
    disk_engine.cli("build", "-q", "-t", tag, str(tmp_path), timeout=seconds(300))
    try:
        image_id = disk_engine.cli("image", "inspect", "--format", "{{.Id}}", tag)
        async with await disk_engine.open() as client:
            plan = await engine.cleanup_plan(client, filters=OURS)
            [item] = [i for i in plan.of_kind(engine.UNUSED_IMAGES)
                      if i.id.removeprefix("sha256:") == image_id.removeprefix("sha256:")]
            assert item.name == disk_engine.qualified(tag)
            assert item.size is not None
            if not client.version.is_podman:  # Podman's df counts shared bytes its own way
                assert 7000 <= item.size < 7000 + 4096  # its own layer
            assert item not in plan.of_kind(engine.DANGLING_IMAGES)  # it has a tag

            results = await engine.cleanup(client, [item])
            assert results[engine.UNUSED_IMAGES].deleted == (item.id,)
            assert not results[engine.UNUSED_IMAGES].failed
        assert disk_engine.cli("images", "-q", tag) == ""
        # The base image it was built on stays.
        assert disk_engine.cli("images", "-q", disk_engine.image) != ""
    finally:
        disk_engine.cli("rmi", "-f", tag, check=False)
