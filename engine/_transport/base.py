"""What every transport offers :class:`~engine.Engine`: four ways to talk HTTP to an engine.

A transport carries HTTP/1.1 to one endpoint and knows nothing of the Engine API
(paths come versioned, errors are only mapped as far as the wire goes).  It offers
exactly:

- :meth:`Transport.request`: one request, the whole answer in memory;
- :meth:`Transport.stream`: one request, the answer's body as it comes (events,
  pull and build progress, followed logs); closing the block drops the connection;
- :meth:`Transport.open_body` / :meth:`Transport.open_body_bytes`: a big bodiless
  GET read with whole reads (image exports, full logs).  The default here reads
  through :meth:`stream`; a transport with a socket of its own does better;
- :meth:`Transport.upgrade`: a request answered ``101`` whose connection becomes a
  two-way byte stream (exec and attach);
- :meth:`Transport.upload_file`: a big file as a request's body (an image archive
  to load); the default sends it through :meth:`stream`, a transport with a socket
  of its own with ``sendfile``.

Connect failures, timeouts and dropped connections raise the engine's own
exceptions (:class:`~engine.EngineUnreachable` & co.), never a library's.  A new
kind of endpoint (ssh://) is one more module with one more subclass, chosen in
:func:`engine._transport.connect`.
"""

from __future__ import annotations

import errno
import json
import ssl
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from engine._endpoint import Endpoint
from engine._errors import (
    APIError,
    EngineUnreachable,
    PermissionDenied,
    TLSError,
    error_for_status,
)
from engine._threads import in_thread

#: Connecting is quick or it does not happen; reads have their own timeouts.
CONNECT_TIMEOUT = 5.0
#: Ordinary calls; long ones (stop, remove, df) pass their own.
DEFAULT_TIMEOUT = 30.0

#: The read size of an upload sent through :meth:`Transport.stream`.
UPLOAD_CHUNK = 4 << 20

#: Query parameters: a mapping (``None`` values dropped) or pairs (repeated keys kept).
Params = Mapping[str, Any] | Sequence[tuple[str, Any]]
#: A request body: bytes, or chunks sent as they come (a build context).
Content = bytes | AsyncIterable[bytes]


def clean_params(params: Params | None) -> list[tuple[str, Any]] | None:
    """The query as pairs, without the ``None`` values (an option not given)."""
    if not params:
        return None
    pairs = params.items() if isinstance(params, Mapping) else params
    return [(k, v) for k, v in pairs if v is not None]


def error_message(status: int, reason: str, headers: Mapping[str, str], body: bytes) -> str:
    """The daemon's own message: JSON ``message`` (Docker, Podman) or the plain text body."""
    if "json" in headers.get("content-type", ""):
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, Mapping) and data.get("message"):
            return str(data["message"]).strip()
    text = body.decode("utf-8", "replace").strip()
    return text or f"HTTP {status} {reason}"


def status_error(status: int, reason: str, headers: Mapping[str, str], body: bytes) -> APIError:
    """The engine's exception for an error answer (``NotFound`` for 404 & co.)."""
    return error_for_status(status, error_message(status, reason, headers, body))


def lost(endpoint: Endpoint, detail: object) -> EngineUnreachable:
    """A connection that dropped or spoke garbage mid-answer: the same words everywhere.

    A TLS alert read after the handshake (TLS 1.3 checks the client certificate
    only then) is no lost connection: it says the same as at connect time.
    """
    if isinstance(detail, BaseException):
        tls_error = _ssl_error(detail)
        if tls_error is not None and (tls_error.reason or "").endswith(_CLIENT_CERT_ALERTS):
            return tls_failure(tls_error, endpoint) or TLSError(str(tls_error), endpoint.url)
    return EngineUnreachable(f"the connection to {endpoint.url} was lost ({detail})", endpoint.url)


def timed_out(endpoint: Endpoint) -> EngineUnreachable:
    return EngineUnreachable(f"the engine at {endpoint.url} did not answer in time", endpoint.url)


