"""ssh:// engines through a real OpenSSH server (tests/sshd.py) in front of the test dockerd.

Each assertion compares what comes through ssh with what the local socket (or the
docker CLI) says about the same objects; the failures are the ones a user meets:
a key the server does not take, a host not in known_hosts, a host key that changed,
and the server dying while a log is followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import engine
from engine import (
    BuildComplete,
    BuildOutput,
    StreamKind,
    analyze_image,
    build,
    exec_create,
    exec_start,
    logs,
    pull,
    stats,
    walk_context,
)
from engine._transport.ssh import SSHTarget, parse_target
from tests.conftest import IN_CI, LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.engine.test_build import Registry, registry  # noqa: F401 (the fixture)
from tests.sshd import SSHServer, keygen, require_sshd, start_sshd
from tests.waits import seconds

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sshd(docker_engine: EngineUnderTest, tmp_path_factory: pytest.TempPathFactory,
         ) -> Iterator[SSHServer]:
    """One sshd for the module, in front of the Docker engine under test."""
    require_sshd(IN_CI)
    if docker_engine.url != "unix:///var/run/docker.sock":
        pytest.skip("the sshd forwards to /var/run/docker.sock; the test Docker is elsewhere")
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def own_sshd(docker_engine: EngineUnderTest, tmp_path: Path) -> Iterator[SSHServer]:
    """An sshd of the test's own, for the one test that kills it."""
    require_sshd(IN_CI)
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def over_ssh(server: SSHServer) -> AsyncIterator[engine.Engine]:
    async with await engine.Engine.open(server.endpoint()) as client:
        assert client.endpoint.scheme == "ssh"
        yield client


async def test_handshake_and_version_match_the_local_socket(
    sshd: SSHServer, docker_engine: EngineUnderTest,
) -> None:
    async with over_ssh(sshd) as remote, await docker_engine.open() as local:
        assert remote.api_version == local.api_version
        assert remote.version == local.version
        assert remote.description == local.description
        assert "api-version" in await remote.ping()
        remote_info, local_info = await remote.info(), await local.info()
        assert (remote_info.name, remote_info.storage_driver, remote_info.memory) == \
            (local_info.name, local_info.storage_driver, local_info.memory)


async def test_lists_equal_the_local_sockets(
    sshd: SSHServer, docker_engine: EngineUnderTest,
) -> None:
    docker_engine.create(docker_engine.image, "true")  # at least one container of ours
    async with over_ssh(sshd) as remote, await docker_engine.open() as local:
        # Read back to back; compared by what cannot change between the two reads.
        remote_containers, local_containers = await asyncio.gather(
            remote.containers(filters={"label": [LABEL]}),
            local.containers(filters={"label": [LABEL]}))
        assert remote_containers and remote_containers == local_containers
        remote_images, local_images = await asyncio.gather(remote.images(), local.images())
        assert {i.id for i in remote_images} == {i.id for i in local_images}
        assert docker_engine.image in {t for i in remote_images for t in i.repo_tags}


async def test_events_arrive_through_ssh(sshd: SSHServer, docker_engine: EngineUnderTest) -> None:
    name = unique_name("ssh-ev")
    async with over_ssh(sshd) as remote:
        since = str(int(time.time()) - 1)
        container_id, _ = docker_engine.create(docker_engine.image, "true", name=name)
        until = str(int(time.time()) + 1)
        seen = [e async for e in remote.events(
            since=since, until=until,
            filters={"type": ["container"], "label": [LABEL]})]
    assert ("create", container_id) in {(e.action, e.actor_id) for e in seen}


async def test_logs_are_the_containers_bytes(
    sshd: SSHServer, docker_engine: EngineUnderTest,
) -> None:
    script = "printf 'out 1\\n'; printf 'err \\377\\n' >&2; head -c 300000 /dev/zero | tr '\\0' y"
    container_id, name = docker_engine.create(docker_engine.image, "sh", "-c", script)
    async with over_ssh(sshd) as remote, await docker_engine.open() as local:
        await local.start_container(container_id)
        docker_engine.cli("wait", name)

        async def read(client: engine.Engine) -> tuple[bytes, bytes]:
            out, err = bytearray(), bytearray()
            async for chunk in logs(client, container_id):
                (out if chunk.stream == StreamKind.STDOUT else err).extend(chunk.data)
            return bytes(out), bytes(err)

        remote_logs = await read(remote)
        assert remote_logs == await read(local)
        assert remote_logs[0] == b"out 1\n" + b"y" * 300000
        assert remote_logs[1].startswith(b"err ")


