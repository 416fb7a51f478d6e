"""The detail pane under the containers table: logs, shells, inspect and stats.

Logs follow the selected container and are cancelled when the selection
changes.  Stats stream for the selected running container only while the Stats
tab is on screen (another tab or page, or a minimised window, stops them).
Shells are tabs of their own that outlive the selection: each runs one exec
with a TTY and ends with its exit code (or "container removed").

When the connection to the engine is lost, the window's banner is the one place
that says so: nothing here sends a message about it.  The pane only notes
locally what paused (the log and the stats say they wait for the engine; a shell
says the connection was lost, and offers Reopen).  Once the session is connected
again, the log resumes where it stopped and the stats stream starts again; see
:class:`LogCursor` for how the log resumes without repeating a line.
"""

from __future__ import annotations

import asyncio
import enum
import html
import logging
import os
import re
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import engine
from app.icons import icon_for, themed_icon
from app.presentation import (
    container_image,
    container_state,
    container_tone,
    port_links,
    uptime_text,
)
from app.resources import CONTAINERS
from app.session import EngineSession, MessageLevel
from app.widgets.ask import ask
from app.widgets.detail_header import DetailHeader
from app.widgets.inspect_view import InspectView
from app.widgets.log_view import LogView
from app.widgets.stats_view import NOT_RUNNING, PAUSED, REMOVED, StatsView, follow_stats
from engine import ExecSession, exec_create, exec_failure_reason, exec_start, find_shell

if TYPE_CHECKING:  # the run dialog loads when Change settings… is first asked for
    from app.pages.container_files import ContainerFilesTab
    from app.pages.container_networks import ContainerNetworksView
    from app.pages.run_dialog import RunDialog

log = logging.getLogger(__name__)

#: What the log view says while the connection is down, and when a stream stopped.
LOGS_PAUSED = ("The connection to the engine was lost: the log stopped here. "
               "It continues when the engine is back.")
LOGS_ENDED = "The log stream ended while the container still runs. Tick Follow to resume."
#: ... and when only the log's own stream was cut (the engine is still connected).
LOGS_CUT = "The log stream was cut: reading it again…"
#: What a shell tab says when its exec went with the connection.
SHELL_LOST = "The connection to the engine was lost, and the shell with it."


#: Save…'s file types: plain text (what ``cat`` should show) unless colours are asked for.
SAVE_PLAIN = "Plain text log (*.log *.txt)"
SAVE_COLOURS = "Log with colours (*.ansi.log)"


@dataclass(frozen=True, slots=True)
class LogWindow:
    """How much of a log to load: the last lines, or what was written lately."""

    tail: int | None = None
    seconds: float | None = None

    def since(self, now: float) -> float | None:
        return now - self.seconds if self.seconds is not None else None


LOG_WINDOWS = (
    ("Last 1,000 lines", LogWindow(tail=1000)),
    ("Last 10,000 lines", LogWindow(tail=10_000)),
    ("Last 5 minutes", LogWindow(seconds=5 * 60)),
    ("Last hour", LogWindow(seconds=60 * 60)),
    ("Last 24 hours", LogWindow(seconds=24 * 60 * 60)),
    ("Everything", LogWindow()),
)

_STAMP = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def stamp_ns(stamp: bytes | None) -> int | None:
    """A ``timestamps=1`` prefix as Unix nanoseconds, exactly (a float would round them)."""
    match = _STAMP.fullmatch(stamp or b"")
    if match is None:
        return None
    whole, fraction, zone = (g.decode("ascii") if g else "" for g in match.groups())
    seconds = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone)).timestamp()
    return int(seconds) * 1_000_000_000 + int((fraction + "000000000")[:9])


