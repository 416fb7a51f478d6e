"""Disk usage (``docker system df``), the clean-up plan, and the prunes it offers.

:func:`disk_usage` reads ``GET /system/df`` once; :meth:`DiskUsage.summary`
computes totals, active counts and reclaimable bytes per kind the way the
docker CLI (20.10) does, so ``dockyard df`` agrees with ``docker system df``:

* images: size = the daemon's ``LayersSize``; reclaimable = that minus the
  unique bytes (size - shared) of images some container uses;
* containers: size = Σ writable layers; reclaimable = those of containers not
  running, paused or restarting;
* volumes: size = Σ measured sizes; reclaimable = those no container uses;
* build cache: size = Σ records not shared; reclaimable = minus those in use.
  Podman keeps no build cache records (:attr:`DiskUsage.build_cache_supported`).

:func:`cleanup_plan` lists, per kind, the exact items a prune would remove and
their bytes, before anything is removed; :func:`cleanup` removes only the items
it is given (what the user ticked), one by one, never forced.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from engine._client import Engine, Filters
from engine._df import read_system_df, retry_vanished
from engine._errors import APIError, NotFound, ProtocolError
from engine._models import Image, parse_timestamp, strip_name
from engine._networks import network_prune_plan, remove_networks
from engine._shapes import (
    ElementMemo,
    decode_json_in_pieces,
    finish,
    paced,
    require_object,
    str_map,
)
from engine._volumes import (
    PruneResult,
    Volume,
    containers_using,
    filters_param,
    volumes,
)

T = TypeVar("T")

#: Kinds of a clean-up, in the order ``docker system prune`` goes through them.
STOPPED_CONTAINERS = "stopped-containers"
DANGLING_IMAGES = "dangling-images"
UNUSED_IMAGES = "unused-images"
UNUSED_NETWORKS = "unused-networks"
UNUSED_VOLUMES = "unused-volumes"
BUILD_CACHE = "build-cache"
CLEANUP_KINDS = (STOPPED_CONTAINERS, DANGLING_IMAGES, UNUSED_IMAGES, UNUSED_NETWORKS,
                 UNUSED_VOLUMES, BUILD_CACHE)

#: Container states that count as "active" (not reclaimable), as the CLI decides.
ACTIVE_STATES = ("running", "paused", "restarting")


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _known(value: Any) -> int | None:
    """``-1`` (or missing) means "not computed"."""
    number = _int(value, -1)
    return number if number >= 0 else None


def _tags(value: Any) -> tuple[str, ...]:
    """Repo tags without the ``<none>`` placeholders Docker and Podman put in."""
    return tuple(str(t) for t in value or () if t and "<none>" not in str(t))


@dataclass(frozen=True, slots=True)
class ImageUsage:
    """One image in ``/system/df``: its size, shared and unique bytes, container count."""

    id: str
    repo_tags: tuple[str, ...] = ()
    created: datetime | None = None
    size: int = 0
    #: Bytes in layers other images also use; None: not computed.
    shared_size: int | None = None
    #: Containers (any state) using it; None: not computed.
    containers: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> ImageUsage:
        raw = require_object(raw, "an image")
        if not raw.get("Id"):
            raise ProtocolError("the engine sent an image without an ID")
        return cls(
            id=str(raw["Id"]),
            repo_tags=_tags(raw.get("RepoTags")),
            created=parse_timestamp(raw.get("Created")),
            size=_int(raw.get("Size")),
            shared_size=_known(raw.get("SharedSize")),
            containers=_known(raw.get("Containers")),
            labels=str_map(raw.get("Labels")),
        )

    @property
    def unique_size(self) -> int | None:
        """Bytes only this image holds (what removing it alone frees)."""
        return None if self.shared_size is None else self.size - self.shared_size

    @property
    def dangling(self) -> bool:
        return not self.repo_tags

    @property
    def name(self) -> str:
        return self.repo_tags[0] if self.repo_tags else self.short_id

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]


@dataclass(frozen=True, slots=True)
class ContainerUsage:
    """One container in ``/system/df``: its writable layer's bytes."""

    id: str
    name: str
    image: str = ""
    state: str = ""
    status: str = ""
    created: datetime | None = None
    #: Bytes in its writable layer.
    size_rw: int = 0
    #: Writable layer plus image ("virtual"); None: not computed.
    size_root_fs: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    volumes: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> ContainerUsage:
        raw = require_object(raw, "a container")
        if not raw.get("Id"):
            raise ProtocolError("the engine sent a container without an ID")
        names = [strip_name(str(n)) for n in raw.get("Names") or []]
        mounts = raw.get("Mounts") or []
        return cls(
            id=str(raw["Id"]),
            name=next((n for n in names if "/" not in n), names[0] if names else ""),
            image=str(raw.get("Image") or ""),
            state=str(raw.get("State") or "").lower(),
            status=str(raw.get("Status") or ""),
            created=parse_timestamp(raw.get("Created")),
            size_rw=_int(raw.get("SizeRw")),
            size_root_fs=_known(raw.get("SizeRootFs")),
            labels=str_map(raw.get("Labels")),
            volumes=tuple(str(m["Name"]) for m in mounts
                          if isinstance(m, Mapping) and m.get("Type") == "volume"
                          and m.get("Name")),
        )

    @property
    def active(self) -> bool:
        return any(word in self.state for word in ACTIVE_STATES)

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass(frozen=True, slots=True)
class BuildCacheRecord:
    """One BuildKit cache record (``docker builder du``)."""

    id: str
    type: str = ""
    description: str = ""
    size: int = 0
    in_use: bool = False
    shared: bool = False
    created: datetime | None = None
    last_used: datetime | None = None
    usage_count: int = 0
    parents: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> BuildCacheRecord:
        raw = require_object(raw, "a build cache record")
        if not raw.get("ID"):
            raise ProtocolError("the engine sent a build cache record without an ID")
        parents = raw.get("Parents") or ([raw["Parent"]] if raw.get("Parent") else [])
        return cls(
            id=str(raw["ID"]),
            type=str(raw.get("Type") or ""),
            description=str(raw.get("Description") or ""),
            size=_int(raw.get("Size")),
            in_use=bool(raw.get("InUse")),
            shared=bool(raw.get("Shared")),
            created=parse_timestamp(raw.get("CreatedAt")),
            last_used=parse_timestamp(raw.get("LastUsedAt")),
            usage_count=_int(raw.get("UsageCount")),
            parents=tuple(str(p) for p in parents),
        )


