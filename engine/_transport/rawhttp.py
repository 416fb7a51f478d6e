"""Big response bodies (image exports, logs) read with big reads, not through httpx.

httpx is fine for API calls, but a body of hundreds of megabytes pays its
per-chunk cost (h11 events, httpcore and anyio layers, one copy per chunk) tens
of thousands of times: reading a 700 MB image export cost about 2.4 s of CPU
through httpx against 0.6 s with a plain socket.  :func:`open_body` sends one
HTTP/1.1 request on a connection of its own and reads the answer with an
:class:`asyncio.BufferedProtocol` that lets the kernel write straight into one
reused buffer; the body comes back as memoryviews of that buffer, so a chunk
is valid only until the next one is asked for.  :func:`open_body_bytes` is the
same read for bodies of many small chunks (logs): a read's worth de-chunked into
one ``bytes``, since a view (or any Python step) per 100-byte chunk costs more
than the bytes themselves.

It reads from whatever connection a transport opens (unix and tcp sockets, TLS
too through asyncio's own; see :class:`Connector`); a transport without one
reads big bodies through its streams instead.  Errors follow
the engine's exception tree exactly as the httpx path does: an HTTP error status
becomes :class:`~engine.NotFound` & co. before any body is handed out, a
refused or missing socket :class:`~engine.EngineUnreachable` (or
:class:`~engine.PermissionDenied`), and a connection that breaks or speaks
garbage mid-body :class:`~engine.EngineUnreachable` ("connection … lost").

:class:`ChunkedDecoder` and :func:`parse_head` are sans-IO, so the framing is
tested on its own (split at every byte) and reusable by other streams.
"""

from __future__ import annotations

import asyncio
import json as json_module
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode, urlsplit

from engine._endpoint import Endpoint
from engine._transport.base import (
    CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
    Params,
    Response,
    clean_params,
    connect_failure,
    lost,
    status_error,
    timed_out,
)

__all__ = [
    "BUFFER_SIZE",
    "BodyReader",
    "BytesReader",
    "ChunkedDecoder",
    "Connector",
    "FramingError",
    "ProtocolFactory",
    "ResponseHead",
    "open_body",
    "open_body_bytes",
    "parse_head",
    "request_bytes",
    "request_whole",
    "upload_file",
]

#: The receive buffer: one big read per wake-up instead of many 64 kB ones.
BUFFER_SIZE = 1 << 20
#: The read buffer of one API call (:func:`request_whole`): most answers are a few kB,
#: and a MiB zeroed per call costs more than the call's own parsing.
CALL_BUFFER_SIZE = 1 << 18
#: Stop reading from the socket when less than this is free (never hand out an empty buffer).
_MIN_FREE = 64 << 10
#: Status line plus headers; the engine's are a few hundred bytes.
_HEAD_LIMIT = 64 << 10
#: A chunk-size line or trailer line (with extensions) longer than this is not HTTP.
_LINE_LIMIT = 8 << 10
#: An error body is read whole for its message; the engine's are a line of JSON.
_ERROR_BODY_LIMIT = 1 << 20


class FramingError(ValueError):
    """The bytes are not the HTTP/1.1 the framing said (bad head, bad chunk line)."""


# -- sans-IO: the response head ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """Status line and headers of a response (names lower-cased, in order, repeats kept)."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str = "") -> str:
        """The last value of a header (``name`` lower-case), or ``default``."""
        for key, value in reversed(self.headers):
            if key == name:
                return value
        return default

    @property
    def chunked(self) -> bool:
        codings = [c.strip().lower() for c in self.get("transfer-encoding").split(",") if c.strip()]
        if codings not in ([], ["chunked"]):
            raise FramingError(f"unsupported transfer-encoding {self.get('transfer-encoding')!r}")
        return bool(codings)

    @property
    def content_length(self) -> int | None:
        text = self.get("content-length")
        if not text:
            return None
        values = {v.strip() for v in text.split(",")}
        if len(values) != 1 or not (value := values.pop()).isdigit():
            raise FramingError(f"unreadable content-length {text!r}")
        return int(value)


