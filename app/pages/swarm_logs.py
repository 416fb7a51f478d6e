"""The Swarm page's Logs tab: a service's log, every task's lines interleaved by time.

Each line is marked ``web.2@node`` (service, slot, node) in its task's colour, in
the container log view (search, follow, the per-source and level filters), as
:func:`engine.service_logs` reads it.  The log is read only while the tab shows
(the same rule as an app's merged log): hiding it cancels the read, and showing
it again resumes from an :class:`engine.ServiceLogCursor`, so lines written
meanwhile arrive in order, none twice.  Another service starts afresh.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import engine
from app.pages.app_logs import ProjectLogView, save_merged_log
from app.session import EngineSession
from app.widgets.log_view import LogView

log = logging.getLogger(__name__)

#: Lines of each task read before following.
LOG_TAIL = 1000


async def stream_service_logs(view: LogView, service_id: str, client: engine.Engine, *,
                              tail: int | None = LOG_TAIL,
                              cursor: engine.ServiceLogCursor | None = None) -> None:
    """The log of ``service_id``'s tasks into ``view``, following it.

    A lost connection ends it quietly: the window's banner says so, and the read
    resumes from ``cursor`` once the engine is back (:class:`ServiceLogs`).
    """
    try:
        async for batch in engine.service_logs(client, service_id, tail=tail, follow=True,
                                               cursor=cursor):
            if len(batch.names) != len(view.source_names):
                view.set_sources(batch.names)
            view.add_lines(batch.streams, batch.lines, batch.stamps, batch.source_ids)
    except engine.EngineUnreachable as exc:
        log.info("the log of service %s stopped with the connection: %s", service_id, exc)


class ServiceLogs:
    """Keeps ``view`` showing the chosen service's log, read only while it is visible."""

    def __init__(self, session: EngineSession, view: ProjectLogView) -> None:
        self.session = session
        self.view = view
        self.service: engine.Service | None = None
        self.cursor = engine.ServiceLogCursor()
        self.task: asyncio.Task[object] | None = None
        #: Reads started, for tests: a hidden view starts none.
        self.reads = 0
        view.shown_changed.connect(lambda _shown: self.update())
        view.save_button.clicked.connect(self.save)
        session.watch_connection(view, resume=self.update, pause=self._stop)

    def show_service(self, service: engine.Service | None) -> None:
        """Show ``service``'s log (None: none); another service starts afresh."""
        changed = service is None or self.service is None or service.id != self.service.id
        self.service = service
        if changed:
            self._stop()
            self.view.clear()
            self.view.set_sources([])
            self.cursor = engine.ServiceLogCursor()
            # Only a new service starts a read here: the page calls this on every swarm
            # event, and a read that failed (a log driver that cannot be read) must not be
            # tried, and reported, again each time; showing the tab again retries it.
            self.update()

    def update(self) -> None:
        """Read while the view shows; stop when it hides."""
        service = self.service
        if service is None or not self.view.isVisible():
            self._stop()
            return
        if self.following:
            return
        self.view.flush()
        self.reads += 1
        self.task = self.session.run(
            partial(stream_service_logs, self.view, service.id, cursor=self.cursor),
            describe=f"read the logs of service {service.name}", key="service-logs",
            quiet_not_found=True)

    def save(self) -> None:
        """Save the lines held, each with its ``service.slot@node |`` mark, as plain text."""
        if self.service is not None:
            save_merged_log(self.view, self.session, self.service.name)

    def _stop(self) -> None:
        if self.task is not None:
            self.session.cancel("service-logs")
            self.task = None

    @property
    def following(self) -> bool:
        return self.task is not None and not self.task.done()
