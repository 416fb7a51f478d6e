"""The bindings against real engines: the same assertions on Docker and on Podman."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import engine
from engine._client import MAX_API_VERSION, format_version, parse_version
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.waits import seconds

pytestmark = pytest.mark.anyio


async def test_open_negotiates_version_and_names_the_product(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        server = client.version.api_version
        expected = format_version(min(parse_version(server), MAX_API_VERSION))
        assert client.api_version == expected
        assert client.version.is_podman == (any_engine.kind == "podman")
        product = "Podman" if any_engine.kind == "podman" else "Docker Engine"
        assert client.version.product == product
        cli_version = any_engine.cli("version", "--format", "{{.Server.Version}}")
        assert client.version.version == cli_version
        assert client.description.startswith(client.version.product)


async def test_container_list_follows_lifecycle(any_engine: EngineUnderTest) -> None:
    container_id, name = any_engine.create("-p", "127.0.0.1::8080", any_engine.image,
                                           "sleep", "300")
    async with await any_engine.open() as client:
        [created] = await client.containers(filters={"label": [LABEL], "name": [name]})
        assert created.id == container_id
        assert created.name == name
        # Podman's compat API reports the fully qualified reference it stored.
        assert created.image == any_engine.qualified(any_engine.image)
        assert created.state == "created"
        assert created.labels[LABEL_KEY] == RUN_ID

        await client.start_container(container_id)
        await client.start_container(container_id)  # 304: already running is success
        [running] = await client.containers(all=False, filters={"name": [name]})
        assert running.running
        published = [p for p in running.ports if p.private == 8080]
        assert published and published[0].public is not None
        assert published[0].ip == "127.0.0.1"
        cli_port = any_engine.cli("port", name, "8080/tcp")
        assert cli_port.splitlines()[0] == f"127.0.0.1:{published[0].public}"

        details = await client.container(container_id)
        assert details.name == name
        assert details.state.running
        assert details.cmd == ("sleep", "300")

        await client.stop_container(container_id, timeout=0)
        await client.stop_container(container_id, timeout=0)  # 304: already stopped
        [stopped] = await client.containers(filters={"name": [name]})
        assert stopped.state == "exited"

        await client.remove_container(container_id)
        assert await client.containers(filters={"name": [name]}) == []
        with pytest.raises(engine.NotFound):
            await client.container(container_id)


async def test_exit_code_is_read_from_status(any_engine: EngineUnderTest) -> None:
    name = unique_name("exit")
    any_engine.cli("run", "--label", LABEL, "--name", name, any_engine.image, "sh", "-c", "exit 3",
                   check=False)
    async with await any_engine.open() as client:
        [container] = await client.containers(filters={"name": [name]})
        assert container.state == "exited"
        assert container.exit_code == 3
        assert (await client.container(container.id)).state.exit_code == 3


async def test_errors_carry_the_daemons_words(any_engine: EngineUnderTest) -> None:
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    async with await any_engine.open() as client:
        await client.start_container(container_id)
        with pytest.raises(engine.Conflict) as conflict:
            await client.remove_container(container_id)
        # Podman says 500 "container state improper" where Docker says 409.
        assert conflict.value.status == (500 if any_engine.kind == "podman" else 409)
        assert "running" in conflict.value.message.lower()

        with pytest.raises(engine.Conflict) as taken:
            await client.create_container(any_engine.image, name=name, labels={LABEL_KEY: RUN_ID})
        assert name in taken.value.message

        with pytest.raises(engine.NotFound) as missing:
            await client.create_container(f"dockyard-test/no-such-image:{RUN_ID}",
                                          labels={LABEL_KEY: RUN_ID})
        assert "no-such-image" in missing.value.message

        with pytest.raises(engine.NotFound):
            await client.image(f"dockyard-test/no-such-image:{RUN_ID}")
        await client.remove_container(container_id, force=True)


async def test_images_and_history_describe_the_test_image(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        images = await client.images(filters={"reference": [any_engine.image]})
        [image] = images
        assert image.repo_tags == (any_engine.qualified(any_engine.image),)
        busybox_size = Path("/bin/busybox").stat().st_size
        assert busybox_size <= image.size < busybox_size + 1_000_000
        cli_id = any_engine.cli("image", "inspect", "--format", "{{.Id}}", any_engine.image)
        assert image.id.removeprefix("sha256:") == cli_id.removeprefix("sha256:")

        details = await client.image(any_engine.image)
        # COPY and RUN made two filesystem layers; LABEL and CMD made none.
        assert len(details.layers) == 2
        assert details.cmd == ("sh",)
        assert details.labels[LABEL_KEY] == RUN_ID

        history = await client.image_history(any_engine.image)
        steps = [entry.created_by for entry in history]
        assert any("COPY" in s or "copy" in s for s in steps)
        assert any("--install" in s for s in steps)
        assert any("CMD" in s for s in steps)
        copy_entry = next(e for e in history if "busybox" in e.created_by and "COPY" in
                          e.created_by.upper())
        assert copy_entry.size >= busybox_size


async def test_events_report_container_lifecycle(any_engine: EngineUnderTest) -> None:
    name = unique_name("events")
    async with await any_engine.open() as client:
        seen: list[engine.Event] = []

        async def collect() -> None:
            async for event in client.events(filters={"type": ["container"],
                                                      "container": [name]}):
                seen.append(event)
                if event.action == "die":
                    return

        task = asyncio.ensure_future(collect())
        await asyncio.sleep(0.3)  # let the subscription reach the daemon
        any_engine.cli("run", "--label", LABEL, "--name", name, any_engine.image, "sh", "-c",
                       "exit 7", check=False)
        await asyncio.wait_for(task, seconds(30))
    actions = [e.action for e in seen]
    assert "create" in actions and "start" in actions and "die" in actions
    assert actions.index("create") < actions.index("start") < actions.index("die")
    die = seen[actions.index("die")]
    assert die.attributes.get("exitCode") == "7"
    assert die.attributes.get("name") == name
    assert die.time_nano > 0


async def test_follow_events_ends_cleanly_when_cancelled(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        async def follow() -> None:
            async for _event in client.follow_events(filters={"container": [unique_name()]}):
                pass

        task = asyncio.ensure_future(follow())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.ping()  # the client still works after the stream was cancelled


async def test_discover_uses_docker_host(any_engine: EngineUnderTest) -> None:
    client, attempts = await engine.discover(env={"DOCKER_HOST": any_engine.url})
    async with client:
        assert client.endpoint.url == any_engine.url
        assert client.endpoint.source == "DOCKER_HOST"
    assert attempts[-1].connected


async def test_discover_reports_a_missing_socket(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.sock"
    with pytest.raises(engine.EngineUnreachable) as error:
        await engine.discover(env={"DOCKER_HOST": f"unix://{missing}"})
    assert str(missing) in str(error.value)
    assert [a.url for a in error.value.attempts] == [f"unix://{missing}"]
    assert not isinstance(error.value, engine.PermissionDenied)


async def test_a_fan_out_of_calls_opens_a_bounded_number_of_sockets(
        docker_engine: EngineUnderTest) -> None:
    """Hundreds of calls at once (an inspect per container) all answer, on no more
    sockets at a time than the pool's limit (64)."""
    import os

    from engine._transport.http import MAX_CONNECTIONS

    async with await docker_engine.open() as client:
        await client.request("GET", "/_ping")
        before = len(os.listdir("/proc/self/fd"))
        most = before
        answers: list[int] = []

        async def ping() -> None:
            nonlocal most
            response = await client.request("GET", "/_ping")
            most = max(most, len(os.listdir("/proc/self/fd")))
            answers.append(response.status)

        await asyncio.gather(*(ping() for _ in range(300)))
        assert answers == [200] * 300
        assert most - before <= MAX_CONNECTIONS