async def test_exec_shell_round_trip(sshd: SSHServer, docker_engine: EngineUnderTest) -> None:
    container_id, _ = docker_engine.create(docker_engine.image, "sleep", "300")
    async with over_ssh(sshd) as remote:
        await remote.start_container(container_id)
        exec_id = await exec_create(remote, container_id, ["sh"], tty=True, stdin=True)
        async with await exec_start(remote, exec_id, tty=True) as session:
            seen = bytearray()
            await session.write(b"echo through-$((6*7))\n")
            while b"\r\nthrough-42\r\n" not in seen:
                chunk = await asyncio.wait_for(session.read(), seconds(15))
                assert chunk is not None, f"output ended early: {bytes(seen)!r}"
                seen += chunk.data
            await session.write(b"exit 5\n")
            while await asyncio.wait_for(session.read(), seconds(15)) is not None:
                pass
            assert await session.wait(timeout=seconds(15)) == 5


async def test_non_tty_exec_half_closes_stdin(
    sshd: SSHServer, docker_engine: EngineUnderTest,
) -> None:
    payload = bytes(range(256)) * 1024
    container_id, _ = docker_engine.create(docker_engine.image, "sleep", "300")
    async with over_ssh(sshd) as remote:
        await remote.start_container(container_id)
        exec_id = await exec_create(remote, container_id, ["cat"], tty=False, stdin=True)
        async with await exec_start(remote, exec_id, tty=False) as session:
            async def feed() -> None:
                await session.write(payload)
                await session.close_stdin()  # cat ends only if the channel's EOF gets there

            writer = asyncio.ensure_future(feed())
            out, err = await asyncio.wait_for(session.read_all(), seconds(30))
            await writer
            assert (out, err) == (payload, b"")
            assert await session.wait(timeout=seconds(15)) == 0


async def test_stats_sample(sshd: SSHServer, docker_engine: EngineUnderTest) -> None:
    container_id, _ = docker_engine.create(docker_engine.image, "sleep", "300")
    async with over_ssh(sshd) as remote:
        await remote.start_container(container_id)
        [sample] = [s async for s in stats(remote, container_id, stream=False)]
        assert sample.memory_used > 0
        assert sample.pids == 1


