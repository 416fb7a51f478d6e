"""A Swarm service's log: every task's lines, interleaved by time, each marked by its task.

``GET /services/{id}/logs`` (a manager only) gathers the lines of all the
service's tasks, on whichever node they run.  With ``details=1`` each line
carries the ids of its node, service and task (``com.docker.swarm.task.id=…``
between the timestamp and the text), which is how a line is marked
``web.2@node-1`` (service, slot, node hostname) as ``docker service logs
--no-task-ids`` does: the tasks that replaced one another in a slot share a mark.

The daemon sends the history task by task, not in time order: it is read
whole (``follow=0``), sorted by the daemon's timestamp (fixed nine-digit
fractions, so the stamps compare as bytes), and handed on; then, when
following, a second read ``since`` the newest stamp passes lines on as they
come.  Lines the two reads share are dropped by a per-task cursor, so nothing
repeats and nothing written between the reads is lost.  A
:class:`ServiceLogCursor` used again resumes a stopped read the same way.

Tasks and nodes are looked up once per read, and again when a line names a
task not known yet (a task rescheduled or scaled up while following).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine._client import Engine
from engine._compose_logs import MAX_SOURCES, ProjectLogBatch
from engine._decoders import LogDecoder
from engine._errors import BadRequest, ServerError
from engine._io import log_since
from engine._shapes import expect_list, expect_object
from engine._swarm import Node, Service, Task, tasks

__all__ = ["ServiceLogCursor", "service_log_mark", "service_logs"]

#: The attribute of a ``details=1`` prefix that names the line's task.
_TASK_ATTR = b"com.docker.swarm.task.id="
_NODE_ATTR = b"com.docker.swarm.node.id="
#: A resumed read starts this long before the newest line shown: a line of another task
#: stamped a little earlier may still have been on its way when the read stopped.
_RESUME_MARGIN = Decimal(2)
#: Lines handed on at once from the sorted history.
_HISTORY_CHUNK = 5000


def service_log_mark(service_name: str, task: Task | None, task_id: str,
                     hostname: str) -> str:
    """``web.2@node-1``: the service, the task's slot and the node it ran on, as
    ``docker service logs --no-task-ids`` marks a line; a global service's task (one a
    node, no slot) is ``worker@node-1``.  The tasks that replaced one another in a slot
    share the mark: the Tasks tab tells them apart."""
    name = service_name if task is None or task.slot is None \
        else f"{service_name}.{task.slot}"
    if task is None and not hostname:
        name = f"{service_name}.{task_id[:12]}"
    return f"{name}@{hostname}" if hostname else name


@dataclass
class ServiceLogCursor:
    """Where a service's log stands: the marks given out, and each task's newest line.

    ``names`` are the marks (a line's source number indexes them, the same number
    for the same task while the cursor is used); ``last[task]`` is the newest stamp
    passed on for a task and ``at_last[task]`` how many lines passed on carry it.
    """

    names: list[str] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)
    last: dict[str, bytes] = field(default_factory=dict)
    at_last: dict[str, int] = field(default_factory=dict)

    def source(self, task_id: str, mark: str) -> int:
        """The number of ``task_id``'s lines: its mark's (the tasks that followed one
        another in a slot share it, as their lines do in ``docker service logs
        --no-task-ids``); a new mark gets the next number."""
        number = self.sources.get(task_id)
        if number is not None:
            return number
        if mark in self.names:
            number = self.names.index(mark)
        elif len(self.names) >= MAX_SOURCES:
            number = MAX_SOURCES - 1
        else:
            self.names.append(mark)
            number = len(self.names) - 1
        self.sources[task_id] = number
        return number

    def passed(self, task_id: str, stamp: bytes | None) -> None:
        """A line of ``task_id`` with this stamp was passed on."""
        if stamp is None:
            return
        if self.last.get(task_id) == stamp:
            self.at_last[task_id] += 1
        else:
            self.last[task_id] = stamp
            self.at_last[task_id] = 1

    def since(self) -> Decimal | None:
        """Where a read that must not miss a line starts (None: from the start)."""
        newest = max(self.last.values(), default=None)
        start = log_since(newest) if newest is not None else None
        return None if start is None else max(start - _RESUME_MARGIN, Decimal(0))


class _Skip:
    """Drops the lines of a read that the cursor passed on already (one per read)."""

    def __init__(self, cursor: ServiceLogCursor) -> None:
        self.before = dict(cursor.last)
        self.count = dict(cursor.at_last)

    def seen(self, task_id: str, stamp: bytes | None) -> bool:
        before = self.before.get(task_id)
        if before is None or stamp is None:
            return False
        if stamp < before:
            return True
        if stamp == before and self.count.get(task_id, 0) > 0:
            self.count[task_id] -= 1
            return True
        del self.before[task_id]  # past what was shown: keep all of this task from here
        return False


class _Marks:
    """Task ID -> mark, from the service's tasks and the swarm's nodes (looked up again
    for a task it does not know)."""

    def __init__(self, client: Engine, service: Service) -> None:
        self.client = client
        self.service = service
        self.tasks: dict[str, Task] = {}
        self.hostnames: dict[str, str] = {}

    async def refresh(self) -> None:
        found, raw_nodes = await asyncio.gather(
            tasks(self.client, service=self.service.id),
            self.client.get_json("/nodes"))
        self.tasks.update({t.id: t for t in found})
        self.hostnames.update({n.id: n.hostname for n in (
            Node.from_api(item) for item in expect_list(raw_nodes, "the list of nodes"))})

    async def mark(self, task_id: str, node_id: str) -> str:
        if task_id not in self.tasks:
            with contextlib.suppress(Exception):  # the line is shown whatever the lookup says
                await self.refresh()
        task = self.tasks.get(task_id)
        hostname = self.hostnames.get(node_id or (task.node_id if task else ""), "")
        return service_log_mark(self.service.name, task, task_id, hostname or node_id[:12])


def _attr(details: bytes, name: bytes) -> str:
    at = details.find(name)
    if at < 0:
        return ""
    start = at + len(name)
    end = details.find(b",", start)
    return details[start:end if end >= 0 else len(details)].decode("ascii", "replace")


@dataclass
class _Lines:
    """Decoded lines of one read: parallel lists, with each line's task."""

    streams: bytearray = field(default_factory=bytearray)
    lines: list[bytes] = field(default_factory=list)
    stamps: list[bytes | None] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)


