"""A typed service spec: what "Create service" sends, parsed from what a user types.

:class:`ServiceSpec` holds everything ``docker service create`` is most often
given (image, name, replicated N or global, published ports, env, volume and
bind mounts, placement constraints, CPU/memory limits and reservations, the
restart policy and the rolling-update policy) and turns it into the API's
``ServiceSpec`` JSON (:meth:`ServiceSpec.to_api`).  The ``parse_*`` functions
read the docker CLI's own syntaxes (``-p 8080:80`` or ``published=8080,target=80,
mode=host``; ``--mount type=bind,source=/x,target=/y,readonly`` or ``data:/data:ro``;
``--constraint node.role==manager``; Go durations such as ``1m30s``) and raise
:class:`InvalidInput` with one line that names what is wrong.

Swarm itself accepts some mistakes that then only show as tasks that never run:
a constraint on an attribute no node has (``node.rol==manager``) leaves every
task pending, and an image no node can get makes every task fail.  So
:func:`parse_constraint` knows the attributes Swarm matches on, and
:func:`create_service_from_spec` first asks whether the image exists (on this
engine, or in its registry) and refuses plainly if not.

:func:`update_service` rolls a service onto a new image and/or a new update policy
in one version-indexed change, as ``docker service update --image …
--update-parallelism …`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine._errors import APIError, BadRequest, EngineError, NotFound, ProtocolError
from engine._run import InvalidInput, parse_volume
from engine._shapes import decode_json, expect_object
from engine._swarm import Service, _change_service

if TYPE_CHECKING:
    from engine._client import Engine

__all__ = [
    "FAILURE_ACTIONS",
    "RESTART_CONDITIONS",
    "UPDATE_ORDERS",
    "RestartSpec",
    "ServiceMount",
    "ServicePort",
    "ServiceSpec",
    "UpdatePolicy",
    "check_service_image",
    "create_service_from_spec",
    "format_duration",
    "parse_constraint",
    "parse_constraints",
    "parse_duration",
    "parse_service_mount",
    "parse_service_mounts",
    "parse_service_port",
    "parse_service_ports",
    "service_spec",
    "update_service",
    "validate_service_name",
]

#: What a rolling update does when a task fails to update.
FAILURE_ACTIONS = ("pause", "continue", "rollback")
#: ``stop-first`` (old task stops, then the new one starts) or ``start-first`` (overlap).
UPDATE_ORDERS = ("stop-first", "start-first")
#: When Swarm restarts a task's container.
RESTART_CONDITIONS = ("any", "on-failure", "none")

_SECOND = 10**9
_DURATION_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": _SECOND,
                   "m": 60 * _SECOND, "h": 3600 * _SECOND}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
#: The node and engine attributes Swarm's scheduler matches constraints on.
_CONSTRAINT_KEYS = ("node.id", "node.hostname", "node.role", "node.platform.os",
                    "node.platform.arch")
_CONSTRAINT_PREFIXES = ("node.labels.", "engine.labels.")
#: Swarm's own rule for a service name (swarmkit's ``validateAnnotations``): a DNS label.
_SERVICE_NAME = re.compile(r"[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*")
_CONSTRAINT = re.compile(r"\s*([A-Za-z0-9_.\-]+)\s*(==|!=)\s*(\S.*?)\s*")


# -- parsing what a user typed -----------------------------------------------------------


def parse_duration(text: str, what: str = "Delay") -> int:
    """A Go duration (``10s``, ``1m30s``, ``500ms``; a bare ``0``) as nanoseconds; blank is 0."""
    value = text.strip()
    if not value or value == "0":
        return 0
    position, total = 0, 0
    for match in _DURATION.finditer(value):
        if match.start() != position:
            break
        number, unit = match.groups()
        whole, _, fraction = number.partition(".")
        scale = _DURATION_UNITS[unit]
        total += int(whole or 0) * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        position = match.end()
    if position != len(value) or position == 0:
        shown = value if len(value) <= 20 else value[:12] + "…"
        raise InvalidInput(f"{what} must be a duration such as 10s, 1m30s or 500ms,"
                           f" not {shown!r}")
    return total


def format_duration(nanoseconds: int) -> str:
    """Nanoseconds as the shortest Go-style duration: ``10s``, ``1m30s``, ``500ms``, ``0s``."""
    if nanoseconds <= 0:
        return "0s"
    if nanoseconds % _SECOND:
        for unit, scale in (("ms", 10**6), ("us", 10**3)):
            if nanoseconds % scale == 0 and nanoseconds < 60 * _SECOND:
                return f"{nanoseconds // scale}{unit}"
        return f"{nanoseconds}ns" if nanoseconds < _SECOND else f"{nanoseconds / _SECOND:g}s"
    seconds = nanoseconds // _SECOND
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") \
        + (f"{secs}s" if secs else "")
    return text


@dataclass(frozen=True, slots=True)
class ServicePort:
    """One published port: ``published`` 0 lets Swarm pick one (30000+)."""

    target: int
    published: int = 0
    protocol: str = "tcp"
    mode: str = "ingress"

    def to_api(self) -> dict[str, Any]:
        port: dict[str, Any] = {"TargetPort": self.target, "Protocol": self.protocol,
                                "PublishMode": self.mode}
        if self.published:
            port["PublishedPort"] = self.published
        return port

    def __str__(self) -> str:
        published = f"{self.published}:" if self.published else ""
        host = " (host)" if self.mode == "host" else ""
        return f"{published}{self.target}/{self.protocol}{host}"


def _port(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > 5 \
            or not 1 <= int(text) <= 65535:
        shown = text if len(text) <= 20 else text[:12] + "…"
        raise InvalidInput(f"{what} must be a number from 1 to 65535, not {shown!r}")
    return int(text)


def _options(text: str) -> dict[str, str]:
    """``key=value,key,…`` as the CLI's long ``--publish``/``--mount`` syntax writes it."""
    options: dict[str, str] = {}
    for part in text.split(","):
        key, equals, value = part.strip().partition("=")
        if not key:
            raise InvalidInput(f"Expected key=value,key=value…, got {text.strip()!r}")
        options[key.strip().lower()] = value.strip() if equals else "true"
    return options


