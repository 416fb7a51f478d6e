"""Build and pull: the two JSON progress streams of the Engine API, as typed events.

``build()`` streams a :class:`~engine._context.ContextListing` as a tar body to
``POST /build`` and turns the answer into :data:`BuildEvent` values: classic-builder
steps ("Step 2/5 : RUN …"), output text, BuildKit vertices (decoded from the base64
protobuf ``moby.buildkit.trace`` messages with a tiny varint reader) and the final
image ID.  A failing step arrives as HTTP 200 with ``errorDetail`` in the stream; it is
raised as :class:`BuildFailed` carrying the step and its Dockerfile line when they can
be worked out.  Closing the iterator closes the response, which cancels the build on
the daemon.

``pull()`` does the same for ``POST /images/create``: per-layer progress and an
overall figure, and failures in plain words (:class:`PullFailed` with a ``reason``).
``parse_reference`` normalises image references like the docker CLI, and
``registry_auth`` reads the CLI's credentials for the ``X-Registry-Auth`` header.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncGenerator, AsyncIterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine._context import ContextListing, DockerfileInfo, context_tar, parse_dockerfile
from engine._decoders import JSONStreamDecoder
from engine._errors import APIError, EngineError, ProtocolError

if TYPE_CHECKING:
    from engine._client import Engine

__all__ = [
    "BuildComplete",
    "BuildDecoder",
    "BuildEvent",
    "BuildFailed",
    "BuildOutput",
    "BuildStep",
    "BuildVertex",
    "BuildVertexProgress",
    "ImageReference",
    "InvalidReference",
    "LayerProgress",
    "LayerState",
    "PullDecoder",
    "PullFailed",
    "PullFailure",
    "PullProgress",
    "SearchFailed",
    "SearchResult",
    "build",
    "decode_buildkit_status",
    "encode_auth",
    "login_auth",
    "parse_reference",
    "pull",
    "registry_auth",
    "save_login",
    "search_images",
]


# -- build events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuildStep:
    """A classic-builder step began: ``Step 2/5 : RUN make``."""

    number: int
    total: int
    instruction: str
    line: int | None = None  # in the Dockerfile, when it could be worked out


@dataclass(frozen=True, slots=True)
class BuildOutput:
    """Text the build printed (classic ``stream``, or a BuildKit vertex log)."""

    text: str
    vertex: str | None = None  # BuildKit: the digest of the vertex that printed it
    stream: int = 1  # 1 stdout, 2 stderr (BuildKit only)


@dataclass(frozen=True, slots=True)
class BuildVertex:
    """The state of one BuildKit vertex ("[2/3] RUN make"), sent each time it changes."""

    digest: str
    name: str
    started: datetime | None = None
    completed: datetime | None = None
    cached: bool = False
    error: str = ""
    line: int | None = None

    @property
    def state(self) -> str:
        """'cached', 'failed', 'done', 'running' or 'waiting' — the log's status column."""
        if self.error:
            return "failed"
        if self.cached:
            return "cached"
        if self.completed:
            return "done"
        return "running" if self.started else "waiting"

    @property
    def duration(self) -> float | None:
        if self.started and self.completed:
            return (self.completed - self.started).total_seconds()
        return None


@dataclass(frozen=True, slots=True)
class BuildVertexProgress:
    """BuildKit progress inside a vertex, e.g. "transferring context" 2 kB of 5 kB."""

    vertex: str
    id: str
    name: str
    current: int
    total: int


@dataclass(frozen=True, slots=True)
class BuildComplete:
    image_id: str


BuildEvent = BuildStep | BuildOutput | BuildVertex | BuildVertexProgress | BuildComplete