@dataclass(frozen=True, slots=True)
class KindUsage:
    """One row of ``docker system df``."""

    kind: str  # "Images", "Containers", "Local Volumes", "Build Cache"
    total: int
    active: int
    size: int
    reclaimable: int


def _df_list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise ProtocolError(f"the engine's disk usage {key} is not a list")
    return value


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """Everything ``GET /system/df`` says, typed."""

    layers_size: int = 0
    images: tuple[ImageUsage, ...] = ()
    containers: tuple[ContainerUsage, ...] = ()
    volumes: tuple[Volume, ...] = ()
    build_cache: tuple[BuildCacheRecord, ...] = ()
    #: False on Podman, which keeps no build cache records to show.
    build_cache_supported: bool = True

    @classmethod
    def from_api(cls, raw: Mapping[str, Any], *, build_cache_supported: bool = True
                 ) -> DiskUsage:
        return finish(cls.steps(raw, build_cache_supported=build_cache_supported))

    @classmethod
    def steps(cls, raw: Mapping[str, Any], *, build_cache_supported: bool = True
              ) -> Generator[None, None, DiskUsage]:
        """:meth:`from_api` one item at a time (yielding between), for :func:`paced`."""
        raw = require_object(raw, "a disk usage answer")

        def each(key: str, make: Callable[[Any], T]) -> Generator[None, None, tuple[T, ...]]:
            made = []
            for item in _df_list(raw, key):
                made.append(make(item))
                yield
            return tuple(made)

        return cls(
            layers_size=_int(raw.get("LayersSize")),
            images=(yield from each("Images", ImageUsage.from_api)),
            containers=(yield from each("Containers", ContainerUsage.from_api)),
            volumes=(yield from each("Volumes", Volume.from_api)),
            build_cache=(yield from each("BuildCache", BuildCacheRecord.from_api)),
            build_cache_supported=build_cache_supported,
        )

    @classmethod
    def of_made(cls, raw: Mapping[str, Any], *, build_cache_supported: bool = True
                ) -> DiskUsage:
        """From a df whose lists were made as they were decoded (:data:`DF_ELEMENTS`)."""
        raw = require_object(raw, "a disk usage answer")
        return cls(
            layers_size=_int(raw.get("LayersSize")),
            images=tuple(_df_list(raw, "Images")),
            containers=tuple(_df_list(raw, "Containers")),
            volumes=tuple(_df_list(raw, "Volumes")),
            build_cache=tuple(_df_list(raw, "BuildCache")),
            build_cache_supported=build_cache_supported,
        )

    def summary(self) -> tuple[KindUsage, ...]:
        """Totals and reclaimable bytes per kind, as ``docker system df`` (20.10) computes them."""
        used_unique = sum(i.unique_size or 0 for i in self.images
                          if i.containers and i.unique_size is not None)
        images = KindUsage("Images", len(self.images),
                           sum(1 for i in self.images if i.containers),
                           self.layers_size, self.layers_size - used_unique)
        containers = KindUsage(
            "Containers", len(self.containers), sum(1 for c in self.containers if c.active),
            sum(c.size_rw for c in self.containers),
            sum(c.size_rw for c in self.containers if not c.active))
        volumes = KindUsage(
            "Local Volumes", len(self.volumes), sum(1 for v in self.volumes if v.ref_count),
            sum(v.size or 0 for v in self.volumes),
            sum(v.size or 0 for v in self.volumes if not v.ref_count))
        cache_size = sum(b.size for b in self.build_cache if not b.shared)
        cache = KindUsage(
            "Build Cache", len(self.build_cache), sum(1 for b in self.build_cache if b.in_use),
            cache_size,
            cache_size - sum(b.size for b in self.build_cache if b.in_use and not b.shared))
        return images, containers, volumes, cache


