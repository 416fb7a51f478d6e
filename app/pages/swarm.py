"""The Swarm page: the services of a swarm this engine manages, live, and the tasks of one.

On a manager (``/info`` Swarm.ControlAvailable) the page lists every service
(mode, replicas running/desired, image, ports, update status, stack) and, below,
the selected service's image and rolling-update policy, and two tabs for it.
Tasks: its task history slot by slot (each slot's current task first, the tasks
it replaced below it: desired and current state, exit code, error, container),
with a line saying how many failed and why the last one did, so rescheduling
shows as it happens.  Logs: every task's lines interleaved by time, marked
``service.slot@node`` (:mod:`app.pages.swarm_logs`).  It follows the engine's
service, node and task-container events, so a rolling update's status
(updating, paused, rollback completed, completed) changes in the row as the
daemon reports it.  Create service… and Update image… open the dialogs of
:mod:`app.pages.service_dialog`; every action is also in the command palette
(and hidden from it, as from the page, on an engine that is no manager).

A worker, an engine outside any swarm, and Podman (which has no Swarm) get a
plain statement of what the engine is and how to init or join instead; the page
never changes the engine by itself.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.table import Column, KeyedTableModel, SortRole
from app.pages.app_logs import ProjectLogView
from app.pages.service_dialog import (
    ServiceCreateDialog,
    ServiceUpdateDialog,
    policy_of,
    published_ports,
)
from app.pages.swarm_logs import ServiceLogs
from app.pages.swarm_nodes import InitPanel, SwarmSections
from app.pages.table_page import TablePage
from app.presentation import counted, relative_time
from app.resources import SWARM, SwarmView
from app.session import EngineSession, MessageLevel
from app.settings import LOG_LINE_CAP, Settings
from app.widgets.ask import ask
from app.widgets.log_view import DEFAULT_CAP

#: The most replicas the spin box offers (the engine takes more; this is a guard rail).
MAX_REPLICAS = 1000


def _replicas(service: engine.Service) -> str:
    return f"{service.running}/{service.desired}"


def _update(service: engine.Service) -> str:
    if service.update is None:
        return ""
    return service.update.state.replace("_", " ")


def _update_tone(service: engine.Service) -> str:
    state = service.update.state if service.update else ""
    if state in ("updating", "rollback_started"):
        return "busy"
    if state in ("paused", "rollback_paused"):
        return "bad"
    return "good" if state == "completed" else "idle"


def detail(service: engine.Service) -> str:
    """The selected service in two lines: its image and update policy, and how its last
    update went (the daemon's own words)."""
    update = service.update
    status = ""
    if update is not None:
        state = update.state.replace("_", " ")
        status = f" · last update: {state}"
        # The daemon's message often only repeats the state ("rollback completed").
        if update.message and update.message.strip().lower() != state.lower():
            status += f" ({update.message})"
    return (f"{service.image_with_digest}\nRolling updates: {policy_of(service)}{status}")


def _tone(service: engine.Service) -> str:
    if service.running < service.desired:
        return "busy" if service.running else "bad"
    return "good"


SERVICE_COLUMNS = (
    Column("Name", lambda s: s.name, tooltip=lambda s: s.id),
    Column("Mode", lambda s: s.mode_text),
    Column("Replicas", _replicas, sort_key=lambda s: (s.running, s.desired), tone=_tone,
           tooltip=lambda s: f"{s.running} running of {s.desired} wanted"),
    Column("Image", lambda s: s.image, tooltip=lambda s: s.image_with_digest),
    Column("Ports", lambda s: ", ".join(str(p) for p in s.ports)),
    Column("Update", _update, tone=_update_tone,
           tooltip=lambda s: s.update.message if s.update else ""),
    Column("Stack", lambda s: s.stack),
)


def _task_tone(task: engine.Task) -> str:
    if task.failed:
        return "bad"
    if task.state == "running":
        return "good"
    return "idle" if task.desired_state in ("shutdown", "remove") else "busy"


def _error(task: engine.Task) -> str:
    """Why the task ended badly: the daemon's error (``task: non-zero exit (3)``, ``No such
    image``…); empty for a task that ran or stopped as asked."""
    return task.error


def _exit(task: engine.Task) -> str:
    """The container's exit code once it exited (a task still running has none)."""
    if task.exit_code is None or (task.exit_code == 0 and task.state in (
            "new", "pending", "assigned", "accepted", "preparing", "ready", "starting",
            "running")):
        return ""
    return str(task.exit_code)


def _why(task: engine.Task) -> str:
    parts = [f"{task.state}: {task.message}" if task.message else task.state]
    if task.error:
        parts.append(task.error)
    if _exit(task):
        parts.append(f"exit code {task.exit_code}")
    return " · ".join(parts)


def history_key(task: engine.Task) -> float:
    """Sorts a service's tasks as a history: slot by slot, each slot's current task first
    and the ones it replaced below it, newest first (a global service's: newest first)."""
    created = task.created.timestamp() if task.created else 0.0
    return (task.slot or 0) * 1e10 - created


def history_text(tasks: list[engine.Task], node_names: dict[str, str]) -> str:
    """One line on the service's failed tasks: how many were replaced, and the last reason."""
    failed = [t for t in tasks if t.failed]
    if not failed:
        return ""
    last = max(failed, key=lambda t: t.timestamp.timestamp() if t.timestamp else 0.0)
    where = (f"slot {last.slot}" if last.slot is not None else "task") + (
        f" on {node_names.get(last.node_id, last.node_id[:12])}" if last.node_id else "")
    code = f", exit code {last.exit_code}" if _exit(last) else ""
    count = f"{len(failed)} task failed" if len(failed) == 1 else f"{len(failed)} tasks failed"
    return (f"{count} and the swarm rescheduled {'it' if len(failed) == 1 else 'them'}."
            f" Last: {where} {relative_time(last.timestamp)}:"
            f" {last.error or last.message or last.state}{code}")


def task_columns(node_names: dict[str, str]) -> tuple[Column, ...]:
    return (
        Column("Task", lambda t: t.short_id, tooltip=lambda t: t.id),
        Column("Slot", lambda t: "" if t.slot is None else str(t.slot),
               sort_key=history_key, align_right=True),
        Column("Node", lambda t: node_names.get(t.node_id, t.node_id[:12])),
        Column("Image", lambda t: t.image.partition("@")[0], tooltip=lambda t: t.image),
        Column("Desired", lambda t: t.desired_state),
        Column("Current", lambda t: t.state, tone=_task_tone, tooltip=_why),
        Column("Since", lambda t: relative_time(t.timestamp), ticks=True,
               sort_key=lambda t: t.timestamp.timestamp() if t.timestamp else 0.0),
        Column("Exit", _exit, align_right=True, tooltip=_why,
               sort_key=lambda t: -1 if t.exit_code is None else t.exit_code),
        Column("Error", _error, tooltip=_why),
        Column("Container", lambda t: t.container_id[:12], tooltip=lambda t: t.container_id),
    )


def explain(view: SwarmView) -> str:
    """What the page says instead of the lists when this engine is no manager (rich text)."""
    if view.podman:
        return ("<h3>Podman has no Swarm</h3><p>Swarm services, tasks and nodes are a"
                " feature of Docker Engine. Connect to a Docker engine that is a swarm"
                " manager to see them here.</p>")
    state = view.state
    if state.active and not state.control_available:
        return (f"<h3>This engine is a swarm worker</h3><p>Node <code>{state.node_id}</code>"
                " runs tasks but cannot list the cluster: only a manager can. Connect to"
                " a manager"
                + (f" ({', '.join(state.remote_managers)})" if state.remote_managers else "")
                + ", or promote this node on one: <code>docker node promote"
                f" {state.node_id}</code>.</p>")
    error = f"<p>The engine says: {state.error}</p>" if state.error else ""
    return ("<h3>Not a swarm manager</h3>"
            f"<p>This engine is in no swarm (state: {state.local_state}).</p>{error}"
            "<p>To make it the first manager of a new swarm (it then keeps the cluster's"
            " state and can run services): "
            + ("<b>Initialise a swarm on this engine</b> below, or " if state.local_state
               == "inactive" else "")
            + "<code>docker swarm init</code>.<br>"
            "To join an existing swarm, run on a manager <code>docker swarm join-token"
            " worker</code> and the command it prints here.</p>")


class SwarmPage(TablePage):
    """Services (top) and the selected service's tasks (below), or why there are none."""

    def __init__(self, session: EngineSession, parent: QWidget | None = None, *,
                 settings: Settings | None = None) -> None:
        super().__init__("swarm", KeyedTableModel(SERVICE_COLUMNS, key=lambda s: s.id),
                         parent)
        self.session = session
        self.setAccessibleName("Swarm page")
        self.view: SwarmView | None = None
        self._node_names: dict[str, str] = {}
        #: A service just created, to select as soon as the live list has it.
        self._select_later = ""
        self.set_empty_hint("No services yet: docker service create --name web nginx")
        self.status = QLabel(self)
        self.status.setObjectName("swarm-status")
        self.main_layout.insertWidget(0, self.status)
        self.message = QLabel(self)
        self.message.setObjectName("swarm-message")
        self.message.setAccessibleName("Swarm state")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.main_layout.insertWidget(1, self.message, 1)
        self.message.hide()
        self.init_panel = InitPanel(session, self)
        self.main_layout.setStretchFactor(self.message, 0)
        self.main_layout.insertWidget(2, self.init_panel, 1, Qt.AlignmentFlag.AlignTop)
        self.init_panel.hide()

        self.tasks_title = QLabel("Tasks", self)
        self.tasks_title.setObjectName("swarm-tasks-title")
        self.tasks_model = KeyedTableModel(task_columns(self._node_names), key=lambda t: t.id,
                                           parent=self)
        self.tasks = QTableView(self)
        self.tasks.setObjectName("swarm-tasks")
        self.tasks.setAccessibleName("Tasks of the selected service")
        self.tasks_sorted = QSortFilterProxyModel(self)
        self.tasks_sorted.setSortRole(SortRole)
        self.tasks_sorted.setSourceModel(self.tasks_model)
        self.tasks.setModel(self.tasks_sorted)
        self.tasks.setSortingEnabled(True)
        self.tasks.sortByColumn(1, Qt.SortOrder.AscendingOrder)  # the history: see history_key
        self.tasks.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tasks.setAlternatingRowColors(True)
        self.tasks.setShowGrid(False)
        self.tasks.verticalHeader().hide()
        self.tasks.horizontalHeader().setStretchLastSection(True)
        self.tasks.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.history = QLabel(self)
        self.history.setObjectName("swarm-task-history")
        self.history.setAccessibleName("Failed tasks of the selected service")
        self.history.setWordWrap(True)
        self.history.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.history.hide()
        self.detail = QLabel(self)
        self.detail.setObjectName("swarm-service-detail")
        self.detail.setAccessibleName("Selected service's image and update policy")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.main_layout.addWidget(self.detail)
        # Below the services: their tasks and log, then the nodes, stacks, secrets and
        # configs.
        self.sections = SwarmSections(session, self)
        tasks_tab = QWidget(self.sections)
        tasks_layout = QVBoxLayout(tasks_tab)
        tasks_layout.setContentsMargins(0, 0, 0, 0)
        tasks_layout.addWidget(self.tasks_title)
        tasks_layout.addWidget(self.history)
        tasks_layout.addWidget(self.tasks, 1)
        self.sections.insertTab(0, tasks_tab, "Tasks")
        self.settings = settings
        self.logs = ProjectLogView(self.sections, sources_title="Tasks:",
                                   cap=settings.get(LOG_LINE_CAP) if settings is not None
                                   else DEFAULT_CAP)
        if settings is not None:  # the log keeps as many lines as the setting says
            settings.changed.connect(self._on_setting_changed)
        self.logs.setObjectName("swarm-logs")
        self.logs.setAccessibleName("Logs of the selected service")
        self.service_logs = ServiceLogs(session, self.logs)
        self.sections.insertTab(1, self.logs, "Logs")
        self.sections.setCurrentIndex(0)
        self.detail_tabs = self.sections  # the selected service's tabs come first in it
        self.main_layout.addWidget(self.sections, 1)
        self.table.setMinimumHeight(170)  # the tabs below must not squeeze it to two rows
        # The command palette's way to the tabs (the toolbar's actions are offered too).
        self.tab_actions: list[QAction] = []
        for title, tab, name in (("Service tasks", tasks_tab, "swarm-show-tasks"),
                                 ("Service logs", self.logs, "swarm-show-logs")):
            action = QAction(title, self)
            action.setObjectName(f"action-{name}")
            action.triggered.connect(partial(self._show_tab, tab))
            self.tab_actions.append(action)
        self.fit_columns({0: 220, 1: 110, 2: 80, 3: 220, 4: 110, 5: 130})
        for column, width in {0: 110, 1: 50, 2: 90, 3: 120, 4: 80, 5: 80, 6: 110, 7: 50,
                              8: 220}.items():
            self.tasks.setColumnWidth(column, width)
        self.create_button = self.add_button("Create service…", "swarm-create",
                                             self.open_create)
        self.replicas = QSpinBox(self)
        self.replicas.setObjectName("swarm-replicas")
        self.replicas.setAccessibleName("Replicas to scale to")
        self.replicas.setRange(0, MAX_REPLICAS)
        self.replicas.setPrefix("Replicas: ")
        self.actions_bar.insertWidget(self.actions_bar.count() - 1, self.replicas)
        self.scale_button = self.add_button("Scale", "swarm-scale", self.scale_selected)
        self.update_button = self.add_button("Update image…", "swarm-update",
                                             self.open_update)
        self.rollback_button = self.add_button("Roll back", "swarm-rollback",
                                               self.rollback_selected)
        self.remove_button = self.add_button("Remove…", "swarm-remove", self.remove_selected)
        session.live(SWARM).changed.connect(self._reload)
        self._reload()
        self.selection_changed()

    def _on_setting_changed(self, key: str) -> None:
        if key == LOG_LINE_CAP.key and self.settings is not None:
            self.logs.model.cap = self.settings.get(LOG_LINE_CAP)

    def _show_tab(self, tab: QWidget) -> None:
        self.detail_tabs.setCurrentWidget(tab)
        if self.selected_items():
            tab.setFocus()
        else:
            self.table.setFocus()  # a service to choose first

    def noun(self, count: int) -> str:
        return "service" if count == 1 else "services"

    def _reload(self, *_args: object) -> None:
        views = self.session.items(SWARM)
        self.view = views[0] if views else None
        view = self.view
        manager = view is not None and view.state.control_available and not view.podman
        for widget in (self.search, self.table, self.sections, self.count_label,
                       self.replicas, self.scale_button, self.rollback_button,
                       self.remove_button, self.create_button, self.update_button,
                       self.detail):  # nothing to act on: no disabled controls
            widget.setVisible(manager)
        for action in [*self.page_actions, *self.tab_actions]:  # nor in the command palette
            action.setVisible(manager)
        self.message.setVisible(view is not None and not manager)
        self.init_panel.setVisible(view is not None and not view.podman
                                   and view.state.local_state == "inactive")
        if view is None:
            self.status.setText("Reading the swarm…")
            return
        if not manager:
            self.status.setText("")
            self.message.setText(explain(view))
            self.model.set_items([])
            self.tasks_model.set_items([])
            return
        state = view.state
        self.status.setText(
            f"Swarm manager · node {state.node_id[:12]} · {counted(state.managers, 'manager')},"
            f" {counted(state.nodes, 'node')}")
        self._node_names.clear()
        self._node_names.update({n.id: n.hostname for n in view.nodes})
        self.model.set_items(list(view.services))
        self.sections.set_view(view)
        if self._select_later and self.select_key(self._select_later):
            self._select_later = ""
        self.selection_changed()

    def palette_commands(self) -> list[QAction]:
        """The toolbar's commands, and those of the tabs (a manager) or init (no swarm)."""
        view = self.view
        if view is None or view.podman:
            return super().palette_commands()
        if view.state.control_available:
            return [*super().palette_commands(), *self.tab_actions,
                    *self.sections.palette_actions()]
        if view.state.local_state == "inactive":
            return [self.init_panel.action]
        return []

    def selection_changed(self) -> None:
        chosen = self._one_selected()
        replicated = chosen is not None and chosen.replicas is not None
        self.replicas.setEnabled(replicated)
        if chosen is not None and chosen.replicas is not None and not self.replicas.hasFocus():
            self.replicas.setValue(chosen.replicas)
        self.scale_button.defaultAction().setEnabled(replicated)
        self.rollback_button.defaultAction().setEnabled(
            chosen is not None and chosen.has_previous)
        self.update_button.defaultAction().setEnabled(chosen is not None)
        self.remove_button.defaultAction().setEnabled(chosen is not None)
        self._show_tasks()

    def _one_selected(self) -> engine.Service | None:
        selected = self.selected_items()
        return selected[0] if len(selected) == 1 else None

    def _done(self, verb: str) -> object:
        def say(service: engine.Service) -> None:
            self.session.message.emit(MessageLevel.INFO, f"{service.name}: {verb}")
        return say

    def scale_selected(self) -> None:
        """Ask the selected replicated service for the spin box's number of tasks."""
        chosen = self._one_selected()
        if chosen is None or chosen.replicas is None:
            return
        count = self.replicas.value()
        self.session.run(engine.scale_service, chosen.id, count,
                         describe=f"scale {chosen.name} to {count}",
                         on_done=self._done(f"scaling to {count}"))  # type: ignore[arg-type]

    def rollback_selected(self) -> None:
        """Back to the selected service's previous spec (image, replicas…)."""
        chosen = self._one_selected()
        if chosen is None:
            return
        self.session.run(engine.rollback_service, chosen.id,
                         describe=f"roll {chosen.name} back",
                         on_done=self._done("rolling back"))  # type: ignore[arg-type]

    def open_create(self) -> ServiceCreateDialog | None:
        """The "Create service…" dialog (opened, never exec'd); None on no manager."""
        if self.view is None or not self.view.state.control_available:
            self.session.message.emit(MessageLevel.INFO,
                                      "Services are created on a swarm manager: this engine"
                                      " is none (see the Swarm page).")
            return None
        dialog = ServiceCreateDialog(
            self.session, self,
            published=lambda: published_ports(self.view.services if self.view else ()))
        dialog.succeeded.connect(self._created)
        dialog.open()
        return dialog

    def _created(self, created: engine.Service) -> None:
        self.session.message.emit(MessageLevel.INFO, f"Created service {created.name}")
        self._select_later = "" if self.select_key(created.id) else created.id

    def open_update(self) -> ServiceUpdateDialog | None:
        """Roll the selected service onto another image, under its (shown) update policy."""
        chosen = self._one_selected()
        if chosen is None:
            return None
        dialog = ServiceUpdateDialog(self.session, chosen, self)
        dialog.succeeded.connect(self._done("rolling update started"))
        dialog.open()
        return dialog

    def remove_selected(self) -> None:
        chosen = self._one_selected()
        if chosen is None:
            return
        ask(self, "Remove service",
            f"Remove the service {chosen.name}? Its running tasks ({chosen.running}) stop"
            " and their containers are removed.", "Remove service",
            lambda: self.session.run(engine.remove_service, chosen.id,
                                     describe=f"remove {chosen.name}"),
            name="swarm-remove-question")

    def _show_tasks(self) -> None:
        selected = self.selected_items()
        view = self.view
        if view is None or len(selected) != 1:
            self.tasks_title.setText("Tasks (select a service)")
            self.detail.setText("")
            self.tasks_model.set_items([])
            self.history.hide()
            self.service_logs.show_service(None)
            self.logs.show_status("Select a service to read its log")
            return
        chosen: engine.Service = selected[0]
        mine = [t for t in view.tasks if t.service_id == chosen.id]
        self.tasks_title.setText(f"Tasks of {chosen.name}")
        self.detail.setText(detail(chosen))
        self.tasks_model.set_items(mine)
        history = history_text(mine, self._node_names)
        self.history.setText(history)
        self.history.setVisible(bool(history))
        if self.service_logs.service is None or self.service_logs.service.id != chosen.id:
            self.logs.show_status("")
        self.service_logs.show_service(chosen)
