"""Container I/O: logs, exec over a hijacked connection, and live stats.

Module-level async functions that take an :class:`~engine._client.Engine` first, so
the client stays small and these can be wrapped as methods later.  What the real
daemons do, and what these functions make of it (checked against Docker 20.10.24 /
API 1.41 on cgroup v1 and Podman 4.3.1):

Logs
    Multiplexed or raw is decided from the container's ``Config.Tty``, never from
    Content-Type (Docker 1.41 sends *no* Content-Type on ``/logs``; Podman sends
    ``application/octet-stream`` for multiplexed and ``text/plain`` for TTY).  A
    container removed while following simply ends the HTTP stream on both engines,
    so the iterator ends without an exception.  Docker's json-file driver stores
    lines as JSON strings: invalid UTF-8 comes back as U+FFFD (``docker logs`` shows
    the same); Podman's k8s-file driver keeps the bytes.  Lines longer than 16 KiB
    (Docker) or 8 KiB (Podman) are stored as partial messages, each one its own
    frame and, with ``timestamps``, its own timestamp prefix.  Podman's timestamps
    have whole seconds only.

Exec
    ``POST /exec/{id}/start`` with ``Connection: Upgrade`` answers ``101`` on both
    engines and the socket becomes a raw duplex stream.  A command that cannot be
    started still gets its 101; the runtime's complaint arrives as output and the
    exit code is 126 (found, not executable) or 127 (not found).

Stats
    Docker streams one sample a second, Podman one every 5 seconds.  On a stopped
    container Docker keeps streaming zeroed samples (``read`` = year 1) forever,
    Podman ends the stream; :func:`stats` ends on the first zeroed sample so both
    behave alike.  ``stream=false`` waits for a second sample on Docker (~2 s, CPU %
    meaningful) but answers at once on Podman with an empty ``precpu_stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from engine._client import Engine
from engine._decoders import (
    TIMESTAMP_PREFIX,
    FrameDecoder,
    LogBatch,
    LogDecoder,
    StreamKind,
)
from engine._errors import (
    APIError,
    EngineUnreachable,
    NotFound,
    ServerError,
)
from engine._models import parse_timestamp
from engine._transport import Upgraded

__all__ = [
    "SHELLS",
    "ExecInfo",
    "ExecSession",
    "LogBatch",
    "LogChunk",
    "LogLine",
    "StatsSample",
    "exec_create",
    "exec_failure_reason",
    "exec_inspect",
    "exec_run",
    "exec_start",
    "find_shell",
    "log_batches",
    "log_lines",
    "log_timestamp",
    "logs",
    "sample_from_stats",
    "split_timestamp",
    "stats",
]

_READ_SIZE = 65536
#: How long reading a log may go on without letting the event loop in.  Short: the
#: daemon blocks once its socket buffer holds a few hundred small messages, so a
#: follow keeps up only if the socket is read every few milliseconds.
_SLICE = 0.003
#: A read of a log body is decoded this much at a time (~700 lines of a busy log).
_PIECE = 64 << 10
#: The end-of-transmission byte a TTY's line discipline turns into EOF (Ctrl-D).
_EOT = b"\x04"
#: Shells a user expects, best first (issue 5: bash, then ash, then sh).
SHELLS = ("bash", "ash", "sh")


# -- logs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogChunk:
    """Bytes from one of a container's streams; not a line (see :func:`log_lines`)."""

    stream: StreamKind
    data: bytes


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a container's output, without its line ending, as raw bytes.

    Bytes, not text, so invalid UTF-8 and ANSI escapes reach the view untouched.
    """

    stream: StreamKind
    text: bytes
    timestamp: datetime | None = None


def _since_param(since: float | None) -> str | None:
    # The daemon reads "<seconds>.<nanoseconds>"; repr of a float would say 1e9.
    return None if since is None else f"{since:.9f}"


def _logs_params(*, follow: bool, stdout: bool, stderr: bool, timestamps: bool,
                 tail: int | None, since: float | None) -> dict[str, Any]:
    if not (stdout or stderr):
        raise ValueError("ask for stdout, stderr or both (the daemon refuses neither)")
    return {
        "follow": int(follow),
        "stdout": int(stdout),
        "stderr": int(stderr),
        "timestamps": int(timestamps),
        "tail": "all" if tail is None else max(tail, 0),
        "since": _since_param(since),
    }


def _log_body(
    client: Engine, container_id: str, params: Mapping[str, Any]
) -> contextlib.AbstractAsyncContextManager[AsyncIterator[bytes]]:
    """A log's body, de-chunked, a read at a time (at most :data:`_PIECE` of it).

    Docker flushes every log message as an HTTP chunk of its own, and httpx pays
    ~20 µs of Python per chunk: reading a busy log through it costs more than
    everything done with the lines after.  :meth:`Engine.open_body_bytes` reads
    it on a connection of its own with whole reads and undoes the chunking in bulk;
    errors are those of the httpx path (the engine's exception for an HTTP error
    status, :class:`EngineUnreachable` for a refused, cut or garbled connection).
    """
    return client.open_body_bytes("GET", f"/containers/{container_id}/logs",
                                  params=params, piece=_PIECE)


async def logs(
    client: Engine,
    container_id: str,
    *,
    follow: bool = False,
    stdout: bool = True,
    stderr: bool = True,
    timestamps: bool = False,
    tail: int | None = None,
    since: float | None = None,
    tty: bool | None = None,
) -> AsyncIterator[LogChunk]:
    """A container's output as it arrives, stdout and stderr told apart.

    ``tty`` says whether the container has a TTY (its output is then one raw stream,
    reported as STDOUT); when ``None`` the container is inspected to find out.
    ``tail`` counts lines across both streams; ``since`` is Unix seconds.  With
    ``follow`` the iterator ends when the container stops or is removed.
    Raises :class:`NotFound` if the container does not exist when called, and
    :class:`ServerError` for an error the daemon reports inside the stream.
    """
    params = _logs_params(follow=follow, stdout=stdout, stderr=stderr, timestamps=timestamps,
                          tail=tail, since=since)
    if tty is None:
        tty = (await client.container(container_id)).tty
    decoder = None if tty else FrameDecoder()
    try:
        async with _log_body(client, container_id, params) as body:
            async for raw in body:
                if decoder is None:
                    yield LogChunk(StreamKind.STDOUT, raw)
                    continue
                for frame in decoder.feed(raw):
                    if frame.kind == StreamKind.SYSTEMERR:
                        raise ServerError(500, _system_error(frame.data))
                    yield LogChunk(frame.kind, frame.data)
    except EngineUnreachable:
        if not await _container_gone(client, container_id):
            raise
        return
    if decoder is not None:
        decoder.close()


def _system_error(data: bytes) -> str:
    return data.decode("utf-8", "replace").strip() or "the engine reported an error"


async def log_batches(
    client: Engine,
    container_id: str,
    *,
    follow: bool = False,
    stdout: bool = True,
    stderr: bool = True,
    timestamps: bool = False,
    tail: int | None = None,
    since: float | None = None,
    tty: bool | None = None,
) -> AsyncIterator[LogBatch]:
    """:func:`logs` as lines, in batches: whatever arrived since the last one.

    The fast way to read a log (a view appends a batch at once); the lines and their
    order are those of :func:`log_lines`, and :class:`LogDecoder` says what becomes of
    line endings, frames and ``timestamps`` prefixes (left unparsed; see
    :func:`log_timestamp`).  An empty batch is never yielded.
    """
    params = _logs_params(follow=follow, stdout=stdout, stderr=stderr, timestamps=timestamps,
                          tail=tail, since=since)
    if tty is None:
        tty = (await client.container(container_id)).tty
    decoder = LogDecoder(multiplexed=not tty, timestamps=timestamps)
    loop = asyncio.get_running_loop()
    try:
        async with _log_body(client, container_id, params) as body:
            deadline = loop.time() + _SLICE
            async for raw in body:
                batch = decoder.feed(raw)
                if batch.lines:
                    yield batch
                if decoder.system_error is not None:
                    raise ServerError(500, decoder.system_error)
                if loop.time() >= deadline:
                    # A flood is read without waiting (and the daemon blocks once a few
                    # hundred messages wait in the socket), so let the loop in often.
                    await asyncio.sleep(0)
                    deadline = loop.time() + _SLICE
    except EngineUnreachable:
        # A followed container that is removed ends the stream cleanly on Docker and
        # Podman; should the connection be cut instead, a missing container still
        # means "done" (with what it wrote), not "engine unreachable".
        if not await _container_gone(client, container_id):
            raise
        rest = decoder.flush()
    else:
        rest = decoder.close()
    if rest.lines:
        yield rest


async def _container_gone(client: Engine, container_id: str) -> bool:
    try:
        await client.container(container_id)
    except NotFound:
        return True
    except EngineUnreachable:
        return False
    return False


def split_timestamp(data: bytes) -> tuple[datetime | None, bytes]:
    """Strip the ``timestamps=1`` prefix off a log message: (time, rest)."""
    match = TIMESTAMP_PREFIX.match(data)
    if match is None:
        return None, data
    return log_timestamp(match.group(1)), data[match.end() :]


def log_timestamp(stamp: bytes) -> datetime | None:
    """Parse the RFC 3339 text of a ``timestamps=1`` prefix (:attr:`LogBatch.stamps`)."""
    return parse_timestamp(stamp.decode("ascii", "replace"))


async def log_lines(
    client: Engine,
    container_id: str,
    *,
    follow: bool = False,
    stdout: bool = True,
    stderr: bool = True,
    timestamps: bool = False,
    tail: int | None = None,
    since: float | None = None,
    tty: bool | None = None,
) -> AsyncIterator[LogLine]:
    """:func:`logs` split into lines, one splitter per stream so they never mix.

    With ``timestamps`` each line carries the time of its first message.  For a
    multiplexed stream each frame is one message with its own prefix, so the
    prefixes the daemon puts on the later parts of a long (partial) line are
    removed too; a TTY stream has no frames, so there only the prefix at the start
    of each line is parsed (``docker logs -t`` shows the others as well).  One object
    per line: to keep up with a busy container, use :func:`log_batches`.
    """
    async for batch in log_batches(client, container_id, follow=follow, stdout=stdout,
                                   stderr=stderr, timestamps=timestamps, tail=tail,
                                   since=since, tty=tty):
        for stream, text, stamp in zip(batch.streams, batch.lines, batch.stamps, strict=True):
            yield LogLine(StreamKind(stream), text,
                          None if stamp is None else log_timestamp(stamp))


# -- exec ---------------------------------------------------------------------------


async def exec_create(
    client: Engine,
    container_id: str,
    cmd: Sequence[str],
    *,
    tty: bool,
    stdin: bool,
    env: Mapping[str, str] | Sequence[str] | None = None,
    user: str | None = None,
    workdir: str | None = None,
    console_size: tuple[int, int] | None = None,
) -> str:
    """Create (not start) an exec instance; returns its ID.

    ``console_size`` is (rows, cols).  Docker 20.10 and Podman 4.3 (API 1.41) ignore
    it and start the TTY at 0x0 (busybox ``stty size`` then fails), so pass it to
    :func:`exec_start` too, which resizes once the process runs.
    Raises :class:`Conflict` if the container is not running.
    """
    body: dict[str, Any] = {
        "AttachStdin": stdin,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": tty,
        "Cmd": list(cmd),
    }
    if env is not None:
        body["Env"] = ([f"{k}={v}" for k, v in env.items()] if isinstance(env, Mapping)
                       else list(env))
    if user is not None:
        body["User"] = user
    if workdir is not None:
        body["WorkingDir"] = workdir
    if console_size is not None:
        body["ConsoleSize"] = [console_size[0], console_size[1]]
    response = await client.request("POST", f"/containers/{container_id}/exec", json=body)
    return str(response.json()["Id"])


@dataclass(frozen=True, slots=True)
class ExecInfo:
    """``GET /exec/{id}/json``: whether it runs, and how it ended."""

    running: bool
    exit_code: int | None
    pid: int

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> ExecInfo:
        code = raw.get("ExitCode")
        return cls(
            running=bool(raw.get("Running")),
            exit_code=int(code) if code is not None else None,
            pid=int(raw.get("Pid") or 0),
        )


async def exec_inspect(client: Engine, exec_id: str) -> ExecInfo:
    return ExecInfo.from_api(await client.get_json(f"/exec/{exec_id}/json"))


class ExecSession:
    """A started exec: its hijacked connection, for reading, writing and resizing.

    Use as ``async with await exec_start(...) as session``.  :meth:`read` returns
    ``None`` once the process closed its output (it has exited, or is about to);
    :meth:`wait` then gives the exit code.
    """

    def __init__(self, client: Engine, exec_id: str, tty: bool, stream: Upgraded) -> None:
        self.client = client
        self.exec_id = exec_id
        self.tty = tty
        self._stream = stream
        self._decoder = None if tty else FrameDecoder()
        self._frames: list[LogChunk] = []
        self._eof = False
        self._stdin_closed = False
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def read(self) -> LogChunk | None:
        """The next piece of output; ``None`` at the end.  TTY output is all STDOUT."""
        while not self._frames:
            if self._eof:
                return None
            try:
                data = await self._stream.read(_READ_SIZE)
            except EngineUnreachable as exc:
                if self._closed:
                    return None
                raise _session_lost(self.client, exc) from exc
            if not data:
                self._eof = True
                if self._decoder is not None:
                    self._decoder.close()
                return None
            if self._decoder is None:
                return LogChunk(StreamKind.STDOUT, data)
            for frame in self._decoder.feed(data):
                if frame.kind == StreamKind.SYSTEMERR:
                    message = frame.data.decode("utf-8", "replace").strip()
                    raise ServerError(500, message or "the engine reported an error")
                self._frames.append(LogChunk(frame.kind, frame.data))
        return self._frames.pop(0)

    async def read_all(self) -> tuple[bytes, bytes]:
        """Everything until the end: (stdout, stderr).  TTY output is all stdout."""
        out: list[bytes] = []
        err: list[bytes] = []
        while (chunk := await self.read()) is not None:
            (err if chunk.stream == StreamKind.STDERR else out).append(chunk.data)
        return b"".join(out), b"".join(err)

    async def write(self, data: bytes) -> None:
        """Send ``data`` to the process's stdin (needs ``stdin=True`` at create)."""
        if self._stdin_closed:
            raise ValueError("stdin of this exec session was closed")
        try:
            await self._stream.write(data)
        except EngineUnreachable as exc:
            raise _session_lost(self.client, exc) from exc

    async def close_stdin(self) -> None:
        """Give the process end-of-file on stdin.

        Without a TTY this half-closes the socket: the process sees EOF and its
        output keeps coming.  With a TTY a half-close would drop the whole stream
        while the process runs on, so Ctrl-D (0x04) is sent instead; the line
        discipline turns it into EOF when it starts a line.
        """
        if self._stdin_closed:
            return
        if self.tty:
            await self.write(_EOT)
            return
        self._stdin_closed = True
        self._stream.shutdown_write()

    async def resize(self, rows: int, cols: int) -> None:
        """Set the TTY size.  Only after start: before, Docker blocks and then fails."""
        await self.client.request(
            "POST", f"/exec/{self.exec_id}/resize", params={"h": rows, "w": cols}
        )

    async def inspect(self) -> ExecInfo:
        return await exec_inspect(self.client, self.exec_id)

    async def wait(self, *, timeout: float | None = None, interval: float = 0.02) -> int:
        """The exit code, polling ``/exec/{id}/json`` until the process stopped.

        The output can end a moment before the daemon records the exit, hence the
        polling (there is no wait endpoint for exec).  ``timeout`` raises
        ``TimeoutError``.  A container stopped under the exec gives 137 (killed);
        a removed one takes its execs along, so this raises :class:`NotFound`.
        """
        async with asyncio.timeout(timeout):
            delay = interval
            while True:
                info = await self.inspect()
                if not info.running and info.exit_code is not None:
                    return info.exit_code
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.25)

    async def aclose(self) -> None:
        """Close the connection.  The process itself is not killed (exec has no kill)."""
        if self._closed:
            return
        self._closed = True
        await self._stream.aclose()