def _split(batch_streams: bytes, batch_lines: list[bytes], batch_stamps: list[bytes | None],
           out: _Lines) -> None:
    """Cut the ``details`` prefix off each line, keeping its task and node."""
    for stream, line, stamp in zip(batch_streams, batch_lines, batch_stamps, strict=True):
        details, _, text = line.partition(b" ")
        if _TASK_ATTR not in details:  # no details: a line of the daemon's own, keep it whole
            details, text = b"", line
        out.streams.append(stream)
        out.lines.append(text)
        out.stamps.append(stamp)
        out.tasks.append(_attr(details, _TASK_ATTR))
        out.nodes.append(_attr(details, _NODE_ATTR))


async def _read(client: Engine, service: Service, params: Mapping[str, Any], tty: bool
                ) -> AsyncIterator[_Lines]:
    """One ``/services/{id}/logs`` read, a decoded batch at a time."""
    decoder = LogDecoder(multiplexed=not tty, timestamps=True)
    async with client.open_body_bytes("GET", f"/services/{service.id}/logs",
                                      params=params, piece=64 << 10) as body:
        async for raw in body:
            batch = decoder.feed(raw)
            if decoder.system_error is not None:
                raise ServerError(500, decoder.system_error)
            if batch.lines:
                out = _Lines()
                _split(batch.streams, batch.lines, batch.stamps, out)
                yield out
    rest = decoder.close()
    if rest.lines:
        out = _Lines()
        _split(rest.streams, rest.lines, rest.stamps, out)
        yield out


