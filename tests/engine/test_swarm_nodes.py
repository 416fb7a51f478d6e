"""Nodes, secrets, configs, stacks and swarm init through the bindings, against private
dockerds (the one-node swarm, and a fresh one in no swarm); never the main engine."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, SwarmUnderTest, unique_name
from tests.engine.test_swarm import until
from tests.swarm_dockerd import FRESH_SWARM_POOL, free_port

pytestmark = pytest.mark.anyio


async def test_node_labels_are_set_and_cleared(swarm_engine: SwarmUnderTest) -> None:
    async with await swarm_engine.open() as client:
        before = await engine.node(client, swarm_engine.node_id)
        try:
            changed = await engine.update_node(client, swarm_engine.node_id,
                                               labels={**before.labels, "zone": RUN_ID})
            assert changed.labels["zone"] == RUN_ID and changed.version > before.version
            assert changed.availability == before.availability  # untouched
            assert swarm_engine.cli("node", "inspect", "--format",
                                    "{{index .Spec.Labels \"zone\"}}", "self") == RUN_ID
            with pytest.raises(engine.BadRequest, match="without '='"):
                await engine.update_node(client, swarm_engine.node_id, labels={"a=b": "c"})
            paused = await engine.update_node(client, swarm_engine.node_id,
                                              availability="pause")
            assert paused.availability == "pause" and paused.labels["zone"] == RUN_ID
        finally:
            restored = await engine.update_node(client, swarm_engine.node_id,
                                                availability="active",
                                                labels=dict(before.labels))
        assert "zone" not in restored.labels and restored.availability == "active"


async def test_secret_and_config_are_listed_with_their_users(
        swarm_engine: SwarmUnderTest) -> None:
    secret_name, config_name = unique_name("sec"), unique_name("cfg")
    value = f"hunter2-{RUN_ID}"
    async with await swarm_engine.open() as client:
        secret_id = await engine.create_secret(client, secret_name, value.encode(),
                                               labels={LABEL_KEY: RUN_ID})
        config_id = await engine.create_config(client, config_name, b"listen 80\n",
                                               labels={LABEL_KEY: RUN_ID})
        try:
            service = unique_name("user")
            swarm_engine.cli("service", "create", "--detach", "--name", service, "--label",
                             LABEL, "--secret", secret_name, "--config", config_name,
                             swarm_engine.image, "sleep", "3600")
            found = {s.name: s for s in await engine.secrets(client, label=LABEL)}
            assert found[secret_name].id == secret_id
            assert found[secret_name].used_by == (service,)
            assert found[secret_name].created is not None
            assert value not in repr(found[secret_name])  # the value is never read
            configs = {c.name: c for c in await engine.configs(client, label=LABEL)}
            assert configs[config_name].id == config_id
            assert configs[config_name].used_by == (service,)
            with pytest.raises(engine.APIError, match="in use"):
                await engine.remove_secret(client, secret_name)
            swarm_engine.cli("service", "rm", service)
            unused = {s.name: s for s in await engine.secrets(client, label=LABEL)}
            assert unused[secret_name].used_by == ()
        finally:
            await engine.remove_secret(client, secret_id)
            await engine.remove_config(client, config_id)
        assert secret_name not in {s.name for s in await engine.secrets(client)}
        assert config_name not in {c.name for c in await engine.configs(client)}
        with pytest.raises(engine.BadRequest, match="needs a name"):
            await engine.create_secret(client, " ", b"x")


async def test_stack_remove_takes_its_services_networks_secrets_and_configs(
        swarm_engine: SwarmUnderTest, tmp_path: Path) -> None:
    stack = unique_name("stk")
    ns = f"{engine.STACK_NAMESPACE_LABEL}={stack}"
    cli = swarm_engine.cli
    net = cli("network", "create", "--driver", "overlay", "--label", ns, "--label", LABEL,
              f"{stack}_default")
    (tmp_path / "data").write_text("not telling")
    cli("secret", "create", "--label", ns, "--label", LABEL, f"{stack}_pw",
        str(tmp_path / "data"))
    cli("config", "create", "--label", ns, "--label", LABEL, f"{stack}_conf",
        str(tmp_path / "data"))
    other = unique_name("keep")  # not of the stack: stays
    try:
        for part in ("web", "db"):
            cli("service", "create", "--detach", "--name", f"{stack}_{part}",
                "--label", ns, "--label", LABEL, "--network", f"{stack}_default",
                "--secret", f"{stack}_pw", "--config", f"{stack}_conf",
                swarm_engine.image, "sleep", "3600")
        cli("service", "create", "--detach", "--name", other, "--label", LABEL,
            swarm_engine.image, "sleep", "3600")
        async with await swarm_engine.open() as client:
            await until(lambda: engine.services(client, label=ns),
                        lambda ss: len(ss) == 2 and all(s.running == 1 for s in ss), 90,
                        "the stack's two services to run")
            assert {s.stack for s in await engine.services(client, label=ns)} == {stack}
            removed = await engine.remove_stack(client, stack)
            assert removed.services == (f"{stack}_db", f"{stack}_web")
            assert removed.networks == (f"{stack}_default",)
            assert removed.secrets == (f"{stack}_pw",)
            assert removed.configs == (f"{stack}_conf",)
            assert removed.failures == ()
            assert await engine.services(client, label=ns) == []
            assert [s.name for s in await engine.services(client, label=LABEL)] == [other]
            assert await engine.secrets(client, label=ns) == []
            assert await engine.configs(client, label=ns) == []


            async def network_gone() -> bool:
                try:
                    await engine.network(client, net)
                except engine.NotFound:
                    return True
                return False

            # The cluster's network is gone at once; this node's copy goes with its tasks.
            await until(network_gone, bool, 60, "the stack's network to go from the node")
            again = await engine.remove_stack(client, stack)
            assert again.nothing
    finally:
        cli("network", "rm", net, check=False)
        cli("secret", "rm", f"{stack}_pw", check=False)
        cli("config", "rm", f"{stack}_conf", check=False)


async def test_join_commands_of_a_manager(swarm_engine: SwarmUnderTest) -> None:
    async with await swarm_engine.open() as client:
        commands = await engine.join_commands(client)
    worker_token = swarm_engine.cli("swarm", "join-token", "-q", "worker")
    manager_token = swarm_engine.cli("swarm", "join-token", "-q", "manager")
    assert commands.address.startswith("127.0.0.1:")
    assert commands.worker == f"docker swarm join --token {worker_token} {commands.address}"
    assert commands.manager == f"docker swarm join --token {manager_token} {commands.address}"


async def test_init_then_leave_on_a_fresh_dockerd(plain_dockerd: EngineUnderTest) -> None:
    async with await plain_dockerd.open() as client:
        assert (await engine.swarm_state(client)).role == "inactive"
        with pytest.raises(engine.NotSwarmManager):
            await engine.join_commands(client)
        try:
            node_id = await engine.init_swarm(client, advertise_addr="127.0.0.1",
                                              listen_addr=f"127.0.0.1:{free_port()}",
                                              default_addr_pool=[FRESH_SWARM_POOL])
            state = await until(lambda: engine.swarm_state(client),
                                lambda s: s.control_available, 60, "a manager")
            assert state.node_id == node_id and state.role == "manager"
            assert [n.id for n in await engine.nodes(client)] == [node_id]
            with pytest.raises(engine.APIError, match="already part of a swarm"):
                await engine.init_swarm(client, advertise_addr="127.0.0.1",
                                        listen_addr=f"127.0.0.1:{free_port()}")
        finally:
            await engine.leave_swarm(client, force=True)
        assert (await engine.swarm_state(client)).role == "inactive"
