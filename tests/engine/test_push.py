"""Pushing to Debian's real ``docker-registry`` on loopback, with our bindings.

What the push reports is checked against the registry itself (the manifest digest
it serves) and against what ``docker push`` prints for the same image; failures
(a wrong password on an htpasswd registry, a registry nobody listens at) must be
one clear sentence with no credential in it or in any log line.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine
from tests.conftest import RUN_ID, EngineUnderTest, unique_name
from tests.engine.test_build import _free_port, _htpasswd, _start_registry, _stop

pytestmark = pytest.mark.anyio

PASSWORD = f"pw-{RUN_ID}-push-sëcret"


@pytest.fixture(scope="module")
def push_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry on 127.0.0.1 without auth (Docker takes loopback as insecure)."""
    root = tmp_path_factory.mktemp("push-registry")
    process, address = _start_registry(root)
    try:
        yield address
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("push-auth-registry")
    _htpasswd(root / "htpasswd", "ann", PASSWORD)
    process, address = _start_registry(root, root / "htpasswd")
    try:
        yield address
    finally:
        _stop(process)


def _manifest_digest(address: str, repository: str, tag: str) -> str:
    """The digest the registry serves the tag's manifest under (Docker-Content-Digest)."""
    request = urllib.request.Request(
        f"http://{address}/v2/{repository}/manifests/{tag}", method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json,"
                           "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(request) as answer:
        return str(answer.headers["Docker-Content-Digest"])


def _tagged(target: EngineUnderTest, reference: str) -> Iterator[str]:
    target.cli("tag", target.image, reference)
    try:
        yield reference
    finally:
        target.cli("rmi", reference, check=False)


async def _push_all(client: engine.Engine, reference: str, auth: str | None = None
                    ) -> list[engine.PushProgress]:
    return [progress async for progress in engine.push(client, reference, auth=auth)]


async def test_push_reports_layers_bytes_and_the_registry_s_digest(
    docker_engine: EngineUnderTest, push_registry: str,
) -> None:
    repository = f"dockyard/pushed-{RUN_ID}"
    ours = f"{push_registry}/{repository}:ours"
    theirs = f"{push_registry}/{repository}:cli"
    for _ in _tagged(docker_engine, ours):
        for _ in _tagged(docker_engine, theirs):
            async with await docker_engine.open() as client:
                first = await _push_all(client, ours)
                again = await _push_all(client, ours)
            printed = docker_engine.cli("push", theirs)
    digest = first[-1].digest
    assert digest is not None and digest.startswith("sha256:")
    assert digest == _manifest_digest(push_registry, repository, "ours")
    # `docker push` of the same image prints the same manifest digest.
    match = re.search(r"digest: (sha256:[0-9a-f]{64})", printed)
    assert match is not None and match.group(1) == digest
    # Per layer: bytes went up, and each layer ended "Pushed".
    states = {layer.id: layer.state for layer in first[-1].layers}
    assert states and set(states.values()) == {engine.PushState.PUSHED}
    assert any(p.layer is not None and p.layer.state is engine.PushState.PUSHING
               and p.layer.current > 0 for p in first)
    assert first[-1].sent >= 1_000_000  # the busybox binary's layer, at least
    assert first[-1].fraction == 1.0
    # The second push: the registry has every layer already.
    assert {layer.state for layer in again[-1].layers} == {engine.PushState.EXISTS}
    assert again[-1].digest == digest


async def test_push_with_a_typed_login_and_a_wrong_password(
    docker_engine: EngineUnderTest, auth_registry: str, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    reference = f"{auth_registry}/dockyard/private-{RUN_ID}:v1"
    wrong = engine.login_auth(auth_registry, "ann", "not-" + PASSWORD)
    right = engine.login_auth(auth_registry, "ann", PASSWORD)
    for _ in _tagged(docker_engine, reference):
        async with await docker_engine.open() as client:
            with pytest.raises(engine.PushFailed) as refused:
                await _push_all(client, reference, wrong)
            with pytest.raises(engine.PushFailed) as anonymous:
                await _push_all(client, reference)
            pushed = await _push_all(client, reference, right)
    assert refused.value.reason is engine.PullFailure.UNAUTHORIZED
    message = str(refused.value)
    assert message.startswith(f"{auth_registry} refused the push of {reference}"
                              " (wrong user name or password"), message
    assert "\n" not in message
    assert anonymous.value.reason is engine.PullFailure.UNAUTHORIZED
    assert pushed[-1].digest == _manifest_digest_auth(auth_registry,
                                                      f"dockyard/private-{RUN_ID}", "v1")
    secrets = (PASSWORD, "not-" + PASSWORD, wrong, right,
               base64.b64encode(f"ann:{PASSWORD}".encode()).decode())
    for record in caplog.records:
        text = record.getMessage()
        assert not any(secret in text for secret in secrets), record.name
    assert not any(secret in message for secret in secrets)


def _manifest_digest_auth(address: str, repository: str, tag: str) -> str:
    token = base64.b64encode(f"ann:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        f"http://{address}/v2/{repository}/manifests/{tag}", method="HEAD",
        headers={"Authorization": f"Basic {token}",
                 "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(request) as answer:
        return str(answer.headers["Docker-Content-Digest"])


async def test_push_to_an_unreachable_registry_is_said_plainly(
    docker_engine: EngineUnderTest,
) -> None:
    address = f"127.0.0.1:{_free_port()}"  # nobody listens there
    reference = f"{address}/dockyard/nowhere:{RUN_ID}"
    for _ in _tagged(docker_engine, reference):
        async with await docker_engine.open() as client:
            with pytest.raises(engine.PushFailed) as failed:
                await _push_all(client, reference)
    assert failed.value.reason is engine.PullFailure.UNREACHABLE
    assert str(failed.value).startswith(f"the registry {address} cannot be reached: ")
    assert "connection refused" in str(failed.value)


async def test_pushing_an_image_that_is_not_here(docker_engine: EngineUnderTest,
                                                 push_registry: str) -> None:
    reference = f"{push_registry}/dockyard/{unique_name('absent')}:v1"
    async with await docker_engine.open() as client:
        with pytest.raises(engine.PushFailed, match=r"^there is no local image .* to push"):
            await _push_all(client, reference)


async def test_podman_push_to_a_plain_http_registry(podman_engine: EngineUnderTest,
                                                    push_registry: str) -> None:
    """Podman does not take loopback as insecure as Docker does: it says how to allow it."""
    reference = f"{push_registry}/dockyard/podman-{RUN_ID}:v1"
    for _ in _tagged(podman_engine, reference):
        async with await podman_engine.open() as client:
            try:
                pushed = await _push_all(client, reference)
            except engine.PushFailed as exc:
                assert exc.reason is engine.PullFailure.INSECURE, str(exc)
                assert "registries.conf" in str(exc)
            else:  # a Podman configured to allow it: then the digest must be right
                digest = pushed[-1].digest
                assert digest == _manifest_digest(push_registry, f"dockyard/podman-{RUN_ID}",
                                                  "v1")


def test_push_decoder_reads_podman_s_digest_line_and_errors() -> None:
    decoder = engine.PushDecoder("127.0.0.1:5000/a:v1")
    digest = "sha256:" + "ab" * 32
    progress = decoder.feed({"status": f"v1: digest: {digest} size: 527"})
    assert progress is not None and progress.digest == digest and decoder.size == 527
    with pytest.raises(engine.PushFailed, match="cannot be reached"):
        decoder.feed({"errorDetail": {"message": 'Get "http://127.0.0.1:5000/v2/": dial tcp'
                                                 " 127.0.0.1:5000: connect: connection refused"}})
    assert json.dumps(progress.status)  # a plain string
    _ = Path  # (typing import kept for fixtures above)


def test_push_fraction_is_weighed_by_bytes() -> None:
    """A small layer finishing does not move the bar past a big one still uploading."""
    decoder = engine.PushDecoder("127.0.0.1:5000/a:v1")
    for message in (
        {"status": "Preparing", "id": "big"},
        {"status": "Preparing", "id": "small"},
        {"status": "Pushing", "id": "small", "progressDetail": {"current": 10, "total": 10}},
        {"status": "Pushed", "id": "small"},
    ):
        progress = decoder.feed(message)
    progress = decoder.feed({"status": "Pushing", "id": "big",
                             "progressDetail": {"current": 90, "total": 990}})
    assert progress is not None
    assert progress.fraction == pytest.approx(100 / 1000)
    assert progress.layers_done == 1 and progress.sent == 100
    done = decoder.feed({"status": "Pushed", "id": "big"})
    assert done is not None and done.fraction == 1.0
