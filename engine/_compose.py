"""Compose projects as the engine sees them: from the ``com.docker.compose.*`` labels.

Every Compose implementation (the ``docker compose`` plugin, ``docker-compose``
1.x, ``podman-compose``) labels what it creates with its project, and each
container with its service, number, "one-off" flag (``docker compose run``),
the project's config files and working directory.  So the projects are read
from the labels alone, whoever started them (a terminal, an IDE, Dockyard), and
acted on through the API by label: stopping or removing a project needs neither
its files nor a Compose binary, which is how a project whose files moved is
still taken down.

What the implementations write (measured):

==========================  =========================  ==========================
label                       docker-compose 1.29        podman-compose 1.0.3
==========================  =========================  ==========================
project.config_files        relative to working_dir    as given on its command line
oneoff                      ``False`` / ``True``       absent
network / volume labels     project, network/volume    project (+ io.podman.compose)
==========================  =========================  ==========================

Config files may be relative (1.29) or absolute (the v2 plugin); both are kept
as written and :attr:`ComposeProject.config_paths` joins them to the working
directory.  State counts are over every container of the project, as
``docker compose ls -a`` counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from engine._client import Engine
from engine._errors import APIError, Conflict, NotFound
from engine._lifecycle import (
    ensure_restarted,
    ensure_started,
    ensure_stopped,
    pause_container,
    remove_if_present,
    unpause_container,
)
from engine._models import COMPOSE_PROJECT_LABEL, Container, Port
from engine._networks import Network, networks, remove_network
from engine._volumes import Volume, remove_volume, volumes

COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
COMPOSE_NUMBER_LABEL = "com.docker.compose.container-number"
COMPOSE_ONEOFF_LABEL = "com.docker.compose.oneoff"
COMPOSE_FILES_LABEL = "com.docker.compose.project.config_files"
COMPOSE_WORKDIR_LABEL = "com.docker.compose.project.working_dir"
COMPOSE_VOLUME_LABEL = "com.docker.compose.volume"
COMPOSE_NETWORK_LABEL = "com.docker.compose.network"

#: The health a container's list status ends with: "Up 3 minutes (healthy)".
_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)\s*$")

#: What a project action may be asked to do.
PROJECT_ACTIONS = ("start", "stop", "restart", "pause", "unpause")


def container_health(container: Container) -> str | None:
    """"healthy", "unhealthy" or "starting" from the list's status; None: no healthcheck."""
    match = _HEALTH.search(container.status)
    if not match:
        return None
    return "starting" if match.group(1) == "health: starting" else match.group(1)


def is_oneoff(container: Container) -> bool:
    """A ``docker compose run`` container, not one of the service's replicas."""
    return container.labels.get(COMPOSE_ONEOFF_LABEL, "False").lower() == "true"


def _number(container: Container) -> int:
    try:
        return int(container.labels.get(COMPOSE_NUMBER_LABEL, "0"))
    except ValueError:
        return 0


@dataclass(frozen=True, slots=True)
class ComposeService:
    """One service of a project: its containers (replicas and one-off runs)."""

    name: str
    containers: tuple[Container, ...]
    #: Container ID -> health, where the list's status does not say it (Podman).
    health_of: Mapping[str, str] = field(default_factory=dict)

    def container_health(self, container: Container) -> str | None:
        return container_health(container) or self.health_of.get(container.id)

    @property
    def replicas(self) -> tuple[Container, ...]:
        """The service's own containers, by number; ``run`` containers left out."""
        return tuple(sorted((c for c in self.containers if not is_oneoff(c)), key=_number))

    @property
    def image(self) -> str:
        """The image of its newest container (all of them, unless it was just changed)."""
        newest = max(self.containers, key=lambda c: c.created.timestamp() if c.created else 0)
        return newest.image

    @property
    def running(self) -> int:
        return sum(c.running for c in self.replicas)

    @property
    def ports(self) -> tuple[Port, ...]:
        """Every port of every replica, once."""
        seen: dict[Port, None] = {}
        for container in self.replicas:
            seen.update(dict.fromkeys(container.ports))
        return tuple(seen)

    @property
    def health(self) -> str:
        """"healthy", "2 healthy, 1 starting"…; "" when no replica has a healthcheck."""
        counts = Counter(h for c in self.replicas if (h := self.container_health(c)))
        if not counts:
            return ""
        if len(counts) == 1 and sum(counts.values()) == len(self.replicas):
            return next(iter(counts))
        return ", ".join(f"{n} {h}" for h, n in sorted(counts.items()))


