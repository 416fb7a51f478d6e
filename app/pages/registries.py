"""The Registries page: browse any registry that speaks the distribution API.

Type a registry (``127.0.0.1:5000``, ``registry.example``; ``host/repository``
opens that repository at once) and Browse: its catalog fills the list on the
left; choosing a repository lists its tags on the right, first by name, then
with each tag's digest, size, platforms and created time as their manifests
arrive.  Pull fetches the chosen tag through the engine with the usual progress.

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

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
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


@dataclass(frozen=True)
class TagRow:
    """A tag, before (``info`` None) and after its manifest was read."""

    tag: str
    info: engine.TagInfo | None = None


def _platforms_tooltip(info: engine.TagInfo) -> str:
    """Each platform's own image of a multi-platform tag: digest and size."""
    if not info.is_index:
        return ""
    return "\n".join(f"{i.platform or '?'}: {i.digest.split(':', 1)[-1][:12]},"
                     f" {human_size(i.size)}" for i in info.images)


def _info_text(row: TagRow, text: str) -> str:
    return text if row.info is not None else "…"


TAG_COLUMNS = (
    Column("Tag", lambda r: r.tag),
    Column("Digest", lambda r: _info_text(r, r.info.digest.split(":", 1)[-1][:12]
                                          if r.info else ""),
           tooltip=lambda r: r.info.digest if r.info else ""),
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
    #: A reference to pull ("127.0.0.1:5000/team/app:v1"); the window runs the pull.
    pull_requested = Signal(str)
    #: The registry answered (repositories listed, or tags read): for tests and screenshots.
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
        top = QHBoxLayout()
        top.addWidget(self.address, 1)
        top.addWidget(self.browse_button)

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
        self.tags_table.selectionModel().selectionChanged.connect(self._update_actions)
        self.tags_table.doubleClicked.connect(lambda _index: self.pull_selected())

        self.pull_button = QPushButton("Pull", self)
        self.pull_button.setObjectName("registry-pull")
        self.pull_button.setAccessibleName("Pull the chosen tag")
        self.pull_button.clicked.connect(self.pull_selected)
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
        bottom.addWidget(self.pull_button)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setObjectName("registries-splitter")
        splitter.addWidget(self.repository_table)
        splitter.addWidget(self.tags_table)
        splitter.setSizes([260, 700])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self._update_actions()

    # -- browsing -------------------------------------------------------------------------

    def browse(self) -> None:
        """List the typed registry's repositories (and open a typed repository)."""
        try:
            target = parse_target(self.address.text())
        except BadTarget as exc:
            self._say(str(exc)[:1].upper() + str(exc)[1:] + ".")
            return
        self.registry = target.registry
        self.login_button.hide()
        self.repositories.set_items([])
        self.tags.set_items([])
        self.session.cancel("registry-tags")
        self.session.cancel("registry-tag-infos")
        self._say(f"Reading the catalog of {target.registry}…")
        self.session.run(self._read_repositories, target.registry,
                         describe=f"browse {target.registry}", key="registry-catalog",
                         on_done=lambda names: self._show_repositories(target, names))

    async def _open(self, client: engine.Engine, registry: str) -> engine.RegistryClient:
        """The registry with a login typed here, else the one the docker CLI would use."""
        login: Any = self._logins.get(registry, engine.SAVED_LOGIN)
        return await engine.open_registry(registry, client, credentials=login)

    async def _read_repositories(self, client: engine.Engine, registry: str
                                 ) -> list[str] | engine.RegistryError:
        """The catalog, or why it could not be read (shown on the page, not raised)."""
        try:
            async with await self._open(client, registry) as browser:
                return await browser.repositories()
        except engine.RegistryError as exc:
            return exc

    def _show_repositories(self, target: Target,
                           names: list[str] | engine.RegistryError) -> None:
        if isinstance(names, engine.RegistryError):
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

    def _repository_chosen(self, *_args: object) -> None:
        repository = self.chosen_repository()
        self.tags.set_items([])
        self.session.cancel("registry-tag-infos")
        if repository is None:
            return
        self._say(f"Reading the tags of {repository}…")
        self.session.run(self._read_tags, self.registry, repository,
                         describe=f"list the tags of {repository}", key="registry-tags",
                         on_done=lambda tags: self._show_tags(repository, tags))

    async def _read_tags(self, client: engine.Engine, registry: str, repository: str
                         ) -> list[str] | engine.RegistryError:
        try:
            async with await self._open(client, registry) as browser:
                return await browser.tags(repository)
        except engine.RegistryError as exc:
            return exc

    def _show_tags(self, repository: str, tags: list[str] | engine.RegistryError) -> None:
        if repository != self.chosen_repository():
            return
        if isinstance(tags, engine.RegistryError):
            self._failed(f"list the tags of {repository}", tags)
            return
        self.tags.set_items([TagRow(t) for t in tags])
        self._say(f"{len(tags)} tag{'' if len(tags) == 1 else 's'} in {repository};"
                  " reading their manifests…")
        self.session.run(self._read_tag_infos, self.registry, repository, tags,
                         describe=f"read the tags of {repository}", key="registry-tag-infos",
                         on_done=lambda infos: self._show_tag_infos(repository, infos))

    async def _read_tag_infos(self, client: engine.Engine, registry: str, repository: str,
                              tags: list[str]) -> list[engine.TagInfo] | engine.RegistryError:
        try:
            async with await self._open(client, registry) as browser:
                return await browser.tag_infos(repository, tags)
        except engine.RegistryError as exc:
            return exc

    def _show_tag_infos(self, repository: str,
                        infos: list[engine.TagInfo] | engine.RegistryError) -> None:
        if repository != self.chosen_repository():
            return
        if isinstance(infos, engine.RegistryError):
            self._failed(f"read the tags of {repository}", infos)
            return
        self.tags.set_items([TagRow(i.tag, i) for i in infos])
        total = len(infos)
        self._say(f"{total} tag{'' if total == 1 else 's'} in {repository}.")
        self.loaded.emit(f"{self.registry}/{repository}")
        self._update_actions()

    # -- actions --------------------------------------------------------------------------

    def chosen_repository(self) -> str | None:
        rows = self.repository_table.selectionModel().selectedRows()
        return rows[0].data(ItemRole).name if rows else None

    def chosen_tag(self) -> TagRow | None:
        rows = self.tags_table.selectionModel().selectedRows()
        return rows[0].data(ItemRole) if rows else None

    def pull_selected(self) -> None:
        repository, row = self.chosen_repository(), self.chosen_tag()
        if repository is None or row is None:
            return
        self.pull_requested.emit(f"{self.registry}/{repository}:{row.tag}")

    def _update_actions(self, *_args: object) -> None:
        self.pull_button.setEnabled(self.chosen_tag() is not None)

    def _say(self, text: str) -> None:
        self.status.setText(text)

    def _failed(self, describe: str, error: engine.RegistryError) -> None:
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
                self.session.run(_save_login, registry, username, password,
                                 describe="save the login",
                                 on_done=lambda store: self.session.message.emit(
                                     MessageLevel.INFO, f"Saved the login in {store}"))
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


async def _save_login(_client: engine.Engine, registry: str, username: str,
                      password: str) -> engine.LoginStore:
    """A credential helper is a program that may take a while: off the GUI thread."""
    return await asyncio.to_thread(engine.save_login, registry, username, password)


async def _remove_login(_client: engine.Engine, registry: str) -> engine.LoginStore | None:
    return await asyncio.to_thread(engine.remove_login, registry)