#: What each list of a df is made of, item by item as it is decoded.
DF_ELEMENTS: Mapping[str, Callable[[Any], Any]] = {
    "Images": ImageUsage.from_api, "Containers": ContainerUsage.from_api,
    "Volumes": Volume.from_api, "BuildCache": BuildCacheRecord.from_api}
#: The last df's items by their text: a df read again after an event (the Disk page
#: does, on every one) makes only the items that changed (two-thirds of its decode).
_df_memo: ElementMemo = {}


async def disk_usage(client: Engine) -> DiskUsage:
    """``docker system df -v``: one ``GET /system/df`` (slow: the daemon measures everything).

    Decoded on the event loop in steps of a few ms (:func:`paced`): with 500 images and
    500 volumes the JSON and its dataclasses take 50-100 ms, which a window's event loop
    must not stall for, and a worker thread would hold the GIL (``json.loads`` is one C
    call) and stall it just the same."""
    body = (await read_system_df(client)).content
    raw = await paced(decode_json_in_pieces(body, "/system/df", elements=DF_ELEMENTS,
                                            memo=_df_memo))
    usage = DiskUsage.of_made(raw, build_cache_supported=not client.version.is_podman)
    return await _podman_names(client, usage) if client.version.is_podman else usage


async def _podman_names(client: Engine, usage: DiskUsage) -> DiskUsage:
    """Podman's df gives images' tags without their repository ("1" for "app:1") and no
    labels on images, containers or volumes: those are taken from the lists."""
    # Podman fails a list when an item in it is removed meanwhile: asked again then.
    images = {_bare_id(i.id): i
              for i in await retry_vanished(lambda: client.images(all=True))}
    containers = {c.id: c for c in await retry_vanished(lambda: client.containers(all=True))}
    volume_labels = {v.name: v.labels
                     for v in await retry_vanished(lambda: volumes(client, sizes=False))}

    def image(item: ImageUsage) -> ImageUsage:
        listed = images.get(_bare_id(item.id))
        if listed is None:
            return item
        return replace(item, repo_tags=_tags(listed.repo_tags), labels=listed.labels)

    def container(item: ContainerUsage) -> ContainerUsage:
        listed = containers.get(item.id)
        if listed is None:
            return item
        return replace(item, labels=listed.labels, volumes=tuple(
            m.name for m in listed.mounts if m.type == "volume" and m.name))

    return replace(
        usage,
        images=tuple(image(i) for i in usage.images),
        containers=tuple(container(c) for c in usage.containers),
        volumes=tuple(replace(v, labels=volume_labels.get(v.name, v.labels))
                      for v in usage.volumes),
    )


