"""CPU and memory columns for the containers list.

A stats stream costs the daemon real work (Docker reads the cgroup files once
a second per stream), so there is at most one per running container whose row
the user can actually see: rows scrolled away, a hidden page or a minimised
window stop theirs.  The numbers are the ones ``docker stats`` shows (see
:func:`engine.sample_from_stats`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial

from PySide6.QtCore import QObject, QTimer, Signal

import engine
from app.models.container_tree import ComposeGroup
from app.models.table import Column
from app.presentation import cli_memory_size
from app.session import EngineSession

log = logging.getLogger(__name__)

#: A stream that ended on its own (container stopping, engine refusing) is not
#: restarted for this long, so a refusing engine is not asked again every refresh.
RETRY_AFTER_S = 10.0


def cpu_text(sample: engine.StatsSample | None) -> str:
    return f"{sample.cpu_percent:.1f} %" if sample is not None else ""


def memory_text(sample: engine.StatsSample | None) -> str:
    return cli_memory_size(sample.memory_used) if sample is not None else ""


def memory_tooltip(sample: engine.StatsSample | None) -> str:
    if sample is None:
        return "Shown for running containers in view"
    limit = f" of {cli_memory_size(sample.memory_limit)}" if sample.memory_limit else ""
    return f"{cli_memory_size(sample.memory_used)}{limit} ({sample.memory_percent:.1f} %)"


def usage_columns(
    samples: Mapping[str, engine.StatsSample],
) -> tuple[tuple[Column, Column], tuple[Column, Column]]:
    """The CPU and Memory columns for containers, and for Compose groups (their sums)."""

    def group_total(group: ComposeGroup, value: Callable[[engine.StatsSample], float]) -> float:
        return sum(value(s) for c in group.containers if (s := samples.get(c.id)) is not None)

    def group_has_samples(group: ComposeGroup) -> bool:
        return any(c.id in samples for c in group.containers)

    containers = (
        Column("CPU", lambda c: cpu_text(samples.get(c.id)), align_right=True,
               sort_key=lambda c: s.cpu_percent if (s := samples.get(c.id)) else -1.0,
               tooltip=lambda c: "CPU % of one core, as docker stats shows it"),
        Column("Memory", lambda c: memory_text(samples.get(c.id)), align_right=True,
               sort_key=lambda c: s.memory_used if (s := samples.get(c.id)) else -1,
               tooltip=lambda c: memory_tooltip(samples.get(c.id))),
    )
    groups = (
        Column("CPU", lambda g: f"{group_total(g, lambda s: s.cpu_percent):.1f} %"
               if group_has_samples(g) else "", align_right=True),
        Column("Memory", lambda g: cli_memory_size(group_total(g, lambda s: s.memory_used))
               if group_has_samples(g) else "", align_right=True),
    )
    return containers, groups


class UsageStreams(QObject):
    """Keeps one stats stream per watched container and the latest sample of each."""

    #: A container's latest sample changed (or went: its stream stopped).
    changed = Signal(str)
    #: A stream that ended may be started again now, if its row is still in view
    #: (after a reconnect, say, when no list change would prompt it).
    retry_due = Signal()

    def __init__(self, session: EngineSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.samples: dict[str, engine.StatsSample] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ended: dict[str, float] = {}
        session.watch_connection(self, resume=self._resume, pause=self.stop)

    def _resume(self) -> None:
        """Streams died with the connection; start afresh now it is back."""
        self._ended.clear()
        self.retry_due.emit()

    @property
    def watched(self) -> set[str]:
        return set(self._tasks)

    def watch(self, container_ids: Iterable[str]) -> None:
        """Stream exactly these containers' stats from now on."""
        wanted = set(container_ids)
        if not self.session.connected:
            # A scroll or a retry timer while the engine is away: nothing to stream, and
            # the banner already says why.  _on_status starts them again on return.
            wanted = set()
        for container_id in self._tasks.keys() - wanted:
            self._tasks.pop(container_id).cancel()
            self._forget(container_id)
        now = time.monotonic()
        for container_id in wanted - self._tasks.keys():
            if now - self._ended.get(container_id, -RETRY_AFTER_S) < RETRY_AFTER_S:
                continue
            task = self.session.run(partial(self._follow, container_id),
                                    describe="read container stats")
            if task is not None:
                self._tasks[container_id] = task

    def stop(self) -> None:
        self.watch(())

    def _forget(self, container_id: str) -> None:
        if self.samples.pop(container_id, None) is not None:
            self.changed.emit(container_id)

    async def _follow(self, container_id: str, client: engine.Engine) -> None:
        try:
            async for sample in engine.stats(client, container_id, stream=True):
                self.samples[container_id] = sample
                self.changed.emit(container_id)
        except engine.EngineError as exc:  # stopped, removed, or no stats here: no column
            log.info("no stats for the list for %s: %s", container_id, exc)
        finally:
            # Unless watch() let it go already: then a newer stream may own the entry.
            if self._tasks.get(container_id) is asyncio.current_task():
                del self._tasks[container_id]
                self._ended[container_id] = time.monotonic()
                self._forget(container_id)
                QTimer.singleShot(int(RETRY_AFTER_S * 1000) + 100, self, self.retry_due.emit)
