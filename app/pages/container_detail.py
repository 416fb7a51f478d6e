"""The detail pane under the containers table: logs, shells, inspect and stats.

Logs follow the selected container and are cancelled when the selection
changes.  Stats stream for the selected running container only while the Stats
tab is on screen (another tab or page, or a minimised window, stops them).
Shells are tabs of their own that outlive the selection: each runs one exec
with a TTY and ends with its exit code (or "container removed").
"""

from __future__ import annotations

import asyncio
import html
import logging
import shlex
import time
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import engine
from app.session import EngineSession, MessageLevel
from app.widgets.inspect_view import InspectView
from app.widgets.log_view import LogView
from app.widgets.run_dialog import RunDialog
from app.widgets.stats_view import NOT_RUNNING, REMOVED, StatsView, follow_stats
from app.widgets.terminal import TerminalWidget
from engine import ExecSession, exec_create, exec_failure_reason, exec_start, find_shell

log = logging.getLogger(__name__)

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


class ShellTab(QWidget):
    """One interactive exec in a terminal; says how it ended and offers to reopen."""

    def __init__(self, session: EngineSession, container: engine.Container,
                 command: list[str] | None = None, user: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shell-tab")
        self.session = session
        self.container = container
        self.command = command
        self.user = user or None
        self.terminal = TerminalWidget(self)
        self.banner = QLabel(self)
        self.banner.setObjectName("shell-status")
        self.reopen = QPushButton("Reopen", self)
        self.reopen.setObjectName("shell-reopen")
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
        self.resizing: asyncio.Task[object] | None = None
        self._exec: ExecSession | None = None
        self._task: asyncio.Task[object] | None = None
        self._writes: asyncio.Queue[bytes] = asyncio.Queue()
        self.terminal.input.connect(self._writes.put_nowait)
        self.terminal.resized.connect(self._on_resized)
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

    async def _run(self, client: engine.Engine) -> tuple[int | None, str]:
        command = self.command
        if command is None:
            shell = await find_shell(client, self.container.id)
            if shell is None:
                return None, (f"{self.container.name} has no shell (tried bash, ash, sh). "
                              "Type another command to run:")
            command = [shell]
        self.shell = " ".join(command)
        rows, cols = self.terminal.rows, self.terminal.columns
        exec_id = await exec_create(client, self.container.id, command, tty=True, stdin=True,
                                    user=self.user,
                                    env=["TERM=xterm-256color"], console_size=(rows, cols))
        async with await exec_start(client, exec_id, tty=True,
                                    console_size=(rows, cols)) as running:
            self._exec = running
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
            await running.write(data)

    def _on_resized(self, rows: int, cols: int) -> None:
        if self._exec is not None:
            self.resizing = self.session.run(partial(_resize, self._exec, rows, cols),
                                             describe="resize the terminal",
                                             quiet_not_found=True)

    def _ended(self, result: tuple[int | None, str]) -> None:
        code, reason = result
        self.exit_code = code
        if code is None:
            self._set_ended(True, reason)
            return
        gone = self.container.id not in {c.id for c in self.session.containers}
        if gone:
            text = f"Container {self.container.name} was removed."
        else:
            text = f"{self.shell} exited with code {code}."
            if reason:
                text += f" {reason}"
        self._set_ended(True, text)


async def _resize(running: ExecSession, rows: int, cols: int, _client: engine.Engine) -> None:
    await running.resize(rows, cols)


class ContainerDetail(QWidget):
    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("container-detail")
        self.setAccessibleName("Container details")
        self.session = session
        self.container: engine.Container | None = None
        self.title = QLabel("Select a container to see its logs.", self)
        self.title.setObjectName("container-title")
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
        self.shell_command.setMaximumWidth(160)
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
        self.shells = QTabWidget(self)
        self.shells.setObjectName("shell-tabs")
        self.shells.setTabsClosable(True)
        self.shells.tabCloseRequested.connect(self._close_shell)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("container-tabs")
        self.tabs.addTab(self.logs, "Logs")
        self.tabs.addTab(self.shells, "Shells")
        self.tabs.addTab(self.inspect, "Inspect")
        self.tabs.addTab(self.stats, "Stats")
        self.tabs.currentChanged.connect(lambda _i: self._load_inspect())

        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        bar.addWidget(self.tail)
        bar.addWidget(self.edit_button)
        bar.addWidget(self.shell_command)
        bar.addWidget(self.shell_user)
        bar.addWidget(self.shell_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.tabs, 1)
        self.show_container(None)

    # -- selection --------------------------------------------------------------------

    def show_container(self, container: engine.Container | None) -> None:
        previous = self.container
        self.container = container
        self.shell_button.setEnabled(container is not None and container.running)
        self.edit_button.setEnabled(container is not None)
        if container is None:
            self.session.cancel("logs")
            self._update_stats()
            if previous is not None and previous.id not in {c.id for c in
                                                             self.session.containers}:
                # Its row went away: keep what it wrote on screen, and say why it stopped.
                self.title.setText(f"<b>{html.escape(previous.name)}</b> &nbsp; (removed)")
                self.logs.flush()
                self.logs.show_status("Container removed.")
                self.stats.set_status(REMOVED)
                return
            self.title.setText("Select a container to see its logs.")
            self.logs.clear()
            self.stats.clear()
            return
        self.title.setText(f"<b>{container.name}</b> &nbsp; {container.short_id} &nbsp; "
                           f"{container.image}")
        if previous is None or previous.id != container.id:
            self.stats.clear()
            self._start_logs()
            self._load_inspect()
        elif previous.running != container.running and container.running:
            self._start_logs()  # started again: follow the new output
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
        task = self._stats_task
        if self._stats_for == container.id and task is not None and not task.done():
            return  # already following this one
        self._stats_for = container.id
        self._stats_task = self.session.run(
            partial(follow_stats, self.stats, container.id), key="stats",
            describe=f"read the stats of {container.name}", quiet_not_found=True,
        )

    def _start_logs(self) -> None:
        container = self.container
        if container is None:
            return
        self.logs.clear()
        window: LogWindow = self.tail.currentData()
        self.session.run(
            partial(_stream_logs, self.logs, container.id, container.running, window.tail,
                    window.since(time.time())),
            describe=f"read the logs of {container.name}", key="logs",
            quiet_not_found=True, on_done=partial(self._logs_ended, container.id),
        )

    def _logs_ended(self, container_id: str, _result: object) -> None:
        if self.container is None or self.container.id != container_id:
            return
        self.logs.flush()
        if container_id not in {c.id for c in self.session.containers}:
            self.logs.show_status("Container removed.")

    def _load_inspect(self) -> None:
        container = self.container
        if container is None or self.tabs.currentWidget() is not self.inspect:
            return
        self.session.run(partial(_inspect, container.id), key="inspect", quiet_not_found=True,
                         describe=f"inspect {container.name}", on_done=self._show_inspect)

    def _show_inspect(self, details: engine.ContainerDetails) -> None:
        if self.container is not None and details.id == self.container.id:
            self.inspect.show_details(details)

    def _save_logs(self) -> None:
        if self.container is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save logs", f"{self.container.name}.log")
        if path:
            try:
                with open(path, "wb") as out:
                    out.write(self.logs.text())
            except OSError as exc:
                self.session.message.emit(MessageLevel.ERROR, f"Could not save the logs: {exc}")
            else:
                self.session.message.emit(MessageLevel.INFO, f"Saved the logs to {path}")

    # -- settings that need a recreate ---------------------------------------------------

    def edit_settings(self) -> None:
        container = self.container
        if container is None:
            return
        self.session.run(partial(_inspect, container.id), describe=f"inspect {container.name}",
                         on_done=self._open_settings)

    def _open_settings(self, details: engine.ContainerDetails) -> None:
        others = [c for c in self.session.containers if c.id != details.id]
        # Its own ports are held by itself until it is recreated: the daemon checks them.
        dialog = RunDialog(details.image, defaults=engine.spec_from_container(details),
                           containers=others, check_host_ports=False, parent=self)
        dialog.setWindowTitle(f"Change the settings of {details.name}")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.specAccepted.connect(partial(self.confirm_recreate, details))
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
        answer = QMessageBox.question(self, f"Recreate {details.name}?", text)
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.session.run(
            partial(_recreate, details.id, spec), describe=f"recreate {details.name}",
            on_done=lambda _id: self.session.message.emit(
                MessageLevel.INFO, f"Recreated {details.name} with the new settings."))

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
        index = self.shells.addTab(tab, container.name)
        self.shells.setCurrentIndex(index)
        self.tabs.setCurrentWidget(self.shells)
        tab.terminal.setFocus(Qt.FocusReason.OtherFocusReason)
        tab.open()
        return tab

    def _close_shell(self, index: int) -> None:
        tab = self.shells.widget(index)
        if isinstance(tab, ShellTab):
            tab.close_shell()
        self.shells.removeTab(index)
        if tab is not None:
            tab.deleteLater()


async def _recreate(container_id: str, spec: engine.RunSpec, client: engine.Engine) -> str:
    return await engine.recreate_container(client, container_id, spec)


async def _inspect(container_id: str, client: engine.Engine) -> engine.ContainerDetails:
    return await client.container(container_id)


async def _stream_logs(view: LogView, container_id: str, follow: bool, tail: int | None,
                       since: float | None, client: engine.Engine) -> None:
    try:
        async for batch in engine.log_batches(client, container_id, follow=follow,
                                              timestamps=True, tail=tail, since=since):
            view.add_lines(batch.streams, batch.lines, batch.stamps)
    except engine.EngineUnreachable:
        raise
    except engine.EngineError:
        # A container being removed ends its log stream with an error of its own
        # (Docker: "dead or marked for removal"; Podman: a JSON error inside the
        # stream). That is an expected race: the view says "Container removed."
        try:
            await client.container(container_id)
        except engine.NotFound:
            return
        raise
