"""Container logs: the whole log in bulk reads, or followed, decoded into lines and batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine._client import Engine
from engine._decoders import (
    TIMESTAMP_PREFIX,
    FrameDecoder,
    LogBatch,
    LogDecoder,
    StreamKind,
)
from engine._errors import (
    EngineUnreachable,
    NotFound,
    ServerError,
)
from engine._models import parse_timestamp

#: How long reading a log may go on without letting the event loop in.  Short: the
#: daemon blocks once its socket buffer holds a few hundred small messages, so a
#: follow keeps up only if the socket is read every few milliseconds.
_SLICE = 0.003
#: A read of a log body is decoded this much at a time (~700 lines of a busy log).
_PIECE = 64 << 10
#: The end-of-transmission byte a TTY's line discipline turns into EOF (Ctrl-D).



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
    #: The ``timestamps`` prefix as the daemon wrote it, to the nanosecond (``timestamp``
    #: keeps microseconds): :func:`log_since` turns it into an exact ``since``.
    stamp: bytes | None = None


#: A log's ``since``: Unix seconds, as a float, or as a :class:`~decimal.Decimal` to the
#: nanosecond (a float holds a log timestamp only to ~0.2 µs, so a float ``since`` taken
#: from a line's timestamp can land after it and drop that line; see :func:`log_since`).
Since = float | Decimal


def _since_param(since: Since | None) -> str | None:
    # The daemon reads "<seconds>.<nanoseconds>"; repr of a float would say 1e9.  A
    # Decimal formats exactly, a float to the nanosecond it rounds to.
    return None if since is None else f"{since:.9f}"


def log_since(stamp: bytes | str | None) -> Decimal | None:
    """The ``since`` that starts a log read exactly at the line with this ``timestamps`` prefix.

    The daemon sends every line at or after ``since``, compared to the nanosecond, so
    this includes that line (and any other with the very same time).  None for a
    prefix that is not RFC 3339.
    """
    text = stamp.decode("ascii", "replace") if isinstance(stamp, bytes) else stamp or ""
    match = _STAMP.fullmatch(text)
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    seconds = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone)).timestamp()
    return Decimal(int(seconds)) + Decimal(f"0.{(fraction or '0')[:9]}")


_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def _logs_params(*, follow: bool, stdout: bool, stderr: bool, timestamps: bool,
                 tail: int | None, since: Since | None) -> dict[str, Any]:
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
    # A log read to its end comes unchunked (HTTP/1.0): Docker sends each line as a chunk
    # of its own, and undoing 200k of them was a third of loading such a log (issue 18).
    # A followed log stays chunked: there the framing tells a cut from the end.
    return client.open_body_bytes("GET", f"/containers/{container_id}/logs",
                                  params=params, piece=_PIECE,
                                  unchunked=not params["follow"])


async def logs(
    client: Engine,
    container_id: str,
    *,
    follow: bool = False,
    stdout: bool = True,
    stderr: bool = True,
    timestamps: bool = False,
    tail: int | None = None,
    since: Since | None = None,
    tty: bool | None = None,
) -> AsyncIterator[LogChunk]:
    """A container's output as it arrives, stdout and stderr told apart.

    ``tty`` says whether the container has a TTY (its output is then one raw stream,
    reported as STDOUT); when ``None`` the container is inspected to find out.
    ``tail`` counts lines across both streams; ``since`` is Unix seconds (see
    :data:`Since`: a Decimal keeps a line's nanoseconds).  With
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
        if not await container_gone(client, container_id):
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
    since: Since | None = None,
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
        if not await container_gone(client, container_id):
            raise
        rest = decoder.flush()
    else:
        rest = decoder.close()
    if rest.lines:
        yield rest


async def container_gone(client: Engine, container_id: str) -> bool:
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
    since: Since | None = None,
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
                          None if stamp is None else log_timestamp(stamp), stamp)