def parse_head(data: bytes) -> ResponseHead:
    """Parse a response head (everything before the blank line, with or without it)."""
    lines = data.split(b"\n")
    status_line = lines[0].rstrip(b"\r")
    version, _, rest = status_line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise FramingError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers: list[tuple[str, str]] = []
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        if not line:
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise FramingError(f"malformed header line {line[:80]!r}")
        headers.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
    return ResponseHead(int(code), reason.decode("latin-1"), tuple(headers))


# -- sans-IO: chunked transfer-encoding ---------------------------------------------------

#: A chunk's size line: hex digits only (``int()`` would also take ``0x3`` or ``+3``).
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
#: The end of a chunk's data and the next chunk's size line (no extensions), complete.
_NEXT_CHUNK = re.compile(rb"\r?\n([0-9a-fA-F]{1,16})\r?\n")
_LF = re.compile(rb"\n")


class ChunkedDecoder:
    """Undoes HTTP/1.1 chunked transfer-encoding fed in any split: the one chunked decoder.

    One state machine, two ways to take the data out, because the engine sends two
    shapes of body:

    - :meth:`feed` hands out views of the input, no copy: for big chunks (an image
      export is ~32 KiB chunks, hundreds of megabytes of them);
    - :meth:`feed_bytes` joins a feed's chunk data into one ``bytes``: for many small
      chunks (Docker flushes every log message as a ~100-byte chunk of its own, and a
      view or a call per chunk would cost more than decoding the lines).

    The usual step from the end of one chunk's data to the next chunk's data is one
    regular-expression match, so a small chunk costs a match and a slice.  Chunk
    extensions and trailers are read and dropped.  :attr:`done` turns True after the
    last (zero-size) chunk and its trailers; bytes after that are ignored.  A
    malformed size line raises :class:`FramingError`, as does :meth:`close` if the
    body was cut short.
    """

    def __init__(self) -> None:
        self._carry = b""  # an unfinished size line or line ending, kept for the next feed
        self._remaining = 0  # data of the current chunk still to come
        self._after_data = False  # the line ending after a chunk's data comes next
        self._trailers = False
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, data: bytes | bytearray | memoryview) -> list[memoryview]:
        """The chunk data in ``data``, as views of it (valid as long as ``data`` is).

        Only when a size line was split by the previous feed is the input copied.
        """
        if self._done:
            return []
        view = data if isinstance(data, memoryview) else memoryview(data)
        if self._carry:
            view = memoryview(self._carry + view)
        return self._decode(view)

    def feed_bytes(self, data: bytes | bytearray | memoryview) -> bytes:
        """The chunk data in ``data``, joined into one ``bytes``."""
        if self._done:
            return b""
        buf = self._carry + data if self._carry else bytes(data)
        return b"".join(self._decode(buf))

    def _decode(self, buf: Any) -> list[Any]:
        """Slices of ``buf`` (bytes or a memoryview) holding its chunk data, in order."""
        self._carry = b""
        out: list[Any] = []
        size_of_buf = len(buf)
        next_chunk = _NEXT_CHUNK.match
        pos = 0
        remaining = self._remaining
        while pos < size_of_buf:
            if remaining:
                take = min(remaining, size_of_buf - pos)
                out.append(buf[pos : pos + take])
                pos += take
                remaining -= take
                if remaining:
                    break
                self._after_data = True
                # The usual case in one step: the line ending and the next size line.
                found = next_chunk(buf, pos)
                if found is not None:
                    remaining = int(found.group(1), 16)
                    pos = found.end()
                    self._after_data = False
                    if remaining:
                        continue
                    self._trailers = True
            if self._after_data:
                ending = buf[pos : pos + 2]
                if ending == b"\r\n":
                    pos += 2
                elif ending[:1] == b"\n":
                    pos += 1
                elif ending == b"\r":
                    break  # the \n is in the next feed
                elif ending:
                    raise FramingError("chunk data is longer than its size line says")
                else:
                    break
                self._after_data = False
            newline = _LF.search(buf, pos, pos + _LINE_LIMIT + 1)
            if newline is None:
                if size_of_buf - pos > _LINE_LIMIT:
                    raise FramingError("a chunk line is implausibly long")
                break
            line = bytes(buf[pos : newline.start()])
            pos = newline.end()
            if self._trailers:
                if line in (b"", b"\r"):
                    self._done = True
                    break
                continue
            digits = line.split(b";", 1)[0].strip(b" \t\r")
            if _CHUNK_SIZE.fullmatch(digits) is None:
                raise FramingError(f"bad chunk size line {line[:40]!r}")
            remaining = int(digits, 16)
            if not remaining:
                self._trailers = True
        self._remaining = remaining
        if pos < size_of_buf and not self._done:
            self._carry = bytes(buf[pos:])
        return out

    def close(self) -> None:
        """Mark the end of the body; raise if it stopped before the last chunk."""
        if not self._done:
            raise FramingError("the chunked body ended before its last chunk")


