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

A :class:`ProjectLogCursor` remembers where each container's part stands, so a
reader stopped on purpose (the log went out of sight) resumes later with what
was written meanwhile, merged by time, and nothing shown twice.

Merging costs no Python per line beyond a slice: Docker's stamps are RFC 3339
in UTC with the trailing zeros of the fraction dropped, so the stamp less its
``Z`` compares as bytes in time order ("…:05" < "…:05.1" < "…:05.12"), and the
five sorted runs are merged by one ``sorted`` (Timsort finds the runs), off the
event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from engine._client import Engine
from engine._compose import COMPOSE_NUMBER_LABEL, ComposeProject
from engine._errors import EngineError, EngineUnreachable, NotFound
from engine._io import log_batches, log_since
from engine._models import Container

#: Lines handed on at once from the merged history (the view appends a batch per tick).
_HISTORY_CHUNK = 5000
#: Sources one project's log can tell apart (a byte per line says which).
MAX_SOURCES = 255


@dataclass(frozen=True, slots=True)
class ProjectLogBatch:
    """Lines of a project's log, each with the service (replica) that wrote it.

    ``source_ids[i]`` indexes ``names`` (the same index for the same container for
    as long as one :class:`ProjectLogCursor` is used), like ``streams`` a byte a line.
    """

    names: tuple[str, ...]
    source_ids: bytes
    streams: bytes
    lines: Sequence[bytes]
    stamps: Sequence[bytes | None]

    @property
    def sources(self) -> tuple[str, ...]:
        """Each line's source by name."""
        names = self.names
        return tuple(names[i] for i in self.source_ids)

    def __len__(self) -> int:
        return len(self.lines)


@dataclass
class ProjectLogCursor:
    """Where each container's part of a merged log stands, and the sources' numbering.

    ``last[id]`` is the newest stamp passed on for that container and ``at_last[id]``
    how many lines passed on carry it (Podman stamps whole seconds: several lines
    share one, and a read ``since`` that time sends them all again).
    """

    names: list[str] = field(default_factory=list)
    last: dict[str, bytes] = field(default_factory=dict)
    at_last: dict[str, int] = field(default_factory=dict)

    def source(self, name: str) -> int:
        """The number of source ``name``; new names get the next (the last is shared)."""
        try:
            return self.names.index(name)
        except ValueError:
            if len(self.names) >= MAX_SOURCES:
                return MAX_SOURCES - 1
            self.names.append(name)
            return len(self.names) - 1

    def passed(self, container_id: str, stamps: Sequence[bytes | None]) -> None:
        """``stamps`` (one container's, in order) were passed on: move past them."""
        newest = next((s for s in reversed(stamps) if s is not None), None)
        if newest is None:
            return
        same = 0
        for stamp in reversed(stamps):
            if stamp != newest:
                break
            same += 1
        if same == len(stamps) and self.last.get(container_id) == newest:
            self.at_last[container_id] += same
        else:
            self.last[container_id] = newest
            self.at_last[container_id] = same


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


class _Skip:
    """Drops the lines of a read ``since`` a time that were passed on already."""

    def __init__(self, cursor: ProjectLogCursor, container_id: str) -> None:
        stamp = cursor.last.get(container_id)
        self.before = log_since(stamp) if stamp is not None else None
        self.count = cursor.at_last.get(container_id, 0)

    def since(self) -> Decimal | None:
        return self.before

    def first_new(self, stamps: Sequence[bytes | None]) -> int:
        """Index of the first line of ``stamps`` not passed on yet (len if none)."""
        before = self.before
        if before is None:
            return 0
        for index, stamp in enumerate(stamps):
            key = log_since(stamp) if stamp else None
            if key is not None and key < before:
                continue
            if key == before and self.count > 0:
                self.count -= 1
                continue
            self.before = None  # past what was shown: keep everything from here on
            return index
        return len(stamps)


@dataclass
class _Part:
    """One container's history: parallel lists, as read."""

    source: int
    streams: bytearray = field(default_factory=bytearray)
    lines: list[bytes] = field(default_factory=list)
    stamps: list[bytes | None] = field(default_factory=list)


async def _history(client: Engine, container: Container, part: _Part, skip: _Skip,
                   tail: int | None) -> None:
    """One container's log into ``part``; a container removed meanwhile has none."""
    since = skip.since()
    try:
        async for batch in log_batches(client, container.id, timestamps=True,
                                       tail=None if since is not None else tail, since=since):
            first = skip.first_new(batch.stamps)
            part.streams += batch.streams[first:]
            part.lines += batch.lines[first:] if first else batch.lines
            part.stamps += batch.stamps[first:] if first else batch.stamps
    except NotFound:
        pass