# -- the clean-up plan ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CleanupItem:
    """One thing a prune would remove: its kind, ID, a name to show, and its bytes."""

    kind: str
    id: str
    name: str
    #: Bytes freed by removing it alone; None: unknown.  Images: their unique bytes.
    size: int | None


@dataclass(frozen=True, slots=True)
class CleanupPlan:
    """Per kind, the exact items a prune would remove, computed before pruning."""

    items: tuple[CleanupItem, ...]
    #: Why a kind is empty when it cannot be otherwise (Podman's build cache).
    notes: Mapping[str, str] = field(default_factory=dict)

    def of_kind(self, kind: str) -> tuple[CleanupItem, ...]:
        return tuple(i for i in self.items if i.kind == kind)

    def bytes(self, kind: str | None = None) -> int:
        return sum(i.size or 0 for i in self.items if kind is None or i.kind == kind)


def _label_match(labels: Mapping[str, str], filters: Filters | None) -> bool:
    """The ``label=`` / ``label!=`` filters of a prune, applied to one item's labels."""

    def has(spec: str) -> bool:
        key, eq, value = spec.partition("=")
        return key in labels and (not eq or labels[key] == value)

    for spec in (filters or {}).get("label", ()):
        if not has(spec):
            return False
    return not any(has(spec) for spec in (filters or {}).get("label!", ()))


def _bare_id(image_id: str) -> str:
    """Podman's df gives image IDs without the ``sha256:`` its image list has."""
    return image_id.removeprefix("sha256:")


def _cache_candidates(usage: DiskUsage, older_than: timedelta | None,
                      now: datetime) -> list[BuildCacheRecord]:
    cutoff = now - older_than if older_than is not None else None
    chosen = []
    for record in usage.build_cache:
        if record.in_use:
            continue
        moment = record.last_used or record.created
        if cutoff is not None and moment is not None and moment > cutoff:
            continue
        chosen.append(record)
    return chosen


def _freed_with_hidden_parents(listed: Sequence[ImageUsage], every: Sequence[Image]
                               ) -> dict[str, int]:
    """Bytes that removing an image frees, where its ``SharedSize`` cannot say.

    A classic build leaves one untagged parent image per step; ``docker rmi`` of the result
    removes those with it.  Docker 20.10's ``/system/df`` did not count them as sharing the
    image's layers; Docker 25+ does, so an image built ``FROM base`` + ``RUN`` + ``LABEL``
    shows ``Size == SharedSize`` (0 bytes freed).  For an image whose parent is such a hidden
    step, the bytes freed are its size less that of the nearest ancestor that stays: one
    ``/system/df`` lists (tagged, or a top-level dangling image), or with other children.
    """
    by_id = {_bare_id(i.id): i for i in every}
    children: dict[str, int] = {}
    for image in every:
        if image.parent_id:
            children[_bare_id(image.parent_id)] = children.get(_bare_id(image.parent_id), 0) + 1
    top = {_bare_id(i.id) for i in listed}
    freed: dict[str, int] = {}

    def parent_of(image_id: str) -> Image | None:
        found = by_id.get(image_id)
        return by_id.get(_bare_id(found.parent_id)) if found and found.parent_id else None

    for usage_row in listed:
        stays = parent_of(_bare_id(usage_row.id))
        if stays is None or _bare_id(stays.id) in top:
            continue  # no hidden step below it: the daemon's SharedSize is right
        while (stays is not None and _bare_id(stays.id) not in top
               and children.get(_bare_id(stays.id), 0) <= 1):
            stays = parent_of(_bare_id(stays.id))
        freed[_bare_id(usage_row.id)] = max(0, usage_row.size - (stays.size if stays else 0))
    return freed


