"""``ssh://[user@]host[:port][/path/to/socket]``: an engine's socket on another machine.

One SSH connection (asyncssh) per transport; every HTTP connection httpx opens on it
is a ``direct-streamlocal`` channel to the remote socket (``/var/run/docker.sock``
unless the URL names another, e.g. Podman's).  httpx sees ordinary byte streams
(:class:`_ChannelBackend` is its network backend), so calls, streams, big bodies
and ``101`` upgrades (exec) work as over a local socket, and the remote side needs
only sshd with ``AllowStreamLocalForwarding`` and ``AllowTcpForwarding`` not ``no``
(both default to yes; OpenSSH refuses streamlocal channels when TCP forwarding is
off): no docker CLI there.

Trust is the ssh client's: the host key is checked against ``known_hosts`` (an
unknown key raises :class:`~engine.UnknownHostKey` with its fingerprint, so a
window can ask; a changed one :class:`~engine.HostKeyChanged`, refused), keys come
from the agent and ``~/.ssh``, and ``~/.ssh/config`` applies (host aliases, User,
Port, IdentityFile); :class:`~engine.SSHOptions` can point elsewhere.  Every
failure ends in the engine's exception tree with one line of explanation.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import httpcore
import httpx

from engine._endpoint import Endpoint, SSHOptions
from engine._errors import (
    EngineUnreachable,
    HostKeyChanged,
    HostKeyError,
    PermissionDenied,
    UnknownHostKey,
)
from engine._transport.base import Params, Transport, lost, timed_out
from engine._transport.http import HTTPTransport
from engine._transport.rawhttp import BUFFER_SIZE, ProtocolFactory

#: Where Docker listens on the remote machine when the URL names no socket.
DEFAULT_SOCKET = "/var/run/docker.sock"
#: The whole SSH handshake (TCP, key exchange, authentication) on a busy machine.
SSH_CONNECT_TIMEOUT = 15.0
#: A link that drops silently (no FIN, no RST) is noticed after 3 unanswered
#: keepalives, so a followed log ends with EngineUnreachable instead of hanging.
KEEPALIVE_INTERVAL = 10.0
KEEPALIVE_COUNT_MAX = 3


@dataclass(frozen=True, slots=True)
class SSHTarget:
    """The parts of an ``ssh://`` URL; ``None`` leaves them to ``~/.ssh/config``."""

    user: str | None
    host: str
    port: int | None
    socket: str


def parse_target(url: str) -> SSHTarget:
    """Split a normalised ``ssh://`` URL (see :func:`engine._endpoint.parse_host`)."""
    netloc, slash, path = url.removeprefix("ssh://").partition("/")
    user, _, hostport = netloc.rpartition("@")
    if hostport.startswith("["):
        end = hostport.index("]")
        host, port_text = hostport[1:end], hostport[end + 2:]
    else:
        host, _, port_text = hostport.partition(":")
    return SSHTarget(user or None, host, int(port_text) if port_text else None,
                     "/" + path if slash and path else DEFAULT_SOCKET)


class _Client(asyncssh.SSHClient):
    """Remembers the host key it was asked to trust, and whether the connection is gone."""

    def __init__(self) -> None:
        self.untrusted_key: asyncssh.SSHKey | None = None
        #: The name, address and port the key was checked for (after ~/.ssh/config).
        self.checked_as: tuple[str, str, int] = ("", "", 22)
        self.closed = False

    def validate_host_public_key(self, host: str, addr: str, port: int,
                                 key: asyncssh.SSHKey) -> bool:
        # Called only for a key known_hosts does not list: never trusted here.
        self.untrusted_key = key
        self.checked_as = (host, addr, port)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True


