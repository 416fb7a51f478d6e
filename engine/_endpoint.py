"""Work out which engine endpoint(s) to talk to, the way the docker CLI does.

This module only reads configuration (arguments, environment, the docker config
directory and its context store); it never opens a socket.  Probing the
candidates is the caller's job, so the result here is a ranked list plus a flag
saying whether the user pinned one endpoint explicitly (in which case falling
back to some other daemon would be surprising and wrong).

Precedence, after docker/cli ``resolveContextName``:

1. the ``host`` argument (``--host``/``-H``),
2. ``DOCKER_HOST``,
3. ``DOCKER_CONTEXT`` (unless ``default``),
4. ``currentContext`` in ``$DOCKER_CONFIG/config.json`` (unless ``default``),
5. the well-known default sockets of Docker, Docker Desktop, Colima, OrbStack,
   Rancher Desktop and Podman.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine._errors import EndpointError, HostKeyChanged, HostKeyError

__all__ = [
    "Endpoint",
    "Resolution",
    "SSHOptions",
    "TLSConfig",
    "default_sockets",
    "docker_config_dir",
    "endpoint_for",
    "parse_host",
    "read_context",
    "resolve",
    "ssh_from_env",
    "tls_from_env",
    "trust_host_key",
]

_SCHEMES = ("unix", "tcp", "ssh", "npipe")
_USAGE = "use unix:///path or tcp://host:port"
# Host names and IPv4 literals; IPv6 literals are handled separately in brackets.
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?")
_IPV6_RE = re.compile(r"\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?\]")
_SSH_USER_RE = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class TLSConfig:
    """TLS settings for a tcp endpoint; a missing file is ``None`` so the caller can skip it."""

    verify: bool
    ca_cert: Path | None
    client_cert: Path | None
    client_key: Path | None


@dataclass(frozen=True)
class SSHOptions:
    """Where an ssh endpoint's trust and keys come from; empty fields mean the user's own.

    By default, as with ``ssh``: host keys are checked against ``~/.ssh/known_hosts``,
    keys come from the ssh agent and ``~/.ssh/id_*``, and ``~/.ssh/config`` applies
    (host aliases, ``User``, ``Port``, ``IdentityFile``).  ``identities`` given means
    those keys only, without the agent.  Set from ``DOCKYARD_SSH_KNOWN_HOSTS``,
    ``DOCKYARD_SSH_IDENTITY`` (paths separated by ``:``) and ``DOCKYARD_SSH_CONFIG``
    (see :func:`ssh_from_env`), for tests and unusual setups.
    """

    known_hosts: Path | None = None
    identities: tuple[Path, ...] = ()
    config: Path | None = None


@dataclass(frozen=True)
class Endpoint:
    """One engine address, normalised, plus where it came from so the UI can explain it."""

    url: str
    source: str
    tls: TLSConfig | None = None
    #: Only for ``ssh://``; ``None`` there means :class:`SSHOptions`'s defaults.
    ssh: SSHOptions | None = None
    #: The docker CLI context it was read from ("" if none): the name users know it by.
    context: str = ""

    @property
    def scheme(self) -> str:
        """``unix``, ``tcp``, ``ssh`` or ``npipe``: picks the transport."""
        return self.url.partition("://")[0]

    @property
    def socket_path(self) -> str | None:
        """The filesystem path for ``unix://`` endpoints, else ``None``."""
        if self.scheme != "unix":
            return None
        return self.url[len("unix://") :]

    @property
    def http_base(self) -> str:
        """Base URL for httpx: the host part is fake for tunnelled transports (unix/ssh/npipe)."""
        if self.scheme == "tcp":
            hostport = self.url[len("tcp://") :]
            return f"{'https' if self.tls is not None else 'http'}://{hostport}"
        return "http://docker"


@dataclass(frozen=True)
class Resolution:
    """Candidates in probe order; ``explicit`` forbids silently falling back to another one."""

    endpoints: list[Endpoint]
    explicit: bool


def _bad(url: str) -> EndpointError:
    return EndpointError(f"{url!r} is not a valid engine address; {_USAGE}")