async def cleanup_plan(
    client: Engine,
    *,
    all_volumes: bool = False,
    cache_older_than: timedelta | None = None,
    filters: Filters | None = None,
    usage: DiskUsage | None = None,
) -> CleanupPlan:
    """What each prune would remove, item by item, with bytes.

    * stopped containers: every container not running, paused or restarting;
    * dangling images: untagged images no container uses; unused images: every
      image no container uses (``docker image prune -a``), dangling ones included;
    * unused networks: as :func:`network_prune_plan`;
    * unused volumes: anonymous ones, or all with ``all_volumes``;
    * build cache: records not in use, last used before ``cache_older_than`` ago.

    ``filters`` (``label`` / ``label!``) narrow containers, images, networks and
    volumes as the prunes' own filters do; build cache records carry no labels,
    so a label filter leaves that kind empty.  ``usage`` reuses a df already read.
    """
    usage = usage or await disk_usage(client)
    # Labels and mounts from the lists (a df read by a caller may predate them).
    containers = await client.containers(all=True)
    container_labels = {c.id: c.labels for c in containers}
    every_image = await client.images(all=True)
    image_labels = {_bare_id(i.id): i.labels for i in every_image}
    freed = ({} if client.version.is_podman  # Podman's df counts shared bytes its own way
             else _freed_with_hidden_parents(usage.images, every_image))
    volume_labels = {v.name: v.labels for v in await volumes(client, sizes=False)}
    items: list[CleanupItem] = []
    for c in usage.containers:
        if not c.active and _label_match(container_labels.get(c.id, c.labels), filters):
            items.append(CleanupItem(STOPPED_CONTAINERS, c.id, c.name or c.short_id, c.size_rw))
    for image in usage.images:
        labels = image_labels.get(_bare_id(image.id), image.labels)
        if image.containers or not _label_match(labels, filters):
            continue
        entry = (image.id, image.name, freed.get(_bare_id(image.id), image.unique_size))
        if image.dangling:
            items.append(CleanupItem(DANGLING_IMAGES, *entry))
        items.append(CleanupItem(UNUSED_IMAGES, *entry))
    networks = await network_prune_plan(client, filters=filters)
    items.extend(CleanupItem(UNUSED_NETWORKS, n.id, n.name, 0) for n in networks.networks)
    for volume in usage.volumes:
        if (containers_using(containers, volume.name) or not (all_volumes or volume.anonymous)
                or not _label_match(volume_labels.get(volume.name, volume.labels), filters)):
            continue
        items.append(CleanupItem(UNUSED_VOLUMES, volume.name, volume.display_name, volume.size))
    notes: dict[str, str] = {}
    if not usage.build_cache_supported:
        notes[BUILD_CACHE] = "Podman keeps no build cache records"
    elif filters:
        notes[BUILD_CACHE] = "build cache records carry no labels"
    else:
        items.extend(CleanupItem(BUILD_CACHE, r.id, r.description or r.type, r.size)
                     for r in _cache_candidates(usage, cache_older_than, datetime.now(UTC)))
    return CleanupPlan(tuple(items), notes)


# -- prunes -----------------------------------------------------------------------------


def _prune_answer(response_json: Any, key: str) -> PruneResult:
    data = require_object(response_json or {}, "a prune answer")
    deleted: list[str] = []
    for entry in data.get(key) or []:
        if isinstance(entry, Mapping):  # images: [{"Deleted": id} | {"Untagged": ref}]
            if entry.get("Deleted"):
                deleted.append(str(entry["Deleted"]))
        elif entry:
            deleted.append(str(entry))
    return PruneResult(tuple(deleted), _int(data.get("SpaceReclaimed")))


async def prune_containers(client: Engine, *, filters: Filters | None = None) -> PruneResult:
    """``docker container prune``: every stopped container (narrowed by ``filters``)."""
    response = await client.request("POST", "/containers/prune",
                                    params=filters_param(filters), timeout=600.0)
    return _prune_answer(response.json(), "ContainersDeleted")


