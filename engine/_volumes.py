"""Volumes: list with sizes, inspect, create, remove (naming who uses it), prune with a preview.

Sizes come from ``GET /system/df`` (the only place the daemon measures a
volume); where it gives none (``-1``, or a volume created after the df call)
:attr:`Volume.size` is ``None`` and the UI says "unknown".

Pruning differs by daemon, and is made to behave the same everywhere here:

* Docker API >= 1.42 prunes only *anonymous* volumes unless the filter
  ``all=true`` is sent;
* Docker API 1.41 (20.10) and Podman prune every unused volume, named or not.

So :func:`prune_volumes` with ``all=True`` asks the daemon (adding ``all=true``
where it understands it), and with ``all=False`` removes exactly the anonymous
volumes :func:`volume_prune_plan` previews, one by one, on every daemon.  A
volume is anonymous when Docker labelled it ``com.docker.volume.anonymous``
(23+) or when its name is the 64-hex-digit ID the daemons give unnamed volumes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engine._client import Engine, Filters
from engine._df import read_system_df
from engine._errors import APIError, Conflict, NotFound, ProtocolError
from engine._models import COMPOSE_PROJECT_LABEL, Container, parse_timestamp
from engine._shapes import decode_json, require_object, str_map

#: ``/events`` actions (type ``volume``) after which a volume list is stale.
VOLUME_EVENT_ACTIONS = ("create", "destroy", "remove", "mount", "unmount", "prune")

#: Docker (API 1.42+) labels the volumes it creates for an unnamed mount with this.
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
_HEX_ID = re.compile(r"[0-9a-f]{64}")


def _known_size(value: Any) -> int | None:
    """The daemons say ``-1`` for "not measured"; that is unknown, not a size."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value >= 0 else None


@dataclass(frozen=True, slots=True)
class Volume:
    """One volume, with its size and reference count where ``/system/df`` measured them."""

    name: str
    driver: str = "local"
    mountpoint: str = ""
    created: datetime | None = None
    scope: str = "local"
    labels: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    #: Bytes on disk; None: the engine did not measure it ("unknown").
    size: int | None = None
    #: Containers (any state) using it, per the daemon; None: not reported.
    ref_count: int | None = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Volume:
        raw = require_object(raw, "a volume")
        if not raw.get("Name"):
            raise ProtocolError("the engine sent a volume without a name")
        usage = raw.get("UsageData")
        usage = usage if isinstance(usage, Mapping) else {}
        return cls(
            name=str(raw["Name"]),
            driver=str(raw.get("Driver") or "local"),
            mountpoint=str(raw.get("Mountpoint") or ""),
            created=parse_timestamp(raw.get("CreatedAt")),
            scope=str(raw.get("Scope") or "local"),
            labels=str_map(raw.get("Labels")),
            options=str_map(raw.get("Options")),
            size=_known_size(usage.get("Size")),
            ref_count=_known_size(usage.get("RefCount")),
        )

    @property
    def anonymous(self) -> bool:
        """Created for an unnamed mount (``-v /data``): labelled so, or named by a bare ID."""
        return ANONYMOUS_LABEL in self.labels or bool(_HEX_ID.fullmatch(self.name))

    @property
    def display_name(self) -> str:
        """Anonymous volumes shown short, like image IDs."""
        return self.name[:12] if self.anonymous else self.name

    @property
    def compose_project(self) -> str | None:
        return self.labels.get(COMPOSE_PROJECT_LABEL) or None


def containers_using(containers: Iterable[Container], volume: str) -> list[Container]:
    """The containers (any state) whose mounts name ``volume``."""
    return [c for c in containers
            if any(m.type == "volume" and m.name == volume for m in c.mounts)]


async def _df_volumes(client: Engine) -> dict[str, Volume]:
    """Volumes as ``/system/df`` reports them (with UsageData), by name."""
    # 1.42 can measure volumes alone; older daemons (and Podman) measure everything.
    params = {"type": "volume"} if api_at_least(client, 1, 42) else None
    raw = decode_json((await read_system_df(client, params)).content, "/system/df")
    items = require_object(raw, "a disk usage answer").get("Volumes") or []
    return {v.name: v for v in (Volume.from_api(item) for item in items)}


def api_at_least(client: Engine, major: int, minor: int) -> bool:
    """Whether a Docker daemon speaks this API (Podman's version says little: False)."""
    if client.version.is_podman:
        return False
    have_major, _, have_minor = client.api_version.partition(".")
    return (int(have_major), int(have_minor or 0)) >= (major, minor)


def filters_param(filters: Filters | None) -> dict[str, str]:
    """``{"label": ["a=b"]}`` as the ``filters`` query parameter (absent when empty)."""
    return {"filters": json.dumps({k: list(v) for k, v in filters.items()})} if filters else {}


async def volumes(
    client: Engine, *, filters: Filters | None = None, sizes: bool = True
) -> list[Volume]:
    """Every volume (``filters`` as for ``docker volume ls``), with sizes unless told not to.

    Sizes cost a ``/system/df`` call, which walks every volume on disk: slow on
    big volumes, so a live list can ask without and fill sizes in later.
    """
    raw = await client.get_json("/volumes", filters_param(filters))
    items = require_object(raw, "a volume list").get("Volumes") or []
    listed = [Volume.from_api(item) for item in items]
    if not sizes:
        return listed
    measured = await _df_volumes(client)
    return [_with_usage(v, measured.get(v.name)) for v in listed]


