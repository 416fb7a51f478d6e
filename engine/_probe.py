"""Every engine this user could mean, and whether each answers: for ``dockyard doctor --all``.

Where engines are known from, as the tools themselves keep them:

- the docker CLI's context store (``$DOCKER_CONFIG/contexts/meta/*/meta.json``)
  plus its built-in ``default`` context (``DOCKER_HOST``, else the rootful socket);
- Podman's connections: ``CONTAINER_HOST``, ``[engine.service_destinations.*]`` in
  containers.conf (``$CONTAINERS_CONF``, else the system files and the user's),
  and Podman 5's ``podman-connections.json``;
- the well-known default sockets that exist on this machine.

The same address found twice is listed once, with every place it was found.
Probing opens each endpoint with a deadline, all at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine._client import Engine
from engine._endpoint import (
    Endpoint,
    SSHOptions,
    default_sockets,
    docker_config_dir,
    parse_host,
    read_context,
    ssh_from_env,
    tls_from_env,
)
from engine._errors import EndpointError, EngineError, HostKeyError, PermissionDenied
from engine._exposure import plain_tcp_warning

__all__ = ["KnownEngine", "ProbeResult", "known_engines", "probe_engines"]

REACHABLE = "reachable"
UNREACHABLE = "unreachable"
PERMISSION_DENIED = "permission denied"


@dataclass
class KnownEngine:
    """One engine address and every place it was found (``context 'ci'``, ``CONTAINER_HOST``…)."""

    endpoint: Endpoint
    found_via: list[str] = field(default_factory=list)
    current: bool = False
    #: Why the address could not be used at all (a broken context), instead of probing it.
    problem: str = ""


@dataclass(frozen=True)
class ProbeResult:
    """What answered at one known address."""

    url: str
    found_via: tuple[str, ...]
    current: bool
    state: str  # "reachable", "unreachable" or "permission denied"
    product: str = ""
    version: str = ""
    api_version: str = ""
    error: str = ""
    #: Plain words when the address is tcp:// without TLS to another machine.
    warning: str = ""


def _contexts(env: Mapping[str, str], home: Path,
              ssh: SSHOptions | None) -> list[tuple[Endpoint | str, str, bool]]:
    """(endpoint or the reason it is broken, source, is current) for every CLI context."""
    config_dir = docker_config_dir(env, home)
    current = env.get("DOCKER_CONTEXT", "")
    if not current:
        try:
            data: Any = json.loads((config_dir / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        value = data.get("currentContext") if isinstance(data, dict) else None
        current = value if isinstance(value, str) and value else "default"
    out: list[tuple[Endpoint | str, str, bool]] = []
    docker_host = env.get("DOCKER_HOST", "").strip()
    default_url = docker_host or "unix:///var/run/docker.sock"
    try:
        default: Endpoint | str = parse_host(default_url, "", tls_from_env(env, home), ssh)
    except EndpointError as exc:
        default = str(exc)
    out.append((default, "context 'default'" + (" (DOCKER_HOST)" if docker_host else ""),
                current == "default"))
    names: list[str] = []
    for meta in sorted((config_dir / "contexts" / "meta").glob("*/meta.json")):
        try:
            raw: Any = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        name = raw.get("Name") if isinstance(raw, dict) else None
        if isinstance(name, str) and name and name != "default":
            names.append(name)
    if current != "default" and current not in names:
        out.append((f"context {current!r} is chosen but not in the context store",
                    f"context {current!r}", True))
    for name in sorted(names):
        try:
            host, tls = read_context(name, config_dir)
            endpoint: Endpoint | str = replace(parse_host(host, "", tls, ssh), context=name)
        except EndpointError as exc:
            endpoint = str(exc)
        out.append((endpoint, f"context {name!r}", name == current))
    return out


def _config_home(env: Mapping[str, str], home: Path) -> Path:
    configured = env.get("XDG_CONFIG_HOME", "")
    return Path(configured) if configured else home / ".config"


def _podman_connections(env: Mapping[str, str], home: Path) -> list[tuple[str, str, str]]:
    """(uri, identity file, source) for every Podman connection on record."""
    out: list[tuple[str, str, str]] = []
    if host := env.get("CONTAINER_HOST", "").strip():
        out.append((host, env.get("CONTAINER_SSHKEY", ""), "CONTAINER_HOST"))
    config_home = _config_home(env, home)
    if conf := env.get("CONTAINERS_CONF", ""):
        files = [Path(conf)]
    else:
        files = [Path("/usr/share/containers/containers.conf"),
                 Path("/etc/containers/containers.conf"),
                 config_home / "containers" / "containers.conf"]
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        engine_table = data.get("engine")
        destinations = engine_table.get("service_destinations") \
            if isinstance(engine_table, dict) else None
        if not isinstance(destinations, dict):
            continue
        for name, entry in destinations.items():
            if isinstance(entry, dict) and isinstance(entry.get("uri"), str):
                out.append((entry["uri"], str(entry.get("identity") or ""),
                            f"Podman connection {name!r} ({path})"))
    connections = config_home / "containers" / "podman-connections.json"
    try:
        raw: Any = json.loads(connections.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raw = {}
    table = raw.get("Connection") if isinstance(raw, dict) else None
    entries = table.get("Connections") if isinstance(table, dict) else None
    if isinstance(entries, dict):
        for name, entry in entries.items():
            if isinstance(entry, dict) and isinstance(entry.get("URI"), str):
                out.append((entry["URI"], str(entry.get("Identity") or ""),
                            f"Podman connection {name!r} (podman-connections.json)"))
    return out


def _identity(endpoint: Endpoint) -> tuple[object, ...]:
    """What makes two records one engine: the address and, for TLS, the files' contents
    (the CLI keeps a copy per context, so their paths differ even for the same files).
    Two contexts to one address with another CA are two engines: one may fail."""
    tls = endpoint.tls
    if tls is None:
        return (endpoint.url,)

    def content(path: Path | None) -> object:
        try:
            return path.read_bytes() if path is not None else None
        except OSError:
            return str(path)

    return (endpoint.url, tls.verify, content(tls.ca_cert), content(tls.client_cert),
            content(tls.client_key))


def known_engines(
    env: Mapping[str, str] | None = None, home: Path | None = None, uid: int | None = None
) -> list[KnownEngine]:
    """Every engine address on record or on a default socket; reads files, opens no socket."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    uid = os.getuid() if uid is None else uid
    ssh = ssh_from_env(env)
    found: dict[tuple[object, ...], KnownEngine] = {}
    broken: list[KnownEngine] = []

    def add(endpoint: Endpoint, source: str, current: bool = False) -> None:
        known = found.setdefault(_identity(endpoint), KnownEngine(endpoint))
        if source not in known.found_via:
            known.found_via.append(source)
        known.current = known.current or current

    for endpoint, source, current in _contexts(env, home, ssh):
        if isinstance(endpoint, str):
            broken.append(KnownEngine(Endpoint("", source), [source], current, endpoint))
        else:
            add(endpoint, source, current)
    for uri, identity, source in _podman_connections(env, home):
        options = ssh
        if identity and uri.startswith("ssh://"):
            options = SSHOptions(ssh.known_hosts if ssh else None, (Path(identity),),
                                 ssh.config if ssh else None)
        try:
            add(parse_host(uri, "", None, options), source)
        except EndpointError as exc:
            broken.append(KnownEngine(Endpoint(uri, source), [source], False, str(exc)))
    for endpoint in default_sockets(env, home, uid):
        path = endpoint.socket_path
        if path is not None and Path(path).is_socket():
            add(endpoint, endpoint.source)
    return [*found.values(), *broken]


