"""``dockyard df`` as a user runs it: a subprocess against real engines, compared with the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.df_cmd import reclaimable_text
from app.presentation import cli_size
from engine import KindUsage
from tests.conftest import LABEL, EngineUnderTest, unique_name
from tests.disk_helpers import disk_engine  # noqa: F401
from tests.waits import seconds

REPO = Path(__file__).resolve().parent.parent


def dockyard_df(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", "df", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=seconds(300), check=False)


def cli_summary(target: EngineUnderTest) -> list[dict[str, Any]]:
    return [json.loads(line) for line in
            target.cli("system", "df", "--format", "{{json .}}").splitlines()]


def test_json_agrees_with_docker_system_df(disk_engine: EngineUnderTest) -> None:  # noqa: F811
    volume = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, volume)
    disk_engine.cli("run", "--rm", "--label", LABEL, "-v", f"{volume}:/v", disk_engine.image,
                    "sh", "-c", "head -c 12345 /dev/zero > /v/data")
    for _ in range(10):  # other tests share the engine: compare a moment it held still
        before = cli_summary(disk_engine)
        result = dockyard_df("--json", "-v", "-H", disk_engine.url)
        assert result.returncode == 0, result.stderr
        if cli_summary(disk_engine) == before:
            break
    else:
        pytest.fail("the engine's disk usage kept changing while it was read")
    document = json.loads(result.stdout)
    assert document["engine"].startswith("Podman" if disk_engine.kind == "podman" else "Docker")
    ours = {row["type"]: row for row in document["summary"]}
    assert [row["Type"] for row in before] == list(ours)
    for theirs in before:
        row = ours[theirs["Type"]]
        assert int(theirs["TotalCount"]) == row["total"]
        assert int(theirs["Active"]) == row["active"]
        assert theirs["Size"] == cli_size(row["size"])
        assert theirs["Reclaimable"] == reclaimable_text(
            KindUsage(row["type"], row["total"], row["active"], row["size"], row["reclaimable"]))
    [mine] = [v for v in document["volumes"] if v["name"] == volume]
    assert mine["size"] == 12345 and mine["links"] == 0
    assert {"images", "containers", "build_cache"} <= set(document)
    assert document["build_cache_supported"] is (disk_engine.kind == "docker")


def test_text_table(docker_engine: EngineUnderTest) -> None:
    result = dockyard_df("-H", docker_engine.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split()[0] for line in lines[1:5]] == ["Images", "Containers", "Local",
                                                        "Build"]
    verbose = dockyard_df("-v", "-H", docker_engine.url)
    assert "Local Volumes space usage:" in verbose.stdout
    assert "Build cache usage:" in verbose.stdout


@pytest.mark.parametrize("host", ["unix:///nonexistent/dockyard.sock", "bogus://nowhere"])
def test_no_engine_or_bad_address_is_one_line_and_exit_2(host: str) -> None:
    result = dockyard_df("--json", "-H", host)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("dockyard df: ")


def test_df_loads_no_qt() -> None:
    probe = ("import sys, app.cli, app.df_cmd; "
             "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'qasync'))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"
