"""The asyncio client for the Engine HTTP API (Docker Engine and Podman's compat service).

One :class:`Engine` owns one transport (:mod:`engine._transport`) bound to one
endpoint, and a negotiated API version.  Its public plumbing (:meth:`Engine.request`,
:meth:`Engine.get_json`, :meth:`Engine.stream`, :meth:`Engine.json_stream`,
:meth:`Engine.open_body`, :meth:`Engine.open_body_bytes`, :meth:`Engine.upgrade`)
is what the engine's other modules build their calls on.  :func:`discover` finds an
endpoint the way the docker CLI does and connects to the first one that answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, BinaryIO, Self

from engine._decoders import JSONStreamDecoder
from engine._endpoint import Endpoint, resolve
from engine._errors import (
    EngineError,
    EngineUnreachable,
    HostKeyError,
    NotFound,
    PermissionDenied,
    ProtocolError,
    TLSError,
)
from engine._models import (
    Attempt,
    Container,
    ContainerDetails,
    EngineVersion,
    Event,
    HistoryEntry,
    Image,
    ImageDetails,
    SystemInfo,
    containers_from_api,
    history_from_api,
    images_from_api,
)
from engine._shapes import created_id, decode_json, expect_list, expect_object
from engine._transport import (
    DEFAULT_TIMEOUT,
    Content,
    Params,
    Response,
    StreamedResponse,
    Transport,
    Upgraded,
    connect,
    prepare,
    status_error,
)

log = logging.getLogger(__name__)

#: The oldest API whose response shapes we read (Podman 4.1 and Docker 19.03 speak it).
MIN_API_VERSION = (1, 40)
#: The newest API we know; newer daemons are asked to speak this one.
MAX_API_VERSION = (1, 51)

#: Total deadlines (seconds): a transport's timeouts are per read, so a daemon
#: trickling one byte every few seconds would never trip them.  The handshake must
#: finish within the first; an ordinary call, a stream's headers or an upgrade
#: within the second (a long call passes a longer timeout of its own).
HANDSHAKE_DEADLINE = 30.0
CALL_DEADLINE = 60.0

Filters = Mapping[str, Sequence[str]]


def parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.strip().partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        raise ProtocolError(f"the engine reported an unreadable API version {text!r}") from None


def format_version(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def negotiate(server_version: str) -> str:
    """min(ours, the daemon's), refusing daemons older than we can read."""
    server = parse_version(server_version)
    if server < MIN_API_VERSION:
        raise EngineError(
            f"the engine speaks API {server_version}, older than the"
            f" {format_version(MIN_API_VERSION)} Dockyard needs; please upgrade it"
        )
    return format_version(min(server, MAX_API_VERSION))


def _filters_param(filters: Filters | None) -> dict[str, str]:
    return {"filters": json.dumps({k: list(v) for k, v in filters.items()})} if filters else {}


class Engine:
    """A connection to one engine at a negotiated API version.

    Create it with :meth:`open` (one endpoint) or :func:`discover` (the CLI's
    search order); close it with :meth:`aclose` or ``async with``.
    """

    def __init__(
        self, endpoint: Endpoint, transport: Transport, api_version: str, version: EngineVersion,
        *, deadline: float = CALL_DEADLINE,
    ) -> None:
        self.endpoint = endpoint
        #: How the engine is reached (unix, tcp); everything goes through it.
        self.transport = transport
        self.api_version = api_version
        self.version = version
        #: Seconds an ordinary call may take in all (a long one passes its own timeout).
        self.deadline = deadline

    @classmethod
    async def open(cls, endpoint: Endpoint, *, deadline: float | None = None) -> Engine:
        """Handshake with the engine; ``deadline`` (seconds) bounds the handshake and
        every later call (default :data:`HANDSHAKE_DEADLINE` / :data:`CALL_DEADLINE`)."""
        await prepare(endpoint)  # imports, off the event loop: not part of the deadline
        async with _deadline(endpoint, deadline or HANDSHAKE_DEADLINE, "the handshake"):
            client = await cls._handshake(endpoint)
        client.deadline = deadline or CALL_DEADLINE
        return client

    @classmethod
    async def _handshake(cls, endpoint: Endpoint) -> Engine:
        transport = connect(endpoint)
        try:
            ping = await transport.request("HEAD", "/_ping")
            if ping.status >= 400 or "api-version" not in ping.headers:
                ping = await transport.request("GET", "/_ping")
            if ping.status == 400 and b"HTTPS server" in ping.content:
                # Go's TLS listener answers plain HTTP so; never retried without TLS.
                raise TLSError(
                    f"the engine at {endpoint.url} speaks TLS, and no TLS was asked for: set"
                    " DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or give its CA and client"
                    " certificate", endpoint.url)
            if ping.status >= 400:
                raise status_error(ping.status, ping.reason, ping.headers, ping.content)
            server_api = ping.headers.get("api-version")
            if not server_api:
                raise ProtocolError(f"{endpoint.url} answered, but not like a container engine")
            api_version = negotiate(server_api)
            raw_version = await transport.request("GET", f"/v{api_version}/version")
            if raw_version.status >= 400:
                raise status_error(raw_version.status, raw_version.reason, raw_version.headers,
                                   raw_version.content)
            version = EngineVersion.from_api(_json(raw_version, "/version"))
            if "libpod-api-version" in ping.headers and not version.is_podman:
                version = _as_podman(version)
        except BaseException:
            await transport.aclose()
            raise
        return cls(endpoint, transport, api_version, version)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def description(self) -> str:
        """'Docker Engine 20.10.24 (API 1.41)' — what a status bar shows."""
        return f"{self.version.product} {self.version.version} (API {self.api_version})"

    # -- plumbing: the versioned API over the transport, for the engine's modules --------

    def api_path(self, path: str) -> str:
        """``/containers/json`` → ``/v1.41/containers/json`` (the negotiated version)."""
        return f"/v{self.api_version}{path}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        """One API call (``path`` unversioned); an error status raises its APIError.

        A 304 (start of a running / stop of a stopped container) is returned, not
        raised: it means "already done".  ``timeout`` None: the default 30 s per
        read; the whole call has :attr:`deadline` (or ``timeout``, if longer).
        """
        total = max(self.deadline, timeout) if timeout is not None else self.deadline
        async with _deadline(self.endpoint, total, f"{method} {path}"):
            response = await self.transport.request(
                method, self.api_path(path), params=params, json=json, content=content,
                headers=headers, timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            )
        if response.status >= 400:
            raise status_error(response.status, response.reason, response.headers,
                               response.content)
        return response

    async def get_json(self, path: str, params: Params | None = None) -> Any:
        """``GET path`` read as JSON; unreadable JSON is a :class:`ProtocolError`."""
        return _json(await self.request("GET", path, params=params), path)

    @asynccontextmanager
    async def stream(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None,
        content: Content | None = None, headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        """A streamed API call: an error status raises before the block; leaving it cancels.

        The answer's headers must arrive within :attr:`deadline`; the body then has
        no deadline (a followed stream stays open as long as the daemon is there).
        A request with a body to upload (a build context of any size) has none:
        the daemon answers only once it has read it all.
        """
        deadline = self.deadline if content is None else None
        async with AsyncExitStack() as stack:
            async with _deadline(self.endpoint, deadline, path):
                response = await stack.enter_async_context(self.transport.stream(
                    method, self.api_path(path), params=params, json=json, content=content,
                    headers=headers,
                ))
            if response.status >= 400:
                body = await response.read()
                raise status_error(response.status, response.reason, response.headers, body)
            yield response

    async def json_stream(
        self, path: str, params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Any]:
        """``GET path`` as the stream of JSON values the daemon writes (events, stats)."""
        decoder = JSONStreamDecoder()
        async with self.stream("GET", path, params=params, headers=headers) as response:
            async for chunk in response.aiter_bytes():
                for value in decoder.feed(chunk):
                    yield value
        decoder.close()

    def open_body(
        self, method: str, path: str, *, params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[memoryview]]:
        """A big body (an image export) in big reads; see :meth:`Transport.open_body`."""
        return self.transport.open_body(method, self.api_path(path), params=params,
                                        headers=headers)

    def open_body_bytes(
        self, method: str, path: str, *, params: Params | None = None,
        headers: Mapping[str, str] | None = None, piece: int = 1 << 20,
        unchunked: bool = False,
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """A big body of small chunks (logs) as ``bytes``; see :meth:`Transport.open_body_bytes`."""
        return self.transport.open_body_bytes(method, self.api_path(path), params=params,
                                              headers=headers, piece=piece,
                                              unchunked=unchunked)

    def upload_file(
        self, method: str, path: str, *, source: BinaryIO, length: int,
        params: Params | None = None, headers: Mapping[str, str] | None = None,
        sent: Callable[[int], None] | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """A big file as the body (an archive to load); see :meth:`Transport.upload_file`."""
        return self.transport.upload_file(method, self.api_path(path), source=source,
                                          length=length, params=params, headers=headers,
                                          sent=sent)

    async def upgrade(
        self, method: str, path: str, *, json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Upgraded:
        """A call answered ``101``: its connection as a two-way stream (exec, attach).

        An error status raises its APIError; any other answer a :class:`ProtocolError`.
        """
        async with _deadline(self.endpoint, self.deadline, path):
            response, upgraded = await self.transport.upgrade(
                method, self.api_path(path), json=json, headers=headers)
        if upgraded is not None:
            return upgraded
        if response.status >= 400:
            raise status_error(response.status, response.reason, response.headers,
                               response.content)
        raise ProtocolError(
            f"the engine answered {path} with HTTP {response.status}, not an upgraded"
            " connection (is a proxy in between?)"
        )

    # -- system -------------------------------------------------------------------

    async def ping(self) -> Mapping[str, str]:
        """Whether the engine answers (within 5 s); its headers (``Builder-Version`` …)."""
        response = await self.transport.request("GET", "/_ping", timeout=5.0)
        if response.status >= 400:
            raise status_error(response.status, response.reason, response.headers,
                               response.content)
        return response.headers

    async def get_version(self) -> EngineVersion:
        version = EngineVersion.from_api(await self.get_json("/version"))
        return _as_podman(version) if self.version.is_podman else version

    async def info(self) -> SystemInfo:
        return SystemInfo.from_api(await self.get_json("/info"))

    # -- containers ---------------------------------------------------------------

    async def containers(
        self, *, all: bool = True, filters: Filters | None = None
    ) -> list[Container]:
        params = {"all": int(all), **_filters_param(filters)}
        return containers_from_api(await self.get_json("/containers/json", params))

    async def container(self, container_id: str) -> ContainerDetails:
        return ContainerDetails.from_api(await self.get_json(f"/containers/{container_id}/json"))

    async def create_container(
        self,
        image: str,
        *,
        name: str | None = None,
        command: Sequence[str] | None = None,
        labels: Mapping[str, str] | None = None,
        tty: bool = False,
        open_stdin: bool = False,
        host_config: Mapping[str, Any] | None = None,
    ) -> str:
        """Create (not start) a container; returns its ID.  No implicit pull: 404 if missing."""
        body: dict[str, Any] = {
            "Image": image,
            "Labels": dict(labels or {}),
            "Tty": tty,
            "OpenStdin": open_stdin,
            "AttachStdin": False,
            "AttachStdout": True,
            "AttachStderr": True,
            "HostConfig": dict(host_config or {}),
        }
        if command is not None:
            body["Cmd"] = list(command)
        response = await self.request(
            "POST", "/containers/create", params={"name": name}, json=body
        )
        return created_id(response.content, "the created container")

    async def start_container(self, container_id: str) -> None:
        await self.request("POST", f"/containers/{container_id}/start")

    async def stop_container(self, container_id: str, *, timeout: int | None = None) -> None:
        wait = (timeout if timeout is not None else 10) + 30.0
        await self.request(
            "POST", f"/containers/{container_id}/stop", params={"t": timeout}, timeout=wait
        )
        # Docker 25+ answers before its lists say so; an inspect waits for that (see
        # engine._lifecycle._settled).
        with contextlib.suppress(NotFound):
            await self.get_json(f"/containers/{container_id}/json")

    async def restart_container(self, container_id: str, *, timeout: int | None = None) -> None:
        wait = (timeout if timeout is not None else 10) + 30.0
        await self.request(
            "POST", f"/containers/{container_id}/restart", params={"t": timeout}, timeout=wait
        )

    async def remove_container(
        self, container_id: str, *, force: bool = False, volumes: bool = False
    ) -> None:
        await self.request(
            "DELETE", f"/containers/{container_id}",
            params={"force": int(force), "v": int(volumes)}, timeout=120.0,
        )

    # -- images -------------------------------------------------------------------

    async def images(self, *, all: bool = False, filters: Filters | None = None) -> list[Image]:
        params = {"all": int(all), **_filters_param(filters)}
        return images_from_api(await self.get_json("/images/json", params))

    async def image(self, name: str) -> ImageDetails:
        return ImageDetails.from_api(await self.get_json(f"/images/{name}/json"))

    async def remove_image(self, name: str, *, force: bool = False) -> list[str]:
        """Untag or delete an image; returns the daemon's "Untagged: …"/"Deleted: …" lines.

        Without ``force`` an image used by a container is refused (409, naming it).
        """
        response = await self.request(
            "DELETE", f"/images/{name}", params={"force": int(force)}, timeout=120.0
        )
        lines = []
        answer = decode_json(response.content, f"DELETE /images/{name}") or []
        for item in expect_list(answer, "the list of removed images"):
            for key in ("Untagged", "Deleted"):
                if isinstance(item, Mapping) and item.get(key):
                    lines.append(f"{key}: {item[key]}")
        return lines

    async def tag_image(self, name: str, repository: str, tag: str = "latest") -> None:
        await self.request("POST", f"/images/{name}/tag",
                            params={"repo": repository, "tag": tag})

    async def prune_images(self, *, filters: Filters | None = None) -> tuple[list[str], int]:
        """Remove dangling images only (never tagged ones); returns (IDs deleted, bytes freed).

        Extra ``filters`` narrow it further (``label=…``); ``dangling=true`` is always
        set so a caller cannot turn this into "remove every unused image".
        """
        merged = {**(filters or {}), "dangling": ["true"]}
        response = await self.request(
            "POST", "/images/prune", params=_filters_param(merged), timeout=300.0
        )
        data = expect_object(decode_json(response.content, "/images/prune") or {},
                             "the prune report")
        deleted = [str(d.get("Deleted")) for d in data.get("ImagesDeleted") or []
                   if d.get("Deleted")]
        return deleted, int(data.get("SpaceReclaimed") or 0)

    async def image_history(self, name: str) -> list[HistoryEntry]:
        return history_from_api(await self.get_json(f"/images/{name}/history"))

    # -- events -------------------------------------------------------------------

    async def events(
        self, *, since: str | None = None, until: str | None = None, filters: Filters | None = None
    ) -> AsyncIterator[Event]:
        """One ``/events`` connection; ends when the daemon closes it (or at ``until``)."""
        params = {"since": since, "until": until, **_filters_param(filters)}
        # From API 1.52 the daemon answers json-seq unless asked for plain JSON.
        headers = {"Accept": "application/json"}
        async for raw in self.json_stream("/events", params, headers):
            try:
                event = Event.from_api(raw)
            except ProtocolError as exc:  # one garbled event is no reason to drop the stream
                log.warning("skipped an event: %s", exc)
                continue
            yield event

    async def follow_events(
        self,
        *,
        filters: Filters | None = None,
        since: str | None = None,
        retry_delays: Sequence[float] = (0.2, 0.5, 1.0, 2.0, 5.0),
    ) -> AsyncIterator[Event]:
        """Events forever, reconnecting after a dropped connection from the last event seen.

        The daemon replays events at ``since`` inclusively, so the last one seen is
        skipped once.  Gives up (re-raising) only after every delay in
        ``retry_delays`` failed in a row.
        """
        last: Event | None = None
        failures = 0
        while True:
            try:
                async for event in self.events(since=since, filters=filters):
                    failures = 0
                    if last is not None and event == last:
                        continue
                    last = event
                    since = event.since_param
                    yield event
            except EngineUnreachable:
                if failures >= len(retry_delays):
                    raise
                await asyncio.sleep(retry_delays[failures])
                failures += 1
            else:
                if since is None:
                    since = _now_param()


def _now_param() -> str:
    import time

    ns = time.time_ns()
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def _json(response: Response, path: str) -> Any:
    return decode_json(response.content, path)


@asynccontextmanager
async def _deadline(endpoint: Endpoint, seconds: float | None, what: str
                    ) -> AsyncIterator[None]:
    """A total deadline for one exchange, however the bytes trickle in (None: none)."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise EngineUnreachable(
            f"the engine at {endpoint.url} did not finish answering {what} within"
            f" {seconds:g} s", endpoint.url) from None


