"""Compose projects from labels, against real engines and real Compose implementations."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import engine
from tests.compose_helpers import ComposeUnderTest, make_project
from tests.conftest import EngineUnderTest
from tests.waits import seconds

pytestmark = pytest.mark.anyio


@pytest.fixture
def project(any_engine: EngineUnderTest, tmp_path: Path) -> Iterator[ComposeUnderTest]:
    yield from make_project(any_engine, tmp_path)


async def find(client: engine.Engine, name: str) -> engine.ComposeProject | None:
    return next((p for p in await engine.compose_projects(client) if p.name == name), None)


async def wait_for(client: engine.Engine, name: str, check, what: str
                   ) -> engine.ComposeProject | None:
    """Read the project until ``check(project)`` holds (health takes a second or two)."""
    deadline = asyncio.get_running_loop().time() + seconds(30)
    while True:
        found = await find(client, name)
        if check(found):
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: the project reads {found}")
        await asyncio.sleep(0.2)


async def test_a_project_is_grouped_with_its_services_files_and_resources(
    project: ComposeUnderTest,
) -> None:
    async with await project.target.open() as client:
        # Podman runs healthchecks from systemd timers: with no systemd (this machine, CI)
        # they never run and the health stays "starting"; Docker runs them itself.
        healthy = "healthy" if project.target.kind == "docker" else "starting"
        found = await wait_for(client, project.name,
                               lambda p: p is not None and p.services[1].health == healthy,
                               f"web never became {healthy}")
        assert found is not None
        assert [s.name for s in found.services] == ["cache", "web", "worker"]
        assert found.total == 3 and found.running == 3
        assert found.state_text == "3 of 3 running" and found.state == "running"
        assert found.status == "running(3)"
        assert found.working_dir == str(project.directory)
        assert found.config_paths == (str(project.directory / "docker-compose.yml"),)
        web = found.services[1]
        assert web.image == project.target.image or web.image.endswith(project.target.image)
        assert len(web.replicas) == 1 and web.running == 1
        assert found.services[0].health == ""  # no healthcheck
        assert [v.name for v in found.volumes] == [f"{project.name}_data"]
        assert [n.name for n in found.networks] == [f"{project.name}_back"]
        # Every container docker ps shows for the label, and no other.
        assert {c.name for c in found.containers} == set(project.ps())


async def test_stop_start_pause_and_remove_the_whole_project_by_label(
    project: ComposeUnderTest,
) -> None:
    async with await project.target.open() as client:
        await wait_for(client, project.name, lambda p: p is not None and p.running == 3,
                       "the project never ran")
        stopped = await engine.project_action(client, project.name, "stop")
        assert len(stopped.done) == 3 and not stopped.failed
        assert set(project.ps().values()) == {"exited"}
        found = await find(client, project.name)
        assert found is not None and found.state_text == "0 of 3 running"
        assert found.state == "exited" and found.status == "exited(3)"

        await engine.project_action(client, project.name, "start")
        assert set(project.ps().values()) == {"running"}
        paused = await engine.project_action(client, project.name, "pause")
        assert len(paused.done) == 3
        found = await find(client, project.name)
        assert found is not None and found.state_text == "0 of 3 running, 3 paused"
        await engine.project_action(client, project.name, "unpause")
        assert set(project.ps().values()) == {"running"}

        # Down by label, as for a project whose files moved: the directory is gone.
        (project.directory / "docker-compose.yml").unlink()
        plan = await engine.project_removal_plan(client, project.name, with_volumes=True)
        assert {c.name for c in plan.containers} == set(project.ps())
        assert [v.name for v in plan.volumes] == [f"{project.name}_data"]
        assert [n.name for n in plan.networks] == [f"{project.name}_back"]
        result = await engine.remove_project(client, plan)
        assert not result.failed, result.failed
        assert project.ps() == {}
        assert await find(client, project.name) is None
        label = f"label=com.docker.compose.project={project.name}"
        assert project.target.cli("volume", "ls", "-q", "--filter", label) == ""
        if project.target.kind == "docker":
            assert project.target.cli("network", "ls", "-q", "--filter", label) == ""


async def test_unknown_projects_and_actions_are_clear(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        with pytest.raises(engine.NotFound, match="no Compose project named 'no-such-app'"):
            await engine.project_action(client, "no-such-app", "stop")
        with pytest.raises(ValueError, match="unknown project action 'explode'"):
            await engine.project_action(client, "no-such-app", "explode")


def _container(name: str, service: str, state: str, status: str = "", *, number: int = 1,
               oneoff: bool = False, files: str = "compose.yaml", age: int = 60
               ) -> engine.Container:
    labels = {engine.COMPOSE_PROJECT_LABEL: "shop", engine.COMPOSE_SERVICE_LABEL: service,
              engine.COMPOSE_NUMBER_LABEL: str(number), engine.COMPOSE_FILES_LABEL: files,
              engine.COMPOSE_WORKDIR_LABEL: "/srv/shop",
              engine.COMPOSE_ONEOFF_LABEL: "True" if oneoff else "False"}
    created = datetime.fromtimestamp(datetime.now(tz=UTC).timestamp() - age, tz=UTC)
    return engine.Container(name, name, "img", "sha256:x", "", created, state, status,
                            labels=labels)


def test_grouping_counts_replicas_and_health_without_an_engine() -> None:
    projects = engine.group_projects([
        _container("shop-web-2", "web", "running", "Up 1 minute (unhealthy)", number=2),
        _container("shop-web-1", "web", "running", "Up 1 minute (healthy)"),
        _container("shop-db-1", "db", "exited", "Exited (0) 3 seconds ago",
                   files="a.yml,/abs/b.yml", age=1),
        _container("shop-web-run", "web", "exited", oneoff=True),
        engine.Container("lonely", "lonely", "img", "", "", None, "running", ""),
    ])
    assert [p.name for p in projects] == ["shop"]
    shop = projects[0]
    assert shop.state_text == "2 of 4 running" and shop.state == "partial"
    assert shop.status == "exited(2), running(2)"
    web = shop.services[1]
    assert [c.name for c in web.replicas] == ["shop-web-1", "shop-web-2"]
    assert web.health == "1 healthy, 1 unhealthy"
    # The newest container's labels name the files: here the last one made.
    assert shop.config_files == ("a.yml", "/abs/b.yml")
    assert shop.config_paths == ("/srv/shop/a.yml", "/abs/b.yml")
    assert shop.working_dir == "/srv/shop"


def test_compose_ls_agrees_with_the_labels(project: ComposeUnderTest) -> None:
    """``dockyard compose ls`` lists the project as the labels (and docker ps) say."""
    env = {**project.env}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "--host", project.target.url, "compose", "ls",
         "--json"], capture_output=True, text=True, env=env, check=True, timeout=seconds(60))
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    mine = listed[project.name]
    states = project.ps()
    assert mine["total"] == len(states) == 3
    assert mine["running"] == sum(s == "running" for s in states.values())
    assert mine["config_paths"] == [str(project.directory / "docker-compose.yml")]
    assert mine["working_dir"] == str(project.directory)
    files_label = project.target.cli(
        "inspect", "--format", '{{index .Config.Labels "com.docker.compose.project.config_files"}}',
        next(iter(states)))
    assert mine["config_files"] == files_label.split(",")

    text = subprocess.run(
        [sys.executable, "-m", "app.cli", "--host", project.target.url, "compose", "ls"],
        capture_output=True, text=True, env=env, check=True, timeout=seconds(60)).stdout
    line = next(row for row in text.splitlines() if row.startswith(project.name + " "))
    assert line.split() == [project.name, "running(3)", "3", "of", "3", files_label]


@pytest.mark.parametrize("argv", [["compose"], ["compose", "rm"], ["compose", "ls", "--bogus"]])
def test_compose_bad_input_is_one_line_and_exit_2(argv: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "app.cli", *argv], capture_output=True,
                            text=True, check=False, timeout=seconds(60))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_compose_ls_without_an_engine_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "compose", "ls", "-H",
         f"unix://{tmp_path}/nothing.sock"], capture_output=True, text=True, check=False,
        timeout=seconds(60))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("dockyard compose ls: ")


async def read_merged(client: engine.Engine, name: str, *, follow: bool = False,
                      until=None) -> list[tuple[str, str, bytes | None]]:
    """(service, text, stamp) of the merged log; with ``follow``, until ``until(lines)``."""
    found = await find(client, name)
    assert found is not None
    lines: list[tuple[str, str, bytes | None]] = []
    stream = engine.project_logs(client, found, follow=follow)
    try:
        async with asyncio.timeout(seconds(30)):
            async for batch in stream:
                lines += [(s, t.decode(), st) for s, t, st
                          in zip(batch.sources, batch.lines, batch.stamps, strict=True)]
                if until is not None and until(lines):
                    break
    finally:
        await stream.aclose()
    return lines


async def test_merged_logs_interleave_every_service_by_time(project: ComposeUnderTest) -> None:
    async with await project.target.open() as client:
        # web writes "web N" every 0.2 s, worker "worker N" every 0.3 s; cache nothing.
        deadline = asyncio.get_running_loop().time() + seconds(30)
        while True:
            lines = await read_merged(client, project.name)
            by = {s: [t for src, t, _ in lines if src == s] for s in ("web", "worker")}
            if all(len(v) >= 5 for v in by.values()):
                break
            assert asyncio.get_running_loop().time() < deadline, f"too few lines: {lines}"
            await asyncio.sleep(0.3)
        # Every line is marked with the service that wrote it, each service's lines in order…
        assert all(text.split()[0] == source for source, text, _ in lines), lines
        for source in ("web", "worker"):
            numbers = [int(text.split()[1]) for s, text, _ in lines if s == source]
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        # …and the services interleaved by the daemon's time.
        keys = [engine.log_since(stamp) for _, _, stamp in lines]
        assert keys == sorted(keys)
        # (podman-compose starts one container after another, seconds apart: count the
        # turns from one service to the other, not who wrote the first lines.)
        turns = sum(a[0] != b[0] for a, b in itertools.pairwise(lines)
                    if "cache" not in (a[0], b[0]))
        assert turns >= 4, f"the two services are not interleaved: {lines}"

        # Following: the history, then new lines of both, none repeated.
        newest_web = max(int(t.split()[1]) for s, t, _ in lines if s == "web")
        followed = await read_merged(
            client, project.name, follow=True,
            until=lambda got: any(s == "web" and int(t.split()[1]) > newest_web + 3
                                  for s, t, _ in got)
            and any(s == "worker" for s, _, _ in got[len(lines):]))
        texts = [(s, t) for s, t, _ in followed]
        assert len(texts) == len(set(texts)), "a line was repeated"
        web = [int(t.split()[1]) for s, t in texts if s == "web"]
        assert web == list(range(web[0], web[0] + len(web))), "a web line was lost"
