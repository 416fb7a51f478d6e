"""Networks against real engines: a subnet, connect/disconnect seen by the CLI, prune preview."""

from __future__ import annotations

import json

import pytest

import engine
from tests.conftest import LABEL, EngineUnderTest, unique_name
from tests.disk_helpers import LABELS, OURS, disk_engine, free_subnet  # noqa: F401

pytestmark = pytest.mark.anyio


def cli_networks(target: EngineUnderTest, container: str) -> dict[str, dict[str, object]]:
    raw = target.cli("inspect", "--format", "{{json .NetworkSettings.Networks}}", container)
    networks: dict[str, dict[str, object]] = json.loads(raw)
    return networks


async def test_subnet_connect_and_disconnect(disk_engine: EngineUnderTest) -> None:  # noqa: F811
    subnet, gateway, prefix = free_subnet()
    name = unique_name("net")
    async with await disk_engine.open() as client:
        created = await engine.create_network(
            client, name, subnet=subnet, gateway=gateway, ip_range=f"{prefix}.128/25",
            labels={**LABELS, "com.docker.compose.project": "shop"})
        assert created.name == name and created.driver == "bridge"
        assert created.subnets == (subnet,)
        assert created.gateways == (gateway,)
        # Podman's compat API does not report the range back.
        expected_range = None if client.version.is_podman else f"{prefix}.128/25"
        assert created.ipam[0].ip_range == expected_range
        assert created.compose_project == "shop"
        assert not created.builtin and not created.internal

        _, container = disk_engine.create(disk_engine.image, "sleep", "300")
        disk_engine.cli("start", container)
        await engine.connect_network(client, name, container, aliases=["web", "shop-web"],
                                     ipv4=f"{prefix}.200")
        seen = cli_networks(disk_engine, container)[name]
        assert seen["IPAddress"] == f"{prefix}.200"
        assert {"web", "shop-web"} <= set(seen["Aliases"] or [])  # type: ignore[call-overload]

        # From the container's side too.
        mine = (await engine.container_networks(client, container))[name]
        assert mine.ipv4 == f"{prefix}.200" and {"web", "shop-web"} <= set(mine.aliases)

        [listed] = await engine.networks(client, filters={"name": [name]})
        [endpoint] = listed.containers
        assert endpoint.container_name == container
        assert endpoint.ipv4 == f"{prefix}.200"
        assert {"web", "shop-web"} <= set(endpoint.aliases)
        assert listed.labels[LABEL.partition("=")[0]] == LABEL.partition("=")[2]

        await engine.disconnect_network(client, name, container)
        assert name not in cli_networks(disk_engine, container)
        assert name not in await engine.container_networks(client, container)
        assert (await engine.network(client, name)).containers == ()


async def test_builtin_networks_marked_and_kept(disk_engine: EngineUnderTest) -> None:  # noqa: F811
    async with await disk_engine.open() as client:
        every = {n.name: n for n in await engine.networks(client, aliases=False)}
        default = "podman" if client.version.is_podman else "bridge"
        assert every[default].builtin
        if not client.version.is_podman:
            assert every["host"].builtin and every["none"].builtin
        with pytest.raises(engine.APIError):
            await engine.remove_network(client, default)
        assert disk_engine.cli("network", "inspect", "--format", "{{.Name}}", default) == default


async def test_prune_preview_is_what_the_prune_removes(
    disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    async with await disk_engine.open() as client:
        idle = await engine.create_network(client, unique_name("net"), labels=LABELS)
        busy = await engine.create_network(client, unique_name("net"), labels=LABELS)
        _, container = disk_engine.create("--network", busy.name, disk_engine.image,
                                          "sleep", "300")
        disk_engine.cli("start", container)

        plan = await engine.network_prune_plan(client, filters=OURS)
        assert [n.name for n in plan.networks] == [idle.name]
        pruned = await engine.prune_networks(client, filters=OURS)
        assert set(pruned.deleted) == {n.name for n in plan.networks}
        left = disk_engine.cli("network", "ls", "--format", "{{.Name}}", "--filter",
                               f"label={LABEL}").split()
        assert left == [busy.name]

        with pytest.raises(engine.APIError):  # containers on it: refused, not forced
            await engine.remove_network(client, busy.name)
        disk_engine.cli("rm", "-f", container)
        await engine.remove_network(client, busy.name)
        with pytest.raises(engine.NotFound):
            await engine.network(client, busy.name)


async def test_remove_refuses_while_a_running_container_is_attached(
    disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    """Docker refuses; Podman's compat API would detach the container and remove the
    network: the bindings refuse there too, in Docker's words."""
    async with await disk_engine.open() as client:
        network = await engine.create_network(client, unique_name("net"), labels=LABELS)
        _, container = disk_engine.create("--network", network.name, disk_engine.image,
                                         "sleep", "300")
        disk_engine.cli("start", container)
        try:
            with pytest.raises(engine.APIError) as refused:
                await engine.remove_network(client, network.name)
            assert refused.value.status == 403
            assert refused.value.message == (
                f"error while removing network: network {network.name} id {network.id}"
                " has active endpoints")
            # Still there, and the container still on it.
            assert network.name in cli_networks(disk_engine, container)
            result = await engine.remove_networks(client, [network.name])
            assert result.deleted == () and network.name in result.failed
            assert network.name in cli_networks(disk_engine, container)
        finally:
            disk_engine.cli("rm", "-f", container)
        await engine.remove_network(client, network.name)
        with pytest.raises(engine.NotFound):
            await engine.network(client, network.name)
