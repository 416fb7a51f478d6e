"""Logs, exec and stats against real engines (Docker and Podman), checked against the CLI.

The only fake here is a tiny HTTP server for faults a real daemon will not produce
on demand (a system-error frame, a stream cut inside a frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import engine
from engine._decoders import StreamKind, encode_frame
from engine._endpoint import parse_host
from engine._io import (
    ExecSession,
    LogChunk,
    LogLine,
    StatsSample,
    exec_create,
    exec_failure_reason,
    exec_run,
    exec_start,
    find_shell,
    log_batches,
    log_lines,
    logs,
    sample_from_stats,
    split_timestamp,
    stats,
)
from engine._transport.base import Transport
from engine._transport.http import HTTPTransport
from tests.conftest import DOCKER_CLI, EngineUnderTest
from tests.waits import seconds

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024


def cli_bytes(target: EngineUnderTest, *args: str) -> tuple[bytes, bytes]:
    """The docker CLI's stdout and stderr as bytes (``EngineUnderTest.cli`` strips text)."""
    assert DOCKER_CLI
    env = {**os.environ, "DOCKER_CONFIG": str(target.cli_config), "DOCKER_BUILDKIT": "0",
           **target.extra_env}
    env.pop("DOCKER_CONTEXT", None)
    env.pop("DOCKER_HOST", None)
    result = subprocess.run([DOCKER_CLI, "--host", target.url, *args], capture_output=True,
                            env=env, timeout=seconds(120), check=True)
    return result.stdout, result.stderr


async def collect(chunks: AsyncIterator[LogChunk]) -> tuple[bytes, bytes]:
    out: list[bytes] = []
    err: list[bytes] = []
    async for chunk in chunks:
        assert chunk.stream in (StreamKind.STDOUT, StreamKind.STDERR)
        (out if chunk.stream == StreamKind.STDOUT else err).append(chunk.data)
    return b"".join(out), b"".join(err)


async def run_to_exit(target: EngineUnderTest, client: engine.Engine, *args: str) -> str:
    container_id, name = target.create(*args)
    await client.start_container(container_id)
    target.cli("wait", name)
    return container_id


# Interleaved stdout/stderr, ANSI colour, invalid UTF-8, a 1 MiB line, no final newline.
NOISY = (
    "printf 'out 1\\n'; printf 'err 1\\n' >&2; "
    "printf '\\033[31mred\\033[0m plain\\n'; printf 'bad \\377\\376 utf8\\n' >&2; "
    "head -c 1048576 /dev/zero | tr '\\0' x; echo; "
    "printf 'err 2\\n' >&2; printf 'out last'"
)


def stored_invalid_utf8(target: EngineUnderTest) -> bytes:
    # Docker's json-file driver keeps lines as JSON strings: each invalid byte becomes
    # U+FFFD (docker logs shows the same).  Podman's k8s-file driver keeps the bytes.
    if target.kind == "podman":
        return b"bad \xff\xfe utf8"
    return "bad \ufffd\ufffd utf8".encode()


# -- logs ---------------------------------------------------------------------------