def parse_service_port(text: str) -> ServicePort:
    """``[PUBLISHED:]TARGET[/PROTO]``, or the long ``published=8080,target=80,protocol=udp,
    mode=host``, as ``docker service create -p`` takes them."""
    spec = text.strip()
    if "=" in spec:
        options = _options(spec)
        unknown = set(options) - {"published", "target", "protocol", "mode"}
        if unknown:
            raise InvalidInput(f"Unknown port option {sorted(unknown)[0]!r}: use published,"
                               " target, protocol, mode")
        if "target" not in options:
            raise InvalidInput(f"A port needs target=PORT, in {spec!r}")
        protocol = options.get("protocol", "tcp").lower()
        mode = options.get("mode", "ingress").lower()
        published = options.get("published", "")
        target = options["target"]
    else:
        rest, _, protocol = spec.rpartition("/") if "/" in spec else (spec, "", "tcp")
        protocol = protocol.lower()
        mode = "ingress"
        published, colon, target = rest.rpartition(":")
        if colon and not published:
            raise InvalidInput(f"Expected [PUBLISHED:]TARGET[/PROTO], got {spec!r}")
        if ":" in published:
            raise InvalidInput(f"A service port has no host address (it is published on"
                               f" every node): use PUBLISHED:TARGET, not {spec!r}")
    if protocol not in ("tcp", "udp", "sctp"):
        raise InvalidInput(f"Protocol must be tcp, udp or sctp, not {protocol!r}")
    if mode not in ("ingress", "host"):
        raise InvalidInput(f"Port mode must be ingress or host, not {mode!r}")
    return ServicePort(target=_port(target, "Target port"),
                       published=_port(published, "Published port") if published else 0,
                       protocol=protocol, mode=mode)


def _each_line(text: str, parse: Callable[[str], Any], what: str) -> tuple[Any, ...]:
    """One item a line (blank lines and ``#`` comments skipped); errors name the line."""
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            found.append(parse(line))
        except InvalidInput as exc:
            raise InvalidInput(f"{what} line {number}: {exc}") from None
    return tuple(found)


def parse_service_ports(text: str) -> tuple[ServicePort, ...]:
    """One port a line; the same published port twice is refused here, not by the daemon."""
    ports: tuple[ServicePort, ...] = _each_line(text, parse_service_port, "Ports")
    seen: set[tuple[int, str]] = set()
    for port in ports:
        if port.published and (port.published, port.protocol) in seen:
            raise InvalidInput(f"Port {port.published}/{port.protocol} is published twice")
        seen.add((port.published, port.protocol))
    return ports


