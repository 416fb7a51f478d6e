"""The typed service spec: parsing what a user types (no engine), and creating and updating
services from it on the private swarm (the daemon's own inspect is the judge)."""

from __future__ import annotations

import json

import pytest

import engine
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, SwarmUnderTest, unique_name
from tests.engine.test_swarm import until


@pytest.mark.parametrize(("text", "expected"), [
    ("8080:80", engine.ServicePort(80, 8080)),
    ("80", engine.ServicePort(80)),
    ("53:53/UDP", engine.ServicePort(53, 53, "udp")),
    ("published=8081,target=81,mode=host", engine.ServicePort(81, 8081, mode="host")),
    ("target=82,protocol=udp", engine.ServicePort(82, 0, "udp")),
])
def test_ports_in_both_cli_syntaxes(text: str, expected: engine.ServicePort) -> None:
    assert engine.parse_service_port(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("127.0.0.1:8080:80", "no host address"),
    ("8080:99999", "1 to 65535"),
    ("80/icmp", "tcp, udp or sctp"),
    ("published=80", "target=PORT"),
    ("target=80,mode=bridge", "ingress or host"),
    ("target=80,color=red", "Unknown port option 'color'"),
])
def test_bad_ports_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(engine.InvalidInput, match=message):
        engine.parse_service_port(text)


def test_a_published_port_twice_names_the_port_and_line() -> None:
    with pytest.raises(engine.InvalidInput, match="8080/tcp is published twice"):
        engine.parse_service_ports("8080:80\n8080:81")
    with pytest.raises(engine.InvalidInput, match=r"Ports line 2: .*65535"):
        engine.parse_service_ports("# web\n80000:80")


@pytest.mark.parametrize(("text", "expected"), [
    ("data:/data", engine.ServiceMount("volume", "data", "/data")),
    ("/srv/www:/usr/share/www:ro", engine.ServiceMount("bind", "/srv/www", "/usr/share/www",
                                                       True)),
    ("type=bind,source=/etc,target=/host-etc,readonly",
     engine.ServiceMount("bind", "/etc", "/host-etc", True)),
    ("type=volume,src=cache,dst=/cache", engine.ServiceMount("volume", "cache", "/cache")),
])
def test_mounts_in_both_cli_syntaxes(text: str, expected: engine.ServiceMount) -> None:
    assert engine.parse_service_mount(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("type=bind,source=relative,target=/x", "source=/absolute/host/path"),
    ("type=tmpfs,target=/x", "volume or bind"),
    ("type=volume,source=data", "needs target"),
    ("data:relative", "must be absolute"),
])
def test_bad_mounts_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(engine.InvalidInput, match=message):
        engine.parse_service_mount(text)


def test_constraints_on_what_swarm_places_by() -> None:
    assert engine.parse_constraints("node.role==manager\nnode.labels.zone != east") == (
        "node.role==manager", "node.labels.zone!=east")
    with pytest.raises(engine.InvalidInput, match="ATTRIBUTE==VALUE"):
        engine.parse_constraint("node.role=manager")
    # Swarm itself takes these and leaves every task pending for ever.
    with pytest.raises(engine.InvalidInput, match=r"'node\.rol' is no attribute"):
        engine.parse_constraint("node.rol==manager")
    with pytest.raises(engine.InvalidInput, match="manager or worker"):
        engine.parse_constraint("node.role==boss")
    with pytest.raises(engine.InvalidInput, match="Constraints line 2"):
        engine.parse_constraints("node.role==worker\nnode.labels.==x")


@pytest.mark.parametrize(("text", "nanoseconds"), [
    ("", 0), ("0", 0), ("10s", 10 * 10**9), ("1m30s", 90 * 10**9), ("500ms", 5 * 10**8),
    ("1.5s", 15 * 10**8), ("2h", 7200 * 10**9),
])
def test_durations_read_and_written_as_go_does(text: str, nanoseconds: int) -> None:
    assert engine.parse_duration(text) == nanoseconds
    if text not in ("", "0", "1.5s"):
        assert engine.format_duration(nanoseconds) == text


