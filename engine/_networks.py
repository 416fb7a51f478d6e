"""Networks: list with their attached containers, create, remove, prune with a preview, connect.

``GET /networks`` on Docker leaves ``Containers`` empty, so the list inspects
each network; the endpoints there carry addresses but not aliases, which only
the container's own inspect has (``NetworkSettings.Networks[…].Aliases``), so
those are read per attached container.  Podman lists attached containers that
are not running with empty addresses, and does not report a network's IP
range (``IPRange``) back.

The built-in networks (``bridge``, ``host``, ``none`` on Docker, ``podman`` on
Podman) are marked :attr:`Network.builtin`: they are never offered for removal
or pruning (the daemons refuse anyway).

Prune: Docker removes a network without endpoints (no *running* container is
on it); Podman removes one no container, in any state, is configured for.  The
preview follows the daemon it talks to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engine._client import Engine, Filters
from engine._errors import APIError, NotFound, ProtocolError, error_for_status
from engine._models import COMPOSE_PROJECT_LABEL, parse_timestamp
from engine._run import InvalidInput
from engine._shapes import require_object, str_map
from engine._volumes import PruneResult, filters_param

#: How many inspects a list runs at once (one per network, one per attached container).
_CONCURRENT_INSPECTS = 16

#: ``/events`` actions (type ``network``) after which a network list is stale.
NETWORK_EVENT_ACTIONS = ("create", "destroy", "remove", "connect", "disconnect")

#: Names the daemons create themselves; removing them is refused.
BUILTIN_NETWORKS = frozenset({"bridge", "host", "none", "podman", "ingress", "docker_gwbridge"})


def _address(text: Any) -> str | None:
    """``10.0.0.2/24`` → ``10.0.0.2``; empty → None."""
    value = str(text or "")
    return value.partition("/")[0] or None


@dataclass(frozen=True, slots=True)
class IPAMPool:
    """One IPAM configuration of a network: its subnet, gateway and allocation range."""

    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> IPAMPool:
        raw = require_object(raw, "an IPAM config")
        return cls(
            subnet=str(raw["Subnet"]) if raw.get("Subnet") else None,
            gateway=str(raw["Gateway"]) if raw.get("Gateway") else None,
            ip_range=str(raw["IPRange"]) if raw.get("IPRange") else None,
        )


@dataclass(frozen=True, slots=True)
class NetworkEndpoint:
    """A container attached to a network, with its addresses and aliases there."""

    container_id: str
    container_name: str
    ipv4: str | None = None
    ipv6: str | None = None
    mac: str | None = None
    aliases: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, container_id: str, raw: Mapping[str, Any]) -> NetworkEndpoint:
        raw = require_object(raw, "a network endpoint")
        return cls(
            container_id=container_id,
            container_name=str(raw.get("Name") or "").lstrip("/"),
            ipv4=_address(raw.get("IPv4Address")),
            ipv6=_address(raw.get("IPv6Address")),
            mac=str(raw["MacAddress"]) if raw.get("MacAddress") else None,
        )


@dataclass(frozen=True, slots=True)
class Network:
    """One network as ``docker network inspect`` shows it."""

    id: str
    name: str
    driver: str = "bridge"
    scope: str = "local"
    created: datetime | None = None
    internal: bool = False
    attachable: bool = False
    ingress: bool = False
    ipv6: bool = False
    ipam: tuple[IPAMPool, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    containers: tuple[NetworkEndpoint, ...] = ()

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Network:
        raw = require_object(raw, "a network")
        if not raw.get("Id") or not raw.get("Name"):
            raise ProtocolError("the engine sent a network without an ID or a name")
        ipam = raw.get("IPAM")
        configs = (ipam.get("Config") if isinstance(ipam, Mapping) else None) or []
        attached = raw.get("Containers")
        endpoints = attached.items() if isinstance(attached, Mapping) else ()
        return cls(
            id=str(raw["Id"]),
            name=str(raw["Name"]),
            driver=str(raw.get("Driver") or ""),
            scope=str(raw.get("Scope") or "local"),
            created=parse_timestamp(raw.get("Created")),
            internal=bool(raw.get("Internal")),
            attachable=bool(raw.get("Attachable")),
            ingress=bool(raw.get("Ingress")),
            ipv6=bool(raw.get("EnableIPv6")),
            ipam=tuple(IPAMPool.from_api(c) for c in configs),
            labels=str_map(raw.get("Labels")),
            options=str_map(raw.get("Options")),
            containers=tuple(NetworkEndpoint.from_api(str(k), v) for k, v in endpoints),
        )

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def builtin(self) -> bool:
        """Made by the daemon itself (bridge, host, none, podman, swarm's ingress)."""
        return self.name in BUILTIN_NETWORKS or self.ingress

    @property
    def compose_project(self) -> str | None:
        return self.labels.get(COMPOSE_PROJECT_LABEL) or None

    @property
    def subnets(self) -> tuple[str, ...]:
        return tuple(p.subnet for p in self.ipam if p.subnet)

    @property
    def gateways(self) -> tuple[str, ...]:
        return tuple(p.gateway for p in self.ipam if p.gateway)


async def _aliases(client: Engine, container_id: str) -> Mapping[str, tuple[str, ...]]:
    """A container's aliases per network name, from its inspect; {} if it is gone."""
    try:
        raw = await client.get_json(f"/containers/{container_id}/json")
    except NotFound:
        return {}
    settings = require_object(raw, "a container").get("NetworkSettings")
    networks = settings.get("Networks") if isinstance(settings, Mapping) else None
    if not isinstance(networks, Mapping):
        return {}
    return {
        str(name): tuple(str(a) for a in (value.get("Aliases") or []))
        for name, value in networks.items() if isinstance(value, Mapping)
    }


async def _with_aliases(client: Engine, found: Sequence[Network]) -> list[Network]:
    ids = sorted({e.container_id for n in found for e in n.containers})
    limit = asyncio.Semaphore(_CONCURRENT_INSPECTS)

    async def one(container_id: str) -> Mapping[str, tuple[str, ...]]:
        async with limit:
            return await _aliases(client, container_id)

    per_container = dict(zip(ids, await asyncio.gather(*(one(i) for i in ids)), strict=True))
    return [
        replace(n, containers=tuple(
            replace(e, aliases=per_container.get(e.container_id, {}).get(n.name, ()))
            for e in n.containers))
        for n in found
    ]


async def container_networks(client: Engine, container: str) -> dict[str, NetworkEndpoint]:
    """A container's side: the networks it is on (by name), its addresses and aliases there."""
    raw = require_object(await client.get_json(f"/containers/{container}/json"), "a container")
    settings = raw.get("NetworkSettings")
    attached = settings.get("Networks") if isinstance(settings, Mapping) else None
    name = str(raw.get("Name") or "").lstrip("/")
    found: dict[str, NetworkEndpoint] = {}
    for network_name, value in (attached.items() if isinstance(attached, Mapping) else ()):
        value = require_object(value, "a container's network")
        ipv6 = value.get("GlobalIPv6Address")
        found[str(network_name)] = NetworkEndpoint(
            container_id=str(raw.get("Id") or container),
            container_name=name,
            ipv4=str(value["IPAddress"]) if value.get("IPAddress") else None,
            ipv6=str(ipv6) if ipv6 else None,
            mac=str(value["MacAddress"]) if value.get("MacAddress") else None,
            aliases=tuple(str(a) for a in value.get("Aliases") or []),
        )
    return found


async def network(client: Engine, name_or_id: str, *, aliases: bool = True) -> Network:
    """``docker network inspect``, with each attached container's aliases unless told not to."""
    found = Network.from_api(await client.get_json(f"/networks/{name_or_id}"))
    return (await _with_aliases(client, [found]))[0] if aliases else found


async def networks(
    client: Engine, *, filters: Filters | None = None, aliases: bool = True
) -> list[Network]:
    """Every network (``filters`` as for ``docker network ls``), with attached containers.

    Docker's list leaves ``Containers`` empty: each network is inspected too.
    """
    raw = await client.get_json("/networks", filters_param(filters))
    if not isinstance(raw, list):
        raise ProtocolError("the engine's network list is not a list")
    listed = [Network.from_api(item) for item in raw]

    limit = asyncio.Semaphore(_CONCURRENT_INSPECTS)

    async def inspect(item: Network) -> Network | None:
        async with limit:
            try:
                return Network.from_api(await client.get_json(f"/networks/{item.id}"))
            except NotFound:  # removed between the list and the inspect
                return None

    found = [n for n in await asyncio.gather(*(inspect(n) for n in listed)) if n is not None]
    return await _with_aliases(client, found) if aliases else found


async def create_network(
    client: Engine,
    name: str,
    *,
    driver: str = "bridge",
    subnet: str | None = None,
    gateway: str | None = None,
    ip_range: str | None = None,
    internal: bool = False,
    attachable: bool = False,
    ipv6: bool = False,
    labels: Mapping[str, str] | None = None,
    options: Mapping[str, str] | None = None,
) -> Network:
    """Create a network; a gateway or IP range needs a subnet (the daemon's rule, checked here)."""
    if (gateway or ip_range) and not subnet:
        raise InvalidInput("a gateway or IP range needs a subnet")
    body: dict[str, Any] = {
        "Name": name,
        "Driver": driver or "bridge",
        "Internal": internal,
        "Attachable": attachable,
        "EnableIPv6": ipv6,
        "Labels": dict(labels or {}),
        "Options": dict(options or {}),
        "CheckDuplicate": True,
    }
    if subnet:
        pool = {"Subnet": subnet}
        if gateway:
            pool["Gateway"] = gateway
        if ip_range:
            pool["IPRange"] = ip_range
        body["IPAM"] = {"Driver": "default", "Config": [pool]}
    response = await client.request("POST", "/networks/create", json=body)
    try:
        created = require_object(response.json(), "a network creation answer")
    except ValueError as exc:
        raise ProtocolError(f"unreadable answer from /networks/create: {exc}") from exc
    return await network(client, str(created.get("Id") or name), aliases=False)


async def remove_network(client: Engine, name_or_id: str) -> None:
    """Remove a network; the daemon refuses built-in ones and ones with containers on them.

    Docker refuses (403 "has active endpoints") while a running container is
    attached.  Podman's compatible API instead disconnects them silently and
    removes the network, so on Podman the running containers are looked at
    first and the same refusal, in Docker's words, is raised here.
    """
    if client.version.is_podman:
        await _refuse_if_active(client, name_or_id)
    await client.request("DELETE", f"/networks/{name_or_id}", timeout=60.0)


async def _refuse_if_active(client: Engine, name_or_id: str) -> None:
    """Docker's 403 when a running container is on the network (Podman would detach it)."""
    raw = require_object(await client.get_json(f"/networks/{name_or_id}"), "a network")
    name, network_id = str(raw.get("Name") or name_or_id), str(raw.get("Id") or raw.get("ID") or "")
    for item in await client.get_json("/containers/json") or []:  # running ones only
        settings = item.get("NetworkSettings") if isinstance(item, Mapping) else None
        nets = settings.get("Networks") if isinstance(settings, Mapping) else None
        if isinstance(nets, Mapping) and (name in nets or any(
                isinstance(v, Mapping) and v.get("NetworkID") == network_id and network_id
                for v in nets.values())):
            raise error_for_status(
                403, f"error while removing network: network {name} id {network_id}"
                     " has active endpoints")


async def connect_network(
    client: Engine,
    network_name: str,
    container: str,
    *,
    aliases: Sequence[str] = (),
    ipv4: str | None = None,
    ipv6: str | None = None,
) -> None:
    """Attach a container (running or not), with aliases and a fixed address.

    A fixed address needs a user-defined network with a subnet (the daemon says so).
    """
    endpoint: dict[str, Any] = {"Aliases": list(aliases)}
    ipam: dict[str, str] = {}
    if ipv4:
        ipam["IPv4Address"] = ipv4
    if ipv6:
        ipam["IPv6Address"] = ipv6
    if ipam:
        endpoint["IPAMConfig"] = ipam
    await client.request("POST", f"/networks/{network_name}/connect",
                         json={"Container": container, "EndpointConfig": endpoint}, timeout=60.0)


async def disconnect_network(
    client: Engine, network_name: str, container: str, *, force: bool = False
) -> None:
    await client.request("POST", f"/networks/{network_name}/disconnect",
                         json={"Container": container, "Force": force}, timeout=60.0)


@dataclass(frozen=True, slots=True)
class NetworkPrunePlan:
    """The networks a prune would remove (networks hold no bytes of their own)."""

    networks: tuple[Network, ...]
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)