class LogCursor:
    """Where the log view stands, so a stream that was cut resumes without repeats.

    Resuming asks the daemon for the log ``since`` the newest line shown rather than
    reloading the window the user chose: the view keeps what it showed (scroll
    position, selection, search hits, and lines that have left the window since),
    and nothing the container wrote while the wire was down is missing.  The daemon
    sends every line at or after ``since`` (to the nanosecond: :func:`engine.log_since`),
    so the lines already shown that come again are dropped here by their exact
    timestamps: as many with the newest timestamp as the view has.  Lines are compared
    by time alone, which is what the daemon orders them by.
    """

    def __init__(self) -> None:
        self.last: bytes | None = None  # the newest timestamp shown, as the daemon wrote it
        self.at_last = 0  # how many lines shown carry it
        self._skip_before: int | None = None
        self._skip_at = 0

    def since(self) -> engine.Since | None:
        """Exactly the newest line shown, to resume from; None when no line was shown yet."""
        return engine.log_since(self.last)

    def resume(self) -> None:
        """The next lines come from a read that started at :meth:`since`."""
        self._skip_before = stamp_ns(self.last)
        self._skip_at = self.at_last

    def take(self, streams: bytes, lines: list[bytes], stamps: Sequence[bytes | None]
             ) -> tuple[bytes, list[bytes], Sequence[bytes | None]]:
        """The lines of a batch the view has not shown yet; the cursor moves past them."""
        if self._skip_before is not None:
            streams, lines, stamps = self._drop_shown(streams, lines, stamps)
        if stamps:
            newest = stamps[-1]
            same = 0
            for stamp in reversed(stamps):
                if stamp != newest:
                    break
                same += 1
            if newest is not None:
                if same == len(stamps) and newest == self.last:
                    self.at_last += same
                else:
                    self.last, self.at_last = newest, same
        return streams, lines, stamps

    def _drop_shown(self, streams: bytes, lines: list[bytes], stamps: Sequence[bytes | None]
                    ) -> tuple[bytes, list[bytes], Sequence[bytes | None]]:
        before = self._skip_before
        assert before is not None
        for first, stamp in enumerate(stamps):
            ns = stamp_ns(stamp)
            if ns is not None and ns < before:
                continue
            if ns == before and self._skip_at > 0:
                self._skip_at -= 1
                continue
            self._skip_before = None  # past what was shown: keep everything from here
            return streams[first:], lines[first:], stamps[first:]
        return b"", [], []


class LogsOutcome(enum.Enum):
    """How a log read ended."""

    DONE = "done"  # all of it was read: not following, the container stopped or went
    LOST = "lost"  # the connection went: resume once the engine is back
    STOPPED = "stopped"  # the daemon ended a followed stream of a running container


class ShellTab(QWidget):
    """One interactive exec in a terminal; says how it ended and offers to reopen."""

    #: The command the shell runs is known ("/bin/ash"): the tab's name can say it.
    shell_known = Signal(str)

    def __init__(self, session: EngineSession, container: engine.Container,
                 command: list[str] | None = None, user: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shell-tab")
        self.session = session
        self.container = container
        self.command = command
        self.user = user or None
        # Imported on the first shell: the terminal's VT parser (pyte, wcwidth) is not
        # needed to show the window.
        from app.widgets.terminal import TerminalWidget

        self.terminal = TerminalWidget(self)
        self.banner = QLabel(self)
        self.banner.setObjectName("shell-status")
        self.reopen = QPushButton("Reopen", self)
        self.reopen.setObjectName("shell-reopen")
        if (icon := icon_for("shell-reopen")) is not None:  # made after the window's decorate()
            self.reopen.setIcon(icon)
        self.reopen.setAccessibleName("Reopen the shell")
        self.reopen.clicked.connect(self.open)
        self.other = QLineEdit(self)
        self.other.setObjectName("shell-command")
        self.other.setAccessibleName("Command to run instead")
        self.other.setPlaceholderText("Other command, e.g. /bin/busybox sh")
        self.other.returnPressed.connect(self._run_other)
        bar = QHBoxLayout()
        bar.addWidget(self.banner, 1)
        bar.addWidget(self.other)
        bar.addWidget(self.reopen)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.terminal, 1)
        self.exit_code: int | None = None
        self.shell: str | None = None
        #: Its number among its container's shells, and its tab's name ("sh #2").
        self.number = 1
        self.label = "shell"
        self.resizing: asyncio.Future[Any] | None = None
        self._first_size: asyncio.Future[None] | None = None
        self._exec: ExecSession | None = None
        self._task: asyncio.Task[object] | None = None
        self._writes: asyncio.Queue[bytes] = asyncio.Queue()
        self.terminal.input.connect(self._writes.put_nowait)
        self.terminal.resized.connect(self._on_resized)
        # Reopen can only work with an engine to talk to.
        self.reopen.setEnabled(session.connected)
        session.watch_connection(self, resume=partial(self.reopen.setEnabled, True),
                                 pause=partial(self.reopen.setEnabled, False))
        self._set_ended(False)

    def _set_ended(self, ended: bool, text: str = "") -> None:
        self.banner.setText(text)
        self.reopen.setVisible(ended)
        self.other.setVisible(ended)

    def _run_other(self) -> None:
        command = self.other.text().split()
        if command:
            self.command = command
            self.open()

    def open(self) -> None:
        self.exit_code = None
        self._set_ended(False, f"Starting a shell in {self.container.name}…")
        self.terminal.feed(b"\x1b[2J\x1b[H")
        self._task = self.session.run(self._run, describe=f"open a shell in {self.container.name}",
                                      on_done=self._ended)

    def close_shell(self) -> None:
        if self._task is not None:
            self._task.cancel()

    @property
    def running(self) -> bool:
        """The exec is starting or running (closing the window would end it)."""
        return self._task is not None and not self._task.done()

    async def _run(self, client: engine.Engine) -> tuple[int | None, str]:
        """Run the exec; (exit code, why it failed), or (None, what to tell the user)."""
        try:
            return await self._run_exec(client)
        except engine.EngineUnreachable as exc:
            # The window's banner reports the connection; the tab says what became of it.
            log.info("shell in %s ended with the connection: %s", self.container.name, exc)
            return None, SHELL_LOST
        except engine.APIError as exc:
            # Refused (Podman: "unable to find user …" at start): the engine's words here,
            # with Reopen, not only in the message bar while the tab says "Starting…".
            return None, f"Cannot open a shell: {str(exc).splitlines()[0] if str(exc) else exc}"

    async def _run_exec(self, client: engine.Engine) -> tuple[int | None, str]:
        command = self.command
        if command is None:
            shell = await find_shell(client, self.container.id)
            if shell is None:
                return None, (f"{self.container.name} has no shell (tried bash, ash, sh). "
                              "Type another command to run:")
            command = [shell]
        self.shell = " ".join(command)
        self.shell_known.emit(self.shell)
        rows, cols = self.terminal.rows, self.terminal.columns
        exec_id = await exec_create(client, self.container.id, command, tty=True, stdin=True,
                                    user=self.user,
                                    env=["TERM=xterm-256color"], console_size=(rows, cols))
        # Sized by a resize beside the reading, not before it: Docker holds that resize
        # for 10 s when the command never starts (a user that does not exist).
        async with await exec_start(client, exec_id, tty=True) as running:
            self._exec = running
            self._first_size = asyncio.ensure_future(_first_resize(running, rows, cols))
            self.resizing = self._first_size
            self._set_ended(False, f"{self.shell} in {self.container.name}")
            writer = asyncio.ensure_future(self._pump_writes(running))
            output = bytearray()
            try:
                while (chunk := await running.read()) is not None:
                    if len(output) < 4096:
                        output += chunk.data
                    self.terminal.feed(chunk.data)
            finally:
                writer.cancel()
                self._exec = None
            code = await running.wait(timeout=10)
        reason = exec_failure_reason(code, bytes(output))
        return code, reason or ""

    async def _pump_writes(self, running: ExecSession) -> None:
        # One writer keeps keystrokes in order.
        while True:
            data = await self._writes.get()
            try:
                await running.write(data)
            except engine.EngineUnreachable:
                return  # the reader sees the connection end and reports it

    def _on_resized(self, rows: int, cols: int) -> None:
        if self._exec is not None:
            self.resizing = self.session.run(partial(_resize, self._exec, rows, cols,
                                                     self._first_size),
                                             describe="resize the terminal",
                                             quiet_not_found=True)

    def _ended(self, result: tuple[int | None, str]) -> None:
        code, reason = result
        self.exit_code = code
        if code is None:
            self._set_ended(True, reason)
            return
        gone = self.container.id not in {c.id for c in self.session.items(CONTAINERS)}
        if gone:
            text = f"Container {self.container.name} was removed."
        else:
            text = f"{self.shell} exited with code {code}."
            if reason:
                text += f" {reason}"
        self._set_ended(True, text)


