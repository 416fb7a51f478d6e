"""A client for the distribution API (``/v2/``), spoken directly over httpx.

Browsing a registry is not something the Engine API offers (it can search Docker
Hub, pull and push, not list a registry's repositories or tags), so this talks to
the registry itself, the way ``crane`` and ``regctl`` do:

- https with the certificate verified; a registry the engine treats as insecure
  (see :mod:`.security`) is tried over https without verification, then over
  plain http — Docker's own order;
- authentication as the registry asks for it on the first 401: ``Basic`` with
  the saved login, or the bearer-token flow (``WWW-Authenticate: Bearer
  realm=…,service=…,scope=…``: a token from the realm, with the login if there is
  one, anonymous otherwise; an identity token is exchanged with OAuth's
  ``refresh_token`` grant).  Tokens are kept in this object's memory only, per
  scope, and are never logged or written anywhere;
- every failure is a :class:`~engine._errors.RegistryError` with one line a user
  can act on (unreachable, wrong password, no such repository).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import httpx

from engine._build.credentials import Credentials, saved_credentials
from engine._errors import (
    ProtocolError,
    RegistryError,
    RegistryNotFound,
    RegistryUnauthorized,
    RegistryUnreachable,
    summarize,
)
from engine._models import parse_timestamp
from engine._registry.challenge import Challenge, next_link, parse_challenge
from engine._registry.manifests import (
    MANIFEST_ACCEPT,
    Manifest,
    parse_config,
    parse_manifest,
    sha256_digest,
)
from engine._registry.security import DOCKER_HUB_HOST, DOCKER_HUB_NAMES, registry_security

if TYPE_CHECKING:
    from engine._client import Engine

log = logging.getLogger(__name__)

#: An image config is a few kB (a long history: some hundred); more is not a config.
MAX_CONFIG_BYTES: Final = 16 * 1024 * 1024
MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
_PAGE = "1000"


@dataclass(frozen=True, slots=True)
class PlatformImage:
    """One image of a tag: its platform, manifest digest, size and creation time."""

    platform: str
    digest: str
    size: int
    created: datetime | None


@dataclass(frozen=True, slots=True)
class TagInfo:
    """A tag as ``crane ls``/``regctl tag ls`` and a registry browser show it.

    ``digest`` is the tag's manifest digest (what ``docker push`` prints and
    ``RepoDigests`` holds).  ``size`` is what the registry stores for it:
    config and layers, each distinct blob once across all platforms.  ``created``
    is the image config's time (the newest of the platforms for an index).
    """

    repository: str
    tag: str
    digest: str
    media_type: str
    size: int
    platforms: tuple[str, ...]
    created: datetime | None
    images: tuple[PlatformImage, ...]

    @property
    def is_index(self) -> bool:
        return len(self.images) != 1 or self.images[0].digest != self.digest


class _Lookup:
    """Marker: find the login the docker CLI would use."""


SAVED_LOGIN: Final = _Lookup()


class RegistryClient:
    """Read a registry's catalog, tags and manifests (see the module docstring).

    Use :func:`open_registry` to get one with the engine's insecure-registry rule
    and the saved login applied; close it with ``aclose`` or ``async with``.
    """

    def __init__(self, registry: str, *, credentials: Credentials | None = None,
                 insecure: bool = False, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.registry = registry
        self.insecure = insecure
        self._host = DOCKER_HUB_HOST if registry in DOCKER_HUB_NAMES else registry
        self._credentials = credentials
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            verify=not insecure, timeout=timeout, follow_redirects=True, transport=transport,
            headers={"User-Agent": "dockyard"})
        self._base: str | None = None
        self._base_lock = asyncio.Lock()
        self._tokens: dict[str, str] = {}  # scope → bearer token, in memory only
        self._basic = False  # the registry asked for Basic: send the login each time

    async def aclose(self) -> None:
        self._tokens.clear()
        await self._http.aclose()

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def scheme(self) -> str:
        """"https" or "http" once the first request decided it ("" before)."""
        return self._base.split(":", 1)[0] if self._base else ""

    # -- the API ------------------------------------------------------------------------------

    async def repositories(self) -> list[str]:
        """Every repository in the registry's catalog (``/v2/_catalog``, all pages)."""
        return await self._paged("/v2/_catalog", "repositories", "registry:catalog:*",
                                 "the catalog")

    async def tags(self, repository: str) -> list[str]:
        """The tags of ``repository`` (``/v2/NAME/tags/list``, all pages), sorted.

        The specification asks for lexical order, but registries differ (Debian's
        distribution 2.8 lists its storage directory as it comes): sorted here.
        """
        repository = api_repository(self.registry, repository)
        return sorted(await self._paged(f"/v2/{repository}/tags/list", "tags",
                                        _pull_scope(repository), f"the repository {repository}"))

    async def manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest of a tag or digest, index or image, with its digest."""
        what = f"{repository}@{reference}" if ":" in reference else f"{repository}:{reference}"
        repository = api_repository(self.registry, repository)
        response = await self._get(f"/v2/{repository}/manifests/{reference}",
                                   _pull_scope(repository), what,
                                   headers={"Accept": MANIFEST_ACCEPT})
        body = response.content
        if len(body) > MAX_MANIFEST_BYTES:
            raise ProtocolError(f"the manifest of {what} is too large to be one")
        digest = response.headers.get("docker-content-digest", "")
        if not digest.startswith("sha256:"):
            digest = sha256_digest(body)
        if reference.startswith("sha256:") and sha256_digest(body) != reference:
            raise ProtocolError(f"the registry sent a manifest for {what} that does not"
                                " match its digest")
        return parse_manifest(body, response.headers.get("content-type", ""), digest)

    async def blob(self, repository: str, digest: str, limit: int = MAX_CONFIG_BYTES) -> bytes:
        """A small blob (an image config), checked against its digest."""
        what = f"the blob {digest[:19]} of {repository}"
        repository = api_repository(self.registry, repository)
        response = await self._get(f"/v2/{repository}/blobs/{digest}",
                                   _pull_scope(repository), what)
        if len(response.content) > limit:
            raise ProtocolError(f"{what} is larger than an image config can be")
        if digest.startswith("sha256:") and sha256_digest(response.content) != digest:
            raise ProtocolError(f"the registry sent {what} with other content than its digest")
        return response.content

    async def tag_info(self, repository: str, tag: str) -> TagInfo:
        """Digest, size, platforms and created time of one tag (see :class:`TagInfo`)."""
        top = await self.manifest(repository, tag)
        if top.is_index:
            entries = [d for d in top.manifests
                       if not d.attestation and d.platform != "unknown/unknown"]
            pairs = await asyncio.gather(
                *(self._image(repository, d.digest, d.platform) for d in entries))
        else:
            pairs = [await self._image(repository, top.digest, "", top)]
        blobs: dict[str, int] = {}
        for _image, manifest in pairs:
            for blob in (manifest.config, *manifest.layers):
                if blob is not None:
                    blobs[blob.digest] = blob.size
        images = tuple(image for image, _ in pairs)
        dates = [i.created for i in images if i.created is not None]
        return TagInfo(repository, tag, top.digest, top.media_type, sum(blobs.values()),
                       tuple(i.platform for i in images if i.platform),
                       max(dates) if dates else None, images)

    async def tag_infos(self, repository: str, tags: Sequence[str] | None = None, *,
                        concurrency: int = 6) -> list[TagInfo]:
        """:meth:`tag_info` for every tag (or those given), a few at a time, in tag order.

        A tag deleted between the listing and its manifest is left out.
        """
        if tags is None:
            tags = await self.tags(repository)
        gate = asyncio.Semaphore(concurrency)

        async def one(tag: str) -> TagInfo | None:
            async with gate:
                try:
                    return await self.tag_info(repository, tag)
                except RegistryNotFound:
                    if len(tags) == 1:
                        raise
                    return None

        found = await asyncio.gather(*(one(tag) for tag in tags))
        return [info for info in found if info is not None]

    async def _image(self, repository: str, digest: str, platform: str,
                     manifest: Manifest | None = None) -> tuple[PlatformImage, Manifest]:
        if manifest is None:
            manifest = await self.manifest(repository, digest)
        if manifest.is_index:
            raise ProtocolError(f"the registry sent an index inside the index of {repository}")
        created: datetime | None = None
        if manifest.config is not None:
            config = parse_config(await self.blob(repository, manifest.config.digest))
            created = parse_timestamp(config.created)
            platform = platform or config.platform
        return PlatformImage(platform, digest, manifest.image_size, created), manifest

    # -- requests -----------------------------------------------------------------------------

    async def _paged(self, path: str, key: str, scope: str, what: str) -> list[str]:
        out: list[str] = []
        params: Mapping[str, str] | None = {"n": _PAGE}
        next_path: str | None = path
        while next_path:
            response = await self._get(next_path, scope, what, params=params)
            try:
                body = response.json()
            except ValueError:
                raise ProtocolError(f"the registry's answer for {what} is not JSON") from None
            items = body.get(key) if isinstance(body, Mapping) else None
            if items is not None and not isinstance(items, list):
                raise ProtocolError(f"the registry's answer for {what} has no list of {key}")
            out.extend(str(item) for item in items or ())
            link = next_link(response.headers.get("link", ""))
            if link:
                parts = urlsplit(link)
                next_path = parts.path + (f"?{parts.query}" if parts.query else "")
            else:
                next_path = None
            params = None
        return out

    async def _base_url(self) -> str:
        """https, or for an insecure registry whichever of https and http answers."""
        async with self._base_lock:
            if self._base is None:
                if not self.insecure:
                    self._base = f"https://{self._host}"
                else:
                    try:
                        await self._http.get(f"https://{self._host}/v2/")
                        self._base = f"https://{self._host}"
                    except httpx.TransportError:
                        self._base = f"http://{self._host}"
                    log.debug("registry %s: using %s", self.registry, self._base)
            return self._base

    async def _get(self, path: str, scope: str, what: str, *,
                   headers: Mapping[str, str] | None = None,
                   params: Mapping[str, str] | None = None) -> httpx.Response:
        url = await self._base_url() + path
        answered: Challenge | None = None
        while True:
            sent = dict(headers or {})
            authorization = self._authorization(scope)
            if authorization:
                sent["Authorization"] = authorization
            try:
                response = await self._http.get(url, headers=sent, params=params)
            except httpx.TransportError as exc:
                raise self._unreachable(exc) from None
            if response.status_code != 401 or answered is not None:
                break
            answered = parse_challenge(response.headers.get("www-authenticate", "")) \
                or Challenge("")
            if not await self._answer(answered, scope):
                break
        if response.is_success:
            return response
        raise self._failure(response, what)

    def _authorization(self, scope: str) -> str | None:
        token = self._tokens.get(scope)
        if token:
            return f"Bearer {token}"
        creds = self._credentials
        if self._basic and creds and creds.username:
            pair = f"{creds.username}:{creds.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        return None

    async def _answer(self, challenge: Challenge, scope: str) -> bool:
        """Set up what the challenge asks for; False when there is nothing to send."""
        if challenge.scheme == "basic":
            if self._basic or not (self._credentials and self._credentials.username):
                return False
            self._basic = True
            return True
        if challenge.scheme == "bearer" and challenge.params.get("realm"):
            self._tokens[scope] = await self._token(challenge, scope)
            return True
        return False

    async def _token(self, challenge: Challenge, scope: str) -> str:
        """A bearer token from the challenge's realm (anonymous without a login)."""
        realm = challenge.params["realm"]
        if urlsplit(realm).scheme not in ("https", "http"):
            raise ProtocolError(f"{self.registry} sent a token realm that is not a URL")
        form = {"service": challenge.params.get("service", ""),
                "scope": challenge.params.get("scope") or scope}
        creds = self._credentials
        try:
            if creds and creds.identitytoken:
                response = await self._http.post(realm, data={
                    **form, "grant_type": "refresh_token", "client_id": "dockyard",
                    "refresh_token": creds.identitytoken})
            else:
                auth = (creds.username, creds.password) if creds and creds.username else None
                response = await self._http.get(
                    realm, params={k: v for k, v in form.items() if v}, auth=auth)
        except httpx.TransportError as exc:
            raise self._unreachable(exc, f"the token server of {self.registry}") from None
        if response.status_code in (401, 403):
            raise self._unauthorized()
        if not response.is_success:
            raise RegistryError(f"the token server of {self.registry} answered"
                                f" {response.status_code}", self.registry, response.status_code)
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        token = body.get("token") or body.get("access_token") if isinstance(body, Mapping) \
            else None
        if not isinstance(token, str) or not token:
            raise ProtocolError(f"the token server of {self.registry} sent no token")
        return token

    # -- errors -------------------------------------------------------------------------------

    def _unauthorized(self) -> RegistryUnauthorized:
        creds = self._credentials
        if creds:
            who = f" as {creds.username}" if creds.username else ""
            return RegistryUnauthorized(
                f"{self.registry} refused the login{who}: wrong user name or password?",
                self.registry, 401)
        return RegistryUnauthorized(
            f"{self.registry} needs a login (docker login {self.registry})", self.registry, 401)

    def _failure(self, response: httpx.Response, what: str) -> RegistryError:
        status = response.status_code
        message = _error_message(response)
        if status == 401:
            return self._unauthorized()
        if status == 403:
            return RegistryUnauthorized(
                f"{self.registry} refused access to {what}" + (f": {message}" if message else ""),
                self.registry, status)
        if status == 404:
            return RegistryNotFound(f"{what} is not in {self.registry}"
                                    + (f" ({message})" if message else ""), self.registry, status)
        return RegistryError(f"{self.registry} answered {status} for {what}"
                             + (f": {message}" if message else ""), self.registry, status)

    def _unreachable(self, exc: httpx.TransportError, who: str = "") -> RegistryUnreachable:
        who = who or self.registry
        if isinstance(exc, httpx.TimeoutException):
            return RegistryUnreachable(f"{who} did not answer within {self._timeout:g} s",
                                       self.registry)
        reason = _reason(exc)
        if "WRONG_VERSION_NUMBER" in reason or "record layer" in reason.lower():
            return RegistryUnreachable(
                f"{who} does not answer over https; a plain-http registry must be among the"
                " engine's insecure registries", self.registry)
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            detail = reason.split("certificate verify failed:", 1)[-1].strip(" )")
            return RegistryUnreachable(f"the certificate of {who} is not trusted ({detail})",
                                       self.registry)
        return RegistryUnreachable(f"cannot reach {who}: {reason}", self.registry)


