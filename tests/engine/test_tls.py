"""tcp:// engines with TLS: a real second dockerd on 127.0.0.1 (tests/tls_dockerd.py) with
certificates the harness made, reached the two ways a user sets it up -- the docker CLI's
variables (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) and the URL plus three files
the window asks for -- and compared with what the same daemon says on its unix socket.

The failures are the ones a user meets: a CA that did not sign the engine's certificate,
an expired client certificate, and plain tcp:// to a TLS port.  Each ends in one line
that says so, and none is retried without TLS.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace
from pathlib import Path

import pytest

import engine
from engine import create_volume, remove_volume, volumes
from engine._endpoint import parse_host
from engine._transport import connect
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, unique_name
from tests.engine.test_bulk import tcp_relay
from tests.tls_dockerd import TLSDockerd

pytestmark = pytest.mark.anyio


async def _opened_fails(endpoint: engine.Endpoint) -> str:
    """The one-line message ``Engine.open`` fails with: a TLSError (an EngineUnreachable)."""
    with pytest.raises(engine.EngineError) as caught:
        async with await engine.Engine.open(endpoint):
            pass
    assert type(caught.value) is engine.TLSError
    assert isinstance(caught.value, engine.EngineUnreachable)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("how", ["environment", "files"])
async def test_version_and_lists_over_tls_equal_the_daemons_own_socket(
    tls_dockerd: TLSDockerd, how: str,
) -> None:
    if how == "environment":
        resolution = engine.resolve(env=tls_dockerd.env(), home=Path("/nonexistent"))
        [endpoint] = resolution.endpoints
        assert resolution.explicit and endpoint.source == "DOCKER_HOST"
    else:
        endpoint = tls_dockerd.endpoint()
    assert endpoint.url == tls_dockerd.url
    assert endpoint.tls is not None and endpoint.tls.verify
    assert endpoint.http_base.startswith("https://")
    local_endpoint = parse_host(tls_dockerd.socket, "the TLS dockerd's unix socket")
    name = unique_name("tls-vol")
    async with await engine.Engine.open(endpoint) as remote, \
            await engine.Engine.open(local_endpoint) as local:
        assert remote.version == local.version
        assert remote.api_version == local.api_version
        assert "api-version" in await remote.ping()
        # The second dockerd itself, not the machine's: its own data root.
        remote_info, local_info = await remote.get_json("/info"), await local.get_json("/info")
        assert remote_info["DockerRootDir"] == local_info["DockerRootDir"] == \
            str(tls_dockerd.root / "data")
        assert remote_info["ID"] == local_info["ID"]
        # Made through TLS, seen on the socket, and the other way round.
        await create_volume(remote, name, labels={LABEL_KEY: RUN_ID})
        try:
            through_tls, through_socket = await asyncio.gather(
                volumes(remote, filters={"label": [LABEL]}),
                volumes(local, filters={"label": [LABEL]}))
            assert [v.name for v in through_tls] == [v.name for v in through_socket] == [name]
            assert await remote.containers() == await local.containers()
        finally:
            await remove_volume(local, name)
        assert await volumes(remote, filters={"label": [LABEL]}) == []


async def test_a_wrong_ca_names_certificate_verification_and_is_not_retried_in_plain(
    tls_dockerd: TLSDockerd,
) -> None:
    for endpoint in (tls_dockerd.endpoint(tls_dockerd.certs.wrong_ca_dir),
                     engine.resolve(env=tls_dockerd.env(tls_dockerd.certs.wrong_ca_dir),
                                    home=Path("/nonexistent")).endpoints[0]):
        message = await _opened_fails(endpoint)
        assert message == (
            f"TLS certificate verification failed: the TLS certificate of the engine at"
            f" {tls_dockerd.url} was not trusted (unable to get local issuer certificate)")
    # discover() with the variables set: the one explicit endpoint, no fallback elsewhere.
    with pytest.raises(engine.TLSError) as caught:
        await engine.discover(env=tls_dockerd.env(tls_dockerd.certs.wrong_ca_dir),
                              home=Path("/nonexistent"))
    assert str(caught.value).startswith("TLS certificate verification failed")
    assert [a.url for a in caught.value.attempts] == [tls_dockerd.url]


async def test_an_expired_client_certificate_is_said_plainly(tls_dockerd: TLSDockerd) -> None:
    message = await _opened_fails(tls_dockerd.endpoint(tls_dockerd.certs.expired_dir))
    assert message == (
        f"the engine at {tls_dockerd.url} refused our TLS client certificate (bad certificate):"
        " it may have expired, or not be signed by a CA the engine trusts")
    # The daemon saw the same: an expired certificate, not some other failure.
    assert "expired" in tls_dockerd.log


async def test_an_expired_engine_certificate_is_said_plainly(tls_dockerd: TLSDockerd) -> None:
    """An engine serving an expired certificate (a TLS relay in front of the daemon's
    socket, with one the harness's CA signed): our side refuses it, and says why."""
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(*map(str, tls_dockerd.certs.expired_server))
    async with tcp_relay(str(tls_dockerd.root / "docker.sock"), server_tls) as port:
        endpoint = replace(tls_dockerd.endpoint(), url=f"tcp://127.0.0.1:{port}")
        message = await _opened_fails(endpoint)
    assert message == (
        f"TLS certificate verification failed: the TLS certificate of the engine at"
        f" tcp://127.0.0.1:{port} was not trusted (certificate has expired)")


async def test_plain_tcp_to_a_tls_port_says_it_speaks_tls(tls_dockerd: TLSDockerd) -> None:
    message = await _opened_fails(parse_host(tls_dockerd.url, "--host"))
    assert message == (
        f"the engine at {tls_dockerd.url} speaks TLS, and no TLS was asked for: set"
        " DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or give its CA and client certificate")


async def test_the_image_export_reader_goes_through_tls_too(tls_dockerd: TLSDockerd) -> None:
    """The bulk reader has a socket of its own (not httpx): its TLS failures read the same."""
    for cert_dir, start in ((tls_dockerd.certs.wrong_ca_dir, "TLS certificate verification"),
                            (tls_dockerd.certs.expired_dir, "the engine at")):
        async with await engine.Engine.open(tls_dockerd.endpoint()) as client:
            await client.transport.aclose()
            client.transport = connect(tls_dockerd.endpoint(cert_dir))
            with pytest.raises(engine.TLSError) as caught:
                async with client.open_body("GET", "/images/json") as body:
                    async for _ in body:
                        pass
            assert str(caught.value).startswith(start), caught.value
    async with await engine.Engine.open(tls_dockerd.endpoint()) as client:
        async with client.open_body("GET", "/version") as body:
            data = b"".join([bytes(chunk) async for chunk in body])
        assert client.version.version.encode() in data
