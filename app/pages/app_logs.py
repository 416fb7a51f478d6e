"""The Apps page's Logs tab: a Compose project's merged log, read only while it shows.

Every service's lines interleaved by time (:func:`engine.project_logs`), each
marked ``service |`` in its own colour, in the container log view
(:class:`~app.widgets.log_view.LogView`: bounded, virtualised, searchable) with
its service and level filters turned on.

The log is followed only while the tab is on screen (not behind the Services
tab, not on another page): hiding it cancels the read, and showing it again
resumes from an :class:`engine.ProjectLogCursor`, so the lines written meanwhile
arrive merged by time, none twice and none missing.  A restart of the project's
containers, or the engine coming back after the connection was lost, resumes the
same way instead of reading the log again from the top.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QFileDialog, QWidget

import engine
from app.session import EngineSession, MessageLevel
from app.widgets.log_view import DEFAULT_CAP, LogView

log = logging.getLogger(__name__)

#: Lines of each container read before following (the log view keeps the last 100k).
LOG_TAIL = 2000


class ProjectLogView(LogView):
    """A :class:`LogView` for merged logs: service marks and filters, says when it shows."""

    shown_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None, cap: int = DEFAULT_CAP,
                 sources_title: str = "Services:") -> None:
        super().__init__(parent, cap)
        self._sources_label.setText(sources_title)  # "Tasks:" for a Swarm service's log
        self.filters.show()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.shown_changed.emit(True)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.shown_changed.emit(False)


async def stream_project_logs(view: LogView, project: engine.ComposeProject,
                              client: engine.Engine, *, tail: int | None = LOG_TAIL,
                              cursor: engine.ProjectLogCursor | None = None) -> None:
    """The merged log of ``project`` into ``view``, following it while anything runs.

    A lost connection ends it quietly: the window's banner says so, and the read
    resumes from ``cursor`` once the engine is back (:class:`ProjectLogs`).
    """
    try:
        async for batch in engine.project_logs(client, project, tail=tail,
                                               follow=project.running > 0, cursor=cursor):
            if len(batch.names) != len(view.source_names):
                view.set_sources(batch.names)
            view.add_lines(batch.streams, batch.lines, batch.stamps, batch.source_ids)
    except engine.EngineUnreachable as exc:
        log.info("the log of app %s stopped with the connection: %s", project.name, exc)


def save_merged_log(view: LogView, session: EngineSession, name: str) -> None:
    """Ask where, then save the lines ``view`` holds, each with its mark, as plain text."""
    path, _ = QFileDialog.getSaveFileName(view, "Save logs", str(Path.home() / f"{name}.log"),
                                          "Plain text log (*.log *.txt)")
    if not path:
        return
    view.flush()  # lines still queued for the next tick are saved too
    try:
        Path(path).write_bytes(view.plain_bytes())
    except OSError as exc:
        session.message.emit(MessageLevel.ERROR, f"Could not save the logs: {exc}")
    else:
        session.message.emit(MessageLevel.INFO, f"Saved the logs to {path}")


class ProjectLogs:
    """Keeps ``view`` showing the chosen project's log, read only while it is visible."""

    def __init__(self, session: EngineSession, view: ProjectLogView) -> None:
        self.session = session
        self.view = view
        self.project: engine.ComposeProject | None = None
        self.cursor = engine.ProjectLogCursor()
        #: The containers running when the current read began (a change resumes it).
        self._read_for: frozenset[str] | None = None
        self.task: asyncio.Task[object] | None = None
        #: Reads started, for tests and the bench: a hidden view starts none.
        self.reads = 0
        view.shown_changed.connect(lambda _shown: self.update())
        view.save_button.clicked.connect(self.save)
        session.watch_connection(view, resume=self._connection_back, pause=self._stop)

    def _connection_back(self) -> None:
        self._read_for = None  # read again, from the cursor
        self.update()

    def show_project(self, project: engine.ComposeProject | None) -> None:
        """Show ``project``'s log (None: none); another project starts afresh."""
        if project is None or self.project is None or project.name != self.project.name:
            self._stop()
            self.view.clear()
            self.view.set_sources([])
            self.cursor = engine.ProjectLogCursor()
        self.project = project
        self.update()

    def update(self) -> None:
        """Read while the view shows; stop when it hides; resume when containers change."""
        project = self.project
        if project is None or not self.view.isVisible():
            self._stop()
            return
        running = frozenset(c.id for c in project.containers if c.running)
        if running == self._read_for:
            return  # read already (following, or everything was read: nothing runs)
        self._read_for = running
        self.view.flush()
        self.reads += 1
        self.task = self.session.run(
            partial(stream_project_logs, self.view, project, cursor=self.cursor),
            describe=f"read the logs of app {project.name}", key="app-logs",
            quiet_not_found=True)

    def save(self) -> None:
        """Save the lines held, each with its ``service |`` mark, as plain text."""
        if self.project is not None:
            save_merged_log(self.view, self.session, self.project.name)

    def _stop(self) -> None:
        if self.task is not None:
            self.session.cancel("app-logs")
            self.task = None
        self._read_for = None

    @property
    def following(self) -> bool:
        return self.task is not None and not self.task.done()
