"""Compose files read before anything runs, and the Compose tool found, asked and read.

Parsing needs no engine; the tool tests run the real docker-compose / podman-compose
(``version`` only) and a PATH without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import engine

pytestmark = pytest.mark.anyio

FILE = """\
name: ${PROJECT:-shop}
services:
  web:
    image: "${REGISTRY}/web:${TAG:-latest}"
    ports: ["${WEB_PORT:-8080}:80", {target: 443, published: 8443}]
    volumes: ["data:/data", {type: bind, source: ./conf, target: /conf, read_only: true}]
    healthcheck: {test: ["CMD", "true"]}
    depends_on: [db]
  db:
    build: {context: ./db, dockerfile: Dockerfile.db}
    environment: {PRICE: "$$5"}
  debug:
    image: busybox
    profiles: [dev, tools]
volumes:
  data:
networks:
  back:
"""


def write(folder: Path, text: str, name: str = "compose.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_services_with_env_and_dotenv_interpolation_and_profiles(tmp_path: Path) -> None:
    write(tmp_path, FILE)
    (tmp_path / ".env").write_text("# comment\nREGISTRY=reg.local:5000\nTAG=from-dotenv\n"
                                   "export WEB_PORT='9090'\nCOMPOSE_PROFILES=dev\n")
    found = engine.load_compose_file(tmp_path, environ={"TAG": "from-env"})
    assert found.name == "shop"
    assert found.files == (str(tmp_path / "compose.yaml"),)
    assert found.working_dir == str(tmp_path)
    web = found.service("web")
    assert web.image == "reg.local:5000/web:from-env"  # the environment wins over .env
    assert web.ports == ("9090:80", "8443:443")
    assert web.volumes == ("data:/data", "./conf:/conf:ro")
    assert web.healthcheck and web.depends_on == ("db",)
    db = found.service("db")
    assert db.image_or_build == "build ./db (Dockerfile.db)"
    assert found.profiles == ("dev", "tools")
    assert found.enabled_profiles == ("dev",)  # COMPOSE_PROFILES from .env
    assert [s.name for s in found.active_services] == ["web", "db", "debug"]
    assert [s.name for s in found.with_profiles([]).active_services] == ["web", "db"]
    assert found.volumes == ("data",) and found.networks == ("back",)
    assert found.unset == ()


def test_unset_variables_default_to_empty_and_are_listed(tmp_path: Path) -> None:
    write(tmp_path, "services:\n  a:\n    image: ${NOPE}box${ALSO_NOPE-}:${X:-1}\n")
    found = engine.load_compose_file(tmp_path / "compose.yaml", environ={})
    assert found.service("a").image == "box:1"
    assert found.unset == ("NOPE",)
    assert found.name == engine.project_name_from(tmp_path.name)


@pytest.mark.parametrize(("text", "expected"), [
    ("$A ${A} ${A:-d} ${E:-d} ${E-d} ${U-d} ${A:+yes} ${U+no}|$$A", "a a a d  d yes |$A"),
    ("${U:-${A}x}", "ax"),
])
def test_interpolation_forms(text: str, expected: str) -> None:
    assert engine.interpolate(text, {"A": "a", "E": ""}) == expected


def test_interpolation_errors_are_one_line() -> None:
    with pytest.raises(engine.ComposeFileError, match=r"required variable DB_PASSWORD is not"
                                                      r" set: set it in \.env"):
        engine.interpolate("${DB_PASSWORD:?set it in .env}", {}, where="x")
    with pytest.raises(engine.ComposeFileError, match="invalid interpolation"):
        engine.interpolate("${9x}", {})


@pytest.mark.parametrize(("text", "message"), [
    ("services:\n  web:\n    image: busybox\n   ports: [1]\n",
     r"^compose.yaml line 4: .*"),
    ("services:\n  web: {image: [unclosed\n", r"^compose.yaml line 3: "),
    ("- a\n- b\n", r"not a Compose file \(the top level is a list"),
    ("version: '3'\n", r"defines no services"),
    ("services:\n  web:\n    command: sleep\n", r"service web has neither an image nor a build"),
    ("services:\n  web: {image: a, depends_on: [db]}\n", r"depends on undefined service db"),
    ("", r"compose.yaml is empty"),
])
def test_a_broken_file_is_one_line_naming_file_and_line(tmp_path: Path, text: str,
                                                        message: str) -> None:
    write(tmp_path, text)
    with pytest.raises(engine.ComposeFileError, match=message) as caught:
        engine.load_compose_file(tmp_path, environ={})
    assert "\n" not in str(caught.value)


def test_which_paths_are_compose_files(tmp_path: Path) -> None:
    assert engine.compose_file_in(tmp_path) is None
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert engine.compose_file_in(tmp_path / "Dockerfile") is None
    write(tmp_path, "services: {}\n", "docker-compose.yml")
    assert engine.compose_file_in(tmp_path) == tmp_path / "docker-compose.yml"
    write(tmp_path, "services: {}\n", "compose.yaml")
    assert engine.compose_file_in(tmp_path) == tmp_path / "compose.yaml"  # preferred
    prod = write(tmp_path, "services: {}\n", "docker-compose.prod.yml")
    assert engine.compose_file_in(prod) == prod


def test_an_override_file_beside_is_merged(tmp_path: Path) -> None:
    write(tmp_path, "services:\n  web: {image: a, ports: ['1:1']}\n")
    write(tmp_path, "services:\n  web: {image: b, ports: ['2:2']}\n  extra: {image: c}\n",
          "compose.override.yaml")
    found = engine.load_compose_file(tmp_path, environ={})
    assert found.files[1].endswith("compose.override.yaml")
    assert found.service("web").image == "b" and found.service("web").ports == ("1:1", "2:2")
    assert [s.name for s in found.services] == ["web", "extra"]


async def test_the_tool_on_path_is_found_and_named_and_none_says_what_to_install(
    tmp_path: Path,
) -> None:
    for podman, tool in ((False, "docker-compose"), (True, "podman-compose")):
        if not any((Path(d) / tool).exists() for d in os.environ["PATH"].split(os.pathsep)):
            pytest.skip(f"{tool} is not installed")
        found = await engine.find_compose_tool(podman=podman)
        assert found.name in (tool, "docker compose")
        assert found.version and found.label.startswith(found.name)
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.raises(engine.ComposeToolMissing, match="install podman-compose"):
        await engine.find_compose_tool(podman=True, path=str(empty))
    with pytest.raises(engine.ComposeToolMissing, match="docker-compose"):
        await engine.find_compose_tool(podman=False, path=str(empty))


def test_command_lines_point_the_tool_at_the_window_engine() -> None:
    target = engine.ComposeTarget("shop", ("/srv/shop/compose.yaml",), "/srv/shop", ("dev",),
                                  expected=("web", "debug"))
    docker = engine.ComposeTool("docker-compose", ("/usr/bin/docker-compose",), "1.29.2")
    up = engine.compose_command(docker, "up", target, "unix:///run/d.sock",
                                environ={"DOCKER_CONTEXT": "remote", "PATH": "/bin"})
    assert up.argv == ("/usr/bin/docker-compose", "-p", "shop", "-f", "/srv/shop/compose.yaml",
                       "--profile", "dev", "--project-directory", "/srv/shop", "--ansi",
                       "never", "up", "-d")
    assert up.env["DOCKER_HOST"] == "unix:///run/d.sock" and "DOCKER_CONTEXT" not in up.env
    podman = engine.ComposeTool("podman-compose", ("/usr/bin/podman-compose",), "1.0.3")
    up = engine.compose_command(podman, "up", target, "unix:///run/p.sock", environ={})
    # podman-compose 1.0 knows no --profile: the active services are named instead.
    assert up.argv[-4:] == ("up", "-d", "web", "debug")
    assert up.env["CONTAINER_HOST"] == "unix:///run/p.sock"
    down = engine.compose_command(podman, "down", target, "unix:///run/p.sock", environ={})
    assert down.argv[-1] == "down"
    certs = Path("/home/u/.docker/remote")
    tls = engine.TLSConfig(True, certs / "ca.pem", certs / "cert.pem", certs / "key.pem")
    up = engine.compose_command(docker, "up", target, "tcp://h:2376", environ={}, tls=tls)
    assert up.env["DOCKER_CERT_PATH"] == str(certs) and up.env["DOCKER_TLS_VERIFY"] == "1"


def test_tls_files_of_any_name_reach_the_tool_and_inherited_tls_never_does(
        tmp_path: Path) -> None:
    """An engine added with its own file names still gets TLS; another engine's TLS
    settings in this process's environment never leak into the tool's."""
    target = engine.ComposeTarget("shop", ("/srv/shop/compose.yaml",), "/srv/shop")
    docker = engine.ComposeTool("docker-compose", ("/usr/bin/docker-compose",), "1.29.2")
    inherited = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/elsewhere", "PATH": "/bin"}
    plain = engine.compose_command(docker, "up", target, "unix:///run/d.sock",
                                   environ=inherited)
    assert "DOCKER_TLS_VERIFY" not in plain.env and "DOCKER_CERT_PATH" not in plain.env
    for name in ("lab-ca.crt", "me.crt", "me.key"):
        (tmp_path / name).write_text(name)
    tls = engine.TLSConfig(True, tmp_path / "lab-ca.crt", tmp_path / "me.crt",
                           tmp_path / "me.key")
    up = engine.compose_command(docker, "up", target, "tcp://lab:2376", environ=inherited,
                                tls=tls)
    folder = Path(up.env["DOCKER_CERT_PATH"])
    assert folder != Path("/elsewhere") and up.env["DOCKER_TLS_VERIFY"] == "1"
    assert {p.name: p.read_text() for p in folder.iterdir()} == {
        "ca.pem": "lab-ca.crt", "cert.pem": "me.crt", "key.pem": "me.key"}


def test_the_failing_service_and_error_are_read_from_each_tools_output() -> None:
    services = ("web", "worker", "cache")
    compose1 = ["Creating network \"shop_back\" with the default driver",
                "Creating shop_cache_1 ... done", "Creating shop_web_1 ... error",
                "ERROR: for shop_web_1  Cannot start service web: OCI runtime create failed: "
                "exec: \"nope\": executable file not found in $PATH: unknown",
                "ERROR: for web  Cannot start service web: OCI runtime create failed: exec:"
                " \"nope\": executable file not found in $PATH: unknown",
                "ERROR: Encountered errors while bringing up the project."]
    service, error = engine.failure_of(compose1, "shop", services)
    assert service == "web" and "executable file not found" in error
    podman = ["podman volume inspect shop_data || podman volume create shop_data",
              "Error: inspecting object: no such volume \"shop_data\"",
              "podman run --name=shop_worker_1 -d --label a=b busybox nope",
              "Error: nope: executable file not found in $PATH: OCI runtime attempted to invoke"
              " a command that was not found", "exit code: 127"]
    service, error = engine.failure_of(podman, "shop", services)
    assert service == "worker" and error.startswith("nope: executable file not found")
    plugin = [" Container shop-cache-1  Started", " Container shop-web-1  Starting",
              "Error response from daemon: driver failed programming external connectivity"]
    assert engine.failure_of(plugin, "shop", services)[0] == "web"


async def test_the_tools_output_streams_by_line_and_a_cancel_ends_the_tool(tmp_path: Path) -> None:
    script = "echo \"$$\"; printf 'one\\rtwo\\n\\033[32mgreen\\033[0m\\n' >&2; exec sleep 100"
    invocation = engine.ComposeInvocation(("sh", "-c", script), str(tmp_path), dict(os.environ))
    lines: list[str] = []
    stream = engine.run_compose(invocation)
    async for line in stream:
        lines.append(line)
        if len(lines) == 4:
            break
    pid = int(lines[0])
    assert lines[1:] == ["one", "two", "green"]  # stderr too; \r splits; colours dropped
    await stream.aclose()  # what cancelling the activity's task does to the stream
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    failing = engine.ComposeInvocation(("sh", "-c", "echo no; exit 3"), "", dict(os.environ))
    with pytest.raises(engine.ComposeFailed) as caught:
        async for _line in engine.run_compose(failing):
            pass
    assert caught.value.returncode == 3
