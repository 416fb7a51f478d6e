"""A real Compose project for tests: three busybox services, a named volume, a network.

Brought up by the Compose implementation a user has — Debian's ``docker-compose``
1.29 for Docker, ``podman-compose`` for Podman — from a temporary directory, as a
user would from a terminal.  Everything it creates carries the test label (the
containers through the test image, the volume and network through the file),
and :meth:`ComposeUnderTest.down` removes it all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.waits import seconds

COMPOSE_FILE = """\
version: "3.7"
services:
  web:
    image: {image}
    command: ["sh", "-c", "i=0; while true; do echo web $$i; i=$$((i+1)); sleep 0.2; done"]
    volumes: ["data:/data"]
    networks: ["back"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      retries: 3
  worker:
    image: {image}
    command: ["sh", "-c", "i=0; while true; do echo worker $$i; i=$$((i+1)); sleep 0.3; done"]
    networks: ["back"]
  cache:
    image: {image}
    command: ["sleep", "100000"]
    networks: ["back"]
volumes:
  data:
    labels:
      {label_key}: "{run_id}"
networks:
  back:
    labels:
      {label_key}: "{run_id}"
"""


@dataclass
class ComposeUnderTest:
    """One Compose project of a test, on one engine."""

    target: EngineUnderTest
    name: str
    directory: Path
    tool: str

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ}
        env.pop("DOCKER_CONTEXT", None)
        if self.target.kind == "docker":
            env["DOCKER_HOST"] = self.target.url
        else:
            # podman-compose drives the podman CLI, which shares the storage of the test's
            # service; the service's containers.conf keeps its ulimits within the sandbox's.
            socket = Path(self.target.url.removeprefix("unix://"))
            env["CONTAINERS_CONF"] = str(socket.parent / "containers.conf")
        return env

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.tool, "-p", self.name, *args], cwd=self.directory, env=self.env,
            capture_output=True, text=True, check=False, timeout=seconds(180))
        if check and result.returncode != 0:
            raise AssertionError(f"{self.tool} {' '.join(args)} failed: "
                                 f"{result.stderr.strip()[-2000:]}")
        return result

    def up(self) -> None:
        self.compose("up", "-d")

    def down(self) -> None:
        """Remove the project, by the tool, then by label (what the tool left, or a test)."""
        self.compose("down", "-v", check=False)
        label = f"label=com.docker.compose.project={self.name}"
        ids = self.target.cli("ps", "-aq", "--filter", label, check=False).split()
        if ids:
            self.target.cli("rm", "-f", "-v", *ids, check=False)
        for kind in ("network", "volume"):
            names = self.target.cli(kind, "ls", "-q", "--filter", label, "--filter",
                                    f"label={LABEL_KEY}={RUN_ID}", check=False).split()
            if names:
                self.target.cli(kind, "rm", *names, check=False)
        if self.target.kind == "podman":  # podman-compose puts the project in a pod
            subprocess.run(["podman", "pod", "rm", "-f", f"pod_{self.name}"], env=self.env,
                           capture_output=True, check=False, timeout=seconds(60))

    def ps(self) -> dict[str, str]:
        """``docker ps -a`` of the project: container name -> state."""
        out = self.target.cli("ps", "-a", "--filter", f"label=com.docker.compose.project="
                              f"{self.name}", "--format", "{{.Names}} {{.State}}")
        return dict(line.split(" ", 1) for line in out.splitlines() if line)


def compose_tool(kind: str) -> str:
    tool = "docker-compose" if kind == "docker" else "podman-compose"
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (apt-get install {tool}); ./test.sh installs it")
    return path


def make_project(target: EngineUnderTest, tmp_path: Path, *, up: bool = True
                 ) -> Iterator[ComposeUnderTest]:
    """Write the three-service file in ``tmp_path``, bring it up, remove it all after."""
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_FILE.format(
        image=target.image, label_key=LABEL_KEY, run_id=RUN_ID))
    project = ComposeUnderTest(target, unique_name("app").replace(".", "-"), tmp_path,
                               compose_tool(target.kind))
    try:
        if up:
            project.up()
        yield project
    finally:
        project.down()
