"""Swarm: the cluster state, services, their tasks, nodes, and the actions that steer them.

Only a manager answers the cluster endpoints (``/services``, ``/tasks``,
``/nodes``); a worker or an engine outside any swarm answers 503, raised as
:class:`NotSwarmManager`.  :func:`swarm_state` reads ``/info``'s ``Swarm``
section, which every engine has (Podman's says ``inactive``), so callers can tell
what the engine is before asking a manager's questions.

Replicas are counted from the tasks (``running`` tasks that should be running,
against ``Spec.Mode.Replicated.Replicas``, or against the tasks that should run
for a global service), which also works where ``/services?status=true`` is
missing (before API 1.41).

Every change to a service or node is version-indexed: the spec is read with its
``Version.Index``, changed, and posted back with ``?version=``; a concurrent
change makes the daemon refuse ("update out of sequence"), and the change is
retried on the fresh spec a few times.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine._errors import APIError, BadRequest, NotSwarmManager, ProtocolError
from engine._models import parse_timestamp
from engine._shapes import decode_json, expect_list, expect_object, str_map, validated

if TYPE_CHECKING:
    from engine._client import Engine

__all__ = [
    "NODE_AVAILABILITIES",
    "STACK_NAMESPACE_LABEL",
    "SWARM_EVENT_TYPES",
    "Node",
    "PublishedPort",
    "Service",
    "ServiceUpdate",
    "SwarmState",
    "SwarmSummary",
    "Task",
    "create_service",
    "node",
    "nodes",
    "remove_service",
    "rollback_service",
    "scale_service",
    "service",
    "services",
    "swarm_state",
    "swarm_summary",
    "tasks",
    "update_service_image",
]

#: The label ``docker stack deploy`` puts on every service of a stack.
STACK_NAMESPACE_LABEL = "com.docker.stack.namespace"
#: ``/events`` types after which the Swarm lists are stale.
SWARM_EVENT_TYPES = ("service", "node", "secret", "config")
#: What a node's availability may be set to.
NODE_AVAILABILITIES = ("active", "pause", "drain")
#: How often a version-indexed change is retried after a concurrent one.
_UPDATE_ATTEMPTS = 4


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _obj(value: Any) -> Mapping[str, Any]:
    """A nested object that may be missing or null: empty then."""
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class SwarmState:
    """What ``/info`` says about this engine's place in a swarm.

    ``local_state``: ``inactive`` (no swarm), ``pending``, ``active``, ``error``,
    ``locked``.  ``control_available``: this engine is a manager (the cluster
    endpoints answer here).
    """

    local_state: str = "inactive"
    control_available: bool = False
    node_id: str = ""
    node_addr: str = ""
    cluster_id: str = ""
    nodes: int = 0
    managers: int = 0
    error: str = ""
    remote_managers: tuple[str, ...] = ()

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> SwarmState:
        """From a whole ``/info`` answer; an engine without the section is ``inactive``."""
        raw = _obj(info.get("Swarm"))
        remote = raw.get("RemoteManagers")
        return cls(
            local_state=_str(raw.get("LocalNodeState")) or "inactive",
            control_available=bool(raw.get("ControlAvailable")),
            node_id=_str(raw.get("NodeID")),
            node_addr=_str(raw.get("NodeAddr")),
            cluster_id=_str(_obj(raw.get("Cluster")).get("ID")),
            nodes=int(raw.get("Nodes") or 0),
            managers=int(raw.get("Managers") or 0),
            error=_str(raw.get("Error")),
            remote_managers=tuple(_str(_obj(m).get("Addr")) for m in remote)
            if isinstance(remote, list) else (),
        )

    @property
    def active(self) -> bool:
        """Part of a swarm (as a manager or a worker)."""
        return self.local_state == "active"

    @property
    def role(self) -> str:
        """``manager``, ``worker``, or the local state when not in a swarm (``inactive`` …)."""
        if not self.active:
            return self.local_state
        return "manager" if self.control_available else "worker"


@dataclass(frozen=True, slots=True)
class PublishedPort:
    """A port a service publishes: ``published`` on every node (ingress) or on the host."""

    target: int
    published: int = 0
    protocol: str = "tcp"
    mode: str = "ingress"

    def __str__(self) -> str:
        published = f"{self.published}:" if self.published else ""
        host = " (host)" if self.mode == "host" else ""
        return f"{published}{self.target}/{self.protocol}{host}"


@dataclass(frozen=True, slots=True)
class ServiceUpdate:
    """A service's rolling update as the daemon reports it (``UpdateStatus``)."""

    state: str
    message: str = ""
    started: datetime | None = None
    completed: datetime | None = None


