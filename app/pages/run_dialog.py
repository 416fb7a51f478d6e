"""The "Run…" dialog, and the one-click "Run" that needs no dialog.

Every field is parsed as it is edited with the engine's own parsers
(:mod:`engine._run`); a problem shows in red under its field and disables Run,
so nothing invalid is ever sent.  Host-port conflicts (another program or a
running container holding the port) are checked a moment after typing stops.

Two ways to use it:

- Without a session the dialog only builds a :class:`RunSpec`: Run emits
  ``specAccepted`` and closes (the container page's "Change settings…" does the
  recreate itself).
- With a session (:func:`open_run_dialog`, the Images page's "Run…") the dialog
  runs the spec itself and stays open while it does ("Running…", the fields
  locked).  It closes only when the container started; when the daemon refuses
  (a command that does not exist, a port taken meanwhile) its words are shown
  in the dialog above the buttons and every field is kept as typed, so the user
  fixes one thing and presses Run again.  Cancel while running cancels the run;
  if the daemon had already created the container it is removed, so a cancelled
  run leaves nothing behind (a refused start is already cleaned up by
  :func:`engine._run.run_container`).

Bind-mount sources that do not exist: with ``-v`` (``Binds``) Docker silently
creates a missing host folder, owned by root, and so does Podman's compatible
API (its own CLI refuses).  That is not what someone who mistyped a path
wants, so for an engine on this
computer (a Unix socket; a remote engine's files cannot be seen from here) a
missing host folder is a problem shown under Volumes that blocks Run, as
``docker run --mount`` blocks it.  A "Create missing host folders" box appears
with it: ticked, the dialog creates the folders itself, owned by the user,
just before the run, which is the explicit way to go ahead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent, QShowEvent, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import engine
from app.resources import CONTAINERS
from app.session import EngineSession, MessageLevel
from app.theme import ERROR_TEXT, WARNING_TEXT, text_style
from engine import (
    RESTART_POLICIES,
    InvalidInput,
    RestartPolicy,
    RunSpec,
    VolumeMapping,
    check_spec,
    format_cpus,
    format_memory,
    network_names,
    one_click_spec,
    parse_command,
    parse_cpus,
    parse_env_lines,
    parse_labels,
    parse_memory,
    parse_ports,
    parse_restart,
    parse_user,
    parse_volumes,
    parse_working_dir,
    ports_ignored,
    ports_in_use,
    read_env_file,
    run_container,
    validate_name,
)

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Fields in the order the form shows them; each has a "run-<field>-error" label.
FIELDS = ("name", "command", "entrypoint", "ports", "env", "volumes", "labels", "restart",
          "network", "user", "workdir", "cpus", "memory")


def _text_box(name: str, accessible: str, placeholder: str, parent: QWidget,
              lines: int = 3) -> QPlainTextEdit:
    box = QPlainTextEdit(parent)
    box.setObjectName(name)
    box.setAccessibleName(accessible)
    box.setPlaceholderText(placeholder)
    box.setTabChangesFocus(True)
    box.setFixedHeight(box.fontMetrics().lineSpacing() * lines + 12)
    return box


def _line(name: str, accessible: str, placeholder: str, parent: QWidget) -> QLineEdit:
    line = QLineEdit(parent)
    line.setObjectName(name)
    line.setAccessibleName(accessible)
    line.setPlaceholderText(placeholder)
    return line


class RunDialog(QDialog):
    """Name, command, ports, environment, volumes, restart, network and flags for one run."""

    #: Emitted on Run with the RunSpec to start (only without a session: with one,
    #: the dialog runs the spec itself and emits ``started`` instead).
    specAccepted = Signal(object)
    #: Emitted with (RunSpec, container ID) once a run through the session started.
    started = Signal(object, str)

    #: How long typing must pause before host ports are probed.
    CONFLICT_DELAY_MS = 250

    def __init__(
        self,
        image: str,
        *,
        defaults: RunSpec | None = None,
        containers: Sequence[engine.Container] = (),
        networks: Sequence[str] = (),
        check_host_ports: bool = True,
        check_host_paths: bool | None = None,
        engine_name: str = "Docker",
        session: EngineSession | None = None,
        accept_text: str = "Run",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        #: The accept button's verb: "Recreate" when the dialog changes a container.
        self._accept_text = accept_text
        self.setObjectName("run-dialog")
        self.setAccessibleName(f"Run {image}")
        self.setWindowTitle(f"Run {image}")
        self.image = image
        self._defaults = defaults or RunSpec(image=image)
        self._containers = tuple(containers)
        self._check_host = check_host_ports
        # Host folders are only this computer's when the engine is on it, as for ports.
        self._check_paths = check_host_ports if check_host_paths is None else check_host_paths
        self._engine_name = engine_name
        self._session = session
        self._run_key = f"run-dialog-run-{id(self)}"
        self._busy = False
        self._missing: list[str] = []
        self._folder_error = ""
        self._focus_before: QWidget | None = None
        #: The height the dialog opened with, and the one it last fitted its messages to.
        self._base_height: int | None = None
        self._fitted_height = -1
        #: The task running the spec (with a session), for whoever wants to wait on it.
        self.run_task: asyncio.Task[Any] | None = None
        self._errors: dict[str, str] = {}
        #: The engine's CPU count once /info answered (0: not known, no upper check).
        self._engine_cpus = 0
        self._import_error = ""
        self._spec: RunSpec | None = None
        self._conflicts: list[str] = []
        self._conflicts_for: object = None  # the parsed ports the conflicts were found for
        self.result_spec: RunSpec | None = None

        self.name = QLineEdit(self)
        self.name.setObjectName("run-name")
        self.name.setAccessibleName("Container name")
        self.name.setPlaceholderText("Chosen automatically")
        self.command = QLineEdit(self)
        self.command.setObjectName("run-command")
        self.command.setAccessibleName("Command")
        self.command.setPlaceholderText("The image's command")
        self.entrypoint = QLineEdit(self)
        self.entrypoint.setObjectName("run-entrypoint")
        self.entrypoint.setAccessibleName("Entrypoint")
        self.entrypoint.setPlaceholderText("The image's entrypoint")
        self.ports = _text_box("run-ports", "Published ports",
                               "8080:80 or 127.0.0.1:8080:80/tcp, one per line", self)
        self.publish_all = QCheckBox("Publish all exposed ports to free host ports", self)
        self.publish_all.setObjectName("run-publish-all")
        self.publish_all.setAccessibleName("Publish all exposed ports")
        self.env = _text_box("run-env", "Environment variables", "KEY=VALUE, one per line", self)
        self.env_import = QPushButton("Import .env…", self)
        self.env_import.setObjectName("run-env-import")
        self.env_import.setAccessibleName("Import environment file")
        self.volumes = _text_box("run-volumes", "Volumes and bind mounts",
                                 "volume:/data, /host/folder:/data:ro, one per line", self)
        self.add_folder_button = QPushButton("Add folder…", self)
        self.add_folder_button.setObjectName("run-volumes-add-folder")
        self.add_folder_button.setAccessibleName("Add a host folder")
        self.create_missing = QCheckBox("Create missing host folders (owned by you) before"
                                        " running", self)
        self.create_missing.setObjectName("run-create-missing")
        self.create_missing.setAccessibleName("Create missing host folders")
        self.create_missing.hide()  # offered only while a host folder is missing
        self.restart = QComboBox(self)
        self.restart.setObjectName("run-restart")
        self.restart.setAccessibleName("Restart policy")
        self.restart.setEditable(True)
        self.restart.addItems(list(RESTART_POLICIES))
        self.network = QComboBox(self)
        self.network.setObjectName("run-network")
        self.network.setAccessibleName("Network")
        self.network.setEditable(True)
        line_edit = self.network.lineEdit()
        if line_edit is not None:
            line_edit.setPlaceholderText("The engine's default")
        self.labels = _text_box("run-labels", "Labels", "key=value, one per line", self,
                                lines=2)
        self.user = _line("run-user", "User", "The image's user (name or UID[:GID])", self)
        self.workdir = _line("run-workdir", "Working directory", "The image's working directory",
                             self)
        self.cpus = _line("run-cpus", "CPU limit", "No limit", self)
        self.cpus.setToolTip("How many CPUs the container may use, e.g. 1.5 (--cpus)")
        self.memory = _line("run-memory", "Memory limit", "No limit", self)
        self.memory.setToolTip("How much memory the container may use, e.g. 512m or 2g"
                               " (--memory; k, m, g are 1024-based)")
        # Shown while the network mode makes the ports meaningless (host, none).
        self.ports_note = QLabel(self)
        self.ports_note.setObjectName("run-ports-warning")
        self.ports_note.setAccessibleName("Ports warning")
        self.ports_note.setStyleSheet(text_style(WARNING_TEXT, self.ports_note))
        self.ports_note.setWordWrap(True)
        self.ports_note.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.ports_note.hide()
        self.auto_remove = QCheckBox("Remove the container when it exits", self)
        self.auto_remove.setObjectName("run-auto-remove")
        self.auto_remove.setAccessibleName("Auto-remove")
        self.tty = QCheckBox("Allocate a terminal (TTY)", self)
        self.tty.setObjectName("run-tty")
        self.tty.setAccessibleName("TTY")
        self.interactive = QCheckBox("Keep standard input open", self)
        self.interactive.setObjectName("run-interactive")
        self.interactive.setAccessibleName("Interactive")

        self.error_labels: dict[str, QLabel] = {}
        for field in FIELDS:
            label = QLabel(self)
            label.setObjectName(f"run-{field}-error")
            label.setAccessibleName(f"{field.capitalize()} problem")
            label.setStyleSheet(text_style(ERROR_TEXT, label))
            label.setWordWrap(True)
            # Top-aligned: a row a line taller than its wrapped text leaves no gap above.
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.hide()
            self.error_labels[field] = label
        # The daemon's own words when it refuses the run: the dialog stays open.
        self.run_error = QLabel(self)
        self.run_error.setObjectName("run-error")
        self.run_error.setAccessibleName("Why the engine refused")
        self.run_error.setStyleSheet(text_style(ERROR_TEXT, self.run_error))
        self.run_error.setWordWrap(True)
        self.run_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_error.hide()

        self.buttons = QDialogButtonBox(self)
        self.run_button = self.buttons.addButton(accept_text,
                                                 QDialogButtonBox.ButtonRole.AcceptRole)
        self.run_button.setObjectName("run-accept")
        self.run_button.setAccessibleName(accept_text)
        self.run_button.setDefault(True)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setObjectName("run-cancel")
        cancel.setAccessibleName("Cancel")
        self.cancel_button = cancel
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        rows: list[tuple[str, QWidget | QHBoxLayout | QVBoxLayout, str | None]] = [
            ("Name", self.name, "name"),
            ("Command", self.command, "command"),
            ("Entrypoint", self.entrypoint, "entrypoint"),
            ("Ports", self._stack(self.ports, self.publish_all), "ports"),
            ("Environment", self._stack(self.env, self.env_import), "env"),
            ("Volumes", self._stack(self.volumes, self.add_folder_button,
                                    self.create_missing), "volumes"),
            ("Labels", self.labels, "labels"),
            ("Restart", self.restart, "restart"),
            ("Network", self.network, "network"),
            ("User", self.user, "user"),
            ("Working directory", self.workdir, "workdir"),
            ("Limits", self._limits_row(), "cpus"),
            ("", self.auto_remove, None),
            ("", self.tty, None),
            ("", self.interactive, None),
        ]
        for text, widget, error_of in rows:
            form.addRow(text, widget)
            if error_of == "ports":
                form.addRow("", self.ports_note)
            if error_of is not None:
                form.addRow("", self.error_labels[error_of])
            if error_of == "cpus":  # CPUs and memory share the Limits row
                form.addRow("", self.error_labels["memory"])
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addStretch(1)  # spare height goes here, not between a message's lines
        layout.addWidget(self.run_error)
        layout.addWidget(self.buttons)

        self._conflict_timer = QTimer(self)
        self._conflict_timer.setSingleShot(True)
        self._conflict_timer.setInterval(self.CONFLICT_DELAY_MS)
        self._conflict_timer.timeout.connect(self.check_conflicts)

        self._fill(self._defaults)
        for line in (self.name, self.command, self.entrypoint, self.user, self.workdir,
                     self.cpus, self.memory):
            line.textChanged.connect(self._validate)
        for box in (self.ports, self.env, self.volumes, self.labels):
            box.textChanged.connect(self._validate)
        self.env.textChanged.connect(self._clear_import_error)
        for combo in (self.restart, self.network):
            combo.currentTextChanged.connect(self._validate)
        for check in (self.publish_all, self.auto_remove, self.tty, self.interactive,
                      self.create_missing):
            check.toggled.connect(self._validate)
        self.volumes.textChanged.connect(self._clear_folder_error)
        self.create_missing.toggled.connect(self._clear_folder_error)
        self.env_import.clicked.connect(self._choose_env_file)
        self.add_folder_button.clicked.connect(self._choose_folder)
        self.set_networks(networks)
        self._validate()
        self.check_conflicts()

    def _limits_row(self) -> QHBoxLayout:
        """CPUs and memory side by side: one row for the two limits."""
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        cpus = QLabel("CPUs", self)
        cpus.setBuddy(self.cpus)
        memory = QLabel("Memory", self)
        memory.setBuddy(self.memory)
        row.addWidget(cpus)
        row.addWidget(self.cpus, 1)
        row.addSpacing(8)
        row.addWidget(memory)
        row.addWidget(self.memory, 1)
        return row

    @staticmethod
    def _stack(main: QWidget, *extras: QWidget) -> QVBoxLayout:
        stack = QVBoxLayout()
        stack.setContentsMargins(0, 0, 0, 0)
        stack.addWidget(main)
        row = QHBoxLayout()
        for extra in extras:
            row.addWidget(extra)
        row.addStretch(1)
        stack.addLayout(row)
        return stack

    def _inputs(self) -> tuple[QWidget, ...]:
        return (self.name, self.command, self.entrypoint, self.ports, self.publish_all,
                self.env, self.env_import, self.volumes, self.add_folder_button,
                self.create_missing, self.labels, self.restart, self.network, self.user,
                self.workdir, self.cpus, self.memory, self.auto_remove, self.tty,
                self.interactive)

    def _fill(self, spec: RunSpec) -> None:
        self.name.setText(spec.name or "")
        self.command.setText(_join(spec.command))
        self.entrypoint.setText(_join(spec.entrypoint))
        self.ports.setPlainText("\n".join(str(p) for p in spec.ports))
        self.publish_all.setChecked(spec.publish_all)
        self.env.setPlainText("\n".join(spec.env))
        self.volumes.setPlainText("\n".join(str(v) for v in spec.volumes))
        self.restart.setCurrentText(str(spec.restart))
        self.network.setCurrentText(spec.network or "")
        self.labels.setPlainText("\n".join(f"{key}={value}"
                                           for key, value in spec.labels.items()))
        self.user.setText(spec.user or "")
        self.workdir.setText(spec.working_dir or "")
        self.cpus.setText(format_cpus(spec.nano_cpus) if spec.nano_cpus else "")
        self.memory.setText(format_memory(spec.memory) if spec.memory else "")
        self.auto_remove.setChecked(spec.auto_remove)
        self.tty.setChecked(spec.tty)
        self.interactive.setChecked(spec.interactive)

    # -- what the caller feeds in ---------------------------------------------------

    def set_networks(self, names: Sequence[str]) -> None:
        """Offer the engine's networks, keeping whatever the user typed."""
        current = self.network.currentText()
        self.network.blockSignals(True)
        self.network.clear()
        self.network.addItems(["", *names])
        self.network.setCurrentText(current)
        self.network.blockSignals(False)

    def set_engine_cpus(self, info: engine.SystemInfo) -> None:
        """The engine's CPU count bounds the CPUs box (the engine may be another machine)."""
        self._engine_cpus = info.cpus
        self._validate()

    def set_containers(self, containers: Sequence[engine.Container]) -> None:
        """The engine's containers changed: names and published ports may now clash."""
        self._containers = tuple(containers)
        self._conflicts_for = None
        self._validate()

    # -- validation ------------------------------------------------------------------

    def _field(self, field: str, parse: Callable[[str], T], text: str) -> T | None:
        try:
            return parse(text)
        except InvalidInput as exc:
            self._errors[field] = str(exc)
            return None

    def _validate(self) -> None:
        self._errors = {}
        name = self._field("name", validate_name, self.name.text())
        # While running, the container being made is in the list under this very name.
        if name is not None and not self._busy and any(c.name == name
                                                        for c in self._containers):
            self._errors["name"] = f"A container named {name!r} already exists"
        command = self._field("command", parse_command, self.command.text())
        entrypoint = self._field("entrypoint", parse_command, self.entrypoint.text())
        ports = self._field("ports", parse_ports, self.ports.toPlainText())
        env = self._field("env", parse_env_lines, self.env.toPlainText())
        if self._import_error:
            self._errors["env"] = self._import_error
        volumes = self._field("volumes", parse_volumes, self.volumes.toPlainText())
        self._missing = missing_folders(volumes or ()) if self._check_paths else []
        if self._missing and not self.create_missing.isChecked():
            self._errors["volumes"] = "\n".join(
                self._missing_message(path) for path in self._missing)
        if self._folder_error:
            self._errors["volumes"] = self._folder_error
        self.create_missing.setVisible(bool(self._missing) or self.create_missing.isChecked())
        restart = self._field("restart", parse_restart, self.restart.currentText())
        network = self.network.currentText().strip()
        if any(c.isspace() for c in network):
            self._errors["network"] = "A network name cannot contain spaces"
        labels = self._field("labels", parse_labels, self.labels.toPlainText())
        user = self._field("user", parse_user, self.user.text())
        workdir = self._field("workdir", parse_working_dir, self.workdir.text())
        nano_cpus = self._field("cpus", partial(parse_cpus, available=self._engine_cpus),
                                self.cpus.text())
        memory = self._field("memory", parse_memory, self.memory.text())
        # Host or none: the daemon would accept ports and publish nothing.  Say so, and
        # send none (the typed ports stay, for when another network is chosen).
        ignored = ports_ignored(network)
        self.ports_note.setText(ignored or "")
        self.ports_note.setVisible(ignored is not None)
        for widget in (self.ports, self.publish_all):
            widget.setEnabled(ignored is None and not self._busy)
        if ignored is not None:
            self._errors.pop("ports", None)
            ports = ()
        if ignored is not None:
            pass  # nothing will be published: nothing can clash
        elif ports is not None and ports != self._conflicts_for:
            self._conflict_timer.start()  # (re)started: probe once typing pauses
        elif ports is not None and self._conflicts:
            self._errors["ports"] = "\n".join(self._conflicts)
        spec: RunSpec | None = None
        if not self._errors:
            spec = RunSpec(
                image=self.image,
                name=name,
                command=command,
                entrypoint=entrypoint,
                ports=ports or (),
                publish_all=self.publish_all.isChecked() and ignored is None,
                env=env or (),
                volumes=volumes or (),
                restart=restart or RestartPolicy(),
                network=network or None,
                auto_remove=self.auto_remove.isChecked(),
                tty=self.tty.isChecked(),
                interactive=self.interactive.isChecked(),
                labels=labels or {},
                user=user,
                working_dir=workdir,
                nano_cpus=nano_cpus,
                memory=memory,
            )
            self._errors.update(check_spec(spec))
            if self._errors:
                spec = None
        self._spec = spec
        for field, label in self.error_labels.items():
            message = self._errors.get(field, "")
            label.setText(message)
            label.setVisible(bool(message))
        self.run_button.setEnabled(spec is not None and not self._busy)
        self._fit_messages()

    def _fit_messages(self, *, shrink: bool = True) -> None:
        """Give every shown message the height its wrapped text needs at this width.

        A wrapped label's height depends on its width, which the form's minimum
        size leaves out (and its height-for-width guesses lines too many): a long
        message (the daemon's words) drew the fields over each other.  With each
        message's height fixed from its real width, the layout's minimum is exact
        and the dialog grows to it.
        """
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        field_width = self.name.width()
        for label in (*self.error_labels.values(), self.ports_note):
            if not label.isHidden():
                label.setFixedHeight(label.heightForWidth(field_width))
        if not self.run_error.isHidden():
            self.run_error.setFixedHeight(
                self.run_error.heightForWidth(layout.contentsRect().width()))
        layout.invalidate()  # the new heights count now, not after a posted layout request
        layout.activate()  # grows the dialog to its new minimum if needed
        # Messages gone: back to the height before them, unless the user chose one.
        if shrink and self._fitted_height == self.height():
            target = max(self.minimumHeight(), self._base_height or 0)
            if target < self.height():
                self.resize(self.width(), target)
        self._fitted_height = self.height()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_messages(shrink=False)  # wider or narrower: the messages wrap differently

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._base_height is None:
            self._base_height = self.height()
            self._fitted_height = self.height()

    def _missing_message(self, path: str) -> str:
        if self._engine_name == "Podman":  # its compatible API creates it, as the service's user
            consequence = "Podman would create it as an empty folder"
        else:
            consequence = (f"{self._engine_name} would create it as an empty folder"
                           " owned by root")
        return f"{path} does not exist on this machine; {consequence}"

    def check_conflicts(self) -> None:
        """Probe the host ports now (the debounce timer's slot, and before Run)."""
        self._conflict_timer.stop()
        try:
            ports = parse_ports(self.ports.toPlainText())
        except InvalidInput:
            return  # the syntax error is already shown
        self._conflicts = ports_in_use(ports, self._containers, check_host=self._check_host)
        self._conflicts_for = ports
        self._validate()

    @property
    def errors(self) -> Mapping[str, str]:
        """The messages shown under each field, by field name."""
        return dict(self._errors)

    def spec(self) -> RunSpec | None:
        """What Run would start, or None while anything is invalid."""
        return self._spec

    @property
    def busy(self) -> bool:
        """True while the run is on its way to the engine."""
        return self._busy

    def accept(self) -> None:
        if self._busy:
            return
        if self._conflict_timer.isActive() or self._conflicts_for is None:
            self.check_conflicts()
        spec = self._spec
        if spec is None or not self._make_missing_folders():
            return
        self.result_spec = spec
        if self._session is None:
            self.specAccepted.emit(spec)
            super().accept()
            return
        self._start_run(self._session, spec)

    def reject(self) -> None:
        if self._busy and self._session is not None:
            # The run task removes a container the daemon had already created.
            self._session.cancel(self._run_key)
            self._set_busy(False)
        super().reject()

    # -- running through the session (the dialog stays open until it started) -------------

    def _start_run(self, session: EngineSession, spec: RunSpec) -> None:
        self.run_error.hide()
        self._set_busy(True)
        self.run_task = session.run(partial(_run_or_refusal, spec), key=self._run_key,
                                    describe=f"run {spec.image}",
                                    on_done=partial(self._run_finished, spec))
        if self.run_task is None:  # not connected: the session said so in the message bar
            self._set_busy(False)
            self._show_refusal("Not connected to an engine; nothing was sent.")

    def _run_finished(self, spec: RunSpec, outcome: Started | engine.EngineError) -> None:
        if isinstance(outcome, engine.EngineError):
            # run_container removed what the daemon refused: its name is free again, even
            # if the list has not caught up yet.
            self._containers = tuple(c for c in self._containers if c.name != spec.name)
            self._set_busy(False)
            self._show_refusal(f"The engine refused to run it: {outcome}")
            return
        self._set_busy(False)
        container_id, bindings = outcome
        self.started.emit(spec, container_id)
        if self._session is not None:
            self._session.message.emit(MessageLevel.INFO,
                                       describe_started(spec, container_id, bindings))
        super().accept()

    def _show_refusal(self, text: str) -> None:
        self.run_error.setText(text)
        self.run_error.show()
        self._fit_messages()

    def _set_busy(self, busy: bool) -> None:
        if busy:
            self._focus_before = self.focusWidget()
        self._busy = busy
        for widget in self._inputs():
            widget.setEnabled(not busy)
        self.run_button.setText("Running…" if busy else self._accept_text)
        if busy:
            self.setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.unsetCursor()
        self._validate()
        if not busy:
            # Disabling moved the focus to Cancel, where Enter would throw everything
            # away: give it back to where it was (Run, or the field Enter was pressed in).
            candidates = (self._focus_before, self.run_button, self.name)
            target = next(w for w in candidates if w is not None and w.isEnabled())
            target.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- missing host folders ----------------------------------------------------------------

    def _clear_folder_error(self) -> None:
        if self._folder_error:
            self._folder_error = ""
            self._validate()

    def _make_missing_folders(self) -> bool:
        """Create the missing bind sources the user asked for; False (shown) on failure."""
        if not self.create_missing.isChecked():
            return True
        for path in self._missing:
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as exc:
                self._folder_error = f"Could not create {path}: {exc.strerror or exc}"
                self._validate()
                return False
        self._validate()
        return self._spec is not None

    # -- the two file choosers ------------------------------------------------------------

    def _clear_import_error(self) -> None:
        self._import_error = ""

    def _choose_env_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Import environment variables", str(Path.home()),
            "Environment files (*.env .env);;All files (*)")
        if path:
            self.import_env_file(path)

    def import_env_file(self, path: str) -> None:
        """Append a .env file's variables (read as ``docker run --env-file`` reads it)."""
        try:
            lines = read_env_file(path)
        except InvalidInput as exc:
            self._import_error = f"Could not import: {exc}"
            self._validate()
            return
        current = self.env.toPlainText().rstrip("\n")
        self.env.setPlainText("\n".join([current, *lines] if current else lines))

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to mount",
                                                  str(Path.home()))
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> None:
        """Add a bind mount of ``folder`` at /mnt/<its name>, the container side selected."""
        target = f"/mnt/{os.path.basename(folder.rstrip('/')) or 'host'}"
        current = self.volumes.toPlainText().rstrip("\n")
        line = f"{folder}:{target}"
        self.volumes.setPlainText(f"{current}\n{line}" if current else line)
        cursor = self.volumes.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor,
                            len(target))
        self.volumes.setTextCursor(cursor)
        self.volumes.setFocus()