async def _resize(running: ExecSession, rows: int, cols: int,
                  first: asyncio.Future[None] | None, _client: engine.Engine) -> None:
    if first is not None:
        await first  # after the first size, never overtaken by it
    await running.resize(rows, cols)


async def _first_resize(running: ExecSession, rows: int, cols: int) -> None:
    """The terminal's size, once started; a command already gone needs none."""
    try:
        await running.resize(rows, cols)
    except engine.EngineError as exc:
        log.debug("first resize of a shell: %s", exc)


#: What the pane says with nothing selected.
NO_SELECTION = "Select a container to see its logs."


class ContainerDetail(QWidget):
    #: Emitted with the new container's ID once "Change settings…" recreated one: the
    #: page selects it, so the pane goes on with the container the user is working on.
    recreated = Signal(str)

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: Containers being recreated (old ID → their name): their renaming aside and
        #: removal are steps of the recreate, not something to show.
        self._recreating: dict[str, str] = {}
        self.setObjectName("container-detail")
        self.setAccessibleName("Container details")
        self.session = session
        self.container: engine.Container | None = None
        self.header = DetailHeader("container", themed_icon("mdi6.cube-outline"), self)
        self.header.show_nothing(NO_SELECTION)
        self.title = self.header.title
        #: The selected container's start and end (from inspect), for the header's uptime.
        self._times: tuple[str, str, datetime | None, datetime | None] | None = None
        self.tail = QComboBox(self)
        self.tail.setObjectName("logs-tail")
        self.tail.setAccessibleName("How much of the log to load")
        for text, value in LOG_WINDOWS:
            self.tail.addItem(text, value)
        self.tail.currentIndexChanged.connect(lambda _i: self._start_logs())
        self.shell_button = QPushButton("Shell", self)
        self.shell_button.setObjectName("container-shell")
        self.shell_button.setAccessibleName("Open a shell in the container")
        self.shell_button.clicked.connect(self.open_shell)
        self.settings_dialog: RunDialog | None = None
        self.edit_button = QPushButton("Change settings…", self)
        self.edit_button.setObjectName("container-edit")
        self.edit_button.setAccessibleName("Change the container's settings (recreates it)")
        self.edit_button.clicked.connect(self.edit_settings)
        self.shell_command = QLineEdit(self)
        self.shell_command.setObjectName("shell-command-choice")
        self.shell_command.setAccessibleName("Command for the shell")
        self.shell_command.setPlaceholderText("best shell")
        self.shell_command.setMaximumWidth(110)
        self.shell_command.returnPressed.connect(self.open_shell)
        self.shell_user = QLineEdit(self)
        self.shell_user.setObjectName("shell-user")
        self.shell_user.setAccessibleName("User for the shell")
        self.shell_user.setPlaceholderText("user")
        self.shell_user.setMaximumWidth(90)
        self.shell_user.returnPressed.connect(self.open_shell)

        self.logs = LogView(self)
        self.logs.save_button.clicked.connect(self._save_logs)
        self.inspect = InspectView(self)
        self.inspect.json.setFont(self.logs.list.font())
        self.stats = StatsView(parent=self)
        self.stats.shownChanged.connect(lambda _shown: self._update_stats())
        self._stats_task: asyncio.Task[object] | None = None
        self._stats_for: str | None = None
        self._logs_task: asyncio.Task[object] | None = None
        #: Which read of the logs is the current one (an older one's end is ignored).
        self._logs_read = 0
        self._log_cursor = LogCursor()
        #: The log stopped with the connection: it resumes once the session is back.
        self._logs_lost = False
        self._logs_retries = 0
        self._logs_read_from: bytes | None = None  # the cursor when the current read began
        self._logs_retry = QTimer(self)
        self._logs_retry.setSingleShot(True)
        self._logs_retry.setInterval(1000)
        self._logs_retry.timeout.connect(self._resume_logs)
        self.logs.follow.toggled.connect(self._on_follow_toggled)
        session.watch_connection(self, resume=self._connection_back,
                                 pause=self._connection_lost)
        session.switched.connect(self.forget_engine)
        self.shells = QTabWidget(self)
        self.shells.setObjectName("shell-tabs")
        self.shells.setTabsClosable(True)
        self.shells.tabCloseRequested.connect(self._close_shell)
        #: Every open shell tab, of every container (only the selected one's are shown).
        self._shell_tabs: list[ShellTab] = []
        self._shell_numbers: dict[str, int] = {}

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("container-tabs")
        self.tabs.addTab(self.logs, "Logs")
        self.tabs.addTab(self.shells, "Shells")
        self.tabs.addTab(self.inspect, "Inspect")
        self.tabs.addTab(self.stats, "Stats")
        # Files and Networks are made when first shown (or asked for): they load the
        # container-files and networks machinery the first window does not need.
        self._files: ContainerFilesTab | None = None
        self._networks: ContainerNetworksView | None = None
        self._files_slot = QWidget(self)
        self._files_slot.setObjectName("container-files-slot")
        self.tabs.addTab(self._files_slot, "Files")
        self._networks_slot = QWidget(self)
        self._networks_slot.setObjectName("container-networks-slot")
        self.tabs.addTab(self._networks_slot, "Networks")
        self.tabs.currentChanged.connect(self._make_shown_tab)
        self.tabs.currentChanged.connect(lambda _i: self._load_inspect())

        # The same things as commands, for the palette (Ctrl+K): "Containers: Shell".
        self.palette_actions = [
            self._command("Shell", "shell", self.open_shell),
            self._command("Logs", "logs", partial(self.tabs.setCurrentWidget, self.logs)),
            self._command("Inspect", "inspect", partial(self.tabs.setCurrentWidget, self.inspect)),
            self._command("Stats", "stats", partial(self.tabs.setCurrentWidget, self.stats)),
            self._command("Files", "files", lambda: self.tabs.setCurrentWidget(self.files)),
            self._command("Networks", "networks",
                          lambda: self.tabs.setCurrentWidget(self.networks)),
            self._command("Change settings…", "edit", self.edit_settings),
        ]

        # The header has the pane's width; the controls sit in the tab bar's empty corner.
        controls = QWidget(self)
        controls.setObjectName("container-controls")
        bar = QHBoxLayout(controls)
        bar.setContentsMargins(0, 0, 0, 2)
        bar.setSpacing(6)
        bar.addWidget(self.tail)
        bar.addWidget(self.shell_command)
        bar.addWidget(self.shell_user)
        bar.addWidget(self.shell_button)
        self.tabs.setCornerWidget(controls, Qt.Corner.TopRightCorner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(6)
        # In the header, not the tab bar's corner: six tabs need that room.
        self.header.add_action(self.edit_button)
        layout.addWidget(self.header)
        layout.addWidget(self.tabs, 1)
        self.show_container(None)

    @property
    def files(self) -> ContainerFilesTab:
        """The Files tab, made on first use."""
        if self._files is None:
            from app.pages.container_files import ContainerFilesTab

            self._files = ContainerFilesTab(self.session, self)
            self._put_in_slot(self._files_slot, self._files, "Files")
            self._files.show_container(self.container)
        return self._files

    @property
    def networks(self) -> ContainerNetworksView:
        """The Networks tab, made on first use."""
        if self._networks is None:
            from app.pages.container_networks import ContainerNetworksView

            self._networks = ContainerNetworksView(self.session, self)
            self._put_in_slot(self._networks_slot, self._networks, "Networks")
            self._networks.show_container(self.container)
        return self._networks

    def _put_in_slot(self, slot: QWidget, tab: QWidget, label: str) -> None:
        """Replace a placeholder tab by the real one, in place, keeping what is shown."""
        index = self.tabs.indexOf(slot)
        shown = self.tabs.currentIndex()
        blocked = self.tabs.blockSignals(True)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, tab, label)
        self.tabs.setCurrentIndex(shown)
        self.tabs.blockSignals(blocked)
        slot.deleteLater()

    def _make_shown_tab(self, index: int) -> None:
        shown = self.tabs.widget(index)
        if shown is self._files_slot and self._files is None:
            self.tabs.setCurrentWidget(self.files)
        elif shown is self._networks_slot and self._networks is None:
            self.tabs.setCurrentWidget(self.networks)

    def _command(self, text: str, name: str, slot: Callable[[], object]) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"action-container-{name}")
        if (icon := icon_for(f"container-{name}")) is not None:
            action.setIcon(icon)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    # -- selection --------------------------------------------------------------------

    def show_container(self, container: engine.Container | None, hint: str = "") -> None:
        """Show ``container``'s logs, stats and shells; with none, ``hint`` says what the
        selection offers instead (a Compose project, several containers)."""
        previous = self.container
        self.container = container
        if self._files is not None:
            self._files.show_container(container)
        if self._networks is not None:
            self._networks.show_container(container)
        self._show_shells_of(container.id if container is not None else None)
        self.shell_button.setEnabled(container is not None and container.running)
        self.edit_button.setEnabled(container is not None)
        for action in self.palette_actions:
            action.setEnabled(container is not None)
        self.palette_actions[0].setEnabled(self.shell_button.isEnabled())
        if container is None and previous is None:
            if hint:
                self.header.show_nothing(hint)
            elif self.title.text() != NO_SELECTION and "(removed)" not in self.title.text():
                self.header.show_nothing(NO_SELECTION)
            return  # nothing shown, or a removed container's last words: keep them
        if container is None:
            self.session.cancel("logs")
            self._logs_task = None
            self._logs_lost = False
            self._logs_retry.stop()
            self._update_stats()
            if previous is not None and previous.id not in {c.id for c in
                                                             self.session.items(CONTAINERS)}:
                if previous.id in self._recreating:  # the new one is selected when made
                    name = html.escape(self._recreating[previous.id])
                    self.header.show_item(f"<b>{name}</b> &nbsp; (recreating…)", "recreating…",
                                          "busy", previous.image)
                    self.logs.flush()
                    self.stats.set_status(REMOVED)
                    return
                # Its row went away: keep what it wrote on screen, and say why it stopped.
                self.header.show_item(f"<b>{html.escape(previous.name)}</b> &nbsp; (removed)",
                                      "removed", "idle", previous.image)
                self.logs.flush()
                self.logs.show_status("Container removed.")
                self.stats.set_status(REMOVED)
                return
            self.header.show_nothing(hint or NO_SELECTION)
            self.logs.clear()
            self.stats.clear()
            return
        # While recreated, the old one is renamed aside: keep showing the name it had.
        name = self._recreating.get(container.id, container.name)
        self._show_header(container, name)
        if previous is None or previous.id != container.id:
            self.stats.clear()
            self._start_logs()
            self._load_inspect()
        elif previous.running != container.running and container.running:
            self._start_logs()  # started again: follow the new output
        self._update_stats()

    def _show_header(self, container: engine.Container, name: str) -> None:
        """Name, state badge, image and ID, port links and the uptime, in the header."""
        times = self._times
        if times is None or times[:2] != (container.id, container.state):
            self._times = None
            self.session.run(engine.Engine.container, container.id, key="header-times",
                             quiet_not_found=True, describe=f"inspect {container.name}",
                             on_done=self._got_times)

        def uptime() -> str:
            known = self._times
            if known is None or known[0] != container.id:
                return container.status  # the engine's own words until inspect answers
            return uptime_text(container.state, known[2], known[3], container.created)

        self.header.show_item(f"<b>{html.escape(name)}</b>", container_state(container),
                              container_tone(container),
                              f"{container_image(container)} · {container.short_id}",
                              port_links(container), uptime)

    def _got_times(self, details: engine.ContainerDetails) -> None:
        container = self.container
        if container is None or details.id != container.id:
            return
        self._times = (details.id, container.state, details.state.started_at,
                       details.state.finished_at)
        self.header.tick_now()

    # -- the connection going and coming back -----------------------------------------------

    def _connected(self) -> bool:
        return self.session.connected

    def _connection_back(self) -> None:
        """The log and stats ended with the connection; they carry on now it is back."""
        self._logs_retries = 0
        if self._logs_lost:
            self._resume_logs()
        self._update_stats()

    def _connection_lost(self) -> None:
        self._logs_retry.stop()
        task = self._logs_task
        if task is not None and not task.done():
            self.session.cancel("logs")
            self._logs_task = None
            self._logs_paused()
        elif self._logs_lost:
            self._logs_paused()  # it was cut just before the session noticed
        self._update_stats()

    def _update_stats(self) -> None:
        """At most one stats stream: the selected running container's, while shown."""
        container = self.container
        if container is None or not container.running or not self.stats.shown:
            self.session.cancel("stats")
            self._stats_for = None
            if container is not None and not container.running:
                self.stats.set_status(NOT_RUNNING)
            return
        if not self._connected():
            self.session.cancel("stats")
            self._stats_for = None
            self.stats.set_status(PAUSED)
            return
        task = self._stats_task
        if self._stats_for == container.id and task is not None and not task.done():
            return  # already following this one
        self._stats_for = container.id
        self._stats_task = self.session.run(
            partial(follow_stats, self.stats, container.id), key="stats",
            describe=f"read the stats of {container.name}", quiet_not_found=True,
        )

    def _start_logs(self) -> None:
        """Load the window the user chose, afresh, and follow a running container."""
        container = self.container
        if container is None:
            return
        self.logs.clear()
        self._log_cursor = LogCursor()
        window: LogWindow = self.tail.currentData()
        self._read_logs(container, window.tail, window.since(time.time()))

    def _resume_logs(self) -> None:
        """Carry on from the last line shown (after a lost connection, or Follow ticked)."""
        container = self.container
        if container is None:
            return
        cursor = self._log_cursor
        if cursor.last is None:  # nothing shown yet: the window, as first asked for
            self._start_logs()
            return
        if self.logs.status.text() in (LOGS_PAUSED, LOGS_ENDED, LOGS_CUT):
            self.logs.show_status("")
        cursor.resume()
        self._read_logs(container, None, cursor.since())

    def _read_logs(self, container: engine.Container, tail: int | None,
                   since: engine.Since | None) -> None:
        self._logs_retry.stop()
        self._logs_lost = False
        if not self._connected():
            self.session.cancel("logs")
            self._logs_task = None
            self._logs_paused()
            return
        self._logs_read += 1
        self._logs_read_from = self._log_cursor.last
        self._logs_task = self.session.run(
            partial(_stream_logs, self.logs, self._log_cursor, container.id, container.running,
                    tail, since),
            describe=f"read the logs of {container.name}", key="logs",
            quiet_not_found=True, on_done=partial(self._logs_ended, container.id,
                                                  self._logs_read),
        )

    def _logs_paused(self) -> None:
        self._logs_lost = True
        self.logs.flush()
        self.logs.show_status(LOGS_PAUSED)

    def _logs_ended(self, container_id: str, read: int, outcome: LogsOutcome) -> None:
        if (self.container is None or self.container.id != container_id
                or self._logs_task is None or read != self._logs_read):
            return  # a stale read: another container, or a newer read of this one
        self.logs.flush()
        if outcome is LogsOutcome.LOST:
            if not self._connected():
                self._logs_paused()
                return
            # This read alone was cut, or the session has not seen the connection go
            # yet (it will, say so, and resume this when it is back): try again
            # shortly.  Only cuts in a row count: a read that showed new lines
            # starts the count afresh.
            self._logs_lost = True
            if self._log_cursor.last != self._logs_read_from:
                self._logs_retries = 0
            if self._logs_retries < 3:
                self._logs_retries += 1
                self.logs.show_status(LOGS_CUT)
                self._logs_retry.start()
            else:
                self.logs.show_status(LOGS_ENDED)
            return
        if outcome is LogsOutcome.STOPPED:
            self.logs.show_status(LOGS_ENDED)
        elif container_id not in {c.id for c in self.session.items(CONTAINERS)}:
            self.logs.show_status("Container removed.")

    def _on_follow_toggled(self, on: bool) -> None:
        """Ticking Follow (re)starts following when nothing reads the log any more."""
        container = self.container
        if not on or container is None:
            return
        task = self._logs_task
        if task is not None and not task.done() and not task.cancelling():
            return  # following already
        if container.running or self._logs_lost:
            self._logs_retries = 0
            self._resume_logs()

    def _load_inspect(self) -> None:
        container = self.container
        if container is None or self.tabs.currentWidget() is not self.inspect:
            return
        self.session.run(engine.Engine.container, container.id, key="inspect", quiet_not_found=True,
                         describe=f"inspect {container.name}", on_done=self._show_inspect)

    def _show_inspect(self, details: engine.ContainerDetails) -> None:
        if self.container is not None and details.id == self.container.id:
            self.inspect.show_details(details)

    def _save_logs(self) -> None:
        if self.container is None:
            return
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save logs", str(Path.home() / f"{self.container.name}.log"),
            f"{SAVE_PLAIN};;{SAVE_COLOURS}", SAVE_PLAIN)
        if path:
            self.logs.flush()  # lines still queued for the next tick are saved too
            colours = chosen == SAVE_COLOURS or path.endswith(".ansi.log")
            try:
                with open(path, "wb") as out:
                    out.write(self.logs.text() if colours else self.logs.plain_bytes())
            except OSError as exc:
                self.session.message.emit(MessageLevel.ERROR, f"Could not save the logs: {exc}")
            else:
                self.session.message.emit(MessageLevel.INFO, f"Saved the logs to {path}")

    # -- settings that need a recreate ---------------------------------------------------

    def edit_settings(self) -> None:
        container = self.container
        if container is None:
            return
        self.session.run(engine.Engine.container, container.id,
                         describe=f"inspect {container.name}", on_done=self._open_settings)

    def _open_settings(self, details: engine.ContainerDetails) -> None:
        from app.pages.run_dialog import RunDialog, ask_engine_cpus

        others = [c for c in self.session.items(CONTAINERS) if c.id != details.id]
        # Its own ports are held by itself until it is recreated: the daemon checks them.
        dialog = RunDialog(details.image, defaults=engine.spec_from_container(details),
                           containers=others, check_host_ports=False,
                           accept_text="Recreate", parent=self)
        dialog.setWindowTitle(f"Change the settings of {details.name}")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.specAccepted.connect(partial(self.confirm_recreate, details))
        ask_engine_cpus(self.session, dialog)
        dialog.open()
        self.settings_dialog = dialog

    def confirm_recreate(self, details: engine.ContainerDetails, spec: engine.RunSpec) -> None:
        plan = engine.recreate_plan(details, spec)
        kept = "\n".join(f"  • {item}" for item in plan.kept)
        lost = "\n".join(f"  • {item}" for item in plan.lost)
        text = (f"These settings can only be changed by recreating {details.name}: it is "
                f"stopped, a new container is made from {details.image} with the new "
                f"settings, and the old one is removed.\n\nKept:\n{kept}\n\nLost:\n{lost}"
                f"\n\nRecreate {details.name}?")
        ask(self, f"Recreate {details.name}?", text, "Recreate",
            partial(self._recreate, details, spec), name="recreate-confirm")

    def _recreate(self, details: engine.ContainerDetails, spec: engine.RunSpec) -> None:
        self._recreating[details.id] = details.name
        task = self.session.run(
            engine.recreate_container, details.id, spec, describe=f"recreate {details.name}",
            on_done=partial(self._recreated, details))
        if task is None:
            self._recreating.pop(details.id, None)
        else:  # failed or cancelled too: the old one has its name back then
            task.add_done_callback(lambda _t: self._recreating.pop(details.id, None))

    def _recreated(self, details: engine.ContainerDetails, new_id: str) -> None:
        self.session.message.emit(MessageLevel.INFO,
                                  f"Recreated {details.name} with the new settings.")
        self.recreated.emit(new_id)

    # -- shells -----------------------------------------------------------------------

    def open_shell(self) -> ShellTab | None:
        container = self.container
        if container is None or not container.running:
            return None
        try:
            command = shlex.split(self.shell_command.text()) or None
        except ValueError as exc:  # an unclosed quote
            self.session.message.emit(MessageLevel.ERROR, f"Could not read the command: {exc}")
            return None
        tab = ShellTab(self.session, container, command, self.shell_user.text().strip())
        number = self._shell_numbers.get(container.id, 0) + 1
        self._shell_numbers[container.id] = number
        tab.number = number
        tab.shell_known.connect(partial(self._name_shell, tab))
        self._shell_tabs.append(tab)
        self._name_shell(tab, " ".join(command) if command else "shell")
        index = self.shells.addTab(tab, tab.label)
        self.shells.setCurrentIndex(index)
        self.tabs.setCurrentWidget(self.shells)
        tab.terminal.setFocus(Qt.FocusReason.OtherFocusReason)
        tab.open()
        return tab

    def _name_shell(self, tab: ShellTab, command: str) -> None:
        """Name a tab by its program and its number in its container: "sh #1", "sh #2"."""
        program = os.path.basename(command.split()[0]) if command.split() else "shell"
        tab.label = f"{program} #{tab.number}"
        index = self.shells.indexOf(tab)
        if index >= 0:
            self.shells.setTabText(index, tab.label)
            self.shells.setTabToolTip(index, f"{command} in {tab.container.name}")

    def _show_shells_of(self, container_id: str | None) -> None:
        """Only the selected container's shells are tabs; the others keep running,
        out of sight, and come back when their container is selected again."""
        wanted = [t for t in self._shell_tabs if t.container.id == container_id]
        shown = [self.shells.widget(i) for i in range(self.shells.count())]
        if shown == wanted:
            return
        while self.shells.count():
            self.shells.removeTab(0)
        for tab in wanted:
            self.shells.addTab(tab, tab.label)
            self.shells.setTabToolTip(self.shells.count() - 1,
                                      f"{tab.shell or 'shell'} in {tab.container.name}")

    def forget_engine(self, _endpoint: object = None) -> None:
        """The window switched engines: nothing of the old one stays on screen.

        Its shells are closed (their tasks were cancelled with the old engine's),
        its log and stats cleared, and no container is selected any more.
        """
        for tab in list(self._shell_tabs):
            tab.close_shell()
            tab.deleteLater()
        self._shell_tabs.clear()
        self._shell_numbers.clear()
        while self.shells.count():
            self.shells.removeTab(0)
        self._recreating.clear()
        self._times = None
        self.container = None
        self._logs_task = None
        self._logs_lost = False
        self._logs_retry.stop()
        self._stats_for = None
        self.show_container(None)
        self.header.show_nothing(NO_SELECTION)
        self.logs.clear()
        self.stats.clear()

    def open_shell_count(self) -> int:
        """How many shells are still running, in any container (quitting ends them)."""
        return sum(1 for tab in self._shell_tabs if tab.running)

    def _close_shell(self, index: int) -> None:
        tab = self.shells.widget(index)
        if isinstance(tab, ShellTab):
            tab.close_shell()
            if tab in self._shell_tabs:
                self._shell_tabs.remove(tab)
        self.shells.removeTab(index)
        if tab is not None:
            tab.deleteLater()