@dataclass(frozen=True, slots=True)
class ComposeProject:
    """A Compose project: its containers grouped by service, and its volumes and networks."""

    name: str
    containers: tuple[Container, ...]
    services: tuple[ComposeService, ...]
    #: As the labels say (relative to ``working_dir`` for docker-compose 1.x).
    config_files: tuple[str, ...] = ()
    working_dir: str = ""
    volumes: tuple[Volume, ...] = ()
    networks: tuple[Network, ...] = field(default=())

    @property
    def total(self) -> int:
        return len(self.containers)

    @property
    def running(self) -> int:
        return sum(c.running for c in self.containers)

    @property
    def state_counts(self) -> dict[str, int]:
        """How many containers are in each state, states sorted (as ``docker compose ls``)."""
        counts = Counter(c.state or "unknown" for c in self.containers)
        return dict(sorted(counts.items()))

    @property
    def status(self) -> str:
        """``docker compose ls``'s STATUS: "exited(1), running(2)"."""
        return ", ".join(f"{state}({n})" for state, n in self.state_counts.items())

    @property
    def state_text(self) -> str:
        """What a user reads first: "2 of 3 running", plus those on their way or paused
        ("1 paused", "3 stopping" — Podman says "stopping" until a stop is done)."""
        text = f"{self.running} of {self.total} running"
        others = [f"{n} {state}" for state, n in self.state_counts.items()
                  if state not in ("running", "exited", "created")]
        return ", ".join([text, *others])

    @property
    def state(self) -> str:
        """One word for the project: running, partial, paused or exited."""
        if self.total and self.running == self.total:
            return "running"
        if self.running:
            return "partial"
        if self.state_counts.get("paused"):
            return "paused"
        return "exited"

    @property
    def config_paths(self) -> tuple[str, ...]:
        """The config files as absolute paths (joined to the working directory)."""
        return tuple(posixpath.normpath(posixpath.join(self.working_dir, f))
                     if self.working_dir else f for f in self.config_files)


def _split_files(text: str) -> tuple[str, ...]:
    return tuple(f for f in (part.strip() for part in text.split(",")) if f)


def group_projects(
    containers: Iterable[Container],
    project_volumes: Iterable[Volume] = (),
    project_networks: Iterable[Network] = (),
    health_of: Mapping[str, str] | None = None,
) -> list[ComposeProject]:
    """The projects these containers belong to, sorted by name (pure: no engine call).

    A project's files and working directory are those of its newest container
    (an ``up`` from a moved directory relabels what it recreates).  Volumes and
    networks are matched to projects by their own project label; a project with
    only volumes or networks left (its containers removed) is not listed, as
    ``docker compose ls`` does not list it.  ``health_of`` gives the health of
    containers whose list status does not carry it (Podman's).
    """
    by_project: dict[str, list[Container]] = {}
    for container in containers:
        if project := container.compose_project:
            by_project.setdefault(project, []).append(container)
    vols: dict[str, list[Volume]] = {}
    for volume in project_volumes:
        if project := volume.labels.get(COMPOSE_PROJECT_LABEL):
            vols.setdefault(project, []).append(volume)
    nets: dict[str, list[Network]] = {}
    for network in project_networks:
        if project := network.labels.get(COMPOSE_PROJECT_LABEL):
            nets.setdefault(project, []).append(network)

    found = []
    for name, members in sorted(by_project.items()):
        members.sort(key=lambda c: (c.labels.get(COMPOSE_SERVICE_LABEL, ""), _number(c), c.name))
        newest = max(members, key=lambda c: c.created.timestamp() if c.created else 0)
        services: dict[str, list[Container]] = {}
        for container in members:
            services.setdefault(container.labels.get(COMPOSE_SERVICE_LABEL, ""), []).append(
                container)
        found.append(ComposeProject(
            name=name,
            containers=tuple(members),
            services=tuple(ComposeService(s, tuple(cs), {
                c.id: health_of[c.id] for c in cs if health_of and c.id in health_of})
                for s, cs in sorted(services.items())),
            config_files=_split_files(newest.labels.get(COMPOSE_FILES_LABEL, "")),
            working_dir=newest.labels.get(COMPOSE_WORKDIR_LABEL, ""),
            volumes=tuple(sorted(vols.get(name, ()), key=lambda v: v.name)),
            networks=tuple(sorted(nets.get(name, ()), key=lambda n: n.name)),
        ))
    return found