def _join(words: tuple[str, ...] | None) -> str:
    return shlex.join(words) if words else ""


def missing_folders(volumes: Sequence[VolumeMapping]) -> list[str]:
    """The bind sources that do not exist on this computer (each once, in order).

    Only "does not exist" counts: a path we may not look into (the daemon runs as
    root) is the daemon's to judge.
    """
    missing: list[str] = []
    for volume in volumes:
        if not volume.is_bind or volume.source in missing:
            continue
        try:
            os.stat(volume.source)
        except FileNotFoundError:
            missing.append(volume.source)
        except OSError:
            pass
    return missing


# -- running through the session ---------------------------------------------------------


#: A started container: its ID and the ports the engine really published.
Started = tuple[str, tuple[engine.PortMapping, ...]]


def describe_started(spec: RunSpec, container_id: str,
                     bindings: Sequence[engine.PortMapping] = ()) -> str:
    """"Started web-1 (127.0.0.1:8080 → 80/tcp)": where to point a browser.

    ``bindings`` are what the engine published (read back after the start), never
    what was asked: on network host or none nothing is, whatever the form said.
    The same port on IPv4 and IPv6 any-address is said once, as ``docker ps`` does.
    """
    name = spec.name or container_id[:12]
    published: list[str] = []
    for port in bindings:
        if port.host_port is None:
            continue
        shown = f"{port.host_ip or '0.0.0.0'}:{port.host_port} → {port.key}"
        if port.host_ip == "::" and f"0.0.0.0:{port.host_port} → {port.key}" in published:
            continue
        if ":" in port.host_ip:
            shown = f"[{port.host_ip}]:{port.host_port} → {port.key}"
        published.append(shown)
    return f"Started {name}" + (f" ({', '.join(published)})" if published else "")


