"""Running containers: the parsers' messages, and what real daemons record for a RunSpec."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import engine
from engine._run import (
    InvalidInput,
    PortMapping,
    RestartPolicy,
    RunSpec,
    VolumeMapping,
    auto_name,
    network_names,
    one_click_spec,
    parse_command,
    parse_env_lines,
    parse_port,
    parse_ports,
    parse_restart,
    parse_volume,
    ports_in_use,
    read_env_file,
    run_container,
    validate_name,
)
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.waits import seconds

LABELS = {LABEL_KEY: RUN_ID}


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 this test holds open (listening), as another program would."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def error_of(parse: object, text: str) -> str:
    assert callable(parse)
    with pytest.raises(InvalidInput) as caught:
        parse(text)
    return str(caught.value)


# -- parsing (pure) ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("8080:80/tcp", PortMapping("", 8080, 80, "tcp")),
    ("127.0.0.1:8080:80", PortMapping("127.0.0.1", 8080, 80, "tcp")),
    ("80", PortMapping("", None, 80, "tcp")),
    ("127.0.0.1::53/udp", PortMapping("127.0.0.1", None, 53, "udp")),
    ("[::1]:8443:443", PortMapping("::1", 8443, 443, "tcp")),
    (" 9000:9000/SCTP ", PortMapping("", 9000, 9000, "sctp")),
])
def test_parse_port_reads_docker_syntax(text: str, expected: PortMapping) -> None:
    assert parse_port(text) == expected
    assert parse_port(str(expected)) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("99999:80", "Host port must be between 1 and 65535, not 99999"),
    ("8080:0", "Container port must be between 1 and 65535, not 0"),
    ("web:80", "Host port must be a number, not 'web'"),
    ("8080:80/icmp", "Protocol must be tcp, udp or sctp, not 'icmp'"),
    ("localhost:8080:80", "'localhost' is not an IP address"),
    ("1:2:3:4", "Expected [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO], got '1:2:3:4'"),
    ("8080:", "Container port must be a number, not ''"),
    # Past Python's 4,300-digit limit int() raised ValueError instead of a message.
    ("9" * 5000 + ":80", "Host port must be between 1 and 65535, not 999999999999…"),
    ("80:" + "1" * 5000, "Container port must be between 1 and 65535, not 111111111111…"),
    ("x" * 5000 + ":80", "Host port must be a number, not 'xxxxxxxxxxxx…'"),
    ("²:80", "Host port must be a number, not '²'"),
    ("000080:80", None),
])
def test_parse_port_says_what_is_wrong(text: str, message: str | None) -> None:
    if message is None:  # leading zeros are fine, as for the docker CLI
        assert parse_port(text) == PortMapping("", 80, 80)
        return
    assert error_of(parse_port, text) == message


def test_multi_line_fields_report_every_bad_line() -> None:
    assert parse_ports("8080:80\n\n# admin\n127.0.0.1:9090:90/udp\n") == (
        PortMapping("", 8080, 80), PortMapping("127.0.0.1", 9090, 90, "udp"))
    assert error_of(parse_ports, "8080:80\n99999:80\nx") == (
        "line 2: Host port must be between 1 and 65535, not 99999\n"
        "line 3: Container port must be a number, not 'x'")


def test_env_lines() -> None:
    assert parse_env_lines("A=1\n\n# comment\n  B= two words \nC=\nD=x=y") == (
        "A=1", "B= two words ", "C=", "D=x=y")
    assert error_of(parse_env_lines, "=x") == "line 1: '=x' has no variable name"
    assert error_of(parse_env_lines, "A=1\nHOME\nMY VAR=1") == (
        "line 2: 'HOME' has no value: write HOME=VALUE\n"
        "line 3: Variable name 'MY VAR' contains whitespace")


def test_env_file_is_read_like_docker_run_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_bytes(
        b"\xef\xbb\xbf# settings\nDB_HOST=db\n\n  QUOTED=\"kept as is\"\nFROM_ENV\nUNSET_VAR\n")
    assert read_env_file(env_file, {"FROM_ENV": "here"}) == (
        "DB_HOST=db", 'QUOTED="kept as is"', "FROM_ENV=here")
    env_file.write_text("OK=1\n=oops\n")
    assert error_of(read_env_file, str(env_file)) == "app.env line 2: '=oops' has no variable name"
    env_file.write_bytes(b"OK=1\nBAD=\xff\n")
    assert error_of(read_env_file, str(env_file)) == "app.env line 2: not valid UTF-8"
    assert error_of(read_env_file, str(tmp_path / "missing.env")) == (
        "Cannot read missing.env: No such file or directory")


@pytest.mark.parametrize(("text", "expected"), [
    ("name:/data:ro", VolumeMapping("name", "/data", True)),
    ("/srv/site:/usr/share/html", VolumeMapping("/srv/site", "/usr/share/html", False)),
    ("/cache", VolumeMapping("", "/cache", False)),
    ("/cache:rw", VolumeMapping("", "/cache", False)),
    ("data.v1:/data:rw", VolumeMapping("data.v1", "/data", False)),
])
def test_parse_volume(text: str, expected: VolumeMapping) -> None:
    assert parse_volume(text) == expected
    assert parse_volume(str(expected)) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("./site:/site", "The host folder must be an absolute path, not './site'"),
    ("name:data", "The path in the container must be absolute, not 'data'"),
    ("name:/data:z", "Unknown volume option 'z': use ro or rw"),
    ("my vol:/data", "'my vol' is neither an absolute host path nor a volume name"
                     " (letters, digits, '_', '.', '-')"),
    (":/data", "The volume name or host folder is missing"),
    ("/cache:ro", "An anonymous volume cannot be read-only: name it, e.g. data:/cache:ro"),
])
def test_parse_volume_says_what_is_wrong(text: str, message: str) -> None:
    assert error_of(parse_volume, text) == message


def test_names_restart_policies_and_commands() -> None:
    assert validate_name("  web.1_a-b ") == "web.1_a-b"
    assert validate_name("") is None
    assert error_of(validate_name, "-x") == "A name must start with a letter or digit"
    assert error_of(validate_name, "a") == "A name needs at least 2 characters"
    assert error_of(validate_name, "my web/1") == (
        "A name may only use letters, digits, '_', '.' and '-', not ' ' '/'")
    assert parse_restart("") == RestartPolicy("no")
    assert parse_restart("on-failure:5") == RestartPolicy("on-failure", 5)
    assert str(parse_restart("on-failure:5")) == "on-failure:5"
    assert error_of(parse_restart, "sometimes") == (
        "Unknown restart policy 'sometimes': use no, on-failure[:N], always or unless-stopped")
    assert error_of(parse_restart, "always:3") == "Only on-failure takes a retry count, not always"
    assert parse_command("sh -c 'echo $HOME; sleep 1'") == ("sh", "-c", "echo $HOME; sleep 1")
    assert parse_command("   ") is None
    assert error_of(parse_command, "echo 'hi") == "No closing quotation in \"echo 'hi\""


def test_auto_name_is_repo_and_first_unused_number() -> None:
    assert auto_name("registry.local:5000/team/web:1.2", ["web-1", "web-3"]) == "web-2"
    assert auto_name("busybox@sha256:" + "ab" * 32, []) == "busybox-1"
    assert auto_name("sha256:" + "c0ffee" * 10 + "abcd", []) == "c0ffeec0ffee-1"


# -- against the engines ------------------------------------------------------------


@pytest.mark.anyio
async def test_run_records_every_setting(any_engine: EngineUnderTest, tmp_path: Path) -> None:
    host_dir = tmp_path / "site"
    host_dir.mkdir()
    (host_dir / "index.html").write_text("hello from the host\n")
    volume = unique_name("vol")
    name = unique_name("run")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host_port = int(probe.getsockname()[1])
    spec = RunSpec(
        image=any_engine.image,
        name=name,
        command=("sh", "-c", "cat /site/index.html; echo $GREETING; sleep 300"),
        ports=(parse_port(f"127.0.0.1:{host_port}:8080/tcp"), parse_port("127.0.0.1::53/udp")),
        env=parse_env_lines("GREETING=hi there\nEMPTY="),
        volumes=(VolumeMapping(volume, "/data", False),
                 VolumeMapping(str(host_dir), "/site", True)),
        restart=parse_restart("on-failure:3"),
        labels=LABELS,
    )
    try:
        async with await any_engine.open() as client:
            container_id = await run_container(client, spec)
            details = await client.container(container_id)
        assert details.name == name
        assert details.state.running
        inspected = json.loads(any_engine.cli("inspect", container_id))[0]
        host_config = inspected["HostConfig"]
        assert host_config["PortBindings"]["8080/tcp"] == [
            {"HostIp": "127.0.0.1", "HostPort": str(host_port)}]
        [udp] = host_config["PortBindings"]["53/udp"]
        assert udp["HostIp"] == "127.0.0.1"
        assert host_config["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert host_config["AutoRemove"] is False
        # Podman reports the bind options it applied ("rbind") besides ours.
        binds = {b.split(":")[1]: b.split(":") for b in host_config["Binds"]}
        assert binds["/data"][0] == volume
        assert binds["/site"][0] == str(host_dir)
        assert "ro" in binds["/site"][2].split(",")
        assert "GREETING=hi there" in inspected["Config"]["Env"]
        assert "EMPTY=" in inspected["Config"]["Env"]
        assert inspected["Config"]["Labels"][LABEL_KEY] == RUN_ID
        mounts = {m["Destination"]: m for m in inspected["Mounts"]}
        assert mounts["/data"]["Type"] == "volume"
        assert mounts["/data"]["Name"] == volume
        assert mounts["/site"]["Type"] == "bind"
        assert mounts["/site"]["RW"] is False
        published = any_engine.cli("port", name, "8080/tcp").splitlines()
        assert published == [f"127.0.0.1:{host_port}"]
        logs = any_engine.cli("logs", name)
        assert logs.splitlines()[:2] == ["hello from the host", "hi there"]
    finally:
        any_engine.cli("rm", "-f", name, check=False)
        any_engine.cli("volume", "rm", volume, check=False)


@pytest.mark.anyio
async def test_entrypoint_tty_network_and_auto_remove(any_engine: EngineUnderTest) -> None:
    name = unique_name("rm")
    spec = RunSpec(
        image=any_engine.image, name=name, entrypoint=("sleep",), command=("300",),
        tty=True, interactive=True, auto_remove=True, network="none",
        volumes=(VolumeMapping("", "/scratch"),), labels=LABELS,
    )
    async with await any_engine.open() as client:
        container_id = await run_container(client, spec)
        details = await client.container(container_id)
        assert details.entrypoint == ("sleep",)
        assert details.cmd == ("300",)
        assert details.tty and details.open_stdin
        inspected = json.loads(any_engine.cli("inspect", container_id))[0]
        assert inspected["HostConfig"]["AutoRemove"] is True
        assert inspected["HostConfig"]["NetworkMode"] == "none"
        [scratch] = [m for m in inspected["Mounts"] if m["Destination"] == "/scratch"]
        assert scratch["Type"] == "volume"
        assert scratch["RW"] is True
        # Auto-remove: stopping it makes the daemon delete it.
        waiting = asyncio.ensure_future(client.request(
            "POST", f"/containers/{container_id}/wait", params={"condition": "removed"},
            timeout=seconds(60.0)))
        any_engine.cli("stop", "-t", "0", name)
        with contextlib.suppress(engine.NotFound):
            await waiting
        assert any_engine.cli("ps", "-aq", "--filter", f"name=^{name}$") == ""
        assert {"bridge", "host", "none"} <= set(await network_names(client))


@pytest.mark.anyio
async def test_taken_port_is_detected_and_a_forced_run_leaves_nothing(
    any_engine: EngineUnderTest, taken_port: int
) -> None:
    mapping = parse_port(f"127.0.0.1:{taken_port}:80")
    assert ports_in_use([mapping]) == [
        f"127.0.0.1:{taken_port} is already in use on this computer"]
    # Every interface overlaps 127.0.0.1; a port the daemon picks never conflicts.
    assert ports_in_use([parse_port(f"{taken_port}:80")]) == [
        f"0.0.0.0:{taken_port} is already in use on this computer"]
    assert ports_in_use([parse_port("127.0.0.1::80")]) == []
    assert ports_in_use([mapping], check_host=False) == []

    name = unique_name("taken")
    spec = RunSpec(image=any_engine.image, name=name, command=("sleep", "300"),
                   ports=(mapping,), labels=LABELS)
    async with await any_engine.open() as client:
        with pytest.raises(engine.APIError) as caught:
            await run_container(client, spec)
        assert f"127.0.0.1:{taken_port}" in caught.value.message
        assert "address already in use" in caught.value.message
        assert await client.containers(filters={"label": [LABEL], "name": [name]}) == []
    assert any_engine.cli("ps", "-aq", "--filter", f"name={name}") == ""


@pytest.mark.anyio
async def test_ports_published_by_running_containers_conflict(
    any_engine: EngineUnderTest,
) -> None:
    name = unique_name("pub")
    async with await any_engine.open() as client:
        await run_container(client, RunSpec(
            image=any_engine.image, name=name, command=("sleep", "300"),
            ports=(parse_port("127.0.0.1::7000"),), labels=LABELS))
        containers = await client.containers(filters={"label": [LABEL]})
    host_port = int(any_engine.cli("port", name, "7000/tcp").splitlines()[0].rsplit(":", 1)[1])
    wanted = [parse_port(f"{host_port}:80"), parse_port(f"127.0.0.2:{host_port}:80/udp")]
    assert ports_in_use(wanted, containers, check_host=False) == [
        f"Port {host_port}/tcp is already published by container {name!r}"]


@pytest.mark.anyio
async def test_missing_image_is_not_found(any_engine: EngineUnderTest) -> None:
    spec = RunSpec(image=f"dockyard-test/absent:{RUN_ID}", name=unique_name("absent"),
                   labels=LABELS)
    async with await any_engine.open() as client:
        with pytest.raises(engine.NotFound):
            await run_container(client, spec)


@pytest.fixture
def exposing_image(any_engine: EngineUnderTest, tmp_path: Path) -> Iterator[str]:
    """An image FROM the test image that EXPOSEs 8080 (and keeps the shell as its command)."""
    (tmp_path / "Dockerfile").write_text(
        f"FROM {any_engine.image}\nEXPOSE 8080\nEXPOSE 5353/udp\n"
        f'LABEL {LABEL_KEY}="{RUN_ID}"\n')
    tag = f"dockyard-test/exposing:{RUN_ID}"
    any_engine.cli("build", "-q", "-t", tag, str(tmp_path), timeout=seconds(300))
    yield tag
    any_engine.remove_test_containers()
    any_engine.cli("rmi", "-f", tag, check=False)


@pytest.mark.anyio
async def test_one_click_picks_a_unique_name_and_free_ports(
    any_engine: EngineUnderTest, exposing_image: str
) -> None:
    async with await any_engine.open() as client:
        first = await one_click_spec(client, exposing_image)
        assert first.name == "exposing-1"
        assert [(p.host_ip, p.container_port, p.proto) for p in first.ports] == [
            ("127.0.0.1", 5353, "udp"), ("127.0.0.1", 8080, "tcp")]
        # The image's command is a bare shell: detached, it needs -it to stay up.
        assert (first.tty, first.interactive, first.auto_remove) == (True, True, False)
        first_id = await run_container(client, replace(first, labels=LABELS))

        second = await one_click_spec(client, exposing_image)
        assert second.name == "exposing-2"
        first_tcp = next(p.host_port for p in first.ports if p.proto == "tcp")
        second_tcp = next(p.host_port for p in second.ports if p.proto == "tcp")
        assert second_tcp != first_tcp
        assert ports_in_use(second.ports, await client.containers()) == []
        second_id = await run_container(client, replace(second, labels=LABELS))

        for spec, container_id in ((first, first_id), (second, second_id)):
            details = await client.container(container_id)
            assert details.name == spec.name
            assert details.state.running
            tcp = next(p for p in spec.ports if p.proto == "tcp")
            assert any_engine.cli("port", container_id, "8080/tcp").splitlines()[0] == (
                f"127.0.0.1:{tcp.host_port}")


@pytest.mark.parametrize(("text", "nano"), [
    ("1", 10**9), ("0.5", 500_000_000), (".25", 250_000_000), ("1.000000001", 10**9 + 1),
    ("", None), ("  ", None),
])
def test_cpus_are_read_exactly(text: str, nano: int | None) -> None:
    assert engine.parse_cpus(text) == nano
    if nano is not None:
        assert engine.parse_cpus(engine.format_cpus(nano)) == nano


@pytest.mark.parametrize(("text", "message"), [
    ("0", "CPUs must be more than 0 (leave it blank for no limit)"),
    ("-1", "CPUs must be a number such as 1.5, not '-1'"),
    ("1e3", "CPUs must be a number such as 1.5, not '1e3'"),
    ("0.0000000001", "CPUs can have at most 9 decimal places"),
    ("4.5", "The engine has only 4 CPUs, not 4.5"),
])
def test_cpus_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(engine.InvalidInput) as caught:
        engine.parse_cpus(text, available=4)
    assert str(caught.value).startswith(message)


def test_cpus_beyond_this_computer_are_fine_until_the_engine_says_otherwise() -> None:
    """A remote engine may have more CPUs than this computer: no local bound."""
    assert engine.parse_cpus("100000") == 100000 * 10**9
    assert engine.parse_cpus("4", available=4) == 4 * 10**9


@pytest.mark.parametrize(("text", "size"), [
    ("512m", 512 << 20), ("1g", 1 << 30), ("1.5G", 3 << 29), ("64MB", 64 << 20),
    ("8388608", 8 << 20), ("7000k", 7000 << 10), ("", None),
])
def test_memory_is_read_as_docker_reads_it(text: str, size: int | None) -> None:
    assert engine.parse_memory(text) == size
    if size is not None:
        assert engine.parse_memory(engine.format_memory(size)) == size


@pytest.mark.parametrize("text", ["lots", "1x", "5m", "1.2.3g", "-1g"])
def test_memory_refuses_what_docker_would(text: str) -> None:
    with pytest.raises(engine.InvalidInput):
        engine.parse_memory(text)


def test_labels_user_and_working_directory() -> None:
    assert engine.parse_labels("a=1\n# note\nflag\nb = two=2") == {
        "a": "1", "flag": "", "b": " two=2"}
    with pytest.raises(engine.InvalidInput, match="line 1: '=x' has no label name"):
        engine.parse_labels("=x")
    assert engine.parse_user(" 1000:100 ") == "1000:100"
    assert engine.parse_user("") is None
    for bad in ("a b", ":1", "1:", "a:b:c"):
        with pytest.raises(engine.InvalidInput):
            engine.parse_user(bad)
    assert engine.parse_working_dir("/srv") == "/srv"
    with pytest.raises(engine.InvalidInput, match="absolute"):
        engine.parse_working_dir("srv")


@pytest.mark.parametrize(("network", "ignored"), [
    (None, False), ("", False), ("bridge", False), ("mynet", False),
    ("host", True), ("none", True), ("container:db", True),
])
def test_ports_are_ignored_on_host_and_none(network: str | None, ignored: bool) -> None:
    assert (engine.ports_ignored(network) is not None) == ignored
