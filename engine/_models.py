"""Typed, frozen views of what the daemon returns.

Raw dicts stop here: every ``from_api`` classmethod turns one JSON object into a
dataclass, tolerating fields that older or newer API versions (and Podman) omit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine._shapes import parse_each, str_map, validated

_EXIT_CODE = re.compile(r"Exited \((-?\d+)\)")
_NULL_TIME = "0001-01-01T00:00:00Z"
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")

COMPOSE_PROJECT_LABEL = "com.docker.compose.project"


def parse_timestamp(value: Any) -> datetime | None:
    """Parse RFC 3339 (with nanoseconds) or Unix seconds; ``None`` for the zero time.

    Python 3.11's ``fromisoformat`` reads RFC 3339 itself (``Z``, nanoseconds cut to
    micro); the pattern only keeps out what it would also accept (dates alone, week
    dates).  A df lists thousands of these, so this stays lean."""
    if value is None or value == "" or value == _NULL_TIME:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC) if value > 0 else None
    text = str(value)
    if _TIMESTAMP.fullmatch(text) is None:
        return None
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return None if parsed.year <= 1 else parsed


def strip_name(name: str) -> str:
    """Docker reports names as ``/name``; users never type the slash."""
    return name[1:] if name.startswith("/") else name


@dataclass(frozen=True, slots=True)
class Port:
    private: int
    type: str = "tcp"
    public: int | None = None
    ip: str | None = None

    @classmethod
    @validated("a port")
    def from_api(cls, raw: Mapping[str, Any]) -> Port:
        return cls(
            private=int(raw.get("PrivatePort") or 0),
            type=str(raw.get("Type") or "tcp"),
            public=int(raw["PublicPort"]) if raw.get("PublicPort") else None,
            ip=str(raw["IP"]) if raw.get("IP") else None,
        )

    def __str__(self) -> str:
        target = f"{self.private}/{self.type}"
        if self.public is None:
            return target
        host = f"{self.ip}:" if self.ip and self.ip not in ("0.0.0.0", "::") else ""
        return f"{host}{self.public}->{target}"


def format_ports(ports: tuple[Port, ...]) -> str:
    """One line per published port pair, the way ``docker ps`` folds IPv4 and IPv6."""
    seen: list[str] = []
    for port in sorted(ports, key=lambda p: (p.private, p.type, p.public or 0)):
        text = str(port)
        if text not in seen:
            seen.append(text)
    return ", ".join(seen)


@dataclass(frozen=True, slots=True)
class Mount:
    type: str
    source: str
    destination: str
    read_only: bool = False
    name: str | None = None

    @classmethod
    @validated("a mount")
    def from_api(cls, raw: Mapping[str, Any]) -> Mount:
        return cls(
            type=str(raw.get("Type") or ""),
            source=str(raw.get("Source") or ""),
            destination=str(raw.get("Destination") or ""),
            read_only=not raw.get("RW", True),
            name=str(raw["Name"]) if raw.get("Name") else None,
        )


@dataclass(frozen=True, slots=True)
class Container:
    """One row of ``GET /containers/json``."""

    id: str
    name: str
    image: str
    image_id: str
    command: str
    created: datetime | None
    state: str
    status: str
    ports: tuple[Port, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()

    @classmethod
    @validated("a container")
    def from_api(cls, raw: Mapping[str, Any]) -> Container:
        names = [strip_name(str(n)) for n in raw.get("Names") or []]
        # Link aliases look like "/other/alias"; the real name has no inner slash.
        primary = next((n for n in names if "/" not in n), names[0] if names else "")
        return cls(
            id=str(raw["Id"]),
            name=primary,
            image=str(raw.get("Image") or ""),
            image_id=str(raw.get("ImageID") or ""),
            command=str(raw.get("Command") or ""),
            created=parse_timestamp(raw.get("Created")),
            state=str(raw.get("State") or "").lower(),
            status=str(raw.get("Status") or ""),
            ports=tuple(Port.from_api(p) for p in raw.get("Ports") or []),
            labels=str_map(raw.get("Labels")),
            mounts=tuple(Mount.from_api(m) for m in raw.get("Mounts") or []),
        )

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def exit_code(self) -> int | None:
        match = _EXIT_CODE.search(self.status)
        return int(match.group(1)) if match else None

    @property
    def compose_project(self) -> str | None:
        return self.labels.get(COMPOSE_PROJECT_LABEL)


def short_image_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


@dataclass(frozen=True, slots=True)
class Image:
    """One row of ``GET /images/json``."""

    id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    created: datetime | None
    size: int
    shared_size: int = -1
    containers: int = -1
    labels: Mapping[str, str] = field(default_factory=dict)
    #: The image it was built on, when built here by the classic builder ("" otherwise).
    parent_id: str = ""

    @classmethod
    @validated("an image")
    def from_api(cls, raw: Mapping[str, Any]) -> Image:
        tags = tuple(
            str(t) for t in raw.get("RepoTags") or [] if t and t != "<none>:<none>"
        )
        digests = tuple(
            str(d) for d in raw.get("RepoDigests") or [] if d and d != "<none>@<none>"
        )
        return cls(
            id=str(raw["Id"]),
            repo_tags=tags,
            repo_digests=digests,
            created=parse_timestamp(raw.get("Created")),
            size=int(raw.get("Size") or 0),
            shared_size=int(raw.get("SharedSize", -1) if raw.get("SharedSize") is not None else -1),
            containers=int(raw.get("Containers", -1) if raw.get("Containers") is not None else -1),
            labels=str_map(raw.get("Labels")),
            parent_id=str(raw.get("ParentId") or ""),
        )

    @property
    def short_id(self) -> str:
        return short_image_id(self.id)

    @property
    def dangling(self) -> bool:
        return not self.repo_tags

    @property
    def display_name(self) -> str:
        if self.repo_tags:
            return self.repo_tags[0]
        if self.repo_digests:
            return self.repo_digests[0].split("@", 1)[0] + ":<none>"
        return "<none>:<none>"


@dataclass(frozen=True, slots=True)
class ContainerState:
    status: str
    running: bool
    paused: bool
    restarting: bool
    exit_code: int
    error: str
    started_at: datetime | None
    finished_at: datetime | None
    health: str | None

    @classmethod
    @validated("a container's state")
    def from_api(cls, raw: Mapping[str, Any]) -> ContainerState:
        health = raw.get("Health") or {}
        return cls(
            status=str(raw.get("Status") or ""),
            running=bool(raw.get("Running")),
            paused=bool(raw.get("Paused")),
            restarting=bool(raw.get("Restarting")),
            exit_code=int(raw.get("ExitCode") or 0),
            error=str(raw.get("Error") or ""),
            started_at=parse_timestamp(raw.get("StartedAt")),
            finished_at=parse_timestamp(raw.get("FinishedAt")),
            health=str(health["Status"]) if isinstance(health, Mapping) and health.get("Status")
            else None,
        )


@dataclass(frozen=True, slots=True)
class ContainerDetails:
    """``GET /containers/{id}/json``, with the raw document kept for the inspect view."""

    id: str
    name: str
    image: str
    image_id: str
    created: datetime | None
    state: ContainerState
    tty: bool
    open_stdin: bool
    cmd: tuple[str, ...]
    entrypoint: tuple[str, ...]
    env: tuple[str, ...]
    labels: Mapping[str, str]
    mounts: tuple[Mount, ...]
    restart_policy: str
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    @validated("a container's details")
    def from_api(cls, raw: Mapping[str, Any]) -> ContainerDetails:
        config = raw.get("Config") or {}
        host_config = raw.get("HostConfig") or {}
        restart = host_config.get("RestartPolicy") or {}
        return cls(
            id=str(raw["Id"]),
            name=strip_name(str(raw.get("Name") or "")),
            image=str(config.get("Image") or ""),
            image_id=str(raw.get("Image") or ""),
            created=parse_timestamp(raw.get("Created")),
            state=ContainerState.from_api(raw.get("State") or {}),
            tty=bool(config.get("Tty")),
            open_stdin=bool(config.get("OpenStdin")),
            cmd=tuple(str(c) for c in config.get("Cmd") or []),
            entrypoint=tuple(str(c) for c in config.get("Entrypoint") or []),
            env=tuple(str(e) for e in config.get("Env") or []),
            labels=str_map(config.get("Labels")),
            mounts=tuple(Mount.from_api(m) for m in raw.get("Mounts") or []),
            restart_policy=str(restart.get("Name") or "no"),
            raw=raw,
        )


@dataclass(frozen=True, slots=True)
class ImageDetails:
    """``GET /images/{name}/json``: what the layer views need."""

    id: str
    repo_tags: tuple[str, ...]
    created: datetime | None
    size: int
    architecture: str
    os: str
    layers: tuple[str, ...]
    cmd: tuple[str, ...]
    entrypoint: tuple[str, ...]
    env: tuple[str, ...]
    exposed_ports: tuple[str, ...]
    labels: Mapping[str, str]
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    @validated("an image's details")
    def from_api(cls, raw: Mapping[str, Any]) -> ImageDetails:
        config = raw.get("Config") or {}
        rootfs = raw.get("RootFS") or {}
        return cls(
            id=str(raw["Id"]),
            repo_tags=tuple(str(t) for t in raw.get("RepoTags") or []),
            created=parse_timestamp(raw.get("Created")),
            size=int(raw.get("Size") or 0),
            architecture=str(raw.get("Architecture") or ""),
            os=str(raw.get("Os") or ""),
            layers=tuple(str(layer) for layer in rootfs.get("Layers") or []),
            cmd=tuple(str(c) for c in config.get("Cmd") or []),
            entrypoint=tuple(str(c) for c in config.get("Entrypoint") or []),
            env=tuple(str(e) for e in config.get("Env") or []),
            exposed_ports=tuple(sorted(str(p) for p in config.get("ExposedPorts") or {})),
            labels=str_map(config.get("Labels")),
            raw=raw,
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One row of ``GET /images/{name}/history`` (newest first, as the daemon sends it)."""

    id: str | None
    created: datetime | None
    created_by: str
    tags: tuple[str, ...]
    size: int
    comment: str

    @classmethod
    @validated("an image history entry")
    def from_api(cls, raw: Mapping[str, Any]) -> HistoryEntry:
        ident = str(raw.get("Id") or "")
        return cls(
            # Docker says "<missing>", Podman "sha256:<missing>": both mean no local image.
            id=None if not ident or ident.endswith("<missing>") else ident,
            created=parse_timestamp(raw.get("Created")),
            created_by=str(raw.get("CreatedBy") or ""),
            tags=tuple(str(t) for t in raw.get("Tags") or []),
            size=int(raw.get("Size") or 0),
            comment=str(raw.get("Comment") or ""),
        )