async def _start(spec: RunSpec, client: engine.Engine) -> Started:
    """Run ``spec`` and read back what the engine published."""
    container_id = await run_container(client, spec)
    try:
        details = await client.container(container_id)
    except engine.EngineError as exc:  # auto-removed (it already exited), or gone meanwhile
        log.info("could not read back %s after starting it: %s", container_id[:12], exc)
        return container_id, ()
    return container_id, engine.published_bindings(details)


def _report_started(session: EngineSession, on_started: Callable[[str], object] | None,
                    result: tuple[RunSpec, Started]) -> None:
    spec, (container_id, bindings) = result
    session.message.emit(MessageLevel.INFO, describe_started(spec, container_id, bindings))
    if on_started is not None:
        on_started(container_id)


async def _run_spec(spec: RunSpec, client: engine.Engine) -> tuple[RunSpec, Started]:
    return spec, await _start(spec, client)


async def _run_or_refusal(spec: RunSpec, client: engine.Engine) -> Started | engine.EngineError:
    """Run ``spec``: the container ID, or the engine's refusal handed back to the dialog.

    Cancelling never cuts the create/start sequence in half: the run goes on
    shielded and whatever it made is removed, so a cancelled run leaves nothing.
    """
    run = asyncio.ensure_future(_start(spec, client))
    try:
        return await asyncio.shield(run)
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.ensure_future(_undo_run(run, client)))
        raise
    except engine.EngineError as exc:
        return exc


