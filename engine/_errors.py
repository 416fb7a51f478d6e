"""The one exception tree of the engine bindings.

    EngineError
    ├── EndpointError            the configured endpoint cannot be used (bad URL, missing context)
    ├── EngineUnreachable        nothing answers at the endpoint (no socket, refused, timeout)
    │   ├── PermissionDenied     the socket exists but we may not open it (EACCES, ssh auth)
    │   └── HostKeyError         an ssh server whose host key is not the one on record
    │       ├── UnknownHostKey   no key on record for the host: show the fingerprint, ask
    │       └── HostKeyChanged   a different key on record: refuse
    ├── ProtocolError            the daemon answered with something we cannot read
    └── APIError                 the daemon answered with an error status and a message
        ├── BadRequest           400
        ├── NotFound             404
        ├── Conflict             409
        └── ServerError          500 and above

Callers catch ``EngineError`` to handle everything from the engine, or a leaf to
handle one case.  ``APIError.message`` is the daemon's own words, kept verbatim.
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base of every error raised by :mod:`engine`."""


class EndpointError(EngineError):
    """The endpoint configuration is invalid or points at something unsupported."""


class EngineUnreachable(EngineError):
    """No engine answered at the endpoint.

    ``attempts`` lists every endpoint tried when the error ends a discovery, so a
    user can be told which sockets and contexts were looked at.
    """

    def __init__(self, message: str, endpoint: str = "", attempts: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.attempts = attempts


class PermissionDenied(EngineUnreachable):
    """The socket exists, but this user may not connect to it."""


class HostKeyError(EngineUnreachable):
    """An ssh server whose host key does not match ``known_hosts``; nothing was sent to it.

    ``fingerprint`` is the key's SHA256 fingerprint as ``ssh-keygen -l`` prints it
    (``SHA256:…``), ``key_type`` its algorithm, ``host`` the name it was checked as
    (``[host]:port`` for a port other than 22), ``known_hosts`` the file consulted.
    """

    def __init__(self, message: str, endpoint: str = "", *, host: str = "",
                 fingerprint: str = "", key_type: str = "", known_hosts: str = "",
                 known_hosts_line: str = "") -> None:
        super().__init__(message, endpoint)
        self.host = host
        self.fingerprint = fingerprint
        self.key_type = key_type
        self.known_hosts = known_hosts
        #: The line that, appended to ``known_hosts``, trusts this key (for "accept").
        self.known_hosts_line = known_hosts_line


class UnknownHostKey(HostKeyError):
    """The host has no key on record: the user should compare the fingerprint and decide."""


class HostKeyChanged(HostKeyError):
    """The host presents a key other than the one on record: refused, never overridden here."""


class ProtocolError(EngineError):
    """The daemon's answer could not be decoded."""


class APIError(EngineError):
    """The daemon answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(APIError):
    """400: the daemon rejected the request."""


class NotFound(APIError):
    """404: no such container, image, exec or network."""


class Conflict(APIError):
    """409: the object is in a state that forbids the operation."""


class ServerError(APIError):
    """500 and above: the daemon failed to do what was asked."""


#: Podman answers 500 where Docker answers 409; callers should not need to know.
_PODMAN_CONFLICTS = ("container state improper", "is already in use")
#: ... and 500 where Docker answers 404, e.g. for a ``--rm`` container that
#: removed itself while it was being stopped.
_PODMAN_NOT_FOUND = ("no such container", "no such exec")


def error_for_status(status: int, message: str) -> APIError:
    """Map an HTTP error status to the matching exception class.

    ``status`` stays what the daemon sent; only the class is normalised, so
    ``except Conflict`` works on Docker and Podman alike.
    """
    cls: type[APIError]
    if status >= 500 and any(marker in message for marker in _PODMAN_CONFLICTS):
        cls = Conflict
    elif status >= 500 and any(marker in message for marker in _PODMAN_NOT_FOUND):
        cls = NotFound
    elif status == 400:
        cls = BadRequest
    elif status == 404:
        cls = NotFound
    elif status == 409:
        cls = Conflict
    elif status >= 500:
        cls = ServerError
    else:
        cls = APIError
    return cls(status, message)