@dataclass(frozen=True, slots=True)
class ServiceMount:
    """A named volume (``volume``; created on each node as needed) or a host path (``bind``)."""

    type: str
    source: str
    target: str
    read_only: bool = False

    def to_api(self) -> dict[str, Any]:
        mount: dict[str, Any] = {"Type": self.type, "Target": self.target,
                                 "ReadOnly": self.read_only}
        if self.source:
            mount["Source"] = self.source
        return mount

    def __str__(self) -> str:
        text = f"{self.source}:{self.target}" if self.source else self.target
        return f"{text}:ro" if self.read_only else text


def parse_service_mount(text: str) -> ServiceMount:
    """``type=volume|bind,source=…,target=…[,readonly]`` (``--mount``) or the short
    ``SOURCE:TARGET[:ro]`` (an absolute SOURCE is a bind, else a volume name)."""
    spec = text.strip()
    if "=" not in spec:
        short = parse_volume(spec)
        return ServiceMount("bind" if short.is_bind else "volume", short.source, short.target,
                            short.read_only)
    options = _options(spec)
    kind = options.pop("type", "volume").lower()
    source = options.pop("source", options.pop("src", ""))
    target = options.pop("target", options.pop("destination", options.pop("dst", "")))
    read_only = options.pop("readonly", options.pop("ro", "false")).lower() in ("true", "1")
    if options:
        raise InvalidInput(f"Unknown mount option {sorted(options)[0]!r}: use type, source,"
                           " target, readonly")
    if kind not in ("volume", "bind"):
        raise InvalidInput(f"Mount type must be volume or bind, not {kind!r}")
    if not target.startswith("/"):
        raise InvalidInput(f"The path in the container must be absolute, not {target!r}"
                           if target else "A mount needs target=/path/in/container")
    if kind == "bind" and not source.startswith("/"):
        raise InvalidInput("A bind mount needs source=/absolute/host/path"
                           + (f", not {source!r}" if source else ""))
    return ServiceMount(kind, source, target, read_only)


def parse_service_mounts(text: str) -> tuple[ServiceMount, ...]:
    return _each_line(text, parse_service_mount, "Mounts")


def validate_service_name(name: str) -> str:
    """The name, stripped, if Swarm takes it (letters, digits, inner '-' and '_', at most
    63); raises :class:`InvalidInput` saying why not.  Blank: Swarm picks one."""
    name = name.strip()
    if name and not _SERVICE_NAME.fullmatch(name):
        raise InvalidInput(f"{name!r} is no service name: letters and digits, with '-' or"
                           " '_' between them")
    if len(name) > 63:
        raise InvalidInput(f"A service name has at most 63 characters, not {len(name)}")
    return name


def parse_constraint(text: str) -> str:
    """``ATTRIBUTE==VALUE`` or ``!=``, on an attribute Swarm matches (``node.role``,
    ``node.labels.zone`` …); returned as the daemon wants it."""
    match = _CONSTRAINT.fullmatch(text)
    if match is None:
        raise InvalidInput(f"Expected ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE, e.g."
                           f" node.role==manager, not {text.strip()!r}")
    key, operator, value = match.groups()
    lowered = key.lower()
    if lowered not in _CONSTRAINT_KEYS and not (
            lowered.startswith(_CONSTRAINT_PREFIXES)
            and len(lowered) > len(lowered.split(".labels.")[0]) + len(".labels.")):
        raise InvalidInput(
            f"{key!r} is no attribute Swarm places by: use {', '.join(_CONSTRAINT_KEYS)},"
            " node.labels.NAME or engine.labels.NAME")
    if lowered == "node.role" and value.lower() not in ("manager", "worker"):
        raise InvalidInput(f"node.role is manager or worker, not {value!r}")
    return f"{key}{operator}{value}"


def parse_constraints(text: str) -> tuple[str, ...]:
    return _each_line(text, parse_constraint, "Constraints")


# -- the spec ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RestartSpec:
    """When Swarm restarts a task, how long it waits, and how often it tries (0: no limit)."""

    condition: str = "any"
    delay_ns: int = 5 * _SECOND
    max_attempts: int = 0

    def to_api(self) -> dict[str, Any]:
        return {"Condition": self.condition, "Delay": self.delay_ns,
                "MaxAttempts": self.max_attempts}