@dataclass(frozen=True, slots=True)
class Task:
    """One task of a service: a slot (replicated) or a node's copy (global), and its container."""

    id: str
    service_id: str
    slot: int | None
    node_id: str
    desired_state: str
    state: str
    message: str = ""
    error: str = ""
    exit_code: int | None = None
    container_id: str = ""
    image: str = ""
    created: datetime | None = None
    updated: datetime | None = None
    timestamp: datetime | None = None

    @classmethod
    @validated("a task")
    def from_api(cls, raw: Mapping[str, Any]) -> Task:
        status = _obj(raw.get("Status"))
        container = _obj(status.get("ContainerStatus"))
        spec = _obj(_obj(raw.get("Spec")).get("ContainerSpec"))
        exit_code = container.get("ExitCode")
        slot = raw.get("Slot")
        if not raw.get("ID"):
            raise ProtocolError("the engine sent a task without an ID")
        return cls(
            id=str(raw["ID"]),
            service_id=_str(raw.get("ServiceID")),
            slot=int(slot) if isinstance(slot, int) and slot > 0 else None,
            node_id=_str(raw.get("NodeID")),
            desired_state=_str(raw.get("DesiredState")),
            state=_str(status.get("State")),
            message=_str(status.get("Message")),
            error=_str(status.get("Err")),
            exit_code=int(exit_code) if isinstance(exit_code, int) else None,
            container_id=_str(container.get("ContainerID")),
            image=_str(spec.get("Image")),
            created=parse_timestamp(raw.get("CreatedAt")),
            updated=parse_timestamp(raw.get("UpdatedAt")),
            timestamp=parse_timestamp(status.get("Timestamp")),
        )

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def live(self) -> bool:
        """Meant to run now (not an old task kept as history)."""
        return self.desired_state in ("running", "ready", "accepted")

    @property
    def failed(self) -> bool:
        return self.state in ("failed", "rejected")


