"""How :class:`~engine.Engine` reaches an engine: one transport per kind of endpoint.

:func:`connect` is the one place that looks at an endpoint's scheme.  An ssh
transport is one more module here (a :class:`Transport` subclass) and one more
line in :func:`connect`.
"""

from __future__ import annotations

from engine._endpoint import Endpoint
from engine._errors import EndpointError
from engine._transport.base import (
    CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
    Content,
    Params,
    Response,
    StreamedResponse,
    Transport,
    Upgraded,
    error_message,
    status_error,
)
from engine._transport.ssh import SSHTransport
from engine._transport.tcp import TCPTransport
from engine._transport.unix import UnixTransport

__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "Content",
    "Params",
    "Response",
    "StreamedResponse",
    "Transport",
    "Upgraded",
    "connect",
    "error_message",
    "status_error",
]


def connect(endpoint: Endpoint) -> Transport:
    """The transport for ``endpoint`` (no I/O yet: connections open on first use)."""
    if endpoint.scheme == "unix":
        return UnixTransport(endpoint)
    if endpoint.scheme == "tcp":
        return TCPTransport(endpoint)
    if endpoint.scheme == "ssh":
        return SSHTransport(endpoint)
    raise EndpointError(
        f"{endpoint.scheme}:// endpoints are not supported yet ({endpoint.url});"
        " use a unix:// socket, a tcp:// address or an ssh:// destination"
    )
