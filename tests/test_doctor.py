"""``dockyard doctor`` as a user runs it: a subprocess, real engines, real sockets."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.conftest import DOCKER_CLI, IN_CI, EngineUnderTest
from tests.sshd import keygen, require_sshd, start_sshd
from tests.tls_dockerd import TLSDockerd
from tests.waits import seconds

REPO = Path(__file__).resolve().parent.parent


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with no engine settings of the developer's own."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY",
                        "DOCKER_CERT_PATH", "DOCKER_TLS")}
    config = tmp_path / "docker-config"
    config.mkdir(exist_ok=True)
    env.update(HOME=str(tmp_path), DOCKER_CONFIG=str(config), XDG_RUNTIME_DIR=str(tmp_path))
    env.update(extra)
    return env


def doctor(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "doctor", *args],
        capture_output=True, text=True, env=dict(env), cwd=REPO, timeout=seconds(60), check=False,
    )


def doctor_json(env: Mapping[str, str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = doctor(env, "--json", *args)
    return result.returncode, json.loads(result.stdout)


def container_counts(target: EngineUnderTest) -> tuple[int, int]:
    """Running and all containers, as ``docker ps`` counts them."""
    return (len(target.cli("ps", "-q").split()), len(target.cli("ps", "-aq").split()))


def test_default_socket(docker_engine: EngineUnderTest, tmp_path: Path) -> None:
    if docker_engine.url != "unix:///var/run/docker.sock":
        pytest.skip("the Docker engine under test is not on the default socket")
    # Other programs may create or remove containers meanwhile: compare with counts the
    # CLI read the same before and after doctor did.
    for _ in range(10):
        before = container_counts(docker_engine)
        code, report = doctor_json(clean_env(tmp_path))
        if container_counts(docker_engine) == before:
            break
    else:
        pytest.fail("the engine's containers kept changing while doctor read them")
    assert code == 0, report
    assert report["endpoint"] == {"url": "unix:///var/run/docker.sock",
                                  "source": "default socket (rootful Docker)"}
    info = report["engine"]
    assert info["product"] == "Docker Engine"
    assert info["version"] == docker_engine.cli("version", "--format", "{{.Server.Version}}")
    assert info["server_api_version"] == docker_engine.cli(
        "version", "--format", "{{.Server.APIVersion}}")
    assert info["os"] == "linux"
    running, every = before
    assert report["counts"]["running"] == running
    assert report["counts"]["containers"] == every
    assert report["attempts"][-1]["connected"] is True

    text = doctor(clean_env(tmp_path))
    assert text.returncode == 0
    assert "Endpoint:    unix:///var/run/docker.sock" in text.stdout
    assert f"Engine:      Docker Engine {info['version']}" in text.stdout


def test_docker_host_to_podman(podman_engine: EngineUnderTest, tmp_path: Path) -> None:
    code, report = doctor_json(clean_env(tmp_path, DOCKER_HOST=podman_engine.url))
    assert code == 0, report
    assert report["endpoint"] == {"url": podman_engine.url, "source": "DOCKER_HOST"}
    assert report["engine"]["product"] == "Podman"
    podman_version = subprocess.run(["podman", "version", "--format", "{{.Server.Version}}"],
                                    capture_output=True, text=True, check=True).stdout.strip()
    assert report["engine"]["version"] == podman_version
    assert report["counts"]["images"] >= 1  # at least the test image


def test_host_flag_beats_docker_host(podman_engine: EngineUnderTest, tmp_path: Path) -> None:
    env = clean_env(tmp_path, DOCKER_HOST=f"unix://{tmp_path}/nothing.sock")
    code, report = doctor_json(env, "--host", podman_engine.url)
    assert code == 0, report
    assert report["endpoint"]["source"] == "--host"


def test_docker_host_to_a_missing_socket(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sock"
    result = doctor(clean_env(tmp_path, DOCKER_HOST=f"unix://{missing}"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"dockyard doctor: no socket at {missing}"
    assert "Traceback" not in result.stdout + result.stderr
    assert f"unix://{missing}  [DOCKER_HOST]: no socket at {missing}" in result.stdout


def test_garbage_host_is_a_configuration_error(tmp_path: Path) -> None:
    result = doctor(clean_env(tmp_path, DOCKER_HOST="definitely not a url"))
    assert result.returncode == 2
    assert result.stderr.startswith("dockyard doctor: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.fixture
def world_readable_app() -> Iterator[Path]:
    """Dockyard and its pure-Python dependencies where an unprivileged user can read them."""
    probe = (
        "import sys, sysconfig, app.doctor, httpcore, h11, anyio._backends._asyncio\n"
        "import app.cli; app.cli.build_parser()  # what `python -m app doctor` loads first\n"
        "import engine\n"
        "for name in engine.__all__: getattr(engine, name)  # engine loads its names lazily\n"
        "site = sysconfig.get_paths()['purelib']\n"
        "for m in list(sys.modules.values()):\n"
        "    f = getattr(m, '__file__', None) or ''\n"
        "    if f.startswith(site): print(f[len(site) + 1:].split('/')[0])\n"
    )
    listing = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             cwd=REPO, check=True).stdout
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    root = Path(tempfile.mkdtemp(prefix="dockyard-nobody-"))
    for name in sorted(set(listing.split())):
        source = site / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.suffix == ".py":
            shutil.copy(source, root / name)
    for ours in ("engine", "app"):
        shutil.copytree(REPO / ours, root / ours,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_socket_without_permission(
    docker_engine: EngineUnderTest, world_readable_app: Path, tmp_path: Path
) -> None:
    socket = docker_engine.endpoint.socket_path
    system_python = "/usr/bin/python3"
    if os.getuid() != 0 or not shutil.which("setpriv") or not os.path.exists(system_python):
        pytest.skip("needs root, setpriv and /usr/bin/python3 to run doctor as 'nobody'")
    assert socket is not None
    mode = stat.S_IMODE(os.stat(socket).st_mode)
    assert not mode & stat.S_IWOTH, "the socket must not be writable by everyone for this test"
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         system_python, "-m", "app", "doctor", "--host", f"unix://{socket}"],
        capture_output=True, text=True, timeout=seconds(60), check=False, cwd="/",
        env={"PYTHONPATH": str(world_readable_app), "HOME": "/nonexistent", "PATH": "/usr/bin"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "permission denied" in result.stderr
    assert socket in result.stderr
    assert "docker' group" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(DOCKER_CLI is None, reason="needs the docker CLI")
def test_context_from_the_cli_store(podman_engine: EngineUnderTest, tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    cli = [DOCKER_CLI or "docker", "--config", env["DOCKER_CONFIG"]]
    subprocess.run([*cli, "context", "create", "dockyard-ctx", "--docker",
                    f"host={podman_engine.url}"], check=True, capture_output=True, env=env)

    code, report = doctor_json({**env, "DOCKER_CONTEXT": "dockyard-ctx"})
    assert code == 0, report
    assert report["endpoint"] == {"url": podman_engine.url,
                                  "source": "context 'dockyard-ctx' (DOCKER_CONTEXT)"}
    assert report["engine"]["product"] == "Podman"

    subprocess.run([*cli, "context", "use", "dockyard-ctx"], check=True, capture_output=True,
                   env=env)
    code, report = doctor_json(env)
    assert code == 0, report
    assert report["endpoint"]["url"] == podman_engine.url
    assert report["endpoint"]["source"].startswith("context 'dockyard-ctx' (")

    result = doctor({**env, "DOCKER_CONTEXT": "no-such-context"})
    assert result.returncode == 2
    assert "context 'no-such-context' not found" in result.stderr


def test_headless_commands_do_not_load_qt() -> None:
    probe = ("import sys, app.cli, app.doctor; "
             "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'qasync'))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"


def test_doctor_over_ssh(docker_engine: EngineUnderTest, tmp_path: Path) -> None:
    """--host ssh://… (and DOCKER_HOST) reach the engine; failures are one line, with a fix."""
    require_sshd(IN_CI)
    if docker_engine.url != "unix:///var/run/docker.sock":
        pytest.skip("the sshd forwards to /var/run/docker.sock; the test Docker is elsewhere")
    server = start_sshd(tmp_path / "sshd")
    try:
        env = clean_env(tmp_path, **server.env())
        code, report = doctor_json(env, "--host", server.url)
        assert code == 0, report
        assert report["endpoint"] == {"url": server.url, "source": "--host"}
        assert report["engine"]["version"] == docker_engine.cli(
            "version", "--format", "{{.Server.Version}}")
        code, report = doctor_json({**env, "DOCKER_HOST": server.url})
        assert code == 0, report
        assert report["endpoint"]["source"] == "DOCKER_HOST"

        empty = tmp_path / "empty_known_hosts"
        empty.write_text("")
        unknown = {**env, "DOCKYARD_SSH_KNOWN_HOSTS": str(empty)}
        result = doctor(unknown, "--host", server.url)
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("dockyard doctor: the host [127.0.0.1]:")
        assert "is not known" in line and "SHA256:" in line
        assert "Traceback" not in result.stdout + result.stderr
        assert "systemctl" not in result.stdout  # no advice to start a local engine
        code, report = doctor_json(unknown, "--host", server.url)
        assert code == 1
        assert report["host_key"]["fingerprint"] in line
        assert report["host_key"]["known_hosts_line"].endswith(server.host_public)
        assert report["host_key"]["changed"] is False

        keygen(tmp_path / "stranger", "not authorized")
        result = doctor({**env, "DOCKYARD_SSH_IDENTITY": str(tmp_path / "stranger")},
                        "--host", server.url)
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert "permission denied" in line and f"127.0.0.1:{server.port}" in line
        assert "docker' group" not in result.stdout  # the local-socket advice is not for ssh
        assert "Traceback" not in result.stdout + result.stderr

        server.stop()
        result = doctor(env, "--host", server.url)
        assert result.returncode == 1
        assert result.stderr.strip() == (f"dockyard doctor: connection refused at"
                                         f" root@127.0.0.1:{server.port} (is sshd running there?)")
    finally:
        server.stop()