def _os_errno(exc: BaseException) -> int | None:
    """The errno of the OSError at the root of an exception chain, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return current.errno
        current = current.__cause__ or current.__context__
    return None


#: OpenSSL's reasons for an alert the engine sent about our client certificate.
_CLIENT_CERT_ALERTS = ("ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_EXPIRED",
                       "ALERT_CERTIFICATE_REQUIRED", "ALERT_UNKNOWN_CA",
                       "ALERT_CERTIFICATE_UNKNOWN", "ALERT_UNSUPPORTED_CERTIFICATE")


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The ``ssl.SSLError`` in ``exc``'s chain of causes, if there is one."""
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def tls_failure(exc: BaseException, endpoint: Endpoint) -> TLSError | None:
    """The one-line message for a TLS failure anywhere in ``exc``'s chain, else None.

    Three cases a user can act on: the engine's certificate did not verify (wrong
    CA, expired, wrong host), the engine refused ours (expired, or signed by a CA
    it does not trust), or the other side does not speak TLS at all.
    """
    where = endpoint.socket_path or endpoint.url
    tls_error = _ssl_error(exc)
    if isinstance(tls_error, ssl.SSLCertVerificationError):
        why = tls_error.verify_message or tls_error.reason or str(tls_error)
        return TLSError(
            f"TLS certificate verification failed: the TLS certificate of the engine at {where}"
            f" was not trusted ({why})", endpoint.url)
    if tls_error is None:
        return None
    reason = tls_error.reason or ""
    if reason.endswith(_CLIENT_CERT_ALERTS):
        why = reason.rpartition("ALERT_")[2].replace("_", " ").lower()
        return TLSError(
            f"the engine at {where} refused our TLS client certificate ({why}): it may have"
            " expired, or not be signed by a CA the engine trusts", endpoint.url)
    if reason == "WRONG_VERSION_NUMBER":
        return TLSError(
            f"the TLS handshake with {where} failed: it does not speak TLS (a plain tcp://"
            " port? then leave out the TLS settings)", endpoint.url)
    return TLSError(
        f"the TLS handshake with {where} failed ({reason or tls_error})", endpoint.url)


def connect_failure(exc: BaseException, endpoint: Endpoint) -> EngineUnreachable:
    """The engine's exception for a failed connect (a library's connect error or an OSError).

    TLS failures are looked for first: an ``ssl.SSLError`` is an OSError whose errno
    is OpenSSL's (1 for any handshake failure), not the OS's, and errno 1 read as
    EPERM would tell a user with an untrusted certificate that they lack permission.
    """
    where = endpoint.socket_path or endpoint.url
    refused = tls_failure(exc, endpoint)
    if refused is not None:
        return refused
    code = _os_errno(exc)
    if code in (errno.EACCES, errno.EPERM):
        return PermissionDenied(
            f"permission denied on {where}: this user may not talk to the engine", endpoint.url
        )
    if code == errno.ENOENT:
        return EngineUnreachable(f"no socket at {where}", endpoint.url)
    if code == errno.ECONNREFUSED:
        return EngineUnreachable(f"connection refused at {where} (is the daemon running?)",
                                 endpoint.url)
    return EngineUnreachable(f"cannot connect to {where}: {exc}", endpoint.url)


@dataclass(frozen=True, slots=True)
class Response:
    """A whole answer: status, headers (names lower-cased) and body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        """The body as JSON; raises ``ValueError`` when it is not."""
        return json.loads(self.content)


class StreamedResponse(ABC):
    """An answer whose body is read as it arrives; valid inside :meth:`Transport.stream`."""

    status: int
    reason: str
    headers: Mapping[str, str]

    @abstractmethod
    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's bytes as they come (transfer-decoded, nothing else)."""

    async def read(self) -> bytes:
        """The rest of the body (for an error's message)."""
        return b"".join([chunk async for chunk in self.aiter_bytes()])


class Upgraded(ABC):
    """The two-way byte stream an upgraded (``101``) connection became.

    :meth:`read` and :meth:`write` raise :class:`~engine.EngineUnreachable` when
    the connection breaks; :meth:`read` returns ``b""`` at its end.
    """

    @abstractmethod
    async def read(self, max_bytes: int) -> bytes: ...

    @abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abstractmethod
    def shutdown_write(self) -> None:
        """Half-close: the other side reads end-of-file, its output keeps coming."""

    @abstractmethod
    async def aclose(self) -> None: ...


