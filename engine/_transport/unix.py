"""``unix://``: the engine's local socket (Docker's /var/run/docker.sock, Podman's)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from engine._endpoint import Endpoint
from engine._transport.http import HTTPTransport
from engine._transport.rawhttp import ProtocolFactory

if TYPE_CHECKING:
    import httpx


class UnixTransport(HTTPTransport):
    one_shot_requests = True  # a connection is a connect(2) away

    def __init__(self, endpoint: Endpoint) -> None:
        assert endpoint.socket_path is not None
        self.socket_path = endpoint.socket_path
        super().__init__(endpoint)

    def httpx_transport(self, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
        import httpx

        # No TLS on a unix socket: verify=False spares httpx loading the system's CA
        # bundle for nothing, which took 100-230 ms of the event loop on each connect.
        return httpx.AsyncHTTPTransport(uds=self.socket_path, limits=limits, verify=False)

    async def open_connection(self, protocol_factory: ProtocolFactory) -> asyncio.BaseTransport:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_unix_connection(protocol_factory, self.socket_path)
        return transport
