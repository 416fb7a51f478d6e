"""The kinds of live list the session keeps: each says how it is read and what makes it stale.

The session knows no kind by name: a page subscribes with ``session.live(KIND)``
and the session reads that list on connecting, again (coalesced) after each
engine event the kind calls stale, and once more a moment later after the
events the kind says settle late.  A new list (volumes, networks…) is one
declaration here plus its page; nothing inside the session changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import engine

T = TypeVar("T")


def _never(_event: engine.Event) -> bool:
    return False


def _no_item(_event: engine.Event) -> str:
    return ""


def _no_id(_item: object) -> str:
    return ""


@dataclass(frozen=True)
class ResourceKind(Generic[T]):
    """One live resource list: its name, how to read it, which events make it stale."""

    name: str
    #: Reads the whole list (one engine call).
    read: Callable[[engine.Engine], Coroutine[Any, Any, list[T]]]
    #: Whether this event may have changed the list.
    stale_on: Callable[[engine.Event], bool]
    #: Whether the engine may store the new state only after this event: read again later.
    settle_on: Callable[[engine.Event], bool] = _never
    #: Reads only the items with these IDs (one small call).  With it, an event naming
    #: its item (:attr:`item_of`) costs a read of that item, not of the whole list: on a
    #: busy engine (a CI host, a thousand containers) a re-read per burst was the cost.
    read_some: Callable[[engine.Engine, Sequence[str]], Coroutine[Any, Any, list[T]]] | None = None
    #: The ID of the item an event is about ("": the whole list may have changed).
    item_of: Callable[[engine.Event], str] = _no_item
    #: An item's ID, as :attr:`item_of` names it.
    item_id: Callable[[T], str] = _no_id


def merge_items(items: list[T], fresh: list[T], ids: set[str],
                item_id: Callable[[T], str]) -> list[T]:
    """``items`` with those named by ``ids`` replaced by their ``fresh`` reading: gone when
    the engine no longer lists them, new ones first (the engines list newest first)."""
    by_id = {item_id(item): item for item in fresh}
    kept: list[T] = []
    for item in items:
        key = item_id(item)
        if key not in ids:
            kept.append(item)
        elif (new := by_id.pop(key, None)) is not None:
            kept.append(new)
    return [*by_id.values(), *kept]


#: Container events that change nothing a list shows; refreshing for them would only cost.
QUIET_CONTAINER_ACTIONS = frozenset(
    {"exec_create", "exec_start", "exec_die", "exec_detach", "attach", "detach", "resize",
     "top", "archive-path", "extract-to-dir", "copy", "export"}
)
#: Docker sends "die" before the container's state is stored: a list read at once can
#: still say "running", and no later event follows.
SETTLING_CONTAINER_ACTIONS = frozenset({"die", "kill", "stop", "oom"})


def _container_changed(event: engine.Event) -> bool:
    # A volume helper's coming and going changes nothing the list shows (it is hidden).
    return (event.type == "container" and event.action not in QUIET_CONTAINER_ACTIONS
            and not engine.is_helper(event.attributes))


async def _all_containers(client: engine.Engine) -> list[engine.Container]:
    """Every container but Dockyard's own short-lived volume helpers (never the user's)."""
    return [c for c in await client.containers(all=True) if not engine.is_helper(c.labels)]


async def _images(client: engine.Engine) -> list[engine.Image]:
    return await client.images()


async def _some_containers(client: engine.Engine, ids: Sequence[str]) -> list[engine.Container]:
    # The "id" filter matches a prefix; full IDs name exactly their container.
    return [c for c in await client.containers(all=True, filters={"id": list(ids)})
            if not engine.is_helper(c.labels)]


CONTAINERS: ResourceKind[engine.Container] = ResourceKind(
    "containers", _all_containers, _container_changed,
    settle_on=lambda e: _container_changed(e) and e.action in SETTLING_CONTAINER_ACTIONS,
    read_some=_some_containers,
    item_of=lambda e: e.actor_id if e.type == "container" else "",
    item_id=lambda c: c.id,
)
#: Which images are in use is counted from the containers list (presentation.image_rows),
#: so a container's create or destroy does not re-read every image.
IMAGES: ResourceKind[engine.Image] = ResourceKind("images", _images, lambda e: e.type == "image")


#: Docker measures disk usage once at a time; a second ``/system/df`` meanwhile is refused.
_DF_BUSY = "disk usage operation is already running"
#: How long to wait for another measurement (a Disk page, a ``docker system df``) to end.
DF_BUSY_DELAYS = (0.1, 0.2, 0.4, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0)


def df_busy(exc: engine.EngineError) -> bool:
    """Whether Docker refused a measurement only because another one is running."""
    return isinstance(exc, engine.APIError) and _DF_BUSY in exc.message


async def measuring(call: Callable[[], Coroutine[Any, Any, T]],
                    delays: tuple[float, ...] = DF_BUSY_DELAYS) -> T:
    """Run ``call`` (which measures disk usage), waiting while another measurement runs."""
    for delay in delays:
        try:
            return await call()
        except engine.APIError as exc:
            if not df_busy(exc):
                raise
            await asyncio.sleep(delay)
    return await call()


async def _volumes(client: engine.Engine) -> list[engine.Volume]:
    """Volumes with their sizes; while another ``/system/df`` runs, wait a little, then
    list them without sizes ("—") rather than fail the list."""
    try:
        return await measuring(partial(engine.volumes, client), DF_BUSY_DELAYS[:4])
    except engine.APIError as exc:
        if not df_busy(exc):
            raise
    return await engine.volumes(client, sizes=False)


async def _networks(client: engine.Engine) -> list[engine.Network]:
    return await engine.networks(client)


VOLUMES: ResourceKind[engine.Volume] = ResourceKind(
    "volumes", _volumes,
    # "destroy": ``docker rm -v`` removes a container's anonymous volumes with it.
    lambda e: (e.type == "volume" and e.action in engine.VOLUME_EVENT_ACTIONS)
    or (e.type == "container" and e.action == "destroy"),
)
NETWORKS: ResourceKind[engine.Network] = ResourceKind(
    "networks", _networks,
    # A container's start and end change the addresses shown; Podman sends no network
    # event for them.
    lambda e: (e.type == "network" and e.action in engine.NETWORK_EVENT_ACTIONS)
    or (e.type == "container" and e.action in ("start", "die", "destroy")),
    # Docker sends "connect" before the container has joined: read at once, the endpoint
    # is listed under a placeholder "ep-…" key instead of the container's ID.
    settle_on=lambda e: e.type == "network" and e.action in ("connect", "disconnect"),
)


async def _compose_projects(client: engine.Engine) -> list[engine.ComposeProject]:
    return await engine.compose_projects(client)


COMPOSE_PROJECTS: ResourceKind[engine.ComposeProject] = ResourceKind(
    "compose-projects", _compose_projects,
    # Fed by container events (a project is its labelled containers); a project's volumes
    # and networks come and go with "create"/"destroy" of their own.
    lambda e: _container_changed(e)
    or (e.type in ("volume", "network") and e.action in ("create", "destroy")),
    settle_on=lambda e: _container_changed(e) and e.action in SETTLING_CONTAINER_ACTIONS,
)


@dataclass(frozen=True)
class SwarmView:
    """The swarm as the Swarm page shows it: this engine's state and, on a manager, its
    services, their tasks and the nodes (empty elsewhere)."""

    state: engine.SwarmState
    podman: bool = False
    services: tuple[engine.Service, ...] = ()
    tasks: tuple[engine.Task, ...] = ()
    nodes: tuple[engine.Node, ...] = ()


async def _swarm(client: engine.Engine) -> list[SwarmView]:
    """One view (a list of one, as every live list is a list); never NotSwarmManager: an
    engine outside a swarm is a state to show, not a failure."""
    if client.version.is_podman:
        return [SwarmView(engine.SwarmState(), podman=True)]
    state = await engine.swarm_state(client)
    if not state.control_available:
        return [SwarmView(state)]
    try:
        services = await engine.services(client)
        tasks = await engine.tasks(client)
        nodes = await engine.nodes(client)
    except engine.NotSwarmManager:  # demoted or left meanwhile
        return [SwarmView(await engine.swarm_state(client))]
    return [SwarmView(state, services=tuple(services), tasks=tuple(tasks), nodes=tuple(nodes))]


def _swarm_changed(event: engine.Event) -> bool:
    """Services and nodes have events of their own; a task's state shows in its container's
    events (on this node), whose attributes carry the task's labels."""
    return event.type in engine.SWARM_EVENT_TYPES or (
        event.type == "container" and "com.docker.swarm.service.id" in event.attributes
        and event.action not in QUIET_CONTAINER_ACTIONS)


SWARM: ResourceKind[SwarmView] = ResourceKind(
    "swarm", _swarm, _swarm_changed,
    # A task's state is stored by the manager after its container's event: look again.
    settle_on=lambda e: e.type in ("service", "container") and _swarm_changed(e),
)
