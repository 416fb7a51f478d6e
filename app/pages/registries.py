"""The Registries page: browse any registry that speaks the distribution API.

Type a registry (``127.0.0.1:5000``, ``registry.example``; ``host/repository``
opens that repository at once) and Browse: its catalog fills the list on the
left; choosing a repository lists its tags on the right, first by name, then
with each tag's digest, size, platforms and created time as its manifests
arrive.  Only the tags in view (and the chosen one) are read, a few at a time,
each row as it arrives: Docker Hub counts every manifest GET as a pull, and a
repository may have thousands of tags.  A tag that cannot be read says why in
its own row.  Pull fetches the chosen tag through the engine with the usual
progress, for the chosen platform of a multi-platform tag, with the login typed
on this page if there is one.

Search asks the engine (``/images/search``: Docker Hub for Docker, the
registries configured for Podman) and lists name, stars, official and
description; a result is pulled or browsed from there.

The requests go directly to the registry (:func:`engine.open_registry`), with
the engine's insecure-registry rule and the docker CLI's saved login; a
failure (unreachable, login refused) is shown on the page in one line and in the
message area.  Work for a registry or repository the user has left is
cancelled (keyed tasks), so a slow registry never overwrites a newer choice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.table import Column, ItemRole, KeyedTableModel
from app.pages.table_page import FilterProxy
from app.presentation import BadTarget, Target, human_size, parse_target, relative_time
from app.session import EngineSession, MessageLevel
from app.widgets.login_dialog import LoginDialog


@dataclass(frozen=True)
class Repository:
    name: str


#: Tags whose manifests are read at once: a page of rows arrives quickly without
#: flooding the registry (Docker Hub limits pulls, and counts manifest GETs).
DETAIL_CONCURRENCY = 4


@dataclass(frozen=True)
class TagRow:
    """A tag, before (``info`` None) and after its manifest was read, or why it was not."""

    tag: str
    info: engine.TagInfo | None = None
    error: str = ""


@dataclass(frozen=True)
class PullChoice:
    """What Pull asks the window to pull: the reference, a platform of a multi-platform
    tag ("" for the engine's own), and the login typed on this page, as X-Registry-Auth
    (None: the docker CLI's saved login, as any pull)."""

    reference: str
    platform: str = ""
    auth: str | None = None


def _platforms_tooltip(info: engine.TagInfo) -> str:
    """Each platform's own image of a multi-platform tag: digest and size."""
    if not info.is_index:
        return ""
    return "\n".join(f"{i.platform or '?'}: {i.digest.split(':', 1)[-1][:12]},"
                     f" {human_size(i.size)}" for i in info.images)


def _info_text(row: TagRow, text: str) -> str:
    if row.error:
        return "-"
    return text if row.info is not None else "…"


def _digest_text(row: TagRow) -> str:
    if row.error:
        return f"Could not read: {row.error}"
    return _info_text(row, row.info.digest.split(":", 1)[-1][:12] if row.info else "")


TAG_COLUMNS = (
    Column("Tag", lambda r: r.tag),
    Column("Digest", _digest_text,
           tooltip=lambda r: r.error or (r.info.digest if r.info else "")),
    Column("Size", lambda r: _info_text(r, human_size(r.info.size) if r.info else ""),
           sort_key=lambda r: r.info.size if r.info else -1, align_right=True),
    Column("Platforms", lambda r: _info_text(r, ", ".join(r.info.platforms) or "-"
                                             if r.info else ""),
           tooltip=lambda r: _platforms_tooltip(r.info) if r.info else ""),
    Column("Created", lambda r: _info_text(r, relative_time(r.info.created) if r.info else ""),
           sort_key=lambda r: r.info.created.timestamp() if r.info and r.info.created
           else 0.0, tooltip=lambda r: r.info.created.isoformat()
           if r.info and r.info.created else "", ticks=True),
)
REPOSITORY_COLUMNS = (Column("Repository", lambda r: r.name),)
SEARCH_COLUMNS = (
    Column("Name", lambda r: r.name),
    Column("Stars", lambda r: str(r.stars), sort_key=lambda r: r.stars, align_right=True),
    Column("Official", lambda r: "Official" if r.official else "",
           tooltip=lambda r: "A Docker Official Image" if r.official else ""),
    Column("Description", lambda r: r.description, tooltip=lambda r: r.description),
)


def browse_address(name: str) -> str:
    """Where a search result's tags are: Podman names carry their registry
    (``quay.io/team/app``), Docker Hub's do not (``team/app``, ``busybox``)."""
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return name
    return f"docker.io/{name}"


def _table(parent: QWidget, name: str, label: str, model: KeyedTableModel) -> QTableView:
    proxy = FilterProxy(parent)
    proxy.setSourceModel(model)
    table = QTableView(parent)
    table.setObjectName(name)
    table.setAccessibleName(label)
    table.setModel(proxy)
    table.setSortingEnabled(True)
    table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(26)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    return table


class RegistriesPage(QWidget):
    #: What to pull (:class:`PullChoice`); the window runs the pull.
    pull_requested = Signal(object)
    #: The registry answered (repositories listed, or the tags in view read; "search"
    #: once search results are shown): for tests and screenshots.
    loaded = Signal(str)

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("registries-page")
        self.setAccessibleName("Registries page")
        self.registry = ""  # the registry being browsed
        #: Logins typed on this page and not saved: kept in memory for this window only.
        self._logins: dict[str, engine.Credentials] = {}
        self.login_dialog: LoginDialog | None = None
        #: Tags of the chosen repository whose manifests were asked for, and the queue
        #: feeding the task that reads them (None: no such task runs).
        self._asked: set[str] = set()
        self._in_flight: set[str] = set()
        self._details: asyncio.Queue[str] | None = None

        self.address = QLineEdit(self)
        self.address.setObjectName("registry-address")
        self.address.setAccessibleName("Registry address")
        self.address.setPlaceholderText("Registry, e.g. 127.0.0.1:5000 or"
                                        " registry.example/team/app")
        self.address.setClearButtonEnabled(True)
        self.address.returnPressed.connect(self.browse)
        self.browse_button = QPushButton("Browse", self)
        self.browse_button.setObjectName("registry-browse")
        self.browse_button.setAccessibleName("Browse the registry")
        self.browse_button.clicked.connect(self.browse)
        self.search_box = QLineEdit(self)
        self.search_box.setObjectName("registry-search")
        self.search_box.setAccessibleName("Search for images")
        self.search_box.setPlaceholderText("Search images (Docker Hub, or Podman's registries)")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.returnPressed.connect(self.search)
        self.search_button = QPushButton("Search", self)
        self.search_button.setObjectName("registry-search-button")
        self.search_button.setAccessibleName("Search through the engine")
        self.search_button.clicked.connect(self.search)
        top = QHBoxLayout()
        top.addWidget(self.address, 3)
        top.addWidget(self.browse_button)
        top.addSpacing(12)
        top.addWidget(self.search_box, 2)
        top.addWidget(self.search_button)

        self.repositories = KeyedTableModel(REPOSITORY_COLUMNS, key=lambda r: r.name, parent=self)
        self.repository_table = _table(self, "registry-repositories", "Repositories",
                                       self.repositories)
        self.tags = KeyedTableModel(TAG_COLUMNS, key=lambda r: r.tag, parent=self)
        self.tags_table = _table(self, "registry-tags", "Tags", self.tags)
        self.tags_table.setColumnWidth(0, 140)
        self.tags_table.setColumnWidth(1, 120)
        self.tags_table.setColumnWidth(2, 90)
        self.tags_table.setColumnWidth(3, 220)
        self.repository_table.selectionModel().selectionChanged.connect(self._repository_chosen)
        self.tags_table.selectionModel().selectionChanged.connect(self._tag_chosen)
        self.tags_table.doubleClicked.connect(lambda _index: self.pull_selected())
        # Rows coming into view (scrolling, resizing, sorting) get their manifests read.
        self.tags_table.verticalScrollBar().valueChanged.connect(self._read_visible)
        self.tags_table.model().layoutChanged.connect(self._read_visible)
        self.tags_table.viewport().installEventFilter(self)

        self.results = KeyedTableModel(SEARCH_COLUMNS, key=lambda r: r.name, parent=self)
        self.results_table = _table(self, "registry-search-results", "Search results",
                                    self.results)
        self.results_table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.results_table.setColumnWidth(0, 240)
        self.results_table.setColumnWidth(1, 70)
        self.results_table.setColumnWidth(2, 70)
        self.results_table.selectionModel().selectionChanged.connect(self._update_actions)
        self.results_table.doubleClicked.connect(lambda _index: self.browse_result())

        self.platform = QComboBox(self)
        self.platform.setObjectName("registry-platform")
        self.platform.setAccessibleName("Platform to pull")
        self.platform.setToolTip("The platform of a multi-platform tag to pull")
        self.platform.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.pull_button = QPushButton("Pull", self)
        self.pull_button.setObjectName("registry-pull")
        self.pull_button.setAccessibleName("Pull the chosen tag")
        self.pull_button.clicked.connect(self.pull_selected)
        self.tags_button = QPushButton("Browse tags", self)
        self.tags_button.setObjectName("registry-result-tags")
        self.tags_button.setAccessibleName("Browse the tags of the chosen search result")
        self.tags_button.clicked.connect(self.browse_result)
        self.status = QLabel("Type a registry's address and press Browse.", self)
        self.status.setObjectName("registry-status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.login_button = QPushButton("Log in…", self)
        self.login_button.setObjectName("registry-login")
        self.login_button.setAccessibleName("Log in to the registry")
        self.login_button.clicked.connect(self.log_in)
        self.login_button.hide()
        self.logout_button = QPushButton("Log out", self)
        self.logout_button.setObjectName("registry-logout")
        self.logout_button.setAccessibleName("Remove the saved login for this registry")
        self.logout_button.setToolTip("Remove the login saved for this registry, as docker"
                                      " logout does")
        self.logout_button.clicked.connect(self.log_out)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.login_button)
        bottom.addWidget(self.logout_button)
        bottom.addWidget(self.tags_button)
        bottom.addWidget(self.platform)
        bottom.addWidget(self.pull_button)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setObjectName("registries-splitter")
        splitter.addWidget(self.repository_table)
        splitter.addWidget(self.tags_table)
        splitter.setSizes([260, 700])
        self.views = QStackedWidget(self)
        self.views.setObjectName("registries-views")
        self.views.addWidget(splitter)
        self.views.addWidget(self.results_table)
        self.views.currentChanged.connect(self._update_actions)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.views, 1)
        layout.addLayout(bottom)
        self._update_actions()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.tags_table.viewport() and event.type() in (
                QEvent.Type.Resize, QEvent.Type.Show):
            self._read_visible()
        return super().eventFilter(watched, event)

    @property
    def searching(self) -> bool:
        """Search results are shown (not the registry being browsed)."""
        return self.views.currentIndex() == 1

    # -- browsing -------------------------------------------------------------------------

    def browse(self) -> None:
        """List the typed registry's repositories (and open a typed repository)."""
        try:
            target = parse_target(self.address.text())
        except BadTarget as exc:
            self._say(str(exc)[:1].upper() + str(exc)[1:] + ".")
            return
        self.views.setCurrentIndex(0)
        self.registry = target.registry
        self.login_button.hide()
        self.repositories.set_items([])
        self._forget_tags()
        self.session.cancel("registry-tags")
        self._say(f"Reading the catalog of {target.registry}…")
        self._started(self.session.run(
            self._read_repositories, target.registry, describe=f"browse {target.registry}",
            key="registry-catalog",
            on_done=lambda names: self._show_repositories(target, names)))

    async def _open(self, client: engine.Engine, registry: str) -> engine.RegistryClient:
        """The registry with a login typed here, else the one the docker CLI would use."""
        login: Any = self._logins.get(registry, engine.SAVED_LOGIN)
        return await engine.open_registry(registry, client, credentials=login)

    async def _read_repositories(self, client: engine.Engine, registry: str
                                 ) -> list[str] | engine.EngineError:
        """The catalog, or why it could not be read (shown on the page, not raised):
        any engine error, not only a registry's, or the page would wait forever."""
        try:
            async with await self._open(client, registry) as browser:
                return await browser.repositories()
        except engine.EngineError as exc:
            return exc

    def _show_repositories(self, target: Target,
                           names: list[str] | engine.EngineError) -> None:
        if isinstance(names, engine.EngineError):
            self._failed(f"browse {target.registry}", names)
            if target.repository:  # a catalog may be closed while its repositories are not
                self._open_repository(target.repository)
            return
        self.repositories.set_items([Repository(n) for n in names])
        self._say(f"{len(names)} repositor{'y' if len(names) == 1 else 'ies'} in"
                  f" {target.registry}.")
        self.loaded.emit(target.registry)
        if target.repository:
            self._open_repository(target.repository)

    def _open_repository(self, name: str) -> None:
        row = self.repositories.row_of(name)
        if row is None:
            self.repositories.set_items([*self.repositories.items(), Repository(name)])
            row = self.repositories.row_of(name)
        assert row is not None
        proxy = self.repository_table.model()
        assert isinstance(proxy, FilterProxy)
        self.repository_table.selectRow(proxy.mapFromSource(self.repositories.index(row, 0))
                                        .row())

    def _forget_tags(self) -> None:
        """Drop the shown tags and stop reading their manifests."""
        self.session.cancel("registry-tag-infos")
        self._details = None
        self._asked.clear()
        self._in_flight.clear()
        self.tags.set_items([])

    def _repository_chosen(self, *_args: object) -> None:
        repository = self.chosen_repository()
        self._forget_tags()
        self._update_actions()
        if repository is None:
            return
        self._say(f"Reading the tags of {repository}…")
        self._started(self.session.run(
            self._read_tags, self.registry, repository,
            describe=f"list the tags of {repository}", key="registry-tags",
            on_done=lambda tags: self._show_tags(repository, tags)))

    async def _read_tags(self, client: engine.Engine, registry: str, repository: str
                         ) -> list[str] | engine.EngineError:
        try:
            async with await self._open(client, registry) as browser:
                return await browser.tags(repository)
        except engine.EngineError as exc:
            return exc

    def _show_tags(self, repository: str, tags: list[str] | engine.EngineError) -> None:
        if repository != self.chosen_repository():
            return
        if isinstance(tags, engine.EngineError):
            self._failed(f"list the tags of {repository}", tags)
            return
        self.tags.set_items([TagRow(t) for t in tags])
        self._say(f"{len(tags)} tag{'' if len(tags) == 1 else 's'} in {repository};"
                  " reading the manifests of those in view…")
        if not tags:
            self._say(f"No tags in {repository}.")
            self.loaded.emit(f"{self.registry}/{repository}")
        self._read_visible()

    # -- tag details: only those in view or chosen, each row as it arrives ------------------

    def visible_tags(self) -> list[str]:
        """The tags whose rows are in view, top to bottom, and the chosen one."""
        view = self.tags_table
        proxy = view.model()
        rows = proxy.rowCount()
        if not rows:
            return []
        first = max(view.rowAt(0), 0)
        last = view.rowAt(view.viewport().height() - 1)
        last = rows - 1 if last < 0 else last
        tags = [proxy.index(r, 0).data(ItemRole).tag for r in range(first, last + 1)]
        chosen = self.chosen_tag()
        if chosen is not None and chosen.tag not in tags:
            tags.append(chosen.tag)
        return tags

    def _read_visible(self, *_args: object) -> None:
        repository = self.chosen_repository()
        if repository is None:
            return
        wanted = [t for t in self.visible_tags() if t not in self._asked]
        if not wanted:
            return
        if self._details is None:
            queue: asyncio.Queue[str] = asyncio.Queue()
            if self.session.run(self._read_details, self.registry, repository, queue,
                                describe=f"read the tags of {repository}",
                                key="registry-tag-infos") is None:
                return  # not connected: the session said so; asked again when in view
            self._details = queue
        for tag in wanted:
            self._asked.add(tag)
            self._in_flight.add(tag)
            self._details.put_nowait(tag)

    async def _read_details(self, client: engine.Engine, registry: str, repository: str,
                            queue: asyncio.Queue[str]) -> None:
        """Read the tags put on ``queue``, a few at a time, with one registry client
        (one token) for the repository; until the user leaves it (cancelled)."""
        try:
            browser = await self._open(client, registry)
        except engine.EngineError as exc:
            if queue is self._details:
                self._details = None
                for tag in list(self._in_flight):
                    self._detail_failed(repository, tag, exc)
            return
        gate = asyncio.Semaphore(DETAIL_CONCURRENCY)
        async with browser, asyncio.TaskGroup() as group:
            while True:
                tag = await queue.get()
                await gate.acquire()
                group.create_task(self._read_detail(browser, repository, tag, gate))

    async def _read_detail(self, browser: engine.RegistryClient, repository: str, tag: str,
                           gate: asyncio.Semaphore) -> None:
        try:
            info = await browser.tag_info(repository, tag)
        except engine.EngineError as exc:
            self._detail_failed(repository, tag, exc)
        else:
            self._detail_arrived(repository, TagRow(tag, info))
        finally:
            gate.release()

    def _detail_failed(self, repository: str, tag: str, error: engine.EngineError) -> None:
        reason = str(error)
        self._detail_arrived(repository, TagRow(tag, error=reason[:1].upper() + reason[1:]))

    def _detail_arrived(self, repository: str, row: TagRow) -> None:
        if repository != self.chosen_repository() or self.tags.row_of(row.tag) is None:
            return
        self.tags.set_items([row if r.tag == row.tag else r for r in self.tags.items()])
        self._in_flight.discard(row.tag)
        if row.tag == (self.chosen_tag() or row).tag:
            self._update_actions()
        if self._in_flight:
            return
        rows = self.tags.items()
        failed = sum(1 for r in rows if r.error)
        text = f"{len(rows)} tag{'' if len(rows) == 1 else 's'} in {repository}."
        if failed:
            text += f" {failed} could not be read (see the row)."
        self._say(text)
        self.loaded.emit(f"{self.registry}/{repository}")

    # -- search -----------------------------------------------------------------------------

    def search(self) -> None:
        """Search through the engine; results replace the registry view until Browse."""
        term = self.search_box.text().strip()
        if not term:
            self.search_box.setFocus()
            return
        self.views.setCurrentIndex(1)
        self.results.set_items([])
        self.login_button.hide()
        self._say(f"Searching for {term}…")
        self._started(self.session.run(
            _search, term, describe=f"search for {term}", key="registry-search",
            on_done=lambda found: self._show_results(term, found)))

    def _show_results(self, term: str, found: list[engine.SearchResult] | engine.EngineError
                      ) -> None:
        if isinstance(found, engine.EngineError):
            self._failed(f"search for {term}", found)
            return
        self.results.set_items(found)
        self._say(f"{len(found)} image{'' if len(found) == 1 else 's'} found for {term}."
                  if found else f"No image found for {term}.")
        self.loaded.emit("search")

    def chosen_result(self) -> engine.SearchResult | None:
        rows = self.results_table.selectionModel().selectedRows()
        return rows[0].data(ItemRole) if rows else None

    def browse_result(self) -> None:
        """The chosen result's repository, browsed as any other (its tags, their details)."""
        result = self.chosen_result()
        if result is not None:
            self.address.setText(browse_address(result.name))
            self.browse()

    # -- actions --------------------------------------------------------------------------

    def chosen_repository(self) -> str | None:
        rows = self.repository_table.selectionModel().selectedRows()
        return rows[0].data(ItemRole).name if rows else None

    def chosen_tag(self) -> TagRow | None:
        rows = self.tags_table.selectionModel().selectedRows()
        return rows[0].data(ItemRole) if rows else None

    def _tag_chosen(self, *_args: object) -> None:
        self._read_visible()  # the chosen tag's manifest, if it was not read yet
        self._update_actions()

    def pull_selected(self) -> None:
        if self.searching:
            result = self.chosen_result()
            if result is not None:
                self.pull_requested.emit(PullChoice(result.name))
            return
        repository, row = self.chosen_repository(), self.chosen_tag()
        if repository is None or row is None:
            return
        platform = self.platform.currentData() or ""
        login = self._logins.get(self.registry)
        auth = engine.login_auth(self.registry, login.username or "", login.password or "") \
            if login is not None else None
        self.pull_requested.emit(PullChoice(f"{self.registry}/{repository}:{row.tag}",
                                            platform, auth))

    def _update_actions(self, *_args: object) -> None:
        searching = self.searching
        self.tags_button.setVisible(searching)
        self.logout_button.setVisible(not searching)
        self.tags_button.setEnabled(self.chosen_result() is not None)
        if searching:
            self.pull_button.setEnabled(self.chosen_result() is not None)
            self.platform.hide()
            return
        row = self.chosen_tag()
        self.pull_button.setEnabled(row is not None)
        platforms = row.info.platforms if row is not None and row.info is not None else ()
        wanted = [("Engine's platform", ""), *((p, p) for p in platforms)]
        if [(self.platform.itemText(i), self.platform.itemData(i))
                for i in range(self.platform.count())] != wanted:
            self.platform.clear()
            for text, data in wanted:
                self.platform.addItem(text, data)
        self.platform.setVisible(len(platforms) > 1)

    def _say(self, text: str) -> None:
        self.status.setText(text)

    def _started(self, task: asyncio.Task[Any] | None) -> None:
        """No task (no engine connected): say so here too, not "Reading…" forever."""
        if task is None:
            self._say("Not connected to an engine.")

    def _failed(self, describe: str, error: engine.EngineError) -> None:
        """One line on the page, and the same in the message area, as other failures;
        a registry that wants a login offers "Log in…"."""
        reason = str(error)
        self._say(reason[:1].upper() + reason[1:] + ".")
        self.login_button.setVisible(isinstance(error, engine.RegistryUnauthorized))
        self.session.message.emit(MessageLevel.ERROR, f"Could not {describe}: {reason}")

    # -- logins ---------------------------------------------------------------------------

    def log_in(self) -> LoginDialog:
        """Ask for a login (non-modal); Browse again with it, and save it only if asked."""
        registry = self.registry
        try:  # config.json only: small, read at once (the helper runs when saving)
            where = str(engine.login_store(registry))
        except engine.EngineError:
            where = ""
        dialog = LoginDialog(registry, self.status.text(), self, save_where=where,
                             ok_text="Log in")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def accepted() -> None:
            username, password = dialog.username.text().strip(), dialog.password.text()
            self._logins[registry] = engine.Credentials(username=username, password=password)
            if dialog.save.isChecked():
                self.session.save_login(registry, username, password)
            self.login_button.hide()
            self.browse()

        dialog.accepted.connect(accepted)
        self.login_dialog = dialog
        dialog.open()
        return dialog

    def log_out(self) -> None:
        """Forget this registry's login: the one typed here, and the saved one (docker logout)."""
        registry = self.registry or self._typed_registry()
        if not registry:
            return
        self._logins.pop(registry, None)
        self.session.run(_remove_login, registry, describe=f"log out of {registry}",
                         on_done=lambda store: self.session.message.emit(
                             MessageLevel.INFO,
                             f"Removed the login for {registry} from {store}" if store
                             else f"No login for {registry} was saved"))

    def _typed_registry(self) -> str:
        try:
            return parse_target(self.address.text()).registry
        except BadTarget:
            return ""



async def _remove_login(_client: engine.Engine, registry: str) -> engine.LoginStore | None:
    return await asyncio.to_thread(engine.remove_login, registry)


async def _search(client: engine.Engine, term: str
                  ) -> list[engine.SearchResult] | engine.EngineError:
    """The engine's search, or why it failed (shown on the page, not only as a message)."""
    try:
        return await engine.search_images(client, term)
    except engine.EngineError as exc:
        return exc