async def test_build_through_ssh(
    sshd: SSHServer, docker_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    tag = f"{unique_name('ssh-build')}:1"
    hello = f"built over ssh for {tag}"
    root = tmp_path / "ctx"
    root.mkdir()
    (root / "Dockerfile").write_text(
        f"FROM {docker_engine.image}\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\n")
    (root / "hello.txt").write_text(hello + "\n")
    try:
        async with over_ssh(sshd) as remote:
            events = [e async for e in build(remote, walk_context(root), tags=[tag],
                                             labels={LABEL_KEY: RUN_ID}, buildkit=False)]
        complete = events[-1]
        assert isinstance(complete, BuildComplete)
        assert hello in "".join(e.text for e in events if isinstance(e, BuildOutput))
        assert docker_engine.cli("image", "inspect", "--format", "{{.Id}}", tag) == \
            complete.image_id
    finally:
        docker_engine.cli("rmi", "-f", tag, check=False)


async def test_pull_through_ssh(
    sshd: SSHServer, docker_engine: EngineUnderTest, registry: Registry,  # noqa: F811
) -> None:
    assert docker_engine.cli("images", "-q", registry.image) == ""
    async with over_ssh(sshd) as remote:
        seen = [p async for p in pull(remote, registry.image)]
        image = await remote.image(registry.image)
    assert seen[-1].status == f"Status: Downloaded newer image for {registry.image}"
    assert seen[-1].fraction == 1.0
    assert image.id == docker_engine.cli("image", "inspect", "--format", "{{.Id}}",
                                         registry.image)


async def test_image_export_analysis_equals_the_local_one(
    sshd: SSHServer, docker_engine: EngineUnderTest,
) -> None:
    async with over_ssh(sshd) as remote, await docker_engine.open() as local:
        remote_analysis = await analyze_image(remote, docker_engine.image)
        local_analysis = await analyze_image(local, docker_engine.image)
    assert remote_analysis == local_analysis
    assert remote_analysis.layers
    assert sum(layer.size for layer in remote_analysis.layers) > 1_000_000  # busybox


async def test_a_named_socket_is_used(sshd: SSHServer) -> None:
    async with await engine.Engine.open(sshd.endpoint("/var/run/docker.sock")) as remote:
        assert remote.version.product == "Docker Engine"
    with pytest.raises(engine.EngineUnreachable,
                       match=r"could not open /run/no-engine-here\.sock"):
        await engine.Engine.open(sshd.endpoint("/run/no-engine-here.sock"))


async def test_many_calls_at_once_share_one_ssh_connection(
    sshd: SSHServer, docker_engine: EngineUnderTest,
) -> None:
    container_id, name = docker_engine.create(docker_engine.image, "true")
    logins = sshd.log.count("Accepted publickey for root")
    async with over_ssh(sshd) as remote:
        details = await asyncio.gather(*(remote.container(container_id) for _ in range(40)))
        assert {d.name for d in details} == {name}
    # One login carried the handshake and all forty channels.
    assert sshd.log.count("Accepted publickey for root") == logins + 1


async def test_an_ssh_config_alias_gives_host_port_user_and_key(
    sshd: SSHServer, tmp_path: Path,
) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host dockyard-test-engine\n"
        "    HostName 127.0.0.1\n"
        f"    Port {sshd.port}\n"
        "    User root\n"
        f"    IdentityFile {sshd.client_key}\n"
        "    IdentitiesOnly yes\n")
    endpoint = engine.Endpoint("ssh://dockyard-test-engine", "test",
                               ssh=engine.SSHOptions(known_hosts=sshd.known_hosts, config=config))
    async with await engine.Engine.open(endpoint) as remote:
        assert remote.version.product == "Docker Engine"
    # The host key is looked up (and reported) under the real name, not the alias.
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(engine.UnknownHostKey) as caught:
        await engine.Engine.open(engine.Endpoint(
            "ssh://dockyard-test-engine", "test",
            ssh=engine.SSHOptions(known_hosts=empty, config=config)))
    assert caught.value.known_hosts_line == f"[127.0.0.1]:{sshd.port} {sshd.host_public}"


@pytest.mark.parametrize(("url", "expected"), [
    ("ssh://host", SSHTarget(None, "host", None, "/var/run/docker.sock")),
    ("ssh://me@host:2222", SSHTarget("me", "host", 2222, "/var/run/docker.sock")),
    ("ssh://me@[::1]:2222/run/user/1000/podman/podman.sock",
     SSHTarget("me", "::1", 2222, "/run/user/1000/podman/podman.sock")),
    ("ssh://[fe80::1]", SSHTarget(None, "fe80::1", None, "/var/run/docker.sock")),
])
def test_the_url_names_user_host_port_and_socket(url: str, expected: SSHTarget) -> None:
    endpoint = engine.resolve(url, env={}, home=Path("/nonexistent")).endpoints[0]
    assert parse_target(endpoint.url) == expected


def test_ssh_options_come_from_the_environment_for_every_source() -> None:
    env = {"DOCKYARD_SSH_KNOWN_HOSTS": "/k/known", "DOCKYARD_SSH_IDENTITY": "/k/a:/k/b",
           "DOCKYARD_SSH_CONFIG": "/k/config"}
    expected = engine.SSHOptions(Path("/k/known"), (Path("/k/a"), Path("/k/b")),
                                 Path("/k/config"))
    home = Path("/nonexistent")
    assert engine.resolve("ssh://h", env=env, home=home).endpoints[0].ssh == expected
    from_env = engine.resolve(None, env={**env, "DOCKER_HOST": "ssh://h"}, home=home)
    assert from_env.endpoints[0].ssh == expected
    assert engine.resolve("ssh://h", env={}, home=home).endpoints[0].ssh is None
    assert engine.resolve("unix:///s", env=env, home=home).endpoints[0].ssh is None