class _ChannelStream(httpcore.AsyncNetworkStream):
    """One direct-streamlocal channel as httpcore's byte stream (errors in httpcore's words)."""

    def __init__(self, reader: asyncssh.SSHReader[bytes],
                 writer: asyncssh.SSHWriter[bytes]) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout("no answer in time") from exc
        except (asyncssh.Error, OSError) as exc:
            raise httpcore.ReadError(_describe(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            async with asyncio.timeout(timeout):
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout("the engine stopped reading") from exc
        except (asyncssh.Error, OSError) as exc:
            raise httpcore.WriteError(_describe(exc)) from exc

    async def aclose(self) -> None:
        with contextlib.suppress(asyncssh.Error, OSError):
            self._writer.close()

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle pooled connection the other end closed
            return self._reader.at_eof()
        if info == "write_eof":  # exec's half-close (see _Upgraded.shutdown_write)
            return self._writer.write_eof
        return None


class _ChannelBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend: "connecting" opens a channel on the shared SSH connection."""

    def __init__(self, transport: SSHTransport) -> None:
        self._transport = transport

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._transport.open_channel()

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._transport.open_channel()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", "") or getattr(exc, "strerror", "") or str(exc)
    return str(reason) or type(exc).__name__


def _known_hosts_name(host: str, port: int) -> str:
    """How ``known_hosts`` spells the host: ``[host]:port`` unless the port is 22."""
    return host if port == 22 else f"[{host}]:{port}"


class SSHTransport(HTTPTransport):
    """HTTP over channels of one SSH connection, opened on first use and again after a drop."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.target = parse_target(endpoint.url)
        self.options = endpoint.ssh or SSHOptions()
        self._backend = _ChannelBackend(self)
        self._connection: asyncssh.SSHClientConnection | None = None
        self._client: _Client | None = None
        self._lock = asyncio.Lock()
        super().__init__(endpoint)

    def httpx_transport(self, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
        # verify=False: http:// through the channel, no CA bundle to load (100+ ms).
        transport = httpx.AsyncHTTPTransport(limits=limits, verify=False)
        # httpx takes no network backend of its own; its pool does (the same settings).
        transport._pool = httpcore.AsyncConnectionPool(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self._backend,
        )
        return transport

    async def open_connection(self, protocol_factory: ProtocolFactory) -> asyncio.BaseTransport:
        # Big bodies go through the channels too (open_body below), never a socket.
        raise NotImplementedError("an ssh endpoint has no socket of its own")

    # Exports and logs read through stream(): the ssh channel is the bottleneck, not httpx.
    @asynccontextmanager
    async def open_body(
        self, method: str, path: str, *, params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[AsyncIterator[memoryview]]:
        async with Transport.open_body(self, method, path, params=params,
                                       headers=headers) as body:
            yield body

    @asynccontextmanager
    async def open_body_bytes(
        self, method: str, path: str, *, params: Params | None = None,
        headers: Mapping[str, str] | None = None, piece: int = BUFFER_SIZE,
        unchunked: bool = False,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        async with Transport.open_body_bytes(self, method, path, params=params,
                                             headers=headers, piece=piece) as body:
            yield body

    async def open_channel(self) -> _ChannelStream:
        """A new channel to the remote socket, connecting (again) first if need be."""
        connection = await self._connected()
        try:
            async with asyncio.timeout(SSH_CONNECT_TIMEOUT):
                reader, writer = await connection.open_unix_connection(self.target.socket)
        except TimeoutError as exc:
            raise timed_out(self.endpoint) from exc
        except asyncssh.ChannelOpenError as exc:
            raise EngineUnreachable(
                f"the ssh server at {self._where} could not open {self.target.socket}"
                f" ({exc.reason or 'refused'}: is the engine running there, may this user use"
                " it, and are AllowStreamLocalForwarding and AllowTcpForwarding on in its"
                " sshd_config?)",
                self.endpoint.url) from exc
        except (asyncssh.Error, OSError) as exc:
            raise lost(self.endpoint, _describe(exc)) from exc
        return _ChannelStream(reader, writer)

    @property
    def _where(self) -> str:
        return self.endpoint.url.removeprefix("ssh://").partition("/")[0]

    async def _connected(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._connection is None or self._client is None or self._client.closed:
                self._connection, self._client = await self._connect()
            return self._connection

    async def aclose(self) -> None:
        await super().aclose()
        connection, self._connection, self._client = self._connection, None, None
        if connection is not None:
            connection.close()
            with contextlib.suppress(TimeoutError, asyncssh.Error, OSError):
                async with asyncio.timeout(2):
                    await connection.wait_closed()

    def _known_hosts(self) -> tuple[Path, asyncssh.SSHKnownHosts]:
        """The known_hosts file consulted and its entries (none when there is no file)."""
        path = self.options.known_hosts or Path("~/.ssh/known_hosts").expanduser()
        try:
            return path, asyncssh.read_known_hosts(str(path))
        except FileNotFoundError:
            return path, asyncssh.import_known_hosts("")
        except (OSError, ValueError) as exc:
            raise EngineUnreachable(f"cannot read {path}: {_describe(exc)}",
                                    self.endpoint.url) from exc

    async def _connect(self) -> tuple[asyncssh.SSHClientConnection, _Client]:
        target, options = self.target, self.options
        known_hosts_path, known_hosts = self._known_hosts()
        kwargs: dict[str, Any] = {
            "known_hosts": known_hosts,
            "connect_timeout": SSH_CONNECT_TIMEOUT,
            "keepalive_interval": KEEPALIVE_INTERVAL,
            "keepalive_count_max": KEEPALIVE_COUNT_MAX,
        }
        if target.user is not None:
            kwargs["username"] = target.user
        if target.port is not None:
            kwargs["port"] = target.port
        if options.identities:
            kwargs["client_keys"] = [str(p) for p in options.identities]
            kwargs["agent_path"] = None
        if options.config is not None:
            kwargs["config"] = [str(options.config)]
        client = _Client()
        try:
            connection = await asyncssh.connect(target.host, client_factory=lambda: client,
                                                **kwargs)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise self._host_key_error(exc, client, known_hosts_path, known_hosts) from exc
        except asyncssh.PermissionDenied as exc:
            raise PermissionDenied(
                f"ssh to {self._where}: permission denied (no key of ours was accepted;"
                " check the ssh agent, ~/.ssh keys and the server's authorized_keys)",
                self.endpoint.url) from exc
        except TimeoutError as exc:
            raise EngineUnreachable(f"the ssh server at {self._where} did not answer in time",
                                    self.endpoint.url) from exc
        except socket.gaierror as exc:
            raise EngineUnreachable(f"cannot resolve the host {target.host!r} ({exc.strerror})",
                                    self.endpoint.url) from exc
        except ConnectionRefusedError as exc:
            raise EngineUnreachable(
                f"connection refused at {self._where} (is sshd running there?)",
                self.endpoint.url) from exc
        except (asyncssh.Error, OSError, ValueError) as exc:
            # A disconnect, an unreadable key or config file, a network error.
            raise EngineUnreachable(f"ssh to {self._where} failed: {_describe(exc)}",
                                    self.endpoint.url) from exc
        return connection, client

    def _host_key_error(self, exc: asyncssh.HostKeyNotVerifiable, client: _Client,
                        path: Path, known_hosts: asyncssh.SSHKnownHosts) -> HostKeyError:
        key = client.untrusted_key
        if key is None:  # revoked, or a certificate that did not validate
            return HostKeyError(f"the host key of {self._where} was refused: {exc.reason}",
                                self.endpoint.url, known_hosts=str(path))
        # As asyncssh checked it: a ~/.ssh/config alias resolved to its HostName and Port.
        host, address, port = client.checked_as
        name = _known_hosts_name(host, port)
        on_record = known_hosts.match(host, address, None if port == 22 else port)[0]
        line = " ".join([name, *key.export_public_key().decode("ascii").split()[:2]])
        fields = {"host": name, "fingerprint": key.get_fingerprint(),
                  "key_type": key.get_algorithm(), "known_hosts": str(path),
                  "known_hosts_line": line}
        if on_record:
            return HostKeyChanged(
                f"the host key of {name} has CHANGED ({fields['key_type']}"
                f" {fields['fingerprint']}) and does not match {path}: refusing to connect"
                " (someone may be intercepting the connection, or the host was reinstalled;"
                " check, then remove the old entry with ssh-keygen -R)",
                self.endpoint.url, **fields)
        return UnknownHostKey(
            f"the host {name} is not known (not in {path}); its {fields['key_type']}"
            f" key fingerprint is {fields['fingerprint']}",
            self.endpoint.url, **fields)