def _as_podman(version: EngineVersion) -> EngineVersion:
    from dataclasses import replace

    return replace(version, product="Podman")


def _probe_skip_reason(endpoint: Endpoint) -> str | None:
    """Why a default socket need not be tried at all (it does not exist)."""
    path = endpoint.socket_path
    if path is None:
        return None
    if not os.path.exists(path):
        return f"no socket at {path}"
    if not Path(path).is_socket():
        return f"{path} is not a socket"
    return None


async def discover(
    host: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    deadline: float | None = None,
) -> tuple[Engine, tuple[Attempt, ...]]:
    """Connect to the engine the docker CLI would use, else the first default socket that answers.

    Raises :class:`EngineUnreachable` (or :class:`PermissionDenied` when the only
    sockets found refused this user) carrying every attempt, for a helpful message;
    an ssh host key that is not on record raises its :class:`HostKeyError` at once.
    """
    resolution = resolve(host, env=env, home=home)
    attempts: list[Attempt] = []
    denied: PermissionDenied | None = None
    for endpoint in resolution.endpoints:
        skip = None if resolution.explicit else _probe_skip_reason(endpoint)
        if skip:
            attempts.append(Attempt(endpoint.url, endpoint.source, skip))
            continue
        try:
            engine = await Engine.open(endpoint, deadline=deadline)
        except PermissionDenied as exc:
            denied = denied or exc
            attempts.append(Attempt(endpoint.url, endpoint.source, str(exc)))
        except (HostKeyError, TLSError) as exc:
            # Kept as it is (a fingerprint to ask about; a TLS failure is never followed by
            # a try elsewhere), so a caller can tell what to do about it.
            attempts.append(Attempt(endpoint.url, endpoint.source, str(exc)))
            exc.attempts = tuple(attempts)
            raise
        except EngineError as exc:
            attempts.append(Attempt(endpoint.url, endpoint.source, str(exc)))
        else:
            attempts.append(Attempt(endpoint.url, endpoint.source, engine.description, True))
            return engine, tuple(attempts)
    if denied is not None:
        raise PermissionDenied(str(denied), denied.endpoint, tuple(attempts))
    if resolution.explicit and attempts:
        raise EngineUnreachable(attempts[-1].outcome, attempts[-1].url, tuple(attempts))
    raise EngineUnreachable("no container engine found", "", tuple(attempts))