class Transport(ABC):
    """HTTP/1.1 to one endpoint (see the module's docstring for the four ways)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    @abstractmethod
    async def request(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None,
        content: bytes | None = None, headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Response:
        """One request and its whole answer, whatever its status, within ``timeout`` s."""

    @abstractmethod
    def stream(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None,
        content: Content | None = None, headers: Mapping[str, str] | None = None,
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """One request; its answer, whatever its status, with the body still to come.

        No read timeout: a stream stays open as long as the daemon has something to
        say, however quiet.  Leaving the block closes the connection (that is how a
        stream is cancelled).
        """

    @abstractmethod
    async def upgrade(
        self, method: str, path: str, *, json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Response, Upgraded | None]:
        """Ask for a ``101`` upgrade; the answer, and the stream when it was upgraded.

        When the status is not 101 the body is read whole and no stream is given.
        """

    @asynccontextmanager
    async def open_body(
        self, method: str, path: str, *, params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[AsyncIterator[memoryview]]:
        """A big body as chunks; each may be valid only until the next is asked for.

        An error status raises the engine's exception before anything is yielded;
        leaving the block closes the connection at once.  This default reads
        through :meth:`stream`.
        """
        async with self._checked_stream(method, path, params, headers) as response:
            yield _views(response.aiter_bytes())

    @asynccontextmanager
    async def open_body_bytes(
        self, method: str, path: str, *, params: Params | None = None,
        headers: Mapping[str, str] | None = None, piece: int = 1 << 20,
        unchunked: bool = False,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """:meth:`open_body` for bodies of many small chunks (logs): ``bytes``, the caller's.

        ``piece`` bounds how much one item decodes (a hint; the default ignores it).
        ``unchunked``: ask for the body without chunked encoding where the transport can
        (HTTP/1.0; a hint: a clean close mid-body then reads as its end, so only for a
        body read to its end, never a followed one).
        """
        async with self._checked_stream(method, path, params, headers) as response:
            yield response.aiter_bytes()

    @asynccontextmanager
    async def upload_file(
        self, method: str, path: str, *, source: BinaryIO, length: int,
        params: Params | None = None, headers: Mapping[str, str] | None = None,
        sent: Callable[[int], None] | None = None,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """Send ``length`` bytes of an open file as the body; yields the answer's body.

        For big uploads (an image archive to load): ``sent`` is told the bytes sent
        so far.  An error status raises the engine's exception before anything is
        yielded.  This default reads the file in big chunks through :meth:`stream`;
        a transport with a socket of its own sends it with ``sendfile``.
        """

        async def chunks() -> AsyncIterator[bytes]:
            done = 0
            while done < length:
                chunk = await in_thread(source.read, min(UPLOAD_CHUNK, length - done))
                if not chunk:
                    break
                done += len(chunk)
                yield chunk
                if sent is not None:
                    sent(done)

        fields = {**(headers or {}), "Content-Length": str(length)}
        async with self.stream(method, path, params=params, content=chunks(),
                               headers=fields) as response:
            if response.status >= 400:
                body = await response.read()
                raise status_error(response.status, response.reason, response.headers, body)
            yield response.aiter_bytes()

    @asynccontextmanager
    async def _checked_stream(
        self, method: str, path: str, params: Params | None, headers: Mapping[str, str] | None,
    ) -> AsyncIterator[StreamedResponse]:
        async with self.stream(method, path, params=params, headers=headers) as response:
            if response.status >= 400:
                body = await response.read()
                raise status_error(response.status, response.reason, response.headers, body)
            yield response

    @abstractmethod
    async def aclose(self) -> None:
        """Close every pooled connection."""


async def _views(chunks: AsyncIterator[bytes]) -> AsyncIterator[memoryview]:
    async for chunk in chunks:
        yield memoryview(chunk)