class _LengthDecoder:
    """A body of a known length (``Content-Length``), or up to the end of the connection."""

    def __init__(self, length: int | None) -> None:
        self._remaining = length

    @property
    def done(self) -> bool:
        return self._remaining == 0

    def feed(self, data: memoryview) -> list[memoryview]:
        if self._remaining is None:
            return [data]
        take = min(self._remaining, len(data))
        self._remaining -= take
        return [data[:take]] if take else []

    def feed_bytes(self, data: memoryview) -> bytes:
        if self._remaining is None:
            return bytes(data)
        take = min(self._remaining, len(data))
        self._remaining -= take
        return bytes(data[:take])

    def close(self) -> None:
        if self._remaining:
            raise FramingError(f"the body ended {self._remaining} bytes short of its length")


# -- the socket -----------------------------------------------------------------------------


class _Receiver(asyncio.BufferedProtocol):
    """Lets the transport read straight into one buffer; the consumer takes all that is there.

    Reading pauses when the buffer is nearly full and resumes once the consumer
    has taken everything, so memory stays at one buffer however slow it is.
    """

    def __init__(self, size: int) -> None:
        self._buffer = bytearray(size)
        self._view = memoryview(self._buffer)
        self._start = 0
        self._end = 0
        self._paused = False
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view[self._end:]

    def buffer_updated(self, nbytes: int) -> None:
        self._end += nbytes
        if len(self._buffer) - self._end < _MIN_FREE and not self._paused:
            self._paused = True
            assert self.transport is not None
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake()
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None and self._error is None:
            self._error = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self) -> memoryview:
        """Everything received since the last call (valid until the next); empty at the end.

        Raises what broke the connection (an OSError, a TLS error), if something did.
        """
        if self._start == self._end:
            self._start = self._end = 0  # the consumer is done with the last view
            if self._paused and not self._eof:
                self._paused = False
                assert self.transport is not None
                self.transport.resume_reading()
            while self._start == self._end and not self._eof:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
        if self._start == self._end and self._error is not None:
            raise self._error
        chunk = self._view[self._start:self._end]
        self._start = self._end
        return chunk


class _Body:
    """What both readers share: the framing the head announced, reads, and error mapping."""

    def __init__(self, receiver: _Receiver, head: ResponseHead, endpoint: Endpoint) -> None:
        self.head = head
        self._receiver = receiver
        self._endpoint = endpoint
        self._decoder: ChunkedDecoder | _LengthDecoder
        try:
            if head.status in (204, 304):
                self._decoder = _LengthDecoder(0)
            elif head.chunked:
                self._decoder = ChunkedDecoder()
            else:
                self._decoder = _LengthDecoder(head.content_length)
        except FramingError as exc:
            raise lost(endpoint, exc) from exc

    async def _read(self) -> memoryview | None:
        """The next read off the socket (valid until the next), or None once the body is over.

        A body that stops before its framing says it is complete is a lost connection.
        """
        if self._decoder.done:
            return None
        try:
            data = await self._receiver.read()
        except Exception as exc:  # whatever broke the transport (reset, TLS error)
            raise lost(self._endpoint, exc) from exc
        if not data:
            try:
                self._decoder.close()
            except FramingError as exc:
                raise lost(self._endpoint, exc) from exc
            return None
        return data


