"""How :class:`~engine.Engine` reaches an engine: one transport per kind of endpoint.

:func:`connect` is the one place that looks at an endpoint's scheme: ``unix``,
``tcp`` (TLS too) and ``ssh`` (:mod:`.ssh`, asyncssh); each a :class:`Transport`
subclass in a module of its own.
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
        # Imported here: asyncssh and cryptography are a third of `import engine` on a
        # busy machine (~0.5 s), paid only by those who use ssh.
        from engine._transport.ssh import SSHTransport

        return SSHTransport(endpoint)
    raise EndpointError(
        f"{endpoint.scheme}:// endpoints are not supported yet ({endpoint.url});"
        " use a unix:// socket, a tcp:// address or an ssh:// destination"
    )
