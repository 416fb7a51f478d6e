"""Browsing a registry over the distribution API, against Debian's real ``docker-registry``.

Images are pushed with the engine (``docker push``); what the registry client
reads back is checked against what the push and ``docker inspect`` say (digest,
RepoDigests, created time, platform) and against the blobs the registry stored
on disk (sizes).  A second registry checks logins with htpasswd basic auth.  A
multi-platform index is assembled with the registry API itself (blob uploads and
``PUT`` of manifests), since the test engine cannot build for other platforms.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import io
import json
import logging
import os
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import engine
from engine import (
    Credentials,
    RegistryClient,
    RegistryNotFound,
    RegistryUnauthorized,
    RegistryUnreachable,
    open_registry,
    parse_challenge,
    save_login,
)
from tests.conftest import LABEL, RUN_ID, EngineUnderTest
from tests.credential_helper import install_helper
from tests.engine.test_build import _free_port, _htpasswd, _start_registry, _stop
from tests.token_server import TokenServer
from tests.waits import seconds

pytestmark = pytest.mark.anyio


@dataclass
class Pushed:
    reference: str  # address/repository:tag
    repository: str
    tag: str
    digest: str  # as `docker push` printed it
    repo_digest: str  # from docker inspect RepoDigests
    created: datetime
    platform: str


@dataclass
class LoopbackRegistry:
    address: str
    root: Path
    pushed: list[Pushed] = field(default_factory=list)

    def blob_size(self, digest: str) -> int:
        algorithm, hexa = digest.split(":")
        path = (self.root / "data/docker/registry/v2/blobs" / algorithm / hexa[:2] / hexa
                / "data")
        return path.stat().st_size


def _push(target: EngineUnderTest, root: Path, reference: str, content: str) -> Pushed:
    build = root / f"build-{hashlib.sha256(reference.encode()).hexdigest()[:8]}"
    build.mkdir()
    (build / "file.txt").write_text(content)
    (build / "Dockerfile").write_text(f"FROM {target.image}\nCOPY file.txt /file.txt\n")
    target.cli("build", "-q", "--label", LABEL, "-t", reference, str(build))
    output = target.cli("push", reference)
    match = re.search(r"digest: (sha256:[0-9a-f]{64}) size:", output)
    assert match, output
    inspected = json.loads(target.cli("image", "inspect", reference))[0]
    [repo_digest] = inspected["RepoDigests"]
    _, _, rest = reference.partition("/")
    repository, _, tag = rest.rpartition(":")
    return Pushed(reference, repository, tag, match.group(1), repo_digest,
                  datetime.fromisoformat(inspected["Created"][:26].rstrip("Z") + "+00:00"),
                  f"{inspected['Os']}/{inspected['Architecture']}")


@pytest.fixture(scope="module")
def loopback(docker_engine: EngineUnderTest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[LoopbackRegistry]:
    """A registry on 127.0.0.1 without auth, holding three tags in two repositories."""
    root = tmp_path_factory.mktemp("browse-registry")
    process, address = _start_registry(root)
    registry = LoopbackRegistry(address, root)
    try:
        for name, content in (("dockyard/alpha:v1", "one"), ("dockyard/alpha:v2", "two"),
                              ("dockyard/beta:latest", "three" * 1000)):
            registry.pushed.append(_push(docker_engine, root, f"{address}/{name}",
                                         f"{content} {RUN_ID}"))
        yield registry
    finally:
        docker_engine.cli("rmi", "-f", *(p.reference for p in registry.pushed), check=False)
        _stop(process)


async def test_catalog_and_tags_of_pushed_images(docker_engine: EngineUnderTest,
                                                 loopback: LoopbackRegistry) -> None:
    async with await docker_engine.open() as client:
        registry = await open_registry(loopback.address, client)
    async with registry:
        assert registry.insecure  # 127.0.0.0/8 is in the engine's insecure CIDRs
        assert await registry.repositories() == ["dockyard/alpha", "dockyard/beta"]
        assert registry.scheme == "http"
        assert sorted(await registry.tags("dockyard/alpha")) == ["v1", "v2"]
        assert await registry.tags("dockyard/beta") == ["latest"]
        with pytest.raises(RegistryNotFound) as missing:
            await registry.tags("dockyard/nothing")
        assert str(missing.value) == (f"the repository dockyard/nothing is not in"
                                      f" {loopback.address} (repository name not known to"
                                      " registry)")


async def test_each_tag_s_digest_size_platform_and_created_time(
    loopback: LoopbackRegistry,
) -> None:
    async with await open_registry(loopback.address) as registry:
        for pushed in loopback.pushed:
            info = await registry.tag_info(pushed.repository, pushed.tag)
            assert info.digest == pushed.digest
            assert pushed.repo_digest == f"{loopback.address}/{pushed.repository}@{info.digest}"
            assert info.platforms == (pushed.platform,)
            assert info.created == pushed.created
            assert not info.is_index
            manifest = await registry.manifest(pushed.repository, pushed.digest)
            assert manifest.config is not None
            blobs = [manifest.config.digest, *(layer.digest for layer in manifest.layers)]
            assert info.size == sum(loopback.blob_size(digest) for digest in blobs)
        infos = await registry.tag_infos("dockyard/alpha")
        assert sorted(i.tag for i in infos) == ["v1", "v2"]
        with pytest.raises(RegistryNotFound) as missing:
            await registry.tag_info("dockyard/alpha", "v9")
        assert str(missing.value) == (f"dockyard/alpha:v9 is not in {loopback.address}"
                                      " (manifest unknown)")


async def test_catalog_pages_are_followed(loopback: LoopbackRegistry,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """One repository per page: the registry's ``Link: rel="next"`` is followed to the end."""
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(str(request.url))

    async with await open_registry(loopback.address, credentials=None) as registry:
        whole = await registry.repositories()
        registry._http.event_hooks["request"].append(record)
        monkeypatch.setattr("engine._registry.client._PAGE", "1")
        assert await registry.repositories() == whole
    assert {"dockyard/alpha", "dockyard/beta"} <= set(whole)
    pages = [url for url in seen if "/v2/_catalog" in url]
    assert len(pages) >= len(whole)
    assert pages[0].endswith("/v2/_catalog?n=1")
    assert all("last=" in url for url in pages[1:])


