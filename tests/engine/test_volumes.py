"""Volumes against real engines: sizes of known contents, in-use refusal, prune previews."""

from __future__ import annotations

import json

import pytest

import engine
from tests.conftest import LABEL, EngineUnderTest, unique_name
from tests.disk_helpers import LABELS, OURS, disk_engine  # noqa: F401

pytestmark = pytest.mark.anyio


def fill(target: EngineUnderTest, volume: str, script: str) -> None:
    """Write into a volume from a short-lived labelled container."""
    target.cli("run", "--rm", "--label", LABEL, "-v", f"{volume}:/v", target.image,
               "sh", "-c", script)


async def test_sizes_of_known_contents(disk_engine: EngineUnderTest) -> None:  # noqa: F811
    name = unique_name("vol")
    async with await disk_engine.open() as client:
        created = await engine.create_volume(
            client, name, labels={**LABELS, "purpose": "sizes"},
            driver_options={"type": "tmpfs", "device": "tmpfs", "o": "nodev"})
        assert created.name == name
        assert created.driver == "local"
        assert created.options == {"type": "tmpfs", "device": "tmpfs", "o": "nodev"}
        plain = await engine.create_volume(client, unique_name("vol"), labels=LABELS)
        # 10000 + 2345 bytes of files, one in a subdirectory.
        fill(disk_engine, plain.name,
             "head -c 10000 /dev/zero > /v/a && mkdir /v/d && head -c 2345 /dev/zero > /v/d/b")

        listed = {v.name: v for v in await engine.volumes(client, filters=OURS)}
        assert set(listed) == {name, plain.name}
        assert listed[plain.name].size == 12345
        assert listed[plain.name].labels == LABELS
        assert listed[name].labels["purpose"] == "sizes"
        assert not listed[plain.name].anonymous

        inspected = await engine.volume(client, plain.name, size=True)
        assert inspected.size == 12345
        assert inspected.mountpoint.endswith(f"/{plain.name}/_data")
        assert (await engine.volume(client, plain.name)).size is None  # not asked: unknown

        without = await engine.volumes(client, filters=OURS, sizes=False)
        assert {v.size for v in without} == {None}

        # The CLI sees the same volume with the same options.
        [cli_view] = json.loads(disk_engine.cli("volume", "inspect", name))
        assert cli_view["Options"] == dict(created.options)


async def test_in_use_refuses_removal_naming_the_container(
    disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    async with await disk_engine.open() as client:
        held = await engine.create_volume(client, unique_name("vol"), labels=LABELS)
        _, holder = disk_engine.create("-v", f"{held.name}:/data", disk_engine.image, "true")
        with pytest.raises(engine.VolumeInUse) as refused:
            await engine.remove_volume(client, held.name)
        # The daemon's own words, then the container by name.
        assert "in use" in refused.value.message or "being used" in refused.value.message
        assert holder in refused.value.message
        assert [c.name for c in refused.value.containers] == [holder]
        assert isinstance(refused.value, engine.Conflict)
        assert disk_engine.cli("volume", "ls", "-q", "--filter", f"name={held.name}")

        disk_engine.cli("rm", holder)
        await engine.remove_volume(client, held.name)
        assert not disk_engine.cli("volume", "ls", "-q", "--filter", f"name={held.name}")
        with pytest.raises(engine.NotFound):
            await engine.volume(client, held.name)


async def test_prune_preview_is_what_the_prune_removes(
    disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    async with await disk_engine.open() as client:
        named = await engine.create_volume(client, unique_name("vol"), labels=LABELS)
        anonymous = await engine.create_volume(client, labels=LABELS)
        used = await engine.create_volume(client, unique_name("vol"), labels=LABELS)
        assert anonymous.anonymous and len(anonymous.display_name) == 12
        fill(disk_engine, anonymous.name, "head -c 4096 /dev/zero > /v/f")
        fill(disk_engine, named.name, "head -c 1000 /dev/zero > /v/f")
        disk_engine.create("-v", f"{used.name}:/data", disk_engine.image, "true")

        only_anonymous = await engine.volume_prune_plan(client, filters=OURS)
        assert [v.name for v in only_anonymous.volumes] == [anonymous.name]
        assert only_anonymous.bytes == 4096 and only_anonymous.unknown_sizes == 0
        every_unused = await engine.volume_prune_plan(client, all=True, filters=OURS)
        assert {v.name for v in every_unused.volumes} == {anonymous.name, named.name}
        assert every_unused.bytes == 5096

        # Without all: only the anonymous one goes, on every API version and on Podman.
        pruned = await engine.prune_volumes(client, filters=OURS, plan=only_anonymous)
        assert pruned.deleted == (anonymous.name,)
        assert pruned.reclaimed == 4096
        left = set(disk_engine.cli("volume", "ls", "-q", "--filter", f"label={LABEL}").split())
        assert left == {named.name, used.name}

        plan = await engine.volume_prune_plan(client, all=True, filters=OURS)
        assert [v.name for v in plan.volumes] == [named.name]
        everything = await engine.prune_volumes(client, all=True, filters=OURS)
        assert set(everything.deleted) == {v.name for v in plan.volumes}
        if not client.version.is_podman:  # Docker measures what it freed; Podman says 0
            assert everything.reclaimed == plan.bytes
        left = set(disk_engine.cli("volume", "ls", "-q", "--filter", f"label={LABEL}").split())
        assert left == {used.name}