async def _probe(known: KnownEngine, timeout: float) -> ProbeResult:
    via = tuple(known.found_via)
    if known.problem:
        return ProbeResult(known.endpoint.url, via, known.current, UNREACHABLE,
                           error=known.problem)
    try:
        client = await asyncio.wait_for(Engine.open(known.endpoint, deadline=timeout),
                                        timeout + 1)
    except TimeoutError:
        return ProbeResult(known.endpoint.url, via, known.current, UNREACHABLE,
                           error=f"no answer within {timeout:g} s")
    except HostKeyError as exc:
        return ProbeResult(known.endpoint.url, via, known.current, UNREACHABLE, error=str(exc))
    except PermissionDenied as exc:
        return ProbeResult(known.endpoint.url, via, known.current, PERMISSION_DENIED,
                           error=str(exc))
    except (EngineError, OSError) as exc:
        return ProbeResult(known.endpoint.url, via, known.current, UNREACHABLE,
                           error=str(exc) or type(exc).__name__)
    async with client:
        version = client.version
        return ProbeResult(known.endpoint.url, via, known.current, REACHABLE,
                           version.product, version.version, version.api_version)


async def probe_engines(
    known: list[KnownEngine] | None = None, *, timeout: float = 5.0
) -> list[ProbeResult]:
    """Open every known engine at once, each within ``timeout`` seconds; in the given order."""
    engines = known_engines() if known is None else known
    results = await asyncio.gather(*(_probe(k, timeout) for k in engines))
    return [replace(r, warning=plain_tcp_warning(k.endpoint)) if k.endpoint.url else r
            for k, r in zip(engines, results, strict=True)]