# -- a multi-platform index, assembled with the registry API ------------------------------------


async def _upload_blob(http: httpx.AsyncClient, base: str, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = await http.post(f"{base}/v2/{repository}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    if location.startswith("/"):
        location = base + location
    # The location carries the upload's state in its query: the digest is added to it.
    url = httpx.URL(location).copy_merge_params({"digest": digest})
    done = await http.put(url, content=data,
                          headers={"Content-Type": "application/octet-stream"})
    assert done.status_code == 201, done.text
    return digest


async def _put_manifest(http: httpx.AsyncClient, base: str, repository: str, reference: str,
                        body: bytes, media_type: str) -> str:
    answer = await http.put(f"{base}/v2/{repository}/manifests/{reference}", content=body,
                            headers={"Content-Type": media_type})
    assert answer.status_code == 201, answer.text
    return str(answer.headers["docker-content-digest"])


@dataclass
class PushedIndex:
    repository: str
    tag: str
    digest: str  # the index's
    amd_digest: str
    arm_digest: str
    amd_manifest: dict[str, object]
    amd_config: bytes
    arm_config: bytes


async def push_index(loopback: LoopbackRegistry, repository: str = "dockyard/multi",
                     tag: str = "multi", arm_created: str = "2030-01-02T03:04:05.123456789Z"
                     ) -> PushedIndex:
    """An OCI index of linux/amd64 (the pushed image) and linux/arm64/v8 (a config made here,
    same layers, created ``arm_created``), plus an attestation entry, which is not a
    platform; the arm64 image is also tagged "arm"."""
    amd = loopback.pushed[0]
    base = f"http://{loopback.address}"
    async with httpx.AsyncClient(timeout=seconds(30)) as http:
        got = await http.get(f"{base}/v2/{amd.repository}/manifests/{amd.digest}",
                             headers={"Accept": engine.MANIFEST_ACCEPT})
        amd_manifest = got.json()
        amd_config = (await http.get(
            f"{base}/v2/{amd.repository}/blobs/{amd_manifest['config']['digest']}")).content
        # Cross-repository: the blobs are uploaded again under the new name.
        for layer in amd_manifest["layers"]:
            data = (await http.get(f"{base}/v2/{amd.repository}/blobs/{layer['digest']}")
                    ).content
            assert await _upload_blob(http, base, repository, data) == layer["digest"]
        assert await _upload_blob(http, base, repository, amd_config) == \
            amd_manifest["config"]["digest"]
        amd_digest = await _put_manifest(http, base, repository, amd.digest, got.content,
                                         got.headers["content-type"])
        assert amd_digest == amd.digest
        arm = {**json.loads(amd_config), "architecture": "arm64", "variant": "v8",
               "created": arm_created}
        arm_config = json.dumps(arm).encode()
        arm_manifest = {**amd_manifest, "config": {
            **amd_manifest["config"], "size": len(arm_config),
            "digest": await _upload_blob(http, base, repository, arm_config)}}
        arm_body = json.dumps(arm_manifest).encode()
        arm_digest = await _put_manifest(http, base, repository, "arm", arm_body,
                                         amd_manifest["mediaType"])
        entry_type = amd_manifest["mediaType"]
        index = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": entry_type, "digest": amd_digest, "size": len(got.content),
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": entry_type, "digest": arm_digest, "size": len(arm_body),
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {"mediaType": entry_type, "digest": amd_digest, "size": len(got.content),
                 "platform": {"os": "unknown", "architecture": "unknown"},
                 "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                 "vnd.docker.reference.digest": amd_digest}},
            ]}).encode()
        index_digest = await _put_manifest(http, base, repository, tag, index,
                                           "application/vnd.oci.image.index.v1+json")
    assert index_digest == "sha256:" + hashlib.sha256(index).hexdigest()
    return PushedIndex(repository, tag, index_digest, amd_digest, arm_digest, amd_manifest,
                       amd_config, arm_config)


