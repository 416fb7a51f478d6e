"""``POST /images/{name}/push``: per-layer progress, the pushed digest, failures in plain words.

The daemon's stream, layer by layer: "Preparing", "Waiting", "Pushing" with
``progressDetail`` bytes, then "Pushed", "Layer already exists" or "Mounted from
…"; at the end ``{"aux": {"Tag", "Digest", "Size"}}`` (Docker; Podman's compat
service says ``"<tag>: digest: sha256:… size: N"`` in a status line, read too).
A refused or unreachable registry arrives as HTTP 200 with ``errorDetail`` in the
stream and is raised as :class:`PushFailed`, classified like a pull's failure.
"""

from __future__ import annotations

import enum
import re
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine._build.pulling import (
    PullFailure,
    classify_pull_error,
    encode_auth,
    insecure_registry_advice,
)
from engine._build.references import parse_reference
from engine._decoders import JSONStreamDecoder
from engine._errors import APIError, EngineError, NotFound

if TYPE_CHECKING:
    from engine._client import Engine


class PushState(enum.StrEnum):
    PREPARING = "preparing"
    WAITING = "waiting"
    PUSHING = "pushing"
    PUSHED = "pushed"
    EXISTS = "already exists"
    MOUNTED = "mounted"


_PUSH_STATUS = {
    "Preparing": PushState.PREPARING,
    "Waiting": PushState.WAITING,
    "Pushing": PushState.PUSHING,
    "Pushed": PushState.PUSHED,
    "Layer already exists": PushState.EXISTS,
}
_FINISHED = (PushState.PUSHED, PushState.EXISTS, PushState.MOUNTED)
_NOT_LOCAL = "does not exist locally"
_DIGEST_LINE = re.compile(r"(?:^|\s)digest: (sha256:[0-9a-f]{64})(?: size: (\d+))?")


@dataclass(frozen=True, slots=True)
class LayerPush:
    id: str
    state: PushState
    current: int = 0
    total: int = 0  # the daemon's estimate; ``current`` may run past it (compression)

    @property
    def finished(self) -> bool:
        return self.state in _FINISHED


@dataclass(frozen=True, slots=True)
class PushProgress:
    """One message of a push, with every layer's state so far; ``digest`` once known."""

    status: str
    layer: LayerPush | None
    layers: tuple[LayerPush, ...] = ()
    digest: str | None = None

    @property
    def layers_done(self) -> int:
        return sum(1 for layer in self.layers if layer.finished)

    @property
    def sent(self) -> int:
        """Bytes uploaded so far (layers the registry had cost nothing)."""
        return sum(layer.current for layer in self.layers if layer.state is not PushState.EXISTS)

    @property
    def fraction(self) -> float:
        """0..1 by bytes: a finished layer counts whole, one uploading by its bytes.

        A layer is weighed by its size (the daemon's estimate, or the bytes sent if
        more), so a small layer finishing does not jump the bar ahead of a big one
        still going; layers not sized yet weigh nothing until they are.
        """
        if not self.layers:
            return 0.0
        if all(layer.finished for layer in self.layers):
            return 1.0
        sent = whole = 0
        for layer in self.layers:
            weight = max(layer.total, layer.current)
            whole += weight
            sent += weight if layer.finished else layer.current
        return min(sent / whole, 0.99) if whole else 0.0


class PushFailed(EngineError):
    """A push that failed: ``reason`` for the UI, ``detail`` the daemon's words."""

    def __init__(self, reference: str, reason: PullFailure, detail: str, *,
                 podman: bool = False) -> None:
        self.reference = reference
        self.reason = reason
        self.detail = detail
        super().__init__(_push_message(reference, reason, detail, podman=podman))


def _push_message(reference: str, reason: PullFailure, detail: str, *, podman: bool) -> str:
    registry = parse_reference(reference).registry
    if _NOT_LOCAL in detail.lower():
        return f"there is no local image {reference} to push (tag one with that name first)"
    if reason is PullFailure.INSECURE:
        return f"cannot push {reference}: {insecure_registry_advice(registry, podman=podman)}"
    plain = {
        PullFailure.NOT_FOUND: f"{registry} has no repository for {reference}",
        PullFailure.UNAUTHORIZED: f"{registry} refused the push of {reference}"
                                  " (wrong user name or password, or no right to push there)",
        PullFailure.UNREACHABLE: f"the registry {registry} cannot be reached",
        PullFailure.RATE_LIMITED: f"{registry} is rate limiting; try again later",
        PullFailure.DISK_FULL: f"{registry} has no disk space left for {reference}",
        PullFailure.OTHER: f"pushing {reference} failed",
    }[reason]
    return f"{plain}: {detail}"


