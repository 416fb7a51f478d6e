"""engine._transport.rawhttp: the sans-IO HTTP framing (property-tested), and big bodies.

The framing is checked on its own, fed in every split; the reader itself is
checked against the real engine (image exports byte for byte against the CLI,
over the Unix socket, plain TCP and TLS through a relay to the same daemon),
and against a tiny in-process server only for what a healthy engine never
does (garbage, a cut body, a Content-Length body, an interim 100 answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine._client import Engine
from engine._endpoint import Endpoint, TLSConfig
from engine._layers import analyze_image
from engine._models import EngineVersion
from engine._transport import connect
from engine._transport.base import Transport
from engine._transport.http import HTTPTransport
from engine._transport.rawhttp import ChunkedDecoder, FramingError, parse_head
from tests.conftest import DOCKER_CLI, RUN_ID, EngineUnderTest
from tests.faults import SocketRelay
from tests.waits import seconds

# -- sans-IO: chunked transfer-encoding -----------------------------------------------------


def encode_chunked(parts: list[bytes], extensions: list[str], trailers: list[str]) -> bytes:
    out = bytearray()
    for index, part in enumerate(parts):
        extension = extensions[index % len(extensions)] if extensions else ""
        out += f"{len(part):x}{extension}\r\n".encode() + part + b"\r\n"
    out += b"0\r\n" + "".join(f"{t}\r\n" for t in trailers).encode() + b"\r\n"
    return bytes(out)


def decode(pieces: Iterable[bytes | memoryview]) -> bytes:
    """Through the view output (exports); checks every item is a view."""
    decoder = ChunkedDecoder()
    out = bytearray()
    for piece in pieces:
        for view in decoder.feed(piece):
            assert isinstance(view, memoryview)
            out += view
    decoder.close()
    assert decoder.done
    return bytes(out)


def decode_bytes(pieces: Iterable[bytes | memoryview]) -> bytes:
    """Through the joined output (logs); checks every item is bytes."""
    decoder = ChunkedDecoder()
    outs = [decoder.feed_bytes(piece) for piece in pieces]
    assert all(type(out) is bytes for out in outs)
    decoder.close()
    assert decoder.done
    return b"".join(outs)


#: The decoder's two outputs: every framing test runs through both.
OUTPUTS = pytest.mark.parametrize("decoded", [decode, decode_bytes], ids=["views", "bytes"])
Decoded = Callable[[Iterable[bytes | memoryview]], bytes]

body_parts = st.lists(st.binary(min_size=1, max_size=40), max_size=6)
chunk_extensions = st.lists(st.sampled_from(["", ";a=1", ";name=\"q\\\"x\"", " ;x"]), max_size=3)
trailer_lines = st.lists(st.sampled_from(["X-Trailer: 1", "Expires: never"]), max_size=2)


@OUTPUTS
@settings(max_examples=150, deadline=None)
@given(body_parts, chunk_extensions, trailer_lines)
def test_chunked_decoding_is_indifferent_to_where_the_bytes_split(
        decoded: Decoded, parts: list[bytes], extensions: list[str], trailers: list[str]) -> None:
    wire = encode_chunked(parts, extensions, trailers)
    expected = b"".join(parts)
    for cut in range(len(wire) + 1):  # every boundary
        assert decoded([wire[:cut], wire[cut:]]) == expected
    assert decoded([wire[i:i + 1] for i in range(len(wire))]) == expected  # byte by byte


@OUTPUTS
@settings(max_examples=100, deadline=None)
@given(body_parts, st.lists(st.integers(min_value=1, max_value=30), max_size=40))
def test_chunked_decoding_in_random_pieces(
        decoded: Decoded, parts: list[bytes], sizes: list[int]) -> None:
    wire = encode_chunked(parts, [], [])
    pieces, pos = [], 0
    for size in sizes:
        pieces.append(wire[pos:pos + size])
        pos += size
    pieces.append(wire[pos:])
    assert decoded(pieces) == b"".join(parts)


# Docker's log shape (a message per chunk, so chunk data that looks like framing), then
# a big chunk of every byte value.
STAMP = b"2026-11-28T17:45:51.030521839Z "
LOG_PARTS = [b"\x01\x00\x00\x00\x00\x00\x00\x2a" + STAMP + b"line %d\n" % n for n in range(5)]
LOG_PARTS += [b"\r\n", b"0\r\n\r\n", b"\r\n\n" + bytes(range(256)) * 20]


@OUTPUTS
def test_log_shaped_chunks_at_every_split(decoded: Decoded) -> None:
    body = b"".join(LOG_PARTS)
    for wire in (encode_chunked(LOG_PARTS, [], []),
                 encode_chunked(LOG_PARTS, [";name=\"q\\\"x\""], []),
                 encode_chunked(LOG_PARTS, [" ;x"], ["X-Trailer: 1"])):
        assert decoded([wire]) == body
        for cut in range(len(wire) + 1):
            assert decoded([wire[:cut], wire[cut:]]) == body
        assert decoded([wire[i:i + 1] for i in range(len(wire))]) == body
        assert decoded([memoryview(wire)]) == body


def test_chunked_data_is_a_view_of_the_input_not_a_copy() -> None:
    wire = bytearray(encode_chunked([b"x" * 1000], [], []))
    [view] = ChunkedDecoder().feed(memoryview(wire))
    wire[wire.index(b"x")] = ord("y")
    assert bytes(view[:1]) == b"y"


def test_bytes_after_the_last_chunk_are_ignored() -> None:
    decoder = ChunkedDecoder()
    assert [bytes(v) for v in decoder.feed(b"3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK")] == [b"abc"]
    assert decoder.done
    assert decoder.feed(b"more") == [] and decoder.feed_bytes(b"more") == b""
    joined = ChunkedDecoder()
    assert joined.feed_bytes(b"3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK") == b"abc"
    assert joined.done


@OUTPUTS
@pytest.mark.parametrize("wire, problem", [
    (b"zz\r\n", "bad chunk size"),
    (b"\r\n", "bad chunk size"),
    (b"0x3\r\nabc\r\n", "bad chunk size"),  # int() would take it; HTTP does not
    (b"3\r\nabcd\r\n", "longer than its size"),
    (b"1" * 20 + b"\r\n", "bad chunk size"),
    (b"3;" + b"e" * 9000, "implausibly long"),
])
def test_chunked_garbage_is_a_framing_error(decoded: Decoded, wire: bytes, problem: str) -> None:
    with pytest.raises(FramingError, match=problem):
        decoded([wire])
    with pytest.raises(FramingError, match=problem):  # however it arrives
        decoded([wire[i:i + 1] for i in range(len(wire))])


@OUTPUTS
@pytest.mark.parametrize("wire", [b"", b"3\r\nab", b"3\r\nabc\r\n", b"3\r\nabc\r",
                                  b"0\r\n", b"0\r\nX: 1\r\n"])
def test_a_chunked_body_cut_short_fails_on_close(decoded: Decoded, wire: bytes) -> None:
    with pytest.raises(FramingError, match="ended before its last chunk"):
        decoded([wire])


def test_response_heads() -> None:
    head = parse_head(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\n"
                      b"Transfer-Encoding: chunked\r\nX-Dup: 1\r\nX-Dup: 2")
    assert (head.status, head.reason, head.chunked, head.content_length) == (200, "OK", True, None)
    assert head.get("content-type") == "application/x-tar"
    assert head.get("x-dup") == "2"
    plain = parse_head(b"HTTP/1.0 404 Not Found\r\nContent-Length: 12, 12\r\n")
    assert (plain.status, plain.chunked, plain.content_length) == (404, False, 12)
    for garbage in (b"SSH-2.0-OpenSSH", b"HTTP/1.1 2000 OK", b"HTTP/1.1 200 OK\r\nno colon"):
        with pytest.raises(FramingError):
            parse_head(garbage)
    with pytest.raises(FramingError, match="transfer-encoding"):
        _ = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked").chunked
    with pytest.raises(FramingError, match="content-length"):
        _ = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2").content_length


# -- against the real engine ----------------------------------------------------------------


def cli_save(target: EngineUnderTest, image_id: str) -> bytes:
    assert DOCKER_CLI
    env = {"DOCKER_CONFIG": str(target.cli_config), "PATH": "/usr/bin:/bin", **target.extra_env}
    return subprocess.run([DOCKER_CLI, "--host", target.url, "save", image_id],
                          capture_output=True, env=env, check=True, timeout=seconds(120)).stdout


async def read_export(client: Engine, image_id: str) -> tuple[bytes, int]:
    data, chunks = bytearray(), 0
    async with client.open_body("GET", f"/images/{image_id}/get") as body:
        async for chunk in body:
            data += chunk
            chunks += 1
    return bytes(data), chunks


@pytest.mark.anyio
async def test_an_export_reads_byte_for_byte_as_the_cli_saves_it(
        any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        image_id = (await client.image(any_engine.image)).id
        data, _ = await read_export(client, image_id)
        # Podman's archive carries timestamps of the save, so only Docker is byte-stable.
        if any_engine.kind == "docker":
            assert data == cli_save(any_engine, image_id)
        else:
            assert data[257:263] == b"ustar\x00" and len(data) % 512 == 0
        assert (await client.image(any_engine.image)).id == image_id  # the client still works


@pytest.mark.anyio
async def test_an_unknown_image_is_not_found_before_any_body(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        path = f"/images/no-such-{RUN_ID}:x/get"
        with pytest.raises(engine.NotFound) as caught:
            async with client.open_body("GET", path):
                pytest.fail("a 404 must not yield a body")
        with pytest.raises(engine.NotFound) as through_httpx:
            async with client.stream("GET", path):
                pass
        assert str(caught.value) == str(through_httpx.value)  # the daemon's own words


@pytest.mark.anyio
async def test_a_missing_socket_is_unreachable(tmp_path: Path) -> None:
    client = fake_engine(tmp_path / "none.sock")
    with pytest.raises(engine.EngineUnreachable, match="no socket at"):
        async with client.open_body("GET", "/images/x/get"):
            pass


@pytest.mark.anyio
async def test_a_daemon_going_away_mid_export_is_unreachable(
        docker_engine: EngineUnderTest, tmp_path: Path) -> None:
    relay = SocketRelay(docker_engine.endpoint.socket_path or "", tmp_path / "relay.sock")
    await relay.start()
    async with await Engine.open(Endpoint(relay.url, "test relay")) as client:
        image_id = (await client.image(docker_engine.image)).id
        with pytest.raises(engine.EngineUnreachable, match="was lost"):
            async with client.open_body("GET", f"/images/{image_id}/get") as body:
                async for _ in body:
                    await relay.cut()


@pytest.mark.anyio
async def test_analysis_goes_through_httpx_where_the_bulk_reader_cannot(
        docker_engine: EngineUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
    async with await docker_engine.open() as client:
        direct = await analyze_image(client, docker_engine.image)
        monkeypatch.setattr(HTTPTransport, "open_body", Transport.open_body)
        through_httpx = await analyze_image(client, docker_engine.image)
        with pytest.raises(engine.NotFound):
            async with client.open_body("GET", f"/images/no-such-{RUN_ID}:x/get"):
                pass
    assert through_httpx.layers == direct.layers


# -- TCP and TLS: a relay in front of the same daemon ----------------------------------------


@contextlib.asynccontextmanager
async def tcp_relay(socket_path: str, tls: ssl.SSLContext | None) -> AsyncIterator[int]:
    """Listen on a loopback port (TLS when asked) and pipe each connection to the socket."""
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
            while data := await src.read(1 << 16):
                dst.write(data)
                await dst.drain()
        dst.transport.abort()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(socket_path)
        for task in (pipe(reader, up_writer), pipe(up_reader, writer)):
            tasks.add(asyncio.ensure_future(task))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=seconds(60))
    return cert, key


@pytest.mark.anyio
@pytest.mark.parametrize("use_tls", [False, True], ids=["tcp", "tls"])
async def test_an_export_over_tcp_and_tls(
        docker_engine: EngineUnderTest, tmp_path: Path, use_tls: bool) -> None:
    server_tls, client_tls = None, None
    if use_tls:
        cert, key = self_signed(tmp_path)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        client_tls = TLSConfig(verify=True, ca_cert=cert, client_cert=None, client_key=None)
    async with tcp_relay(docker_engine.endpoint.socket_path or "", server_tls) as port:
        endpoint = Endpoint(f"tcp://localhost:{port}", "test relay", client_tls)
        async with await Engine.open(endpoint) as client:
            image_id = (await client.image(docker_engine.image)).id
            data, _ = await read_export(client, image_id)
            analysis = await analyze_image(client, docker_engine.image)
    assert data == cli_save(docker_engine, image_id)
    assert len(analysis.layers) == 2


@pytest.mark.anyio
async def test_tls_with_an_untrusted_certificate_is_unreachable_not_denied(
        docker_engine: EngineUnderTest, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    other, _ = self_signed(tmp_path / "other")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    async with tcp_relay(docker_engine.endpoint.socket_path or "", server_tls) as port:
        trusted = Endpoint(f"tcp://localhost:{port}", "test", TLSConfig(True, cert, None, None))
        untrusted = Endpoint(trusted.url, "test", TLSConfig(True, other, None, None))
        with pytest.raises(engine.EngineUnreachable) as through_httpx:
            await Engine.open(untrusted)
        async with await Engine.open(trusted) as client:
            # The CA that did not sign the relay's certificate, for the socket reader.
            await client.transport.aclose()
            client.transport = connect(untrusted)
            with pytest.raises(engine.EngineUnreachable) as caught:
                async with client.open_body("GET", "/images/x/get"):
                    pass
    # Not PermissionDenied (OpenSSL's errno 1 is no EPERM): the certificate, and why.
    assert type(caught.value) is type(through_httpx.value) is engine.TLSError
    assert str(caught.value) == str(through_httpx.value)
    assert "TLS certificate of the engine at" in str(caught.value)
    assert "was not trusted (" in str(caught.value) and "self" in str(caught.value)


# -- what a healthy engine never sends: a tiny server ---------------------------------------


def fake_engine(socket: Path) -> Engine:
    version = EngineVersion.from_api({"Version": "0", "ApiVersion": "1.41"})
    endpoint = Endpoint(f"unix://{socket}", "test")
    return Engine(endpoint, connect(endpoint), "1.41", version)


Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def fake_server(socket: Path, answer: Answer) -> AsyncIterator[Engine]:
    requests: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        with contextlib.suppress(ConnectionError):
            await answer(writer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(serve, path=str(socket))
    client = fake_engine(socket)
    try:
        yield client
    finally:
        server.close()
        await client.aclose()
    assert all(r.startswith(b"GET /v1.41/") and b"\r\nHost: docker\r\n" in r for r in requests)


def sends(*parts: bytes) -> Answer:
    async def answer(writer: asyncio.StreamWriter) -> None:
        for part in parts:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.01)

    return answer


async def body_of(client: Engine) -> bytes:
    out = bytearray()
    async with client.open_body("GET", "/x", params={"a": "1 2", "b": None}) as body:
        async for chunk in body:
            out += chunk
    return bytes(out)


async def bytes_of(client: Engine) -> bytes:
    """The same through open_body_bytes, in tiny pieces so a read spans several items."""
    out = []
    async with client.open_body_bytes("GET", "/x", params={"a": "1 2", "b": None},
                               piece=3) as body:
        async for blob in body:
            assert type(blob) is bytes and blob
            out.append(blob)
    return b"".join(out)


#: Both public readers: every fault test runs through each.
READERS = pytest.mark.parametrize("read", [body_of, bytes_of], ids=["views", "bytes"])
Read = Callable[[Engine], Awaitable[bytes]]


@pytest.mark.anyio
@pytest.mark.parametrize("parts, expected", [
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", b"lo"], b"hello"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef"], b"abc"),
    ([b"HTTP/1.0 200 OK\r\n\r\nuntil ", b"the end"], b"until the end"),
    ([b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      b"2\r\nok\r\n0\r\n\r\n"], b"ok"),
    ([b"HTTP/1.1 204 No Content\r\n\r\n"], b""),
])
@READERS
async def test_bodies_framed_every_way(tmp_path: Path, parts: list[bytes], expected: bytes,
                                       read: Read) -> None:
    async with fake_server(tmp_path / "e.sock", sends(*parts)) as client:
        assert await read(client) == expected


@pytest.mark.anyio
@pytest.mark.parametrize("parts, problem", [
    ([b"SSH-2.0-OpenSSH_9.2\r\n\r\n"], "not an HTTP"),
    ([], "no response"),
    ([b"HTTP/1.1 200 OK\r\nContent-Le"], "cut short"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], "7 bytes short"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"], "before its last"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n"], "bad chunk size"),
])
@READERS
async def test_garbage_and_cut_bodies_are_a_lost_connection(
        tmp_path: Path, parts: list[bytes], problem: str, read: Read) -> None:
    async with fake_server(tmp_path / "e.sock", sends(*parts)) as client:
        with pytest.raises(engine.EngineUnreachable, match=f"was lost.*({problem})"):
            await read(client)


@pytest.mark.anyio
@READERS
async def test_an_error_status_carries_the_daemon_message(tmp_path: Path, read: Read) -> None:
    message = b'{"message":"conflict: unable to export"}'
    answer = sends(b"HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n",
                   f"{len(message):x}\r\n".encode() + message + b"\r\n0\r\n\r\n")
    async with fake_server(tmp_path / "e.sock", answer) as client:
        with pytest.raises(engine.Conflict, match="conflict: unable to export"):
            await read(client)


@pytest.mark.anyio
@pytest.mark.parametrize("opener", [Engine.open_body, Engine.open_body_bytes],
                         ids=["views", "bytes"])
async def test_leaving_early_closes_the_connection_at_once(
        tmp_path: Path, opener: Callable[..., contextlib.AbstractAsyncContextManager[
            AsyncIterator[bytes | memoryview]]]) -> None:
    closed = asyncio.Event()

    async def endless(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            while True:
                writer.write(b"10000\r\n" + bytes(0x10000) + b"\r\n")
                await writer.drain()
        except ConnectionError:
            closed.set()

    async with fake_server(tmp_path / "e.sock", endless) as client:
        read = 0
        async with opener(client, "GET", "/x") as body:
            async for chunk in body:
                read += len(chunk)
                if read > 4 << 20:
                    break
        await asyncio.wait_for(closed.wait(), seconds(5))


@pytest.mark.anyio
@READERS
async def test_a_connection_reset_mid_body_is_a_lost_connection_not_a_hang(read: Read) -> None:
    # A reset (RST, not FIN) reaches the reader only through connection_lost: with that
    # callback misnamed the read waited forever.
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    endpoint = Endpoint(f"tcp://127.0.0.1:{port}", "test")
    version = EngineVersion.from_api({"Version": "0", "ApiVersion": "1.41"})
    client = Engine(endpoint, connect(endpoint), "1.41", version)
    try:
        with pytest.raises(engine.EngineUnreachable, match="was lost"):
            await asyncio.wait_for(read(client), seconds(10))
    finally:
        server.close()
        await client.aclose()
