"""The window: a sidebar of pages, a message area and a status bar — nothing else.

Pages own their models and actions; the session owns the engine.  This class
only wires them together and switches between the pages and the "no engine" page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QSize, Qt, SignalInstance
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

import engine
from app.engine_switch import EngineSwitch
from app.helper_sweep import HelperSweeper
from app.icons import PAGE_ICONS, decorate, themed_icon
from app.notifications import DesktopNotifications, Notifier
from app.page_table import PAGES
from app.pages.containers import ContainersPage
from app.pages.images import ImagesPage
from app.pages.table_page import TablePage
from app.pages.unavailable import UnavailablePage
from app.presentation import counted, window_title
from app.session import ConnectionState, ConnectionStatus, EngineSession, MessageLevel
from app.settings import NOTIFY_FAILURES, THEME, THEMES, Settings
from app.theme import apply_theme
from app.transfers import connect_transfers
from app.widgets.activity import Activity, ActivityPanel
from app.widgets.ask import ask
from app.widgets.command_palette import CommandPalette
from app.widgets.drop_overlay import DropBuild
from app.widgets.engine_switcher import EngineSwitcher
from app.widgets.message_bar import MessageBar

if TYPE_CHECKING:
    from app.pages.apps import AppsPage
    from app.pages.registries import PullChoice, RegistriesPage
    from app.widgets.build_sheet import BuildRequest, BuildSheet
    from app.widgets.compose_sheet import ComposeSheet
    from app.widgets.settings_dialog import SettingsDialog

P = TypeVar("P", bound=QWidget)

#: The first window's size: fits a 1366x768 screen, and the Containers page fits it
#: without scrolling sideways (tests/app/test_window.py).
DEFAULT_SIZE = QSize(1100, 680)


class MainWindow(QMainWindow):
    def __init__(
        self, session: EngineSession, settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("main-window")
        self.setWindowTitle("Dockyard")
        self.session = session
        self.settings = settings if settings is not None else Settings(parent=self)
        self.unavailable_page = UnavailablePage()
        self.unavailable_page.retry.clicked.connect(session.retry_now)

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAccessibleName("Pages")
        self.sidebar.setFixedWidth(170)
        self.sidebar.setStyleSheet(
            "QListWidget#sidebar { border: none; padding-top: 8px; font-size: 11pt; }"
            "QListWidget#sidebar::item { padding: 8px 14px; border-radius: 4px; margin: 1px 6px; }"
            "QListWidget#sidebar::item:selected { background: palette(highlight);"
            " color: palette(highlighted-text); }"
        )
        self.sidebar.setIconSize(QSize(18, 18))
        self.pages = QStackedWidget()
        self.pages.setObjectName("pages")
        #: Each page once built; until then a blank stands in its place (page_at builds).
        self._built: list[QWidget | None] = []
        for spec in PAGES:
            item = QListWidgetItem(spec.title, self.sidebar)
            if spec.icon:
                item.setIcon(QIcon.fromTheme(spec.icon))
            elif spec.key in PAGE_ICONS:
                item.setIcon(themed_icon(PAGE_ICONS[spec.key]))
            self._built.append(None)
            self.pages.addWidget(QWidget())
        # Pull, build and "show the new container" need these two from the start.
        self.containers_page = self.page(ContainersPage)
        self.images_page = self.page(ImagesPage)
        self.sidebar.currentRowChanged.connect(self._show_page)

        self.banner = MessageBar("connection-banner")
        self.messages = MessageBar("message-bar")
        session.message.connect(self.messages.show_message)

        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(self.sidebar)
        column = QVBoxLayout()
        column.setContentsMargins(8, 8, 8, 0)
        column.addWidget(self.banner)
        column.addWidget(self.pages, 1)
        # Over the page's bottom edge, not in the layout: a message that comes and goes
        # must not move what the user is about to click, nor resize open shells.
        self.messages.float_over(self.pages)
        self.activity = ActivityPanel()
        column.addWidget(self.activity)
        # A long pull or build that ends, or a container that fails, while the window is
        # in the background says so through the desktop's notifications.
        self.notifier = Notifier(self, desktop=DesktopNotifications())
        self.activity.added.connect(self.notifier.watch)
        self.notifier.watch_containers(session.eventReceived,
                                       lambda: self.settings.get(NOTIFY_FAILURES))
        body.addLayout(column, 1)
        workspace = QWidget()
        workspace.setLayout(body)
        # The "no engine" page covers the whole window until a first connection.
        self.root = QStackedWidget()
        self.root.addWidget(workspace)
        self.root.addWidget(self.unavailable_page)
        self.setCentralWidget(self.root)

        self.engine_label = QLabel("Connecting…")
        self.engine_label.setObjectName("engine-status")
        self.engine_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.engine_label, 1)
        # Every engine of this user, one pick away: in the status bar (seen on every page,
        # and on the "no engine" page too) and on the Engine page.
        self.engine_switch = EngineSwitch(
            session, self.settings, self.activity,
            self.page(ContainersPage).detail.open_shell_count, self)
        self.engine_switcher = EngineSwitcher("engine-switcher")
        self.statusBar().addPermanentWidget(self.engine_switcher)
        self.engine_switch.bind(self.engine_switcher)
        self.engine_switch.show_item = self.show_item

        self.palette_dialog = CommandPalette(self)
        self._quit_question: QMessageBox | None = None
        self._quit_confirmed = False
        self.drop = DropBuild(self)
        self.drop.dropped.connect(self.open_dropped)
        self.images_page.pull_requested.connect(self.pull)
        self.images_page.build_requested.connect(self.choose_build)
        self.images_page.container_started.connect(self.show_container)
        connect_transfers(session, self.activity, self.images_page, self.containers_page,
                          self.drop)
        self.window_actions = self._make_actions()
        self.settings.changed.connect(self._on_setting_changed)

        session.statusChanged.connect(self.show_status)
        session.switched.connect(self._engine_switched)
        #: Removes volume helpers a crashed run left behind, on each connection.
        self.helper_sweeper = HelperSweeper(session, self)
        self.sidebar.setCurrentRow(0)
        self.show_status(session.status)
        decorate(self)  # every page's buttons get their icons (app/icons.py)
        self.resize(DEFAULT_SIZE)
        self.restore_state()

    # -- actions ----------------------------------------------------------------------

    def _action(self, text: str, name: str, shortcut: QKeySequence | QKeySequence.StandardKey | str,
                slot: Callable[[], object]) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"action-{name}")
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> list[QAction]:
        actions = [
            self._action("Refresh", "refresh", QKeySequence.StandardKey.Refresh,
                         self.session.refresh),
            self._action("Find", "find", QKeySequence.StandardKey.Find, self.focus_search),
            self._action("Command palette", "palette", "Ctrl+K", self.open_palette),
            self._action("Settings…", "settings", "Ctrl+,", self.open_settings),
            self._action("Build an image…", "build", "Ctrl+B", self.choose_build),
            self._action("Open a Compose file…", "open-compose", "Ctrl+O",
                         self.choose_compose),
            self._action("Pull an image…", "pull", "Ctrl+P", self.focus_pull),
            self._action("Quit", "quit", QKeySequence.StandardKey.Quit, self.close),
        ]
        for theme in THEMES:
            actions.append(self._action(f"Theme: {theme.capitalize()}", f"theme-{theme}", "",
                                        partial(self.settings.set, THEME, theme)))
        for row, spec in enumerate(PAGES):
            actions.append(self._action(f"Go to {spec.title}", f"page-{row + 1}", spec.shortcut,
                                        partial(self.sidebar.setCurrentRow, row)))
        return actions

    def page(self, kind: type[P]) -> P:
        """The page of this class (built now if it was not yet)."""
        for row, spec in enumerate(PAGES):
            if spec.class_name == kind.__name__:
                page = self.page_at(row)
                if isinstance(page, kind):
                    return page
        raise LookupError(kind.__name__)

    def page_at(self, row: int) -> QWidget:
        """The page of the sidebar's ``row``, built (and its saved layout restored) the
        first time it is asked for."""
        if (page := self._built[row]) is not None:
            return page
        spec = PAGES[row]
        page = self._built[row] = spec.factory(self.session, self.settings)
        blank = self.pages.widget(row)
        current = self.pages.currentIndex()
        self.pages.insertWidget(row, page)
        if blank is not None:
            self.pages.removeWidget(blank)
            blank.deleteLater()
        self.pages.setCurrentIndex(current)
        # A page that links to others (Disk usage) asks by page key and item key.
        if isinstance(link := getattr(page, "open_requested", None), SignalInstance):
            link.connect(self.open_item)
        if isinstance(pull := getattr(page, "pull_requested", None), SignalInstance) \
                and spec.class_name != "ImagesPage":
            # the Registries page pulls through the window's activity panel, with the
            # platform and login chosen there
            pull.connect(self.pull_choice)
        # The Engine page has a switcher of its own, bound once the page is built.
        if isinstance(switcher := getattr(page, "switcher", None), EngineSwitcher):
            self.engine_switch.bind(switcher)
        # The Apps page's Compose commands and Open… run through the window's activity panel.
        if isinstance(compose := getattr(page, "compose_requested", None), SignalInstance):
            compose.connect(self.compose)
        if isinstance(choose := getattr(page, "open_file_requested", None), SignalInstance):
            choose.connect(self.choose_compose)
        decorate(page)
        self._restore_page_state(spec.key, page)
        return page

    @property
    def apps_page(self) -> AppsPage:
        from app.pages.apps import AppsPage

        return self.page(AppsPage)

    @property
    def registries_page(self) -> RegistriesPage:
        from app.pages.registries import RegistriesPage

        return self.page(RegistriesPage)

    @property
    def page_widgets(self) -> list[QWidget]:
        """Every page, built (for whoever walks them all: screenshots, tests)."""
        return [self.page_at(row) for row in range(len(PAGES))]

    def _show_page(self, row: int) -> None:
        if 0 <= row < len(PAGES):
            self.page_at(row)
            self.pages.setCurrentIndex(row)

    def open_item(self, page_key: str, item_key: str = "") -> bool:
        """Show the page ``page_key`` of the page table and select ``item_key`` there.

        A page this version does not have, or an item no longer listed, is said in
        one message; nothing else happens.
        """
        row = next((i for i, spec in enumerate(PAGES) if spec.key == page_key), None)
        if row is None:
            self.messages.show_message(
                MessageLevel.INFO, f"There is no {page_key.capitalize()} page in this version.")
            return False
        self.sidebar.setCurrentRow(row)
        page = self.page_at(row)
        if not item_key or not isinstance(page, TablePage):
            return True
        if not page.select_key(item_key):
            self.messages.show_message(
                MessageLevel.INFO, f"{item_key[:24]} is not on the {PAGES[row].title} page"
                " (any more).")
            return False
        return True

    def show_item(self, page_key: str, item_key: str) -> None:
        """Show a container or an image selected as soon as the live list has it (the
        "All engines" window's Open, right after a switch the lists are still empty)."""
        if page_key == "containers":
            self.show_container(item_key)
        elif page_key == "images":
            self.sidebar.setCurrentRow(self.pages.indexOf(self.images_page))
            self.images_page.select_row_when_listed(item_key)
        else:
            self.open_item(page_key, item_key)

    def show_container(self, container_id: str) -> None:
        """A container was just started: show it on the Containers page, selected (as
        soon as the live list has it)."""
        self.sidebar.setCurrentRow(self.pages.indexOf(self.containers_page))
        self.containers_page.select_when_listed(container_id)

    def current_page(self) -> TablePage | None:
        page = self.pages.currentWidget()
        return page if isinstance(page, TablePage) else None

    def focus_search(self) -> None:
        page = self.current_page()
        if page is not None:
            page.search.setFocus()
            page.search.selectAll()

    def open_palette(self) -> CommandPalette:
        page = self.current_page()
        title = self.sidebar.currentItem().text() if self.sidebar.currentItem() else ""
        entries = [(title, a) for a in (page.palette_commands() if page else [])]
        entries += [("Dockyard", a) for a in self.window_actions
                    if a.objectName() != "action-palette"]  # it is open already
        self.palette_dialog.open_with(entries)
        return self.palette_dialog

    # -- pull and build -----------------------------------------------------------------

    def focus_pull(self) -> None:
        self.sidebar.setCurrentRow(self.pages.indexOf(self.images_page))
        self.images_page.pull_box.setFocus()

    def pull(self, reference: str) -> Activity | None:
        from app.operations import start_pull

        return start_pull(self.session, self.activity, reference,
                          on_done=self.images_page.select_reference)

    def pull_choice(self, choice: PullChoice | str) -> Activity | None:
        """A pull from a page other than Images: a reference, or the Registries page's
        :class:`PullChoice` (a platform, a login typed there)."""
        if isinstance(choice, str):
            return self.pull(choice)
        from app.operations import start_pull

        return start_pull(self.session, self.activity, choice.reference,
                          on_done=self.images_page.select_reference, auth=choice.auth,
                          platform=choice.platform)

    def choose_build(self) -> None:
        from app.widgets.build_sheet import choose_build_source

        if (path := choose_build_source(self, self.settings)) is not None:
            self.open_build(path)

    def open_dropped(self, path: Path) -> QWidget | None:
        """A Compose file (or a folder holding one) opens as an app; anything else builds."""
        if engine.compose_file_in(path) is not None:
            return self.open_compose(path)
        return self.open_build(path)

    # -- Compose apps -------------------------------------------------------------------

    def choose_compose(self) -> None:
        from app.compose_ops import choose_compose_file

        if (path := choose_compose_file(self, self.settings)) is not None:
            self.open_compose(path)

    def open_compose(self, path: Path) -> ComposeSheet | None:
        from app.compose_ops import open_compose_file

        return open_compose_file(self, self.session, self.activity, path,
                                 on_up=self._show_app)

    def compose(self, verb: str, target: engine.ComposeTarget) -> Activity:
        from app.compose_ops import start_compose

        return start_compose(self.session, self.activity, verb, target)

    def _show_app(self, name: str) -> None:
        page = self.apps_page
        self.sidebar.setCurrentRow(self.pages.indexOf(page))
        page.select_when_listed(name)

    def open_build(self, path: Path) -> BuildSheet:
        from app.widgets.build_sheet import BuildSheet

        sheet = BuildSheet(path, self)
        sheet.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        sheet.accepted.connect(lambda: self.build(sheet.request()))
        sheet.open()
        return sheet

    def build(self, request: BuildRequest) -> Activity:
        from app.operations import start_build

        self.sidebar.setCurrentRow(self.pages.indexOf(self.images_page))
        return start_build(self.session, self.activity, request,
                           on_done=self.images_page.select_image)

    def open_settings(self) -> SettingsDialog:
        from app.widgets.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _on_setting_changed(self, key: str) -> None:
        app = QApplication.instance()
        if key == THEME.key and isinstance(app, QApplication):
            apply_theme(app, self.settings.get(THEME))

    # -- state ------------------------------------------------------------------------

    @staticmethod
    def _layouts(key: str, page: QWidget) -> dict[str, QSplitter | QHeaderView]:
        """A page's splitter and column layout by saved name; columns keyed by their
        count too: a layout saved before a version added columns would put them in odd
        places (Qt restores it blindly)."""
        layouts: dict[str, QSplitter | QHeaderView] = {}
        if (splitter := page.findChild(QSplitter, f"{key}-splitter")) is not None:
            layouts[f"{key}-splitter"] = splitter
        if isinstance(page, TablePage):
            header = page.table.horizontalHeader()
            layouts[f"{key}-columns-{header.count()}"] = header
        return layouts

    def _restore_page_state(self, key: str, page: QWidget) -> None:
        for name, widget in self._layouts(key, page).items():
            if (state := self.settings.state(name)) is not None:
                widget.restoreState(state)

    def restore_state(self) -> None:
        if (geometry := self.settings.state("geometry")) is not None:
            self.restoreGeometry(geometry)
        for spec, built in zip(PAGES, self._built, strict=True):
            if built is not None:
                self._restore_page_state(spec.key, built)
        row = self.settings.number("page", 0)
        if 0 <= row < self.sidebar.count():
            self.sidebar.setCurrentRow(row)

    def save_state(self) -> None:
        self.settings.set_state("geometry", self.saveGeometry())
        for spec, page in zip(PAGES, self._built, strict=True):
            if page is not None:  # a page never built keeps the layout saved before
                for name, widget in self._layouts(spec.key, page).items():
                    self.settings.set_state(name, widget.saveState())
        self.settings.set_number("page", self.sidebar.currentRow())
        self.settings.sync()

    def unfinished_work(self) -> list[str]:
        """What quitting would end: open shells, the activity panel's running pulls,
        builds, pushes, saves and Compose runs, and file transfers in their own dialogs
        (a volume's back-up, restore or clone)."""
        shells = self.containers_page.detail.open_shell_count()
        work = [counted(shells, "open shell")] if shells else []
        work += [a.accessibleName() for a in self.activity.activities() if not a.done]
        work += [dialog.windowTitle() for dialog in self.findChildren(QDialog)
                 if dialog.isVisible() and getattr(dialog, "running", False) is True]
        return work

    def closeEvent(self, event: QCloseEvent) -> None:
        """Quitting ends whatever still runs: ask first (non-modal: the close is ignored
        and repeated when the user says Quit)."""
        work = [] if self._quit_confirmed else self.unfinished_work()
        if work:
            event.ignore()
            if self._quit_question is None:
                self._quit_question = ask(
                    self, "Quit Dockyard",
                    f"Still running: {'; '.join(work)}. Quitting ends it: Quit anyway?",
                    "Quit", self._quit_anyway, name="quit-confirm",
                    icon=QMessageBox.Icon.Warning)
                self._quit_question.finished.connect(self._quit_question_closed)
            return
        self.save_state()
        if (view := self.engine_switch.all_view) is not None:
            view.close()  # a window of its own: it would keep the application running
        super().closeEvent(event)

    def _quit_question_closed(self, _result: int) -> None:
        self._quit_question = None

    def _quit_anyway(self) -> None:
        self._quit_confirmed = True
        self.close()

    def _engine_switched(self, _endpoint: object) -> None:
        """Another engine: no row of the old one stays selected (its detail would say
        "removed" when the lists empty)."""
        for page in self._built:  # a page not built yet has nothing selected
            if isinstance(page, TablePage):
                page.table.clearSelection()

    def show_status(self, status: ConnectionStatus) -> None:
        state = status.state
        if state == ConnectionState.CONNECTED:
            self.setWindowTitle(window_title(status.product, status.version,
                                             status.context or status.endpoint))
        elif state == ConnectionState.LOST:
            self.setWindowTitle(window_title(where=status.endpoint, reconnecting=True))
        else:
            self.setWindowTitle(window_title())
        if state == ConnectionState.CONNECTED:
            self.engine_label.setText(
                f"Connected to {status.description} at {status.endpoint} ({status.source})"
            )
            self.banner.hide()
            self.pages.setEnabled(True)
            self.root.setCurrentIndex(0)
        elif state == ConnectionState.SWITCHING:
            # The old engine's lists are emptied; the new one's fill them in a moment.
            self.pages.setEnabled(False)
            self.engine_label.setText(f"Switching to {status.context or status.endpoint}…")
            self.banner.hide()
            self.root.setCurrentIndex(0)
        elif state == ConnectionState.LOST:
            # The lists stay visible but inert: they show the last known state.
            self.pages.setEnabled(False)
            self.engine_label.setText(f"Disconnected from {status.endpoint}")
            self.banner.show_message(
                MessageLevel.WARNING,
                f"Lost the connection to the engine at {status.endpoint}. Reconnecting…"
                f" (last error: {status.error})",
            )
        else:
            self.engine_label.setText(
                "Looking for an engine…" if state == ConnectionState.CONNECTING else "No engine"
            )
            self.unavailable_page.show_status(status)
            self.root.setCurrentWidget(self.unavailable_page)