@dataclass(frozen=True, slots=True)
class UpdatePolicy:
    """How a rolling update goes: ``parallelism`` tasks at a time (0: all), ``delay_ns``
    between batches, what to do when one fails, and whether old tasks stop first."""

    parallelism: int = 1
    delay_ns: int = 0
    failure_action: str = "pause"
    order: str = "stop-first"

    def to_api(self) -> dict[str, Any]:
        return {"Parallelism": self.parallelism, "Delay": self.delay_ns,
                "FailureAction": self.failure_action, "Order": self.order}

    @classmethod
    def from_api(cls, raw: Mapping[str, Any] | None) -> UpdatePolicy:
        raw = raw if isinstance(raw, Mapping) else {}
        return cls(parallelism=int(raw.get("Parallelism", 1) or 0),
                   delay_ns=int(raw.get("Delay") or 0),
                   failure_action=str(raw.get("FailureAction") or "pause"),
                   order=str(raw.get("Order") or "stop-first"))

    def __str__(self) -> str:
        batch = "all at once" if self.parallelism == 0 else f"{self.parallelism} at a time"
        return (f"{batch}, {format_duration(self.delay_ns)} apart, on failure"
                f" {self.failure_action}, {self.order}")


@dataclass(frozen=True)
class ServiceSpec:
    """Everything "Create service" sends; ``replicas`` None is a global service."""

    image: str
    name: str = ""
    replicas: int | None = 1
    command: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    ports: tuple[ServicePort, ...] = ()
    mounts: tuple[ServiceMount, ...] = ()
    constraints: tuple[str, ...] = ()
    cpu_limit: int | None = None  # NanoCPUs
    memory_limit: int | None = None  # bytes
    cpu_reservation: int | None = None
    memory_reservation: int | None = None
    restart: RestartSpec | None = None
    update: UpdatePolicy | None = None

    def problems(self) -> list[str]:
        """What the daemon would refuse, said before anything is sent."""
        found = []
        try:
            validate_service_name(self.name)
        except InvalidInput as exc:
            found.append(str(exc))
        if not self.image.strip():
            found.append("A service needs an image")
        if self.replicas is not None and self.replicas < 0:
            found.append(f"Replicas must be 0 or more, not {self.replicas}")
        for limit, reservation, what in ((self.cpu_limit, self.cpu_reservation, "CPU"),
                                         (self.memory_limit, self.memory_reservation,
                                          "Memory")):
            if limit is not None and reservation is not None and reservation > limit:
                found.append(f"The {what} reservation is more than its limit")
        if self.restart is not None:
            if self.restart.condition not in RESTART_CONDITIONS:
                found.append(f"Restart condition must be any, on-failure or none,"
                             f" not {self.restart.condition!r}")
            if self.restart.max_attempts < 0:
                found.append("Restart attempts must be 0 (no limit) or more")
        if self.update is not None:
            if self.update.failure_action not in FAILURE_ACTIONS:
                found.append(f"Failure action must be pause, continue or rollback,"
                             f" not {self.update.failure_action!r}")
            if self.update.order not in UPDATE_ORDERS:
                found.append(f"Order must be stop-first or start-first,"
                             f" not {self.update.order!r}")
            if self.update.parallelism < 0:
                found.append("Parallelism must be 0 (all at once) or more")
        return found

    def to_api(self) -> dict[str, Any]:
        """The ``POST /services/create`` body."""
        container: dict[str, Any] = {"Image": self.image.strip()}
        if self.command:
            container["Args"] = list(self.command)
        if self.env:
            container["Env"] = list(self.env)
        if self.mounts:
            container["Mounts"] = [m.to_api() for m in self.mounts]
        template: dict[str, Any] = {"ContainerSpec": container}
        limits: dict[str, int] = {}
        if self.cpu_limit:
            limits["NanoCPUs"] = self.cpu_limit
        if self.memory_limit:
            limits["MemoryBytes"] = self.memory_limit
        reservations: dict[str, int] = {}
        if self.cpu_reservation:
            reservations["NanoCPUs"] = self.cpu_reservation
        if self.memory_reservation:
            reservations["MemoryBytes"] = self.memory_reservation
        if limits or reservations:
            template["Resources"] = {"Limits": limits, "Reservations": reservations}
        if self.constraints:
            template["Placement"] = {"Constraints": list(self.constraints)}
        if self.restart is not None:
            template["RestartPolicy"] = self.restart.to_api()
        spec: dict[str, Any] = {
            "TaskTemplate": template,
            "Mode": {"Replicated": {"Replicas": self.replicas}} if self.replicas is not None
            else {"Global": {}},
            "Labels": dict(self.labels),
        }
        if self.name.strip():
            spec["Name"] = self.name.strip()
        if self.ports:
            spec["EndpointSpec"] = {"Mode": "vip",
                                    "Ports": [p.to_api() for p in self.ports]}
        if self.update is not None:
            spec["UpdateConfig"] = self.update.to_api()
        return spec


