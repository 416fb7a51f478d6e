"""The Apps page: every Compose project on the engine, live, with its services and actions.

Projects come from the containers' ``com.docker.compose.*`` labels
(:func:`engine.compose_projects`), so a project brought up from a terminal
appears as soon as its containers' events arrive, whoever started it.  The
table lists each project's state ("2 of 3 running"), config files and working
directory; below it, the selected project's services (image, replicas, ports,
health) and its volumes and networks, which link to their pages.

Actions go through the API by label (no Compose binary, no file needed):
start, stop, restart, pause, unpause, and remove — which first lists exactly
the containers, networks and (if ticked) volumes that will go.  Every question
is asked with :func:`app.widgets.ask.ask` (non-blocking), never from a modal loop.
"""

from __future__ import annotations

import html
from dataclasses import replace
from functools import partial

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.table import Column, ItemRole, KeyedTableModel
from app.pages.app_logs import ProjectLogs, ProjectLogView
from app.pages.table_page import TablePage
from app.presentation import container_tone, counted
from app.resources import COMPOSE_PROJECTS
from app.session import EngineSession, MessageLevel
from app.settings import LOG_LINE_CAP, Settings
from app.widgets.ask import ask
from app.widgets.badges import StateBadgeDelegate
from app.widgets.link_label import LinkLabel


def project_tone(project: engine.ComposeProject) -> str:
    """Bad if any container looks bad, good if all run, busy if some run or are paused."""
    tones = [container_tone(c) for c in project.containers]
    if "bad" in tones:
        return "bad"
    if project.state == "running":
        return "good"
    return "busy" if project.state in ("partial", "paused") else "idle"


def service_tone(service: engine.ComposeService) -> str:
    tones = [container_tone(c) for c in service.replicas]
    if "bad" in tones:
        return "bad"
    if service.replicas and service.running == len(service.replicas):
        return "good"
    return "busy" if service.running else "idle"


def _files_tooltip(project: engine.ComposeProject) -> str:
    return "\n".join(project.config_paths) or "The labels name no file"


PROJECT_COLUMNS = (
    Column("Name", lambda p: p.name),
    Column("State", lambda p: p.state_text, sort_key=lambda p: (p.running, p.total),
           tooltip=lambda p: p.status, tone=project_tone),
    Column("Services", lambda p: ", ".join(s.name for s in p.services),
           sort_key=lambda p: len(p.services)),
    Column("Config files", lambda p: ", ".join(p.config_files), tooltip=_files_tooltip),
    Column("Working directory", lambda p: p.working_dir, tooltip=lambda p: p.working_dir),
    Column("Volumes", lambda p: ", ".join(v.name for v in p.volumes),
           sort_key=lambda p: len(p.volumes)),
    Column("Networks", lambda p: ", ".join(n.name for n in p.networks),
           sort_key=lambda p: len(p.networks)),
)


def _replicas_text(service: engine.ComposeService) -> str:
    text = f"{service.running} of {len(service.replicas)} running"
    if oneoff := len(service.containers) - len(service.replicas):
        text += f" (+{oneoff} run)"
    return text


SERVICE_COLUMNS = (
    Column("Service", lambda s: s.name),
    Column("Image", lambda s: s.image, tooltip=lambda s: s.image),
    Column("Replicas", _replicas_text, sort_key=lambda s: (s.running, len(s.replicas)),
           tone=service_tone),
    Column("Ports", lambda s: engine.format_ports(s.ports)),
    Column("Health", lambda s: s.health or "—",
           tooltip=lambda s: "" if s.health else "No healthcheck"),
    Column("Containers", lambda s: ", ".join(c.name for c in s.containers),
           tooltip=lambda s: "\n".join(f"{c.name}: {c.status}" for c in s.containers)),
)


def projects_model(parent: QWidget | None = None) -> KeyedTableModel:
    return KeyedTableModel(PROJECT_COLUMNS, key=lambda p: p.name, parent=parent)


def services_model(parent: QWidget | None = None) -> KeyedTableModel:
    return KeyedTableModel(SERVICE_COLUMNS, key=lambda s: s.name, parent=parent)


#: What the Compose menu runs through the user's Compose tool (app/compose_ops.py).
TOOL_VERBS = (("up", "Up"), ("down", "Down"), ("pull", "Pull"), ("build", "Build"),
              ("restart", "Restart"))
#: A service's own actions, through the API by label.
SERVICE_VERBS = (("start", "Start"), ("stop", "Stop"), ("restart", "Restart"))


