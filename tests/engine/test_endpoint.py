"""Tests for engine._endpoint: pure configuration resolution, no daemon needed.

Every test passes env/home/uid explicitly so the real environment never leaks in.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from engine._endpoint import (
    Endpoint,
    Resolution,
    TLSConfig,
    default_sockets,
    docker_config_dir,
    parse_host,
    read_context,
    resolve,
    tls_from_env,
)
from engine._errors import EndpointError, EngineError
from tests.waits import seconds

UID = 4242
TLS_ON = TLSConfig(verify=True, ca_cert=None, client_cert=None, client_key=None)


def ctx_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def write_context(
    config_dir: Path,
    name: str,
    host: str,
    *,
    skip_verify: bool = False,
    tls_files: tuple[str, ...] = (),
) -> None:
    """Write a context exactly as docker CLI 28 lays it out on disk."""
    meta_dir = config_dir / "contexts" / "meta" / ctx_id(name)
    meta_dir.mkdir(parents=True)
    meta = {
        "Name": name,
        "Metadata": {"Description": "t"},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}},
    }
    (meta_dir / "meta.json").write_text(json.dumps(meta, separators=(",", ":")))
    if tls_files:
        tls_dir = config_dir / "contexts" / "tls" / ctx_id(name) / "docker"
        tls_dir.mkdir(parents=True)
        for f in tls_files:
            (tls_dir / f).write_text("-----BEGIN CERTIFICATE-----\n")


def set_current_context(config_dir: Path, name: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """A DOCKER_CONFIG directory outside the fake home."""
    c = tmp_path / "dockercfg"
    c.mkdir()
    return c


def urls(res: Resolution) -> list[str]:
    return [e.url for e in res.endpoints]


# --------------------------------------------------------------------------- parse_host


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("unix:///var/run//docker.sock", "unix:///var/run/docker.sock"),
        ("  unix:///run/x.sock\n", "unix:///run/x.sock"),
        ("UNIX:///run/x.sock", "unix:///run/x.sock"),
        ("/x/y.sock", "unix:///x/y.sock"),
        ("tcp://example.com:1234", "tcp://example.com:1234"),
        ("tcp://10.0.0.5", "tcp://10.0.0.5:2375"),
        ("tcp://10.0.0.5/", "tcp://10.0.0.5:2375"),
        ("tcp://:2375", "tcp://127.0.0.1:2375"),
        ("tcp://[::1]:2376", "tcp://[::1]:2376"),
        ("tcp://[fe80::1]", "tcp://[fe80::1]:2375"),
        ("ssh://user@host:22", "ssh://user@host:22"),
        ("ssh://host", "ssh://host"),
        ("ssh://me@host/run/user/1000/docker.sock", "ssh://me@host/run/user/1000/docker.sock"),
        ("npipe:////./pipe/docker_engine", "npipe:////./pipe/docker_engine"),
    ],
)
def test_parse_host_normalises(given: str, expected: str) -> None:
    assert parse_host(given, "test").url == expected


def test_parse_host_keeps_source() -> None:
    assert parse_host("/a.sock", "somewhere").source == "somewhere"


def test_tcp_default_port_depends_on_tls() -> None:
    plain = parse_host("tcp://h", "t")
    secure = parse_host("tcp://h", "t", TLS_ON)
    assert plain.url == "tcp://h:2375"
    assert plain.http_base == "http://h:2375"
    assert plain.tls is None
    assert secure.url == "tcp://h:2376"
    assert secure.http_base == "https://h:2376"
    assert secure.tls == TLS_ON
    # An explicit port wins over the TLS default.
    assert parse_host("tcp://h:9999", "t", TLS_ON).url == "tcp://h:9999"


def test_tls_is_dropped_for_local_transports() -> None:
    assert parse_host("unix:///a.sock", "t", TLS_ON).tls is None
    assert parse_host("ssh://h", "t", TLS_ON).tls is None


def test_endpoint_properties() -> None:
    unix = parse_host("unix:///var/run/docker.sock", "t")
    assert unix.scheme == "unix"
    assert unix.socket_path == "/var/run/docker.sock"
    assert unix.http_base == "http://docker"
    tcp = parse_host("tcp://h:1", "t")
    assert tcp.scheme == "tcp"
    assert tcp.socket_path is None
    ssh = parse_host("ssh://u@h", "t")
    assert ssh.scheme == "ssh"
    assert ssh.socket_path is None
    assert ssh.http_base == "http://docker"
    assert parse_host("npipe:////./pipe/x", "t").scheme == "npipe"


def test_endpoint_is_frozen_and_hashable() -> None:
    ep = Endpoint("unix:///a.sock", "s")
    with pytest.raises(AttributeError):
        ep.url = "x"  # type: ignore[misc]
    assert {ep, Endpoint("unix:///a.sock", "s")} == {ep}


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "foo",
        "localhost:2375",
        "relative/path.sock",
        "unix://",
        "unix://relative.sock",
        "http://host:2375",
        "https://host:2376",
        "fd://",
        "://host",
        "tcp://host:notaport",
        "tcp://host:0",
        "tcp://host:70000",
        "tcp://host:",
        "tcp://::1:2375",
        "tcp://[::1",
        "tcp://host/some/path",
        "tcp://user@host:2375",
        "tcp://ho st:2375",
        "tcp://bad!host",
        "ssh://",
        "ssh://user@",
        "ssh://host:abc",
        "npipe://",
    ],
)
def test_garbage_raises_endpoint_error(garbage: str) -> None:
    with pytest.raises(EndpointError):
        parse_host(garbage, "test")


def test_garbage_message_is_helpful() -> None:
    with pytest.raises(EndpointError) as info:
        parse_host("foo", "test")
    msg = str(info.value)
    assert "'foo' is not a valid engine address" in msg
    assert "unix:///path" in msg
    assert "tcp://host:port" in msg
    assert isinstance(info.value, EngineError)


def test_unsupported_scheme_is_named() -> None:
    with pytest.raises(EndpointError, match="unsupported scheme 'http'"):
        parse_host("http://h:1", "t")


def test_empty_unix_path_message() -> None:
    with pytest.raises(EndpointError, match="no socket path"):
        parse_host("unix://", "t")


# --------------------------------------------------------------------------- TLS env


def test_no_tls_env_means_no_tls(home: Path) -> None:
    assert tls_from_env({}, home) is None
    assert tls_from_env({"DOCKER_TLS_VERIFY": "", "DOCKER_TLS": ""}, home) is None
    # docker-py turns TLS on from DOCKER_CERT_PATH alone; the docker CLI does not.
    assert tls_from_env({"DOCKER_CERT_PATH": str(home)}, home) is None


@pytest.mark.parametrize("value", ["1", "0", "false", "yes"])
def test_tls_verify_any_non_empty_value_verifies(home: Path, value: str) -> None:
    tls = tls_from_env({"DOCKER_TLS_VERIFY": value}, home)
    assert tls is not None
    assert tls.verify is True


def test_docker_tls_without_verify(home: Path) -> None:
    tls = tls_from_env({"DOCKER_TLS": "1"}, home)
    assert tls is not None
    assert tls.verify is False


def test_tls_verify_wins_over_docker_tls(home: Path) -> None:
    tls = tls_from_env({"DOCKER_TLS": "1", "DOCKER_TLS_VERIFY": "1"}, home)
    assert tls is not None
    assert tls.verify is True


def test_cert_path_files_and_missing_files(tmp_path: Path, home: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca.pem").write_text("ca")
    (certs / "cert.pem").write_text("cert")
    tls = tls_from_env({"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}, home)
    assert tls == TLSConfig(
        verify=True, ca_cert=certs / "ca.pem", client_cert=certs / "cert.pem", client_key=None
    )


def test_cert_path_defaults_to_home_docker(home: Path) -> None:
    (home / ".docker").mkdir()
    (home / ".docker" / "key.pem").write_text("key")
    tls = tls_from_env({"DOCKER_TLS": "1"}, home)
    assert tls == TLSConfig(
        verify=False, ca_cert=None, client_cert=None, client_key=home / ".docker" / "key.pem"
    )


def test_cert_path_defaults_to_docker_config(cfg: Path, home: Path) -> None:
    """docker/cli falls back to the config dir, which DOCKER_CONFIG moves."""
    (cfg / "ca.pem").write_text("ca")
    tls = tls_from_env({"DOCKER_TLS_VERIFY": "1", "DOCKER_CONFIG": str(cfg)}, home)
    assert tls is not None
    assert tls.ca_cert == cfg / "ca.pem"


def test_docker_config_dir(cfg: Path, home: Path) -> None:
    assert docker_config_dir({}, home) == home / ".docker"
    assert docker_config_dir({"DOCKER_CONFIG": ""}, home) == home / ".docker"
    assert docker_config_dir({"DOCKER_CONFIG": str(cfg)}, home) == cfg


# --------------------------------------------------------------------------- contexts


def test_read_context_on_disk_format(cfg: Path) -> None:
    write_context(cfg, "testctx", "tcp://10.0.0.5:2376")
    # Byte-for-byte the layout the brief and the CLI produce.
    meta = cfg / "contexts/meta" / ctx_id("testctx") / "meta.json"
    assert meta.read_text() == (
        '{"Name":"testctx","Metadata":{"Description":"t"},'
        '"Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376","SkipTLSVerify":false}}}'
    )
    assert read_context("testctx", cfg) == ("tcp://10.0.0.5:2376", None)


def test_read_context_with_tls_files(cfg: Path) -> None:
    write_context(cfg, "secure", "tcp://h:2376", tls_files=("ca.pem", "cert.pem", "key.pem"))
    host, tls = read_context("secure", cfg)
    tls_dir = cfg / "contexts/tls" / ctx_id("secure") / "docker"
    assert host == "tcp://h:2376"
    assert tls == TLSConfig(
        verify=True,
        ca_cert=tls_dir / "ca.pem",
        client_cert=tls_dir / "cert.pem",
        client_key=tls_dir / "key.pem",
    )


def test_read_context_partial_tls_files(cfg: Path) -> None:
    write_context(cfg, "ca-only", "tcp://h", tls_files=("ca.pem",))
    _, tls = read_context("ca-only", cfg)
    assert tls is not None
    assert tls.verify is True
    assert tls.ca_cert is not None
    assert tls.client_cert is None
    assert tls.client_key is None


def test_read_context_skip_verify_turns_tls_on(cfg: Path) -> None:
    write_context(cfg, "insecure", "tcp://h", skip_verify=True)
    _, tls = read_context("insecure", cfg)
    assert tls == TLSConfig(verify=False, ca_cert=None, client_cert=None, client_key=None)


def test_read_context_missing(cfg: Path) -> None:
    with pytest.raises(EndpointError, match=r"context 'nope' not found \(looked in .*meta\.json\)"):
        read_context("nope", cfg)


def test_read_context_default_is_not_on_disk(cfg: Path) -> None:
    with pytest.raises(EndpointError, match="default"):
        read_context("default", cfg)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"Name":"x"}',
        '{"Name":"x","Endpoints":{}}',
        '{"Name":"x","Endpoints":{"docker":{"Host":""}}}',
        '{"Name":"x","Endpoints":{"docker":{"Host":42}}}',
    ],
)
def test_read_context_corrupt(cfg: Path, content: str) -> None:
    meta_dir = cfg / "contexts/meta" / ctx_id("x")
    meta_dir.mkdir(parents=True)
    (meta_dir / "meta.json").write_text(content)
    with pytest.raises(EndpointError, match="context 'x'"):
        read_context("x", cfg)


# --------------------------------------------------------------------------- resolve precedence


@pytest.fixture
def full_env(cfg: Path) -> dict[str, str]:
    """Every level configured: each test removes levels to expose the next."""
    write_context(cfg, "envctx", "tcp://envctx-host:2375")
    write_context(cfg, "cfgctx", "unix:///cfgctx.sock")
    set_current_context(cfg, "cfgctx")
    return {
        "DOCKER_CONFIG": str(cfg),
        "DOCKER_HOST": "unix:///from-env.sock",
        "DOCKER_CONTEXT": "envctx",
    }


def test_host_argument_beats_everything(full_env: dict[str, str], home: Path) -> None:
    res = resolve("tcp://flag:1", full_env, home, UID)
    assert res.explicit is True
    assert urls(res) == ["tcp://flag:1"]
    assert res.endpoints[0].source == "--host"


def test_docker_host_beats_contexts(full_env: dict[str, str], home: Path) -> None:
    res = resolve(None, full_env, home, UID)
    assert res.explicit is True
    assert urls(res) == ["unix:///from-env.sock"]
    assert res.endpoints[0].source == "DOCKER_HOST"
    assert res.endpoints[0].context == ""


def test_docker_context_beats_config_json(full_env: dict[str, str], home: Path) -> None:
    del full_env["DOCKER_HOST"]
    res = resolve(None, full_env, home, UID)
    assert res.explicit is True
    assert urls(res) == ["tcp://envctx-host:2375"]
    assert res.endpoints[0].source == "context 'envctx' (DOCKER_CONTEXT)"
    assert res.endpoints[0].context == "envctx"  # the name a window title shows


def test_config_json_current_context_beats_defaults(
    full_env: dict[str, str], cfg: Path, home: Path
) -> None:
    del full_env["DOCKER_HOST"]
    del full_env["DOCKER_CONTEXT"]
    res = resolve(None, full_env, home, UID)
    assert res.explicit is True
    assert urls(res) == ["unix:///cfgctx.sock"]
    assert res.endpoints[0].source == (
        f"context 'cfgctx' (current context in {cfg / 'config.json'})"
    )
    assert res.endpoints[0].context == "cfgctx"


def test_config_json_source_abbreviates_home(home: Path) -> None:
    cfg = home / ".docker"
    write_context(cfg, "foo", "unix:///foo.sock")
    set_current_context(cfg, "foo")
    res = resolve(None, {}, home, UID)
    assert res.endpoints[0].source == "context 'foo' (current context in ~/.docker/config.json)"


def test_nothing_configured_gives_default_sockets(home: Path) -> None:
    res = resolve(None, {}, home, UID)
    assert res.explicit is False
    assert res.endpoints == default_sockets({}, home, UID)


def test_empty_values_count_as_unset(full_env: dict[str, str], home: Path) -> None:
    full_env["DOCKER_HOST"] = ""
    full_env["DOCKER_CONTEXT"] = ""
    res = resolve("", full_env, home, UID)
    assert urls(res) == ["unix:///cfgctx.sock"]


def test_host_argument_and_docker_host_take_tls_from_env(cfg: Path, home: Path) -> None:
    (cfg / "ca.pem").write_text("ca")
    env = {"DOCKER_CONFIG": str(cfg), "DOCKER_TLS_VERIFY": "0", "DOCKER_HOST": "tcp://h"}
    expected = TLSConfig(verify=True, ca_cert=cfg / "ca.pem", client_cert=None, client_key=None)
    from_env = resolve(None, env, home, UID).endpoints[0]
    assert from_env.url == "tcp://h:2376"
    assert from_env.tls == expected
    from_flag = resolve("tcp://flag", env, home, UID).endpoints[0]
    assert from_flag.url == "tcp://flag:2376"
    assert from_flag.tls == expected


def test_docker_host_unix_ignores_tls_env(home: Path) -> None:
    env = {"DOCKER_HOST": "unix:///a.sock", "DOCKER_TLS_VERIFY": "1"}
    assert resolve(None, env, home, UID).endpoints[0].tls is None


def test_context_tls_reaches_endpoint(cfg: Path, home: Path) -> None:
    write_context(cfg, "sec", "tcp://h", tls_files=("ca.pem",))
    res = resolve(None, {"DOCKER_CONFIG": str(cfg), "DOCKER_CONTEXT": "sec"}, home, UID)
    ep = res.endpoints[0]
    assert ep.url == "tcp://h:2376"
    assert ep.http_base == "https://h:2376"
    assert ep.tls is not None
    assert ep.tls.ca_cert == cfg / "contexts/tls" / ctx_id("sec") / "docker" / "ca.pem"


def test_docker_context_default_falls_through_to_defaults(full_env: dict[str, str]) -> None:
    """DOCKER_CONTEXT=default pins the default context: config.json is not consulted."""
    del full_env["DOCKER_HOST"]
    full_env["DOCKER_CONTEXT"] = "default"
    home = Path(full_env["DOCKER_CONFIG"]).parent / "home"
    res = resolve(None, full_env, home, UID)
    assert res.explicit is False
    assert res.endpoints == default_sockets(full_env, home, UID)


def test_current_context_default_falls_through_to_defaults(cfg: Path, home: Path) -> None:
    set_current_context(cfg, "default")
    env = {"DOCKER_CONFIG": str(cfg)}
    res = resolve(None, env, home, UID)
    assert res.explicit is False
    assert res.endpoints == default_sockets(env, home, UID)


def test_missing_context_from_env_raises(cfg: Path, home: Path) -> None:
    with pytest.raises(EndpointError, match="context 'ghost' not found"):
        resolve(None, {"DOCKER_CONFIG": str(cfg), "DOCKER_CONTEXT": "ghost"}, home, UID)


def test_missing_context_from_config_json_raises(cfg: Path, home: Path) -> None:
    set_current_context(cfg, "ghost")
    with pytest.raises(EndpointError, match="context 'ghost' not found"):
        resolve(None, {"DOCKER_CONFIG": str(cfg)}, home, UID)


def test_bad_docker_host_raises(home: Path) -> None:
    with pytest.raises(EndpointError):
        resolve(None, {"DOCKER_HOST": "garbage"}, home, UID)


@pytest.mark.parametrize(
    "content",
    [
        None,  # no config.json at all
        "{not json",
        "[1, 2]",
        '{"currentContext": 7}',
        '{"currentContext": ""}',
        '{"auths": {}}',
    ],
)
def test_bad_config_json_is_ignored(cfg: Path, home: Path, content: str | None) -> None:
    if content is not None:
        (cfg / "config.json").write_text(content)
    env = {"DOCKER_CONFIG": str(cfg)}
    res = resolve(None, env, home, UID)
    assert res.explicit is False
    assert res.endpoints == default_sockets(env, home, UID)


def test_unreadable_config_json_is_ignored(cfg: Path, home: Path) -> None:
    (cfg / "config.json").mkdir()  # reading a directory raises IsADirectoryError
    res = resolve(None, {"DOCKER_CONFIG": str(cfg)}, home, UID)
    assert res.explicit is False


# --------------------------------------------------------------------------- default sockets


def test_default_socket_order(home: Path) -> None:
    eps = default_sockets({}, home, UID)
    run = f"/run/user/{UID}"
    assert [e.socket_path for e in eps] == [
        "/var/run/docker.sock",
        f"{run}/docker.sock",
        f"{home}/.docker/desktop/docker.sock",
        f"{home}/.docker/run/docker.sock",
        f"{home}/.colima/default/docker.sock",
        f"{home}/.colima/docker.sock",
        f"{home}/.orbstack/run/docker.sock",
        f"{home}/.rd/docker.sock",
        "/run/podman/podman.sock",
        f"{run}/podman/podman.sock",
    ]
    assert all(e.scheme == "unix" and e.tls is None for e in eps)
    sources = [e.source for e in eps]
    assert len(set(sources)) == len(sources)
    assert sources[0] == "default socket (rootful Docker)"
    assert sources[-1] == "default socket (rootless Podman)"


def test_default_sockets_use_xdg_runtime_dir(tmp_path: Path, home: Path) -> None:
    xdg = tmp_path / "xdg"
    paths = [e.socket_path for e in default_sockets({"XDG_RUNTIME_DIR": str(xdg)}, home, UID)]
    assert f"{xdg}/docker.sock" in paths
    assert f"{xdg}/podman/podman.sock" in paths
    assert not any(p and p.startswith("/run/user/") for p in paths)


def test_default_sockets_empty_xdg_runtime_dir_uses_uid(home: Path) -> None:
    paths = [e.socket_path for e in default_sockets({"XDG_RUNTIME_DIR": ""}, home, 1000)]
    assert "/run/user/1000/docker.sock" in paths
    assert "/run/user/1000/podman/podman.sock" in paths


def test_default_sockets_are_deduplicated(home: Path) -> None:
    """XDG_RUNTIME_DIR=/var/run makes rootless Docker collide with rootful Docker."""
    eps = default_sockets({"XDG_RUNTIME_DIR": "/var/run/"}, home, UID)
    paths = [e.socket_path for e in eps]
    assert paths.count("/var/run/docker.sock") == 1
    assert eps[0].source == "default socket (rootful Docker)"
    assert len(eps) == 9


def test_default_sockets_do_not_touch_the_filesystem(home: Path) -> None:
    """Nothing exists under the fake home, yet every candidate is returned."""
    assert len(default_sockets({}, home, UID)) == 10


# --------------------------------------------------------------------------- real docker CLI


def _docker_cli() -> str | None:
    if os.access("/usr/local/bin/docker", os.X_OK):
        return "/usr/local/bin/docker"
    return shutil.which("docker")


@pytest.mark.skipif(_docker_cli() is None, reason="no docker CLI installed")
def test_context_created_by_real_docker_cli(tmp_path: Path, home: Path) -> None:
    cli = _docker_cli()
    assert cli is not None
    cfg = tmp_path / "real-cli-config"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "DOCKER_CONFIG": str(cfg),
    }
    subprocess.run(
        [cli, "--config", str(cfg), "context", "create", "testctx",
         "--docker", "host=unix:///tmp/x.sock"],
        env=env, check=True, capture_output=True, timeout=seconds(60),
    )  # fmt: skip
    assert read_context("testctx", cfg) == ("unix:///tmp/x.sock", None)

    subprocess.run(
        [cli, "--config", str(cfg), "context", "use", "testctx"],
        env=env, check=True, capture_output=True, timeout=seconds(60),
    )  # fmt: skip
    res = resolve(None, {"DOCKER_CONFIG": str(cfg)}, home, UID)
    assert res.explicit is True
    assert urls(res) == ["unix:///tmp/x.sock"]
    assert res.endpoints[0].source.startswith("context 'testctx' (current context in ")