def _session_lost(client: Engine, exc: EngineUnreachable) -> EngineUnreachable:
    detail = exc.__cause__ or exc
    return EngineUnreachable(f"the exec session's connection was lost ({detail})",
                             client.endpoint.url)


async def exec_start(
    client: Engine,
    exec_id: str,
    *,
    tty: bool,
    console_size: tuple[int, int] | None = None,
) -> ExecSession:
    """Start an exec and take over its connection (HTTP ``101``) for stdin and output.

    ``tty`` must match the create call: it decides whether the output is framed.
    ``console_size`` (rows, cols) is applied by a resize right after the start, for
    daemons that ignore ``ConsoleSize`` at create.
    """
    stream = await client.upgrade(
        "POST", f"/exec/{exec_id}/start", json={"Detach": False, "Tty": tty},
        # Podman upgrades only when both are sent; without them Docker answers 200
        # and stdin cannot be written.
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
    )
    session = ExecSession(client, exec_id, tty, stream)
    if console_size is not None and tty:
        try:
            await _initial_resize(session, console_size)
        except BaseException:
            await session.aclose()
            raise
    return session


async def _initial_resize(session: ExecSession, size: tuple[int, int]) -> None:
    """Apply the size at once; a command that already finished needs none.

    A short command (``stty size``) can be gone before the resize arrives; both
    engines then answer 500 ("cannot resize a stopped container", Podman: "exec
    session state improper").
    """
    try:
        await session.resize(*size)
    except APIError:
        if (await session.inspect()).running:
            raise