@dataclass(frozen=True, slots=True)
class EngineVersion:
    """``GET /version``, plus what ``/_ping`` told us about the product."""

    product: str  # "Docker Engine" or "Podman"
    version: str
    api_version: str
    min_api_version: str
    os: str
    arch: str
    kernel: str

    @property
    def is_podman(self) -> bool:
        return self.product == "Podman"

    @classmethod
    @validated("a version report")
    def from_api(cls, raw: Mapping[str, Any]) -> EngineVersion:
        components = raw.get("Components") or []
        names = [str(c.get("Name") or "") for c in components if isinstance(c, Mapping)]
        podman = any(name == "Podman Engine" for name in names)
        return cls(
            product="Podman" if podman else "Docker Engine",
            version=str(raw.get("Version") or ""),
            api_version=str(raw.get("ApiVersion") or ""),
            min_api_version=str(raw.get("MinAPIVersion") or ""),
            os=str(raw.get("Os") or ""),
            arch=str(raw.get("Arch") or ""),
            kernel=str(raw.get("KernelVersion") or ""),
        )


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """The parts of ``GET /info`` that the window and ``doctor`` show."""

    name: str
    containers: int
    running: int
    paused: int
    stopped: int
    images: int
    storage_driver: str
    cgroup_version: str
    cpus: int
    memory: int
    operating_system: str

    @classmethod
    @validated("a system report")
    def from_api(cls, raw: Mapping[str, Any]) -> SystemInfo:
        return cls(
            name=str(raw.get("Name") or ""),
            containers=int(raw.get("Containers") or 0),
            running=int(raw.get("ContainersRunning") or 0),
            paused=int(raw.get("ContainersPaused") or 0),
            stopped=int(raw.get("ContainersStopped") or 0),
            images=int(raw.get("Images") or 0),
            storage_driver=str(raw.get("Driver") or ""),
            cgroup_version=str(raw.get("CgroupVersion") or ""),
            cpus=int(raw.get("NCPU") or 0),
            memory=int(raw.get("MemTotal") or 0),
            operating_system=str(raw.get("OperatingSystem") or ""),
        )