@dataclass(frozen=True, slots=True)
class Service:
    """One service as ``docker service ls`` / ``inspect`` shows it, with its replica counts."""

    id: str
    name: str
    version: int
    mode: str  # "replicated", "global", "replicated-job", "global-job"
    image: str  # without the digest
    digest: str = ""
    replicas: int | None = None  # what a replicated service asks for
    running: int = 0
    desired: int = 0
    command: tuple[str, ...] = ()
    ports: tuple[PublishedPort, ...] = ()
    update: ServiceUpdate | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    created: datetime | None = None
    updated: datetime | None = None
    has_previous: bool = False
    update_parallelism: int = 1
    update_delay_ns: int = 0
    update_failure_action: str = "pause"
    update_order: str = "stop-first"

    @classmethod
    @validated("a service")
    def from_api(cls, raw: Mapping[str, Any]) -> Service:
        spec = _obj(raw.get("Spec"))
        if not raw.get("ID") or not spec.get("Name"):
            raise ProtocolError("the engine sent a service without an ID or a name")
        template = _obj(spec.get("TaskTemplate"))
        container = _obj(template.get("ContainerSpec"))
        reference = _str(container.get("Image"))
        image, _, digest = reference.partition("@")
        mode_spec = _obj(spec.get("Mode"))
        replicas: int | None = None
        if "Replicated" in mode_spec:
            mode = "replicated"
            replicas = int(_obj(mode_spec["Replicated"]).get("Replicas") or 0)
        elif "Global" in mode_spec:
            mode = "global"
        elif "ReplicatedJob" in mode_spec:
            mode = "replicated-job"
        elif "GlobalJob" in mode_spec:
            mode = "global-job"
        else:
            mode = "replicated"
        endpoint = _obj(raw.get("Endpoint"))
        ports = endpoint.get("Ports") or _obj(spec.get("EndpointSpec")).get("Ports") or []
        status = raw.get("UpdateStatus")
        update_config = _obj(spec.get("UpdateConfig"))
        args = container.get("Args") or []
        command = container.get("Command") or []
        return cls(
            id=str(raw["ID"]),
            name=str(spec["Name"]),
            version=int(_obj(raw.get("Version")).get("Index") or 0),
            mode=mode,
            image=image,
            digest=digest,
            replicas=replicas,
            command=tuple(str(a) for a in [*command, *args]),
            ports=tuple(
                PublishedPort(
                    target=int(_obj(p).get("TargetPort") or 0),
                    published=int(_obj(p).get("PublishedPort") or 0),
                    protocol=_str(_obj(p).get("Protocol")) or "tcp",
                    mode=_str(_obj(p).get("PublishMode")) or "ingress",
                ) for p in ports if isinstance(p, Mapping)),
            update=ServiceUpdate(
                state=_str(status.get("State")),
                message=_str(status.get("Message")),
                started=parse_timestamp(status.get("StartedAt")),
                completed=parse_timestamp(status.get("CompletedAt")),
            ) if isinstance(status, Mapping) and status.get("State") else None,
            labels=str_map(spec.get("Labels")),
            created=parse_timestamp(raw.get("CreatedAt")),
            updated=parse_timestamp(raw.get("UpdatedAt")),
            has_previous=isinstance(raw.get("PreviousSpec"), Mapping),
            update_parallelism=int(update_config.get("Parallelism", 1) or 0),
            update_delay_ns=int(update_config.get("Delay") or 0),
            update_failure_action=_str(update_config.get("FailureAction")) or "pause",
            update_order=_str(update_config.get("Order")) or "stop-first",
        )

    def with_tasks(self, service_tasks: Sequence[Task]) -> Service:
        """This service with its running/desired counts taken from its tasks."""
        mine = [t for t in service_tasks if t.service_id == self.id]
        running = sum(1 for t in mine if t.state == "running" and t.desired_state == "running")
        if self.replicas is not None:
            desired = self.replicas
        else:
            desired = sum(1 for t in mine if t.desired_state == "running")
        return replace(self, running=running, desired=desired)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def stack(self) -> str:
        """The stack (``docker stack deploy`` namespace) it belongs to; empty if none."""
        return self.labels.get(STACK_NAMESPACE_LABEL, "")

    @property
    def image_with_digest(self) -> str:
        return f"{self.image}@{self.digest}" if self.digest else self.image

    @property
    def mode_text(self) -> str:
        """``replicated 3`` / ``global`` as ``docker service ls`` says it."""
        return f"replicated {self.replicas}" if self.replicas is not None else self.mode


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the swarm as ``docker node ls`` / ``inspect`` shows it."""

    id: str
    version: int
    hostname: str
    role: str  # "manager" or "worker"
    availability: str  # "active", "pause", "drain"
    state: str  # "ready", "down", "unknown", "disconnected"
    address: str = ""
    message: str = ""
    leader: bool = False
    reachability: str = ""  # managers only: "reachable", "unreachable", "unknown"
    engine_version: str = ""
    os: str = ""
    architecture: str = ""
    nano_cpus: int = 0
    memory_bytes: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    engine_labels: Mapping[str, str] = field(default_factory=dict)
    name: str = ""

    @classmethod
    @validated("a node")
    def from_api(cls, raw: Mapping[str, Any]) -> Node:
        if not raw.get("ID"):
            raise ProtocolError("the engine sent a node without an ID")
        spec = _obj(raw.get("Spec"))
        description = _obj(raw.get("Description"))
        platform = _obj(description.get("Platform"))
        resources = _obj(description.get("Resources"))
        engine_info = _obj(description.get("Engine"))
        status = _obj(raw.get("Status"))
        manager = raw.get("ManagerStatus")
        manager = manager if isinstance(manager, Mapping) else None
        return cls(
            id=str(raw["ID"]),
            version=int(_obj(raw.get("Version")).get("Index") or 0),
            hostname=_str(description.get("Hostname")),
            role=_str(spec.get("Role")) or "worker",
            availability=_str(spec.get("Availability")) or "active",
            state=_str(status.get("State")),
            address=_str(status.get("Addr")),
            message=_str(status.get("Message")),
            leader=bool(manager.get("Leader")) if manager else False,
            reachability=_str(manager.get("Reachability")) if manager else "",
            engine_version=_str(engine_info.get("EngineVersion")),
            os=_str(platform.get("OS")),
            architecture=_str(platform.get("Architecture")),
            nano_cpus=int(resources.get("NanoCPUs") or 0),
            memory_bytes=int(resources.get("MemoryBytes") or 0),
            labels=str_map(spec.get("Labels")),
            engine_labels=str_map(engine_info.get("Labels")),
            name=_str(spec.get("Name")),
        )

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def manager_status(self) -> str:
        """``Leader`` / ``Reachable`` / ``Unreachable`` as ``docker node ls`` says; empty for
        a worker."""
        if self.leader:
            return "Leader"
        return self.reachability.capitalize()

    @property
    def cpus(self) -> float:
        return self.nano_cpus / 1e9


@dataclass(frozen=True, slots=True)
class SwarmSummary:
    """The swarm at a glance, for ``dockyard doctor``: its state, and counts when a manager."""

    state: SwarmState
    node_count: int | None = None
    manager_count: int | None = None
    services: int | None = None
    tasks: int | None = None
    running_tasks: int | None = None


# -- reading ---------------------------------------------------------------------------


async def swarm_state(client: Engine) -> SwarmState:
    """This engine's swarm state, from ``/info`` (every engine answers it)."""
    info = expect_object(await client.get_json("/info"), "the system information")
    try:
        return SwarmState.from_info(info)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"the engine sent a Swarm section of the wrong shape ({exc})") \
            from None


