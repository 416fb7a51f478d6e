"""Running a container from an image: what ``docker run -d`` does, as data plus one call.

A :class:`RunSpec` is everything the "Run…" dialog can set.  The parsers below
turn what a user typed into its parts and raise :class:`InvalidInput` with the
message a form shows under the field, so nothing invalid reaches the daemon.
:func:`run_container` creates and starts the container and, when the start
fails (a port already allocated, a bad bind source), removes what it created:
a failed run leaves nothing behind.  :func:`one_click_spec` is the "Run" button:
an auto name, the image's exposed ports published on 127.0.0.1, detached.

Decisions, where docker leaves room:

- ``KEY`` without ``=`` in the environment field is rejected (the dialog has no
  environment to take it from); in an imported .env file it is taken from this
  process's environment, as ``docker run --env-file`` does.
- Host paths must be absolute: a desktop app has no meaningful working directory.
- Free host ports are checked by binding a socket on this computer, which only
  means something for an engine on this computer (``check_host=False`` otherwise).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import re
import shlex
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engine._errors import EngineError, NotFound
from engine._models import Container, ContainerDetails
from engine._shapes import created_id, expect_list

if TYPE_CHECKING:
    from engine._client import Engine

log = logging.getLogger(__name__)
T = TypeVar("T")

PROTOCOLS = ("tcp", "udp", "sctp")
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
#: Commands that exit at once without a terminal: one-click runs give them ``-it``.
SHELLS = frozenset({"sh", "ash", "bash", "dash", "zsh", "ksh", "fish", "busybox"})

_NAME_CHAR = re.compile(r"[a-zA-Z0-9_.-]")
_ENV_SPACE = " \t\n\v\f\r"


class InvalidInput(ValueError):
    """What a user typed cannot be used; ``str()`` is the message shown under the field."""

    def __init__(self, *messages: str) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclass(frozen=True, slots=True)
class PortMapping:
    """One ``-p``: ``host_port=None`` lets the daemon choose a free one."""

    host_ip: str
    host_port: int | None
    container_port: int
    proto: str = "tcp"

    @property
    def key(self) -> str:
        """The container side as the API names it: ``80/tcp``."""
        return f"{self.container_port}/{self.proto}"

    def __str__(self) -> str:
        ip = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        host = str(self.host_port) if self.host_port is not None else ""
        if ip:
            return f"{ip}:{host}:{self.key}"
        return f"{host}:{self.key}" if host else self.key


@dataclass(frozen=True, slots=True)
class VolumeMapping:
    """One ``-v``: a named volume, an absolute host path (bind), or ``""`` (anonymous)."""

    source: str
    target: str
    read_only: bool = False

    @property
    def is_bind(self) -> bool:
        return self.source.startswith("/")

    def __str__(self) -> str:
        text = f"{self.source}:{self.target}" if self.source else self.target
        return f"{text}:ro" if self.read_only else text


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    name: str = "no"
    max_retries: int = 0

    def __str__(self) -> str:
        return f"{self.name}:{self.max_retries}" if self.max_retries else self.name


@dataclass(frozen=True)
class RunSpec:
    """Everything ``run_container`` sends; ``None`` / empty means "the image's default"."""

    image: str
    name: str | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    ports: tuple[PortMapping, ...] = ()
    publish_all: bool = False
    env: tuple[str, ...] = ()
    volumes: tuple[VolumeMapping, ...] = ()
    restart: RestartPolicy = RestartPolicy()
    network: str | None = None
    auto_remove: bool = False
    tty: bool = False
    interactive: bool = False
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: ``--user``: a name or UID[:GID]; None is the image's user.
    user: str | None = None
    #: ``--workdir``: an absolute path in the container; None is the image's.
    working_dir: str | None = None
    #: ``--cpus`` in billionths of a CPU (the API's NanoCpus); None is no limit.
    nano_cpus: int | None = None
    #: ``--memory`` in bytes; None is no limit.
    memory: int | None = None

    def create_body(self) -> dict[str, Any]:
        """The ``POST /containers/create`` body (Config with HostConfig inside)."""
        bindings: dict[str, list[dict[str, str]]] = {}
        for port in self.ports:
            bindings.setdefault(port.key, []).append({
                "HostIp": port.host_ip,
                "HostPort": "" if port.host_port is None else str(port.host_port),
            })
        host_config: dict[str, Any] = {
            "PortBindings": bindings,
            "PublishAllPorts": self.publish_all,
            "Binds": [str(v) for v in self.volumes if v.source],
            "RestartPolicy": {"Name": self.restart.name,
                              "MaximumRetryCount": self.restart.max_retries},
            "AutoRemove": self.auto_remove,
        }
        if self.network:
            host_config["NetworkMode"] = self.network
        if self.nano_cpus:
            host_config["NanoCpus"] = self.nano_cpus
        if self.memory:
            host_config["Memory"] = self.memory
        body: dict[str, Any] = {
            "Image": self.image,
            "Env": list(self.env),
            "Labels": dict(self.labels),
            "ExposedPorts": {port.key: {} for port in self.ports},
            "Volumes": {v.target: {} for v in self.volumes if not v.source},
            "Tty": self.tty,
            "OpenStdin": self.interactive,
            "StdinOnce": False,
            "AttachStdin": False,
            "AttachStdout": False,
            "AttachStderr": False,
            "HostConfig": host_config,
        }
        if self.command is not None:
            body["Cmd"] = list(self.command)
        if self.entrypoint is not None:
            body["Entrypoint"] = list(self.entrypoint)
        if self.user:
            body["User"] = self.user
        if self.working_dir:
            body["WorkingDir"] = self.working_dir
        return body


# -- parsing ----------------------------------------------------------------------


def validate_name(name: str) -> str | None:
    """A container name as docker accepts it (``[a-zA-Z0-9][a-zA-Z0-9_.-]+``); blank = auto."""
    name = name.strip()
    if not name:
        return None
    if not name[0].isascii() or not name[0].isalnum():
        raise InvalidInput("A name must start with a letter or digit")
    bad = sorted({c for c in name if not _NAME_CHAR.fullmatch(c)})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise InvalidInput(f"A name may only use letters, digits, '_', '.' and '-', not {shown}")
    if len(name) < 2:
        raise InvalidInput("A name needs at least 2 characters")
    return name


def _port_number(text: str, what: str) -> int:
    """A port number 1…65535, checked before ``int()``: Python refuses to convert more
    than 4,300 digits (ValueError), and Unicode digits such as '²' are not numbers here."""
    shown = text if len(text) <= 20 else text[:12] + "…"
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"{what} must be a number, not {shown!r}")
    if len(text.lstrip("0")) > 5 or not 1 <= int(text) <= 65535:
        raise InvalidInput(f"{what} must be between 1 and 65535, not {shown.lstrip('0') or 0}")
    return int(text)


def parse_port(text: str) -> PortMapping:
    """``[IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]``, as ``docker run -p`` takes it.

    ``80`` and ``127.0.0.1::80`` publish on a host port the daemon picks; an IPv6
    address goes in brackets (``[::1]:8080:80``).
    """
    spec = text.strip()
    if not spec:
        raise InvalidInput("Expected [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]")
    rest, slash, proto = spec.rpartition("/") if "/" in spec else (spec, "", "tcp")
    proto = proto.lower()
    if slash and proto not in PROTOCOLS:
        raise InvalidInput(f"Protocol must be tcp, udp or sctp, not {proto!r}")
    host_ip = ""
    if rest.startswith("["):
        address, bracket, rest = rest[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise InvalidInput(f"Expected [IPv6]:HOST_PORT:CONTAINER_PORT, got {spec!r}")
        host_ip, rest = address, rest[1:]
        parts = ["", *rest.split(":")]
        if len(parts) != 3:
            raise InvalidInput(f"Expected [IPv6]:HOST_PORT:CONTAINER_PORT, got {spec!r}")
    else:
        parts = rest.split(":")
        if len(parts) > 3:
            raise InvalidInput(
                f"Expected [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO], got {spec!r}")
        parts = [""] * (3 - len(parts)) + parts
        host_ip = parts[0]
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise InvalidInput(f"{host_ip!r} is not an IP address") from None
    host_port = _port_number(parts[1], "Host port") if parts[1] else None
    container_port = _port_number(parts[2], "Container port")
    return PortMapping(host_ip, host_port, container_port, proto)


def _lines(text: str) -> Iterable[tuple[int, str]]:
    """Numbered lines that say something: blank lines and ``#`` comments are skipped."""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


