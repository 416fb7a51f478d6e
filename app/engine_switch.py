"""Switching engines in the window: which engines there are, and moving between them.

The engines are those ``dockyard doctor --all`` finds (every docker CLI context,
Podman's connections, the default sockets that answer) plus the ones the user
added, each probed in a worker thread with its own event loop, so a slow ssh
handshake never holds up the window.  Picking one opens it first: an engine
that does not answer shows its state and the window stays where it is.  A pull,
build or shell still running on the old engine is not ended silently: the user
is asked (non-modal) first.

The last engine chosen and the added ones are kept in the settings.  At the next
start the chosen one is used, unless ``--host``, ``DOCKER_HOST`` or
``DOCKER_CONTEXT`` names one: those win, as they do for the docker CLI.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

import engine
from app.presentation import counted
from app.session import ConnectionState, ConnectionStatus, EngineSession, MessageLevel
from app.settings import Settings
from app.widgets.activity import ActivityPanel
from app.widgets.ask import ask
from app.widgets.engine_switcher import (
    CONNECTING,
    LOOKING,
    REACHABLE,
    AddEngineDialog,
    EngineEntry,
    EngineSwitcher,
)

if TYPE_CHECKING:
    from app.all_engines import AllEnginesView

log = logging.getLogger(__name__)

CHOSEN_KEY = "engines/chosen"
ADDED_KEY = "engines/added"
#: How long each engine may take to answer a probe, or the open before a switch.
PROBE_SECONDS = 5.0
ADDED_SOURCE = "added in Dockyard"


# -- remembering engines --------------------------------------------------------------

def _dump(endpoint: engine.Endpoint) -> dict[str, Any]:
    tls = endpoint.tls
    return {
        "url": endpoint.url, "source": endpoint.source, "context": endpoint.context,
        "tls": None if tls is None else {
            "verify": tls.verify,
            "ca": str(tls.ca_cert) if tls.ca_cert else "",
            "cert": str(tls.client_cert) if tls.client_cert else "",
            "key": str(tls.client_key) if tls.client_key else "",
        },
    }


def _load(data: Any, env: Mapping[str, str] | None = None) -> engine.Endpoint | None:
    """The endpoint saved as ``data``; None when it is unusable now (a file went)."""
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    tls = data.get("tls") if isinstance(data.get("tls"), dict) else None

    def path(key: str) -> Path | None:
        value = tls.get(key) if tls else None
        return Path(value) if isinstance(value, str) and value else None

    try:
        endpoint = engine.endpoint_for(data["url"], str(data.get("source") or ADDED_SOURCE),
                                       ca_cert=path("ca"), client_cert=path("cert"),
                                       client_key=path("key"), env=env)
    except engine.EngineError as exc:
        log.info("a remembered engine cannot be used: %s", exc)
        return None
    if tls is not None and endpoint.tls is None:  # TLS without any file (system CAs)
        endpoint = replace(endpoint, tls=engine.TLSConfig(True, None, None, None))
    if tls is not None and endpoint.tls is not None and tls.get("verify") is False:
        endpoint = replace(endpoint, tls=replace(endpoint.tls, verify=False))
    return replace(endpoint, context=str(data.get("context") or ""))


def remembered(settings: Settings, env: Mapping[str, str] | None = None
               ) -> engine.Endpoint | None:
    """The engine chosen last in the window, if any."""
    raw = settings.store.value(CHOSEN_KEY, "")
    try:
        data = json.loads(str(raw)) if raw else None
    except ValueError:
        return None
    return _load(data, env)


def remember(settings: Settings, endpoint: engine.Endpoint) -> None:
    settings.store.setValue(CHOSEN_KEY, json.dumps(_dump(endpoint)))
    settings.sync()


def added_engines(settings: Settings, env: Mapping[str, str] | None = None
                  ) -> list[engine.Endpoint]:
    """The engines the user added, oldest first."""
    raw = settings.store.value(ADDED_KEY, "")
    try:
        data = json.loads(str(raw)) if raw else []
    except ValueError:
        data = []
    out = [_load(item, env) for item in data] if isinstance(data, list) else []
    return [e for e in out if e is not None]


def add_engine(settings: Settings, endpoint: engine.Endpoint) -> None:
    kept = [e for e in added_engines(settings) if e.url != endpoint.url]
    settings.store.setValue(ADDED_KEY, json.dumps([_dump(e) for e in [*kept, endpoint]]))
    settings.sync()


def startup_target(host: str | None, settings: Settings,
                   env: Mapping[str, str] | None = None) -> engine.Endpoint | None:
    """The engine to start with: the remembered one, unless the command line or the
    environment names one (``--host``, ``DOCKER_HOST``, ``DOCKER_CONTEXT``)."""
    env = os.environ if env is None else env
    if (host and host.strip()) or env.get("DOCKER_HOST", "").strip() \
            or env.get("DOCKER_CONTEXT", "").strip():
        return None
    return remembered(settings, env)


# -- probing ----------------------------------------------------------------------------

def _survey(added: list[engine.Endpoint]) -> list[EngineEntry]:
    """Every known engine and what answers there; runs in a worker thread."""
    known: list[engine.KnownEngine] = []
    for k in engine.known_engines():
        # The switcher has one line per address: contexts to one address with other TLS
        # files (``doctor --all`` lists each) share the first one's line.
        first = next((f for f in known if k.endpoint.url and f.endpoint.url == k.endpoint.url),
                     None)
        if first is None:
            known.append(k)
        else:
            first.found_via += [v for v in k.found_via if v not in first.found_via]
            first.current = first.current or k.current
    urls = {k.endpoint.url for k in known}
    known += [engine.KnownEngine(e, [ADDED_SOURCE]) for e in added if e.url not in urls]
    known = [k for k in known if k.endpoint.url]  # a broken context has no address
    results = asyncio.run(engine.probe_engines(known, timeout=PROBE_SECONDS))
    entries = []
    for k, result in zip(known, results, strict=True):
        # A default socket is only worth listing when something answers there.
        default_only = all(v.startswith("default socket") for v in k.found_via)
        if default_only and result.state == "unreachable":
            continue
        entries.append(EngineEntry(
            k.endpoint, tuple(k.found_via), k.current, ADDED_SOURCE in k.found_via,
            result.state, result.product, result.version, result.error))
    return entries


def _state_of(exc: Exception) -> str:
    return "permission denied" if isinstance(exc, engine.PermissionDenied) \
        and not isinstance(exc, engine.HostKeyError) else "unreachable"


class EngineSwitch(QObject):
    """Keeps the switchers' lists and moves the session from one engine to another."""

    #: The entries changed (a survey ended, a probe failed, a switch happened).
    entriesChanged = Signal()

    def __init__(self, session: EngineSession, settings: Settings, activity: ActivityPanel,
                 open_shells: Callable[[], int], window: QWidget) -> None:
        super().__init__(window)
        self.session = session
        self.settings = settings
        self.activity = activity
        self.window = window
        self._open_shells = open_shells
        self.entries: list[EngineEntry] = []
        self.switchers: list[EngineSwitcher] = []
        self.question: QMessageBox | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        #: The pick being connected to, if any (a newer pick cancels it).
        self._connecting: asyncio.Task[Any] | None = None
        self._surveyed = False
        self.host_question: QMessageBox | None = None
        self._asked_keys: set[str] = set()
        #: Plain-tcp engines whose warning was said already.
        self._warned: set[str] = set()
        #: The "All engines" window, once opened.
        self.all_view: AllEnginesView | None = None
        #: Shows (page key, item key) in the window, once its lists have it (the window sets it).
        self.show_item: Callable[[str, str], object] | None = None
        #: An item to show once the engine being switched to is connected: (url, page, key).
        self._pending_item: tuple[str, str, str] | None = None
        session.statusChanged.connect(self._on_status)

    # -- the lists ----------------------------------------------------------------------

    def bind(self, switcher: EngineSwitcher) -> None:
        self.switchers.append(switcher)
        switcher.chosen.connect(self.choose)
        switcher.addRequested.connect(self.open_add_dialog)
        switcher.rescanRequested.connect(self.survey)
        switcher.allRequested.connect(self.open_all)
        self._show()

    @property
    def connected_url(self) -> str:
        status = self.session.status
        return status.endpoint if status.state is ConnectionState.CONNECTED else ""

    def entry(self, url: str) -> EngineEntry | None:
        return next((e for e in self.entries if e.url == url), None)

    def _show(self) -> None:
        status = self.session.status
        url = status.endpoint if status.state in (ConnectionState.CONNECTED,
                                                  ConnectionState.SWITCHING) else ""
        for switcher in self.switchers:
            switcher.set_entries(self.entries, url)
        self.entriesChanged.emit()

    def _on_status(self, status: ConnectionStatus) -> None:
        if isinstance(status.host_key, engine.UnknownHostKey) \
                and status.host_key.fingerprint not in self._asked_keys:
            # The session's own engine (--host, or the one remembered) is an ssh host not
            # on record: ask once per key; trusting it connects at once.
            self.ask_host_key(status.host_key, self.session.retry_now)
        if status.state is ConnectionState.CONNECTED:
            entry = self.entry(status.endpoint)
            if entry is None:  # --host, DOCKER_HOST, or found before any survey
                client = self.session.client
                endpoint = client.endpoint if client is not None \
                    else engine.Endpoint(status.endpoint, status.source, context=status.context)
                entry = EngineEntry(endpoint, (status.source,) if status.source else ())
                self.entries.insert(0, entry)
            entry.state, entry.product, entry.version, entry.error = (
                REACHABLE, status.product, status.version, "")
            if (warning := entry.warning) and entry.url not in self._warned:
                # Once per engine and run: the switcher's line keeps saying "no TLS".
                self._warned.add(entry.url)
                self.session.message.emit(MessageLevel.WARNING, warning)
            pending = self._pending_item
            if pending is not None and pending[0] == status.endpoint:
                self._pending_item = None
                if self.show_item is not None:
                    self.show_item(pending[1], pending[2])
        # The first answer, or the first failure: then the user needs the others most.
        if not self._surveyed and status.state in (ConnectionState.CONNECTED,
                                                   ConnectionState.UNREACHABLE):
            self._surveyed = True
            self.survey()
        self._show()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def survey(self) -> asyncio.Task[None]:
        """Find every engine and probe them all, off the GUI thread."""
        for entry in self.entries:
            if entry.url != self.connected_url and entry.state != CONNECTING:
                entry.state = LOOKING
        self._show()
        return self._spawn(self._survey())

    async def _survey(self) -> None:
        try:
            found = await asyncio.to_thread(_survey, added_engines(self.settings))
        except Exception as exc:  # a bug of ours: said, never a traceback
            log.exception("looking for engines failed")
            self.session.message.emit(MessageLevel.ERROR, f"Could not look for engines: {exc}")
            return
        connected = self.entry(self.connected_url)
        if connected is not None and all(e.url != connected.url for e in found):
            found.insert(0, connected)
        for entry in found:  # what this session saw itself is fresher than the probe
            if entry.url == self.connected_url and connected is not None:
                entry.state, entry.product, entry.version = (
                    REACHABLE, connected.product, connected.version)
                entry.error = ""
        # An engine added, or being connected to, while the survey ran stays, as it is.
        urls = {e.url for e in found}
        for old in self.entries:
            if old.url not in urls and (old.added or old.state == CONNECTING):
                found.append(old)
            elif old.state == CONNECTING:
                found = [old if e.url == old.url else e for e in found]
        self.entries = found
        self._show()

    # -- switching ----------------------------------------------------------------------

    def running_work(self) -> tuple[list[str], int]:
        """The titles of pulls and builds still running, and how many shells are open."""
        busy = [a.accessibleName() for a in self.activity.activities() if not a.done]
        return busy, self._open_shells()

    def choose(self, url: str) -> None:
        """Switch to the engine at ``url``; ask first when that would end running work."""
        entry = self.entry(url)
        if self._pending_item is not None and self._pending_item[0] != url:
            self._pending_item = None  # another engine picked since: its item is moot
        if entry is None or url == self.connected_url:
            return
        busy, shells = self.running_work()
        if not busy and not shells:
            self._open_and_switch(entry)
            return
        what = [*busy, *([counted(shells, "open shell")] if shells else [])]
        here = self.session.status.context or self.session.status.endpoint
        if self.question is not None:
            self.question.close()
        self.question = ask(
            self.window, "Switch engine",
            f"Still running on {here}: {', '.join(what)}. Switching to {entry.name} ends"
            f" {'it' if len(what) == 1 else 'them'}. Switch anyway?",
            "Switch", lambda: self._open_and_switch(entry), name="switch-confirm",
            icon=QMessageBox.Icon.Warning)
        self.question.finished.connect(self._question_closed)

    def _question_closed(self, _result: int) -> None:
        self.question = None

    def _open_and_switch(self, entry: EngineEntry) -> None:
        # The last pick wins: a slow engine picked first must not take over afterwards.
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        prior = entry.state
        entry.state = CONNECTING
        self._show()
        self._connecting = self._spawn(self._connect(entry, prior))

    async def _connect(self, entry: EngineEntry, prior: str = "") -> None:
        try:
            client = await asyncio.wait_for(
                engine.Engine.open(entry.endpoint, deadline=PROBE_SECONDS), PROBE_SECONDS + 1)
        except asyncio.CancelledError:
            if entry.state == CONNECTING:
                entry.state = prior
                self._show()
            raise
        except engine.UnknownHostKey as exc:
            entry.state, entry.error = "unreachable", str(exc)
            self._show()
            self.ask_host_key(exc, partial(self._open_and_switch, entry))
            return
        except (engine.EngineError, OSError, TimeoutError) as exc:
            error = str(exc) or f"no answer within {PROBE_SECONDS:g} s"
            entry.state, entry.error = _state_of(exc), error
            self._show()
            here = self.session.status.context or self.session.status.endpoint or "no engine"
            self.session.message.emit(
                MessageLevel.ERROR,
                f"Could not switch to {entry.name}: {error}. Still showing {here}.")
            return
        version = client.version
        entry.state, entry.product, entry.version, entry.error = (
            REACHABLE, version.product, version.version, "")
        remember(self.settings, entry.endpoint)
        await self.session.switch_to(client)

    # -- ssh host keys --------------------------------------------------------------------

    def ask_host_key(self, error: engine.UnknownHostKey, then: Callable[[], object]) -> None:
        """Show the unknown key's fingerprint and ask whether to trust it (non-modal).

        Trusting appends its line to the known_hosts file consulted, then ``then``
        connects again.  A changed key never gets here: it is refused, plainly.
        """
        # Once per key for the session's own retries; a pick in the switcher asks again.
        self._asked_keys.add(error.fingerprint)
        if self.host_question is not None:
            self.host_question.close()
        host_question = ask(
            self.window, "Unknown ssh host",
            f"The ssh host {error.host} is not known yet. It presents this"
            f" {error.key_type} key:\n\n{error.fingerprint}\n\nCompare it with the server's"
            " own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on it) before trusting it."
            f" Trusting adds it to {error.known_hosts}.",
            "Trust and connect", partial(self._trust, error, then), name="host-key-confirm",
            icon=QMessageBox.Icon.Warning)
        host_question.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        host_question.finished.connect(self._host_question_closed)
        self.host_question = host_question

    def _host_question_closed(self, _result: int) -> None:
        self.host_question = None

    def _trust(self, error: engine.UnknownHostKey, then: Callable[[], object]) -> None:
        try:
            where = engine.trust_host_key(error)
        except engine.EngineError as exc:
            self.session.message.emit(MessageLevel.ERROR, f"Could not trust the key: {exc}")
            return
        self.session.message.emit(
            MessageLevel.INFO, f"Trusted the host key of {error.host} (added to {where}).")
        then()

    # -- all engines ----------------------------------------------------------------------

    def open_all(self) -> AllEnginesView:
        """Show the containers and images of every reachable engine in one window."""
        from app.all_engines import AllEnginesView  # built the first time it is asked for

        view = self.all_view
        if view is None:
            view = self.all_view = AllEnginesView(self.window)
            view.openRequested.connect(self.show_on)
            # Only while it shows: closed, it follows no engine (closeEvent ended them).
            self.entriesChanged.connect(
                lambda: view.set_engines(self.entries) if view.isVisible() else None)
        view.show()
        view.set_engines(self.entries)
        view.raise_()
        view.activateWindow()
        return view

    def show_on(self, url: str, page_key: str, item_key: str) -> None:
        """Show an item of the engine at ``url`` in the window: switching there first
        (asking, as any switch does, when work would end)."""
        self.window.raise_()
        self.window.activateWindow()
        if url == self.connected_url:
            if self.show_item is not None:
                self.show_item(page_key, item_key)
            return
        self._pending_item = (url, page_key, item_key)
        self.choose(url)

    # -- adding -------------------------------------------------------------------------

    def open_add_dialog(self) -> AddEngineDialog:
        dialog = AddEngineDialog(self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.add(dialog.endpoint))
        dialog.open()
        return dialog

    def add(self, endpoint: engine.Endpoint | None) -> None:
        """Keep ``endpoint`` among the engines, and switch to it if it answers."""
        if endpoint is None:
            return
        add_engine(self.settings, endpoint)
        entry = self.entry(endpoint.url)
        if entry is None:
            entry = EngineEntry(endpoint, (ADDED_SOURCE,), added=True)
            self.entries.append(entry)
        elif entry.endpoint != endpoint:
            # The same address with other TLS files (the first ones were wrong): the new
            # ones are used from now on, as they are in the settings.
            entry.endpoint = replace(endpoint, context=entry.endpoint.context)
            entry.added = True
        self.choose(entry.url)
        self._show()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.all_view is not None:
            await self.all_view.aclose()
