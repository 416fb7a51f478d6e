"""A fault-injecting HTTP proxy on a Unix socket, in front of a real engine.

Everything the proxy does not fault is the real engine's answer: each request
is passed to the engine on a connection of its own (``Connection: close``
added, so one answer ends one connection, upgrades left alone) and piped back
byte for byte.  A request whose path matches the current :class:`Fault` gets a
hostile answer instead: a canned body of any shape and status, the real answer
trickled, cut short or reset mid-stream, no answer at all, or huge headers.

The proxy runs its own event loop in a thread, so a test can put it in front
of a ``dockyard doctor`` subprocess as well as in front of a Qt window, and
switch faults at any time (``proxy.fault = ...``; ``None`` makes it sound).
Only Unix sockets: nothing listens on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.waits import seconds

#: Nesting deeper than Python's recursion limit: a naive ``json.loads`` raises RecursionError.
DEEP_ARRAYS = b"[" * 100_000 + b"]" * 100_000

#: A 5 kB HTML error page, as a reverse proxy in front of a daemon sends.
HTML_ERROR_PAGE = (
    b"<html><head><title>500 Internal Server Error</title></head><body>\n"
    + b"<h1>Internal Server Error</h1>\n"
    + b"<p>The server encountered an internal error.</p>\n" * 100
    + b"</body></html>\n"
)


@dataclass(frozen=True)
class Fault:
    """What to do to requests whose path (without the query) matches ``path``.

    ``mode`` is one of:

    - ``"body"``: answer ``status`` with ``body`` (``content_type``) instead of the engine;
    - ``"trickle"``: the engine's real answer, one byte every ``interval`` seconds;
    - ``"hang"``: read the request, never answer (until the client hangs up);
    - ``"truncate"``: a ``Content-Length`` promising more than the ``body`` that is sent;
    - ``"reset"``: the engine's real answer, the connection reset after ``after`` bytes;
    - ``"huge_headers"``: an answer whose headers are ``size`` bytes long.
    """

    path: str
    mode: str
    body: bytes = b""
    status: int = 200
    content_type: str = "application/json"
    interval: float = 1.0
    after: int = 0
    size: int = 1 << 20

    def matches(self, target: str) -> bool:
        return re.search(self.path, target.partition("?")[0]) is not None


def json_body(path: str, value: object) -> Fault:
    """The engine's path answering ``value`` (any JSON shape) with 200."""
    return Fault(path, "body", json.dumps(value).encode())


def raw_body(path: str, body: bytes, status: int = 200,
             content_type: str = "application/json") -> Fault:
    return Fault(path, "body", body, status=status, content_type=content_type)


#: Every malformed answer where a JSON object is expected, by name (for parametrize).
MALFORMED_OBJECTS: dict[str, bytes] = {
    "invalid-json": b'{"Version": "20.10", ',
    "list": b"[1, 2, 3]",
    "string": b'"hello"',
    "null": b"null",
    "number": b"42",
    "deep-arrays": DEEP_ARRAYS,
    "wrong-field-types": b'{"Version": {"a": 1}, "ApiVersion": [1], "Components": 7}',
    "not-utf8": b'{"Version": "\xff\xfe"}',
}

#: Every malformed answer where a JSON list of objects is expected.
MALFORMED_LISTS: dict[str, bytes] = {
    "numbers": b"[1, 2, 3]",
    "string": b'"hello"',
    "null": b"null",
    "object": b'{"Id": "abc"}',
    "deep-arrays": DEEP_ARRAYS,
    "invalid-json": b"[{",
    "items-without-id": b'[{"Names": ["/x"]}]',
}