@pytest.mark.parametrize("text", ["10", "s", "1x", "-5s", "1m 30s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(engine.InvalidInput, match="duration such as"):
        engine.parse_duration(text)


def test_service_names_as_swarm_takes_them() -> None:
    assert engine.validate_service_name(" web_2-a ") == "web_2-a"
    for bad in ("web.1", "-web", "web-", "wéb"):
        with pytest.raises(engine.InvalidInput, match="is no service name"):
            engine.validate_service_name(bad)
    with pytest.raises(engine.InvalidInput, match="at most 63"):
        engine.validate_service_name("a" * 64)


def test_spec_problems_before_anything_is_sent() -> None:
    spec = engine.ServiceSpec("img", cpu_limit=10**9, cpu_reservation=2 * 10**9,
                              update=engine.UpdatePolicy(failure_action="explode"))
    assert spec.problems() == ["The CPU reservation is more than its limit",
                               "Failure action must be pause, continue or rollback,"
                               " not 'explode'"]
    assert engine.ServiceSpec("img", replicas=None).to_api()["Mode"] == {"Global": {}}


# -- against the private swarm ----------------------------------------------------------


def inspect(target: SwarmUnderTest, name: str) -> dict[str, object]:
    """What the daemon stored, read by the docker CLI (not by our own parser)."""
    found: dict[str, object] = json.loads(target.cli("service", "inspect", name))[0]
    return found


@pytest.mark.anyio
async def test_a_full_spec_is_stored_as_the_cli_would_store_it(
        swarm_engine: SwarmUnderTest) -> None:
    name = unique_name("spec")
    spec = engine.ServiceSpec(
        image=swarm_engine.image, name=name, replicas=2, command=("sleep", "3600"),
        env=("GREETING=hello", "EMPTY="), labels={LABEL_KEY: RUN_ID},
        # Host-mode ports, no fixed number (two tasks on one node): ingress needs the
        # host-wide vxlan another swarm dockerd here may hold.
        ports=engine.parse_service_ports(
            "target=80,mode=host\ntarget=90,protocol=udp,mode=host"),
        mounts=engine.parse_service_mounts(f"{name}-data:/data\n/etc:/host-etc:ro"),
        constraints=("node.role==manager",),
        cpu_limit=engine.parse_cpus("0.5"), memory_limit=engine.parse_memory("64m"),
        cpu_reservation=engine.parse_cpus("0.1"), memory_reservation=engine.parse_memory("16m"),
        restart=engine.RestartSpec("on-failure", engine.parse_duration("3s"), 4),
        update=engine.UpdatePolicy(2, engine.parse_duration("1m30s"), "rollback",
                                   "start-first"),
    )
    async with await swarm_engine.open() as client:
        ident = await engine.create_service_from_spec(client, spec)
        stored = inspect(swarm_engine, name)
        assert stored["ID"] == ident
        s = stored["Spec"]
        assert isinstance(s, dict)
        task, container = s["TaskTemplate"], s["TaskTemplate"]["ContainerSpec"]
        assert container["Image"] == swarm_engine.image
        assert container["Args"] == ["sleep", "3600"]
        assert container["Env"] == ["GREETING=hello", "EMPTY="]
        assert [(m["Type"], m.get("Source"), m["Target"], m.get("ReadOnly", False))
                for m in container["Mounts"]] == [
            ("volume", f"{name}-data", "/data", False), ("bind", "/etc", "/host-etc", True)]
        assert task["Placement"]["Constraints"] == ["node.role==manager"]
        assert task["Resources"] == {
            "Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 64 << 20},
            "Reservations": {"NanoCPUs": 100_000_000, "MemoryBytes": 16 << 20}}
        assert task["RestartPolicy"] == {"Condition": "on-failure", "Delay": 3 * 10**9,
                                         "MaxAttempts": 4}
        assert s["UpdateConfig"] | {"Parallelism": 2, "Delay": 90 * 10**9,  # + defaults
                                    "FailureAction": "rollback", "Order": "start-first"} \
            == s["UpdateConfig"]
        assert s["Mode"] == {"Replicated": {"Replicas": 2}}
        assert [(p["TargetPort"], p.get("PublishedPort"), p["Protocol"], p["PublishMode"])
                for p in s["EndpointSpec"]["Ports"]] == [
            (80, None, "tcp", "host"), (90, None, "udp", "host")]
        shown = await until(lambda: engine.service(client, name), lambda v: v.running == 2,
                            90, "2 running tasks")
        assert (shown.mode_text, shown.update_parallelism, shown.update_failure_action,
                shown.update_order) == ("replicated 2", 2, "rollback", "start-first")
        assert [str(p) for p in shown.ports] == ["80/tcp (host)", "90/udp (host)"]
    swarm_engine.cli("service", "rm", name)
    await_volume_gone(swarm_engine, f"{name}-data")


def await_volume_gone(target: SwarmUnderTest, volume: str) -> None:
    """The named volume the service's tasks made is ours: remove it once they are gone."""
    from tests.waits import poll_until

    poll_until(lambda: target.cli("volume", "rm", volume, check=False) == volume
               or volume not in target.cli("volume", "ls", "-q"), 60,
               what=f"the volume {volume} to be free")


@pytest.mark.anyio
async def test_bad_input_is_refused_in_one_plain_line(swarm_engine: SwarmUnderTest) -> None:
    taken = unique_name("taken")
    swarm_engine.cli("service", "create", "--detach", "--name", taken, "--label", LABEL,
                     "-p", "18080:80", swarm_engine.image, "sleep", "3600")
    async with await swarm_engine.open() as client:
        spec = engine.ServiceSpec(swarm_engine.image, name=unique_name("clash"),
                                  labels={LABEL_KEY: RUN_ID},
                                  ports=(engine.ServicePort(80, 18080),))
        with pytest.raises(engine.BadRequest) as refused:
            await engine.create_service_from_spec(client, spec)
        assert str(refused.value).startswith("port '18080' is already in use by service"
                                              f" '{taken}'")
        assert "rpc error" not in str(refused.value) and "\n" not in str(refused.value)

        missing = f"dockyard-test/no-such-image:{RUN_ID}"
        with pytest.raises(engine.BadRequest, match=f"No image '{missing}' on this engine"):
            await engine.create_service_from_spec(
                client, engine.ServiceSpec(missing, labels={LABEL_KEY: RUN_ID}))
        listed = await engine.services(client, label=LABEL)
        assert [s.name for s in listed] == [taken]  # nothing half-made