def _params(*, follow: bool, tail: int | None, since: Decimal | None) -> dict[str, Any]:
    params: dict[str, Any] = {"stdout": 1, "stderr": 1, "timestamps": 1, "details": 1,
                              "follow": int(follow),
                              "tail": "all" if tail is None else max(tail, 0)}
    if since is not None:
        params["since"] = f"{since:.9f}"
    return params


async def _batch(cursor: ServiceLogCursor, skip: _Skip, marks: _Marks, got: _Lines
                 ) -> ProjectLogBatch | None:
    """The lines of ``got`` not passed on yet, marked; None if there are none."""
    sources = bytearray()
    streams = bytearray()
    lines: list[bytes] = []
    stamps: list[bytes | None] = []
    for stream, line, stamp, task_id, node_id in zip(got.streams, got.lines, got.stamps,
                                                      got.tasks, got.nodes, strict=True):
        if skip.seen(task_id, stamp):
            continue
        cursor.passed(task_id, stamp)
        number = cursor.sources.get(task_id)
        if number is None:
            number = cursor.source(task_id, await marks.mark(task_id, node_id))
        sources.append(number)
        streams.append(stream)
        lines.append(line)
        stamps.append(stamp)
    if not lines:
        return None
    return ProjectLogBatch(tuple(cursor.names), bytes(sources), bytes(streams), lines, stamps)


async def service_logs(
    client: Engine, name_or_id: str, *, tail: int | None = None, follow: bool = False,
    cursor: ServiceLogCursor | None = None,
) -> AsyncIterator[ProjectLogBatch]:
    """The log of a service's tasks, in time order, each line marked (``web.2@node``).

    ``tail``: the last lines of each task.  With ``follow``, then every new line as
    it comes (tasks started meanwhile included) until the caller stops iterating.
    With a ``cursor`` used before, the read resumes after the lines it passed on.
    :class:`NotFound` for no such service, :class:`NotSwarmManager` off a manager,
    :class:`BadRequest` for a service whose log driver is ``none`` (nothing to read).
    """
    cursor = cursor if cursor is not None else ServiceLogCursor()
    raw = expect_object(await client.get_json(f"/services/{name_or_id}"), "a service")
    service = Service.from_api(raw)
    template = raw.get("Spec", {}).get("TaskTemplate", {}) if isinstance(raw.get("Spec"),
                                                                         Mapping) else {}
    tty = bool((template.get("ContainerSpec") or {}).get("TTY")) \
        if isinstance(template, Mapping) else False
    driver = (template.get("LogDriver") or {}).get("Name") if isinstance(template, Mapping) \
        else None
    if driver == "none":  # the daemon answers such a read with nothing, forever when following
        raise BadRequest(400, f"service {service.name} logs with the 'none' driver: its"
                         " tasks keep no log to read")
    marks = _Marks(client, service)
    await marks.refresh()
    since = cursor.since()
    history = _Lines()
    async for got in _read(client, service, _params(follow=False, tail=None if since
                                                    else tail, since=since), tty):
        history.streams += got.streams
        history.lines += got.lines
        history.stamps += got.stamps
        history.tasks += got.tasks
        history.nodes += got.nodes
    order = sorted(range(len(history.lines)), key=lambda i: history.stamps[i] or b"")
    ordered = _Lines(bytearray(history.streams[i] for i in order),
                     [history.lines[i] for i in order], [history.stamps[i] for i in order],
                     [history.tasks[i] for i in order], [history.nodes[i] for i in order])
    skip = _Skip(cursor)
    for start in range(0, len(ordered.lines), _HISTORY_CHUNK):
        end = start + _HISTORY_CHUNK
        chunk = await _batch(cursor, skip, marks, _Lines(
            ordered.streams[start:end], ordered.lines[start:end], ordered.stamps[start:end],
            ordered.tasks[start:end], ordered.nodes[start:end]))
        if chunk is not None:
            yield chunk
    if not follow:
        return
    resume = cursor.since()
    skip = _Skip(cursor)
    async for got in _read(client, service, _params(
            follow=True, tail=None, since=resume if resume is not None else since), tty):
        chunk = await _batch(cursor, skip, marks, got)
        if chunk is not None:
            yield chunk