#: What runtimes print when the command cannot be started (runc, crun, Podman).
_EXEC_FAILURE = re.compile(
    rb"OCI runtime exec failed|executable file not found|no such file or directory"
    rb"|permission denied|OCI runtime attempted to invoke a command",
    re.IGNORECASE,
)


def exec_failure_reason(exit_code: int, output: bytes) -> str | None:
    """A sentence for the user when an exec could not start its command, else ``None``.

    The daemon still answers 101 when the command is missing; the runtime's message
    is in the output (Docker: stdout, Podman: stderr unless TTY) and the exit code is
    126 or 127 (Docker 20.10 says 126 even for "not found"; Podman 127).  A command
    that ran and chose to exit 126/127 without such a message is not reported.
    """
    if exit_code not in (126, 127) or not _EXEC_FAILURE.search(output):
        return None
    text = output.decode("utf-8", "replace")
    found = re.search(r'exec: "([^"]*)": ([^\r\n]*)', text)
    command = found.group(1) if found else None
    detail = (found.group(2) if found else text).lower()
    if "executable file not found" in detail:
        why = "executable file not found in $PATH"
    elif "no such file or directory" in detail:
        why = "no such file or directory"
    elif "permission denied" in detail:
        why = "permission denied (is it an executable file?)"
    elif exit_code == 127:
        why = "command not found"
    else:
        why = "the runtime could not start it"
    return f"cannot run {command}: {why}" if command else f"cannot run the command: {why}"