class AppsPage(TablePage):
    #: Open a Compose file (the window asks for it and shows the Compose sheet).
    open_file_requested = Signal()
    #: verb, engine.ComposeTarget: run through the Compose tool (the window owns the panel).
    compose_requested = Signal(str, object)

    def __init__(self, session: EngineSession, settings: Settings,
                 parent: QWidget | None = None) -> None:
        super().__init__("apps", projects_model(), parent)
        self.settings = settings
        self.model.setParent(self)
        self.setAccessibleName("Apps page")
        # States as badges, as on the Containers page ("2 of 3 running").
        self.table.setItemDelegateForColumn(1, StateBadgeDelegate(self.table))
        self.session = session
        self.actions_by_verb: dict[str, QAction] = {}
        for verb, text in (("start", "Start"), ("stop", "Stop"), ("restart", "Restart"),
                           ("pause", "Pause"), ("unpause", "Unpause")):
            button = self.add_button(text, f"app-{verb}", partial(self.act, verb))
            self.actions_by_verb[verb] = button.defaultAction()
        self.remove_button = self.add_button("Remove…", "app-remove", self.remove_selected,
                                             shortcut="Delete")
        self.actions_by_verb["remove"] = self.remove_button.defaultAction()
        self.open_button = self.add_button("Open Compose file…", "app-open",
                                           self.open_file_requested.emit)
        # Up, Down, Pull, Build, Restart with the project's recorded files and folder.
        self.tool_menu = QMenu(self)
        self.tool_menu.setObjectName("app-compose-menu")
        self.tool_actions: dict[str, QAction] = {}
        for verb, text in TOOL_VERBS:
            action = self.tool_menu.addAction(f"{text} (Compose)")
            action.setObjectName(f"action-app-compose-{verb}")
            action.triggered.connect(partial(self.run_tool, verb))
            self.tool_actions[verb] = action
        self.tool_button = QToolButton(self)
        self.tool_button.setObjectName("app-compose")
        self.tool_button.setText("Compose")
        self.tool_button.setAccessibleName("Compose commands for the selected app")
        self.tool_button.setToolTip("Run the app's Compose files with your Compose tool")
        self.tool_button.setMenu(self.tool_menu)
        self.tool_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.tool_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.actions_bar.insertWidget(self.actions_bar.count() - 1, self.tool_button)
        self._pending_select: str | None = None

        self.services = services_model(self)
        self.services_view = QTableView(self)
        self.services_view.setObjectName("app-services-table")
        self.services_view.setAccessibleName("Services of the selected app")
        self.services_view.setModel(self.services)
        self.services_view.setItemDelegateForColumn(2, StateBadgeDelegate(self.services_view))
        self.services_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.services_view.setShowGrid(False)
        self.services_view.setAlternatingRowColors(True)
        self.services_view.setWordWrap(False)
        self.services_view.verticalHeader().hide()
        self.services_view.verticalHeader().setDefaultSectionSize(26)
        self.services_view.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Interactive)
        self.services_view.horizontalHeader().setStretchLastSection(True)
        self.services_view.activated.connect(self._open_service)
        for column, width in {0: 110, 1: 230, 2: 150, 3: 150, 4: 90}.items():
            self.services_view.setColumnWidth(column, width)

        self.detail_title = QLabel(self)
        self.detail_title.setObjectName("app-detail")
        self.detail_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_title.setWordWrap(True)
        self.resources_label = LinkLabel(self)
        self.resources_label.setObjectName("app-resources")
        self.resources_label.setAccessibleName("Volumes and networks of the selected app")
        self.resources_label.setWordWrap(True)
        self.resources_label.linkActivated.connect(self._open_link)

        detail = QWidget(self)
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 4, 0, 0)
        detail_layout.addWidget(self.detail_title)
        self.logs = ProjectLogView(self, cap=settings.get(LOG_LINE_CAP))
        settings.changed.connect(self._on_setting_changed)
        self.logs.setObjectName("app-logs")
        self.logs.setAccessibleName("Merged logs of the selected app")
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("app-tabs")
        self.services_tab = services_tab = QWidget(self)
        services_layout = QVBoxLayout(services_tab)
        services_layout.setContentsMargins(0, 4, 0, 0)
        service_bar = QHBoxLayout()
        self.service_label = QLabel(self)
        self.service_label.setObjectName("app-service-selected")
        service_bar.addWidget(self.service_label, 1)
        self.service_actions: dict[str, QAction] = {}
        for verb, text in SERVICE_VERBS:
            action = QAction(text, self)
            action.setObjectName(f"action-app-service-{verb}")
            action.triggered.connect(partial(self.act_on_service, verb))
            button = QToolButton(self)
            button.setObjectName(f"app-service-{verb}")
            button.setAccessibleName(f"{text} the selected service")
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            service_bar.addWidget(button)
            self.service_actions[verb] = action
        services_layout.addLayout(service_bar)
        services_layout.addWidget(self.services_view, 1)
        self.services_view.selectionModel().selectionChanged.connect(
            lambda *_a: self._service_selection_changed())
        self.services.dataChanged.connect(lambda *_a: self._service_selection_changed())
        self.tabs.addTab(services_tab, "Services")
        self.tabs.addTab(self.logs, "Logs")
        #: The selected project's merged log, read only while the Logs tab shows.
        self.project_logs = ProjectLogs(session, self.logs)
        detail_layout.addWidget(self.tabs, 1)
        detail_layout.addWidget(self.resources_label)
        # The project table above, the selected project below, in one splitter.
        index = self.main_layout.indexOf(self.table)
        self.main_layout.removeWidget(self.table)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("apps-splitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(detail)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.main_layout.insertWidget(index, self.splitter, 1)

        session.live(COMPOSE_PROJECTS).changed.connect(self._reload)
        self.model.dataChanged.connect(self.selection_changed)
        self.fit_columns({0: 150, 1: 130, 2: 150, 3: 140, 4: 180, 5: 120})
        self.selection_changed()

    def _on_setting_changed(self, key: str) -> None:
        if key == LOG_LINE_CAP.key:
            self.logs.model.cap = self.settings.get(LOG_LINE_CAP)

    def noun(self, count: int) -> str:
        return "app" if count == 1 else "apps"

    def _reload(self, *_args: object) -> None:
        self.model.set_items(self.session.items(COMPOSE_PROJECTS))
        if self._pending_select is not None and self.select_key(self._pending_select):
            self._pending_select = None
        self.selection_changed()

    def select_when_listed(self, name: str) -> None:
        """Select the project now, or as soon as the live list shows it (after an Up)."""
        self._pending_select = name
        if self.select_key(name):
            self._pending_select = None

    def selected_project(self) -> engine.ComposeProject | None:
        items = self.selected_items()
        return items[0] if len(items) == 1 else None

    def selection_changed(self, *_args: object) -> None:
        project = self.selected_project()
        for verb, action in self.actions_by_verb.items():
            action.setEnabled(project is not None and self._can(project, verb))
        for action in self.tool_actions.values():
            action.setEnabled(project is not None and bool(project.config_files))
        self.tool_button.setEnabled(project is not None)
        self.services.set_items(project.services if project else [])
        self._service_selection_changed()
        self._update_logs()
        if project is None:
            self.detail_title.setText("Select an app to see its services.")
            self.resources_label.set_html("")
            return
        files = ", ".join(html.escape(f) for f in project.config_paths) or "no file recorded"
        self.detail_title.setText(
            f"<b>{html.escape(project.name)}</b> — {html.escape(project.state_text)}"
            f"<br>Files: {files}<br>Working directory: "
            f"{html.escape(project.working_dir) or '—'}")
        links = [f'<a href="volumes:{html.escape(v.name)}">{html.escape(v.name)}</a>'
                 for v in project.volumes]
        nets = [f'<a href="networks:{html.escape(n.id)}">{html.escape(n.name)}</a>'
                for n in project.networks]
        self.resources_label.set_html(
            f"Volumes: {', '.join(links) or 'none'}<br>Networks: {', '.join(nets) or 'none'}")

    def _update_logs(self) -> None:
        self.project_logs.show_project(self.selected_project())

    @staticmethod
    def _can(project: engine.ComposeProject, verb: str) -> bool:
        states = project.state_counts
        paused = states.get("paused", 0)
        if verb == "start":
            return project.running + paused < project.total
        if verb in ("stop", "pause"):
            return project.running > 0 or (verb == "stop" and paused > 0)
        if verb == "unpause":
            return paused > 0
        return True

    def selected_service(self) -> engine.ComposeService | None:
        rows = self.services_view.selectionModel().selectedRows()
        service = rows[0].data(ItemRole) if len(rows) == 1 else None
        return service if isinstance(service, engine.ComposeService) else None

    def _service_selection_changed(self) -> None:
        service = self.selected_service()
        self.service_label.setText(f"Service {service.name}: {_replicas_text(service)}"
                                   if service else "Select a service for its own actions.")
        for verb, action in self.service_actions.items():
            action.setEnabled(service is not None and (
                verb == "restart" or (verb == "start") == (service.running < len(
                    service.replicas))))

    def act_on_service(self, verb: str) -> None:
        """Start, stop or restart the selected service's containers (by label, no file)."""
        project, service = self.selected_project(), self.selected_service()
        if project is None or service is None:
            return
        self.session.run(engine.project_action, project.name, verb, service.name,
                         describe=f"{verb} service {service.name} of app {project.name}",
                         on_done=partial(self._acted, f"{project.name}/{service.name}"))

    def run_tool(self, verb: str) -> None:
        """Ask the window to run ``verb`` with the Compose tool; Down asks first."""
        project = self.selected_project()
        if project is None:
            return
        target = engine.ComposeTarget.of_project(project)
        if verb != "down":
            self.compose_requested.emit(verb, target)
            return
        ask(self, "Down", f"Take app {project.name} down with its Compose files: remove its"
            f" {counted(project.total, 'container')} and networks (volumes are kept)?",
            "Down", partial(self.compose_requested.emit, verb, target), name="app-down-confirm")

    def _open_link(self, link: str) -> None:
        page, _, key = link.partition(":")
        self.open_requested.emit(page, key)

    def _open_service(self, index: QModelIndex) -> None:
        service = index.data(ItemRole)
        if isinstance(service, engine.ComposeService) and service.containers:
            self.open_requested.emit("containers", service.containers[0].id)

    # -- actions ----------------------------------------------------------------------

    def act(self, verb: str) -> None:
        """Start and unpause at once; ask before stopping, restarting or pausing."""
        project = self.selected_project()
        if project is None:
            return
        if verb in ("start", "unpause"):
            self._run(project.name, verb)
            return
        ask(self, f"{verb.capitalize()} app",
            f"{verb.capitalize()} every container of {project.name}"
            f" ({counted(project.total, 'container')})?",
            verb.capitalize(), partial(self._run, project.name, verb),
            name=f"app-{verb}-confirm")

    def _run(self, name: str, verb: str) -> None:
        self.session.run(engine.project_action, name, verb, describe=f"{verb} app {name}",
                         on_done=partial(self._acted, name))

    def _acted(self, name: str, result: engine.ProjectActionResult) -> None:
        if result.failed:
            self.session.message.emit(MessageLevel.WARNING, f"{result.action} app {name}: " + (
                "; ".join(f"{c}: {why}" for c, why in result.failed.items())))
        else:
            self.session.message.emit(
                MessageLevel.INFO,
                f"{result.action.capitalize()}: {counted(len(result.done), 'container')}"
                f" of {name}" if result.done else f"{name}: nothing to {result.action}")

    def remove_selected(self) -> None:
        """Read what would go (by label, afresh), then list it before asking."""
        project = self.selected_project()
        if project is None:
            return
        self.session.run(partial(engine.project_removal_plan, with_volumes=True), project.name,
                         describe=f"list what removing app {project.name} takes",
                         on_done=self._ask_remove)

    def _ask_remove(self, plan: engine.ProjectRemovalPlan) -> None:
        lines = [f"Remove app {plan.project}?", "",
                 f"{counted(len(plan.containers), 'container')} (stopped first, by force): "
                 + ", ".join(c.name for c in plan.containers)]
        if plan.networks:
            lines.append(f"{counted(len(plan.networks), 'network')}: "
                         + ", ".join(n.name for n in plan.networks))
        box_volumes = None
        if plan.volumes:
            names = ", ".join(v.name for v in plan.volumes)
            lines.append(f"Kept unless ticked: {counted(len(plan.volumes), 'volume')}: {names}")
            box_volumes = QCheckBox(
                f"Also remove its {counted(len(plan.volumes), 'volume')} and the data in them")
            box_volumes.setObjectName("app-remove-volumes")

        def remove() -> None:
            chosen = plan if box_volumes is not None and box_volumes.isChecked() \
                else replace(plan, volumes=())
            self.session.run(engine.remove_project, chosen, describe=f"remove app {plan.project}",
                             on_done=partial(self._removed, plan.project))

        ask(self, "Remove app", "\n".join(lines), "Remove", remove,
            name="app-remove-confirm", checkbox=box_volumes)

    def _removed(self, name: str, result: engine.ProjectRemovalResult) -> None:
        text = (f"Removed app {name}: {counted(len(result.containers), 'container')},"
                f" {counted(len(result.networks), 'network')},"
                f" {counted(len(result.volumes), 'volume')}")
        if result.failed:
            text += ". Kept: " + "; ".join(f"{n}: {why}" for n, why in result.failed.items())
        self.session.message.emit(
            MessageLevel.WARNING if result.failed else MessageLevel.INFO, text)
