""""Copy docker run command": running the command makes a container set up the same way."""

from __future__ import annotations

import shlex
import socket
from pathlib import Path
from typing import Any

import pytest

import engine
from tests.conftest import EngineUnderTest, unique_name

pytestmark = pytest.mark.anyio


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings(raw: dict[str, Any]) -> dict[str, Any]:
    """What a user set: the parts of inspect a run command carries."""
    config, host = raw["Config"], raw["HostConfig"]
    return {
        # Podman adds HOSTNAME to a container's environment when it starts it.
        "env": sorted(e for e in config.get("Env") or [] if not e.startswith("HOSTNAME=")),
        "labels": config.get("Labels") or {},
        "cmd": config.get("Cmd"),
        "entrypoint": config.get("Entrypoint"),
        "tty": config.get("Tty"),
        "user": config.get("User"),
        "workdir": config.get("WorkingDir"),
        "limits": (host.get("NanoCpus"), host.get("Memory")),
        "stdin": config.get("OpenStdin"),
        "ports": {k: [(b.get("HostIp") or "", b["HostPort"]) for b in v]
                  for k, v in (host.get("PortBindings") or {}).items()},
        "restart": (host["RestartPolicy"]["Name"],
                    host["RestartPolicy"].get("MaximumRetryCount", 0)),
        "mounts": sorted((m.get("Name") or m["Source"], m["Destination"], m["RW"])
                         for m in raw.get("Mounts") or []),
    }


@pytest.fixture
def volume(any_engine: EngineUnderTest):  # type: ignore[no-untyped-def]
    name = unique_name("vol")
    any_engine.cli("volume", "create", "--label", "dockyard.test=1", name)
    yield name
    any_engine.remove_test_containers()
    any_engine.cli("volume", "rm", "-f", name, check=False)


async def test_the_command_recreates_the_container(
    any_engine: EngineUnderTest, volume: str, tmp_path: Path
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    port = free_port()
    original_id, _ = any_engine.create(
        "-e", "GREETING=hello world", "-e", "QUOTE=it's \"quoted\" $HOME",
        "--label", "team=web tier", "-p", f"127.0.0.1:{port}:80",
        "-v", f"{volume}:/data", "-v", f"{folder}:/site:ro",
        "--restart", "on-failure:2", "-t", "-i",
        "--user", "1234:5678", "--workdir", "/srv/app", "--cpus", "0.25", "--memory", "96m",
        "--entrypoint", "sh", any_engine.image, "-c", "echo started; sleep 300")
    async with await any_engine.open() as client:
        command = await engine.container_run_command(client, original_id)
        original = await client.container(original_id)

    words = shlex.split(command)
    assert words[:3] == ["docker", "run", "--detach"]
    assert "PATH=" not in command  # the image's own environment is left to the image
    assert words[words.index("--entrypoint") + 1] == "sh"
    assert words[words.index("--cpus") + 1] == "0.25"
    assert words[words.index("--memory") + 1] == "96m"
    assert words[-3:] == [any_engine.qualified(any_engine.image), "-c", "echo started; sleep 300"]

    # Run it under another name (the original is created, not started, so its port
    # is free) and compare what the engine made of both.
    name_at = words.index("--name") + 1
    words[name_at] = unique_name("copy")
    copy_id = any_engine.cli(*words[1:]).strip()
    async with await any_engine.open() as client:
        copy = await client.container(copy_id)
    assert settings(dict(copy.raw)) == settings(dict(original.raw))
    assert copy.state.running


async def test_defaults_of_the_image_are_left_out(any_engine: EngineUnderTest) -> None:
    container_id, name = any_engine.create(any_engine.image)
    async with await any_engine.open() as client:
        command = await engine.container_run_command(client, container_id)
    # Nothing was chosen but the name: the command says no more than that.
    assert command == f"docker run --detach --name {name} {any_engine.qualified(any_engine.image)}"