def _project_filter(name: str | None = None) -> dict[str, list[str]]:
    return {"label": [f"{COMPOSE_PROJECT_LABEL}={name}" if name else COMPOSE_PROJECT_LABEL]}


async def compose_projects(client: Engine, *, resources: bool = True) -> list[ComposeProject]:
    """Every Compose project on the engine, with its volumes and networks unless told not to.

    Three list calls, each filtered by the project label, so an engine with many
    unrelated containers costs little more than one without.
    """
    found = await client.containers(all=True, filters=_project_filter())
    if not found:
        return []
    health = await _podman_health(client, found)
    if not resources:
        return group_projects(found, health_of=health)
    vols, nets = await asyncio.gather(
        volumes(client, filters=_project_filter(), sizes=False),
        networks(client, filters=_project_filter(), aliases=False),
    )
    return group_projects(found, vols, nets, health)


async def _podman_health(client: Engine, found: Sequence[Container]) -> dict[str, str]:
    """Podman's list status never says the health ("Up 3 minutes"): inspect the running
    containers for it.  Docker's does ("Up 3 minutes (healthy)"), so nothing is asked."""
    if not client.version.is_podman:
        return {}

    async def one(container: Container) -> tuple[str, str | None]:
        try:
            state = (await client.container(container.id)).state
        except NotFound:
            return container.id, None
        return container.id, state.health

    pairs = await asyncio.gather(*(one(c) for c in found if c.running))
    return {cid: h for cid, h in pairs if h}


async def compose_project(client: Engine, name: str) -> ComposeProject:
    """The project ``name`` read afresh; :class:`NotFound` when no container has its label."""
    found = await client.containers(all=True, filters=_project_filter(name))
    vols, nets = await asyncio.gather(
        volumes(client, filters=_project_filter(name), sizes=False),
        networks(client, filters=_project_filter(name), aliases=False),
    )
    projects = group_projects(found, vols, nets, await _podman_health(client, found))
    if not projects:
        raise NotFound(404, f"no Compose project named {name!r} has a container on this engine")
    return projects[0]


@dataclass(frozen=True, slots=True)
class ProjectActionResult:
    """What a project action did: the containers it changed, and each refusal's reason."""

    action: str
    done: tuple[str, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)


async def _each(
    containers: Sequence[Container], act: Callable[[Container], Awaitable[object]], action: str,
) -> ProjectActionResult:
    """Run ``act`` on every container at once; a refusal is recorded, not raised."""
    async def one(container: Container) -> tuple[Container, str | None]:
        try:
            await act(container)
        except NotFound:
            return container, None  # removed meanwhile: nothing left to do to it
        except APIError as exc:
            return container, exc.message
        return container, None

    outcomes = await asyncio.gather(*(one(c) for c in containers))
    return ProjectActionResult(
        action,
        tuple(c.name for c, why in outcomes if why is None),
        {c.name: why for c, why in outcomes if why is not None},
    )


