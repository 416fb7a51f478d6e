"""What the unix and tcp transports share: httpx for API calls and streams, sockets for bulk.

httpx (one pooled ``AsyncClient``) carries requests, streams and the ``101``
upgrade; big bodies go over a socket of their own through :mod:`.rawhttp`.  A
subclass says how to reach its endpoint twice: as an httpx transport and as an
asyncio connection.  httpx's exceptions never leave this module.

httpx (with httpcore and anyio) is imported when the first client is made, not with
this module; a transport with :attr:`HTTPTransport.one_shot_requests` (the local
socket) sends plain API calls through :mod:`.rawhttp` instead, so a headless command
that only asks and reads never imports httpx at all (issue 18: start-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO

from engine._endpoint import Endpoint
from engine._errors import ProtocolError
from engine._transport import rawhttp
from engine._transport.base import (
    CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
    Content,
    Params,
    Response,
    StreamedResponse,
    Transport,
    Upgraded,
    clean_params,
    connect_failure,
    lost,
    timed_out,
)

if TYPE_CHECKING:
    import httpcore
    import httpx

#: Every followed stream (events, logs, stats) holds a connection of its own.
MAX_CONNECTIONS, MAX_KEEPALIVE = 64, 8


@contextmanager
def translate(endpoint: Endpoint) -> Iterator[None]:
    """Turn httpx's transport errors into the engine's exception tree."""
    import httpx

    try:
        yield
    except httpx.ConnectError as exc:
        raise connect_failure(exc, endpoint) from exc
    except httpx.TimeoutException as exc:
        raise timed_out(endpoint) from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise lost(endpoint, exc) from exc
    except httpx.DecodingError as exc:
        raise ProtocolError(str(exc)) from exc
    except ssl.SSLError as exc:  # an alert after the handshake passes httpx by (TLS 1.3)
        raise lost(endpoint, exc) from exc


def _response(response: httpx.Response) -> Response:
    return Response(response.status_code, response.reason_phrase, response.headers,
                    response.content)


class _Streamed(StreamedResponse):
    def __init__(self, response: httpx.Response, endpoint: Endpoint) -> None:
        self.status = response.status_code
        self.reason = response.reason_phrase
        self.headers = response.headers
        self._response = response
        self._endpoint = endpoint

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        with translate(self._endpoint):
            async for chunk in self._response.aiter_raw():
                yield chunk


class _Upgraded(Upgraded):
    """The network stream httpcore hands over after a ``101``."""

    def __init__(self, response: httpx.Response, stream: httpcore.AsyncNetworkStream,
                 endpoint: Endpoint) -> None:
        self._response = response
        self._stream = stream
        self._endpoint = endpoint

    async def read(self, max_bytes: int) -> bytes:
        import httpcore

        try:
            return await self._stream.read(max_bytes)
        except httpcore.NetworkError as exc:
            raise lost(self._endpoint, exc) from exc

    async def write(self, data: bytes) -> None:
        import httpcore

        try:
            await self._stream.write(data)
        except httpcore.NetworkError as exc:
            raise lost(self._endpoint, exc) from exc

    def shutdown_write(self) -> None:
        write_eof = self._stream.get_extra_info("write_eof")  # a stream that is no socket (ssh)
        if write_eof is not None:
            with contextlib.suppress(Exception):  # already closed: nothing to end
                write_eof()
            return
        sock = self._stream.get_extra_info("socket")
        if sock is None:
            raise ProtocolError("this connection cannot be half-closed")
        with contextlib.suppress(OSError):  # already closed by the daemon: nothing to end
            sock.shutdown(socket.SHUT_WR)

    async def aclose(self) -> None:
        import httpcore

        with contextlib.suppress(httpcore.NetworkError, OSError):
            await self._stream.aclose()
        await self._response.aclose()


class HTTPTransport(Transport):
    """httpx for calls, streams and upgrades; a raw socket for big bodies."""

    #: Plain API calls on a connection of their own through :mod:`.rawhttp`, not httpx's
    #: pool: for a local socket, where connecting costs one ``connect(2)``.
    one_shot_requests = False

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(endpoint)
        self._httpx_client: httpx.AsyncClient | None = None
        #: One-shot calls at once, at most as many as httpx's pool would open: a fan-out
        #: (an inspect per container) must not open hundreds of sockets together.
        self._one_shot_gate = asyncio.Semaphore(MAX_CONNECTIONS)

    @property
    def _http(self) -> httpx.AsyncClient:
        """The pooled httpx client, made (and httpx imported) on first use."""
        if self._httpx_client is None:
            import httpx

            limits = httpx.Limits(max_connections=MAX_CONNECTIONS,
                                  max_keepalive_connections=MAX_KEEPALIVE)
            self._httpx_client = httpx.AsyncClient(
                transport=self.httpx_transport(limits), base_url=self.endpoint.http_base,
                timeout=httpx.Timeout(DEFAULT_TIMEOUT, connect=CONNECT_TIMEOUT),
            )
        return self._httpx_client

    @abstractmethod
    def httpx_transport(self, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
        """The httpx transport that reaches the endpoint."""

    @abstractmethod
    async def open_connection(
        self, protocol_factory: rawhttp.ProtocolFactory
    ) -> asyncio.BaseTransport:
        """A new asyncio connection to the endpoint, feeding the factory's protocol."""

    async def request(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None,
        content: bytes | None = None, headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Response:
        if self.one_shot_requests:
            async with self._one_shot_gate:
                return await rawhttp.request_whole(
                    self.open_connection, self.endpoint, method, path, params=params,
                    json=json, content=content, headers=headers, timeout=timeout)
        import httpx

        with translate(self.endpoint):
            response = await self._http.request(
                method, path, params=clean_params(params), json=json, content=content,
                headers=headers, timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
            )
        return _response(response)

    @asynccontextmanager
    async def stream(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None,
        content: Content | None = None, headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        import httpx

        request = self._http.build_request(
            method, path, params=clean_params(params), json=json, content=content,
            headers=headers, timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT),
        )
        with translate(self.endpoint):
            response = await self._http.send(request, stream=True)
        try:
            yield _Streamed(response, self.endpoint)
        finally:
            await response.aclose()

    async def upgrade(
        self, method: str, path: str, *, json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Response, Upgraded | None]:
        import httpx

        request = self._http.build_request(
            method, path, json=json, headers=headers,
            timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT),
        )
        with translate(self.endpoint):
            response = await self._http.send(request, stream=True)
        if response.status_code != 101:
            try:
                with translate(self.endpoint):
                    await response.aread()
            finally:
                await response.aclose()
            return _response(response), None
        stream = response.extensions.get("network_stream")
        if stream is None:
            await response.aclose()
            raise ProtocolError("the upgraded connection was not handed over")
        head = Response(101, response.reason_phrase, response.headers, b"")
        return head, _Upgraded(response, stream, self.endpoint)

    @asynccontextmanager
    async def open_body(
        self, method: str, path: str, *, params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[AsyncIterator[memoryview]]:
        async with rawhttp.open_body(self.open_connection, self.endpoint, method, path,
                                     params=params, headers=headers) as body:
            yield body

    @asynccontextmanager
    async def open_body_bytes(
        self, method: str, path: str, *, params: Params | None = None,
        headers: Mapping[str, str] | None = None, piece: int = rawhttp.BUFFER_SIZE,
        unchunked: bool = False,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        async with rawhttp.open_body_bytes(self.open_connection, self.endpoint, method, path,
                                           params=params, headers=headers, piece=piece,
                                           unchunked=unchunked) as body:
            yield body

    @asynccontextmanager
    async def upload_file(
        self, method: str, path: str, *, source: BinaryIO, length: int,
        params: Params | None = None, headers: Mapping[str, str] | None = None,
        sent: Callable[[int], None] | None = None,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        async with rawhttp.upload_file(self.open_connection, self.endpoint, method, path,
                                       source=source, length=length, params=params,
                                       headers=headers, sent=sent) as body:
            yield body

    async def aclose(self) -> None:
        if self._httpx_client is not None:
            await self._httpx_client.aclose()