def _each_line(text: str, parse: Callable[[str], T]) -> tuple[T, ...]:
    """Parse every line, collecting every line's error as ``line N: …``."""
    values: list[T] = []
    errors: list[str] = []
    for number, line in _lines(text):
        try:
            values.append(parse(line))
        except InvalidInput as exc:
            errors.extend(f"line {number}: {m}" for m in exc.messages)
    if errors:
        raise InvalidInput(*errors)
    return tuple(values)


def parse_ports(text: str) -> tuple[PortMapping, ...]:
    """One :func:`parse_port` per line."""
    return _each_line(text, parse_port)


def _env_line(line: str) -> str:
    key, equals, _value = line.partition("=")
    if not key:
        raise InvalidInput(f"{line!r} has no variable name")
    if any(c in key for c in _ENV_SPACE):
        raise InvalidInput(f"Variable name {key!r} contains whitespace")
    if not equals:
        raise InvalidInput(f"{key!r} has no value: write {key}=VALUE")
    return line


def parse_env_lines(text: str) -> tuple[str, ...]:
    """``KEY=VALUE`` per line, the value verbatim; blank lines and ``#`` comments ignored."""
    values: list[str] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        try:
            values.append(_env_line(line))
        except InvalidInput as exc:
            errors.append(f"line {number}: {exc}")
    if errors:
        raise InvalidInput(*errors)
    return tuple(values)