async def test_a_multi_platform_index(loopback: LoopbackRegistry) -> None:
    pushed = await push_index(loopback)
    repository, index_digest = pushed.repository, pushed.digest
    amd_digest, arm_digest = pushed.amd_digest, pushed.arm_digest
    amd_manifest: dict[str, Any] = pushed.amd_manifest
    amd_config, arm_config = pushed.amd_config, pushed.arm_config
    async with await open_registry(loopback.address) as registry:
        info = await registry.tag_info(repository, "multi")
        assert "dockyard/multi" in await registry.repositories()
    assert info.is_index
    assert info.digest == index_digest
    assert info.media_type == "application/vnd.oci.image.index.v1+json"
    assert info.platforms == ("linux/amd64", "linux/arm64/v8")
    assert [i.digest for i in info.images] == [amd_digest, arm_digest]
    assert info.created == datetime.fromisoformat("2030-01-02T03:04:05.123456+00:00")
    layers = sum(layer["size"] for layer in amd_manifest["layers"])
    assert info.size == layers + len(amd_config) + len(arm_config)  # shared layers once
    assert [i.size for i in info.images] == [layers + len(amd_config),
                                             layers + len(arm_config)]


# -- logins ---------------------------------------------------------------------------------------


PASSWORD = f"pw-{RUN_ID}-sëcret"