class PushDecoder:
    """Sans-IO: push JSON messages in, :class:`PushProgress` out (raises :class:`PushFailed`)."""

    def __init__(self, reference: str, *, podman: bool = False) -> None:
        self.reference = reference
        self.podman = podman
        self.layers: dict[str, LayerPush] = {}
        self.digest: str | None = None
        self.size: int | None = None

    def feed(self, message: Any) -> PushProgress | None:
        if not isinstance(message, Mapping):
            return None
        error = message.get("errorDetail") or ({"message": message["error"]}
                                               if message.get("error") else None)
        if error:
            detail = str(error.get("message") if isinstance(error, Mapping) else error)
            raise PushFailed(self.reference, classify_pull_error(detail), detail,
                             podman=self.podman)
        aux = message.get("aux")
        if isinstance(aux, Mapping) and aux.get("Digest"):
            self.digest = str(aux["Digest"])
            self.size = int(aux.get("Size") or 0) or self.size
        status = str(message.get("status") or "")
        if (found := _DIGEST_LINE.search(status)) is not None:
            self.digest = found.group(1)
            self.size = int(found.group(2)) if found.group(2) else self.size
        layer: LayerPush | None = None
        layer_id = message.get("id")
        state = _PUSH_STATUS.get(status)
        if state is None and status.startswith("Mounted from"):
            state = PushState.MOUNTED
        if state is not None and layer_id:
            old = self.layers.get(str(layer_id))
            counts = message.get("progressDetail") or {}
            current = int(counts.get("current") or 0)
            total = int(counts.get("total") or 0) or (old.total if old else 0)
            if state in _FINISHED and old is not None:
                current = max(old.current, old.total if state is PushState.PUSHED else 0)
            layer = LayerPush(str(layer_id), state, current, total)
            self.layers[layer.id] = layer
        if not status and layer is None and not isinstance(aux, Mapping):
            return None
        return PushProgress(status or (f"digest: {self.digest}" if self.digest else ""),
                            layer, tuple(self.layers.values()), self.digest)


async def push(client: Engine, reference: str, *, auth: str | None = None
               ) -> AsyncGenerator[PushProgress, None]:
    """Push a local image, yielding progress; the last one carries the digest.

    ``auth`` is an ``X-Registry-Auth`` value (the docker CLI's saved login, or one
    typed now: :func:`~engine.login_auth`); without one an empty login is sent, as
    the CLI does (Docker refuses a push without the header).  Closing the iterator
    early drops the connection, which stops the push.  Raises :class:`PushFailed`
    (refused, unreachable, insecure, no such local image).
    """
    ref = parse_reference(reference)
    shown = ref.familiar
    if ref.digest:
        raise PushFailed(shown, PullFailure.OTHER, "a digest cannot be pushed; push a tag")
    headers = {"X-Registry-Auth": auth or encode_auth({})}
    decoder = PushDecoder(shown, podman=client.version.is_podman)
    stream = JSONStreamDecoder()
    try:
        async with client.stream("POST", f"/images/{ref.familiar_name}/push",
                                 params={"tag": ref.tag or "latest"},
                                 headers=headers) as response:
            async for chunk in response.aiter_bytes():
                for message in stream.feed(chunk):
                    progress = decoder.feed(message)
                    if progress is not None:
                        yield progress
            stream.close()
    except NotFound as exc:
        raise PushFailed(shown, PullFailure.NOT_FOUND, exc.message + f" ({_NOT_LOCAL})",
                         podman=client.version.is_podman) from exc
    except APIError as exc:
        reason = classify_pull_error(exc.message, exc.status)
        if reason is PullFailure.OTHER:
            raise
        raise PushFailed(shown, reason, exc.message, podman=client.version.is_podman) from exc
    if decoder.digest is None:
        raise PushFailed(shown, PullFailure.OTHER, "the engine did not say the pushed digest")
