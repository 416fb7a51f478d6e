"""The Swarm page's other sections: nodes, stacks, secrets and configs, and "init a swarm".

Nodes: hostname, role, availability (set from here: active, pause, drain, with a
question before a drain says what moves), status, manager status, engine,
resources and labels (edited as ``key=value`` lines), and below, the tasks on the
selected node: a drain shows them leave, live, as the swarm's events come.  On a
manager it also shows the commands that join another machine to this swarm.

Stacks: the services grouped by ``com.docker.stack.namespace``, with a stack
remove that takes what ``docker stack rm`` takes.  Secrets and configs: names,
dates and the services that use them; a secret's value is never read.

An engine in no swarm gets an explicit "Initialise a swarm on this engine" whose
question says what changes and how to undo it; nothing here changes the engine
without that question.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.table import Column, ItemRole, KeyedTableModel
from app.presentation import counted, human_size, relative_time
from app.resources import SWARM, ResourceKind, SwarmView
from app.session import EngineSession, MessageLevel
from app.widgets.ask import ask

# -- secrets and configs: a live list of their own -------------------------------------


async def _swarm_objects(client: engine.Engine) -> list[engine.SwarmObject]:
    """Secrets then configs, on a manager; nothing elsewhere (not a failure)."""
    if client.version.is_podman:
        return []
    if not (await engine.swarm_state(client)).control_available:
        return []
    try:
        return [*await engine.secrets(client), *await engine.configs(client)]
    except engine.NotSwarmManager:
        return []


SWARM_OBJECTS: ResourceKind[engine.SwarmObject] = ResourceKind(
    "swarm-objects", _swarm_objects,
    # A service's change changes who uses what; a node event comes with init and leave.
    lambda e: e.type in ("secret", "config", "service", "node"),
)


def _table(parent: QWidget, name: str, accessible: str,
           model: KeyedTableModel) -> QTableView:
    table = QTableView(parent)
    table.setObjectName(name)
    table.setAccessibleName(accessible)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return table


def _action(parent: QWidget, text: str, name: str, slot: Callable[..., object]) -> QAction:
    """A command for the palette (the panels' buttons do the same)."""
    action = QAction(text, parent)
    action.setObjectName(f"action-{name}")
    action.triggered.connect(slot)
    return action


def _selected(table: QTableView) -> object | None:
    rows = table.selectionModel().selectedRows()
    return rows[0].data(ItemRole) if len(rows) == 1 else None


def labels_text(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" if v else k for k, v in sorted(labels.items()))


def parse_label_lines(text: str) -> dict[str, str]:
    """``key=value`` lines (``key`` alone: an empty value); blank lines are skipped."""
    labels: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        key, _, value = line.partition("=")
        if not key.strip():
            raise ValueError(f"line {number}: a label needs a name before '='")
        labels[key.strip()] = value.strip()
    return labels


# -- nodes --------------------------------------------------------------------------------


def _node_tone(node: engine.Node) -> str:
    if node.state != "ready":
        return "bad"
    return "good" if node.availability == "active" else "busy"


NODE_COLUMNS = (
    Column("Hostname", lambda n: n.hostname, tooltip=lambda n: n.id),
    Column("Role", lambda n: n.role),
    Column("Availability", lambda n: n.availability, tone=_node_tone),
    Column("Status", lambda n: n.state, tooltip=lambda n: n.message or n.address),
    Column("Manager", lambda n: n.manager_status),
    Column("Engine", lambda n: n.engine_version),
    Column("CPUs", lambda n: f"{n.cpus:g}", sort_key=lambda n: n.nano_cpus,
           align_right=True),
    Column("Memory", lambda n: human_size(n.memory_bytes), sort_key=lambda n: n.memory_bytes,
           align_right=True),
    Column("Labels", lambda n: labels_text(n.labels),
           tooltip=lambda n: labels_text(n.engine_labels)),
)


@dataclass(frozen=True)
class NodeTask:
    """A task as the node section lists it: with its service's name."""

    task: engine.Task
    service: str


def _task_tone(row: NodeTask) -> str:
    task = row.task
    if task.failed:
        return "bad"
    if task.state == "running":
        return "good"
    return "idle" if task.desired_state in ("shutdown", "remove") else "busy"


NODE_TASK_COLUMNS = (
    Column("Service", lambda r: r.service),
    Column("Slot", lambda r: "" if r.task.slot is None else str(r.task.slot),
           sort_key=lambda r: r.task.slot or 0, align_right=True),
    Column("Task", lambda r: r.task.short_id, tooltip=lambda r: r.task.id),
    Column("Desired", lambda r: r.task.desired_state),
    Column("Current", lambda r: r.task.state, tone=_task_tone,
           tooltip=lambda r: r.task.message),
    Column("Since", lambda r: relative_time(r.task.timestamp), ticks=True,
           sort_key=lambda r: r.task.timestamp.timestamp() if r.task.timestamp else 0.0),
    Column("Error", lambda r: r.task.error),
)


class LabelsDialog(QDialog):
    """A node's labels as ``key=value`` lines; opened with ``open()``, never ``exec()``."""

    def __init__(self, node: engine.Node, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("swarm-node-labels-dialog")
        self.setWindowTitle(f"Labels of {node.hostname}")
        self.node = node
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("One label a line, <code>key=value</code>. Service"
                                " constraints match them as <code>node.labels.key</code>.",
                                self))
        self.editor = QPlainTextEdit(self)
        self.editor.setObjectName("swarm-node-labels-editor")
        self.editor.setPlainText("\n".join(f"{k}={v}" for k, v in sorted(node.labels.items())))
        layout.addWidget(self.editor)
        self.error = QLabel(self)
        self.error.setObjectName("swarm-node-labels-error")
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.labels: dict[str, str] = dict(node.labels)

    def _check(self) -> None:
        try:
            self.labels = parse_label_lines(self.editor.toPlainText())
        except ValueError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.accept()


class NodesPanel(QWidget):
    """The swarm's nodes, the selected one's availability and labels, and its tasks."""

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.view: SwarmView | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.model = KeyedTableModel(NODE_COLUMNS, key=lambda n: n.id, parent=self)
        self.table = _table(self, "swarm-nodes", "Nodes of the swarm", self.model)
        for column, width in {0: 160, 1: 80, 2: 100, 3: 80, 4: 90, 5: 120, 6: 60, 7: 90}.items():
            self.table.setColumnWidth(column, width)
        layout.addWidget(self.table, 1)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Availability:", self))
        self.availability = QComboBox(self)
        self.availability.setObjectName("swarm-node-availability")
        self.availability.setAccessibleName("Availability of the selected node")
        self.availability.addItems(list(engine.NODE_AVAILABILITIES))
        self.availability.setToolTip("active: runs tasks · pause: keeps its tasks, gets no"
                                     " new ones · drain: its tasks move to other nodes")
        self.availability.activated.connect(self._availability_chosen)
        bar.addWidget(self.availability)
        self.labels_button = QPushButton("Edit labels…", self)
        self.labels_button.setObjectName("swarm-node-labels")
        self.labels_button.clicked.connect(self.edit_labels)
        bar.addWidget(self.labels_button)
        bar.addStretch(1)
        layout.addLayout(bar)
        self.tasks_title = QLabel("Tasks on the node", self)
        layout.addWidget(self.tasks_title)
        self.tasks_model = KeyedTableModel(NODE_TASK_COLUMNS, key=lambda r: r.task.id,
                                           parent=self)
        self.tasks = _table(self, "swarm-node-tasks", "Tasks on the selected node",
                            self.tasks_model)
        for column, width in {0: 180, 1: 50, 2: 110, 3: 80, 4: 90, 5: 110}.items():
            self.tasks.setColumnWidth(column, width)
        layout.addWidget(self.tasks, 2)
        for table in (self.table, self.tasks):
            table.setMinimumHeight(70)
        self.join = QLabel(self)
        self.join.setObjectName("swarm-join")
        self.join.setAccessibleName("How to join this swarm")
        self.join.setWordWrap(True)
        self.join.setTextFormat(Qt.TextFormat.RichText)
        self.join.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.join)
        self._join_for = ""
        self.actions_for_palette = [
            _action(self, f"{verb.capitalize()} the selected node", f"swarm-node-{verb}",
                    lambda _=False, v=verb: self.choose_availability(v))
            for verb in engine.NODE_AVAILABILITIES
        ] + [_action(self, "Edit the selected node's labels…", "swarm-node-labels",
                     self.edit_labels)]
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._selection_changed()

    def selected(self) -> engine.Node | None:
        chosen = _selected(self.table)
        return chosen if isinstance(chosen, engine.Node) else None

    def set_view(self, view: SwarmView) -> None:
        self.view = view
        self.model.set_items(list(view.nodes))
        if self.selected() is None and view.nodes:
            self.table.selectRow(0)
        self._selection_changed()
        if view.state.cluster_id and view.state.cluster_id != self._join_for:
            self._join_for = view.state.cluster_id
            self.session.run(engine.join_commands, describe="read the swarm's join tokens",
                             on_done=self._show_join)

    def _show_join(self, commands: engine.JoinCommands) -> None:
        self.join.setText(
            "<small><b>Add a node to this swarm</b> — run on the other machine, as a worker:"
            f" <code>{commands.worker}</code><br>as a manager:"
            f" <code>{commands.manager}</code></small>")

    def _selection_changed(self, *_args: object) -> None:
        chosen = self.selected()
        self.availability.setEnabled(chosen is not None)
        self.labels_button.setEnabled(chosen is not None)
        for action in self.actions_for_palette:
            action.setEnabled(chosen is not None)
        if chosen is None or self.view is None:
            self.tasks_title.setText("Tasks on the node (select a node)")
            self.tasks_model.set_items([])
            return
        self.availability.setCurrentText(chosen.availability)
        names = {s.id: s.name for s in self.view.services}
        mine = [NodeTask(t, names.get(t.service_id, t.service_id[:12]))
                for t in self.view.tasks if t.node_id == chosen.id]
        running = sum(1 for r in mine if r.task.state == "running" and r.task.live)
        stopping = sum(1 for r in mine if r.task.state == "running" and not r.task.live)
        self.tasks_title.setText(f"Tasks on {chosen.hostname}: {running} running"
                                 + (f", {stopping} stopping" if stopping else ""))
        self.tasks_model.set_items(mine)

    def _availability_chosen(self, _index: int) -> None:
        self.choose_availability(self.availability.currentText())

    def choose_availability(self, wanted: str) -> None:
        """Set the selected node's availability; a drain asks first."""
        chosen = self.selected()
        if chosen is None or wanted == chosen.availability:
            return
        if wanted != "drain":
            self.set_availability(chosen, wanted)
            return
        running = sum(1 for t in (self.view.tasks if self.view else ())
                      if t.node_id == chosen.id and t.state == "running")
        ask(self, "Drain node",
            f"Drain {chosen.hostname}? Its running tasks ({running}) stop here and the swarm"
            " starts them on other active nodes (with no other node, they wait). The node"
            " takes no new tasks until it is made active again.", "Drain",
            lambda: self.set_availability(chosen, "drain"), name="swarm-drain-question")
        self.availability.setCurrentText(chosen.availability)  # until the answer

    def set_availability(self, node: engine.Node, availability: str) -> None:
        async def change(client: engine.Engine) -> engine.Node:
            return await engine.update_node(client, node.id, availability=availability)

        self.session.run(change, describe=f"set {node.hostname} to {availability}",
                         on_done=lambda n: self.session.message.emit(
                             MessageLevel.INFO, f"{n.hostname}: {n.availability}"))

    def edit_labels(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        dialog = LabelsDialog(chosen, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.set_labels(chosen, dialog.labels))
        dialog.open()

    def set_labels(self, node: engine.Node, labels: dict[str, str]) -> None:
        async def change(client: engine.Engine) -> engine.Node:
            return await engine.update_node(client, node.id, labels=labels)

        self.session.run(change, describe=f"set the labels of {node.hostname}",
                         on_done=lambda n: self.session.message.emit(
                             MessageLevel.INFO, f"{n.hostname}: labels saved"))


# -- stacks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """Services sharing a ``com.docker.stack.namespace``, and the objects labelled so."""

    name: str
    services: tuple[engine.Service, ...]
    objects: tuple[engine.SwarmObject, ...] = ()

    @property
    def running(self) -> int:
        return sum(s.running for s in self.services)

    @property
    def desired(self) -> int:
        return sum(s.desired for s in self.services)


def stacks_of(services: Sequence[engine.Service],
              objects: Sequence[engine.SwarmObject] = ()) -> list[Stack]:
    names = sorted({s.stack for s in services if s.stack} | {o.stack for o in objects
                                                                if o.stack})
    return [Stack(name, tuple(s for s in services if s.stack == name),
                  tuple(o for o in objects if o.stack == name)) for name in names]


STACK_COLUMNS = (
    Column("Stack", lambda s: s.name),
    Column("Services", lambda s: str(len(s.services)), sort_key=lambda s: len(s.services),
           align_right=True),
    Column("Tasks", lambda s: f"{s.running}/{s.desired}",
           tone=lambda s: "good" if s.running >= s.desired else "busy" if s.running else "bad"),
    Column("Members", lambda s: ", ".join(
        [sv.name for sv in s.services] + [f"{o.kind} {o.name}" for o in s.objects])),
)


class StacksPanel(QWidget):
    """Stacks (services by namespace) and a stack-level remove."""

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.model = KeyedTableModel(STACK_COLUMNS, key=lambda s: s.name, parent=self)
        self.table = _table(self, "swarm-stacks", "Stacks of the swarm", self.model)
        for column, width in {0: 180, 1: 80, 2: 80}.items():
            self.table.setColumnWidth(column, width)
        layout.addWidget(self.table, 1)
        bar = QHBoxLayout()
        self.remove_button = QPushButton("Remove stack…", self)
        self.remove_button.setObjectName("swarm-stack-remove")
        self.remove_button.clicked.connect(self.remove_selected)
        bar.addWidget(self.remove_button)
        self.hint = QLabel("A stack is the services <code>docker stack deploy</code> made"
                           " under one name.", self)
        bar.addWidget(self.hint, 1)
        layout.addLayout(bar)
        self.remove_action = _action(self, "Remove the selected stack…", "swarm-stack-remove",
                                     self.remove_selected)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._selection_changed()

    def set_stacks(self, stacks: list[Stack]) -> None:
        self.model.set_items(stacks)
        self._selection_changed()

    def selected(self) -> Stack | None:
        chosen = _selected(self.table)
        return chosen if isinstance(chosen, Stack) else None

    def _selection_changed(self, *_args: object) -> None:
        self.remove_button.setEnabled(self.selected() is not None)
        self.remove_action.setEnabled(self.selected() is not None)

    def remove_selected(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        services = ", ".join(s.name for s in chosen.services) or "none"
        ask(self, "Remove stack",
            f"Remove the stack {chosen.name}, as <code>docker stack rm</code> does? Its"
            f" services ({services}) stop and go, with every network, secret and config"
            f" labelled <code>{engine.STACK_NAMESPACE_LABEL}={chosen.name}</code>. Volumes"
            " stay.", "Remove stack",
            lambda: self.session.run(engine.remove_stack, chosen.name,
                                     describe=f"remove the stack {chosen.name}",
                                     on_done=self._removed),
            name="swarm-stack-remove-question")

    def _removed(self, removal: engine.StackRemoval) -> None:
        if removal.failures:
            self.session.message.emit(
                MessageLevel.ERROR,
                f"stack {removal.stack}: could not remove {'; '.join(removal.failures)}")
            return
        self.session.message.emit(
            MessageLevel.INFO,
            f"stack {removal.stack} removed: {counted(len(removal.services), 'service')},"
            f" {counted(len(removal.networks), 'network')},"
            f" {counted(len(removal.secrets), 'secret')},"
            f" {counted(len(removal.configs), 'config')}")


# -- secrets and configs ------------------------------------------------------------------


OBJECT_COLUMNS = (
    Column("Kind", lambda o: o.kind),
    Column("Name", lambda o: o.name, tooltip=lambda o: o.id),
    Column("Created", lambda o: relative_time(o.created), ticks=True,
           sort_key=lambda o: o.created.timestamp() if o.created else 0.0),
    Column("Used by", lambda o: ", ".join(o.used_by) or "no service",
           tone=lambda o: "good" if o.used_by else "idle"),
    Column("Stack", lambda o: o.stack),
)


class ObjectsPanel(QWidget):
    """Secrets and configs: what they are called, since when, who uses them; no values."""

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.model = KeyedTableModel(OBJECT_COLUMNS, key=lambda o: f"{o.kind}:{o.id}",
                                     parent=self)
        self.table = _table(self, "swarm-objects", "Secrets and configs", self.model)
        for column, width in {0: 70, 1: 220, 2: 110, 3: 260}.items():
            self.table.setColumnWidth(column, width)
        layout.addWidget(self.table, 1)
        bar = QHBoxLayout()
        self.remove_button = QPushButton("Remove…", self)
        self.remove_button.setObjectName("swarm-object-remove")
        self.remove_button.clicked.connect(self.remove_selected)
        bar.addWidget(self.remove_button)
        bar.addWidget(QLabel("A secret's value is never shown: the engine keeps it for the"
                             " tasks that mount it.", self), 1)
        layout.addLayout(bar)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._selection_changed()

    def selected(self) -> engine.SwarmObject | None:
        chosen = _selected(self.table)
        return chosen if isinstance(chosen, engine.SwarmObject) else None

    def _selection_changed(self, *_args: object) -> None:
        chosen = self.selected()
        self.remove_button.setEnabled(chosen is not None and not chosen.used_by)
        self.remove_button.setToolTip(
            f"In use by {', '.join(chosen.used_by)}: remove those services first"
            if chosen is not None and chosen.used_by else "")

    def set_objects(self, objects: list[engine.SwarmObject]) -> None:
        self.model.set_items(objects)
        self._selection_changed()

    def remove_selected(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        remove = engine.remove_secret if chosen.kind == "secret" else engine.remove_config
        ask(self, f"Remove {chosen.kind}",
            f"Remove the {chosen.kind} {chosen.name}? No service uses it.",
            f"Remove {chosen.kind}",
            lambda: self.session.run(remove, chosen.id,
                                     describe=f"remove the {chosen.kind} {chosen.name}"),
            name="swarm-object-remove-question")


# -- the sections together ----------------------------------------------------------------


#: How often the swarm is read again while a task on another node is on its way (ms).
REMOTE_TASK_POLL_MS = 2000
#: Reads that found nothing changed before the polling gives up (a task that waits for
#: good: a constraint no node meets); the next event or change starts it again.
MAX_UNCHANGED_POLLS = 30


def unsettled(view: SwarmView) -> bool:
    """A task is on its way (starting, stopping, waiting for a node) on a swarm of several
    nodes: the other nodes' task changes come with no event of this engine."""
    if view.state.nodes < 2:
        return False
    return any((t.live and t.state != "running") or (not t.live and t.state == "running")
               for t in view.tasks if not t.failed)


class SwarmSections(QTabWidget):
    """Tabs under the services: (the page's Tasks,) Nodes, Stacks, Secrets & configs."""

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("swarm-sections")
        self.session = session
        self.nodes = NodesPanel(session, self)
        self.stacks = StacksPanel(session, self)
        self.objects = ObjectsPanel(session, self)
        self.addTab(self.nodes, "Nodes")
        self.addTab(self.stacks, "Stacks")
        self.addTab(self.objects, "Secrets && configs")
        self.view: SwarmView | None = None
        self._unchanged_polls = 0
        session.live(SWARM_OBJECTS).changed.connect(self._objects_changed)
        self.poll = QTimer(self)
        self.poll.setSingleShot(True)
        self.poll.setInterval(REMOTE_TASK_POLL_MS)
        self.poll.timeout.connect(lambda: session.refresh_list(SWARM))
        self.show_actions = [
            _action(self, f"Show the swarm's {title}", f"swarm-show-{key}",
                    lambda _=False, w=widget: self.setCurrentWidget(w))
            for key, title, widget in (("nodes", "nodes", self.nodes),
                                       ("stacks", "stacks", self.stacks),
                                       ("objects", "secrets and configs", self.objects))]

    def palette_actions(self) -> list[QAction]:
        """The commands of the tabs, for the command palette."""
        return [*self.show_actions, *self.nodes.actions_for_palette,
                self.stacks.remove_action]

    def set_view(self, view: SwarmView) -> None:
        self._unchanged_polls = self._unchanged_polls + 1 if view == self.view else 0
        self.view = view
        self._schedule_poll()
        self.nodes.set_view(view)
        self._objects_changed()

    def _schedule_poll(self) -> None:
        """Poll only while it helps someone: shown, not minimised, and still changing."""
        wanted = (self.view is not None and unsettled(self.view) and self.isVisible()
                  and not self.window().isMinimized()
                  and self._unchanged_polls < MAX_UNCHANGED_POLLS)
        if not wanted:
            self.poll.stop()
        elif not self.poll.isActive():
            self.poll.start()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._unchanged_polls = 0
        self._schedule_poll()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.poll.stop()

    def _objects_changed(self, *_args: object) -> None:
        objects = self.session.items(SWARM_OBJECTS)
        self.objects.set_objects(objects)
        services = list(self.view.services) if self.view else []
        self.stacks.set_stacks(stacks_of(services, objects))


# -- an engine in no swarm ----------------------------------------------------------------


def init_question(advertise: str, listen: str = "0.0.0.0:2377") -> str:
    """What the init question says changes (rich text)."""
    where = (f"advertised to other nodes as <code>{advertise}</code>" if advertise
             else "advertised on the address the engine picks (it asks for one when it has"
                  " several)")
    return ("<p>This engine becomes the <b>manager</b> of a new swarm of one node: it keeps"
            " the cluster's state and runs services' tasks.</p>"
            f"<p>It listens for other nodes on <code>{listen}</code>, {where}. Swarm adds"
            " the overlay network <code>ingress</code> (and <code>docker_gwbridge</code>"
            " when the first task starts). Containers already running are not touched.</p>"
            "<p>To undo it: <code>docker swarm leave --force</code> on this engine (the"
            " swarm's services go with it).</p>")


class InitPanel(QWidget):
    """The explicit way to make this engine a swarm manager: a button and a question."""

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Advertise address:", self))
        self.advertise = QLineEdit(self)
        self.advertise.setObjectName("swarm-init-advertise")
        self.advertise.setAccessibleName("Address other nodes reach this engine at")
        self.advertise.setPlaceholderText("e.g. 192.168.1.10 (empty: the engine picks)")
        layout.addWidget(self.advertise, 1)
        layout.addWidget(QLabel("Listen on:", self))
        self.listen = QLineEdit("0.0.0.0:2377", self)
        self.listen.setObjectName("swarm-init-listen")
        self.listen.setAccessibleName("Address and port this engine listens on for nodes")
        layout.addWidget(self.listen)
        self.button = QPushButton("Initialise a swarm on this engine…", self)
        self.button.setObjectName("swarm-init")
        self.button.clicked.connect(self.ask_init)
        layout.addWidget(self.button)
        self.action = _action(self, "Initialise a swarm on this engine…", "swarm-init",
                              self.ask_init)

    def ask_init(self) -> None:
        advertise = self.advertise.text().strip()
        listen = self.listen.text().strip() or "0.0.0.0:2377"
        ask(self, "Initialise a swarm", init_question(advertise, listen), "Initialise swarm",
            lambda: self.init(advertise, listen), name="swarm-init-question")

    def init(self, advertise: str, listen: str) -> None:
        async def start(client: engine.Engine) -> str:
            return await engine.init_swarm(client, advertise_addr=advertise,
                                           listen_addr=listen)

        def done(node_id: str) -> None:
            self.session.message.emit(MessageLevel.INFO,
                                      f"this engine is now a swarm manager (node {node_id[:12]})")
            self.session.refresh()  # /info changed; no event says so on every engine

        self.session.run(start, describe="initialise a swarm on this engine", on_done=done)
