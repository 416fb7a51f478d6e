"""``tcp://``: an engine listening on a TCP port, in the clear or with TLS (DOCKER_TLS_VERIFY)."""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from engine._endpoint import Endpoint
from engine._transport.http import HTTPTransport
from engine._transport.rawhttp import ProtocolFactory

if TYPE_CHECKING:
    import httpx


def ssl_context(endpoint: Endpoint) -> ssl.SSLContext | None:
    """The TLS settings of the endpoint (CA, client certificate, verification); None: plain."""
    tls = endpoint.tls
    if tls is None:
        return None
    context = ssl.create_default_context(cafile=str(tls.ca_cert) if tls.ca_cert else None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.client_cert and tls.client_key:
        context.load_cert_chain(str(tls.client_cert), str(tls.client_key))
    return context


class TCPTransport(HTTPTransport):
    def __init__(self, endpoint: Endpoint) -> None:
        self.tls = ssl_context(endpoint)
        url = urlsplit(endpoint.http_base)
        self.host = url.hostname or ""
        self.port = url.port or (443 if url.scheme == "https" else 80)
        super().__init__(endpoint)

    def httpx_transport(self, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
        import httpx

        # Plain tcp:// speaks http:// only (no redirects followed): no CA bundle to load.
        return httpx.AsyncHTTPTransport(verify=self.tls or False, limits=limits)

    async def open_connection(self, protocol_factory: ProtocolFactory) -> asyncio.BaseTransport:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_connection(
            protocol_factory, self.host, self.port, ssl=self.tls,
            server_hostname=self.host if self.tls is not None else None)
        return transport
