"""The Containers page: every container, live, grouped by Compose project, with its actions.

Models: ``page.model`` is the flat :class:`KeyedTableModel` keyed by container ID
(the session feeds it); :class:`ContainerTreeModel` follows it and adds a row per
Compose project; :class:`GroupedFilterProxy` sorts and filters that tree for the
view.  All three update by diffs, so selection, scroll and collapsed groups
survive refreshes.

Actions work on every selected container (a selected project row stands for
its visible containers).  While one runs, the container's State cell says what
is happening ("stopping…"); it returns to the real state when the next refresh
shows the container changed (or after a few seconds if nothing changed, e.g.
a start of something already running).  Failures go to the session's message
bar in the daemon's own words; expected races (the container is already gone,
or removing itself) and no-ops (304) stay silent.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVarTuple

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QDesktopServices,
    QGuiApplication,
    QHideEvent,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QSplitter,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.icons import icon_for
from app.models.container_tree import ComposeGroup, ContainerTreeModel, IsGroupRole
from app.models.table import Column, ItemRole, KeyedTableModel
from app.pages.container_detail import ContainerDetail
from app.pages.container_usage import UsageStreams, usage_columns
from app.pages.table_page import FilterProxy, TablePage
from app.presentation import (
    browser_urls,
    container_image,
    container_ports,
    container_state,
    container_tone,
    counted,
    relative_time,
)
from app.resources import CONTAINERS
from app.session import EngineSession, MessageLevel
from app.settings import CONFIRM_REMOVE, LOG_LINE_CAP, Settings
from app.theme import ERROR_TEXT, text_style
from app.widgets.ask import ask
from app.widgets.badges import StateBadgeDelegate
from app.widgets.dialog_title import fit_title

AnyIndex = QModelIndex | QPersistentModelIndex

#: How long an action's "stopping…" stays when no refresh shows a change (a no-op).
SETTLE_MS = 3000


def _created_key(container: engine.Container) -> float:
    return container.created.timestamp() if container.created else 0.0


STATE_COLUMN = Column("State", container_state, tooltip=lambda c: c.status, tone=container_tone)
CONTAINER_COLUMNS = (
    Column("Name", lambda c: c.name),
    Column("ID", lambda c: c.short_id, tooltip=lambda c: c.id),
    Column("Image", container_image, tooltip=lambda c: c.image),
    STATE_COLUMN,
    Column("Created", lambda c: relative_time(c.created), sort_key=_created_key, ticks=True,
           tooltip=lambda c: c.created.isoformat() if c.created else ""),
    Column("Ports", container_ports),
)


def group_tone(group: ComposeGroup) -> str:
    """A project looks bad if any container does, good if all run, busy if some do."""
    tones = [container_tone(c) for c in group.containers]
    if "bad" in tones:
        return "bad"
    running = group.running_count
    if running and running == len(group.containers):
        return "good"
    return "busy" if running or "busy" in tones else "idle"


def _group_tooltip(group: ComposeGroup) -> str:
    names = ", ".join(c.name for c in group.containers)
    return f"Compose project {group.project}: {names}"


#: How a Compose project's row fills the same columns.
GROUP_COLUMNS = (
    Column("Name", lambda g: g.project, tooltip=_group_tooltip),
    Column("ID", lambda g: ""),
    Column("Image", lambda g: ""),
    Column("State", lambda g: g.summary, tone=group_tone),
    Column("Created", lambda g: ""),
    Column("Ports", lambda g: ""),
)
#: Where the page puts the live CPU and Memory columns (see container_usage): after State.
USAGE_FIRST_COLUMN = 4


def names_phrase(names: Sequence[str]) -> str:
    """How a message names the containers an action changed: "a", "a and b", "3 containers".

    One message for the whole selection, not one per container (the last of
    which hid the others; issue 12.14)."""
    if len(names) <= 2:
        return " and ".join(names)
    return counted(len(names), "container")


def containers_model(parent: QWidget | None = None) -> KeyedTableModel:
    return KeyedTableModel(CONTAINER_COLUMNS, key=lambda c: c.id, parent=parent)


class GroupedFilterProxy(FilterProxy):
    """Sorts and filters the project tree; also maps indexes of the flat model.

    A container is shown when it passes the predicate (e.g. running only) and
    the search text matches one of its cells or its project's name.  A group
    row is shown when any of its containers is (Qt's recursive filtering).
    ``mapFromSource`` accepts an index of the flat model too, so code holding
    ``page.model`` indexes can still find the row in the view.
    """

    def __init__(self, flat: KeyedTableModel, tree: ContainerTreeModel,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._flat = flat
        self._tree = tree
        self.setRecursiveFilteringEnabled(True)
        self.setSourceModel(tree)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        item = self._tree.item(self._tree.index(source_row, 0, source_parent))
        if not isinstance(item, engine.Container):
            return False  # a project: shown through its containers
        if self._predicate is not None and not self._predicate(item):
            return False
        pattern = self.filterRegularExpression()
        if not pattern.pattern():
            return True
        if pattern.match(item.compose_project or "").hasMatch() and item.compose_project:
            return True
        return any(
            pattern.match(str(self._tree.index(source_row, col, source_parent).data()))
            .hasMatch()
            for col in range(self._tree.columnCount())
        )

    def mapFromSource(self, source_index: AnyIndex) -> QModelIndex:
        if source_index.isValid() and source_index.model() is self._flat:
            item = self._flat.item_at(source_index.row())
            source_index = self._tree.index_of(item.id, source_index.column())
        return super().mapFromSource(source_index)

    def index_of(self, container_id: str, column: int = 0) -> QModelIndex:
        """The shown index of a container (invalid when filtered out)."""
        return super().mapFromSource(self._tree.index_of(container_id, column))


class ContainerTreeView(QTreeView):
    """The containers list: a tree (projects fold) with the table-view calls callers use."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.setSortingEnabled(True)
        self.setAllColumnsShowFocus(True)
        self.setWordWrap(False)
        # The State column is a badge ("running", "exited (1)"), not a coloured square.
        self.setItemDelegateForColumn(CONTAINER_COLUMNS.index(STATE_COLUMN),
                                      StateBadgeDelegate(self))
        header = self.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)

    def selectRow(self, row: int, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008
        """Select one whole row (under ``parent``), as ``QTableView.selectRow`` does."""
        index = self.model().index(row, 0, parent)
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)
        self.selectionModel().setCurrentIndex(index, flags)

    def horizontalHeader(self) -> QHeaderView:
        """The column header (QTableView's name for it; the window saves its state)."""
        return self.header()


