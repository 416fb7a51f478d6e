"""Leftover volume helpers of a crashed run are swept once each time the engine connects.

A helper (:mod:`engine`'s volume files) is removed on every way out of its
operation; only a process that died mid-operation leaves one behind, of an owner
no live process is.  On each connection the window removes helpers of any owner
that are older than :data:`engine.STALE_HELPER_AGE` and not running: nothing
else (:func:`engine.sweep_stale_helpers`).  Quiet: a line in the log, no message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar

from PySide6.QtCore import QObject, QTimer, Signal

import engine
from app.session import EngineSession

log = logging.getLogger(__name__)


class HelperSweeper(QObject):
    """Runs the sweep when the session connects (and at once if it is connected)."""

    #: The IDs removed by one sweep (possibly none).
    swept = Signal(list)
    #: ``key=value`` labels every sweep is narrowed to (tests: their own label only).
    DEFAULT_LABELS: ClassVar[tuple[str, ...]] = ()
    #: Housekeeping nobody waits for: after the first window is painted and populated,
    #: not in their way (it loads the volume-files machinery and lists containers).
    DELAY_MS: ClassVar[int] = 2000

    def __init__(self, session: EngineSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        #: How old a leftover must be; ``labels`` narrow it (tests: their own label).
        self.older_than = engine.STALE_HELPER_AGE
        self.labels: Sequence[str] = self.DEFAULT_LABELS
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(self.DELAY_MS)
        self._soon.timeout.connect(self.sweep)
        session.watch_connection(self, resume=self._soon.start, pause=self._soon.stop)
        if session.connected:
            self._soon.start()

    def sweep(self) -> None:
        self.session.run(_sweep, self.older_than, tuple(self.labels),
                         describe="remove leftover volume helpers", on_done=self._done)

    def _done(self, removed: list[str]) -> None:
        if removed:
            log.info("removed %d leftover volume helper(s): %s", len(removed),
                     ", ".join(r[:12] for r in removed))
        self.swept.emit(removed)


async def _sweep(client: engine.Engine, older_than: float,
                 labels: tuple[str, ...]) -> list[str]:
    return await engine.sweep_stale_helpers(client, older_than=older_than, labels=labels)