async def _undo_run(run: asyncio.Future[Started], client: engine.Engine) -> None:
    try:
        container_id, _bindings = await run
    except engine.EngineError:
        return  # refused: run_container already removed what it created
    try:
        await client.remove_container(container_id, force=True, volumes=True)
    except engine.NotFound:
        pass
    except engine.EngineError as exc:
        log.warning("could not remove %s after a cancelled run: %s", container_id[:12], exc)


async def _one_click(image: str, labels: Mapping[str, str],
                     client: engine.Engine) -> tuple[RunSpec, Started]:
    spec = await one_click_spec(client, image)
    if labels:
        spec = replace(spec, labels=dict(labels))
    return spec, await _start(spec, client)


def run_spec(session: EngineSession, spec: RunSpec,
             on_started: Callable[[str], object] | None = None) -> None:
    """Start what the dialog accepted; the outcome goes to the message bar."""
    session.run(partial(_run_spec, spec), describe=f"run {spec.image}",
                on_done=partial(_report_started, session, on_started))


def run_one_click(session: EngineSession, image: str,
                  labels: Mapping[str, str] | None = None,
                  on_started: Callable[[str], object] | None = None) -> None:
    """The "Run" button: defaults from :func:`one_click_spec`, no questions asked;
    ``on_started`` gets the new container's ID (to select it)."""
    session.run(partial(_one_click, image, dict(labels or {})), describe=f"run {image}",
                on_done=partial(_report_started, session, on_started))