def test_doctor_over_tls(tls_dockerd: TLSDockerd, tmp_path: Path) -> None:
    """DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH (and --host with them) reach the TLS
    engine; a wrong CA, an expired certificate and plain tcp:// are one line, with a fix."""
    env = clean_env(tmp_path, **tls_dockerd.env())
    code, report = doctor_json(env)
    assert code == 0, report
    assert report["endpoint"] == {"url": tls_dockerd.url, "source": "DOCKER_HOST"}
    assert report["engine"]["version"] == subprocess.run(
        ["dockerd", "--version"], capture_output=True, text=True, check=True,
    ).stdout.split()[2].rstrip(",")
    # The second dockerd, not the machine's: it has no containers or images.
    assert report["counts"] == {"containers": 0, "running": 0, "images": 0}
    without_host = {k: v for k, v in env.items() if k != "DOCKER_HOST"}
    code, report = doctor_json(without_host, "--host", tls_dockerd.url)
    assert code == 0, report
    assert report["endpoint"] == {"url": tls_dockerd.url, "source": "--host"}

    for cert_dir, start in (
        (tls_dockerd.certs.wrong_ca_dir, "TLS certificate verification failed: "),
        (tls_dockerd.certs.expired_dir, f"the engine at {tls_dockerd.url} refused our TLS"
                                        " client certificate (bad certificate)"),
    ):
        failing = clean_env(tmp_path, **tls_dockerd.env(cert_dir))
        result = doctor(failing)
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"dockyard doctor: {start}"), line
        assert "Fix: DOCKER_CERT_PATH" in result.stdout
        assert "systemctl" not in result.stdout  # no advice to start a local engine
        assert "Traceback" not in result.stdout + result.stderr
        code, report = doctor_json(failing)
        assert code == 1 and report["tls"] is True
        assert [a["url"] for a in report["attempts"]] == [tls_dockerd.url]  # no fallback

    result = doctor(clean_env(tmp_path), "--host", tls_dockerd.url)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"dockyard doctor: the engine at {tls_dockerd.url} speaks TLS, and no TLS was asked"
        " for: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or give its CA and client"
        " certificate")