async def test_logs_are_byte_exact_against_docker_logs(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        container_id = await run_to_exit(any_engine, client, any_engine.image, "sh", "-c", NOISY)
        out, err = await collect(logs(client, container_id))
        cli_out, cli_err = cli_bytes(any_engine, "logs", container_id)

        assert out == cli_out
        assert err == cli_err
        assert out == (b"out 1\n\x1b[31mred\x1b[0m plain\n" + b"x" * MIB + b"\nout last")
        assert err == b"err 1\n" + stored_invalid_utf8(any_engine) + b"\nerr 2\n"

        lines = [line async for line in log_lines(client, container_id)]
        stdout_lines = [line.text for line in lines if line.stream == StreamKind.STDOUT]
        stderr_lines = [line.text for line in lines if line.stream == StreamKind.STDERR]
        assert stdout_lines == [b"out 1", b"\x1b[31mred\x1b[0m plain", b"x" * MIB, b"out last"]
        assert stderr_lines == [b"err 1", stored_invalid_utf8(any_engine), b"err 2"]
        assert all(line.timestamp is None for line in lines)


async def test_logs_read_the_same_through_httpx_where_the_bulk_reader_cannot(
        docker_engine: EngineUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
    async with await docker_engine.open() as client:
        container_id = await run_to_exit(docker_engine, client, docker_engine.image,
                                         "sh", "-c", NOISY)
        direct = [(b.streams, b.lines) async for b in log_batches(client, container_id)]
        # A transport without a socket of its own (ssh://, say) reads through its streams.
        monkeypatch.setattr(HTTPTransport, "open_body_bytes", Transport.open_body_bytes)
        through_httpx = [(b.streams, b.lines) async for b in log_batches(client, container_id)]
        assert await collect(logs(client, container_id)) == cli_bytes(
            docker_engine, "logs", container_id)

    def flat(batches: list[tuple[bytes, list[bytes]]]) -> list[tuple[int, bytes]]:
        return [pair for streams, lines in batches for pair in zip(streams, lines, strict=True)]

    assert flat(through_httpx) == flat(direct)


async def test_tty_logs_are_one_raw_stream(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        container_id = await run_to_exit(any_engine, client, "-t", any_engine.image,
                                         "sh", "-c", NOISY)
        out, err = await collect(logs(client, container_id))
        cli_out, cli_err = cli_bytes(any_engine, "logs", container_id)

        assert out == cli_out
        assert err == b"" == cli_err
        # The pty turns \n into \r\n and merges stderr into the one stream, in order.
        assert out == (b"out 1\r\nerr 1\r\n\x1b[31mred\x1b[0m plain\r\n"
                       + stored_invalid_utf8(any_engine) + b"\r\n"
                       + b"x" * MIB + b"\r\nerr 2\r\nout last")
        lines = [line.text async for line in log_lines(client, container_id, tty=True)]
        assert lines == [b"out 1", b"err 1", b"\x1b[31mred\x1b[0m plain",
                         stored_invalid_utf8(any_engine), b"x" * MIB, b"err 2", b"out last"]


async def test_stdout_and_stderr_are_told_apart(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        container_id = await run_to_exit(any_engine, client, any_engine.image,
                                         "sh", "-c", "echo out; echo err >&2")
        lines = [(line.stream, line.text) async for line in log_lines(client, container_id)]
        # The daemon does not keep the order between the two streams.
        assert sorted(lines) == [(StreamKind.STDOUT, b"out"), (StreamKind.STDERR, b"err")]
        only_err = [(c.stream, c.data) async for c in logs(client, container_id, stdout=False)]
        assert only_err == [(StreamKind.STDERR, b"err\n")]
        only_out = [(c.stream, c.data) async for c in logs(client, container_id, stderr=False)]
        assert only_out == [(StreamKind.STDOUT, b"out\n")]
        with pytest.raises(ValueError):
            async for _ in logs(client, container_id, stdout=False, stderr=False):
                pass


async def test_tail_counts_lines_from_the_end(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        container_id = await run_to_exit(any_engine, client, any_engine.image, "seq", "1", "10")
        tail = [line.text async for line in log_lines(client, container_id, tail=3)]
        assert tail == [b"8", b"9", b"10"]
        cli_out, _ = cli_bytes(any_engine, "logs", "--tail", "3", container_id)
        assert cli_out == b"8\n9\n10\n"
        assert [line async for line in log_lines(client, container_id, tail=0)] == []


async def test_timestamps_are_parsed_and_stripped(any_engine: EngineUnderTest) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    # 40 000 bytes is several partial messages (Docker splits at 16 KiB, Podman at
    # 8 KiB), each with its own timestamp prefix in a multiplexed stream.
    script = "echo first; head -c 40000 /dev/zero | tr '\\0' a; echo; echo last >&2"
    async with await any_engine.open() as client:
        container_id = await run_to_exit(any_engine, client, any_engine.image, "sh", "-c", script)
        lines = [line async for line in log_lines(client, container_id, timestamps=True)]
        after = datetime.now(UTC) + timedelta(seconds=2)
        assert sorted((line.stream, line.text) for line in lines) == [
            (StreamKind.STDOUT, b"a" * 40000), (StreamKind.STDOUT, b"first"),
            (StreamKind.STDERR, b"last"),
        ]
        for line in lines:
            assert line.timestamp is not None and before <= line.timestamp <= after

        raw, _ = await collect(logs(client, container_id, timestamps=True, stderr=False))
        cli_out, _ = cli_bytes(any_engine, "logs", "--timestamps", container_id)
        assert raw == cli_out
        prefixes = re.findall(rb"\d{4}-\d\d-\d\dT[\d:.]+Z ", raw)
        partial_size = 8192 if any_engine.kind == "podman" else 16384
        # Docker cuts exactly at 16 KiB; conmon also cuts wherever a read of the pipe
        # ended, so Podman may have more parts.
        parts = -(-40001 // partial_size)
        if any_engine.kind == "docker":
            assert len(prefixes) == 1 + parts
        else:
            assert len(prefixes) >= 1 + parts
        if any_engine.kind == "docker":
            # Docker: RFC3339Nano, always 9 digits; Podman: whole seconds.
            assert all(len(p) == len(b"2026-01-01T00:00:00.123456789Z ") for p in prefixes)
        else:
            assert all(len(p) == len(b"2026-01-01T00:00:00Z ") for p in prefixes)


async def test_follow_receives_new_lines_and_ends_when_the_container_exits(
    any_engine: EngineUnderTest,
) -> None:
    script = "echo ready; while [ ! -e /go ]; do sleep 0.05; done; echo after; echo bye >&2"
    async with await any_engine.open() as client:
        container_id, _ = any_engine.create(any_engine.image, "sh", "-c", script)
        await client.start_container(container_id)
        seen: list[tuple[StreamKind, bytes]] = []

        async def follow() -> None:
            async for line in log_lines(client, container_id, follow=True):
                seen.append((line.stream, line.text))
                if line.text == b"ready":
                    # Written only now, after the subscription delivered "ready".
                    code, _, _ = await exec_run(client, container_id, ["touch", "/go"])
                    assert code == 0

        await asyncio.wait_for(follow(), seconds(30))
        assert seen[0] == (StreamKind.STDOUT, b"ready")
        assert sorted(seen[1:]) == [(StreamKind.STDOUT, b"after"), (StreamKind.STDERR, b"bye")]
        assert not (await client.container(container_id)).state.running


async def test_follow_ends_cleanly_when_the_container_is_removed(
    any_engine: EngineUnderTest,
) -> None:
    async with await any_engine.open() as client:
        container_id, _ = any_engine.create(any_engine.image, "sh", "-c", "echo up; sleep 300")
        await client.start_container(container_id)
        seen: list[bytes] = []

        async def follow() -> None:
            async for chunk in logs(client, container_id, follow=True):
                seen.append(chunk.data)
                await client.remove_container(container_id, force=True)

        await asyncio.wait_for(follow(), seconds(30))  # no exception: removal is an ordinary end
        assert seen == [b"up\n"]
        with pytest.raises(engine.NotFound):
            async for _ in logs(client, container_id):
                pass


async def test_a_cancelled_follow_leaves_the_client_usable(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        container_id, _ = any_engine.create(any_engine.image, "sh", "-c", "echo up; sleep 300")
        await client.start_container(container_id)
        first = asyncio.Event()

        async def follow() -> None:
            async for _chunk in logs(client, container_id, follow=True):
                first.set()

        task = asyncio.ensure_future(follow())
        await asyncio.wait_for(first.wait(), seconds(15))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await client.container(container_id)).state.running


async def test_since_skips_older_output(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        container_id, _ = any_engine.create(
            any_engine.image, "sh", "-c", "echo early; sleep 2.5; echo late")
        await client.start_container(container_id)
        any_engine.cli("wait", container_id)
        lines = [line async for line in log_lines(client, container_id, timestamps=True)]
        assert [line.text for line in lines] == [b"early", b"late"]
        late = lines[1].timestamp
        assert late is not None
        recent = [line.text async for line in
                  log_lines(client, container_id, since=late.timestamp() - 1)]
        assert recent == [b"late"]


async def test_since_a_lines_timestamp_starts_exactly_at_that_line(
        any_engine: EngineUnderTest) -> None:
    """``since`` taken from a line's nanosecond timestamp, compared with ``docker logs --since``.

    The lines are written microseconds apart, so a ``since`` rounded through a float
    lands after some of them and drops the very line it was taken from.
    """
    async with await any_engine.open() as client:
        container_id, _ = any_engine.create(
            any_engine.image, "sh", "-c", "i=0; while [ $i -lt 40 ]; do i=$((i+1)); "
            "echo line$i; done")
        await client.start_container(container_id)
        any_engine.cli("wait", container_id)
        lines = [line async for line in log_lines(client, container_id, timestamps=True)]
        assert len(lines) == 40
        for line in lines:
            assert line.stamp is not None
            since = engine.log_since(line.stamp)
            ours = [later.text async for later in
                    log_lines(client, container_id, since=since)]
            theirs, _ = cli_bytes(any_engine, "logs", "--since", line.stamp.decode(),
                                  container_id)
            assert ours == theirs.splitlines(), line.stamp
            assert line.text in ours, line.stamp


def test_split_timestamp_handles_both_engines_forms() -> None:
    stamp, rest = split_timestamp(b"2026-11-28T17:45:51.030521839Z out \xff\n")
    assert stamp == datetime(2026, 11, 28, 17, 45, 51, 30521, tzinfo=UTC)
    assert rest == b"out \xff\n"
    stamp, rest = split_timestamp(b"2026-11-28T17:45:53Z x")
    assert stamp == datetime(2026, 11, 28, 17, 45, 53, tzinfo=UTC)
    assert rest == b"x"
    assert split_timestamp(b"no stamp here") == (None, b"no stamp here")


# -- faults a real daemon will not show on demand -----------------------------------------


class FakeDaemon:
    """Just enough of the Engine API to open a client and answer one logs request."""

    def __init__(self, path: Path, logs_body: bytes, logs_head: bytes = b"") -> None:
        self.path = path
        self.logs_body = logs_body
        self.logs_head = logs_head
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> FakeDaemon:
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
                path = target.split("?", 1)[0]
                if path == "/_ping":
                    body = b"" if method == "HEAD" else b"OK"
                    writer.write(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n"
                                 b"Content-Length: 2\r\n\r\n" + body)
                elif path.endswith("/version"):
                    body = json.dumps({"Version": "20.10.24", "ApiVersion": "1.41"}).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                else:
                    # The logs body, then the connection is dropped, as a dying daemon would.
                    writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n" + self.logs_head
                                 + b"\r\n" + self.logs_body)
                    await writer.drain()
                    writer.close()
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@contextlib.asynccontextmanager
async def fake_client(tmp_path: Path, logs_body: bytes,
                      logs_head: bytes = b"") -> AsyncIterator[engine.Engine]:
    async with FakeDaemon(tmp_path / "fake.sock", logs_body, logs_head):
        client = await engine.Engine.open(parse_host(f"unix://{tmp_path / 'fake.sock'}", "fake"))
        async with client:
            yield client


async def test_a_system_error_frame_is_raised_with_its_text(tmp_path: Path) -> None:
    body = (encode_frame(StreamKind.STDOUT, b"before\n")
            + encode_frame(StreamKind.SYSTEMERR, b"error from daemon in stream: boom\n"))
    async with fake_client(tmp_path, body) as client:
        seen: list[LogChunk] = []
        with pytest.raises(engine.ServerError) as error:
            async for chunk in logs(client, "c1", tty=False):
                seen.append(chunk)
        assert seen == [LogChunk(StreamKind.STDOUT, b"before\n")]
        assert str(error.value) == "error from daemon in stream: boom"


async def test_a_stream_cut_inside_a_frame_is_a_protocol_error(tmp_path: Path) -> None:
    body = encode_frame(StreamKind.STDERR, b"whole\n") + encode_frame(StreamKind.STDOUT,
                                                                      b"cut short")[:12]
    async with fake_client(tmp_path, body) as client:
        seen: list[LogLine] = []
        with pytest.raises(engine.ProtocolError, match="inside a frame"):
            async for line in log_lines(client, "c1", tty=False):
                seen.append(line)
        assert seen == [LogLine(StreamKind.STDERR, b"whole")]


async def test_a_chunked_body_cut_anywhere_gives_the_same_lines(tmp_path: Path) -> None:
    stamp = b"2026-11-28T17:45:51.030521839Z "
    frames = [(StreamKind.STDOUT, b"one\n"), (StreamKind.STDERR, b"two\r\n"),
              (StreamKind.STDOUT, b"thr"), (StreamKind.STDOUT, b"ee\nfour\n"),
              (StreamKind.STDERR, b"last")]
    body = b"".join(encode_frame(kind, stamp + data) for kind, data in frames)
    # Docker sends a chunk per message; cut into 5-byte chunks, nothing lines up.
    pieces = [body[i : i + 5] for i in range(0, len(body), 5)]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    async with fake_client(tmp_path, wire, b"Transfer-Encoding: chunked\r\n") as client:
        lines = [(line.stream, line.text, line.timestamp)
                 async for line in log_lines(client, "c1", tty=False, timestamps=True)]
        batches = [batch async for batch in engine.log_batches(client, "c1", tty=False)]
    when = datetime(2026, 11, 28, 17, 45, 51, 30521, tzinfo=UTC)
    assert lines == [(StreamKind.STDOUT, b"one", when), (StreamKind.STDERR, b"two", when),
                     (StreamKind.STDOUT, b"three", when), (StreamKind.STDOUT, b"four", when),
                     (StreamKind.STDERR, b"last", when)]
    assert [line for batch in batches for line in batch.lines] == [
        stamp + b"one", stamp + b"two", stamp + b"thr" + stamp + b"ee", b"four", stamp + b"last"]


# -- exec ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running(target: EngineUnderTest) -> AsyncIterator[tuple[engine.Engine, str]]:
    container_id, _ = target.create(target.image, "sleep", "300")
    async with await target.open() as client:
        await client.start_container(container_id)
        yield client, container_id


async def read_until(session: ExecSession, wanted: bytes, seen: bytearray) -> None:
    while wanted not in seen:
        chunk = await asyncio.wait_for(session.read(), seconds(15))
        assert chunk is not None, f"output ended before {wanted!r}: {bytes(seen)!r}"
        seen += chunk.data


async def test_tty_shell_echoes_and_exits_with_its_code(any_engine: EngineUnderTest) -> None:
    async with running(any_engine) as (client, container_id):
        exec_id = await exec_create(client, container_id, ["sh"], tty=True, stdin=True)
        async with await exec_start(client, exec_id, tty=True) as session:
            seen = bytearray()
            await session.write(b"echo hello\n")
            # The TTY echoes the command line too; the output is "hello" on a line of its own.
            await read_until(session, b"\r\nhello\r\n", seen)
            await session.write(b"exit 3\n")
            while (chunk := await asyncio.wait_for(session.read(), seconds(15))) is not None:
                assert chunk.stream == StreamKind.STDOUT
            assert await session.wait(timeout=seconds(15)) == 3
            assert (await session.inspect()).running is False


async def test_non_tty_cat_returns_stdin_byte_exact(any_engine: EngineUnderTest) -> None:
    payload = bytes(range(256)) * 2048 + b"\r\n\x04no newline"  # 512 KiB and a bit
    async with running(any_engine) as (client, container_id):
        exec_id = await exec_create(client, container_id, ["cat"], tty=False, stdin=True)
        async with await exec_start(client, exec_id, tty=False) as session:
            async def feed() -> None:
                await session.write(payload)
                await session.close_stdin()

            writer = asyncio.ensure_future(feed())
            out, err = await asyncio.wait_for(session.read_all(), seconds(30))
            await writer
            assert out == payload
            assert err == b""
            assert await session.wait(timeout=seconds(15)) == 0

        code, out, err = await exec_run(client, container_id,
                                        ["sh", "-c", "cat; echo done >&2"], stdin=b"a\xffb")
        assert (code, out, err) == (0, b"a\xffb", b"done\n")


async def test_resize_sets_the_tty_size(any_engine: EngineUnderTest) -> None:
    async with running(any_engine) as (client, container_id):
        exec_id = await exec_create(client, container_id, ["sh"], tty=True, stdin=True)
        async with await exec_start(client, exec_id, tty=True) as session:
            seen = bytearray()
            await session.resize(24, 100)
            await session.write(b"stty size\n")
            await read_until(session, b"\r\n24 100\r\n", seen)
            await session.resize(40, 132)
            await session.write(b"stty size\n")
            await read_until(session, b"\r\n40 132\r\n", seen)
            await session.write(b"exit\n")
            assert await session.wait(timeout=seconds(15)) == 0

        # ConsoleSize at create is ignored at API 1.41 (both engines here), so
        # exec_start applies the size with a resize once the process runs; the command
        # waits for a line so that it reads the size only after that.
        exec_id = await exec_create(client, container_id, ["sh", "-c", "read x; stty size"],
                                    tty=True, stdin=True, console_size=(33, 77))
        async with await exec_start(client, exec_id, tty=True, console_size=(33, 77)) as session:
            await session.write(b"\n")
            out, _ = await asyncio.wait_for(session.read_all(), seconds(15))
        assert out == b"\r\n33 77\r\n"


async def test_tty_close_stdin_sends_end_of_file(any_engine: EngineUnderTest) -> None:
    async with running(any_engine) as (client, container_id):
        exec_id = await exec_create(client, container_id, ["cat"], tty=True, stdin=True)
        async with await exec_start(client, exec_id, tty=True) as session:
            await session.write(b"hi\n")
            await session.close_stdin()
            out, err = await asyncio.wait_for(session.read_all(), seconds(15))
            # Echoed by the TTY, then written back by cat; Ctrl-D ends cat.
            assert (out, err) == (b"hi\r\nhi\r\n", b"")
            assert await session.wait(timeout=seconds(15)) == 0


async def test_a_stopped_or_removed_container_ends_the_session(
    any_engine: EngineUnderTest,
) -> None:
    async with running(any_engine) as (client, container_id):
        exec_id = await exec_create(client, container_id, ["sh"], tty=True, stdin=True)
        async with await exec_start(client, exec_id, tty=True) as session:
            await read_until(session, b"# ", bytearray())  # the prompt
            await client.stop_container(container_id, timeout=0)
            while await asyncio.wait_for(session.read(), seconds(15)) is not None:
                pass  # an ordinary end of output, no exception
            assert await session.wait(timeout=seconds(15)) == 137  # SIGKILL

        await client.start_container(container_id)
        exec_id = await exec_create(client, container_id, ["sh"], tty=True, stdin=True)
        async with await exec_start(client, exec_id, tty=True) as session:
            await read_until(session, b"# ", bytearray())
            await client.remove_container(container_id, force=True)
            while await asyncio.wait_for(session.read(), seconds(15)) is not None:
                pass
            with pytest.raises(engine.NotFound):  # the exec went with its container
                await session.wait(timeout=seconds(15))


async def test_a_missing_command_gives_a_clear_reason(any_engine: EngineUnderTest) -> None:
    # Docker (runc via containerd) reports 126 for a missing command; Podman 127.
    expected_code = 127 if any_engine.kind == "podman" else 126
    async with running(any_engine) as (client, container_id):
        for tty in (False, True):
            code, out, err = await exec_run(client, container_id, ["no-such-command"], tty=tty)
            assert code == expected_code
            # The daemon still upgraded; the runtime's words arrive as output.
            if any_engine.kind == "docker" or tty:
                assert b"no-such-command" in out
            else:
                assert out == b"" and b"no-such-command" in err  # Podman: on stderr
            reason = exec_failure_reason(code, out + err)
            assert reason == "cannot run no-such-command: executable file not found in $PATH"

        code, out, err = await exec_run(client, container_id, ["/etc"])
        assert code == 126
        assert exec_failure_reason(code, out + err) == (
            "cannot run /etc: permission denied (is it an executable file?)")

        # A command that ran and exited 127 by itself is not a failure to start.
        code, out, err = await exec_run(client, container_id, ["sh", "-c", "exit 127"])
        assert (code, out, err) == (127, b"", b"")
        assert exec_failure_reason(code, out + err) is None


async def test_exec_in_a_stopped_container_is_a_conflict(any_engine: EngineUnderTest) -> None:
    container_id, _ = any_engine.create(any_engine.image, "true")
    async with await any_engine.open() as client:
        with pytest.raises(engine.Conflict):
            await exec_create(client, container_id, ["sh"], tty=True, stdin=True)


async def test_find_shell_picks_ash_in_busybox(any_engine: EngineUnderTest) -> None:
    async with running(any_engine) as (client, container_id):
        # Why: there is no bash, so its exec fails to start; `busybox --install -s /bin`
        # made /bin/ash (ahead of /bin/sh in the preference order).
        bash_code, _, _ = await exec_run(client, container_id, ["bash", "-c", "true"])
        assert bash_code in (126, 127)
        ls_code, listing, _ = await exec_run(client, container_id, ["ls", "/bin/ash", "/bin/sh"])
        assert (ls_code, listing) == (0, b"/bin/ash\n/bin/sh\n")
        assert await find_shell(client, container_id) == "/bin/ash"


# -- stats --------------------------------------------------------------------------------


def v1_stats(**overrides: Any) -> dict[str, Any]:
    """Shaped like Docker 20.10 on cgroup v1 (trimmed from a real answer)."""
    raw: dict[str, Any] = {
        "read": "2026-11-28T17:46:25.682174109Z",
        "preread": "2026-11-28T17:46:24.677011677Z",
        "pids_stats": {"current": 3},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "Read", "value": 4096},
            {"major": 8, "minor": 0, "op": "Write", "value": 8192},
            {"major": 8, "minor": 0, "op": "Sync", "value": 12288},
            {"major": 8, "minor": 0, "op": "Total", "value": 12288},
            {"major": 8, "minor": 16, "op": "read", "value": 1},
        ]},
        "cpu_stats": {"cpu_usage": {"total_usage": 400_000_000,
                                    "percpu_usage": [200_000_000, 200_000_000]},
                      "system_cpu_usage": 3_070_000_000_000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 300_000_000},
                         "system_cpu_usage": 3_068_000_000_000, "online_cpus": 2},
        "memory_stats": {"usage": 10 * MIB, "max_usage": 20 * MIB, "limit": 100 * MIB,
                         "stats": {"cache": 3 * MIB, "inactive_file": 1 * MIB,
                                   "total_inactive_file": 2 * MIB}},
        "networks": {"eth0": {"rx_bytes": 736, "tx_bytes": 10},
                     "eth1": {"rx_bytes": 264, "tx_bytes": 5}},
    }
    raw.update(overrides)
    return raw


def test_sample_from_cgroup_v1_stats() -> None:
    sample = sample_from_stats(v1_stats())
    assert sample.time == datetime(2026, 11, 28, 17, 46, 25, 682174, tzinfo=UTC)
    # Δcpu 1e8 / Δsystem 2e9 * 2 CPUs * 100
    assert sample.cpu_percent == pytest.approx(10.0, rel=1e-12)
    assert sample.memory_used == 8 * MIB  # usage - total_inactive_file
    assert sample.memory_limit == 100 * MIB
    assert sample.memory_percent == pytest.approx(8.0, rel=1e-12)
    assert (sample.net_rx, sample.net_tx) == (1000, 15)
    assert (sample.block_read, sample.block_write) == (4097, 8192)
    assert sample.pids == 3


def test_sample_from_cgroup_v2_stats() -> None:
    raw = v1_stats(
        memory_stats={"usage": 10 * MIB, "limit": 100 * MIB,
                      "stats": {"anon": 5 * MIB, "file": 4 * MIB, "inactive_file": 3 * MIB}},
        blkio_stats={"io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "read", "value": 100},
            {"major": 8, "minor": 0, "op": "write", "value": 200}]},
    )
    raw["cpu_stats"]["cpu_usage"].pop("percpu_usage")  # v2 has none
    sample = sample_from_stats(raw)
    assert sample.memory_used == 7 * MIB  # usage - inactive_file
    assert sample.memory_percent == pytest.approx(7.0, rel=1e-12)
    assert (sample.block_read, sample.block_write) == (100, 200)
    assert sample.cpu_percent == pytest.approx(10.0, rel=1e-12)


def test_sample_from_podman_stats() -> None:
    # Podman: no memory_stats.stats (absent on 4.3, null in others), precpu online_cpus 0.
    for memory in ({"usage": 716800, "limit": 25276510208},
                   {"usage": 716800, "limit": 25276510208, "stats": None}):
        raw = v1_stats(memory_stats=memory, networks={"network": {"rx_bytes": 90,
                                                                  "tx_bytes": 254}})
        raw["precpu_stats"]["online_cpus"] = 0
        sample = sample_from_stats(raw)
        assert sample.memory_used == 716800
        assert sample.memory_percent == pytest.approx(716800 / 25276510208 * 100, rel=1e-12)
        assert (sample.net_rx, sample.net_tx) == (90, 254)


def test_cpu_falls_back_to_percpu_count_and_is_zero_without_deltas() -> None:
    raw = v1_stats()
    raw["cpu_stats"]["online_cpus"] = 0
    raw["cpu_stats"]["cpu_usage"]["percpu_usage"] = [1, 1, 1, 1]
    assert sample_from_stats(raw).cpu_percent == pytest.approx(20.0, rel=1e-12)

    idle = v1_stats()
    idle["precpu_stats"]["cpu_usage"]["total_usage"] = 400_000_000  # Δcpu = 0
    assert sample_from_stats(idle).cpu_percent == 0.0
    backwards = v1_stats()
    backwards["precpu_stats"]["system_cpu_usage"] = 4_000_000_000_000  # Δsystem < 0
    assert sample_from_stats(backwards).cpu_percent == 0.0

    # One-shot answers have an empty precpu: the CLI's formula then gives the
    # average over the container's life, not 0.
    one_shot = v1_stats(precpu_stats={"cpu_usage": {"total_usage": 0}})
    assert sample_from_stats(one_shot).cpu_percent == pytest.approx(
        400_000_000 / 3_070_000_000_000 * 2 * 100, rel=1e-12)


def test_memory_falls_through_like_the_cli() -> None:
    # v1 key present but not below usage: the CLI then tries inactive_file.
    raw = v1_stats(memory_stats={"usage": 2 * MIB, "limit": 0,
                                 "stats": {"total_inactive_file": 2 * MIB,
                                           "inactive_file": MIB}})
    sample = sample_from_stats(raw)
    assert sample.memory_used == MIB
    assert sample.memory_percent == 0.0  # limit 0: not running
    stopped = sample_from_stats({"read": "0001-01-01T00:00:00Z", "memory_stats": {}})
    assert (stopped.time, stopped.memory_used, stopped.cpu_percent, stopped.pids) == (
        None, 0, 0.0, 0)


_UNITS = {"B": 1, "KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB, "TiB": 1024 * 1024 * MIB}


def parse_binary_size(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)\s*([KMGT]i)?B", text.strip())
    assert match, text
    return float(match.group(1)) * _UNITS[(match.group(2) or "") + "B"]


async def test_stats_match_docker_stats(any_engine: EngineUnderTest) -> None:
    async with running(any_engine) as (client, container_id):
        await asyncio.sleep(1)  # let the container settle past its start-up

        def cli_stats() -> dict[str, str]:
            out = any_engine.cli("stats", "--no-stream", "--format", "{{json .}}", container_id)
            return dict(json.loads(out))

        async def ours() -> list[StatsSample]:
            return [s async for s in stats(client, container_id, stream=False)]

        cli, samples = await asyncio.gather(asyncio.to_thread(cli_stats), ours())
        [sample] = samples
        assert sample.time is not None
        assert sample.memory_used > 0
        used_text, limit_text = cli["MemUsage"].split(" / ")
        cli_used = parse_binary_size(used_text)
        assert abs(sample.memory_used - cli_used) <= max(MIB, 0.05 * cli_used)
        # The CLI prints four significant digits.
        assert sample.memory_limit == pytest.approx(parse_binary_size(limit_text), rel=1e-3)
        assert sample.memory_percent == pytest.approx(float(cli["MemPerc"].rstrip("%")),
                                                      abs=0.01)
        assert sample.cpu_percent < 1.0
        assert float(cli["CPUPerc"].rstrip("%")) < 1.0
        assert sample.pids == int(cli["PIDs"]) == 1

        raw = await client.get_json(f"/containers/{container_id}/stats",
                                     {"stream": "false", "one-shot": "true"})
        memory = raw["memory_stats"]
        if any_engine.kind == "podman":
            # Podman: no page-cache breakdown, so "used" is the raw usage.
            assert memory.get("stats") is None
            assert "max_usage" not in memory
        elif (await client.info()).cgroup_version == "2":
            assert "inactive_file" in memory["stats"]
            assert "total_inactive_file" not in memory["stats"]
        else:
            assert "total_inactive_file" in memory["stats"]


async def test_stats_stream_ends_when_the_container_stops(any_engine: EngineUnderTest) -> None:
    async with running(any_engine) as (client, container_id):
        samples: list[StatsSample] = []

        async def follow() -> None:
            async for sample in stats(client, container_id):
                samples.append(sample)
                if len(samples) == 1:
                    await client.stop_container(container_id, timeout=0)

        # Docker would stream zeroed samples forever; the iterator ends instead.
        await asyncio.wait_for(follow(), seconds(30))
        assert samples and all(s.time is not None and s.memory_limit > 0 for s in samples[:1])
        assert all(s.time is not None for s in samples)


async def test_one_shot_stats_answer_at_once(any_engine: EngineUnderTest) -> None:
    async with running(any_engine) as (client, container_id):
        [sample] = [s async for s in stats(client, container_id, stream=False, one_shot=True)]
        assert sample.time is not None and sample.memory_used > 0 and sample.pids == 1
        # "At once" means without a previous reading: preread is the zero time on both
        # engines (Podman accepts stream=false&one-shot=true, too).
        raw = await client.get_json(f"/containers/{container_id}/stats",
                                     {"stream": "false", "one-shot": "true"})
        assert raw["preread"] == "0001-01-01T00:00:00Z"
        assert not raw["precpu_stats"].get("system_cpu_usage")
        with pytest.raises(ValueError):
            async for _ in stats(client, container_id, one_shot=True):
                pass
        with pytest.raises(engine.BadRequest):  # both refuse one-shot with stream=true
            await client.get_json(f"/containers/{container_id}/stats",
                                   {"stream": "true", "one-shot": "true"})