class BodyReader(_Body):
    """The body of one response, as memoryviews; each is valid only until the next is asked for."""

    def __init__(self, receiver: _Receiver, head: ResponseHead, first: memoryview,
                 endpoint: Endpoint) -> None:
        super().__init__(receiver, head, endpoint)
        self._pending: deque[memoryview] = deque(self._feed(first)) if first else deque()

    def _feed(self, data: memoryview) -> list[memoryview]:
        try:
            return self._decoder.feed(data)
        except FramingError as exc:
            raise lost(self._endpoint, exc) from exc

    def __aiter__(self) -> BodyReader:
        return self

    async def __anext__(self) -> memoryview:
        while not self._pending:
            data = await self._read()
            if data is None:
                raise StopAsyncIteration
            self._pending.extend(self._feed(data))
        return self._pending.popleft()

    async def read_views(self) -> list[memoryview]:
        """All the body one socket read brought, as views (valid until the next call);
        ``[]`` at the end.  For writing a big body out with one ``writev`` per read."""
        if self._pending:
            views = list(self._pending)
            self._pending.clear()
            return views
        while True:
            data = await self._read()
            if data is None:
                return []
            if views := self._feed(data):
                return views

    async def read_all(self, limit: int) -> bytes:
        """The rest of the body as bytes, up to ``limit`` (for error messages)."""
        parts = bytearray()
        async for chunk in self:
            parts += chunk[:limit - len(parts)]
            if len(parts) >= limit:
                break
        return bytes(parts)


class BytesReader(_Body):
    """The body of one response as ``bytes``: each read's data de-chunked in one go.

    A read is decoded at most ``piece`` bytes at a time, so a consumer that checks the
    clock between items (a log view keeping the event loop responsive) gets to.
    """

    def __init__(self, receiver: _Receiver, head: ResponseHead, first: memoryview,
                 endpoint: Endpoint, piece: int) -> None:
        super().__init__(receiver, head, endpoint)
        self._data = first
        self._pos = 0
        self._piece = piece

    def __aiter__(self) -> BytesReader:
        return self

    async def __anext__(self) -> bytes:
        while True:
            while self._pos < len(self._data):
                part = self._data[self._pos : self._pos + self._piece]
                self._pos += len(part)
                try:
                    out = self._decoder.feed_bytes(part)
                except FramingError as exc:
                    raise lost(self._endpoint, exc) from exc
                if out:
                    return out
            data = await self._read()
            if data is None:
                raise StopAsyncIteration
            self._data, self._pos = data, 0


#: Makes the protocol a new connection feeds.
ProtocolFactory = Callable[[], asyncio.BufferedProtocol]
#: Opens a connection whose bytes go to the protocol the factory makes (a unix or tcp socket).
Connector = Callable[[ProtocolFactory], Awaitable[asyncio.BaseTransport]]