# -- failures ---------------------------------------------------------------------------------


async def test_a_key_the_server_does_not_take_is_permission_denied(
    sshd: SSHServer, tmp_path: Path,
) -> None:
    keygen(tmp_path / "stranger", "not authorized")
    with pytest.raises(engine.PermissionDenied) as caught:
        await engine.Engine.open(sshd.endpoint(identity=tmp_path / "stranger"))
    message = str(caught.value)
    assert "permission denied" in message and "\n" not in message
    assert f"127.0.0.1:{sshd.port}" in message


def _fingerprint(public_line: str, tmp_path: Path) -> str:
    path = tmp_path / "key.pub"
    path.write_text(public_line + "\n")
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1]


async def test_an_unknown_host_key_shows_its_fingerprint(
    sshd: SSHServer, tmp_path: Path,
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(engine.UnknownHostKey) as caught:
        await engine.Engine.open(sshd.endpoint(known_hosts=empty))
    error = caught.value
    expected = _fingerprint(sshd.host_public, tmp_path)  # what ssh-keygen -l says
    assert error.fingerprint == expected and expected.startswith("SHA256:")
    assert expected in str(error) and "not known" in str(error)
    assert error.host == f"[127.0.0.1]:{sshd.port}"
    assert isinstance(error, engine.EngineUnreachable)
    # The line a window would append when the user accepts: it then connects.
    assert error.known_hosts_line == f"[127.0.0.1]:{sshd.port} {sshd.host_public}"
    empty.write_text(error.known_hosts_line + "\n")
    async with await engine.Engine.open(sshd.endpoint(known_hosts=empty)) as remote:
        assert remote.version.product == "Docker Engine"


async def test_discover_keeps_the_unknown_host_key_typed(
    sshd: SSHServer, tmp_path: Path,
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    env = {**sshd.env(), "DOCKYARD_SSH_KNOWN_HOSTS": str(empty)}
    with pytest.raises(engine.UnknownHostKey) as caught:
        await engine.discover(sshd.url, env=env, home=tmp_path)
    assert caught.value.attempts and caught.value.attempts[0].url == sshd.url


async def test_a_changed_host_key_is_refused(sshd: SSHServer, tmp_path: Path) -> None:
    other = keygen(tmp_path / "impostor", "the key on record")
    on_record = tmp_path / "known_hosts"
    on_record.write_text(f"[127.0.0.1]:{sshd.port} {' '.join(other.split()[:2])}\n")
    with pytest.raises(engine.HostKeyChanged) as caught:
        await engine.Engine.open(sshd.endpoint(known_hosts=on_record))
    message = str(caught.value)
    assert "CHANGED" in message and "refusing" in message and "\n" not in message
    assert caught.value.fingerprint == _fingerprint(sshd.host_public, tmp_path)


async def test_nobody_listening_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = engine.resolve(f"ssh://root@127.0.0.1:{port}", env={}, home=tmp_path).endpoints[0]
    with pytest.raises(engine.EngineUnreachable, match="connection refused"):
        await engine.Engine.open(endpoint)


async def test_sshd_killed_mid_follow_ends_the_stream_unreachable(
    own_sshd: SSHServer, docker_engine: EngineUnderTest,
) -> None:
    container_id, _ = docker_engine.create(
        docker_engine.image, "sh", "-c", "echo up; while true; do sleep 0.2; echo tick; done")
    async with over_ssh(own_sshd) as remote:
        await remote.start_container(container_id)
        first = asyncio.Event()

        async def follow() -> None:
            async for _chunk in logs(remote, container_id, follow=True):
                first.set()

        task = asyncio.ensure_future(follow())
        await asyncio.wait_for(first.wait(), seconds(15))
        own_sshd.kill()
        with pytest.raises(engine.EngineUnreachable, match="lost"):
            await asyncio.wait_for(task, seconds(15))  # ends by itself, no hang
        # The next call tries to reconnect, and says plainly that nobody answers.
        with pytest.raises(engine.EngineUnreachable, match="connection refused"):
            await remote.ping()


def test_import_engine_leaves_asyncssh_for_those_who_use_ssh() -> None:
    code = "import sys, engine; print('asyncssh' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
