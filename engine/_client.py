"""The asyncio client for the Engine HTTP API (Docker Engine and Podman's compat service).

One :class:`Engine` owns one ``httpx.AsyncClient`` bound to one endpoint and a
negotiated API version.  :func:`discover` finds an endpoint the way the docker CLI
does and connects to the first one that answers.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Self

import httpx

from engine._decoders import JSONStreamDecoder
from engine._endpoint import Endpoint, resolve
from engine._errors import (
    EndpointError,
    EngineError,
    EngineUnreachable,
    PermissionDenied,
    ProtocolError,
    error_for_status,
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
)

log = logging.getLogger(__name__)

#: The oldest API whose response shapes we read (Podman 4.1 and Docker 19.03 speak it).
MIN_API_VERSION = (1, 40)
#: The newest API we know; newer daemons are asked to speak this one.
MAX_API_VERSION = (1, 51)

#: Ordinary calls; long ones (stop, remove, df) pass their own.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: Streams stay open as long as the daemon has something to say, however quiet.
STREAM_TIMEOUT = httpx.Timeout(None, connect=5.0)

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


def _os_errno(exc: BaseException) -> int | None:
    """The errno of the OSError at the root of an httpx exception chain, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return current.errno
        current = current.__cause__ or current.__context__
    return None


def _connect_failure(exc: BaseException, endpoint: Endpoint) -> EngineUnreachable:
    """The engine's exception for a failed connect (httpx's ConnectError or a raw OSError).

    TLS failures are looked for first: an ``ssl.SSLError`` is an OSError whose errno
    is OpenSSL's (1 for any handshake failure), not the OS's, and errno 1 read as
    EPERM would tell a user with an untrusted certificate that they lack permission.
    """
    where = endpoint.socket_path or endpoint.url
    tls_error: BaseException | None = exc
    seen: set[int] = set()
    while tls_error is not None and not isinstance(tls_error, ssl.SSLError):
        seen.add(id(tls_error))
        tls_error = tls_error.__cause__ or tls_error.__context__
        if id(tls_error) in seen:
            tls_error = None
    if isinstance(tls_error, ssl.SSLCertVerificationError):
        why = tls_error.verify_message or tls_error.reason or str(tls_error)
        return EngineUnreachable(
            f"the TLS certificate of the engine at {where} was not trusted ({why})", endpoint.url
        )
    if isinstance(tls_error, ssl.SSLError):
        return EngineUnreachable(
            f"the TLS handshake with {where} failed ({tls_error.reason or tls_error})",
            endpoint.url,
        )
    code = _os_errno(exc)
    if code in (errno.EACCES, errno.EPERM):
        return PermissionDenied(
            f"permission denied on {where}: this user may not talk to the engine", endpoint.url
        )
    if code == errno.ENOENT:
        return EngineUnreachable(f"no socket at {where}", endpoint.url)
    if code == errno.ECONNREFUSED:
        return EngineUnreachable(f"connection refused at {where} (is the daemon running?)",
                                 endpoint.url)
    return EngineUnreachable(f"cannot connect to {where}: {exc}", endpoint.url)


def _error_message(response: httpx.Response) -> str:
    """The daemon's own message: JSON ``message`` (Docker, Podman) or the plain text body."""
    body = response.content
    if "json" in response.headers.get("content-type", ""):
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, Mapping) and data.get("message"):
            return str(data["message"]).strip()
    text = body.decode("utf-8", "replace").strip()
    return text or f"HTTP {response.status_code} {response.reason_phrase}"


def _filters_param(filters: Filters | None) -> dict[str, str]:
    return {"filters": json.dumps({k: list(v) for k, v in filters.items()})} if filters else {}


def _ssl_context(endpoint: Endpoint) -> ssl.SSLContext | bool:
    tls = endpoint.tls
    if tls is None:
        return True
    context = ssl.create_default_context(cafile=str(tls.ca_cert) if tls.ca_cert else None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.client_cert and tls.client_key:
        context.load_cert_chain(str(tls.client_cert), str(tls.client_key))
    return context


def _http_client(endpoint: Endpoint) -> httpx.AsyncClient:
    # Every followed stream (events, logs, stats) holds a connection of its own.
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=8)
    if endpoint.scheme == "unix":
        transport = httpx.AsyncHTTPTransport(uds=endpoint.socket_path, limits=limits)
    elif endpoint.scheme == "tcp":
        transport = httpx.AsyncHTTPTransport(verify=_ssl_context(endpoint), limits=limits)
    else:
        raise EndpointError(
            f"{endpoint.scheme}:// endpoints are not supported yet ({endpoint.url});"
            " use a unix:// socket or tcp:// address"
        )
    return httpx.AsyncClient(
        transport=transport, base_url=endpoint.http_base, timeout=DEFAULT_TIMEOUT
    )