class FaultProxy:
    """``with FaultProxy(engine_socket, tmp_path / "proxy.sock") as proxy: ...``"""

    def __init__(self, target: str, listen: Path) -> None:
        self.target = target
        self.listen = listen
        self.fault: Fault | None = None
        #: How many requests matched a fault (a test can wait for its fault to be hit).
        self.hits = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="fault-proxy")
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._targets: dict[asyncio.StreamWriter, str] = {}  # open connection -> its request
        #: Every request's method and target, in arrival order (what a test counts).
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"unix://{self.listen}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def cut(self, path: str) -> int:
        """Reset, now, every open connection whose request path matches ``path`` (a regex),
        e.g. a followed log; returns how many were cut."""

        async def cut() -> int:
            hit = [writer for writer, target in self._targets.items()
                   if re.search(path, target.partition("?")[0])]
            for writer in hit:
                writer.transport.abort()
            return len(hit)

        return asyncio.run_coroutine_threadsafe(cut(), self._loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.listen), limit=1 << 24)

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        # A connection accepted just before the close starts its task a moment later:
        # cancel until none is left, so no task outlives the loop.
        for _round in range(10):
            pending = asyncio.all_tasks() - {asyncio.current_task()}
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            self.listen.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            target = request_line.split(" ")[1] if " " in request_line else ""
            self._targets[writer] = target
            self.requests.append(" ".join(request_line.split(" ")[:2]))
            fault = self.fault
            if fault is not None and fault.matches(target):
                self.hits += 1
                await self._misbehave(fault, head, reader, writer)
            else:
                await self._relay(head, reader, writer, None)
        except (ConnectionError, OSError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            pass
        finally:
            self._targets.pop(writer, None)
            self._writers.discard(writer)
            writer.transport.abort()

    async def _misbehave(self, fault: Fault, head: bytes, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        if fault.mode == "body":
            writer.write(_response(fault.status, fault.content_type, fault.body))
            await writer.drain()
        elif fault.mode == "truncate":
            writer.write(_response(fault.status, fault.content_type, fault.body,
                                   length=len(fault.body) + 1000))
            await writer.drain()
            writer.close()  # the promised rest never comes
            return
        elif fault.mode == "huge_headers":
            filler = b"X-Filler: " + b"a" * fault.size + b"\r\n"
            writer.write(b"HTTP/1.1 200 OK\r\n" + filler + b"Content-Length: 2\r\n\r\n{}")
            await writer.drain()
        elif fault.mode == "hang":
            await reader.read()  # silent until the client gives up
            return
        elif fault.mode in ("trickle", "reset"):
            await self._relay(head, reader, writer, fault)
            return
        else:
            raise ValueError(f"unknown fault mode {fault.mode!r}")
        # Let the client read the answer before the connection goes.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader.read(), seconds(30))

    async def _relay(self, head: bytes, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, fault: Fault | None) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        self._writers.add(up_writer)
        if b"upgrade" not in head.lower():
            head = _with_connection_close(head)
        up_writer.write(head)

        async def upstream() -> None:
            while data := await reader.read(65536):
                up_writer.write(data)
                await up_writer.drain()

        async def downstream() -> None:
            sent = 0
            while data := await up_reader.read(65536):
                if fault is not None and fault.mode == "trickle":
                    for index in range(len(data)):
                        writer.write(data[index:index + 1])
                        await writer.drain()
                        await asyncio.sleep(fault.interval)
                    continue
                if fault is not None and fault.mode == "reset" and sent + len(data) > fault.after:
                    writer.write(data[:fault.after - sent])
                    await writer.drain()
                    return
                writer.write(data)
                await writer.drain()
                sent += len(data)

        send = asyncio.ensure_future(upstream())
        try:
            await downstream()
        finally:
            send.cancel()
            self._writers.discard(up_writer)
            up_writer.transport.abort()


def _with_connection_close(head: bytes) -> bytes:
    lines = [line for line in head[:-4].split(b"\r\n")
             if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


def _response(status: int, content_type: str, body: bytes, length: int | None = None) -> bytes:
    reason = {200: "OK", 500: "Internal Server Error", 502: "Bad Gateway"}.get(status, "Status")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n"
            f"Api-Version: 1.41\r\nConnection: close\r\n\r\n").encode() + body


@contextlib.contextmanager
def fault_proxy(target: str, listen: Path) -> Iterator[FaultProxy]:
    with FaultProxy(target, listen) as proxy:
        yield proxy
