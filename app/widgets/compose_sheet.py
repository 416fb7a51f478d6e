"""The Compose sheet: what a dropped or opened Compose file defines, before anything runs.

It lists the file's services (image or build, ports, volumes, profiles, whether
each runs with the profiles ticked), its volumes and networks, variables set
nowhere, and which Compose tool will run it.  Up, Pull and Build are asked for
through :attr:`ComposeSheet.requested`; the window runs them (app/compose_ops.py).
Non-modal (``open()``), so nothing waits on it.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.table import Column, KeyedTableModel
from app.presentation import counted
from app.theme import ERROR_TEXT, WARNING_TEXT, text_style


def _runs(service: engine.ComposeFileService, enabled: tuple[str, ...]) -> str:
    return "yes" if service.active(enabled) else "no (profile off)"


def file_service_columns(sheet: ComposeSheet) -> tuple[Column, ...]:
    """The services table's columns; "Runs" follows the profiles ticked on ``sheet``."""
    return (
        Column("Service", lambda s: s.name),
        Column("Image / build", lambda s: s.image_or_build, tooltip=lambda s: s.image_or_build),
        Column("Ports", lambda s: ", ".join(s.ports) or "—"),
        Column("Volumes", lambda s: ", ".join(s.volumes) or "—",
               tooltip=lambda s: "\n".join(s.volumes)),
        Column("Profiles", lambda s: ", ".join(s.profiles) or "—"),
        Column("Health check", lambda s: "yes" if s.healthcheck else "—"),
        Column("Runs", lambda s: _runs(s, sheet.project.enabled_profiles),
               tone=lambda s: "good" if s.active(sheet.project.enabled_profiles) else "idle"),
    )


class ComposeSheet(QDialog):
    """One Compose file, read; the user's choice of profiles and command."""

    #: verb ("up", "pull", "build"), the file as shown (profiles chosen)
    requested = Signal(str, object)

    def __init__(self, project: engine.ComposeFile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compose-sheet")
        self.setAccessibleName(f"Compose app {project.name}")
        self.setWindowTitle(f"Compose app {project.name}")
        self.project = project
        self.resize(940, 420)

        title = QLabel(self)
        title.setObjectName("compose-sheet-title")
        title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        title.setWordWrap(True)
        files = "<br>".join(html.escape(f) for f in project.files)
        title.setText(f"<b>{html.escape(project.name)}</b> — "
                      f"{counted(len(project.services), 'service')}<br>{files}")

        self.services = KeyedTableModel(file_service_columns(self), key=lambda s: s.name,
                                        parent=self)
        self.services.set_items(project.services)
        self.table = QTableView(self)
        self.table.setObjectName("compose-sheet-services")
        self.table.setAccessibleName("Services the file defines")
        self.table.setModel(self.services)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in {0: 100, 1: 200, 2: 110, 3: 170, 4: 80, 5: 90}.items():
            self.table.setColumnWidth(column, width)

        self.profile_boxes: dict[str, QCheckBox] = {}
        profiles = QHBoxLayout()
        if project.profiles:
            profiles.addWidget(QLabel("Profiles:", self))
        for profile in project.profiles:
            box = QCheckBox(profile, self)
            box.setObjectName(f"compose-profile-{profile}")
            box.setChecked(profile in project.enabled_profiles)
            box.toggled.connect(self._profiles_changed)
            self.profile_boxes[profile] = box
            profiles.addWidget(box)
        profiles.addStretch(1)

        self.resources = QLabel(self)
        self.resources.setObjectName("compose-sheet-resources")
        self.resources.setWordWrap(True)
        self.resources.setText(
            f"Volumes: {html.escape(', '.join(project.volumes)) or 'none'} · "
            f"Networks: {html.escape(', '.join(project.networks)) or 'default'}")
        self.warning = QLabel(self)
        self.warning.setObjectName("compose-sheet-warning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(text_style(WARNING_TEXT, self.warning))
        if project.unset:
            self.warning.setText("Not set anywhere (each becomes \"\"): "
                                 + ", ".join(project.unset))
        else:
            self.warning.hide()
        self.tool = QLabel("Looking for a Compose tool…", self)
        self.tool.setObjectName("compose-sheet-tool")
        self.tool.setWordWrap(True)
        self.tool.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.buttons = QDialogButtonBox(self)
        self.verb_buttons: dict[str, QPushButton] = {}
        for verb, text in (("pull", "Pull"), ("build", "Build"), ("up", "Up")):
            button = self.buttons.addButton(text, QDialogButtonBox.ButtonRole.ActionRole)
            button.setObjectName(f"compose-sheet-{verb}")
            button.setAccessibleName(f"{text} {project.name}")
            button.setEnabled(False)  # until a tool is found
            button.clicked.connect(lambda _checked=False, v=verb: self._request(v))
            self.verb_buttons[verb] = button
        self.verb_buttons["up"].setDefault(True)
        close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setObjectName("compose-sheet-close")
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.table, 1)
        layout.addLayout(profiles)
        layout.addWidget(self.resources)
        layout.addWidget(self.warning)
        layout.addWidget(self.tool)
        layout.addWidget(self.buttons)
        self._update_verbs()

    def set_tool(self, tool: engine.ComposeTool | None, problem: str = "") -> None:
        """Name the tool that will run the file, or say what to install."""
        if tool is None:
            self.tool.setStyleSheet(text_style(ERROR_TEXT, self.tool))
            self.tool.setText(problem)
        else:
            self.tool.setStyleSheet("")
            self.tool.setText(f"Runs with {tool.label} ({' '.join(tool.argv)})")
        self._tool_found = tool is not None
        self._update_verbs()

    def _update_verbs(self) -> None:
        found = getattr(self, "_tool_found", False)
        active = self.project.active_services
        self.verb_buttons["up"].setEnabled(found and bool(active))
        self.verb_buttons["pull"].setEnabled(found and any(s.image for s in active))
        self.verb_buttons["build"].setEnabled(found and any(s.build for s in active))

    def _profiles_changed(self) -> None:
        self.project = self.project.with_profiles(
            p for p, box in self.profile_boxes.items() if box.isChecked())
        self.services.set_items(self.project.services)
        last = self.services.columnCount() - 1
        if self.services.rowCount():
            self.services.dataChanged.emit(self.services.index(0, last),
                                           self.services.index(self.services.rowCount() - 1,
                                                               last))
        self._update_verbs()

    def _request(self, verb: str) -> None:
        self.requested.emit(verb, self.project)
        if verb == "up":
            self.accept()