def _keys(stamps: list[bytes | None]) -> list[bytes] | list[Decimal]:
    """Sort keys in time order: the stamps less their common zone, or exact times."""
    present: list[bytes] = []
    if None in stamps:  # no prefix (never with timestamps=1): the line keeps its place
        last = b""
        for stamp in stamps:
            last = stamp if stamp is not None else last
            present.append(last)
    else:
        present = stamps  # type: ignore[assignment]
    zones = {s[-1:] if s[-1:] == b"Z" else s[-6:] for s in present if s}
    if len(zones) <= 1:
        cut = len(next(iter(zones), b""))
        return [s[:-cut] for s in present] if cut else [b"" for _ in present]
    return [log_since(s) or Decimal(0) for s in present]


def _merge(parts: list[_Part]) -> tuple[bytes, bytes, list[bytes], list[bytes | None]]:
    """The parts' lines in time order (stable: container order within one time)."""
    sources = bytearray()
    streams = bytearray()
    lines: list[bytes] = []
    stamps: list[bytes | None] = []
    for part in parts:
        sources += bytes((part.source,)) * len(part.lines)
        streams += part.streams
        lines += part.lines
        stamps += part.stamps
    if len(lines) < 2 or sum(1 for p in parts if p.lines) < 2:
        return bytes(sources), bytes(streams), lines, stamps
    keys = _keys(stamps)
    order = sorted(range(len(lines)), key=keys.__getitem__)
    take = operator.itemgetter(*order)
    return (bytes(take(sources)), bytes(take(streams)), list(take(lines)),
            list(take(stamps)))


def _chunks(names: tuple[str, ...], merged: tuple[bytes, bytes, list[bytes],
                                                  list[bytes | None]]
            ) -> list[ProjectLogBatch]:
    sources, streams, lines, stamps = merged
    return [ProjectLogBatch(names, sources[i:i + _HISTORY_CHUNK], streams[i:i + _HISTORY_CHUNK],
                            lines[i:i + _HISTORY_CHUNK], stamps[i:i + _HISTORY_CHUNK])
            for i in range(0, len(lines), _HISTORY_CHUNK)]


async def project_logs(
    client: Engine, project: ComposeProject, *, tail: int | None = None, follow: bool = False,
    cursor: ProjectLogCursor | None = None,
) -> AsyncIterator[ProjectLogBatch]:
    """The merged log of ``project``'s containers (``tail``: the last lines of each).

    With ``follow``, then every new line of the running containers as it comes,
    until the caller stops iterating (the streams are cancelled) or every stream
    has ended.  A container removed while its log is read just ends its part.
    With a ``cursor`` that was used before, each container's part starts after the
    lines it passed on (``tail`` then counts only for containers new to it).
    """
    cursor = cursor if cursor is not None else ProjectLogCursor()
    names = _source_names(project)
    containers = [c for c in project.containers if c.id in names]
    parts = [_Part(cursor.source(names[c.id])) for c in containers]
    skips = [_Skip(cursor, c.id) for c in containers]
    await asyncio.gather(*(_history(client, c, part, skip, tail)
                           for c, part, skip in zip(containers, parts, skips, strict=True)))
    # Each history is in time order already: one sort merges the runs, in a thread.
    merged = await asyncio.to_thread(_merge, parts)
    for container, part in zip(containers, parts, strict=True):
        cursor.passed(container.id, part.stamps)
    for chunk in _chunks(tuple(cursor.names), merged):
        yield chunk
    if not follow:
        return
    # Each batch with its container: the cursor moves when the batch is handed on, so
    # batches still queued when the reader stops are read again when it resumes.
    queue: asyncio.Queue[tuple[str, ProjectLogBatch] | BaseException | None] = asyncio.Queue()

    async def pump(container: Container, source: int) -> None:
        skip = _Skip(cursor, container.id)
        mark = bytes((source,))
        try:
            async for batch in log_batches(client, container.id, follow=True, timestamps=True,
                                           since=skip.since()):
                first = skip.first_new(batch.stamps)
                if first >= len(batch.lines):
                    continue
                stamps = batch.stamps[first:] if first else batch.stamps
                await queue.put((container.id, ProjectLogBatch(
                    tuple(cursor.names), mark * len(stamps), batch.streams[first:],
                    batch.lines[first:] if first else batch.lines, stamps)))
        except EngineUnreachable as exc:
            await queue.put(exc)
        except EngineError:
            pass  # removed or stopped meanwhile: its part of the log ends
        finally:
            await queue.put(None)

    tasks = [asyncio.ensure_future(pump(c, part.source))
             for c, part in zip(containers, parts, strict=True) if c.running]
    try:
        open_streams = len(tasks)
        while open_streams:
            item = await queue.get()
            if item is None:
                open_streams -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                cursor.passed(item[0], item[1].stamps)
                yield item[1]
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