def _with_usage(volume: Volume, measured: Volume | None) -> Volume:
    if measured is None:
        return volume
    return replace(volume, size=measured.size, ref_count=measured.ref_count)


async def volume(client: Engine, name: str, *, size: bool = False) -> Volume:
    """``docker volume inspect``; with ``size`` also its measured size (a ``/system/df`` call)."""
    found = Volume.from_api(await client.get_json(f"/volumes/{name}"))
    if size:
        found = _with_usage(found, (await _df_volumes(client)).get(found.name))
    return found


async def create_volume(
    client: Engine,
    name: str | None = None,
    *,
    driver: str = "local",
    driver_options: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Volume:
    """Create a volume (no name: the daemon picks an ID); returns it as the daemon made it.

    Docker answers an existing name with that volume (201) rather than a conflict,
    as ``docker volume create`` does.
    """
    body: dict[str, Any] = {
        "Driver": driver or "local",
        "DriverOpts": dict(driver_options or {}),
        "Labels": dict(labels or {}),
    }
    if name:
        body["Name"] = name
    response = await client.request("POST", "/volumes/create", json=body)
    try:
        return Volume.from_api(response.json())
    except ValueError as exc:
        raise ProtocolError(f"unreadable answer from /volumes/create: {exc}") from exc


class VolumeInUse(Conflict):
    """409: the volume is mounted by containers; :attr:`containers` names them.

    The message is the daemon's own words followed by the containers' names,
    since both daemons name them only by ID.
    """

    def __init__(self, status: int, message: str, containers: Sequence[Container]) -> None:
        self.daemon_message = message
        self.containers = tuple(containers)
        names = ", ".join(c.name or c.short_id for c in self.containers)
        super().__init__(status, f"{message} (used by {names})" if names else message)


async def remove_volume(client: Engine, name: str, *, force: bool = False) -> None:
    """Remove a volume; one in use raises :class:`VolumeInUse` naming its containers.

    ``force`` only skips errors of the volume driver (the daemons never remove a
    volume a container uses); it is never set silently.
    """
    try:
        await client.request("DELETE", f"/volumes/{name}", params={"force": int(force)},
                             timeout=120.0)
    except Conflict as exc:
        users = containers_using(await client.containers(all=True), name)
        raise VolumeInUse(exc.status, exc.message, users) from exc


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What a prune really removed, as the daemon reported it."""

    deleted: tuple[str, ...] = ()
    #: Bytes the daemon says it freed (0 where it does not say, e.g. networks).
    reclaimed: int = 0
    #: Items that could not be removed, with the daemon's reason.
    failed: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VolumePrunePlan:
    """The volumes a prune would remove, computed before pruning."""

    volumes: tuple[Volume, ...]
    #: Named volumes too (``docker volume prune --all``), not only anonymous ones.
    all: bool
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        """The bytes of the volumes whose size is known."""
        return sum(v.size or 0 for v in self.volumes)

    @property
    def unknown_sizes(self) -> int:
        """How many planned volumes the engine gave no size for."""
        return sum(1 for v in self.volumes if v.size is None)


async def volume_prune_plan(
    client: Engine, *, all: bool = False, filters: Filters | None = None
) -> VolumePrunePlan:
    """Exactly which volumes :func:`prune_volumes` would remove, with their sizes.

    Unused = mounted by no container in any state (the container list's mounts
    are the truth; both daemons refuse to prune a volume a stopped container
    holds).  ``filters`` narrow it like the prune's own (``label=…``).
    """
    listed = await volumes(client, filters=filters)
    containers = await client.containers(all=True)
    used = {m.name for c in containers for m in c.mounts if m.type == "volume" and m.name}
    chosen = tuple(v for v in listed if v.name not in used and (all or v.anonymous))
    return VolumePrunePlan(chosen, all, {k: list(v) for k, v in (filters or {}).items()})


async def prune_volumes(
    client: Engine, *, all: bool = False, filters: Filters | None = None,
    plan: VolumePrunePlan | None = None,
) -> PruneResult:
    """Remove unused volumes: anonymous ones only, or every unused one with ``all``.

    With ``all`` the daemon prunes (with ``all=true`` where API >= 1.42 needs
    it).  Without, the anonymous volumes of ``plan`` (computed now if not
    given) are removed one by one, since Docker 20.10 and Podman would also
    prune named volumes; one that became used meanwhile is reported in
    ``failed``, never forced.
    """
    if all:
        merged = {k: list(v) for k, v in (filters or {}).items()}
        if api_at_least(client, 1, 42):
            merged["all"] = ["true"]
        response = await client.request("POST", "/volumes/prune",
                                        params=filters_param(merged), timeout=600.0)
        data = require_object(response.json() or {}, "a prune answer")
        return PruneResult(tuple(str(n) for n in data.get("VolumesDeleted") or []),
                           int(data.get("SpaceReclaimed") or 0))
    plan = plan or await volume_prune_plan(client, all=False, filters=filters)
    deleted: list[str] = []
    failed: dict[str, str] = {}
    reclaimed = 0
    for item in plan.volumes:
        if not item.anonymous:
            continue
        try:
            await client.request("DELETE", f"/volumes/{item.name}", timeout=120.0)
        except NotFound:
            continue
        except APIError as exc:
            failed[item.name] = exc.message
            continue
        deleted.append(item.name)
        reclaimed += item.size or 0
    return PruneResult(tuple(deleted), reclaimed, failed)
