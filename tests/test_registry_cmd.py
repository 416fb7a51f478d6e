"""``dockyard registry`` as a user runs it: a subprocess against a real loopback registry."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.presentation import BadTarget, Target, parse_target
from tests.conftest import RUN_ID, EngineUnderTest
from tests.engine.test_build import _free_port
from tests.engine.test_registry import (  # noqa: F401  (fixtures)
    PASSWORD,
    LoopbackRegistry,
    basic_registry,
    loopback,
)
from tests.waits import seconds

REPO = Path(__file__).resolve().parent.parent


def dockyard_registry(*args: str, config: Path | None = None
                      ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if config is not None:
        env["DOCKER_CONFIG"] = str(config)
    return subprocess.run([sys.executable, "-m", "app", "registry", *args], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=seconds(120), check=False)


@pytest.fixture
def no_logins(tmp_path: Path) -> Path:
    config = tmp_path / "docker-config"
    config.mkdir()
    return config


def test_repositories_and_tags_as_json(docker_engine: EngineUnderTest,
                                       loopback: LoopbackRegistry,  # noqa: F811
                                       no_logins: Path) -> None:
    listed = dockyard_registry(loopback.address, "--json", "-H", docker_engine.url,
                               config=no_logins)
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert document["registry"] == loopback.address
    assert {"dockyard/alpha", "dockyard/beta"} <= set(document["repositories"])
    tags = dockyard_registry(f"{loopback.address}/dockyard/alpha", "--json",
                             "-H", docker_engine.url, config=no_logins)
    assert tags.returncode == 0, tags.stderr
    document = json.loads(tags.stdout)
    assert document["repository"] == "dockyard/alpha"
    by_tag = {t["tag"]: t for t in document["tags"]}
    for pushed in loopback.pushed[:2]:
        tag = by_tag[pushed.tag]
        assert tag["digest"] == pushed.digest
        assert f"{loopback.address}/dockyard/alpha@{tag['digest']}" == pushed.repo_digest
        assert tag["platforms"] == [pushed.platform]
        assert tag["created"] == pushed.created.isoformat()
        assert tag["size"] > 0 and tag["images"][0]["size"] == tag["size"]
    one = dockyard_registry(f"{loopback.address}/dockyard/alpha:v2", "--json",
                            config=no_logins)
    assert one.returncode == 0, one.stderr
    assert [t["tag"] for t in json.loads(one.stdout)["tags"]] == ["v2"]


def test_text_output(loopback: LoopbackRegistry, no_logins: Path) -> None:  # noqa: F811
    listed = dockyard_registry(loopback.address, config=no_logins)
    assert listed.returncode == 0, listed.stderr
    assert {"dockyard/alpha", "dockyard/beta"} <= set(listed.stdout.splitlines())
    table = dockyard_registry(f"{loopback.address}/dockyard/beta", config=no_logins)
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split() == ["TAG", "DIGEST", "SIZE", "PLATFORMS", "CREATED"]
    pushed = loopback.pushed[2]
    cells = row.split()
    assert cells[:2] == ["latest", pushed.digest[7:19]]
    assert cells[3] == pushed.platform
    assert " ".join(cells[4:]) == pushed.created.strftime("%Y-%m-%d %H:%M:%S UTC")


def test_a_login_from_the_cli_config_and_a_wrong_one(basic_registry: str,  # noqa: F811
                                                     tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    config.mkdir()

    def login(password: str) -> None:
        (config / "config.json").write_text(json.dumps({"auths": {basic_registry: {
            "auth": base64.b64encode(f"ann:{password}".encode()).decode()}}}))

    refused = dockyard_registry(basic_registry, config=config)
    assert refused.returncode == 2
    assert refused.stderr == (f"dockyard registry: {basic_registry} needs a login"
                              f" (docker login {basic_registry})\n")
    login(PASSWORD)
    listed = dockyard_registry(f"{basic_registry}/dockyard/private", config=config)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].startswith(RUN_ID)
    login("wrong-" + PASSWORD)
    wrong = dockyard_registry(basic_registry, config=config)
    assert wrong.returncode == 2
    assert wrong.stderr == (f"dockyard registry: {basic_registry} refused the login as ann:"
                            " wrong user name or password?\n")
    assert PASSWORD not in wrong.stdout + wrong.stderr


@pytest.mark.parametrize(("text", "says"), [
    ("http://127.0.0.1:5000", "give a registry address without a scheme"),
    ("bad host!/x", "not a registry address"),
    ("127.0.0.1:5000/Upper/Case", "not a repository name"),
    ("127.0.0.1:5000/app:bad:tag!", "not a tag"),
])
def test_bad_input_is_one_line_and_exit_2(text: str, says: str) -> None:
    result = dockyard_registry(text)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"dockyard registry: {says}")


def test_an_unreachable_registry_is_one_line_and_exit_2(no_logins: Path) -> None:
    address = f"127.0.0.1:{_free_port()}"
    result = dockyard_registry(f"{address}/x/y", "--json", config=no_logins)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"dockyard registry: cannot reach {address}: connection refused\n"


def test_targets_are_parsed_like_references() -> None:
    assert parse_target("127.0.0.1:5000") == Target("127.0.0.1:5000")
    assert parse_target("reg.example/team/app") == Target("reg.example", "team/app")
    assert parse_target("reg.example:443/team/app:v1.2") == Target("reg.example:443",
                                                                   "team/app", "v1.2")
    assert parse_target("[::1]:5000/app") == Target("[::1]:5000", "app")
    with pytest.raises(BadTarget):
        parse_target("reg.example/:v1")


def test_registry_cmd_loads_no_qt() -> None:
    probe = ("import sys, app.cli, app.registry_cmd; app.cli.build_parser(); "
             "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'qasync'))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"