class BuildFailed(EngineError):
    """The build ran and failed (HTTP 200, ``errorDetail`` in the stream).

    ``step``/``instruction``/``line`` locate the failing instruction when known
    (classic: the last "Step N/M"; BuildKit: the vertex carrying the error).
    """

    def __init__(self, message: str, *, step: int | None = None, instruction: str | None = None,
                 line: int | None = None, vertex: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.step = step
        self.instruction = instruction
        self.line = line
        self.vertex = vertex

    def __str__(self) -> str:
        where = f" (Dockerfile line {self.line}: {self.instruction})" if self.line else ""
        return f"{self.message}{where}"


# -- protobuf: just enough of moby/buildkit's StatusResponse --------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtocolError("truncated varint in a BuildKit status message")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtocolError("overlong varint in a BuildKit status message")


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints/fixed, bytes for length-delimited."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ProtocolError("truncated field in a BuildKit status message")
            value, pos = data[pos:pos + size], pos + size
        elif wire == 1:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise ProtocolError(f"unsupported protobuf wire type {wire} in a BuildKit message")
        out.append((number, value))
    return out


def _timestamp(data: bytes) -> datetime:
    seconds = nanos = 0
    for number, value in _fields(data):
        if number == 1 and isinstance(value, int):
            seconds = value
        elif number == 2 and isinstance(value, int):
            nanos = value
    return datetime.fromtimestamp(seconds + nanos / 1e9, tz=UTC)


def _text(value: int | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def decode_buildkit_status(payload: bytes) -> list[BuildVertex | BuildVertexProgress | BuildOutput]:
    """One ``StatusResponse``: vertexes (1), statuses (2), logs (3), in that order."""
    events: list[BuildVertex | BuildVertexProgress | BuildOutput] = []
    for number, value in _fields(payload):
        if not isinstance(value, bytes):
            continue
        if number == 1:
            vertex: dict[str, Any] = {"digest": "", "name": ""}
            for fno, fval in _fields(value):
                if fno == 1:
                    vertex["digest"] = _text(fval)
                elif fno == 3:
                    vertex["name"] = _text(fval)
                elif fno == 4:
                    vertex["cached"] = bool(fval)
                elif fno == 5 and isinstance(fval, bytes):
                    vertex["started"] = _timestamp(fval)
                elif fno == 6 and isinstance(fval, bytes):
                    vertex["completed"] = _timestamp(fval)
                elif fno == 7:
                    vertex["error"] = _text(fval)
            events.append(BuildVertex(**vertex))
        elif number == 2:
            status: dict[str, Any] = {"vertex": "", "id": "", "name": "", "current": 0, "total": 0}
            for fno, fval in _fields(value):
                if fno == 1:
                    status["id"] = _text(fval)
                elif fno == 2:
                    status["vertex"] = _text(fval)
                elif fno == 3:
                    status["name"] = _text(fval)
                elif fno == 4 and isinstance(fval, int):
                    status["current"] = fval
                elif fno == 5 and isinstance(fval, int):
                    status["total"] = fval
            events.append(BuildVertexProgress(**status))
        elif number == 3:
            digest, stream, message = "", 1, b""
            for fno, fval in _fields(value):
                if fno == 1:
                    digest = _text(fval)
                elif fno == 3 and isinstance(fval, int):
                    stream = fval
                elif fno == 4 and isinstance(fval, bytes):
                    message = fval
            events.append(BuildOutput(message.decode("utf-8", "replace"), digest, stream))
    return events


# -- locating a failed step ----------------------------------------------------------------

_STEP = re.compile(r"^(?:Step|STEP) (\d+)/(\d+) ?: ?(.*)$", re.DOTALL)
_VERTEX_NAME = re.compile(r"^\[(?:(?P<stage>[^\]]*?) )?\s*(?P<n>\d+)/(?P<m>\d+)\] (?P<text>.*)$",
                          re.DOTALL)
# The instructions BuildKit counts in "[n/m]": those that make a vertex (FROM scratch does not).
_VERTEX_KEYWORDS = ("FROM", "RUN", "COPY", "ADD", "WORKDIR")
_SUCCESS = re.compile(r"^Successfully built ([0-9a-f]{12,64})\s*$")


def _squash(text: str) -> str:
    return " ".join(text.split())


def _vertex_line(info: DockerfileInfo | None, name: str) -> int | None:
    """The Dockerfile line of a BuildKit vertex named like ``[build 2/3] RUN make``."""
    match = _VERTEX_NAME.match(name)
    if info is None or match is None:
        return None
    text = match.group("text")
    keyword = text.split(" ", 1)[0].upper()
    number = int(match.group("n"))
    stage_name = (match.group("stage") or "").strip().lower() or None
    if stage_name and " " in stage_name:  # "linux/amd64 build": platform first
        stage_name = stage_name.rsplit(" ", 1)[1]
    candidates = [s for s in info.stages if s.name == stage_name] if stage_name else [
        s for s in info.stages if s.name is None] or list(info.stages)
    found: list[int] = []
    for stage in candidates:
        counted = [i for i in info.instructions_of(stage) if i.keyword in _VERTEX_KEYWORDS
                   and not (i.keyword == "FROM" and stage.base.lower() == "scratch")]
        if number <= len(counted) and counted[number - 1].keyword == keyword:
            instruction = counted[number - 1]
            if keyword == "FROM" or _squash(instruction.text) == _squash(text):
                return instruction.line
            found.append(instruction.line)
    if len(found) == 1:
        return found[0]
    exact = [i.line for i in info.instructions if _squash(i.text) == _squash(text)]
    return exact[0] if len(exact) == 1 else None


class BuildDecoder:
    """Sans-IO: JSON objects of a ``/build`` stream in, :data:`BuildEvent` values out.

    ``feed`` raises :class:`BuildFailed` on ``errorDetail``.  ``dockerfile`` (its text)
    lets steps and vertices carry their line numbers.
    """

    def __init__(self, dockerfile: str | None = None) -> None:
        self.info = parse_dockerfile(dockerfile) if dockerfile is not None else None
        self.image_id: str | None = None
        self.last_step: BuildStep | None = None
        self.vertices: dict[str, BuildVertex] = {}
        self._failed_vertex: BuildVertex | None = None
        self._partial = ""

    def feed(self, message: Any) -> list[BuildEvent]:
        if not isinstance(message, Mapping):
            return []
        error = message.get("errorDetail") or ({"message": message["error"]}
                                               if message.get("error") else None)
        if error:
            raise self._failure(str(error.get("message") or error).strip())
        events: list[BuildEvent] = []
        aux = message.get("aux")
        if message.get("id") == "moby.buildkit.trace" and isinstance(aux, str):
            try:
                payload = base64.b64decode(aux)
            except (binascii.Error, ValueError) as exc:
                raise ProtocolError(f"undecodable BuildKit trace: {exc}") from None
            for event in decode_buildkit_status(payload):
                if isinstance(event, BuildVertex):
                    event = replace(event, line=_vertex_line(self.info, event.name))
                    self.vertices[event.digest] = event
                    if event.error:
                        self._failed_vertex = event
                events.append(event)
            return events
        if isinstance(aux, Mapping) and aux.get("ID"):
            self.image_id = str(aux["ID"])
            return events
        stream = message.get("stream")
        if isinstance(stream, str):
            step = _STEP.match(stream.strip("\n"))
            if step:
                number, total = int(step.group(1)), int(step.group(2))
                instruction = step.group(3).strip()
                keyword = instruction.split(" ", 1)[0]
                line = self.info.line_of_step(number, keyword) if self.info else None
                if line is None and self.info is not None:
                    exact = [i.line for i in self.info.instructions
                             if _squash(i.text) == _squash(instruction)]
                    line = exact[0] if len(exact) == 1 else None
                self.last_step = BuildStep(number, total, instruction, line)
                events.append(self.last_step)
            elif stream:
                success = _SUCCESS.match(stream)
                if success and self.image_id is None:
                    self.image_id = success.group(1)
                events.append(BuildOutput(stream))
        elif message.get("status"):  # the classic builder's pull of a FROM image
            events.append(BuildOutput(str(message["status"]) + "\n"))
        return events

    def _failure(self, text: str) -> BuildFailed:
        vertex = self._failed_vertex
        if vertex is not None:
            name = _VERTEX_NAME.match(vertex.name)
            return BuildFailed(text, instruction=name.group("text") if name else vertex.name,
                               line=vertex.line, vertex=vertex.digest)
        step = self.last_step
        if step is not None:
            return BuildFailed(text, step=step.number, instruction=step.instruction,
                               line=step.line)
        return BuildFailed(text)


def _tar_source(context: ContextListing | bytes | AsyncIterable[bytes]) -> Any:
    if isinstance(context, ContextListing):
        return context_tar(context)
    return context


async def _builder_version(client: Engine) -> str:
    return str((await client.ping()).get("builder-version", "1"))


async def build(
    client: Engine,
    context: ContextListing | bytes | AsyncIterable[bytes],
    *,
    tags: Sequence[str] = (),
    dockerfile: str | None = None,
    buildargs: Mapping[str, str] | None = None,
    target: str | None = None,
    nocache: bool = False,
    pull: bool = False,
    labels: Mapping[str, str] | None = None,
    buildkit: bool | None = None,
    platform: str | None = None,
    dockerfile_text: str | None = None,
) -> AsyncGenerator[BuildEvent, None]:
    """Build an image from a context listing (or a ready tar), yielding progress events.

    ``dockerfile`` defaults to the listing's (``"Dockerfile"`` for a tar).
    ``buildkit=None`` uses BuildKit when ``/_ping`` says ``Builder-Version: 2``;
    ``True`` asks for it anyway (Docker 20.10 accepts ``version=2`` without saying
    so; Podman ignores it).  The last event is :class:`BuildComplete`; a failed
    build raises :class:`BuildFailed`, a refused one an :class:`APIError`.
    Closing the iterator (``aclose``/cancel) drops the connection, which stops the
    build on the daemon.  Failed steps' containers are removed (``forcerm``).
    """
    if isinstance(context, ContextListing):
        dockerfile = dockerfile or context.dockerfile
        if dockerfile_text is None:
            dockerfile_text = context.dockerfile_text()
    dockerfile = dockerfile or "Dockerfile"
    if buildkit is None:
        buildkit = await _builder_version(client) == "2"
    params: list[tuple[str, str | int | float | bool | None]] = [("t", tag) for tag in tags]
    params += [("dockerfile", dockerfile), ("rm", "1"), ("forcerm", "1"),
               ("version", "2" if buildkit else "1")]
    if buildargs:
        params.append(("buildargs", json.dumps(dict(buildargs))))
    if labels:
        params.append(("labels", json.dumps(dict(labels))))
    if target:
        params.append(("target", target))
    if nocache:
        params.append(("nocache", "1"))
    if pull:
        params.append(("pull", "1"))
    if platform:
        params.append(("platform", platform))
    decoder = BuildDecoder(dockerfile_text)
    stream = JSONStreamDecoder()
    async with client.stream(
        "POST", "/build", params=params, content=_tar_source(context),
        headers={"Content-Type": "application/x-tar"},
    ) as response:
        async for chunk in response.aiter_bytes():
            for message in stream.feed(chunk):
                for event in decoder.feed(message):
                    yield event
        stream.close()
    if decoder.image_id is None:
        raise ProtocolError("the build stream ended without an image ID or an error")
    yield BuildComplete(decoder.image_id)


# -- references ---------------------------------------------------------------------------

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_HEX64 = re.compile(r"^[a-f0-9]{64}$")
DOCKER_HUB = "docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"


class InvalidReference(EngineError, ValueError):
    """Text that is not an image reference (said in words a pull box can show)."""


@dataclass(frozen=True, slots=True)
class ImageReference:
    registry: str  # "docker.io", "ghcr.io", "127.0.0.1:5000"
    repository: str  # "library/busybox"
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``docker.io/library/busybox``"""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """``busybox``, ``user/app``, ``ghcr.io/o/r``: how the CLI shows and sends it."""
        if self.registry == DOCKER_HUB:
            return self.repository.removeprefix("library/")
        return self.name

    @property
    def normalized(self) -> str:
        """``docker.io/library/busybox:latest``: the name a pull box shows back."""
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def familiar(self) -> str:
        text = self.familiar_name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def __str__(self) -> str:
        return self.normalized


def parse_reference(text: str) -> ImageReference:
    """Parse and normalise like the CLI (``ParseNormalizedNamed`` + ``TagNameOnly``).

    ``busybox`` → ``docker.io/library/busybox:latest``; a digest-only reference gets
    no tag.  Raises :class:`InvalidReference` with the reason.
    """
    raw = text.strip()
    if not raw:
        raise InvalidReference("an image reference is empty")
    if _HEX64.match(raw):
        raise InvalidReference(
            f"{raw!r} looks like an image ID, not a name; IDs cannot be pulled")
    if len(raw) > 255 + 1 + 128 + 1 + 71 + 64:
        raise InvalidReference("the image reference is too long")
    domain, slash, rest = raw.partition("/")
    if not slash or (not any(c in domain for c in ".:") and domain != "localhost"
                     and domain.lower() == domain):
        domain, rest = DOCKER_HUB, raw
    elif not any(c in domain for c in ".:") and domain != "localhost":
        # The CLI takes "UPPER/case" for registry "UPPER"; the daemon then refuses it
        # ("repository name must be lowercase"): say so before anything is sent.
        raise InvalidReference(f"{raw!r}: repository names must be lowercase")
    match = _REFERENCE.match(f"{domain}/{rest}")
    if match is None:
        if any(c.isupper() for c in rest.split("@")[0].split(":")[0]):
            raise InvalidReference(f"{raw!r}: repository names must be lowercase")
        raise InvalidReference(
            f"{raw!r} is not a valid image reference (expected NAME[:TAG][@DIGEST],"
            " e.g. busybox:1.36 or ghcr.io/owner/app@sha256:…)")
    registry = match.group("domain")
    path = match.group("path")
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if len(f"{registry}/{path}") > 255:
        raise InvalidReference("the repository name is longer than 255 characters")
    tag, digest = match.group("tag"), match.group("digest")
    if tag is None and digest is None:
        tag = "latest"
    return ImageReference(registry, path, tag, digest)


# -- pull ---------------------------------------------------------------------------------


class LayerState(enum.StrEnum):
    WAITING = "waiting"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    DOWNLOADED = "downloaded"
    EXTRACTING = "extracting"
    DONE = "done"


_LAYER_STATUS = {
    "Pulling fs layer": LayerState.WAITING,
    "Waiting": LayerState.WAITING,
    "Downloading": LayerState.DOWNLOADING,
    "Verifying Checksum": LayerState.VERIFYING,
    "Download complete": LayerState.DOWNLOADED,
    "Extracting": LayerState.EXTRACTING,
    "Pull complete": LayerState.DONE,
    "Already exists": LayerState.DONE,
}


@dataclass(frozen=True, slots=True)
class LayerProgress:
    id: str
    state: LayerState
    current: int = 0
    total: int = 0  # compressed size while downloading; 0 when not known yet
    already_present: bool = False  # "Already exists": nothing to download


@dataclass(frozen=True, slots=True)
class PullProgress:
    """One message of a pull, with every layer's state so far (for the overall bar)."""

    status: str  # the daemon's words: "Downloading", "Digest: sha256:…"
    layer: LayerProgress | None  # the layer this message is about, if any
    layers: tuple[LayerProgress, ...] = ()

    @property
    def layers_done(self) -> int:
        return sum(1 for layer in self.layers if layer.state is LayerState.DONE)

    @property
    def downloaded(self) -> int:
        """Bytes downloaded over layers whose size is known (done ones count in full)."""
        return sum(layer.total if layer.state in (LayerState.DOWNLOADED, LayerState.EXTRACTING,
                                                  LayerState.DONE, LayerState.VERIFYING)
                   else layer.current for layer in self.layers)

    @property
    def fraction(self) -> float:
        """0..1 over the layers to download: half for downloading, half for extracting.

        Layers already present do not count, so the bar does not jump to 100% on the
        first "Already exists" and then fall back (the daemon announces every layer
        before downloading any).  A pull with nothing to download stays at 0; the end
        of the iterator is what says it finished.
        """
        layers = [layer for layer in self.layers if not layer.already_present]
        if not layers:
            return 0.0
        score = 0.0
        for layer in layers:
            if layer.state is LayerState.DONE:
                score += 1
            elif layer.state is LayerState.EXTRACTING:
                score += 0.5 + 0.5 * (layer.current / layer.total if layer.total else 0)
            elif layer.state in (LayerState.DOWNLOADED, LayerState.VERIFYING):
                score += 0.5
            elif layer.state is LayerState.DOWNLOADING and layer.total:
                score += 0.5 * layer.current / layer.total
        return score / len(layers)


class PullFailure(enum.StrEnum):
    NOT_FOUND = "not found"
    UNAUTHORIZED = "unauthorized"
    UNREACHABLE = "unreachable"
    RATE_LIMITED = "rate limited"
    DISK_FULL = "disk full"
    OTHER = "failed"


class PullFailed(EngineError):
    """A pull that failed, with ``reason`` for the UI and ``detail`` (the daemon's words)."""

    def __init__(self, reference: str, reason: PullFailure, detail: str) -> None:
        self.reference = reference
        self.reason = reason
        self.detail = detail
        super().__init__(_pull_message(reference, reason, detail))


_FAILURE_MARKERS: tuple[tuple[PullFailure, tuple[str, ...]], ...] = (
    (PullFailure.DISK_FULL, ("no space left on device",)),
    (PullFailure.RATE_LIMITED, ("toomanyrequests", "rate limit")),
    (PullFailure.UNAUTHORIZED, ("unauthorized", "authentication required", "access denied",
                                "denied:", "incorrect username or password",
                                "no basic auth credentials")),
    (PullFailure.NOT_FOUND, ("manifest unknown", "not found", "does not exist",
                             "name unknown")),
    (PullFailure.UNREACHABLE, ("connection refused", "no such host", "i/o timeout",
                               "network is unreachable", "tls handshake timeout",
                               "connection reset", "no route to host", "dial tcp",
                               "server gave http response to https client",
                               "certificate")),
)


def classify_pull_error(detail: str, status: int | None = None) -> PullFailure:
    lowered = detail.lower()
    for reason, markers in _FAILURE_MARKERS:
        if any(marker in lowered for marker in markers):
            return reason
    if status == 404:
        return PullFailure.NOT_FOUND
    if status == 401:
        return PullFailure.UNAUTHORIZED
    return PullFailure.OTHER


def _pull_message(reference: str, reason: PullFailure, detail: str) -> str:
    plain = {
        PullFailure.NOT_FOUND: f"{reference} was not found in its registry",
        PullFailure.UNAUTHORIZED: f"the registry refused access to {reference}"
                                  " (log in, or check the name)",
        PullFailure.UNREACHABLE: f"the registry of {reference} cannot be reached",
        PullFailure.RATE_LIMITED: f"the registry is rate limiting pulls of {reference};"
                                  " try again later or log in",
        PullFailure.DISK_FULL: f"no disk space left to store {reference}",
        PullFailure.OTHER: f"pulling {reference} failed",
    }[reason]
    return f"{plain}: {detail}"


class PullDecoder:
    """Sans-IO: ``/images/create`` JSON messages in, :class:`PullProgress` out."""

    def __init__(self, reference: str) -> None:
        self.reference = reference
        self.layers: dict[str, LayerProgress] = {}
        self.digest: str | None = None

    def feed(self, message: Any) -> PullProgress | None:
        if not isinstance(message, Mapping):
            return None
        error = message.get("errorDetail") or ({"message": message["error"]}
                                               if message.get("error") else None)
        if error:
            detail = str(error.get("message") or error)
            raise PullFailed(self.reference, classify_pull_error(detail), detail)
        status = str(message.get("status") or "")
        if status.startswith("Digest: "):
            self.digest = status.removeprefix("Digest: ").strip()
        layer_id = message.get("id")
        state = _LAYER_STATUS.get(status)
        layer: LayerProgress | None = None
        if state is not None and layer_id:
            counts = message.get("progressDetail") or {}
            old = self.layers.get(str(layer_id))
            current = int(counts.get("current") or 0)
            total = int(counts.get("total") or 0)
            if state in (LayerState.DOWNLOADED, LayerState.VERIFYING, LayerState.DONE) and old:
                current, total = old.total, old.total
            elif not total and old:
                total = old.total if state is old.state else total
            layer = LayerProgress(str(layer_id), state, current, total,
                                  already_present=status == "Already exists")
            self.layers[layer.id] = layer
        return PullProgress(status, layer, tuple(self.layers.values()))


def encode_auth(config: Mapping[str, str]) -> str:
    """X-Registry-Auth: base64url of the JSON auth config (Go's ``URLEncoding``)."""
    return base64.urlsafe_b64encode(json.dumps(dict(config)).encode()).decode()


async def pull(
    client: Engine, reference: str, *, auth: str | None = None, platform: str | None = None
) -> AsyncGenerator[PullProgress, None]:
    """Pull an image, yielding progress; raises :class:`PullFailed` in plain words.

    ``auth`` is an ``X-Registry-Auth`` value (see :func:`registry_auth`).  The image
    only exists once the iterator ends normally; closing it early cancels the pull.
    """
    ref = parse_reference(reference)
    shown = ref.familiar
    params = {"fromImage": ref.familiar_name, "tag": ref.digest or ref.tag or "latest"}
    if platform:
        params["platform"] = platform
    headers = {"X-Registry-Auth": auth} if auth else {}
    decoder = PullDecoder(shown)
    stream = JSONStreamDecoder()
    try:
        async with client.stream(
            "POST", "/images/create", params=params, headers=headers
        ) as response:
            async for chunk in response.aiter_bytes():
                for message in stream.feed(chunk):
                    progress = decoder.feed(message)
                    if progress is not None:
                        yield progress
            stream.close()
    except APIError as exc:
        reason = classify_pull_error(exc.message, exc.status)
        if reason is PullFailure.OTHER:
            raise
        raise PullFailed(shown, reason, exc.message) from exc


# -- credentials --------------------------------------------------------------------------


def _registry_key(server: str) -> str:
    """'https://index.docker.io/v1/' → 'index.docker.io'; 'http://h:5000/x' → 'h:5000'."""
    host = server.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    return host.split("/", 1)[0].lower()


@dataclass(frozen=True, slots=True)
class _Credentials:
    username: str = ""
    password: str = ""
    identitytoken: str = ""
    serveraddress: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


def _from_helper(helper: str, server: str) -> _Credentials | None:
    program = shutil.which(f"docker-credential-{helper}")
    if program is None:
        raise EngineError(f"the credential helper docker-credential-{helper} is not installed")
    try:
        result = subprocess.run([program, "get"], input=server, capture_output=True, text=True,
                                timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"docker-credential-{helper} failed: {exc}") from None
    if result.returncode != 0:
        if "credentials not found" in (result.stdout + result.stderr).lower():
            return None
        raise EngineError(f"docker-credential-{helper} failed: "
                          f"{(result.stderr or result.stdout).strip()}")
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise EngineError(f"docker-credential-{helper} printed something unreadable") from None
    username, secret = str(data.get("Username") or ""), str(data.get("Secret") or "")
    if username == "<token>":
        return _Credentials(identitytoken=secret, serveraddress=server)
    return _Credentials(username=username, password=secret, serveraddress=server)


def registry_auth(registry: str, config_dir: Path | None = None) -> str | None:
    """The ``X-Registry-Auth`` value for ``registry`` from the docker CLI's config, or None.

    Reads ``config.json`` in ``config_dir`` (default ``$DOCKER_CONFIG`` or
    ``~/.docker``): ``credHelpers[registry]``, then ``credsStore``, then ``auths``
    (whose keys may be URLs; Docker Hub's is ``https://index.docker.io/v1/``).
    Helpers are run as ``docker-credential-NAME get`` with the server on stdin.
    """
    if config_dir is None:
        config_dir = _config_dir()
    try:
        config = json.loads((config_dir / "config.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot read {config_dir / 'config.json'}: {exc}") from None
    server = _auth_server(registry)
    wanted = _registry_key(server)
    auths = config.get("auths") or {}
    key: str | None = next((str(k) for k in auths if _registry_key(k) == wanted), None)
    helpers = config.get("credHelpers") or {}
    helper = next((v for k, v in helpers.items() if _registry_key(k) == wanted), None)
    helper = helper or config.get("credsStore")
    creds: _Credentials | None = None
    if helper:
        creds = _from_helper(str(helper), key or server)
    if creds is None and key is not None:
        entry: Mapping[str, Any] = auths[key] or {}
        username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
        if entry.get("auth"):
            try:
                decoded = base64.b64decode(entry["auth"]).decode()
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise EngineError(f"the saved login for {key} is unreadable") from None
            username, _, password = decoded.partition(":")
        creds = _Credentials(username=username, password=password,
                             identitytoken=str(entry.get("identitytoken") or ""),
                             serveraddress=key)
    if creds is None:
        return None
    body = {"username": creds.username, "password": creds.password,
            "serveraddress": creds.serveraddress}
    if creds.identitytoken:
        body = {"identitytoken": creds.identitytoken, "serveraddress": creds.serveraddress}
    return encode_auth(body)



def _auth_server(registry: str) -> str:
    """The key a login is filed under: Docker Hub's is a URL, others are host[:port]."""
    hub = registry in (DOCKER_HUB, "index.docker.io", "registry-1.docker.io")
    return DOCKER_HUB_AUTH_KEY if hub else registry


def _config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def login_auth(registry: str, username: str, password: str) -> str:
    """The ``X-Registry-Auth`` value for a username and password typed into a login dialog."""
    return encode_auth({"username": username, "password": password,
                        "serveraddress": _auth_server(registry)})


def save_login(registry: str, username: str, password: str,
               config_dir: Path | None = None) -> Path:
    """Store a login in ``config.json`` the way ``docker login`` does without a helper.

    Only called when the user asked for it: the password is saved base64-encoded
    (not encrypted), exactly as the docker CLI does.  Other keys are kept; the
    file is written to a temporary name and renamed, so a crash cannot leave it
    half-written.
    """
    if config_dir is None:
        config_dir = _config_dir()
    path = config_dir / "config.json"
    try:
        config: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        config = {}
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot read {path}: {exc}") from None
    auths = config.setdefault("auths", {})
    secret = base64.b64encode(f"{username}:{password}".encode()).decode()
    auths[_auth_server(registry)] = {"auth": secret}
    config_dir.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.dockyard-tmp")
    temporary.write_text(json.dumps(config, indent="\t") + "\n")
    temporary.chmod(0o600)
    temporary.replace(path)
    return path


# -- search -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchResult:
    name: str
    description: str
    stars: int
    official: bool

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> SearchResult:
        return cls(
            name=str(raw.get("name") or ""),
            description=str(raw.get("description") or ""),
            stars=int(raw.get("star_count") or 0),
            official=bool(raw.get("is_official")),
        )


class SearchFailed(EngineError):
    """The engine could not search its registries (offline, or the registry refused)."""


_OFFLINE_MARKERS = ("no such host", "dial tcp", "network is unreachable", "i/o timeout",
                    "connection refused", "tls handshake timeout")


async def search_images(client: Engine, term: str, *, limit: int = 25) -> list[SearchResult]:
    """Search Docker Hub (Podman: its configured registries) through the engine.

    The engine, not this machine, reaches the registry, so an offline engine is
    reported as such rather than as an error of ours.
    """
    if not term.strip():
        return []
    try:
        response = await client.request("GET", "/images/search",
                                         params={"term": term.strip(), "limit": limit},
                                         timeout=60.0)
    except APIError as exc:
        detail = exc.message
        if any(marker in detail.lower() for marker in _OFFLINE_MARKERS):
            raise SearchFailed(
                f"the engine cannot reach the registry to search (offline?): {detail}"
            ) from exc
        raise SearchFailed(f"the search failed: {detail}") from exc
    return [SearchResult.from_api(item) for item in response.json() or []]