async def prune_unused_images(
    client: Engine, *, all: bool = False, filters: Filters | None = None
) -> PruneResult:
    """``docker image prune [-a]``: dangling images, or every image no container uses."""
    merged = {**{k: list(v) for k, v in (filters or {}).items()},
              "dangling": ["false" if all else "true"]}
    response = await client.request("POST", "/images/prune", params=filters_param(merged),
                                    timeout=600.0)
    return _prune_answer(response.json(), "ImagesDeleted")


async def prune_build_cache(
    client: Engine, *, older_than: timedelta | None = None, record_id: str | None = None
) -> PruneResult:
    """``docker builder prune -a [--filter until=…]``: cache records not in use.

    ``record_id`` prunes that one record (BuildKit matches the ID as a prefix).
    Podman keeps no build cache records: nothing is asked, nothing removed.
    """
    if client.version.is_podman:
        return PruneResult()
    filters: dict[str, list[str]] = {}
    if older_than is not None:
        filters["until"] = [f"{int(older_than.total_seconds())}s"]
    if record_id is not None:
        filters["id"] = [record_id]
    response = await client.request(
        "POST", "/build/prune", params={"all": 1, **filters_param(filters)}, timeout=600.0)
    return _prune_answer(response.json(), "CachesDeleted")


async def cleanup(client: Engine, items: Iterable[CleanupItem]) -> Mapping[str, PruneResult]:
    """Remove exactly ``items`` (what the user ticked), per kind; never forced.

    An item that became used or vanished meanwhile is reported in ``failed`` (or
    skipped when already gone).  Bytes: the daemon's count for build cache; for
    the others (removed one by one, the daemon does not count) the planned bytes
    of what was removed.
    """
    by_kind: dict[str, list[CleanupItem]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    results: dict[str, PruneResult] = {}
    for kind, chosen in by_kind.items():
        if kind == UNUSED_NETWORKS:
            results[kind] = await remove_networks(client, [i.id for i in chosen])
        elif kind == BUILD_CACHE:
            deleted: list[str] = []
            reclaimed = 0
            for item in chosen:
                answer = await prune_build_cache(client, record_id=item.id)
                deleted.extend(answer.deleted)
                reclaimed += answer.reclaimed
            results[kind] = PruneResult(tuple(deleted), reclaimed)
        else:
            results[kind] = await _remove_each(client, kind, chosen)
    return results


async def _remove_each(client: Engine, kind: str, chosen: Sequence[CleanupItem]) -> PruneResult:
    deleted: list[str] = []
    failed: dict[str, str] = {}
    reclaimed = 0
    for item in chosen:
        if kind == STOPPED_CONTAINERS:
            path, params = f"/containers/{item.id}", {"force": 0, "v": 0}
        elif kind == UNUSED_VOLUMES:
            path, params = f"/volumes/{item.id}", {"force": 0}
        else:  # images: by ID; every tag goes, as with prune -a, but never a used image
            path, params = f"/images/{item.id}", {"force": 0}
        try:
            await client.request("DELETE", path, params=params, timeout=300.0)
        except NotFound:
            continue
        except APIError as exc:
            if kind in (DANGLING_IMAGES, UNUSED_IMAGES) and "multiple repositories" in exc.message:
                if await _untag_all(client, item.id, failed):
                    deleted.append(item.id)
                    reclaimed += item.size or 0
                continue
            failed[item.id] = exc.message
            continue
        deleted.append(item.id)
        reclaimed += item.size or 0
    return PruneResult(tuple(deleted), reclaimed, failed)


async def _untag_all(client: Engine, image_id: str, failed: dict[str, str]) -> bool:
    """An image with several tags is removed tag by tag (never with force)."""
    try:
        raw = require_object(await client.get_json(f"/images/{image_id}/json"), "an image")
        for tag in _tags(raw.get("RepoTags")):
            await client.request("DELETE", f"/images/{tag}", params={"force": 0}, timeout=300.0)
    except NotFound:
        return True
    except APIError as exc:
        failed[image_id] = exc.message
        return False
    return True