async def network_prune_plan(
    client: Engine, *, filters: Filters | None = None
) -> NetworkPrunePlan:
    """Exactly which networks ``POST /networks/prune`` (same filters) would remove."""
    found = await networks(client, filters=filters, aliases=False)
    configured: set[str] = set()
    if client.version.is_podman:
        for item in await client.get_json("/containers/json", {"all": 1}) or []:
            settings = item.get("NetworkSettings") if isinstance(item, Mapping) else None
            nets = settings.get("Networks") if isinstance(settings, Mapping) else None
            if isinstance(nets, Mapping):
                configured.update(str(n) for n in nets)
    chosen = tuple(
        n for n in found
        if not n.builtin and not n.containers and n.name not in configured
        and n.scope != "swarm"
    )
    return NetworkPrunePlan(chosen, {k: list(v) for k, v in (filters or {}).items()})


async def prune_networks(client: Engine, *, filters: Filters | None = None) -> PruneResult:
    """``docker network prune``: unused networks (narrowed by ``filters``); their names."""
    response = await client.request("POST", "/networks/prune", params=filters_param(filters),
                                    timeout=300.0)
    data = require_object(response.json() or {}, "a prune answer")
    return PruneResult(tuple(str(n) for n in data.get("NetworksDeleted") or []), 0)


async def remove_networks(client: Engine, names: Sequence[str]) -> PruneResult:
    """Remove exactly these networks (a ticked clean-up list); failures reported, not raised."""
    deleted: list[str] = []
    failed: dict[str, str] = {}
    for name in names:
        try:
            await remove_network(client, name)
        except NotFound:
            continue
        except APIError as exc:
            failed[name] = exc.message
        else:
            deleted.append(name)
    return PruneResult(tuple(deleted), 0, failed)