async def exec_run(
    client: Engine,
    container_id: str,
    cmd: Sequence[str],
    *,
    tty: bool = False,
    stdin: bytes | None = None,
    user: str | None = None,
) -> tuple[int, bytes, bytes]:
    """Run ``cmd`` in a running container and collect it: (exit code, stdout, stderr).

    With ``tty`` stderr is merged into stdout (one raw stream) and lines end in CRLF.
    """
    exec_id = await exec_create(client, container_id, cmd, tty=tty, stdin=stdin is not None,
                                user=user)
    async with await exec_start(client, exec_id, tty=tty) as session:
        if stdin is not None:
            writer = asyncio.ensure_future(_feed(session, stdin))
            try:
                out, err = await session.read_all()
            finally:
                if not writer.done():
                    writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, EngineUnreachable):
                    await writer
        else:
            out, err = await session.read_all()
        code = await session.wait()
    return code, out, err


async def _feed(session: ExecSession, data: bytes) -> None:
    await session.write(data)
    await session.close_stdin()


async def find_shell(client: Engine, container_id: str) -> str | None:
    """The best interactive shell in a running container (bash, then ash, then sh).

    Each candidate is started and asked to find its own file along PATH, so the
    answer is a path that really starts; a missing shell costs one failed exec
    (126/127).  ``command -v`` is no use here: busybox ash answers ``ash`` for its
    own applets, not a path.  ``None`` when the container has none of them.
    """
    for shell in SHELLS:
        script = (f'IFS=:; for d in $PATH; do [ -x "$d/{shell}" ] && '
                  f'{{ echo "$d/{shell}"; exit 0; }}; done; exit 0')
        code, out, _ = await exec_run(client, container_id, [shell, "-c", script])
        if code != 0:
            continue
        path = out.decode("utf-8", "replace").strip()
        return path if path.startswith("/") else shell
    return None


