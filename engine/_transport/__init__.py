"""How :class:`~engine.Engine` reaches an engine: one transport per kind of endpoint.

:func:`connect` is the one place that looks at an endpoint's scheme: ``unix``,
``tcp`` (TLS too) and ``ssh`` (:mod:`.ssh`, asyncssh); each a :class:`Transport`
subclass in a module of its own.
"""

from __future__ import annotations

import asyncio
import importlib
import sys

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
    "prepare",
    "status_error",
]


#: Transports whose module is imported on first use, by scheme: their libraries are
#: heavy (asyncssh and cryptography: ~0.5 s of a busy machine) and only some need them.
_LAZY = {"ssh": "engine._transport.ssh"}


async def prepare(endpoint: Endpoint) -> None:
    """Import the endpoint's transport off the event loop, so a window does not freeze."""
    module = _LAZY.get(endpoint.scheme)
    if module is not None and module not in sys.modules:
        await asyncio.to_thread(importlib.import_module, module)


def connect(endpoint: Endpoint) -> Transport:
    """The transport for ``endpoint`` (no I/O yet: connections open on first use)."""
    if endpoint.scheme == "unix":
        return UnixTransport(endpoint)
    if endpoint.scheme == "tcp":
        return TCPTransport(endpoint)
    if endpoint.scheme == "ssh":
        # Imported here (see _LAZY); already imported when prepare() was awaited.
        from engine._transport.ssh import SSHTransport

        return SSHTransport(endpoint)
    raise EndpointError(
        f"{endpoint.scheme}:// endpoints are not supported yet ({endpoint.url});"
        " use a unix:// socket, a tcp:// address or an ssh:// destination"
    )
