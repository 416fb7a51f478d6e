"""``dockyard doctor`` and the engines a user points it at (issue 14): plain tcp:// to another
machine is warned about in plain words (loopback is not), and a docker CLI context carrying
TLS files, as ``docker context create`` writes one, reaches the TLS engine verified."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import DOCKER_CLI, EngineUnderTest
from tests.tcp_relay import local_address, tcp_relay
from tests.test_doctor import clean_env, doctor, doctor_json
from tests.tls_dockerd import TLSDockerd

PLAIN = "is plain tcp without TLS"


def test_plain_tcp_to_another_machine_is_warned_and_loopback_is_not(
    docker_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    socket = docker_engine.endpoint.socket_path
    address = local_address()
    if socket is None or address is None:
        pytest.skip("needs the Docker engine on a unix socket and a non-loopback address")
    # The same real engine behind plain tcp://, once at this machine's network address and
    # once on loopback.
    with tcp_relay(socket, address) as exposed, tcp_relay(socket, "127.0.0.1") as local:
        code, report = doctor_json(clean_env(tmp_path), "--host", exposed.url)
        assert code == 0, report
        assert report["endpoint"]["url"] == exposed.url
        assert report["warning"].startswith(f"{exposed.url} {PLAIN}: anyone on the network")
        assert "Use TLS" in report["warning"] and "ssh://" in report["warning"]
        text = doctor(clean_env(tmp_path), "--host", exposed.url)
        assert text.returncode == 0
        assert f"  Warning:   {exposed.url} {PLAIN}" in text.stdout

        code, report = doctor_json(clean_env(tmp_path), "--host", local.url)
        assert code == 0, report
        assert report["warning"] == ""
        assert "Warning" not in doctor(clean_env(tmp_path), "--host", local.url).stdout

        # --all says it too, beside the engine it concerns (Podman's CONTAINER_HOST is one
        # way a plain tcp:// engine becomes known; both answer here).
        code, survey = doctor_json(clean_env(tmp_path, CONTAINER_HOST=exposed.url), "--all")
        assert code == 0, survey
        by_url = {item["url"]: item for item in survey["engines"]}
        assert by_url[exposed.url]["state"] == "reachable"
        assert PLAIN in by_url[exposed.url]["warning"]
        text = doctor(clean_env(tmp_path, CONTAINER_HOST=local.url), "--all")
        assert f"{local.url}  reachable" in text.stdout and "Warning" not in text.stdout
        text = doctor(clean_env(tmp_path, CONTAINER_HOST=exposed.url), "--all")
        assert f"    Warning: {exposed.url} {PLAIN}" in text.stdout


def _context(env: dict[str, str], name: str, url: str, files: Path) -> None:
    """``docker context create`` with the TLS files, as a user makes one."""
    subprocess.run(
        [DOCKER_CLI or "docker", "--config", env["DOCKER_CONFIG"], "context", "create", name,
         "--docker", f"host={url},ca={files / 'ca.pem'},cert={files / 'cert.pem'},"
         f"key={files / 'key.pem'}"],
        check=True, capture_output=True, env=env)


@pytest.mark.skipif(DOCKER_CLI is None, reason="needs the docker CLI to write the context")
def test_a_context_with_tls_files_reaches_the_tls_engine_verified(
    tls_dockerd: TLSDockerd, tmp_path: Path,
) -> None:
    env = clean_env(tmp_path)
    _context(env, "dockyard-tls", tls_dockerd.url, tls_dockerd.certs.client_dir)
    _context(env, "dockyard-wrong-ca", tls_dockerd.url, tls_dockerd.certs.wrong_ca_dir)
    # The CLI copied the files into its store (contexts/tls/<id>/docker/): the originals
    # are not needed any more, as for the CLI itself.
    stored = list((Path(env["DOCKER_CONFIG"]) / "contexts" / "tls").rglob("*.pem"))
    assert len(stored) == 6, stored

    code, report = doctor_json({**env, "DOCKER_CONTEXT": "dockyard-tls"})
    assert code == 0, report
    assert report["endpoint"]["url"] == tls_dockerd.url
    assert report["endpoint"]["source"] == "context 'dockyard-tls' (DOCKER_CONTEXT)"
    assert report["engine"]["product"] == "Docker Engine"
    assert report["warning"] == ""  # TLS: nothing to warn about
    # The same daemon as over its own socket: it has no containers of anyone else's.
    assert report["counts"]["containers"] == 0

    # Verification is on: the context's other CA does not trust the engine's certificate,
    # and that is one clear line, with no fallback to plain tcp.
    result = doctor({**env, "DOCKER_CONTEXT": "dockyard-wrong-ca"})
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("dockyard doctor: TLS certificate verification failed: "), line
    assert "Traceback" not in result.stdout + result.stderr
    code, report = doctor_json({**env, "DOCKER_CONTEXT": "dockyard-wrong-ca"})
    assert code == 1 and report["tls"] is True
    assert [a["url"] for a in report["attempts"]] == [tls_dockerd.url]

    # --all lists each context with its own state: one address, two engines as far as
    # the files go (the wrong CA's with its reason).
    code, survey = doctor_json(env, "--all")
    by_via = {via: item for item in survey["engines"] for via in item["found_via"]}
    right, wrong = by_via["context 'dockyard-tls'"], by_via["context 'dockyard-wrong-ca'"]
    assert right is not wrong
    assert right["url"] == wrong["url"] == tls_dockerd.url
    assert right["state"] == "reachable"
    assert wrong["state"] == "unreachable"
    assert "TLS certificate verification failed" in wrong["error"]
    # The same files under two contexts are one engine.
    _context(env, "dockyard-tls-again", tls_dockerd.url, tls_dockerd.certs.client_dir)
    code, survey = doctor_json(env, "--all")
    [again] = [item for item in survey["engines"]
               if "context 'dockyard-tls-again'" in item["found_via"]]
    assert "context 'dockyard-tls'" in again["found_via"]