# -- stats --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatsSample:
    """One stats reading, computed the way ``docker stats`` computes its columns."""

    time: datetime | None
    cpu_percent: float
    memory_used: int
    memory_limit: int
    memory_percent: float
    net_rx: int
    net_tx: int
    block_read: int
    block_write: int
    pids: int


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _cpu_percent(raw: Mapping[str, Any]) -> float:
    """docker/cli ``calculateCPUPercentUnix``: Δcontainer / Δsystem * CPUs * 100."""
    cpu = _map(raw.get("cpu_stats"))
    pre = _map(raw.get("precpu_stats"))
    usage = _map(cpu.get("cpu_usage"))
    cpu_delta = float(_int(usage.get("total_usage"))) - float(
        _int(_map(pre.get("cpu_usage")).get("total_usage"))
    )
    system_delta = float(_int(cpu.get("system_cpu_usage"))) - float(
        _int(pre.get("system_cpu_usage"))
    )
    online = float(_int(cpu.get("online_cpus")))
    if online == 0.0:
        online = float(len(usage.get("percpu_usage") or ()))
    if system_delta > 0.0 and cpu_delta > 0.0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def _memory_used(memory: Mapping[str, Any]) -> int:
    """docker/cli ``calculateMemUsageUnixNoCache``: usage minus inactive page cache.

    cgroup v1 subtracts ``total_inactive_file``, v2 ``inactive_file``; Podman sends
    no ``stats`` at all (or null), leaving the raw usage.  As in the CLI, a v1 value
    that is not below usage falls through to the v2 key.
    """
    usage = _int(memory.get("usage"))
    detail = _map(memory.get("stats"))
    if "total_inactive_file" in detail and _int(detail["total_inactive_file"]) < usage:
        return usage - _int(detail["total_inactive_file"])
    inactive = _int(detail.get("inactive_file"))
    if inactive < usage:
        return usage - inactive
    return usage


