"""``POST /images/create``: per-layer progress, an overall figure, failures in plain words.
"""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine._decoders import JSONStreamDecoder
from engine._errors import APIError, EngineError

if TYPE_CHECKING:
    from engine._client import Engine
from engine._build.references import InvalidReference, parse_reference


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
    #: A registry that speaks plain HTTP, which the engine refuses unless told to allow it.
    INSECURE = "insecure registry"
    RATE_LIMITED = "rate limited"
    DISK_FULL = "disk full"
    OTHER = "failed"


class PullFailed(EngineError):
    """A pull that failed, with ``reason`` for the UI and ``detail`` (the daemon's words)."""

    def __init__(self, reference: str, reason: PullFailure, detail: str, *,
                 podman: bool = False) -> None:
        self.reference = reference
        self.reason = reason
        self.detail = detail
        super().__init__(_pull_message(reference, reason, detail, podman=podman))


_FAILURE_MARKERS: tuple[tuple[PullFailure, tuple[str, ...]], ...] = (
    (PullFailure.DISK_FULL, ("no space left on device",)),
    (PullFailure.RATE_LIMITED, ("toomanyrequests", "rate limit")),
    (PullFailure.UNAUTHORIZED, ("unauthorized", "authentication required", "access denied",
                                "denied:", "incorrect username or password",
                                "no basic auth credentials")),
    (PullFailure.NOT_FOUND, ("manifest unknown", "not found", "does not exist",
                             "name unknown")),
    (PullFailure.INSECURE, ("server gave http response to https client",)),
    (PullFailure.UNREACHABLE, ("connection refused", "no such host", "i/o timeout",
                               "network is unreachable", "tls handshake timeout",
                               "connection reset", "no route to host", "dial tcp",
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


def insecure_registry_advice(registry: str, *, podman: bool) -> str:
    """Why a plain-HTTP registry is refused and the one setting that allows it."""
    if podman:
        how = (f'add [[registry]] location = "{registry}" insecure = true to'
               " /etc/containers/registries.conf (~/.config/containers/registries.conf"
               " for rootless Podman)")
    else:
        how = (f'add "insecure-registries": ["{registry}"] to /etc/docker/daemon.json'
               " and restart Docker")
    engine = "Podman" if podman else "Docker"
    return (f"{registry} is an insecure registry (plain HTTP, no TLS), which {engine}"
            f" refuses by default; to allow it, {how}")


def _pull_message(reference: str, reason: PullFailure, detail: str, *,
                  podman: bool = False) -> str:
    if reason is PullFailure.INSECURE:
        registry = _registry_of(reference)
        return f"cannot pull {reference}: {insecure_registry_advice(registry, podman=podman)}"
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


def _registry_of(reference: str) -> str:
    try:
        return parse_reference(reference).registry
    except InvalidReference:
        return reference.split("/", 1)[0]


class PullDecoder:
    """Sans-IO: ``/images/create`` JSON messages in, :class:`PullProgress` out.

    ``podman``: the engine is Podman (its settings differ when it must be told
    something, such as allowing an insecure registry).
    """

    def __init__(self, reference: str, *, podman: bool = False) -> None:
        self.reference = reference
        self.podman = podman
        self.layers: dict[str, LayerProgress] = {}
        self.digest: str | None = None

    def feed(self, message: Any) -> PullProgress | None:
        if not isinstance(message, Mapping):
            return None
        error = message.get("errorDetail") or ({"message": message["error"]}
                                               if message.get("error") else None)
        if error:
            detail = str(error.get("message") or error)
            raise PullFailed(self.reference, classify_pull_error(detail), detail,
                             podman=self.podman)
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
    decoder = PullDecoder(shown, podman=client.version.is_podman)
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
        raise PullFailed(shown, reason, exc.message, podman=client.version.is_podman) from exc