class RenameDialog(QDialog):
    """A name field that marks an invalid name inline before anything is sent."""

    def __init__(self, container: engine.Container, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rename-dialog")
        self.setWindowTitle(f"Rename {container.name}")
        self.current = container.name
        self.name = QLineEdit(container.name, self)
        self.name.setObjectName("rename-name")
        self.name.setAccessibleName("New container name")
        self.name.selectAll()
        self.problem = QLabel(self)
        self.problem.setObjectName("rename-problem")
        self.problem.setStyleSheet(text_style(ERROR_TEXT, self.problem))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.rename_button = self.buttons.addButton("Rename",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.rename_button.setObjectName("rename-accept")
        self.rename_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("New name:", self))
        layout.addWidget(self.name)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        fit_title(self)
        self.name.textChanged.connect(self._validate)
        self._validate(self.name.text())

    def _validate(self, text: str) -> None:
        problem = ""
        if not text.strip():
            problem = "A name is needed"
        else:
            try:
                engine.validate_name(text)
            except engine.InvalidInput as exc:
                problem = str(exc)
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        self.rename_button.setEnabled(not problem and text.strip() != self.current)

    def new_name(self) -> str:
        return self.name.text().strip()


#: An engine call on one container: ``call(client, container_id)``.
ContainerCall = Callable[[engine.Engine, str], Coroutine[Any, Any, object]]
Ts = TypeVarTuple("Ts")


def _any_in(*states: str) -> Callable[[engine.Container], bool]:
    return lambda c: c.state in states


@dataclass(frozen=True)
class ContainerAction:
    """One thing to do to the selected containers, as the toolbar, the right-click menu
    and the command palette all offer it (they share one QAction per entry).

    An engine action says which selected containers it ``applies`` to (it is enabled
    when one does), the ``call`` it makes for each, and the words for the State cell
    while it runs (``busy``) and the message after (``done``, a past tense).  Any other
    entry says when it is ``enabled`` and what it ``triggers`` (a dialog, a question).
    """

    label: str
    name: str
    shortcut: str | None = None
    applies: Callable[[engine.Container], bool] | None = None
    #: The engine call, made as ``call(client, container_id)`` for each container.
    call: ContainerCall | None = None
    #: The call for a container seen paused, where it must differ.
    call_if_paused: ContainerCall | None = None
    busy: str = ""
    done: str = ""
    enabled: Callable[[Sequence[engine.Container]], bool] | None = None
    triggers: Callable[[ContainersPage], object] | None = None

    def enabled_for(self, selected: Sequence[engine.Container]) -> bool:
        if self.enabled is not None:
            return self.enabled(selected)
        applies = self.applies
        return applies is not None and any(applies(c) for c in selected)


START = ContainerAction("Start", "container-start", applies=lambda c: c.state not in (
    "running", "paused"), call=engine.ensure_started, busy="starting…", done="Started")
STOP = ContainerAction("Stop", "container-stop", applies=_any_in("running", "paused"),
                       call=engine.ensure_stopped,
                       # Podman refuses to stop a paused container: unpaused first.
                       call_if_paused=partial(engine.ensure_stopped, paused=True),
                       busy="stopping…", done="Stopped")
RESTART = ContainerAction("Restart", "container-restart", applies=lambda c: True,
                          call=engine.ensure_restarted, busy="restarting…", done="Restarted")
PAUSE = ContainerAction("Pause", "container-pause", applies=_any_in("running"),
                        call=engine.pause_container, busy="pausing…", done="Paused")
UNPAUSE = ContainerAction("Unpause", "container-unpause", applies=_any_in("paused"),
                          call=engine.unpause_container, busy="unpausing…", done="Unpaused")
KILL = ContainerAction("Kill", "container-kill", applies=_any_in("running"),
                       call=engine.kill_container, busy="killing…", done="Killed")
RENAME = ContainerAction("Rename…", "container-rename", "F2",
                         enabled=lambda selected: len(selected) == 1,
                         triggers=lambda page: page.rename_selected())
REMOVE = ContainerAction("Remove", "container-remove", "Delete",
                         enabled=lambda selected: bool(selected),
                         triggers=lambda page: page.remove_selected())
OPEN = ContainerAction("Open", "container-open",
                       enabled=lambda selected: len(selected) == 1
                       and bool(browser_urls(selected[0])),
                       triggers=lambda page: page.open_selected_port())
COPY_RUN = ContainerAction("Copy run command", "container-copy-run",
                           enabled=lambda selected: len(selected) == 1,
                           triggers=lambda page: page.copy_run_command())
#: In toolbar order.
CONTAINER_ACTIONS = (START, STOP, RESTART, PAUSE, UNPAUSE, KILL, RENAME, REMOVE, OPEN,
                     COPY_RUN)


class ContainersPage(TablePage):
    #: Export this container's filesystem (id, name) into this file (a Path).
    export_requested = Signal(str, str, object)
    #: Live CPU and memory samples that arrived within this long are shown together.
    USAGE_SHOWN_EVERY_MS = 500

    def __init__(self, session: EngineSession, settings: Settings | None = None,
                 parent: QWidget | None = None) -> None:
        self.session = session  # the hooks below need it during TablePage's __init__
        super().__init__("containers", containers_model(), parent)
        self.model.setParent(self)
        self.settings = settings if settings is not None else Settings(parent=self)
        self._settling: dict[str, engine.Container] = {}
        self._collapsed: set[str] = set()
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.rowsInserted.connect(self._expand_new_groups)
        self.tree.collapsed.connect(partial(self._remember_expanded, False))
        self.tree.expanded.connect(partial(self._remember_expanded, True))

        self.running_only = QCheckBox("Running only", self)
        self.running_only.setObjectName("containers-running-only")
        self.running_only.setAccessibleName("Show running containers only")
        self.running_only.toggled.connect(self._apply_running_filter)
        self.toolbar.addWidget(self.running_only)
        self.action_buttons = {
            action.name: self.add_button(action.label, action.name,
                                         partial(self.trigger, action), action.shortcut)
            for action in CONTAINER_ACTIONS}
        self.start_button = self.action_buttons[START.name]
        self.stop_button = self.action_buttons[STOP.name]
        self.restart_button = self.action_buttons[RESTART.name]
        self.pause_button = self.action_buttons[PAUSE.name]
        self.unpause_button = self.action_buttons[UNPAUSE.name]
        self.kill_button = self.action_buttons[KILL.name]
        self.rename_button = self.action_buttons[RENAME.name]
        self.remove_button = self.action_buttons[REMOVE.name]
        self.open_button = self.action_buttons[OPEN.name]
        self.open_button.defaultAction().setToolTip("Open a published port in the browser")
        self.open_menu = QMenu(self.open_button)
        self.open_menu.setObjectName("container-open-menu")
        self.open_button.setMenu(self.open_menu)
        self.open_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        # Export is on the right-click menu and the palette, not the (full) toolbar.
        self.export_action = QAction("Export filesystem…", self)
        self.export_action.setObjectName("action-container-export")
        if (icon := icon_for("container-export")) is not None:
            self.export_action.setIcon(icon)
        self.export_action.triggered.connect(self.export_selected)
        self.export_action.setEnabled(False)
        self.addAction(self.export_action)
        self.page_actions.append(self.export_action)
        # Every action on the right-click menu too.
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.tree.addActions(self.page_actions)

        containers = session.live(CONTAINERS)
        containers.changed.connect(self.model.set_items)
        containers.changed.connect(self._settle)
        self.fit_columns({0: 165, 1: 95, 2: 145, 3: 140, 4: 60, 5: 75, 6: 100, 7: 80})
        self.detail = ContainerDetail(session, self)
        self.detail.logs.model.cap = self.settings.get(LOG_LINE_CAP)
        self.detail.recreated.connect(self.select_when_listed)
        #: A container to select as soon as its row is there (one just recreated).
        self._pending_select: str | None = None
        self.model.rowsInserted.connect(self._select_pending)
        self.settings.changed.connect(self._on_setting_changed)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("containers-splitter")
        self.main_layout.replaceWidget(self.tree, self.splitter)
        self.splitter.addWidget(self.tree)
        self.splitter.addWidget(self.detail)
        self.splitter.setSizes([260, 360])
        # The detail and the buttons follow the selected rows through refreshes.  The tree
        # model's own changes, not the proxy's: with recursive filtering the proxy also
        # announces a project row's first cell at every stats sample of a member, and each
        # of those re-read the selection and re-showed the detail (10 a second with 20
        # containers streaming: most of the window's CPU in the soak).
        self.tree_model.dataChanged.connect(self._on_data_changed)
        # Which rows are in view decides which stats streams run (see container_usage).
        self._usage_timer = QTimer(self)
        self._usage_timer.setSingleShot(True)
        self._usage_timer.setInterval(250)
        self._usage_timer.timeout.connect(self.watch_visible_usage)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.layoutChanged,
                       self.proxy.modelReset, self.tree.expanded, self.tree.collapsed,
                       self.tree.verticalScrollBar().valueChanged):
            signal.connect(self._usage_timer.start)
        self.usage.retry_due.connect(self._usage_timer.start)
        self._watched_window: QWidget | None = None
        self._update_count()
        self.set_empty_hint("No containers yet — run one from the Images page (Run…).")
        self.selection_changed()

    # -- live CPU and memory -----------------------------------------------------------

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex,
                         *_roles: object) -> None:
        if (top_left.column(), bottom_right.column()) != (
                USAGE_FIRST_COLUMN, USAGE_FIRST_COLUMN + 1):  # not just a new stats sample
            self.selection_changed()
            self._usage_timer.start()

    # -- TablePage's hooks: a tree of Compose projects over the flat model -------------------

    def make_proxy(self) -> GroupedFilterProxy:
        self.usage = UsageStreams(self.session, self)
        usage, group_usage = usage_columns(self.usage.samples)
        at = USAGE_FIRST_COLUMN
        self.tree_model = ContainerTreeModel(
            self.model, (*CONTAINER_COLUMNS[:at], *usage, *CONTAINER_COLUMNS[at:]),
            (*GROUP_COLUMNS[:at], *group_usage, *GROUP_COLUMNS[at:]), self)
        self.usage.changed.connect(self._usage_changed)
        self._usage_due: set[str] = set()
        self._usage_flush = QTimer(self)
        self._usage_flush.setSingleShot(True)
        self._usage_flush.setInterval(self.USAGE_SHOWN_EVERY_MS)
        self._usage_flush.timeout.connect(self._show_usage)
        return GroupedFilterProxy(self.model, self.tree_model, self)

    def make_view(self) -> ContainerTreeView:  # type: ignore[override]  # same calls as a table
        self.tree = ContainerTreeView(self)
        return self.tree

    def _usage_changed(self, container_id: str) -> None:
        # Samples arrive one container at a time (each about once a second): shown together.
        self._usage_due.add(container_id)
        if not self._usage_flush.isActive():
            self._usage_flush.start()

    def _show_usage(self) -> None:
        due, self._usage_due = self._usage_due, set()
        self.tree_model.refresh_columns_of(due, USAGE_FIRST_COLUMN, USAGE_FIRST_COLUMN + 1)

    def visible_running(self) -> list[str]:
        """The running containers whose rows are on screen now."""
        if not self.isVisible() or self.window().isMinimized():
            return []
        viewport_height = self.tree.viewport().height()
        index = self.tree.indexAt(QPoint(0, 0))
        shown: list[str] = []
        while index.isValid() and self.tree.visualRect(index).top() < viewport_height:
            item = index.data(ItemRole)
            if isinstance(item, engine.Container) and item.state == "running":
                shown.append(item.id)
            index = self.tree.indexBelow(index)
        return shown

    def watch_visible_usage(self) -> None:
        self.usage.watch(self.visible_running())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        window = self.window()
        if window is not self._watched_window:  # minimising stops the streams too
            window.installEventFilter(self)
            self._watched_window = window
        self._usage_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.usage.stop()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._usage_timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._watched_window and event.type() in (
                QEvent.Type.WindowStateChange, QEvent.Type.Hide, QEvent.Type.Show):
            self._usage_timer.start()
        return super().eventFilter(watched, event)

    def palette_commands(self) -> list[QAction]:
        """The toolbar's actions, then the selected container's Shell, Logs, Inspect…"""
        return [*self.page_actions, *self.detail.palette_actions]

    def noun(self, count: int) -> str:
        return "container" if count == 1 else "containers"

    # -- view ---------------------------------------------------------------------------

    def _on_setting_changed(self, key: str) -> None:
        if key == LOG_LINE_CAP.key:
            self.detail.logs.model.cap = self.settings.get(LOG_LINE_CAP)

    def _apply_running_filter(self, running_only: bool) -> None:
        self.proxy.set_predicate((lambda c: c.running) if running_only else None)

    def _expand_new_groups(self, parent: QModelIndex, first: int, last: int) -> None:
        """Projects open unfolded, unless the user folded that project before."""
        if parent.isValid():
            return
        for row in range(first, last + 1):
            index = self.proxy.index(row, 0)
            if index.data(IsGroupRole) and index.data() not in self._collapsed:
                self.tree.expand(index)

    def _remember_expanded(self, expanded: bool, index: QModelIndex) -> None:
        project = str(index.data())
        if expanded:
            self._collapsed.discard(project)
        else:
            self._collapsed.add(project)

    def _update_count(self, *_args: object) -> None:
        # Runs on every row inserted or removed: a look at each project row only, not at
        # each of a thousand containers (a storm of events was spent here).
        shown = self.proxy.rowCount()
        for group in self.tree_model.groups():
            index = self.proxy.mapFromSource(self.tree_model.group_index(group.project))
            if index.isValid():
                shown += self.proxy.rowCount(index) - 1
        total = self.model.rowCount()
        self.count_label.setText(
            f"{total} {self.noun(total)}" if shown == total else f"{shown} of {total} shown"
        )

    def group_count(self) -> int:
        """How many project rows are shown."""
        return sum(1 for r in range(self.proxy.rowCount())
                   if self.proxy.index(r, 0).data(IsGroupRole))

    def selected_items(self) -> list[engine.Container]:
        """The selected containers, a selected project standing for its shown containers."""
        chosen: dict[str, engine.Container] = {}
        rows = self.tree.selectionModel().selectedRows()
        for index in sorted(rows, key=lambda i: (i.parent().row(), i.row())):
            item = index.data(ItemRole)
            if isinstance(item, ComposeGroup):
                for row in range(self.proxy.rowCount(index)):
                    child = self.proxy.index(row, 0, index).data(ItemRole)
                    chosen.setdefault(child.id, child)
            elif isinstance(item, engine.Container):
                chosen.setdefault(item.id, item)
        return list(chosen.values())

    def select_when_listed(self, container_id: str) -> None:
        """Select the container now, or as soon as the live list shows it."""
        self._pending_select = container_id
        self._select_pending()

    def _select_pending(self, *_args: object) -> None:
        if self._pending_select is not None and self.select_key(self._pending_select):
            self._pending_select = None

    def selection_changed(self) -> None:
        selected = self.selected_items()
        for action in CONTAINER_ACTIONS:
            self.action_buttons[action.name].defaultAction().setEnabled(
                action.enabled_for(selected))
        single = selected[0] if len(selected) == 1 else None
        self.export_action.setEnabled(single is not None)
        urls = browser_urls(single) if single is not None else []
        self.open_menu.clear()
        for url in urls:
            self.open_menu.addAction(url, partial(self.open_url, url))
        self.detail.show_container(single, hint=self.selection_hint(selected))

    def selection_hint(self, selected: Sequence[engine.Container]) -> str:
        """What the detail pane says when no single container is selected: what the
        selection offers instead of "Select a container" (issue 12.14)."""
        if not selected:
            return ""
        groups = [index.data(ItemRole) for index in self.tree.selectionModel().selectedRows()
                  if isinstance(index.data(ItemRole), ComposeGroup)]
        offer = ("the actions above act on all of them; select one container for its logs,"
                 " shells and stats.")
        if len(groups) == 1 and len(selected) > 1:
            return (f"Compose project <b>{html.escape(groups[0].project)}</b>: "
                    f"{counted(len(selected), 'container')} — {offer}")
        if len(selected) > 1:
            return f"{counted(len(selected), 'container')} selected — {offer}"
        return ""

    # -- running actions ----------------------------------------------------------------

    def run_action(
        self, container: engine.Container,
        action: Callable[[engine.Engine, *Ts], Coroutine[Any, Any, object]], *args: *Ts,
        describe: str, busy: str, done: str | None = None,
        on_done: Callable[[Any], None] | None = None,
    ) -> asyncio.Task[Any] | None:
        """Run ``action(client, *args)`` with progress in the State cell, then the result
        or the error.

        ``action`` returns False for a no-op (already started / stopped / gone):
        then no message is shown.  ``done`` is the message for a real change.
        """
        self.tree_model.set_busy(container.id, busy)
        succeeded: list[bool] = []

        def finished(result: Any) -> None:
            succeeded.append(True)
            if result is False:
                self._clear_busy(container.id)
            else:
                self._settling[container.id] = container
                QTimer.singleShot(SETTLE_MS, self, partial(self._clear_busy, container.id))
                if done:
                    self.session.message.emit(MessageLevel.INFO, done)
            if on_done is not None:
                on_done(result)

        task = self.session.run(action, *args, describe=describe, quiet_not_found=True,
                                on_done=finished)
        if task is None:
            self._clear_busy(container.id)
            return None
        # A failure is reported by the session; the cell shows the real state again.
        task.add_done_callback(
            lambda _task: None if succeeded else self._clear_busy(container.id))
        return task

    def run_on_each(
        self, containers: Sequence[engine.Container],
        start: Callable[[engine.Container, Callable[[Any], None]], asyncio.Task[Any] | None],
        done: str,
    ) -> None:
        """Start one task per container with ``start(container, on_done)``; when all have
        ended, one message names those that changed ("Stopped a and b", "Stopped 3
        containers").  No-ops and failures are left out (failures report themselves)."""
        changed: list[str] = []
        pending: set[str] = set()

        def ended(container_id: str, _task: object) -> None:
            pending.discard(container_id)
            if not pending and changed:
                names = [c.name for c in containers if c.name in changed]  # selection order
                self.session.message.emit(MessageLevel.INFO, f"{done} {names_phrase(names)}")

        for c in containers:
            def on_done(result: Any, name: str = c.name) -> None:
                if result is not False:
                    changed.append(name)

            task = start(c, on_done)
            if task is not None:
                pending.add(c.id)
                # Added after the session's own callback, so it runs after ``on_done``.
                task.add_done_callback(partial(ended, c.id))

    def _clear_busy(self, container_id: str) -> None:
        self._settling.pop(container_id, None)
        self.tree_model.set_busy(container_id, None)

    def _settle(self, containers: Sequence[engine.Container]) -> None:
        """A refresh that shows a container changed ends its "stopping…"."""
        if not self._settling:
            return
        current = {c.id: c for c in containers}
        for container_id, before in list(self._settling.items()):
            if current.get(container_id) != before:
                self._clear_busy(container_id)

    def perform(self, action: ContainerAction, containers: Sequence[engine.Container]) -> None:
        """Run an engine action on each of ``containers``, its progress in their State cells."""
        assert action.call is not None
        call = action.call
        verb = action.label.lower()

        def start(c: engine.Container, on_done: Callable[[Any], None]) -> asyncio.Task[Any] | None:
            chosen = (action.call_if_paused if c.state == "paused" else None) or call
            return self.run_action(c, chosen, c.id, describe=f"{verb} {c.name}",
                                   busy=action.busy, on_done=on_done)

        self.run_on_each(containers, start, action.done)

    def remove(self, containers: Sequence[engine.Container], *, volumes: bool = False) -> None:
        def start(c: engine.Container, on_done: Callable[[Any], None]) -> asyncio.Task[Any] | None:
            force = c.state in ("running", "paused")
            return self.run_action(
                c, partial(engine.remove_if_present, force=force, volumes=volumes), c.id,
                describe=f"remove {c.name}", busy="removing…", on_done=on_done)

        self.run_on_each(containers, start, "Removed")

    def rename(self, container: engine.Container, name: str) -> None:
        self.run_action(container, engine.rename_container, container.id, name,
                        describe=f"rename {container.name} to {name}", busy="renaming…",
                        done=f"Renamed {container.name} to {name}")

    # -- toolbar slots ------------------------------------------------------------------

    def trigger(self, action: ContainerAction) -> None:
        """What the toolbar, the right-click menu and the palette do for ``action``."""
        if action.triggers is not None:
            action.triggers(self)
        elif action.applies is not None:
            self.perform(action, [c for c in self.selected_items() if action.applies(c)])

    def rename_selected(self) -> RenameDialog | None:
        selected = self.selected_items()
        if len(selected) != 1:
            return None
        container = selected[0]
        dialog = RenameDialog(container, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(
            lambda: self.rename(container, dialog.new_name())
            if dialog.new_name() != container.name else None)
        dialog.open()
        return dialog

    def remove_selected(self) -> None:
        selected = self.selected_items()
        if not selected:
            return
        if self.settings.get(CONFIRM_REMOVE):
            self.confirm_remove(selected)
        else:
            self.remove(selected)

    def confirm_remove(self, selected: Sequence[engine.Container]) -> QMessageBox:
        """Ask before removing; the box also offers to remove anonymous volumes."""
        running = [c for c in selected if c.state in ("running", "paused")]
        names = ", ".join(c.name for c in selected[:5]) + ("…" if len(selected) > 5 else "")
        text = f"Remove {counted(len(selected), 'container')}: {names}?"
        if running:
            text += (f"\n\n{len(running)} of them are running and will be stopped first."
                     if len(selected) > 1 else "\n\nIt is running and will be stopped first.")
        volumes = QCheckBox("Also remove anonymous volumes")
        volumes.setObjectName("remove-volumes")
        volumes.setToolTip("Volumes created for the container without a name (-v /path)."
                           " Named volumes and bind mounts are kept.")
        chosen = list(selected)
        return ask(self, "Remove containers", text, "Remove",
                   lambda: self.remove(chosen, volumes=volumes.isChecked()),
                   name="remove-confirm", checkbox=volumes)

    def open_selected_port(self) -> None:
        selected = self.selected_items()
        urls = browser_urls(selected[0]) if len(selected) == 1 else []
        if urls:
            self.open_url(urls[0])

    def export_selected(self) -> None:
        """The selected container's whole filesystem into a tar (``docker export``)."""
        selected = self.selected_items()
        if len(selected) != 1:
            return
        container = selected[0]
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export the filesystem of {container.name}",
            str(Path.home() / f"{container.name}.tar"),
            "Tar archive (*.tar);;Gzipped tar archive (*.tar.gz)")
        if path:
            self.export_requested.emit(container.id, container.name, Path(path))

    def copy_run_command(self) -> None:
        """The ``docker run`` line that recreates the selected container, to the clipboard."""
        selected = self.selected_items()
        if len(selected) != 1:
            return
        name = selected[0].name

        def copied(command: str) -> None:
            QGuiApplication.clipboard().setText(command)
            self.session.message.emit(
                MessageLevel.INFO, f"Copied the docker run command that recreates {name}")

        self.session.run(engine.container_run_command, selected[0].id,
                         describe=f"read the settings of {name}", on_done=copied)

    def open_url(self, url: str) -> None:
        if not QDesktopServices.openUrl(QUrl(url)):
            self.session.message.emit(MessageLevel.WARNING, f"Could not open {url} in a browser")
