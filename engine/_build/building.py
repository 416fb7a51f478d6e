"""``POST /build``: the context as a tar body, the answer decoded into build events.

A failing step arrives as HTTP 200 with ``errorDetail`` in the stream; it is
raised as :class:`BuildFailed` carrying the step and its Dockerfile line when
they can be worked out.  Closing the iterator cancels the build on the daemon.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import AsyncGenerator, AsyncIterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine._context import ContextListing, DockerfileInfo, context_tar, parse_dockerfile
from engine._decoders import JSONStreamDecoder
from engine._errors import ProtocolError

if TYPE_CHECKING:
    from engine._client import Engine
from engine._build.buildkit import decode_buildkit_status
from engine._build.events import (
    BuildCacheUse,
    BuildComplete,
    BuildEvent,
    BuildFailed,
    BuildOutput,
    BuildStep,
    BuildVertex,
)

_STEP = re.compile(r"^(?:Step|STEP) (\d+)/(\d+) ?: ?(.*)$", re.DOTALL)
_VERTEX_NAME = re.compile(r"^\[(?:(?P<stage>[^\]]*?) )?\s*(?P<n>\d+)/(?P<m>\d+)\] (?P<text>.*)$",
                          re.DOTALL)
# The instructions BuildKit counts in "[n/m]": those that make a vertex (FROM scratch does not).
_VERTEX_KEYWORDS = ("FROM", "RUN", "COPY", "ADD", "WORKDIR")
_SUCCESS = re.compile(r"^Successfully built ([0-9a-f]{12,64})\s*$")
# Instruction flags and forms only BuildKit knows (the classic builder refuses them).
_BUILDKIT_ONLY = re.compile(r"(?im)^\s*(?:#\s*syntax\s*=|(?:RUN|COPY|ADD)\s+(?:--\S+\s+)*"
                            r"--(?:mount|chmod|link|parents|exclude|network|security|checksum)\b"
                            r"|(?:RUN|COPY)\b.*<<)")
# Docker's classic builder: " ---> Using cache"; Buildah (Podman): "--> Using cache <id>".
_USING_CACHE = re.compile(r"^\s*-{2,3}> Using cache\b")


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
        #: Every classic step, by number, as last reported (``cached`` once it said so).
        self.steps: dict[int, BuildStep] = {}
        self.vertices: dict[str, BuildVertex] = {}
        self._failed_vertex: BuildVertex | None = None
        self._partial = ""
        self._after_step = False

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
        after_step, self._after_step = self._after_step, False
        if isinstance(stream, str):
            if after_step and stream == "\n":
                return events  # the classic builder ends a "Step N/M" line in a message of its own
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
                self.steps[number] = self.last_step
                self._after_step = not stream.endswith("\n")
                events.append(self.last_step)
            elif _USING_CACHE.match(stream) and self.last_step is not None:
                self.last_step = replace(self.last_step, cached=True)
                self.steps[self.last_step.number] = self.last_step
                events.append(self.last_step)
            elif stream:
                success = _SUCCESS.match(stream)
                if success and self.image_id is None:
                    self.image_id = success.group(1)
                events.append(BuildOutput(stream))
        elif message.get("status"):  # the classic builder's pull of a FROM image
            events.append(BuildOutput(str(message["status"]) + "\n"))
        return events

    def cache(self) -> BuildCacheUse | None:
        """What the layer cache answered, from the steps (classic) or vertices (BuildKit)."""
        rows: list[tuple[bool, str, int | None, int | None]] = []  # cached, text, step, line
        for step in self.steps.values():
            if step.instruction.split(" ", 1)[0].upper() != "FROM":
                rows.append((step.cached, step.instruction, step.number, step.line))
        vertex_rows: list[tuple[bool, str, int, int | None]] = []
        for vertex in self.vertices.values():
            name = _VERTEX_NAME.match(vertex.name)
            if name is None or name.group("text").split(" ", 1)[0].upper() == "FROM":
                continue  # "[internal] load …", and the base image
            vertex_rows.append((vertex.cached, name.group("text"), int(name.group("n")),
                                vertex.line))
        vertex_rows.sort(key=lambda row: row[2])  # in Dockerfile order
        rows += vertex_rows
        if not rows:
            return None
        miss = next((row for row in rows if not row[0]), None)
        return BuildCacheUse(sum(row[0] for row in rows), len(rows),
                          *(miss[1:] if miss is not None else ()))

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
    ``buildkit=None`` uses BuildKit when ``/_ping`` says ``Builder-Version: 2``, except for
    a listing whose ``daemon_strips`` only the classic builder honours (unless the
    Dockerfile needs BuildKit);
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
        if (buildkit and isinstance(context, ContextListing) and context.daemon_strips
                and not _BUILDKIT_ONLY.search(dockerfile_text or "")):
            # BuildKit over a tar would let a COPY see the Dockerfile and .dockerignore the
            # daemon was meant to strip (Docker 23+ defaults to it); the classic builder does.
            buildkit = False
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
    yield BuildComplete(decoder.image_id, decoder.cache())