def _parse_port(url: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise EndpointError(f"{url!r} has an invalid port {text!r}; {_USAGE}")
    return int(text)


def _split_hostport(url: str, netloc: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` / ``[v6][:port]``; rejects anything a URL host cannot be."""
    if netloc.startswith("["):
        end = netloc.find("]")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
        if end < 0 or not _IPV6_RE.fullmatch(host) or (rest and not rest.startswith(":")):
            raise _bad(url)
    else:
        if netloc.count(":") > 1:
            raise EndpointError(f"{url!r}: put an IPv6 address in brackets, e.g. tcp://[::1]:2375")
        host, colon, port_text = netloc.partition(":")
        rest = colon + port_text
        if host and not _HOSTNAME_RE.fullmatch(host):
            raise _bad(url)
    if not rest:
        return host, None
    return host, _parse_port(url, rest[1:])


def _parse_tcp(url: str, rest: str, tls: TLSConfig | None) -> str:
    netloc, slash, path = rest.partition("/")
    if slash and path:
        raise EndpointError(f"{url!r}: a tcp address cannot have a path; {_USAGE}")
    if "@" in netloc:
        raise EndpointError(f"{url!r}: a tcp address cannot carry a user name; {_USAGE}")
    host, port = _split_hostport(url, netloc)
    if port is None:
        # Same defaults as the docker CLI: 2376 is the conventional TLS port.
        port = 2376 if tls is not None else 2375
    # docker/cli treats an empty host ("tcp://:2375") as the local machine.
    return f"tcp://{host or '127.0.0.1'}:{port}"


def _parse_unix(url: str, path: str) -> str:
    if not path:
        raise EndpointError(f"{url!r} has no socket path; use unix:///path/to/docker.sock")
    if not path.startswith("/"):
        # A relative socket path would depend on the current directory: never what is meant.
        raise EndpointError(f"{url!r}: the socket path must be absolute, e.g. unix:///path.sock")
    return "unix://" + posixpath.normpath(path)


def _parse_ssh(url: str, rest: str) -> str:
    netloc, slash, path = rest.partition("/")
    user, at, hostport = netloc.rpartition("@")
    if at and not _SSH_USER_RE.fullmatch(user):
        raise _bad(url)
    host, port = _split_hostport(url, hostport)
    if not host:
        raise EndpointError(f"{url!r} has no host; use ssh://[user@]host[:port]")
    # No default port: leaving it out lets ~/.ssh/config choose, as with the docker CLI.
    out = "ssh://" + (f"{user}@" if at else "") + host + (f":{port}" if port is not None else "")
    if slash and path:
        out += "/" + posixpath.normpath(path).lstrip("/")
    return out


def parse_host(url: str, source: str, tls: TLSConfig | None = None,
               ssh: SSHOptions | None = None) -> Endpoint:
    """Validate and normalise one engine address, so every later step sees one spelling.

    ``tls`` only means something for ``tcp://`` and is dropped for the other
    schemes (which are local or tunnelled); it also picks the default tcp port.
    ``ssh`` likewise only for ``ssh://``.
    """
    text = url.strip()
    if text.startswith("/"):
        text = "unix://" + text
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        raise _bad(url)
    scheme = scheme.lower()
    if scheme not in _SCHEMES:
        raise EndpointError(
            f"{url!r} uses unsupported scheme {scheme!r}; "
            "use unix:///path, tcp://host:port, ssh://user@host or npipe:////./pipe/name"
        )
    if any(ch.isspace() for ch in rest):
        raise _bad(url)
    if scheme == "tcp":
        return Endpoint(_parse_tcp(url, rest, tls), source, tls)
    if scheme == "unix":
        return Endpoint(_parse_unix(url, rest), source)
    if scheme == "ssh":
        return Endpoint(_parse_ssh(url, rest), source, ssh=ssh)
    if not rest.strip("/"):
        raise EndpointError(f"{url!r} has no pipe name; use npipe:////./pipe/docker_engine")
    return Endpoint("npipe://" + rest, source)


def endpoint_for(
    url: str, source: str, *, ca_cert: Path | None = None, client_cert: Path | None = None,
    client_key: Path | None = None, env: Mapping[str, str] | None = None,
) -> Endpoint:
    """An engine the user names in the window: a URL and, for ``tcp://``, TLS files.

    Any TLS file given means TLS with verification (against ``ca_cert``, else the
    system's CAs), as ``--tlsverify`` does; none means plain tcp.  An ``ssh://``
    address gets the same ssh options as everywhere else (``DOCKYARD_SSH_*``).
    Raises :class:`EndpointError` for an address or file that cannot work.
    """
    files = {"CA certificate": ca_cert, "client certificate": client_cert,
             "client key": client_key}
    for what, path in files.items():
        if path is not None and not path.is_file():
            raise EndpointError(f"the {what} {str(path)!r} is not a readable file")
    if (client_cert is None) != (client_key is None):
        raise EndpointError("a client certificate needs its key, and a key its certificate")
    tls = TLSConfig(True, ca_cert, client_cert, client_key) \
        if any(files.values()) else None
    if tls is not None and not url.strip().lower().startswith("tcp://"):
        raise EndpointError("TLS files only apply to a tcp:// address")
    return parse_host(url, source, tls, ssh_from_env(os.environ if env is None else env))


def trust_host_key(error: HostKeyError) -> Path:
    """Trust the key an :class:`UnknownHostKey` carries: append its line to the
    ``known_hosts`` file that was consulted (made, private, if there was none), as
    ``ssh`` does when the user answers "yes".  A changed key is never overridden
    here: that raises :class:`EndpointError`.  Returns the file written.
    """
    if isinstance(error, HostKeyChanged) or not error.known_hosts_line or not error.known_hosts:
        raise EndpointError(f"this host key cannot be trusted from here: {error}")
    path = Path(error.known_hosts)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        with path.open("a", encoding="utf-8") as out:
            if text and not text.endswith("\n"):
                out.write("\n")
            out.write(error.known_hosts_line + "\n")
    except OSError as exc:
        raise EndpointError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def docker_config_dir(env: Mapping[str, str], home: Path) -> Path:
    """The docker CLI config directory: ``$DOCKER_CONFIG``, else ``~/.docker``."""
    configured = env.get("DOCKER_CONFIG", "")
    return Path(configured) if configured else home / ".docker"


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def tls_from_env(env: Mapping[str, str], home: Path) -> TLSConfig | None:
    """TLS settings from the environment, with the docker CLI's (not docker-py's) rules.

    Any non-empty ``DOCKER_TLS_VERIFY`` -- even ``"0"`` -- means TLS with
    verification; a non-empty ``DOCKER_TLS`` means TLS without it.  Certificates
    come from ``DOCKER_CERT_PATH``, which defaults to the config directory
    (``$DOCKER_CONFIG`` or ``~/.docker``) as in docker/cli.
    """
    if env.get("DOCKER_TLS_VERIFY", ""):
        verify = True
    elif env.get("DOCKER_TLS", ""):
        verify = False
    else:
        return None
    cert_path = env.get("DOCKER_CERT_PATH", "")
    certs = Path(cert_path) if cert_path else docker_config_dir(env, home)
    return TLSConfig(
        verify=verify,
        ca_cert=_existing(certs / "ca.pem"),
        client_cert=_existing(certs / "cert.pem"),
        client_key=_existing(certs / "key.pem"),
    )


def ssh_from_env(env: Mapping[str, str]) -> SSHOptions | None:
    """:class:`SSHOptions` from ``DOCKYARD_SSH_*``; None when none is set (the user's own)."""
    known_hosts = env.get("DOCKYARD_SSH_KNOWN_HOSTS", "")
    identities = tuple(Path(p) for p in env.get("DOCKYARD_SSH_IDENTITY", "").split(":") if p)
    config = env.get("DOCKYARD_SSH_CONFIG", "")
    if not (known_hosts or identities or config):
        return None
    return SSHOptions(Path(known_hosts) if known_hosts else None, identities,
                      Path(config) if config else None)


def _context_id(name: str) -> str:
    """The context store keys directories by the SHA-256 of the context name."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


def read_context(name: str, config_dir: Path) -> tuple[str, TLSConfig | None]:
    """Read a docker CLI context: its docker host URL and TLS material.

    TLS follows docker/cli's ``Endpoint.tlsConfig``: it is on when any of
    ``ca.pem``/``cert.pem``/``key.pem`` is stored for the context, or when
    ``SkipTLSVerify`` is true; ``verify`` is ``not SkipTLSVerify``.
    """
    if name == "default":
        raise EndpointError("the 'default' context is not stored on disk; it means DOCKER_HOST")
    ctx_id = _context_id(name)
    meta_path = config_dir / "contexts" / "meta" / ctx_id / "meta.json"
    try:
        raw = meta_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EndpointError(f"context {name!r} not found (looked in {meta_path})") from None
    except OSError as exc:
        raise EndpointError(f"cannot read context {name!r} from {meta_path}: {exc}") from exc
    try:
        meta: Any = json.loads(raw)
    except ValueError as exc:
        raise EndpointError(f"context {name!r} is corrupt ({meta_path}): {exc}") from exc
    endpoints = meta.get("Endpoints") if isinstance(meta, dict) else None
    docker = endpoints.get("docker") if isinstance(endpoints, dict) else None
    host = docker.get("Host") if isinstance(docker, dict) else None
    if not isinstance(docker, dict) or not isinstance(host, str) or not host:
        raise EndpointError(f"context {name!r} has no docker endpoint host ({meta_path})")
    skip_verify = docker.get("SkipTLSVerify") is True

    tls_dir = config_dir / "contexts" / "tls" / ctx_id / "docker"
    ca, cert, key = (_existing(tls_dir / f) for f in ("ca.pem", "cert.pem", "key.pem"))
    if ca is None and cert is None and key is None and not skip_verify:
        return host, None
    return host, TLSConfig(verify=not skip_verify, ca_cert=ca, client_cert=cert, client_key=key)


def _display(path: Path, home: Path) -> str:
    """Show paths under home as ``~/...`` so messages match what users type."""
    try:
        return "~/" + path.relative_to(home).as_posix()
    except ValueError:
        return str(path)


def _current_context(config_file: Path) -> str | None:
    """``currentContext`` from config.json; a broken file must not stop the app from starting."""
    try:
        data: Any = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("currentContext") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def _from_context(name: str, config_dir: Path, source: str,
                  ssh: SSHOptions | None) -> Resolution:
    host, tls = read_context(name, config_dir)
    return Resolution([replace(parse_host(host, source, tls, ssh), context=name)],
                      explicit=True)


def default_sockets(env: Mapping[str, str], home: Path, uid: int) -> list[Endpoint]:
    """Well-known local sockets, most common first; existence is left to the prober."""
    runtime_dir = env.get("XDG_RUNTIME_DIR", "") or f"/run/user/{uid}"
    candidates = [
        ("/var/run/docker.sock", "rootful Docker"),
        (f"{runtime_dir}/docker.sock", "rootless Docker"),
        (str(home / ".docker/desktop/docker.sock"), "Docker Desktop for Linux"),
        (str(home / ".docker/run/docker.sock"), "Docker Desktop"),
        (str(home / ".colima/default/docker.sock"), "Colima"),
        (str(home / ".colima/docker.sock"), "Colima, legacy path"),
        (str(home / ".orbstack/run/docker.sock"), "OrbStack"),
        (str(home / ".rd/docker.sock"), "Rancher Desktop"),
        ("/run/podman/podman.sock", "rootful Podman"),
        (f"{runtime_dir}/podman/podman.sock", "rootless Podman"),
    ]
    seen: set[str] = set()
    out: list[Endpoint] = []
    for path, label in candidates:
        endpoint = parse_host(path, f"default socket ({label})")
        if endpoint.url not in seen:
            seen.add(endpoint.url)
            out.append(endpoint)
    return out


def resolve(
    host: str | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    uid: int | None = None,
) -> Resolution:
    """Decide which endpoint(s) to probe, in docker CLI precedence order (see module doc)."""
    if env is None:
        env = os.environ
    if home is None:
        home = Path.home()
    if uid is None:
        uid = os.getuid() if hasattr(os, "getuid") else 0

    ssh = ssh_from_env(env)
    # Empty values count as unset, as in the docker CLI.
    if host and host.strip():
        return Resolution([parse_host(host, "--host", tls_from_env(env, home), ssh)],
                          explicit=True)
    docker_host = env.get("DOCKER_HOST", "")
    if docker_host.strip():
        tls = tls_from_env(env, home)
        return Resolution([parse_host(docker_host, "DOCKER_HOST", tls, ssh)], explicit=True)

    config_dir = docker_config_dir(env, home)
    env_context = env.get("DOCKER_CONTEXT", "")
    if env_context and env_context != "default":
        return _from_context(env_context, config_dir,
                             f"context {env_context!r} (DOCKER_CONTEXT)", ssh)
    config_file = config_dir / "config.json"
    current = _current_context(config_file)
    # DOCKER_CONTEXT=default pins the default context, so config.json is not consulted.
    if current and current != "default" and env_context != "default":
        where = f"current context in {_display(config_file, home)}"
        return _from_context(current, config_dir, f"context {current!r} ({where})", ssh)
    return Resolution(default_sockets(env, home, uid), explicit=False)