# -- talking to the engine --------------------------------------------------------------


async def check_service_image(client: Engine, image: str) -> str | None:
    """Why no node could run ``image`` (it is neither on this engine nor known to its
    registry), or None.  Swarm takes any name and only its tasks fail; this asks first."""
    reference = image.strip()
    try:
        await client.get_json(f"/images/{reference}/json")
        return None
    except NotFound:
        pass
    try:
        await client.get_json(f"/distribution/{reference}/json")
        return None
    except EngineError as exc:
        return (f"No image {reference!r} on this engine, and its registry does not"
                f" know it either ({str(exc).splitlines()[0]})")


def _plainer(exc: APIError) -> APIError:
    """The same error with the daemon's words only, without gRPC's wrapping (``rpc error:
    code = InvalidArgument desc = …``), which says nothing to a user."""
    _, marker, rest = exc.message.partition("desc = ")
    if not marker:
        return exc
    return type(exc)(exc.status, rest.strip(), exc.details or exc.message)


async def create_service_from_spec(client: Engine, spec: ServiceSpec, *,
                                   check_image: bool = True) -> str:
    """Create the service; returns its ID.  Refuses with :class:`BadRequest` (one line)
    what the spec or the daemon find wrong, and an image no node can get."""
    problems = spec.problems()
    if problems:
        raise BadRequest(400, problems[0])
    if check_image and (why := await check_service_image(client, spec.image)):
        raise BadRequest(400, why)
    try:
        response = await client.request("POST", "/services/create", json=spec.to_api())
    except APIError as exc:
        raise _plainer(exc) from None
    created = expect_object(decode_json(response.content, "the created service"),
                            "the created service")
    ident = created.get("ID")
    if not isinstance(ident, str) or not ident:
        raise ProtocolError("the engine did not say which service it created")
    return ident


async def service_spec(client: Engine, name_or_id: str) -> Mapping[str, Any]:
    """The service's spec as the engine stores it (``docker service inspect``'s ``Spec``)."""
    raw = await client.get_json(f"/services/{name_or_id}")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("Spec"), Mapping):
        raise BadRequest(400, f"{name_or_id}: the engine sent no spec")
    spec: Mapping[str, Any] = raw["Spec"]
    return spec


async def update_service(client: Engine, name_or_id: str, *, image: str | None = None,
                         policy: UpdatePolicy | None = None,
                         check_image: bool = True) -> Service:
    """Roll the service onto ``image`` and/or a new update ``policy`` in one change (the
    policy applies to this very update, as ``docker service update`` does)."""
    if image is not None and not image.strip():
        raise BadRequest(400, "an image is needed to update a service to")
    if policy is not None:
        problems = ServiceSpec("-", update=policy).problems()
        if problems:
            raise BadRequest(400, problems[0])
    if image is not None and check_image and (why := await check_service_image(client,
                                                                            image)):
        raise BadRequest(400, why)

    def change(spec: dict[str, Any]) -> None:
        if image is not None:
            template = spec.setdefault("TaskTemplate", {})
            container = template.setdefault("ContainerSpec", {})
            if container.get("Image") == image.strip():
                # The same name again (re-pushed, say): roll anyway, as asked.
                template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1
            container["Image"] = image.strip()
        if policy is not None:
            spec["UpdateConfig"] = {**(spec.get("UpdateConfig") or {}), **policy.to_api()}

    try:
        return await _change_service(client, name_or_id, change)
    except APIError as exc:
        raise _plainer(exc) from None