async def project_action(client: Engine, name: str, action: str, service: str = ""
                         ) -> ProjectActionResult:
    """Start, stop, restart, pause or unpause every service container of project ``name``
    (of its ``service`` only, if given: the Services tab's own actions).

    The containers are read by label at call time, so the action needs no
    Compose file and sees containers started since the page was drawn.  One-off
    (``run``) containers are stopped and paused with the rest but, as with
    ``docker compose start``, never started.  Containers already in the asked
    state are left alone; a paused one is unpaused to start and, on Podman,
    before it is stopped.  Raises :class:`ValueError` for an unknown action and
    :class:`NotFound` when the project has no container.
    """
    if action not in PROJECT_ACTIONS:
        raise ValueError(f"unknown project action {action!r}: one of {', '.join(PROJECT_ACTIONS)}")
    filters = _project_filter(name)
    if service:
        filters["label"].append(f"{COMPOSE_SERVICE_LABEL}={service}")
    members = await client.containers(all=True, filters=filters)
    if not members:
        what = f"service {service!r} of " if service else ""
        raise NotFound(404, f"no Compose {what}project named {name!r} has a container on"
                            " this engine")
    services = [c for c in members if not is_oneoff(c)]

    async def start(c: Container) -> None:
        if c.state == "paused":
            with contextlib.suppress(Conflict):
                await unpause_container(client, c.id)
        else:
            await ensure_started(client, c.id)

    if action == "start":
        return await _each([c for c in services if not c.running], start, action)
    if action == "stop":
        return await _each([c for c in members if c.state in ("running", "paused", "restarting")],
                           lambda c: ensure_stopped(client, c.id, paused=c.state == "paused"),
                           action)
    if action == "restart":
        return await _each(services, lambda c: ensure_restarted(client, c.id), action)
    if action == "pause":
        return await _each([c for c in members if c.running],
                           lambda c: pause_container(client, c.id), action)
    return await _each([c for c in members if c.state == "paused"],
                       lambda c: unpause_container(client, c.id), action)


@dataclass(frozen=True, slots=True)
class ProjectRemovalPlan:
    """Exactly what removing a project takes away, listed before anything goes."""

    project: str
    containers: tuple[Container, ...]
    volumes: tuple[Volume, ...] = ()
    networks: tuple[Network, ...] = ()


async def project_removal_plan(
    client: Engine, name: str, *, with_volumes: bool = False, with_networks: bool = True,
) -> ProjectRemovalPlan:
    """What ``docker compose down [-v]`` of project ``name`` would remove, by label.

    Networks go with the containers by default (as ``down`` does); named volumes
    only when asked (``down -v``), since they hold data.
    """
    project = await compose_project(client, name)
    return ProjectRemovalPlan(
        name, project.containers,
        project.volumes if with_volumes else (),
        project.networks if with_networks else (),
    )


@dataclass(frozen=True, slots=True)
class ProjectRemovalResult:
    containers: tuple[str, ...]
    volumes: tuple[str, ...]
    networks: tuple[str, ...]
    #: Name of what stayed -> the engine's reason.
    failed: dict[str, str] = field(default_factory=dict)


async def remove_project(client: Engine, plan: ProjectRemovalPlan) -> ProjectRemovalResult:
    """Remove exactly what ``plan`` lists: containers (forced), then networks, then volumes.

    Nothing outside the plan goes, even if it appeared since (a container started
    meanwhile keeps its network, which is then reported as kept).  The containers'
    anonymous volumes go with them when the plan takes volumes.  Failures are
    collected, not raised, so one refusal does not strand the rest.
    """
    removed = await _each(
        plan.containers,
        lambda c: remove_if_present(client, c.id, force=True, volumes=bool(plan.volumes)),
        "remove")
    failed = dict(removed.failed)
    gone_networks: list[str] = []
    for network in plan.networks:
        try:
            await remove_network(client, network.id)
        except NotFound:
            pass
        except APIError as exc:
            failed[network.name] = exc.message
        else:
            gone_networks.append(network.name)
    gone_volumes: list[str] = []
    for volume in plan.volumes:
        try:
            await remove_volume(client, volume.name)
        except NotFound:
            pass
        except APIError as exc:
            failed[volume.name] = exc.message
        else:
            gone_volumes.append(volume.name)
    return ProjectRemovalResult(removed.done, tuple(gone_volumes), tuple(gone_networks), failed)


__all__ = [
    "COMPOSE_FILES_LABEL",
    "COMPOSE_NETWORK_LABEL",
    "COMPOSE_NUMBER_LABEL",
    "COMPOSE_ONEOFF_LABEL",
    "COMPOSE_SERVICE_LABEL",
    "COMPOSE_VOLUME_LABEL",
    "COMPOSE_WORKDIR_LABEL",
    "PROJECT_ACTIONS",
    "ComposeProject",
    "ComposeService",
    "ProjectActionResult",
    "ProjectRemovalPlan",
    "ProjectRemovalResult",
    "compose_project",
    "compose_projects",
    "container_health",
    "group_projects",
    "is_oneoff",
    "project_action",
    "project_removal_plan",
    "remove_project",
]