def _filters(**values: Sequence[str]) -> dict[str, str]:
    return {"filters": json.dumps({k: list(v) for k, v in values.items() if v})}


async def tasks(client: Engine, *, service: str | None = None, node: str | None = None,
                live_only: bool = False) -> list[Task]:
    """Tasks (of one service or node, or all), newest first; ``live_only``: the ones meant
    to run now, without the history of earlier ones."""
    filters: dict[str, Sequence[str]] = {}
    if service:
        filters["service"] = [service]
    if node:
        filters["node"] = [node]
    if live_only:
        filters["desired-state"] = ["running"]
    raw = await client.get_json("/tasks", _filters(**filters) if filters else None)
    found = [Task.from_api(item) for item in expect_list(raw, "the list of tasks")]
    return sorted(found, key=lambda t: t.created.timestamp() if t.created else 0.0,
                  reverse=True)


async def services(client: Engine, *, label: str | None = None) -> list[Service]:
    """Every service (with ``label`` "k=v" or "k", those only), with replica counts."""
    params = _filters(label=[label]) if label else None
    raw = await client.get_json("/services", params)
    found = [Service.from_api(item) for item in expect_list(raw, "the list of services")]
    if not found:
        return []
    every = await tasks(client)
    return sorted((s.with_tasks(every) for s in found), key=lambda s: s.name)


async def service(client: Engine, name_or_id: str) -> Service:
    """One service, with replica counts; :class:`NotFound` if there is none."""
    found = Service.from_api(await client.get_json(f"/services/{name_or_id}"))
    return found.with_tasks(await tasks(client, service=found.id))


async def nodes(client: Engine) -> list[Node]:
    """Every node of the swarm, managers first, then by hostname."""
    raw = await client.get_json("/nodes")
    found = [Node.from_api(item) for item in expect_list(raw, "the list of nodes")]
    return sorted(found, key=lambda n: (n.role != "manager", n.hostname, n.id))


async def node(client: Engine, name_or_id: str) -> Node:
    return Node.from_api(await client.get_json(f"/nodes/{name_or_id}"))


async def swarm_summary(client: Engine) -> SwarmSummary:
    """The state, and (on a manager) how many nodes, managers, services and tasks there are."""
    state = await swarm_state(client)
    if not state.control_available:
        return SwarmSummary(state)
    try:
        every_node = await nodes(client)
        found = await client.get_json("/services")
        every_task = await tasks(client, live_only=True)
    except NotSwarmManager:  # demoted between the two calls
        return SwarmSummary(state)
    return SwarmSummary(
        state,
        node_count=len(every_node),
        manager_count=sum(1 for n in every_node if n.role == "manager"),
        services=len(expect_list(found, "the list of services")),
        tasks=len(every_task),
        running_tasks=sum(1 for t in every_task if t.state == "running"),
    )


# -- changing --------------------------------------------------------------------------