#: What stays as it is in a request's path (RFC 3986 pchar and "/"; "%" keeps escapes).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def _query_value(value: Any) -> str:
    """A query value as httpx wrote it: booleans as ``true``/``false``."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def request_bytes(endpoint: Endpoint, method: str, path: str, params: Params | None,
                  headers: Mapping[str, str] | None, length: int | None = None, *,
                  http10: bool = False) -> bytes:
    """A bodiless HTTP/1.1 request for ``path`` (already versioned), closing after the answer.

    ``http10``: say HTTP/1.0, so that the answer cannot be chunked (see
    :func:`open_body_bytes`)."""
    target = quote(path, safe=_PATH_SAFE)
    if pairs := clean_params(params):
        target += "?" + urlencode([(k, _query_value(v)) for k, v in pairs])
    host = urlsplit(endpoint.http_base).netloc
    fields = {"Host": host, "User-Agent": "dockyard", "Accept": "*/*", **(headers or {}),
              "Connection": "close"}
    if length is not None:
        fields["Content-Length"] = str(length)
    lines = [f"{method} {target} HTTP/1.{0 if http10 else 1}"]
    lines += [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _connect(connect: Connector, endpoint: Endpoint, buffer_size: int = BUFFER_SIZE
                   ) -> tuple[asyncio.Transport, _Receiver]:
    receiver = _Receiver(buffer_size)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            transport = await connect(lambda: receiver)
    except TimeoutError as exc:
        raise timed_out(endpoint) from exc
    except OSError as exc:  # refused, missing socket, permission, TLS handshake
        raise connect_failure(exc, endpoint) from exc
    assert isinstance(transport, asyncio.Transport)
    return transport, receiver


async def _read_head(receiver: _Receiver, endpoint: Endpoint) -> tuple[ResponseHead, memoryview]:
    """The response head, skipping interim 1xx answers; returns the bytes after it too."""
    buffered = bytearray()
    while True:
        end = buffered.find(b"\r\n\r\n")
        if end >= 0:
            head_bytes, rest = bytes(buffered[:end]), memoryview(bytes(buffered[end + 4:]))
            try:
                head = parse_head(head_bytes)
            except FramingError as exc:
                raise lost(endpoint, exc) from exc
            if 100 <= head.status < 200:
                buffered = bytearray(rest)
                continue
            return head, rest
        if len(buffered) > _HEAD_LIMIT:
            raise lost(endpoint, "the response head is implausibly long")
        try:
            data = await receiver.read()
        except Exception as exc:  # whatever broke the transport (reset, TLS error)
            raise lost(endpoint, exc) from exc
        if not data:
            detail = "no response" if not buffered else "the response head was cut short"
            raise lost(endpoint, detail)
        buffered += data


@asynccontextmanager
async def _exchange(
    connect: Connector, endpoint: Endpoint, request: bytes,
) -> AsyncIterator[tuple[_Receiver, ResponseHead, memoryview]]:
    """One request on a connection of its own: the receiver, the head, the bytes after it.

    An error status is raised as the engine's exception here; the connection is
    aborted when the block is left, however.
    """
    transport, receiver = await _connect(connect, endpoint)
    try:
        transport.write(request)
        head, rest = await _read_head(receiver, endpoint)
        if head.status >= 400:
            content = await BodyReader(receiver, head, rest, endpoint).read_all(_ERROR_BODY_LIMIT)
            raise status_error(head.status, head.reason, dict(head.headers), content)
        yield receiver, head, rest
    finally:
        transport.abort()


@asynccontextmanager
async def open_body(
    connect: Connector, endpoint: Endpoint, method: str, path: str, *,
    params: Params | None = None, headers: Mapping[str, str] | None = None,
) -> AsyncIterator[AsyncIterator[memoryview]]:
    """Send one bodiless request on a connection of its own; yields its body's chunks.

    For bodies of big chunks (image exports): the chunks are views of the receive
    buffer, no copy, so each is valid only until the next is asked for.  An HTTP
    error raises the engine's exception for it before anything is yielded.  Leaving
    the block (finished, failed or cancelled) closes the connection at once.
    """
    request = request_bytes(endpoint, method, path, params, headers)
    async with _exchange(connect, endpoint, request) as (receiver, head, rest):
        yield BodyReader(receiver, head, rest, endpoint)


@asynccontextmanager
async def open_body_bytes(
    connect: Connector, endpoint: Endpoint, method: str, path: str, *,
    params: Params | None = None, headers: Mapping[str, str] | None = None,
    piece: int = BUFFER_SIZE, unchunked: bool = False,
) -> AsyncIterator[AsyncIterator[bytes]]:
    """:func:`open_body` for bodies of many small chunks (logs): ``bytes`` a read at a time.

    Each item is the data of up to ``piece`` bytes of one read, de-chunked in one go
    (:meth:`ChunkedDecoder.feed_bytes`), and is the caller's to keep.  Errors and
    closing are as for :func:`open_body`.

    ``unchunked``: ask in HTTP/1.0, which has no chunked encoding, so the engine (Go's
    net/http, Docker and Podman alike) sends the body as it is, up to the end of the
    connection.  Docker flushes every log line as a chunk of its own; undoing 200k of
    them was a third of loading a 200k-line log (issue 18).  The price: a connection
    that ends cleanly mid-body reads as the body's end (a reset is still an error), so
    only for a body read to its end, never a followed one (whose cut must be told from
    its end).
    """
    request = request_bytes(endpoint, method, path, params, headers, http10=unchunked)
    async with _exchange(connect, endpoint, request) as (receiver, head, rest):
        yield BytesReader(receiver, head, rest, endpoint, piece)


#: One ``sendfile`` call's share of an upload: progress is reported between them.
SENDFILE_SLICE = 16 << 20


@asynccontextmanager
async def upload_file(
    connect: Connector, endpoint: Endpoint, method: str, path: str, *, source: BinaryIO,
    length: int, params: Params | None = None, headers: Mapping[str, str] | None = None,
    sent: Callable[[int], None] | None = None,
) -> AsyncIterator[AsyncIterator[bytes]]:
    """Send a file as the body on a connection of its own, with ``sendfile``; yields the
    answer's body as ``bytes`` (a JSON progress stream).

    The kernel copies the file to the socket (asyncio falls back to reads and writes
    where it cannot, as over TLS), so a big image archive costs next to no CPU here.
    A daemon that refuses early (and closes) is heard: its answer is read for the
    error.  Leaving the block closes the connection.
    """
    request = request_bytes(endpoint, method, path, params, headers, length)
    transport, receiver = await _connect(connect, endpoint)
    loop = asyncio.get_running_loop()
    try:
        transport.write(request)
        offset = source.tell()
        done = 0
        try:
            while done < length:
                count = min(SENDFILE_SLICE, length - done)
                await loop.sendfile(transport, source, offset + done, count)
                done += count
                if sent is not None:
                    sent(done)
        except OSError as exc:  # refused mid-body: the answer says why, if there is one
            failure: OSError | None = exc
        else:
            failure = None
        try:
            head, rest = await _read_head(receiver, endpoint)
        except Exception as exc:
            if failure is not None:
                raise lost(endpoint, failure) from failure
            raise exc
        if head.status >= 400:
            content = await BodyReader(receiver, head, rest, endpoint).read_all(_ERROR_BODY_LIMIT)
            raise status_error(head.status, head.reason, dict(head.headers), content)
        if failure is not None:
            raise lost(endpoint, failure) from failure
        yield BytesReader(receiver, head, rest, endpoint, BUFFER_SIZE)
    finally:
        transport.abort()


async def request_whole(
    connect: Connector, endpoint: Endpoint, method: str, path: str, *,
    params: Params | None = None, json: Any = None, content: bytes | None = None,
    headers: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT,
) -> Response:
    """One request on a connection of its own and its whole answer, whatever its status.

    For API calls on a local socket, where a connection costs a ``connect(2)``: no
    connection pool, no httpx, httpcore and anyio to import (a third of a headless
    command's start-up).  Errors are the engine's, as everywhere in this module; the
    whole exchange is bounded by ``timeout`` seconds.
    """
    fields = dict(headers or {})
    if json is not None:
        content = json_module.dumps(json).encode()
        fields.setdefault("Content-Type", "application/json")
    length = len(content) if content is not None else (0 if method in _BODY_METHODS else None)
    request = request_bytes(endpoint, method, path, params, fields, length)
    try:
        async with asyncio.timeout(timeout):
            transport, receiver = await _connect(connect, endpoint, CALL_BUFFER_SIZE)
            try:
                transport.write(request + content if content else request)
                head, rest = await _read_head(receiver, endpoint)
                if method == "HEAD":  # the length a GET would have, and no body
                    body = b""
                else:
                    body = bytes(await BodyReader(receiver, head, rest, endpoint)
                                 .read_all(_WHOLE_LIMIT))
            finally:
                transport.abort()
    except TimeoutError as exc:
        raise timed_out(endpoint) from exc
    return Response(head.status, head.reason, dict(head.headers), body)


#: Methods whose request carries a (possibly empty) body: say its length, as httpx does.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: An API answer held whole in memory; far above any list the engine sends.
_WHOLE_LIMIT = 1 << 34
