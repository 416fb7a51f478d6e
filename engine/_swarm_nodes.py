"""Swarm beyond services: node changes (availability and labels), secrets and configs,
stacks, and joining the swarm (init, leave, join tokens).

Secrets and configs are listed with the services that use them (read from the
services' specs, as the daemon has no "used by" of its own).  A secret's data is
never read back: the engine does not hand it out, and nothing here asks for it.

Removing a stack is what ``docker stack rm`` does: every service, network,
secret and config labelled ``com.docker.stack.namespace=NAME`` goes, services
first (networks are refused while a task of a removed service still holds them,
so their removal is retried until the tasks are gone).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine._errors import APIError, BadRequest, NotFound, ProtocolError
from engine._models import parse_timestamp
from engine._shapes import decode_json, expect_list, expect_object, str_map
from engine._swarm import (
    NODE_AVAILABILITIES,
    STACK_NAMESPACE_LABEL,
    Node,
    Service,
    node,
)

if TYPE_CHECKING:
    from engine._client import Engine

__all__ = [
    "JoinCommands",
    "StackRemoval",
    "SwarmObject",
    "configs",
    "create_config",
    "create_secret",
    "init_swarm",
    "join_commands",
    "leave_swarm",
    "remove_config",
    "remove_secret",
    "remove_stack",
    "secrets",
    "update_node",
]

_UPDATE_ATTEMPTS = 4
#: How long a stack's networks are retried while its tasks go (seconds).
_NETWORK_WAIT = 60.0


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _filters(**values: Sequence[str]) -> dict[str, str]:
    return {"filters": json.dumps({k: list(v) for k, v in values.items() if v})}


@dataclass(frozen=True, slots=True)
class SwarmObject:
    """A secret or a config: its name, when it was made, and the services that use it."""

    kind: str  # "secret" or "config"
    id: str
    name: str
    version: int = 0
    created: datetime | None = None
    updated: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    used_by: tuple[str, ...] = ()  # service names

    @classmethod
    def from_api(cls, kind: str, raw: Mapping[str, Any],
                 used_by: Sequence[str] = ()) -> SwarmObject:
        spec = _obj(raw.get("Spec"))
        if not raw.get("ID") or not spec.get("Name"):
            raise ProtocolError(f"the engine sent a {kind} without an ID or a name")
        return cls(
            kind=kind,
            id=str(raw["ID"]),
            name=str(spec["Name"]),
            version=int(_obj(raw.get("Version")).get("Index") or 0),
            created=parse_timestamp(raw.get("CreatedAt")),
            updated=parse_timestamp(raw.get("UpdatedAt")),
            labels=str_map(spec.get("Labels")),
            used_by=tuple(sorted(used_by)),
        )

    @property
    def stack(self) -> str:
        return self.labels.get(STACK_NAMESPACE_LABEL, "")


async def _users(client: Engine, kind: str) -> dict[str, list[str]]:
    """Object ID → names of the services whose task template refers to it."""
    raw = expect_list(await client.get_json("/services"), "the list of services")
    users: dict[str, list[str]] = {}
    key = "Secrets" if kind == "secret" else "Configs"
    for item in raw:
        spec = _obj(_obj(item).get("Spec"))
        container = _obj(_obj(spec.get("TaskTemplate")).get("ContainerSpec"))
        for ref in container.get(key) or []:
            ident = _obj(ref).get(f"{kind.capitalize()}ID")
            if isinstance(ident, str) and ident:
                users.setdefault(ident, []).append(str(spec.get("Name") or item.get("ID")))
    return users


async def _objects(client: Engine, kind: str, label: str | None) -> list[SwarmObject]:
    raw = await client.get_json(f"/{kind}s", _filters(label=[label]) if label else None)
    users = await _users(client, kind)
    found = [SwarmObject.from_api(kind, _obj(item), users.get(str(_obj(item).get("ID")), ()))
             for item in expect_list(raw, f"the list of {kind}s")]
    return sorted(found, key=lambda o: o.name)


async def secrets(client: Engine, *, label: str | None = None) -> list[SwarmObject]:
    """The swarm's secrets (names, dates, users; never their data), by name."""
    return await _objects(client, "secret", label)