@dataclass(frozen=True, slots=True)
class Event:
    """One object of ``GET /events``; ``action`` has its ``: detail`` suffix split off."""

    type: str
    action: str
    actor_id: str
    attributes: Mapping[str, str]
    time_nano: int
    detail: str = ""
    scope: str = "local"

    @classmethod
    @validated("an event")
    def from_api(cls, raw: Mapping[str, Any]) -> Event:
        actor = raw.get("Actor") or {}
        action = str(raw.get("Action") or raw.get("status") or "")
        action, _, detail = action.partition(": ")
        time_nano = int(raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000)
        return cls(
            type=str(raw.get("Type") or ""),
            action=action,
            actor_id=str(actor.get("ID") or raw.get("id") or ""),
            attributes=str_map(actor.get("Attributes")),
            time_nano=time_nano,
            detail=detail,
            scope=str(raw.get("scope") or "local"),
        )

    @property
    def since_param(self) -> str:
        """This event's time in the ``since=`` form the daemon accepts (sec.nanos)."""
        seconds, nanos = divmod(self.time_nano, 1_000_000_000)
        return f"{seconds}.{nanos:09d}"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One endpoint tried while looking for an engine, and what happened."""

    url: str
    source: str
    outcome: str
    connected: bool = False


def containers_from_api(raw: Any) -> list[Container]:
    """``GET /containers/json``: a list of container objects, or a ProtocolError."""
    return parse_each(raw, Container.from_api, "the list of containers")


def images_from_api(raw: Any) -> list[Image]:
    """``GET /images/json``: a list of image objects, or a ProtocolError."""
    return parse_each(raw, Image.from_api, "the list of images")


def history_from_api(raw: Any) -> list[HistoryEntry]:
    """``GET /images/{name}/history``: a list of entries, or a ProtocolError."""
    return parse_each(raw, HistoryEntry.from_api, "an image's history")