def server_components(cli_version: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    """(name, version) of the Server.Components ``docker version`` shows, as the engine sent them.

    The docker CLI adds an "Engine" row of its own when the server names none (Podman
    calls its "Podman Engine"); that row is the CLI's, not the engine's.
    """
    rows = [(c["Name"], c["Version"]) for c in cli_version["Server"]["Components"]]
    names = {name for name, _ in rows}
    if "Podman Engine" in names:
        rows = [(n, v) for n, v in rows if n != "Engine"]
    return rows


def test_json_lists_the_components_docker_version_shows(
    any_engine: EngineUnderTest, tmp_path: Path
) -> None:
    code, report = doctor_json(clean_env(tmp_path, DOCKER_HOST=any_engine.url))
    assert code == 0, report
    cli_version = json.loads(any_engine.cli("version", "--format", "{{json .}}"))
    expected = server_components(cli_version)
    assert expected, "docker version showed no components"
    assert [(c["name"], c["version"]) for c in report["engine"]["components"]] == expected
    processes = [link["process"] for link in report["engine"]["chain"]]
    if any_engine.kind == "docker":
        assert processes[:3] == ["dockerd", "containerd", "containerd-shim"]
    else:
        assert processes[:2] == ["podman", "conmon"]

    text = doctor(clean_env(tmp_path, DOCKER_HOST=any_engine.url))
    assert text.returncode == 0
    first_component = expected[-1][0]
    assert "Components:" in text.stdout and first_component in text.stdout


@pytest.mark.skipif(DOCKER_CLI is None, reason="needs the docker CLI")
def test_all_lists_every_known_engine_with_its_state(
    docker_engine: EngineUnderTest, podman_engine: EngineUnderTest, tmp_path: Path
) -> None:
    env = clean_env(tmp_path, CONTAINER_HOST=podman_engine.url)
    cli = [DOCKER_CLI or "docker", "--config", env["DOCKER_CONFIG"]]
    missing = f"unix://{tmp_path}/gone.sock"
    for name, url in (("dockyard-docker", docker_engine.url), ("dockyard-gone", missing)):
        subprocess.run([*cli, "context", "create", name, "--docker", f"host={url}"],
                       check=True, capture_output=True, env=env)
    subprocess.run([*cli, "context", "use", "dockyard-docker"], check=True, capture_output=True,
                   env=env)
    # A Podman connection as `podman system connection add` writes it (containers.conf).
    conf = tmp_path / ".config" / "containers"
    conf.mkdir(parents=True)
    (conf / "containers.conf").write_text(
        f'[engine.service_destinations.dockyard-pod]\nuri = "{podman_engine.url}"\n')

    code, report = doctor_json(env, "--all")
    assert code == 0, report
    by_url = {item["url"]: item for item in report["engines"]}
    docker = by_url[docker_engine.url]
    assert docker["state"] == "reachable"
    assert docker["product"] == "Docker Engine"
    assert docker["version"] == docker_engine.cli("version", "--format", "{{.Server.Version}}")
    assert "context 'dockyard-docker'" in docker["found_via"]
    assert docker["current"] is True
    podman = by_url[podman_engine.url]
    assert podman["state"] == "reachable"
    assert podman["product"] == "Podman"
    assert "CONTAINER_HOST" in podman["found_via"]
    assert any(via.startswith("Podman connection 'dockyard-pod'") for via in podman["found_via"])
    gone = by_url[missing]
    assert gone["state"] == "unreachable"
    assert gone["found_via"] == ["context 'dockyard-gone'"]
    assert gone["error"]

    text = doctor(env, "--all")
    assert text.returncode == 0
    assert f"* {docker_engine.url}  reachable: Docker Engine" in text.stdout
    assert f"{missing}  unreachable:" in text.stdout
    assert "Traceback" not in text.stderr


def test_all_with_a_host_is_bad_input(tmp_path: Path) -> None:
    result = doctor(clean_env(tmp_path), "--all", "--host", "unix:///x.sock")
    assert result.returncode == 2
    assert result.stderr.startswith("dockyard doctor: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_all_says_permission_denied(
    docker_engine: EngineUnderTest, world_readable_app: Path, tmp_path: Path
) -> None:
    socket = docker_engine.endpoint.socket_path
    system_python = "/usr/bin/python3"
    if os.getuid() != 0 or not shutil.which("setpriv") or not os.path.exists(system_python) \
            or socket is None:
        pytest.skip("needs root, setpriv and /usr/bin/python3 to run doctor as 'nobody'")
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         system_python, "-m", "app", "doctor", "--all", "--json"],
        capture_output=True, text=True, timeout=seconds(60), check=False, cwd="/",
        env={"PYTHONPATH": str(world_readable_app), "HOME": "/nonexistent", "PATH": "/usr/bin",
             "DOCKER_HOST": f"unix://{socket}"},
    )
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    item = next(i for i in report["engines"] if i["url"] == f"unix://{socket}")
    assert item["state"] == "permission denied", item
    assert "context 'default' (DOCKER_HOST)" in item["found_via"]
    assert result.returncode == 1