async def configs(client: Engine, *, label: str | None = None) -> list[SwarmObject]:
    """The swarm's configs (names, dates, users), by name."""
    return await _objects(client, "config", label)


async def _create(client: Engine, kind: str, name: str, data: bytes,
                  labels: Mapping[str, str] | None) -> str:
    if not name.strip():
        raise BadRequest(400, f"a {kind} needs a name")
    spec = {"Name": name, "Data": base64.b64encode(data).decode("ascii"),
            "Labels": dict(labels or {})}
    response = await client.request("POST", f"/{kind}s/create", json=spec)
    created = expect_object(decode_json(response.content, f"the created {kind}"),
                            f"the created {kind}")
    ident = created.get("ID")
    if not isinstance(ident, str) or not ident:
        raise ProtocolError(f"the engine did not say which {kind} it created")
    return ident


async def create_secret(client: Engine, name: str, data: bytes, *,
                        labels: Mapping[str, str] | None = None) -> str:
    """Store a secret (its data goes to the managers' encrypted log); returns its ID."""
    return await _create(client, "secret", name, data, labels)


async def create_config(client: Engine, name: str, data: bytes, *,
                        labels: Mapping[str, str] | None = None) -> str:
    """Store a config; returns its ID."""
    return await _create(client, "config", name, data, labels)


async def remove_secret(client: Engine, name_or_id: str) -> None:
    """Remove a secret (refused while a service uses it)."""
    await client.request("DELETE", f"/secrets/{name_or_id}")


async def remove_config(client: Engine, name_or_id: str) -> None:
    """Remove a config (refused while a service uses it)."""
    await client.request("DELETE", f"/configs/{name_or_id}")


# -- nodes -------------------------------------------------------------------------------


async def update_node(client: Engine, name_or_id: str, *, availability: str | None = None,
                      labels: Mapping[str, str] | None = None) -> Node:
    """Set a node's availability and/or replace its labels (version-indexed, retried after
    a concurrent change)."""
    if availability is not None and availability not in NODE_AVAILABILITIES:
        raise BadRequest(400, f"availability must be one of {', '.join(NODE_AVAILABILITIES)},"
                         f" not {availability!r}")
    if labels is not None:
        for key in labels:
            if not key.strip() or "=" in key:
                raise BadRequest(400, f"a node label needs a name without '=', not {key!r}")
    for attempt in range(_UPDATE_ATTEMPTS):
        raw = expect_object(await client.get_json(f"/nodes/{name_or_id}"), "a node")
        current = Node.from_api(raw)
        spec = dict(_obj(raw.get("Spec")))
        if availability is not None:
            spec["Availability"] = availability
        if labels is not None:
            spec["Labels"] = dict(labels)
        try:
            await client.request("POST", f"/nodes/{current.id}/update",
                                 params={"version": str(current.version)}, json=spec)
        except APIError as exc:
            if "out of sequence" in exc.message and attempt + 1 < _UPDATE_ATTEMPTS:
                continue
            raise
        return await node(client, current.id)
    raise AssertionError("unreachable")  # pragma: no cover


# -- stacks ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StackRemoval:
    """What removing a stack took away (names), and what it could not."""

    stack: str
    services: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()

    @property
    def nothing(self) -> bool:
        return not (self.services or self.networks or self.secrets or self.configs)


