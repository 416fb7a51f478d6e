"""Big response bodies (image exports; later logs) read with big reads, not through httpx.

httpx is fine for API calls, but a body of hundreds of megabytes pays its
per-chunk cost (h11 events, httpcore and anyio layers, one copy per chunk) tens
of thousands of times: reading a 700 MB image export cost about 2.4 s of CPU
through httpx against 0.6 s with a plain socket.  :func:`open_body` sends one
HTTP/1.1 request on a connection of its own and reads the answer with an
:class:`asyncio.BufferedProtocol` that lets the kernel write straight into one
reused buffer; the body comes back as memoryviews of that buffer, so a chunk
is valid only until the next one is asked for.

It speaks to ``unix://`` and ``tcp://`` endpoints (TLS too, through asyncio's
own TLS); any other endpoint is read through httpx, as before.  Errors follow
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
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from engine._client import (
    STREAM_TIMEOUT,
    Engine,
    _clean_params,
    _connect_failure,
    _error_message,
    _ssl_context,
    _translate,
)
from engine._endpoint import Endpoint
from engine._errors import EngineUnreachable, error_for_status

__all__ = [
    "BodyReader",
    "ChunkedDecoder",
    "FramingError",
    "ResponseHead",
    "open_body",
    "parse_head",
]

#: The receive buffer: one big read per wake-up instead of many 64 kB ones.
BUFFER_SIZE = 1 << 20
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

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)
_HEX = frozenset(b"0123456789abcdefABCDEF")


class ChunkedDecoder:
    """Decodes a chunked body fed in any split; data comes back as views of the input, no copy.

    Chunk extensions and trailers are read and dropped.  :attr:`done` turns
    True after the last (zero-size) chunk and its trailers; bytes after that are
    ignored.  :meth:`close` raises :class:`FramingError` if the body was cut short.
    """

    def __init__(self) -> None:
        self._state = _SIZE
        self._remaining = 0
        self._line = bytearray()

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes | bytearray | memoryview) -> list[memoryview]:
        view = data if isinstance(data, memoryview) else memoryview(data)
        out: list[memoryview] = []
        pos, end = 0, len(view)
        while pos < end and self._state != _DONE:
            if self._state == _DATA:
                take = min(self._remaining, end - pos)
                out.append(view[pos:pos + take])
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state = _DATA_END
                continue
            # A line: the chunk size, the CRLF after the data, or a trailer.  Lines are
            # short, so a small window is copied to look for the newline.
            window = bytes(view[pos:min(end, pos + 256)])
            newline = window.find(b"\n")
            if newline < 0:
                self._line += window
                pos += len(window)
                if len(self._line) > _LINE_LIMIT:
                    raise FramingError("a chunk line is implausibly long")
                continue
            pos += newline + 1
            if self._line:  # the line began in an earlier piece
                self._line += window[:newline]
                line = bytes(self._line)
                self._line.clear()
            else:
                line = window[:newline]
            self._on_line(line[:-1] if line.endswith(b"\r") else line)
        return out

    def _on_line(self, line: bytes) -> None:
        if self._state == _SIZE:
            digits = line.split(b";", 1)[0].strip(b" \t")
            if not digits or len(digits) > 16 or not _HEX.issuperset(digits):
                raise FramingError(f"bad chunk size line {line[:40]!r}")
            size = int(digits, 16)
            if size:
                self._state, self._remaining = _DATA, size
            else:
                self._state = _TRAILER
        elif self._state == _DATA_END:
            if line:
                raise FramingError("chunk data is longer than its size line says")
            self._state = _SIZE
        elif not line:  # _TRAILER: the blank line ends the body
            self._state = _DONE

    def close(self) -> None:
        if self._state != _DONE:
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


def _lost(endpoint: Endpoint, detail: object) -> EngineUnreachable:
    """The same words the httpx path uses for a dropped or garbled connection."""
    return EngineUnreachable(f"the connection to {endpoint.url} was lost ({detail})", endpoint.url)


class BodyReader:
    """The body of one response, as memoryviews; each is valid only until the next is asked for."""

    def __init__(self, receiver: _Receiver, head: ResponseHead, first: memoryview,
                 endpoint: Endpoint) -> None:
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
            raise _lost(endpoint, exc) from exc
        self._pending: deque[memoryview] = deque(self._feed(first)) if first else deque()

    def _feed(self, data: memoryview) -> list[memoryview]:
        try:
            return self._decoder.feed(data)
        except FramingError as exc:
            raise _lost(self._endpoint, exc) from exc

    def __aiter__(self) -> BodyReader:
        return self

    async def __anext__(self) -> memoryview:
        while not self._pending:
            if self._decoder.done:
                raise StopAsyncIteration
            try:
                data = await self._receiver.read()
            except Exception as exc:  # whatever broke the transport (reset, TLS error)
                raise _lost(self._endpoint, exc) from exc
            if not data:
                try:
                    self._decoder.close()
                except FramingError as exc:
                    raise _lost(self._endpoint, exc) from exc
                raise StopAsyncIteration
            self._pending.extend(self._feed(data))
        return self._pending.popleft()

    async def read_all(self, limit: int) -> bytes:
        """The rest of the body as bytes, up to ``limit`` (for error messages)."""
        parts = bytearray()
        async for chunk in self:
            parts += chunk[:limit - len(parts)]
            if len(parts) >= limit:
                break
        return bytes(parts)


def supports(endpoint: Endpoint) -> bool:
    """Whether :func:`open_body` reads this endpoint itself (else it goes through httpx)."""
    return endpoint.scheme in ("unix", "tcp")


def _request_bytes(client: Engine, method: str, path: str, params: Mapping[str, Any] | None,
                   headers: Mapping[str, str] | None) -> bytes:
    url = httpx.URL(client._url(path), params=_clean_params(params))
    host = httpx.URL(client.endpoint.http_base).netloc.decode("ascii")
    fields = {"Host": host, "User-Agent": "dockyard", "Accept": "*/*", **(headers or {}),
              "Connection": "close"}
    lines = [f"{method} {url.raw_path.decode('ascii')} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _connect(endpoint: Endpoint) -> tuple[asyncio.Transport, _Receiver]:
    loop = asyncio.get_running_loop()
    receiver = _Receiver(BUFFER_SIZE)
    connect_timeout = STREAM_TIMEOUT.connect
    try:
        async with asyncio.timeout(connect_timeout):
            if endpoint.scheme == "unix":
                assert endpoint.socket_path is not None
                transport, _ = await loop.create_unix_connection(
                    lambda: receiver, endpoint.socket_path)
            else:
                url = httpx.URL(endpoint.http_base)
                port = url.port or (443 if url.scheme == "https" else 80)
                tls = _ssl_context(endpoint) if endpoint.tls is not None else None
                transport, _ = await loop.create_connection(
                    lambda: receiver, url.host, port, ssl=tls,
                    server_hostname=url.host if tls is not None else None)
    except TimeoutError as exc:
        raise EngineUnreachable(f"the engine at {endpoint.url} did not answer in time",
                                endpoint.url) from exc
    except OSError as exc:  # refused, missing socket, permission, TLS handshake
        raise _connect_failure(exc, endpoint) from exc
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
                raise _lost(endpoint, exc) from exc
            if 100 <= head.status < 200:
                buffered = bytearray(rest)
                continue
            return head, rest
        if len(buffered) > _HEAD_LIMIT:
            raise _lost(endpoint, "the response head is implausibly long")
        try:
            data = await receiver.read()
        except Exception as exc:  # whatever broke the transport (reset, TLS error)
            raise _lost(endpoint, exc) from exc
        if not data:
            detail = "no response" if not buffered else "the response head was cut short"
            raise _lost(endpoint, detail)
        buffered += data


@asynccontextmanager
async def open_body(
    client: Engine, method: str, path: str, *, params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[AsyncIterator[memoryview]]:
    """Send one bodiless request on a connection of its own; yields its body's chunks.

    An HTTP error raises the engine's exception for it before anything is
    yielded.  Leaving the block (finished, failed or cancelled) closes the
    connection at once.  Each chunk is valid only until the next is asked for.
    """
    if not supports(client.endpoint):
        async with client._stream(method, path, params=params, headers=headers) as response:
            yield _httpx_chunks(response, client.endpoint)
        return
    endpoint = client.endpoint
    transport, receiver = await _connect(endpoint)
    try:
        transport.write(_request_bytes(client, method, path, params, headers))
        head, rest = await _read_head(receiver, endpoint)
        body = BodyReader(receiver, head, rest, endpoint)
        if head.status >= 400:
            content = await body.read_all(_ERROR_BODY_LIMIT)
            error = httpx.Response(head.status, headers=list(head.headers), content=content)
            raise error_for_status(head.status, _error_message(error))
        yield body
    finally:
        transport.abort()


async def _httpx_chunks(response: httpx.Response, endpoint: Endpoint) -> AsyncIterator[memoryview]:
    with _translate(endpoint):
        async for chunk in response.aiter_raw():
            yield memoryview(chunk)