class Engine:
    """A connection to one engine at a negotiated API version.

    Create it with :meth:`open` (one endpoint) or :func:`discover` (the CLI's
    search order); close it with :meth:`aclose` or ``async with``.
    """

    def __init__(
        self, endpoint: Endpoint, http: httpx.AsyncClient, api_version: str, version: EngineVersion
    ) -> None:
        self.endpoint = endpoint
        self.api_version = api_version
        self.version = version
        self._http = http

    @classmethod
    async def open(cls, endpoint: Endpoint) -> Engine:
        http = _http_client(endpoint)
        try:
            with _translate(endpoint):
                ping = await http.head("/_ping")
                if ping.status_code >= 400 or "api-version" not in ping.headers:
                    ping = await http.get("/_ping")
                if ping.status_code >= 400:
                    raise error_for_status(ping.status_code, _error_message(ping))
                server_api = ping.headers.get("api-version")
                if not server_api:
                    raise ProtocolError(f"{endpoint.url} answered, but not like a container engine")
                api_version = negotiate(server_api)
                raw_version = await http.get(f"/v{api_version}/version")
                if raw_version.status_code >= 400:
                    raise error_for_status(raw_version.status_code, _error_message(raw_version))
                version = EngineVersion.from_api(raw_version.json())
                if "libpod-api-version" in ping.headers and not version.is_podman:
                    version = _as_podman(version)
        except BaseException:
            await http.aclose()
            raise
        return cls(endpoint, http, api_version, version)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def description(self) -> str:
        """'Docker Engine 20.10.24 (API 1.41)' — what a status bar shows."""
        return f"{self.version.product} {self.version.version} (API {self.api_version})"

    # -- plumbing -----------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"/v{self.api_version}{path}"

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> httpx.Response:
        with _translate(self.endpoint):
            response = await self._http.request(
                method,
                self._url(path),
                params=_clean_params(params),
                json=body,
                timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            )
        # 304: start of a running / stop of a stopped container — already done.
        if response.status_code >= 400:
            raise error_for_status(response.status_code, _error_message(response))
        return response

    async def _get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = await self._request("GET", path, params=params)
        try:
            return response.json()
        except ValueError as exc:
            raise ProtocolError(f"unreadable answer from {path}: {exc}") from exc

    @asynccontextmanager
    async def _stream(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        request = self._http.build_request(
            method, self._url(path), params=_clean_params(params), headers=headers,
            timeout=STREAM_TIMEOUT,
        )
        with _translate(self.endpoint):
            response = await self._http.send(request, stream=True)
        try:
            if response.status_code >= 400:
                await response.aread()
                raise error_for_status(response.status_code, _error_message(response))
            yield response
        finally:
            await response.aclose()

    async def _json_stream(
        self, path: str, params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Any]:
        decoder = JSONStreamDecoder()
        async with self._stream("GET", path, params=params, headers=headers) as response:
            with _translate(self.endpoint):
                async for chunk in response.aiter_raw():
                    for value in decoder.feed(chunk):
                        yield value
        decoder.close()

    # -- system -------------------------------------------------------------------

    async def ping(self) -> None:
        with _translate(self.endpoint):
            response = await self._http.get("/_ping", timeout=httpx.Timeout(5.0))
        if response.status_code >= 400:
            raise error_for_status(response.status_code, _error_message(response))

    async def get_version(self) -> EngineVersion:
        version = EngineVersion.from_api(await self._get_json("/version"))
        return _as_podman(version) if self.version.is_podman else version

    async def info(self) -> SystemInfo:
        return SystemInfo.from_api(await self._get_json("/info"))

    # -- containers ---------------------------------------------------------------

    async def containers(
        self, *, all: bool = True, filters: Filters | None = None
    ) -> list[Container]:
        params = {"all": int(all), **_filters_param(filters)}
        raw = await self._get_json("/containers/json", params)
        return [Container.from_api(item) for item in raw]

    async def container(self, container_id: str) -> ContainerDetails:
        return ContainerDetails.from_api(await self._get_json(f"/containers/{container_id}/json"))

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
        response = await self._request(
            "POST", "/containers/create", params={"name": name}, body=body
        )
        return str(response.json()["Id"])

    async def start_container(self, container_id: str) -> None:
        await self._request("POST", f"/containers/{container_id}/start")

    async def stop_container(self, container_id: str, *, timeout: int | None = None) -> None:
        wait = (timeout if timeout is not None else 10) + 30.0
        await self._request(
            "POST", f"/containers/{container_id}/stop", params={"t": timeout}, timeout=wait
        )

    async def restart_container(self, container_id: str, *, timeout: int | None = None) -> None:
        wait = (timeout if timeout is not None else 10) + 30.0
        await self._request(
            "POST", f"/containers/{container_id}/restart", params={"t": timeout}, timeout=wait
        )

    async def remove_container(
        self, container_id: str, *, force: bool = False, volumes: bool = False
    ) -> None:
        await self._request(
            "DELETE", f"/containers/{container_id}",
            params={"force": int(force), "v": int(volumes)}, timeout=120.0,
        )

    # -- images -------------------------------------------------------------------

    async def images(self, *, all: bool = False, filters: Filters | None = None) -> list[Image]:
        params = {"all": int(all), **_filters_param(filters)}
        return [Image.from_api(raw) for raw in await self._get_json("/images/json", params)]

    async def image(self, name: str) -> ImageDetails:
        return ImageDetails.from_api(await self._get_json(f"/images/{name}/json"))

    async def remove_image(self, name: str, *, force: bool = False) -> list[str]:
        """Untag or delete an image; returns the daemon's "Untagged: …"/"Deleted: …" lines.

        Without ``force`` an image used by a container is refused (409, naming it).
        """
        response = await self._request(
            "DELETE", f"/images/{name}", params={"force": int(force)}, timeout=120.0
        )
        lines = []
        for item in response.json() or []:
            for key in ("Untagged", "Deleted"):
                if item.get(key):
                    lines.append(f"{key}: {item[key]}")
        return lines

    async def tag_image(self, name: str, repository: str, tag: str = "latest") -> None:
        await self._request("POST", f"/images/{name}/tag",
                            params={"repo": repository, "tag": tag})

    async def prune_images(self, *, filters: Filters | None = None) -> tuple[list[str], int]:
        """Remove dangling images only (never tagged ones); returns (IDs deleted, bytes freed).

        Extra ``filters`` narrow it further (``label=…``); ``dangling=true`` is always
        set so a caller cannot turn this into "remove every unused image".
        """
        merged = {**(filters or {}), "dangling": ["true"]}
        response = await self._request(
            "POST", "/images/prune", params=_filters_param(merged), timeout=300.0
        )
        data = response.json() or {}
        deleted = [str(d.get("Deleted")) for d in data.get("ImagesDeleted") or []
                   if d.get("Deleted")]
        return deleted, int(data.get("SpaceReclaimed") or 0)

    async def image_history(self, name: str) -> list[HistoryEntry]:
        raw = await self._get_json(f"/images/{name}/history")
        return [HistoryEntry.from_api(item) for item in raw]

    # -- events -------------------------------------------------------------------

    async def events(
        self, *, since: str | None = None, until: str | None = None, filters: Filters | None = None
    ) -> AsyncIterator[Event]:
        """One ``/events`` connection; ends when the daemon closes it (or at ``until``)."""
        params = {"since": since, "until": until, **_filters_param(filters)}
        # From API 1.52 the daemon answers json-seq unless asked for plain JSON.
        headers = {"Accept": "application/json"}
        async for raw in self._json_stream("/events", params, headers):
            if isinstance(raw, Mapping):
                yield Event.from_api(raw)

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


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not params:
        return None
    return {k: v for k, v in params.items() if v is not None}


def _as_podman(version: EngineVersion) -> EngineVersion:
    from dataclasses import replace

    return replace(version, product="Podman")


@contextmanager
def _translate(endpoint: Endpoint) -> Iterator[None]:
    """Turn httpx's transport errors into the engine's exception tree."""
    try:
        yield
    except httpx.ConnectError as exc:
        raise _connect_failure(exc, endpoint) from exc
    except httpx.TimeoutException as exc:
        raise EngineUnreachable(f"the engine at {endpoint.url} did not answer in time",
                                endpoint.url) from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise EngineUnreachable(f"the connection to {endpoint.url} was lost ({exc})",
                                endpoint.url) from exc
    except httpx.DecodingError as exc:
        raise ProtocolError(str(exc)) from exc


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
) -> tuple[Engine, tuple[Attempt, ...]]:
    """Connect to the engine the docker CLI would use, else the first default socket that answers.

    Raises :class:`EngineUnreachable` (or :class:`PermissionDenied` when the only
    sockets found refused this user) carrying every attempt, for a helpful message.
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
            engine = await Engine.open(endpoint)
        except PermissionDenied as exc:
            denied = denied or exc
            attempts.append(Attempt(endpoint.url, endpoint.source, str(exc)))
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
