"""Where ``known_engines`` finds engines: the files the docker CLI and Podman write."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

import engine


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {"DOCKER_CONFIG": str(home / ".docker"), "XDG_RUNTIME_DIR": str(home / "run"),
            **extra}


def test_podman_connections_json_and_containers_conf(home: Path) -> None:
    config = home / ".config" / "containers"
    config.mkdir(parents=True)
    (config / "podman-connections.json").write_text(json.dumps({
        "Connection": {"Default": "lab", "Connections": {
            "lab": {"URI": "ssh://core@lab.example:2222/run/user/1000/podman/podman.sock",
                    "Identity": str(home / "id_lab"), "IsMachine": False}}},
        "Farm": {}}))
    (config / "containers.conf").write_text(
        '[engine.service_destinations.build]\nuri = "tcp://build.example:2375"\n'
        '[engine.service_destinations.broken]\nuri = "nonsense"\n')
    known = engine.known_engines(_env(home), home, uid=12345)
    by_url = {k.endpoint.url: k for k in known}
    lab = by_url["ssh://core@lab.example:2222/run/user/1000/podman/podman.sock"]
    assert lab.found_via == ["Podman connection 'lab' (podman-connections.json)"]
    assert lab.endpoint.ssh is not None and lab.endpoint.ssh.identities == (home / "id_lab",)
    assert by_url["tcp://build.example:2375"].found_via[0].startswith(
        "Podman connection 'build' (")
    broken = by_url["nonsense"]
    assert broken.problem and "not a valid engine address" in broken.problem
    # The CLI's default context is always there, and current when nothing else is chosen.
    default = by_url["unix:///var/run/docker.sock"]
    assert default.found_via[0] == "context 'default'" and default.current


def test_same_address_is_listed_once_with_every_source(home: Path) -> None:
    run = home / "run" / "podman"
    run.mkdir(parents=True)
    path = run / "podman.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    try:
        known = engine.known_engines(_env(home, CONTAINER_HOST=f"unix://{path}"), home, uid=1)
    finally:
        listener.close()
    ours = [k for k in known if k.endpoint.url == f"unix://{path}"]
    assert len(ours) == 1
    assert ours[0].found_via == ["CONTAINER_HOST", "default socket (rootless Podman)"]


def test_a_chosen_context_that_is_missing_is_reported(home: Path) -> None:
    known = engine.known_engines(_env(home, DOCKER_CONTEXT="gone"), home, uid=1)
    missing = [k for k in known if k.found_via == ["context 'gone'"]]
    assert len(missing) == 1 and missing[0].current
    assert "not in the context store" in missing[0].problem
