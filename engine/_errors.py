"""The one exception tree of the engine bindings.

    EngineError
    ├── EndpointError            the configured endpoint cannot be used (bad URL, missing context)
    ├── EngineUnreachable        nothing answers at the endpoint (no socket, refused, timeout)
    │   ├── PermissionDenied     the socket exists but we may not open it (EACCES, ssh auth)
    │   ├── TLSError             tcp:// with TLS: a certificate refused (either side's) or
    │   │                        one side speaking TLS and the other not; never retried plain
    │   └── HostKeyError         an ssh server whose host key is not the one on record
    │       ├── UnknownHostKey   no key on record for the host: show the fingerprint, ask
    │       └── HostKeyChanged   a different key on record: refuse
    ├── ProtocolError            the daemon answered with something we cannot read
    ├── APIError                 the daemon answered with an error status and a message
    │   ├── BadRequest           400
    │   ├── NotFound             404
    │   ├── Conflict             409
    │   └── ServerError          500 and above
    │       └── NotSwarmManager  503: a Swarm call to an engine that is no swarm manager
    └── RegistryError            a registry browsed directly (not through the engine) failed
        ├── RegistryUnreachable  nothing answers there, or not over TLS when it must
        ├── RegistryUnauthorized no login, or a wrong user name or password
        └── RegistryNotFound     no such repository, tag or manifest

Callers catch ``EngineError`` to handle everything from the engine, or a leaf to
handle one case.  ``APIError.message`` is the daemon's own words, kept verbatim
when they fit on one line; a longer answer (a whole HTML error page from a proxy)
is cut to its first line (or its ``<title>``) and kept whole in ``details``.
"""

from __future__ import annotations

import re
from typing import Any

#: An error message longer than this is cut (the whole text goes to ``details``).
MAX_MESSAGE_CHARS = 300


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


class TLSError(EngineUnreachable):
    """A tcp:// engine and we disagree about TLS: its certificate did not verify, it
    refused ours, or only one side speaks TLS.  Nothing is retried without TLS."""


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

    def __init__(self, status: int, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: The daemon's whole answer when ``message`` is only its first line.
        self.details = details

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


class NotSwarmManager(ServerError):
    """503: the engine is not a swarm manager (inactive, or a worker); init or join first."""


class RegistryError(EngineError):
    """A registry spoken to directly (the distribution API) failed; ``registry`` names it."""

    def __init__(self, message: str, registry: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.registry = registry
        self.status = status


class RegistryUnreachable(RegistryError):
    """No answer from the registry: refused, timed out, no such host, TLS failed."""


class RegistryUnauthorized(RegistryError):
    """401/403: the registry wants a login, or refused the one given."""


class RegistryNotFound(RegistryError):
    """404: no such repository, tag or manifest."""


#: Podman answers 500 where Docker answers 409; callers should not need to know.
_PODMAN_CONFLICTS = ("container state improper", "is already in use")
#: ... and 500 where Docker answers 404, e.g. for a ``--rm`` container that
#: removed itself while it was being stopped.
_PODMAN_NOT_FOUND = ("no such container", "no such exec")
#: Docker's 503 to a Swarm call on an engine that cannot answer it.
_NOT_MANAGER = ("not a swarm manager", "not part of a swarm")


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
    elif status == 503 and any(marker in message for marker in _NOT_MANAGER):
        cls = NotSwarmManager
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
    summary, details = summarize(message)
    return cls(status, summary or message, details)


def summarize(text: str) -> tuple[str, str]:
    """(a one-line summary, the whole text when the summary is not all of it).

    Short messages stay as the daemon wrote them.  A daemon, or a proxy in front
    of one, can answer an error with a whole HTML page; the message a user sees
    is one line (an HTML page's title), and the page stays available as details.
    """
    stripped = text.strip()
    if len(stripped) <= MAX_MESSAGE_CHARS and not stripped.startswith("<"):
        return stripped, ""  # the daemon's own words, as they are
    lines = [line.strip() for line in stripped.splitlines() if line.strip()]
    head = lines[0]
    if head.startswith("<"):
        head = _html_title(stripped) or head
    if len(head) > MAX_MESSAGE_CHARS:
        head = head[:MAX_MESSAGE_CHARS - 1].rstrip() + "…"
    return head, ("" if head == stripped else stripped)


def _html_title(page: str) -> str:
    """The text of an HTML page's ``<title>`` or first ``<h1>``, if it has one."""
    for tag in ("title", "h1"):
        match = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", page[:65536], re.IGNORECASE | re.DOTALL)
        if match:
            text = re.sub(r"<[^>]+>|\s+", " ", match.group(1)).strip()
            if text:
                return text
    return ""
