"""Merged logs of a Compose project: every service's lines, interleaved by time.

As ``docker compose logs [-f]``: each container's log is read with timestamps,
the history is merged by the daemon's timestamp (to the nanosecond, so lines of
different services written in the same millisecond keep their order), and then,
when following, lines are passed on as each container's stream delivers them.
Each line says which service (and replica: ``web-2`` when a service has more
than one container) wrote it.  The follow streams start at the newest line the
history showed for each container, and lines already shown are skipped, so
nothing repeats and nothing written between the two reads is lost.  Podman
(4.3, k8s-file logs) stamps lines to the second only: within one second its
services' lines are merged in container order, not by time.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine._client import Engine
from engine._compose import COMPOSE_NUMBER_LABEL, ComposeProject
from engine._errors import EngineError, EngineUnreachable, NotFound
from engine._io import log_batches, log_since
from engine._models import Container

#: Lines handed on at once from the merged history (the view appends a batch per tick).
_HISTORY_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class ProjectLogBatch:
    """Lines of a project's log, each with the service (replica) that wrote it."""

    sources: tuple[str, ...]
    streams: bytes
    lines: tuple[bytes, ...]
    stamps: tuple[bytes | None, ...]


def _source_names(project: ComposeProject) -> dict[str, str]:
    """Container ID -> the mark its lines carry: the service, or service-N for replicas."""
    names: dict[str, str] = {}
    for service in project.services:
        many = len(service.containers) > 1
        for container in service.containers:
            number = container.labels.get(COMPOSE_NUMBER_LABEL, "")
            names[container.id] = (f"{service.name}-{number or container.short_id}"
                                   if many else service.name)
    return names


_Line = tuple[Decimal, int, str, int, bytes, bytes | None]


async def _history(client: Engine, container: Container, source: str, order: int,
                   tail: int | None) -> list[_Line]:
    """One container's log with its sort keys; a container removed meanwhile has none."""
    found: list[_Line] = []
    try:
        async for batch in log_batches(client, container.id, timestamps=True, tail=tail):
            for stream, line, stamp in zip(batch.streams, batch.lines, batch.stamps,
                                           strict=True):
                key = log_since(stamp) if stamp else None
                found.append((key if key is not None else Decimal(0), order, source, stream,
                              line, stamp))
    except NotFound:
        return []
    return found


def _chunks(lines: Sequence[_Line]) -> list[ProjectLogBatch]:
    return [ProjectLogBatch(
        tuple(item[2] for item in part), bytes(item[3] for item in part),
        tuple(item[4] for item in part), tuple(item[5] for item in part))
        for part in (lines[i:i + _HISTORY_CHUNK] for i in range(0, len(lines), _HISTORY_CHUNK))]


async def project_logs(
    client: Engine, project: ComposeProject, *, tail: int | None = None, follow: bool = False,
) -> AsyncIterator[ProjectLogBatch]:
    """The merged log of ``project``'s containers (``tail``: the last lines of each).

    With ``follow``, then every new line of the running containers as it comes,
    until the caller stops iterating (the streams are cancelled) or every stream
    has ended.  A container removed while its log is read just ends its part.
    """
    names = _source_names(project)
    containers = [c for c in project.containers if c.id in names]
    histories = await asyncio.gather(*(
        _history(client, c, names[c.id], i, tail) for i, c in enumerate(containers)))
    # Each history is in time order already: merging is linear, not a sort.
    merged = list(heapq.merge(*histories, key=lambda item: (item[0], item[1])))
    for chunk in _chunks(merged):
        yield chunk
    if not follow:
        return
    last = {c.id: (h[-1][0] if h else None) for c, h in zip(containers, histories, strict=True)}
    # How many lines shown carry the newest time: Podman's stamps are whole seconds, so
    # several lines share one, and a follow from that time sends them all again.
    skip = {c.id: sum(1 for item in h if item[0] == last[c.id])
            for c, h in zip(containers, histories, strict=True)}
    queue: asyncio.Queue[ProjectLogBatch | BaseException | None] = asyncio.Queue()

    async def pump(container: Container) -> None:
        newest = last[container.id]
        source = names[container.id]
        try:
            async for batch in log_batches(client, container.id, follow=True, timestamps=True,
                                           since=newest):
                keep = []
                for stream, line, stamp in zip(batch.streams, batch.lines, batch.stamps,
                                               strict=True):
                    key = (log_since(stamp) if stamp else None)
                    if newest is not None and key is not None:
                        if key < newest:
                            continue
                        # Lines of the newest shown time come again: skip those shown.
                        if key == newest and skip[container.id] > 0:
                            skip[container.id] -= 1
                            continue
                    keep.append((stream, line, stamp))
                if keep:
                    await queue.put(ProjectLogBatch(
                        (source,) * len(keep), bytes(k[0] for k in keep),
                        tuple(k[1] for k in keep), tuple(k[2] for k in keep)))
        except EngineUnreachable as exc:
            await queue.put(exc)
        except EngineError:
            pass  # removed or stopped meanwhile: its part of the log ends
        finally:
            await queue.put(None)

    running = [c for c in containers if c.running]
    tasks = [asyncio.ensure_future(pump(c)) for c in running]
    try:
        open_streams = len(tasks)
        while open_streams:
            item = await queue.get()
            if item is None:
                open_streams -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