async def remove_stack(client: Engine, stack: str) -> StackRemoval:
    """``docker stack rm STACK``: its services, then secrets, configs and networks."""
    if not stack.strip():
        raise BadRequest(400, "which stack? A stack needs a name")
    label = f"{STACK_NAMESPACE_LABEL}={stack}"
    failures: list[str] = []

    async def remove(path: str, what: str) -> bool:
        try:
            await client.request("DELETE", path)
        except NotFound:
            return True
        except APIError as exc:
            failures.append(f"{what}: {exc.message}")
            return False
        return True

    listed = expect_list(await client.get_json("/services", _filters(label=[label])),
                         "the list of services")
    found = [Service.from_api(_obj(item)) for item in listed]
    removed_services = [s.name for s in found if await remove(f"/services/{s.id}",
                                                              f"service {s.name}")]
    removed: dict[str, list[str]] = {"secrets": [], "configs": []}
    for kind in ("secrets", "configs"):
        for item in expect_list(await client.get_json(f"/{kind}", _filters(label=[label])),
                                f"the list of {kind}"):
            name = str(_obj(_obj(item).get("Spec")).get("Name") or _obj(item).get("ID"))
            if await remove(f"/{kind}/{_obj(item).get('ID')}", f"{kind[:-1]} {name}"):
                removed[kind].append(name)
    networks = [_obj(n) for n in expect_list(
        await client.get_json("/networks", _filters(label=[label])), "the list of networks")]
    removed_networks: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _NETWORK_WAIT
    for net in networks:
        name = str(net.get("Name") or net.get("Id"))
        while True:
            try:
                await client.request("DELETE", f"/networks/{net.get('Id')}")
            except NotFound:
                pass
            except APIError as exc:
                # The removed services' tasks still hold it for a moment.
                if "in use" in exc.message and loop.time() < deadline:
                    await asyncio.sleep(0.5)
                    continue
                failures.append(f"network {name}: {exc.message}")
                break
            removed_networks.append(name)
            break
    return StackRemoval(stack, tuple(sorted(removed_services)), tuple(sorted(removed_networks)),
                        tuple(sorted(removed["secrets"])), tuple(sorted(removed["configs"])),
                        tuple(failures))


# -- joining -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinCommands:
    """What to run on another machine to join this manager's swarm."""

    worker: str
    manager: str
    address: str


async def join_commands(client: Engine) -> JoinCommands:
    """``docker swarm join-token worker|manager`` as commands (a manager only)."""
    swarm = expect_object(await client.get_json("/swarm"), "the swarm")
    tokens = _obj(swarm.get("JoinTokens"))
    info = expect_object(await client.get_json("/info"), "the system information")
    remote = _obj(info.get("Swarm")).get("RemoteManagers")
    node_id = _obj(info.get("Swarm")).get("NodeID")
    managers = [_obj(m) for m in remote] if isinstance(remote, list) else []
    # This manager's own address first; any manager's will do.
    managers.sort(key=lambda m: m.get("NodeID") != node_id)
    address = str(managers[0].get("Addr") or "") if managers else ""
    if not address:
        address = str(_obj(info.get("Swarm")).get("NodeAddr") or "") + ":2377"

    def command(token: Any) -> str:
        return f"docker swarm join --token {token} {address}" if token else ""

    return JoinCommands(command(tokens.get("Worker")), command(tokens.get("Manager")), address)


async def init_swarm(client: Engine, *, advertise_addr: str = "",
                     listen_addr: str = "0.0.0.0:2377",
                     default_addr_pool: Sequence[str] = ()) -> str:
    """``docker swarm init``: this engine becomes the first manager of a new swarm; returns
    its node ID.  ``advertise_addr`` empty: the engine picks (it refuses when it has
    several addresses and cannot tell which)."""
    body: dict[str, Any] = {"ListenAddr": listen_addr, "ForceNewCluster": False}
    if advertise_addr.strip():
        body["AdvertiseAddr"] = advertise_addr.strip()
    if default_addr_pool:
        body["DefaultAddrPool"] = list(default_addr_pool)
    response = await client.request("POST", "/swarm/init", json=body)
    node_id = decode_json(response.content, "the new node's ID")
    if not isinstance(node_id, str) or not node_id:
        raise ProtocolError("the engine did not say which node it made")
    return node_id


async def leave_swarm(client: Engine, *, force: bool = False) -> None:
    """``docker swarm leave``; a manager must ``force`` (it may be the swarm's last)."""
    await client.request("POST", "/swarm/leave", params={"force": "1" if force else "0"})