def api_repository(registry: str, repository: str) -> str:
    """The name the API wants: Docker Hub's official images live under ``library/``."""
    if registry in DOCKER_HUB_NAMES and "/" not in repository:
        return f"library/{repository}"
    return repository


def _pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def _reason(exc: BaseException) -> str:
    """The innermost cause in plain words: "connection refused", "name does not resolve"."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return f"{cause.reason or ''} {cause}".strip()
        if isinstance(cause, socket.gaierror):
            return f"no such host ({str(cause.strerror).lower()})"
        if isinstance(cause, OSError) and cause.errno and cause.errno > 0:
            return os.strerror(cause.errno).lower()  # asyncio's strerror names the address
        if isinstance(cause, OSError) and cause.strerror:
            return str(cause.strerror).lower()
        cause = cause.__cause__ or cause.__context__
    text = " ".join(str(exc).split())
    if "[Errno" in text and "] " in text:
        text = text.split("] ", 1)[1]
    return (text or type(exc).__name__).lower()


def _error_message(response: httpx.Response) -> str:
    """The registry's own words: the first ``errors[].message`` of a distribution error."""
    try:
        body = response.json()
    except ValueError:
        return summarize(response.text)[0] if response.text else ""
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        return str(errors[0].get("message") or errors[0].get("code") or "")
    return ""


async def open_registry(registry: str, client: Engine | None = None, *,
                        credentials: Credentials | _Lookup | None = SAVED_LOGIN,
                        timeout: float = 30.0) -> RegistryClient:
    """A :class:`RegistryClient` for ``registry`` as the engine ``client`` would see it.

    Plain http is allowed when the engine counts the registry as insecure (its
    ``/info``; Docker's default ``127.0.0.0/8`` without an engine).  The login is
    the one the docker CLI would use (config.json or its credential helper) unless
    ``credentials`` is given (None: anonymous).
    """
    security = await registry_security(client)
    insecure = await security.is_insecure(registry)
    if isinstance(credentials, _Lookup):
        credentials = await asyncio.to_thread(saved_credentials, registry)
    return RegistryClient(registry, credentials=credentials, insecure=insecure, timeout=timeout)