async def create_service(
    client: Engine,
    image: str,
    *,
    name: str | None = None,
    replicas: int | None = 1,
    command: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    restart_condition: str | None = None,
    max_attempts: int | None = None,
) -> str:
    """Create a service; returns its ID.  ``replicas`` None: a global service.

    ``command`` replaces the image's CMD (its arguments, as ``docker service
    create IMAGE CMD…`` does), keeping the ENTRYPOINT.
    """
    if not image.strip():
        raise BadRequest(400, "a service needs an image")
    if replicas is not None and replicas < 0:
        raise BadRequest(400, f"replicas must be 0 or more, not {replicas}")
    container: dict[str, Any] = {"Image": image}
    if command:
        container["Args"] = list(command)
    if env:
        container["Env"] = [f"{k}={v}" for k, v in env.items()]
    template: dict[str, Any] = {"ContainerSpec": container}
    restart: dict[str, Any] = {}
    if restart_condition:
        restart["Condition"] = restart_condition
    if max_attempts is not None:
        restart["MaxAttempts"] = max_attempts
    if restart:
        template["RestartPolicy"] = restart
    spec: dict[str, Any] = {
        "TaskTemplate": template,
        "Mode": {"Replicated": {"Replicas": replicas}} if replicas is not None
        else {"Global": {}},
        "Labels": dict(labels or {}),
    }
    if name:
        spec["Name"] = name
    response = await client.request("POST", "/services/create", json=spec)
    created = expect_object(decode_json(response.content, "the created service"),
                            "the created service")
    ident = created.get("ID")  # "ID" here, where containers say "Id"
    if not isinstance(ident, str) or not ident:
        raise ProtocolError("the engine did not say which service it created")
    return ident


async def _change_service(client: Engine, name_or_id: str,
                          change: Callable[[dict[str, Any]], None],
                          params: Mapping[str, str] | None = None) -> Service:
    """Read the spec with its version, change it, post it back; retry after a concurrent
    change ("update out of sequence")."""
    for attempt in range(_UPDATE_ATTEMPTS):
        raw = expect_object(await client.get_json(f"/services/{name_or_id}"), "a service")
        current = Service.from_api(raw)
        spec = json.loads(json.dumps(raw.get("Spec") or {}))
        change(spec)
        try:
            await client.request(
                "POST", f"/services/{current.id}/update",
                params={"version": str(current.version), **(params or {})}, json=spec)
        except APIError as exc:
            if "out of sequence" in exc.message and attempt + 1 < _UPDATE_ATTEMPTS:
                continue
            raise
        return await service(client, current.id)
    raise AssertionError("unreachable")  # pragma: no cover


async def scale_service(client: Engine, name_or_id: str, replicas: int) -> Service:
    """Ask a replicated service for ``replicas`` tasks; a global one cannot be scaled."""
    if replicas < 0:
        raise BadRequest(400, f"replicas must be 0 or more, not {replicas}")

    def change(spec: dict[str, Any]) -> None:
        mode = spec.get("Mode") or {}
        if "Replicated" not in mode:
            raise BadRequest(400, f"{spec.get('Name', name_or_id)} is not a replicated"
                             " service: only those can be scaled")
        mode["Replicated"] = {**(mode["Replicated"] or {}), "Replicas": replicas}

    return await _change_service(client, name_or_id, change)


async def update_service_image(client: Engine, name_or_id: str, image: str) -> Service:
    """Roll the service onto ``image`` (its update config decides how: parallelism, delay,
    failure action)."""
    if not image.strip():
        raise BadRequest(400, "an image is needed to update a service to")

    def change(spec: dict[str, Any]) -> None:
        template = spec.setdefault("TaskTemplate", {})
        template.setdefault("ContainerSpec", {})["Image"] = image

    return await _change_service(client, name_or_id, change)


async def rollback_service(client: Engine, name_or_id: str) -> Service:
    """Go back to the service's previous spec (as ``docker service rollback``)."""
    current = Service.from_api(await client.get_json(f"/services/{name_or_id}"))
    if not current.has_previous:
        raise BadRequest(400, f"{current.name} has no previous version to roll back to")
    return await _change_service(client, current.id, lambda spec: None,
                                 {"rollback": "previous"})


async def remove_service(client: Engine, name_or_id: str) -> None:
    """Remove the service (its tasks stop and go)."""
    await client.request("DELETE", f"/services/{name_or_id}")
