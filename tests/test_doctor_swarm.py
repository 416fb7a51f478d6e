"""``dockyard doctor`` on a swarm manager (the private swarm dockerd) and on engines in none."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, SwarmUnderTest, unique_name
from tests.test_doctor import clean_env, doctor, doctor_json
from tests.waits import poll_until


def test_doctor_reports_a_manager_with_its_services_and_tasks(
        swarm_engine: SwarmUnderTest, tmp_path: Path) -> None:
    swarm_engine.cli("service", "create", "--detach", "--name", unique_name("doc"),
                     "--replicas", "2", "--label", LABEL, swarm_engine.image, "sleep", "3600")
    swarm_engine.cli("service", "create", "--detach", "--name", unique_name("doc"),
                     "--replicas", "1", "--label", f"{LABEL_KEY}={RUN_ID}",
                     swarm_engine.image, "sleep", "3600")

    def three_running() -> bool:
        states = swarm_engine.cli("service", "ps", "-q", "--filter", "desired-state=running",
                                  *swarm_engine.cli("service", "ls", "-q").split())
        return len(states.split()) == 3

    poll_until(three_running, 60, what="3 tasks of 2 services")
    services = len(swarm_engine.cli("service", "ls", "-q").split())
    code, report = doctor_json(clean_env(tmp_path), "--host", swarm_engine.url)
    assert code == 0, report
    swarm = report["swarm"]
    assert (swarm["state"], swarm["role"], swarm["manager"]) == ("active", "manager", True)
    assert swarm["node_id"] == swarm_engine.node_id
    assert (swarm["managers"], swarm["nodes"]) == (1, 1)
    assert swarm["services"] == services >= 2
    assert swarm["tasks"] == 3

    text = doctor(clean_env(tmp_path), "--host", swarm_engine.url).stdout
    assert (f"Swarm:       manager, node {swarm_engine.node_id}; 1 manager, 1 node,"
            f" {services} service{'' if services == 1 else 's'}, 3 tasks") in text


def test_doctor_says_the_main_engine_is_in_no_swarm(
        docker_engine: EngineUnderTest, tmp_path: Path) -> None:
    code, report = doctor_json(clean_env(tmp_path), "--host", docker_engine.url)
    assert code == 0, report
    swarm = report["swarm"]
    assert (swarm["state"], swarm["role"], swarm["manager"]) == ("inactive", "inactive", False)
    assert swarm["services"] is None and swarm["nodes"] is None
    text = doctor(clean_env(tmp_path), "--host", docker_engine.url).stdout
    assert "Swarm:       inactive (docker swarm init, or join, to start one)" in text


def test_doctor_on_podman_says_no_swarm(podman_engine: EngineUnderTest, tmp_path: Path) -> None:
    code, report = doctor_json(clean_env(tmp_path), "--host", podman_engine.url)
    assert code == 0, report
    assert report["swarm"]["manager"] is False and report["swarm"]["services"] is None