def _engine_is_local(session: EngineSession) -> bool:
    """Probing ports on this computer only means something for an engine on it."""
    client = session.client
    return client is not None and client.endpoint.scheme == "unix"


def ask_engine_cpus(session: EngineSession, dialog: RunDialog) -> None:
    """Fill in the engine's CPU count; cancelled with the dialog, never filling a deleted one."""
    key = f"run-dialog-cpus-{id(dialog)}"
    session.run(engine.Engine.info, describe="read the engine's CPU count", key=key,
                on_done=dialog.set_engine_cpus)
    dialog.finished.connect(lambda _result: session.cancel(key))


def open_run_dialog(session: EngineSession, image: str, parent: QWidget | None = None,
                    labels: Mapping[str, str] | None = None,
                    on_started: Callable[[str], object] | None = None) -> None:
    """The "Run…" button: prefill the dialog with the one-click defaults; the dialog runs
    the spec itself and stays open, showing the engine's words, until it started."""

    def show(defaults: RunSpec) -> None:
        if labels:
            defaults = replace(defaults, labels=dict(labels))
        client = session.client
        podman = client is not None and client.version.is_podman
        dialog = RunDialog(image, defaults=defaults, containers=session.items(CONTAINERS),
                           check_host_ports=_engine_is_local(session),
                           engine_name="Podman" if podman else "Docker",
                           session=session, parent=parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        session.live(CONTAINERS).changed.connect(dialog.set_containers)
        if on_started is not None:
            dialog.started.connect(lambda _spec, container_id: on_started(container_id))
        # Keyed, and cancelled when the dialog closes: never fill a deleted dialog.
        key = f"run-dialog-networks-{id(dialog)}"
        session.run(network_names, describe="list the engine's networks", key=key,
                    on_done=dialog.set_networks)
        ask_engine_cpus(session, dialog)
        dialog.finished.connect(lambda _result: session.cancel(key))
        dialog.open()

    session.run(one_click_spec, image, describe=f"prepare to run {image}", on_done=show)