def sample_from_stats(raw: Mapping[str, Any]) -> StatsSample:
    """Turn one ``/containers/{id}/stats`` object into the numbers ``docker stats`` shows."""
    memory = _map(raw.get("memory_stats"))
    used = _memory_used(memory)
    limit = _int(memory.get("limit"))
    rx = tx = 0
    for network in _map(raw.get("networks")).values():
        rx += _int(_map(network).get("rx_bytes"))
        tx += _int(_map(network).get("tx_bytes"))
    block_read = block_write = 0
    for entry in _map(raw.get("blkio_stats")).get("io_service_bytes_recursive") or ():
        op = str(_map(entry).get("op") or "")[:1].lower()
        if op == "r":
            block_read += _int(_map(entry).get("value"))
        elif op == "w":
            block_write += _int(_map(entry).get("value"))
    return StatsSample(
        time=parse_timestamp(raw.get("read")),
        cpu_percent=_cpu_percent(raw),
        memory_used=used,
        memory_limit=limit,
        memory_percent=used / limit * 100.0 if limit else 0.0,
        net_rx=rx,
        net_tx=tx,
        block_read=block_read,
        block_write=block_write,
        pids=_int(_map(raw.get("pids_stats")).get("current")),
    )


async def stats(
    client: Engine, container_id: str, *, stream: bool = True, one_shot: bool = False
) -> AsyncIterator[StatsSample]:
    """Live stats: about one sample a second (Docker) or every 5 s (Podman).

    Ends when the container stops (Docker then sends zeroed samples, which are not
    passed on) or is removed.  ``stream=False`` yields one sample: on Docker after
    ~2 s so CPU % is a real delta; on Podman at once, with an empty previous reading.
    ``one_shot`` (only with ``stream=False``) asks Docker to answer at once too,
    at the price of an empty previous reading (the CPU % is then the average over
    the container's life, as ``docker stats`` would compute it from that answer).
    """
    if one_shot and stream:
        raise ValueError("one_shot needs stream=False (both engines answer 400 otherwise)")
    path = f"/containers/{container_id}/stats"
    if not stream:
        params: dict[str, Any] = {"stream": "false"}
        if one_shot:
            params["one-shot"] = "true"  # both engines reject it together with stream=true
        raw = await client.get_json(path, params)
        if isinstance(raw, Mapping) and parse_timestamp(raw.get("read")) is not None:
            yield sample_from_stats(raw)
        return
    try:
        async for raw in client.json_stream(path, {"stream": "true"}):
            if not isinstance(raw, Mapping):
                continue
            if parse_timestamp(raw.get("read")) is None:
                return  # Docker's way of saying the container is not running
            yield sample_from_stats(raw)
    except EngineUnreachable:
        if not await _container_gone(client, container_id):
            raise
