"""Recreating a container with new settings keeps its data, or puts everything back."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest

import engine
from tests.conftest import EngineUnderTest, unique_name

pytestmark = pytest.mark.anyio


@pytest.fixture
def volume(any_engine: EngineUnderTest):  # type: ignore[no-untyped-def]
    name = unique_name("vol")
    any_engine.cli("volume", "create", name)
    made: list[str] = [name]
    yield made
    any_engine.remove_test_containers()
    any_engine.cli("volume", "rm", "-f", *made, check=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_recreate_keeps_volumes_and_applies_new_settings(
    any_engine: EngineUnderTest, volume: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "bound"
    folder.mkdir()
    (folder / "host.txt").write_text("from the host\n")
    port = free_port()
    container_id, name = any_engine.create(
        "-e", "MODE=one", "-v", f"{volume[0]}:/data", "-v", f"{folder}:/host:ro", "-v", "/cache",
        "-p", f"127.0.0.1:{port}:80", any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    any_engine.cli("exec", name, "sh", "-c", "echo kept > /data/file; echo anon > /cache/file;"
                   " echo layer > /scratch")
    async with await any_engine.open() as client:
        details = await client.container(container_id)
        spec = engine.spec_from_container(details)
        assert spec.name == name
        assert "MODE=one" in spec.env
        assert spec.ports == (engine.PortMapping("127.0.0.1", port, 80, "tcp"),)
        anonymous = next(v.source for v in spec.volumes if v.target == "/cache")
        volume.append(anonymous)
        assert len(anonymous) == 64  # the anonymous volume, taken by its name
        plan = engine.recreate_plan(details, spec)
        assert f"volume {volume[0]} at /data" in plan.kept
        assert f"folder {folder} at /host" in plan.kept
        assert plan.lost[0].startswith("files written inside the container")

        new_env = (*tuple(e for e in spec.env if not e.startswith("MODE=")), "MODE=two")
        new_id = await engine.recreate_container(client, container_id, replace(spec, env=new_env))
        assert new_id != container_id
        with pytest.raises(engine.NotFound):
            await client.container(container_id)
        recreated = await client.container(new_id)
        assert recreated.name == name
        assert recreated.state.running
        assert "MODE=two" in recreated.env
    assert any_engine.cli("exec", name, "cat", "/data/file") == "kept"
    assert any_engine.cli("exec", name, "cat", "/cache/file") == "anon"
    assert any_engine.cli("exec", name, "cat", "/host/host.txt") == "from the host"
    assert any_engine.cli("exec", name, "ls", "/scratch", check=False) == ""  # the layer is new


async def test_failed_recreate_puts_the_old_container_back(
    any_engine: EngineUnderTest, volume: list[str]
) -> None:
    container_id, name = any_engine.create("-v", f"{volume[0]}:/data", any_engine.image,
                                           "sleep", "300")
    any_engine.cli("start", name)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = int(taken.getsockname()[1])
        async with await any_engine.open() as client:
            spec = engine.spec_from_container(await client.container(container_id))
            broken = replace(spec, ports=(engine.PortMapping("127.0.0.1", busy, 80, "tcp"),))
            with pytest.raises(engine.EngineError) as failed:
                await engine.recreate_container(client, container_id, broken)
            assert "address already in use" in str(failed.value)
            restored = await client.container(container_id)
            assert restored.name == name
            assert restored.state.running
            others = await client.containers(filters={"name": [name]})
            assert [c.id for c in others] == [container_id]