def read_env_file(path: str | os.PathLike[str],
                  environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """A ``--env-file`` the way the docker CLI reads it.

    Values are taken verbatim (quotes included); a line with only ``KEY`` takes
    the value from ``environ`` (this process's environment) and is dropped when
    unset; leading whitespace and a UTF-8 byte-order mark are ignored.
    """
    environ = os.environ if environ is None else environ
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read {name}: {exc.strerror or exc}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    values: list[str] = []
    for number, raw in enumerate(data.splitlines(), 1):
        try:
            line = raw.decode("utf-8").lstrip()
        except UnicodeDecodeError:
            raise InvalidInput(f"{name} line {number}: not valid UTF-8") from None
        if not line or line.startswith("#"):
            continue
        key, equals, _value = line.partition("=")
        key = key.lstrip(_ENV_SPACE)
        if not key:
            raise InvalidInput(f"{name} line {number}: {line!r} has no variable name")
        if equals:
            if any(c in key for c in _ENV_SPACE):
                raise InvalidInput(f"{name} line {number}: variable name {key!r}"
                                   " contains whitespace")
            values.append(line)
        else:
            key = key.strip()
            if any(c in key for c in _ENV_SPACE):
                raise InvalidInput(f"{name} line {number}: variable name {key!r}"
                                   " contains whitespace")
            if key in environ:
                values.append(f"{key}={environ[key]}")
    return tuple(values)


_VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")


def parse_volume(text: str) -> VolumeMapping:
    """``SOURCE:TARGET[:ro|rw]`` or just ``TARGET`` (anonymous volume), like ``docker run -v``.

    SOURCE is a volume name or an absolute host path.
    """
    spec = text.strip()
    parts = spec.split(":")
    read_only = False
    if len(parts) == 3 or (len(parts) == 2 and parts[1] in ("ro", "rw")):
        option = parts.pop()
        if option not in ("ro", "rw"):
            raise InvalidInput(f"Unknown volume option {option!r}: use ro or rw")
        read_only = option == "ro"
    if len(parts) > 2:
        raise InvalidInput(f"Expected SOURCE:TARGET[:ro], got {spec!r}")
    source, target = ("", parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    if not target:
        raise InvalidInput("The path in the container is missing")
    if not target.startswith("/"):
        raise InvalidInput(f"The path in the container must be absolute, not {target!r}")
    if not source and read_only:
        raise InvalidInput("An anonymous volume cannot be read-only: name it, e.g. data:"
                           f"{target}:ro")
    if len(parts) == 2:
        if not source:
            raise InvalidInput("The volume name or host folder is missing")
        if source.startswith((".", "~")):
            raise InvalidInput(f"The host folder must be an absolute path, not {source!r}")
        if not source.startswith("/") and not _VOLUME_NAME.fullmatch(source):
            raise InvalidInput(
                f"{source!r} is neither an absolute host path nor a volume name"
                " (letters, digits, '_', '.', '-')")
    return VolumeMapping(source, target, read_only)


def parse_volumes(text: str) -> tuple[VolumeMapping, ...]:
    """One :func:`parse_volume` per line."""
    return _each_line(text, parse_volume)


def parse_restart(text: str) -> RestartPolicy:
    """``no``, ``on-failure[:N]``, ``always`` or ``unless-stopped``; blank means ``no``."""
    name, colon, retries = text.strip().partition(":")
    name = name or "no"
    if name not in RESTART_POLICIES:
        raise InvalidInput(
            f"Unknown restart policy {name!r}: use no, on-failure[:N], always or unless-stopped")
    if not colon:
        return RestartPolicy(name)
    if name != "on-failure":
        raise InvalidInput(f"Only on-failure takes a retry count, not {name}")
    if not retries.isdigit():
        raise InvalidInput(f"The retry count must be a number, not {retries!r}")
    return RestartPolicy(name, int(retries))


def parse_command(text: str) -> tuple[str, ...] | None:
    """A command line split like a POSIX shell would; blank means the image's default."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise InvalidInput(f"{str(exc).capitalize()} in {text.strip()!r}") from None
    return tuple(words) if words else None


def parse_labels(text: str) -> dict[str, str]:
    """``KEY=VALUE`` per line (``KEY`` alone is an empty value), as ``--label`` takes them."""
    labels: dict[str, str] = {}
    errors: list[str] = []
    for number, line in _lines(text):
        key, _equals, value = line.partition("=")
        key = key.strip()
        if not key:
            errors.append(f"line {number}: {line!r} has no label name")
        elif any(c in key for c in _ENV_SPACE):
            errors.append(f"line {number}: label name {key!r} contains whitespace")
        else:
            labels[key] = value
    if errors:
        raise InvalidInput(*errors)
    return labels


def parse_user(text: str) -> str | None:
    """``--user``: ``name``, ``uid``, ``name:group`` or ``uid:gid``; blank is the image's user."""
    user = text.strip()
    if not user:
        return None
    if any(c.isspace() for c in user):
        raise InvalidInput("A user cannot contain spaces")
    name, colon, group = user.partition(":")
    if not name or (colon and not group) or ":" in group:
        raise InvalidInput(f"Expected USER or USER:GROUP, not {user!r}")
    return user


def parse_working_dir(text: str) -> str | None:
    """``--workdir``: an absolute path in the container; blank is the image's."""
    path = text.strip()
    if not path:
        return None
    if not path.startswith("/"):
        raise InvalidInput(f"The working directory must be an absolute path, not {path!r}")
    return path


_DECIMAL = re.compile(r"(\d+)(?:\.(\d*))?|\.(\d+)")


def _decimal(text: str, what: str) -> tuple[int, str]:
    """Whole and fraction digits of a plain decimal number (no sign, no exponent)."""
    match = _DECIMAL.fullmatch(text) if text.isascii() else None
    if match is None:
        shown = text if len(text) <= 20 else text[:12] + "…"
        raise InvalidInput(f"{what} must be a number such as 1.5, not {shown!r}")
    whole, fraction, only_fraction = match.groups()
    if only_fraction is not None:
        return 0, only_fraction
    if len(whole.lstrip("0")) > 12:
        raise InvalidInput(f"{what} is far too large")
    return int(whole), fraction or ""


def parse_cpus(text: str, available: int = 0) -> int | None:
    """``--cpus`` (``1.5``) as NanoCpus; blank is no limit.  Exact: no float rounding.

    ``available`` is the engine's CPU count (``/info`` NCPU; 0 when not known yet): the
    engine may be another machine, so this computer's count says nothing about it."""
    value = text.strip()
    if not value:
        return None
    whole, fraction = _decimal(value, "CPUs")
    if len(fraction.rstrip("0")) > 9:
        raise InvalidInput("CPUs can have at most 9 decimal places")
    nano = whole * 10**9 + int((fraction + "0" * 9)[:9])
    if nano == 0:
        raise InvalidInput("CPUs must be more than 0 (leave it blank for no limit)")
    if available and nano > available * 10**9:
        # The daemon refuses more CPUs than it has; say so before anything is sent.
        raise InvalidInput(f"The engine has only {available} CPUs, not {value}")
    return nano


_MEMORY_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_MEMORY = re.compile(r"([0-9.]+)\s*([bkmgt]?)b?", re.IGNORECASE)
#: The daemons refuse a memory limit below 6 MiB.
MIN_MEMORY = 6 << 20


def parse_memory(text: str) -> int | None:
    """``--memory``: ``512m``, ``1.5g``, ``1073741824`` (binary units, as docker reads them)."""
    value = text.strip()
    if not value:
        return None
    match = _MEMORY.fullmatch(value) if value.isascii() else None
    if match is None:
        shown = value if len(value) <= 20 else value[:12] + "…"
        raise InvalidInput(f"Memory must be a size such as 512m or 1.5g, not {shown!r}")
    whole, fraction = _decimal(match.group(1), "Memory")
    unit = _MEMORY_UNITS[match.group(2).lower()]
    size = whole * unit + (int(fraction) * unit // 10 ** len(fraction) if fraction else 0)
    if size < MIN_MEMORY:
        raise InvalidInput("Memory must be at least 6m (the engine refuses less)")
    return size


def format_cpus(nano: int) -> str:
    """NanoCpus as ``--cpus`` takes it: ``1.5``, exactly."""
    whole, fraction = divmod(nano, 10**9)
    return f"{whole}.{fraction:09d}".rstrip("0").rstrip(".")


def format_memory(size: int) -> str:
    """Bytes as ``--memory`` takes them, in the largest unit that divides them."""
    for suffix, unit in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def ports_ignored(network: str | None) -> str | None:
    """Why ports cannot be published on this network mode, or None when they can.

    With ``host`` the container uses this computer's ports directly and with
    ``none`` (or another container's network) it has none of its own: the
    daemon accepts port bindings there and silently publishes nothing.
    """
    mode = (network or "").strip()
    if mode == "host":
        return ("With network host the container listens on this computer's ports"
                " directly: nothing is published, so ports are ignored")
    if mode == "none":
        return "With network none the container has no network: ports are ignored"
    if mode.startswith("container:"):
        return (f"With network {mode} the container shares that container's ports:"
                " ports are ignored")
    return None


def published_bindings(details: ContainerDetails) -> tuple[PortMapping, ...]:
    """What the engine actually published (``NetworkSettings.Ports``), not what was asked."""
    settings = details.raw.get("NetworkSettings") or {}
    ports = settings.get("Ports") or {}
    found: list[PortMapping] = []
    if not isinstance(ports, Mapping):
        return ()
    for key, bindings in sorted(ports.items()):
        number, _, proto = str(key).partition("/")
        if not number.isdigit() or not isinstance(bindings, list):
            continue
        for binding in bindings:
            if not isinstance(binding, Mapping):
                continue
            host_port = str(binding.get("HostPort") or "")
            found.append(PortMapping(str(binding.get("HostIp") or ""),
                                     int(host_port) if host_port.isdigit() else None,
                                     int(number), proto or "tcp"))
    return tuple(found)


def check_spec(spec: RunSpec) -> dict[str, str]:
    """Errors no single field shows: combinations the daemon would refuse."""
    errors: dict[str, str] = {}
    if spec.auto_remove and spec.restart.name != "no":
        errors["restart"] = "A restart policy cannot be combined with auto-remove"
    targets: dict[str, VolumeMapping] = {}
    for volume in spec.volumes:
        if volume.target in targets:
            errors["volumes"] = f"{volume.target} is mounted twice"
        targets[volume.target] = volume
    return errors


# -- host ports -------------------------------------------------------------------


def _overlaps(ip_a: str, ip_b: str) -> bool:
    wildcard = ("", "0.0.0.0", "::")
    return ip_a in wildcard or ip_b in wildcard or ip_a == ip_b


def _host_port_taken(host_ip: str, port: int, proto: str) -> bool:
    """True when binding ``host_ip:port`` fails with "address in use" on this computer."""
    if proto == "sctp":
        return False  # no portable way to probe; the daemon will say
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    address = host_ip or "0.0.0.0"
    try:
        with socket.socket(family, kind) as probe:
            probe.bind((address, port))
    except OSError as exc:
        # EACCES: a privileged port we may not bind, but the root daemon may.
        # EADDRNOTAVAIL: the IP is not on this computer; the daemon will say so.
        return exc.errno == errno.EADDRINUSE
    return False


def ports_in_use(
    ports: Sequence[PortMapping],
    containers: Sequence[Container] = (),
    *,
    check_host: bool = True,
) -> list[str]:
    """Why each fixed host port cannot be published, before anything is created.

    Looks at the running ``containers``' published ports (the daemon may hold them
    without a listening socket, e.g. with the userland proxy off) and, with
    ``check_host``, tries to bind each port on this computer.
    """
    problems: list[str] = []
    for port in ports:
        if port.host_port is None:
            continue
        where = port.host_ip or "0.0.0.0"
        shown = f"[{where}]" if ":" in where else where
        owner = next(
            (c for c in containers if c.running and any(
                p.public == port.host_port and p.type == port.proto
                and _overlaps(p.ip or "", port.host_ip) for p in c.ports)),
            None,
        )
        if owner is not None:
            problems.append(f"Port {port.host_port}/{port.proto} is already published by"
                            f" container {owner.name!r}")
        elif check_host and _host_port_taken(port.host_ip, port.host_port, port.proto):
            problems.append(f"{shown}:{port.host_port} is already in use on this computer")
    return problems


def free_port(host_ip: str = "127.0.0.1", proto: str = "tcp",
              prefer: int | None = None, taken: Iterable[int] = ()) -> int:
    """A host port nothing listens on: ``prefer`` if free and unprivileged, else the OS's pick."""
    avoid = set(taken)
    if prefer is not None and prefer >= 1024 and prefer not in avoid and not _host_port_taken(
            host_ip, prefer, proto):
        return prefer
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    while True:
        with socket.socket(family, kind) as probe:
            probe.bind((host_ip or "0.0.0.0", 0))
            port = int(probe.getsockname()[1])
        if port not in avoid:
            return port


# -- the engine side --------------------------------------------------------------


async def run_container(client: Engine, spec: RunSpec) -> str:
    """Create and start ``spec``; returns the container ID.

    When the start fails the created container is removed (with its anonymous
    volumes) and the daemon's error is raised unchanged, so a failed run leaves
    nothing behind.  No implicit pull: a missing image is :class:`NotFound`.
    """
    response = await client.request(
        "POST", "/containers/create", params={"name": spec.name}, json=spec.create_body()
    )
    container_id = created_id(response.content, "the created container")
    warnings = response.json().get("Warnings") or []
    for warning in expect_list(warnings, "the creation warnings"):
        log.info("creating %s: %s", spec.name or container_id[:12], warning)
    try:
        await client.start_container(container_id)
    except EngineError:
        try:
            await client.remove_container(container_id, force=True, volumes=True)
        except NotFound:
            pass  # auto-remove got there first
        except EngineError as cleanup:
            log.warning("could not remove %s after a failed start: %s",
                        container_id[:12], cleanup)
        raise
    return container_id


async def network_names(client: Engine) -> list[str]:
    """What the network field offers: the engine's networks and the built-in modes.

    Docker lists ``host`` and ``none`` as networks; Podman's compat API lists only
    ``bridge`` (its own ``podman`` network, renamed), yet accepts both modes.
    """
    raw = expect_list(await client.get_json("/networks"), "the list of networks")
    names = {str(n["Name"]) for n in raw if isinstance(n, Mapping) and n.get("Name")}
    return sorted(names | {"bridge", "host", "none"})


def repository_stem(image: str) -> str:
    """``registry:5000/team/web:1.2`` -> ``web``: the part of a reference a name is made of."""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    stem = last.split(":", 1)[0]
    if image.startswith("sha256:") or re.fullmatch(r"[0-9a-f]{64}", image):
        stem = image.removeprefix("sha256:")[:12]
    stem = re.sub(r"[^a-zA-Z0-9_.-]", "-", stem).lstrip("_.-")
    return stem or "container"


def auto_name(image: str, taken: Iterable[str]) -> str:
    """``<repo>-<n>`` with the smallest ``n`` no existing container uses."""
    stem = repository_stem(image)
    used = set(taken)
    number = 1
    while f"{stem}-{number}" in used:
        number += 1
    return f"{stem}-{number}"


def _parse_exposed(key: str) -> tuple[int, str] | None:
    port, _, proto = key.partition("/")
    if not port.isdigit():
        return None  # a range ("8000-8010/tcp"); publish_all covers those
    return int(port), (proto or "tcp").lower()


async def one_click_spec(client: Engine, image: str) -> RunSpec:
    """Sensible defaults for "Run": an unused ``<repo>-<n>`` name, every exposed port
    published on 127.0.0.1 (the same number when free, else one the OS picks), detached.

    An image whose command is a bare shell would exit at once without a terminal,
    so it gets ``-it`` (TTY and stdin kept open), as ``docker run -dit`` would.
    """
    details = await client.image(image)
    containers = await client.containers(all=True)
    name = auto_name(image, (c.name for c in containers))
    taken = {p.public for c in containers if c.running for p in c.ports if p.public}
    ports: list[PortMapping] = []
    for key in details.exposed_ports:
        parsed = _parse_exposed(key)
        if parsed is None:
            continue
        number, proto = parsed
        host = free_port("127.0.0.1", proto, prefer=number, taken=taken)
        taken.add(host)
        ports.append(PortMapping("127.0.0.1", host, number, proto))
    command = details.entrypoint or details.cmd
    shell = bool(command) and os.path.basename(command[0]) in SHELLS and len(command) == 1
    return RunSpec(image=image, name=name, ports=tuple(ports), tty=shell, interactive=shell)