#: How often a followed log is read again when the daemon ends it while the container
#: still runs (Docker can end it a moment before it records the container's exit).
_FOLLOW_AGAIN = 3
#: How often a read that failed while the container runs is tried again (Podman).
_READ_AGAIN = 5


async def _stream_logs(view: LogView, cursor: LogCursor, container_id: str, follow: bool,
                       tail: int | None, since: engine.Since | None,
                       client: engine.Engine) -> LogsOutcome:
    """Read the log into ``view``, following it while the container runs.

    A lost connection is no error here: the banner reports it, and the outcome says
    to resume once the engine is back.  A followed stream that ends cleanly while the
    container still runs (a wire cut between two messages looks just like that) is
    read again from ``cursor`` a few times before the outcome says it stopped.
    """
    again = failed = 0
    try:
        while True:
            read_from = cursor.last
            try:
                async for batch in engine.log_batches(client, container_id, follow=follow,
                                                      timestamps=True, tail=tail, since=since):
                    streams, lines, stamps = cursor.take(batch.streams, batch.lines,
                                                         batch.stamps)
                    if lines:
                        view.add_lines(streams, lines, stamps)
            except engine.EngineUnreachable:
                raise
            except engine.NotFound:
                return LogsOutcome.DONE
            except engine.EngineError:
                # A container being removed ends its log stream with an error of its own
                # (Docker: "dead or marked for removal"; Podman: a JSON error inside the
                # stream). That is an expected race: the view says "Container removed."
                # It is also met by a read that starts while the removal runs (the row of
                # the other container removed with it went first: this one is selected).
                try:
                    details = await client.container(container_id)
                except engine.NotFound:
                    return LogsOutcome.DONE
                if details.state.status in ("removing", "dead"):
                    return LogsOutcome.DONE
                # Podman's tail of a log written without pause can read a half-written
                # entry and fail ("… is not a valid container log line"; issue 20.9):
                # the next read gets past it, so try again at once a few times.
                if not details.state.running or failed >= _READ_AGAIN:
                    raise
                failed += 1
                await asyncio.sleep(0.05 * failed)
                if cursor.last is not None:
                    cursor.resume()
                    tail, since = None, cursor.since()
                continue
            if not follow:
                return LogsOutcome.DONE
            try:
                details = await client.container(container_id)
            except engine.NotFound:
                return LogsOutcome.DONE
            if not details.state.running:
                return LogsOutcome.DONE
            if cursor.last != read_from:
                again = 0  # only ends in a row count: this read showed new lines
            again += 1
            if again > _FOLLOW_AGAIN:
                return LogsOutcome.STOPPED
            await asyncio.sleep(0.5 * again)
            if cursor.last is not None:
                cursor.resume()
                tail, since = None, cursor.since()
    except engine.EngineUnreachable as exc:
        log.info("the log of %s stopped with the connection: %s", container_id, exc)
        return LogsOutcome.LOST