@pytest.fixture(scope="module")
def basic_registry(docker_engine: EngineUnderTest, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[str]:
    """A registry with htpasswd basic auth holding dockyard/private:RUN_ID."""
    root = tmp_path_factory.mktemp("basic-registry")
    _htpasswd(root / "htpasswd", "ann", PASSWORD)
    process, address = _start_registry(root, root / "htpasswd")
    config = root / "pusher"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"auths": {address: {
        "auth": base64.b64encode(f"ann:{PASSWORD}".encode()).decode()}}}))
    pusher = EngineUnderTest("docker", docker_engine.url, config, docker_engine.image)
    image = f"{address}/dockyard/private:{RUN_ID}"
    try:
        pusher.cli("tag", docker_engine.image, image)
        pusher.cli("push", image)
        yield address
    finally:
        pusher.cli("rmi", image, check=False)
        _stop(process)


@pytest.fixture
def docker_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and DOCKER_CONFIG in tmp, a credential store helper on PATH."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config_dir = tmp_path / "home" / ".docker"
    config_dir.mkdir(parents=True)
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    install_helper(tmp_path / "bin", "dyreg")
    (config_dir / "config.json").write_text(json.dumps({"credsStore": "dyreg"}))
    return config_dir


def _no_secret_logged(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    encoded = [base64.b64encode(f"ann:{s}".encode()).decode() for s in secrets]
    for record in caplog.records:
        text = record.getMessage()
        for secret in (*secrets, *encoded):
            assert secret not in text, f"a secret in a log line: {record.name}"


async def test_a_saved_login_from_the_credential_store_is_used(
    basic_registry: str, docker_home: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with await open_registry(basic_registry, credentials=None) as anonymous:
        with pytest.raises(RegistryUnauthorized) as refused:
            await anonymous.repositories()
    assert str(refused.value) == f"{basic_registry} needs a login (docker login {basic_registry})"
    save_login(basic_registry, "ann", PASSWORD)
    assert PASSWORD not in (docker_home / "config.json").read_text()
    async with await open_registry(basic_registry) as registry:
        assert await registry.repositories() == ["dockyard/private"]
        info = await registry.tag_info("dockyard/private", RUN_ID)
        assert info.digest.startswith("sha256:")
    assert caplog.records  # httpx did log the requests: none of them with the secret
    _no_secret_logged(caplog, PASSWORD)


async def test_a_wrong_password_is_said_plainly(basic_registry: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = Credentials(username="ann", password="not-" + PASSWORD)
    async with await open_registry(basic_registry, credentials=wrong) as registry:
        with pytest.raises(RegistryUnauthorized) as refused:
            await registry.tags("dockyard/private")
    assert str(refused.value) == \
        f"{basic_registry} refused the login as ann: wrong user name or password?"
    assert wrong.password not in repr(wrong)
    _no_secret_logged(caplog, PASSWORD, wrong.password)


async def test_an_unreachable_registry_is_said_plainly() -> None:
    address = f"127.0.0.1:{_free_port()}"
    async with await open_registry(address, credentials=None) as registry:
        with pytest.raises(RegistryUnreachable) as failed:
            await registry.repositories()
    assert str(failed.value) == f"cannot reach {address}: connection refused"
    async with RegistryClient("no-such-registry.invalid", timeout=seconds(10)) as registry:
        with pytest.raises(RegistryUnreachable,
                           match=r"^cannot reach no-such-registry\.invalid: no such host \("):
            await registry.repositories()


async def test_a_plain_http_registry_is_not_spoken_to_unless_insecure(
    loopback: LoopbackRegistry,
) -> None:
    """Not in the engine's insecure list (here: told so), so https only, and it says why."""
    async with RegistryClient(loopback.address, insecure=False) as registry:
        with pytest.raises(RegistryUnreachable) as failed:
            await registry.repositories()
    assert str(failed.value) == (f"{loopback.address} does not answer over https; a plain-http"
                                 " registry must be among the engine's insecure registries")


def test_challenges_are_read_with_quoted_commas() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push",error="insufficient_scope"')
    assert challenge is not None
    assert challenge.scheme == "bearer"
    assert challenge.params == {"realm": "https://auth.example/token",
                                "service": "registry.example",
                                "scope": "repository:a/b:pull,push",
                                "error": "insufficient_scope"}
    basic = parse_challenge('Basic realm="Registry Realm"')
    assert basic is not None and basic.params == {"realm": "Registry Realm"}
    assert parse_challenge("") is None
    assert engine.next_link('</v2/_catalog?last=b&n=1>; rel="next"') == "/v2/_catalog?last=b&n=1"
    assert engine.next_link("") is None




# -- the bearer-token flow, against a registry behind a token server ---------------------------


@dataclass
class TokenRegistry:
    address: str
    server: TokenServer
    digest: str  # of dockyard/tok:v1


def _tar_gz(name: str, content: bytes) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    """docker-registry with ``auth: token``, and dockyard/tok:v1 uploaded through it."""
    root = tmp_path_factory.mktemp("token-registry")
    server = TokenServer("dockyard-registry", {"ann": PASSWORD}, {"idt-" + RUN_ID: "ann"})
    server.start()
    process, address = _start_registry(
        root, auth_config=server.registry_auth(server.write_cert(root / "issuer.pem")))

    async def upload() -> str:
        base, repository = f"http://{address}", "dockyard/tok"
        token = server.token([f"repository:{repository}:pull,push"], "ann")
        async with httpx.AsyncClient(timeout=seconds(30), headers={
                "Authorization": f"Bearer {token}"}) as http:
            layer = _tar_gz("hello.txt", f"hello {RUN_ID}\n".encode())
            config = json.dumps({
                "architecture": "amd64", "os": "linux", "created": "2025-06-07T08:09:10Z",
                "rootfs": {"type": "layers", "diff_ids": [
                    "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]},
                "config": {}}).encode()
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": await _upload_blob(http, base, repository, config),
                           "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": await _upload_blob(http, base, repository, layer),
                            "size": len(layer)}]}).encode()
            return await _put_manifest(http, base, repository, "v1", manifest,
                                       "application/vnd.oci.image.manifest.v1+json")

    try:
        digest = asyncio.run(upload())
        server.issued.clear()
        yield TokenRegistry(address, server, digest)
    finally:
        _stop(process)
        server.stop()


async def test_bearer_tokens_are_fetched_once_per_scope_and_never_logged(
    token_registry: TokenRegistry, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = token_registry.server.issued
    issued.clear()
    creds = Credentials(username="ann", password=PASSWORD)
    async with await open_registry(token_registry.address, credentials=creds) as registry:
        assert await registry.repositories() == ["dockyard/tok"]
        assert await registry.tags("dockyard/tok") == ["v1"]
        info = await registry.tag_info("dockyard/tok", "v1")
        await registry.tag_info("dockyard/tok", "v1")
    assert info.digest == token_registry.digest
    assert info.platforms == ("linux/amd64",)
    assert info.created == datetime.fromisoformat("2025-06-07T08:09:10+00:00")
    assert [(i.scopes, i.user) for i in issued] == [
        (["registry:catalog:*"], "ann"), (["repository:dockyard/tok:pull"], "ann")]
    secrets = [PASSWORD, *(i.token for i in issued)]
    assert caplog.records
    for record in caplog.records:
        assert not any(secret in record.getMessage() for secret in secrets), record.name


async def test_bearer_without_a_login_or_with_a_wrong_one(token_registry: TokenRegistry) -> None:
    async with await open_registry(token_registry.address, credentials=None) as anonymous:
        with pytest.raises(RegistryUnauthorized) as refused:
            await anonymous.tags("dockyard/tok")
    assert str(refused.value) == (f"{token_registry.address} needs a login"
                                  f" (docker login {token_registry.address})")
    wrong = Credentials(username="ann", password="nope")
    async with await open_registry(token_registry.address, credentials=wrong) as registry:
        with pytest.raises(RegistryUnauthorized) as refused:
            await registry.tags("dockyard/tok")
    assert str(refused.value) == (f"{token_registry.address} refused the login as ann:"
                                  " wrong user name or password?")


async def test_an_identity_token_is_exchanged_for_an_access_token(
    token_registry: TokenRegistry,
) -> None:
    """What ``docker login`` saves as ``identitytoken`` (OAuth refresh token) works too."""
    issued = token_registry.server.issued
    issued.clear()
    creds = Credentials(identitytoken="idt-" + RUN_ID)
    async with await open_registry(token_registry.address, credentials=creds) as registry:
        assert await registry.tags("dockyard/tok") == ["v1"]
    assert [(i.user, i.granted) for i in issued] == [("ann", True)]


async def test_each_engine_s_insecure_registries_are_honoured(
    any_engine: EngineUnderTest, loopback: LoopbackRegistry,
) -> None:
    """What each engine's /info says decides plain http for the loopback registry.

    Docker answers ``InsecureRegistryCIDRs: [127.0.0.0/8]``: http.  Podman answers
    from registries.conf (no CIDRs; ``IndexConfigs`` only for registries marked
    ``insecure = true``), so with a stock registries.conf it is https only, and the
    message says why — as Podman's own pull from that registry would fail.
    """
    async with await any_engine.open() as client:
        info = await client.get_json("/info")
        security = engine.RegistrySecurity.from_info(info)
        registry = await open_registry(loopback.address, client)
    async with registry:
        assert registry.insecure is await security.is_insecure(loopback.address)
        if registry.insecure:
            assert "dockyard/alpha" in await registry.repositories()
            assert registry.scheme == "http"
        else:
            with pytest.raises(RegistryUnreachable, match="does not answer over https"):
                await registry.repositories()
    if any_engine.kind == "docker":
        assert registry.insecure


# -- TLS ------------------------------------------------------------------------------------------


def _self_signed(root: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard test registry")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    (root / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return root / "cert.pem", root / "key.pem"


async def test_tls_is_verified_unless_the_engine_counts_the_registry_insecure(
    tmp_path: Path,
) -> None:
    """A registry over https with a self-signed certificate: refused with the reason when
    it must be verified; spoken to (over https, not http) when insecure, as Docker does."""
    process, address = _start_registry(tmp_path, tls=_self_signed(tmp_path))
    try:
        async with RegistryClient(address, insecure=False) as strict:
            with pytest.raises(RegistryUnreachable) as failed:
                await strict.repositories()
        assert str(failed.value).startswith(f"the certificate of {address} is not trusted (")
        async with await open_registry(address, credentials=None) as lenient:
            assert lenient.insecure
            assert await lenient.repositories() == []
            assert lenient.scheme == "https"
    finally:
        _stop(process)


# -- search through the engine --------------------------------------------------------------------


async def test_searching_a_named_registry_through_each_engine(
    any_engine: EngineUnderTest, loopback: LoopbackRegistry,
) -> None:
    """Podman's compat /images/search lists a named registry's catalog (a distribution
    registry has no search API) and answers in libpod's shape (``Name``, ``Stars``,
    ``Official``…) with full names; with its stock registries.conf the loopback registry
    is https-only, said in one line.  Docker asks the registry's v1 search API, which a
    distribution registry has not: one line too."""
    term = f"{loopback.address}/dockyard"
    async with await any_engine.open() as client:
        if any_engine.kind == "podman":
            found = await engine.search_images(client, term, tls_verify=False)
            names = {r.name for r in found}  # other tests of the module add repositories
            assert {f"{term}/alpha", f"{term}/beta"} <= names
            assert all(name.startswith(f"{term}/") for name in names)
            assert {(r.stars, r.official, r.description) for r in found} == {(0, False, "")}
        with pytest.raises(engine.SearchFailed) as failed:
            await engine.search_images(client, term)
    assert "\n" not in str(failed.value)
    if any_engine.kind == "docker":
        assert str(failed.value) == (
            f"{loopback.address} offers no search (Docker asks its /v1/search, which a"
            " distribution registry has not): browse it instead")
    else:
        assert str(failed.value) == (
            f"the search failed: couldn't search registry \"{loopback.address}\": pinging"
            f" container registry {loopback.address}: Get \"https://{loopback.address}/v2/\":"
            " http: server gave HTTP response to HTTPS client")
