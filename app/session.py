"""The one place that owns the engine client.

It finds and connects to the engine, follows the event stream, turns events
into coalesced list refreshes, reconnects with backoff when the daemon goes
away, and runs the pages' async actions so that every failure lands in one
message signal instead of a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, TypeVarTuple

from PySide6.QtCore import QObject, Signal

import engine
from app.messages import MessageLevel
from app.resources import ResourceKind, merge_items

__all__ = ["ConnectionState", "ConnectionStatus", "ConnectionWatch", "EngineSession", "LiveList",
           "MessageLevel"]

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
Ts = TypeVarTuple("Ts")

class ConnectionState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    UNREACHABLE = "unreachable"  # never connected yet: show the "no engine" page
    LOST = "lost"  # was connected, the daemon went away: banner + reconnect
    #: Leaving one engine for another the user chose: streams end, the lists empty.
    SWITCHING = "switching"


@dataclass(frozen=True)
class ConnectionStatus:
    state: ConnectionState
    description: str = ""
    #: "Docker Engine" or "Podman", and its version ("20.10.24"): the window's title.
    product: str = ""
    version: str = ""
    #: The docker CLI context the endpoint came from, if any.
    context: str = ""
    endpoint: str = ""
    source: str = ""
    error: str = ""
    permission_denied: bool = False
    attempts: tuple[engine.Attempt, ...] = ()
    retry_in: float = 0.0
    #: An ssh host key that stopped the connection (unknown: the window may ask to trust it).
    host_key: engine.HostKeyError | None = None


class LiveList(QObject):
    """The current list of one resource kind; ``changed`` fires after every re-read."""

    changed = Signal(list)

    def __init__(self, kind: ResourceKind[Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.items: list[Any] = []


class ConnectionWatch(QObject):
    """Pauses one subscriber's streams when the engine goes and resumes them when it is back.

    Streams (logs, stats, usage columns, shells) end with the connection, quietly:
    the banner says why.  This is the one place that turns status changes into
    "pause" and "resume", each called once per change.  It lives as long as
    ``parent`` (the subscriber).
    """

    def __init__(self, session: EngineSession, resume: Callable[[], object],
                 pause: Callable[[], object], parent: QObject) -> None:
        super().__init__(parent)
        self._resume = resume
        self._pause = pause
        self.connected = session.connected
        session.statusChanged.connect(self._on_status)

    def _on_status(self, status: ConnectionStatus) -> None:
        connected = status.state is ConnectionState.CONNECTED
        if connected != self.connected:
            self.connected = connected
            (self._resume if connected else self._pause)()


class EngineSession(QObject):
    """Connection lifecycle, event-driven refreshes and error routing for the window."""

    statusChanged = Signal(object)  # ConnectionStatus
    message = Signal(object, str)  # MessageLevel, text
    #: Every event of the engine's stream, as it arrives (the Engine page's log).
    eventReceived = Signal(object)  # engine.Event
    #: The user switched to another engine (its endpoint): whatever a subscriber still
    #: shows of the old one (a removed container's last log lines, shells, events) goes.
    switched = Signal(object)  # engine.Endpoint

    #: Events arriving within this window are folded into one refresh.
    COALESCE_SECONDS = 0.03
    #: A second look after a container died, for the state the engine stores late.
    SETTLE_SECONDS = 0.3
    #: A list that fails is read again this many times in all, this far apart.
    REFRESH_ATTEMPTS = 4
    REFRESH_RETRY_SECONDS = 0.25
    #: Up to this many items named by events are read by themselves; more: the whole list.
    MOST_ITEMS_READ_ALONE = 100
    RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
    #: For this long after losing an engine it had, the session looks again this often:
    #: an engine restarting (an upgrade, ``systemctl restart docker``) is back in seconds,
    #: and the backoff above made the window wait up to 4 s more.  An attempt at a
    #: socket nobody listens on yet costs next to nothing.
    LOST_RETRY_DELAYS = (0.2, 0.2, 0.3, 0.3, 0.5)
    FAST_RECONNECT_SECONDS = 60.0
    #: Seconds the handshake and each call may take in all (None: the engine's defaults).
    DEADLINE: float | None = None

    def __init__(self, host: str | None = None, parent: QObject | None = None, *,
                 target: engine.Endpoint | None = None) -> None:
        """``host`` is ``--host`` (None: found as the docker CLI finds it); ``target`` an
        engine chosen in the window, used instead of discovery (and after a switch)."""
        super().__init__(parent)
        self._host = host
        self._target = target
        self._switching: asyncio.Task[None] | None = None
        self._engine: engine.Engine | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._lists: dict[str, LiveList] = {}
        self._dirty: set[str] = set()
        self._keyed: dict[str, asyncio.Task[Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Items to read again by themselves, per list not wholly dirty (ResourceKind.read_some).
        self._dirty_items: dict[str, set[str]] = {}
        self._settle_timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._closed = False
        self._wake = asyncio.Event()
        self.status = ConnectionStatus(ConnectionState.CONNECTING)

    @property
    def client(self) -> engine.Engine | None:
        return self._engine

    @property
    def connected(self) -> bool:
        return self.status.state is ConnectionState.CONNECTED

    def watch_connection(self, subscriber: QObject, *, resume: Callable[[], object],
                         pause: Callable[[], object]) -> ConnectionWatch:
        """Call ``pause`` when the engine goes away and ``resume`` when it is back, for as
        long as ``subscriber`` lives."""
        return ConnectionWatch(self, resume, pause, subscriber)

    # -- live lists -------------------------------------------------------------------

    def live(self, kind: ResourceKind[Any]) -> LiveList:
        """The live list of ``kind``; the first subscriber starts keeping it."""
        if (live := self._lists.get(kind.name)) is None:
            live = self._lists[kind.name] = LiveList(kind, self)
            if self._engine is not None:
                self._request_refresh(kind.name, delay=0.0)
        return live

    def items(self, kind: ResourceKind[T]) -> list[T]:
        """The last list of ``kind`` read from the engine."""
        items: list[T] = self.live(kind).items
        return items

    # -- lifecycle ------------------------------------------------------------------

    @property
    def target(self) -> engine.Endpoint | None:
        """The engine chosen in the window (None: the one discovery finds)."""
        return self._target

    def start(self) -> None:
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.ensure_future(self._supervise())

    def switch_to(self, client: engine.Engine) -> asyncio.Task[None]:
        """Leave the current engine for ``client`` (opened already, so it answers).

        Every stream and action of the old engine is cancelled and awaited (logs,
        stats, shells, pulls: the caller asked the user first), the lists are
        emptied, and the session carries on with ``client`` as its engine, also
        when it reconnects later.  The task ends once the old engine is closed.
        """
        if self._switching is not None and not self._switching.done():
            self._switching.cancel()
        self._switching = asyncio.ensure_future(self._switch(client))
        return self._switching

    async def _switch(self, client: engine.Engine) -> None:
        adopted = False
        try:
            # Subscribers pause first (ConnectionWatch), so their own tasks end as
            # when the connection goes, quietly.
            self._set_status(ConnectionStatus(
                ConnectionState.SWITCHING, description=client.description,
                endpoint=client.endpoint.url, context=client.endpoint.context))
            for timer in self._settle_timers.values():
                timer.cancel()
            self._settle_timers.clear()
            tasks = [t for t in (self._supervisor, self._refresher, *self._tasks)
                     if t is not None and t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._keyed.clear()
            self._dirty.clear()
            self._dirty_items.clear()
            if self._engine is not None:  # the supervisor closes it; this is belt and braces
                old, self._engine = self._engine, None
                await old.aclose()
            self._target = client.endpoint
            self.switched.emit(client.endpoint)
            for live in self._lists.values():
                live.items = []
                live.changed.emit(live.items)
            adopted = True
            self._supervisor = asyncio.ensure_future(self._supervise(client))
        finally:
            if not adopted:
                await client.aclose()
                # Whatever stopped the switch (a failure, a newer switch), the window is
                # not left without an engine: supervision resumes on the current target.
                if not self._closed and (self._supervisor is None or self._supervisor.done()):
                    self._supervisor = asyncio.ensure_future(self._supervise())

    def retry_now(self) -> None:
        """Skip the rest of the backoff wait (the user pressed Retry)."""
        self._wake.set()

    async def aclose(self) -> None:
        # A settle timer left behind would start a refresh on a closed session later,
        # from whatever event loop turn comes next.
        self._closed = True
        for timer in self._settle_timers.values():
            timer.cancel()
        tasks = [t for t in (self._switching, self._supervisor, self._refresher, *self._tasks)
                 if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._engine is not None:
            await self._engine.aclose()
            self._engine = None

    def _set_status(self, status: ConnectionStatus) -> None:
        self.status = status
        self.statusChanged.emit(status)

    async def _supervise(self, first: engine.Engine | None = None) -> None:
        """Keep connecting for as long as the session lives.

        An attempt that fails in a way nobody foresaw (a bug, or an answer no
        check caught) must not end the supervision for good: it is logged, said
        in the status, and tried again like any other failure.
        """
        failures = 0
        was_connected = False
        while True:
            try:
                await self._connect_and_follow(was_connected, first)
            except Exception as exc:
                log.exception("a connection attempt failed unexpectedly")
                delay = self.RETRY_DELAYS[min(failures, len(self.RETRY_DELAYS) - 1)]
                failures += 1
                was_connected = was_connected or self.status.state in (
                    ConnectionState.CONNECTED, ConnectionState.LOST)
                state = ConnectionState.LOST if was_connected else ConnectionState.UNREACHABLE
                self._set_status(ConnectionStatus(
                    state, error=f"the engine's answer could not be used ({exc})",
                    endpoint=self.status.endpoint, retry_in=delay,
                ))
                await self._backoff(delay)
            first = None

    async def _open(self) -> engine.Engine:
        """The chosen engine, else the one the docker CLI would use (``--host`` first)."""
        if self._target is not None:
            return await engine.Engine.open(self._target, deadline=self.DEADLINE)
        client, _attempts = await engine.discover(self._host, deadline=self.DEADLINE)
        return client

    async def _connect_and_follow(self, was_connected: bool,
                                  first: engine.Engine | None = None) -> None:
        """Connect, follow the engine until it goes, reconnect with backoff: forever.

        ``first`` is an engine opened already (the one switched to): used as is.
        """
        failures = 0
        last_endpoint = ""
        lost_at = time.monotonic() if was_connected else -self.FAST_RECONNECT_SECONDS
        while True:
            if not was_connected and first is None:
                self._set_status(ConnectionStatus(ConnectionState.CONNECTING))
            try:
                client = first if first is not None else await self._open()
                first = None
            except engine.EngineUnreachable as exc:
                delays = (self.LOST_RETRY_DELAYS if was_connected and time.monotonic() - lost_at
                          < self.FAST_RECONNECT_SECONDS else self.RETRY_DELAYS)
                delay = delays[min(failures, len(delays) - 1)]
                failures += 1
                state = ConnectionState.LOST if was_connected else ConnectionState.UNREACHABLE
                self._set_status(ConnectionStatus(
                    state, error=str(exc), endpoint=exc.endpoint or last_endpoint,
                    attempts=exc.attempts,
                    permission_denied=isinstance(exc, engine.PermissionDenied), retry_in=delay,
                    host_key=exc if isinstance(exc, engine.HostKeyError) else None,
                ))
                await self._backoff(delay)
                continue
            except engine.EngineError as exc:  # bad --host or DOCKER_HOST: retrying won't help
                self._set_status(ConnectionStatus(ConnectionState.UNREACHABLE, error=str(exc)))
                await self._backoff(self.RETRY_DELAYS[-1])
                continue
            failures = 0
            was_connected = True
            last_endpoint = client.endpoint.url
            self._engine = client
            self._set_status(ConnectionStatus(
                ConnectionState.CONNECTED, description=client.description,
                product=client.version.product, version=client.version.version,
                context=client.endpoint.context,
                endpoint=client.endpoint.url, source=client.endpoint.source,
            ))
            try:
                await self._follow(client)
            except engine.EngineError as exc:
                log.info("lost the engine: %s", exc)
                self._set_status(ConnectionStatus(
                    ConnectionState.LOST, error=str(exc), endpoint=client.endpoint.url,
                    retry_in=self.RETRY_DELAYS[0],
                ))
            finally:
                self._engine = None
                lost_at = time.monotonic()
                if self._refresher is not None:
                    self._refresher.cancel()
                await client.aclose()
            await self._backoff(self.RETRY_DELAYS[0])

    async def _backoff(self, delay: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    async def _follow(self, client: engine.Engine) -> None:
        # Ask for events from just before the first listing, so nothing that
        # happens between the two is missed.
        since = f"{time.time() - 1:.9f}"
        self._request_refresh(*self._lists, delay=0.0)
        async for event in client.events(since=since):
            self._on_event(event)
        raise engine.EngineUnreachable("the engine closed its event stream", client.endpoint.url)

    def _on_event(self, event: engine.Event) -> None:
        self.eventReceived.emit(event)
        for name, live in list(self._lists.items()):
            kind = live.kind
            item = kind.item_of(event) if kind.read_some is not None else ""
            if kind.stale_on(event):
                self._request_item_refresh(name, item)
            if kind.settle_on(event):
                # One look after the last of a burst (of this item's events) is enough.
                key = (name, item)
                if (timer := self._settle_timers.pop(key, None)) is not None:
                    timer.cancel()
                self._settle_timers[key] = asyncio.get_running_loop().call_later(
                    self.SETTLE_SECONDS, self._settled, key)

    def _settled(self, key: tuple[str, str]) -> None:
        self._settle_timers.pop(key, None)
        self._request_item_refresh(*key)

    # -- coalesced refreshes ------------------------------------------------------------

    def refresh(self) -> None:
        """Reload every list now (F5)."""
        self._request_refresh(*self._lists, delay=0.0)

    def refresh_list(self, kind: ResourceKind[Any]) -> None:
        """Reload one list now: for changes no event of this engine reports (a task on
        another node of a swarm)."""
        if kind.name in self._lists:
            self._request_refresh(kind.name, delay=0.0)

    def _request_refresh(self, *kinds: str, delay: float | None = None) -> None:
        if self._closed:
            return
        self._dirty.update(kinds)
        for name in kinds:
            self._dirty_items.pop(name, None)
        self._start_refresher(delay)

    def _request_item_refresh(self, name: str, item: str) -> None:
        """Read one item of a list again, or the whole list when no item is named (or
        so many are that one listing is cheaper)."""
        if self._closed:
            return
        if not item:
            self._request_refresh(name)
            return
        if name in self._dirty:
            return  # the whole list is read anyway
        items = self._dirty_items.setdefault(name, set())
        items.add(item)
        if len(items) > self.MOST_ITEMS_READ_ALONE:
            self._request_refresh(name)
            return
        self._start_refresher(None)

    def _start_refresher(self, delay: float | None) -> None:
        if self._refresher is None or self._refresher.done():
            wait = self.COALESCE_SECONDS if delay is None else delay
            self._refresher = asyncio.ensure_future(self._refresh_dirty(wait))

    async def _refresh_dirty(self, delay: float) -> None:
        await asyncio.sleep(delay)
        failures = 0
        while (self._dirty or self._dirty_items) and self._engine is not None:
            kinds, self._dirty = self._dirty, set()
            some, self._dirty_items = self._dirty_items, {}
            client = self._engine
            try:
                # In subscription order: a page reading two lists gets them in the
                # order it subscribed (images are shown with the containers using them).
                for name, live in list(self._lists.items()):
                    kind = live.kind
                    if name in kinds:
                        live.items = await kind.read(client)
                    elif name in some and kind.read_some is not None:
                        ids = some[name]
                        fresh = await kind.read_some(client, sorted(ids))
                        live.items = merge_items(live.items, fresh, ids, kind.item_id)
                    else:
                        continue
                    kinds.discard(name)
                    some.pop(name, None)
                    live.changed.emit(live.items)
            except engine.EngineUnreachable as exc:
                log.info("refresh failed, the supervisor will reconnect: %s", exc)
                return
            except engine.EngineError as exc:
                # Podman lists images, then reads each one: an image removed in between
                # fails the whole list with 500 "image not known" (seen in CI right
                # after a removal).  A moment later it lists fine; only a lasting
                # failure is worth a message.
                failures += 1
                if failures < self.REFRESH_ATTEMPTS:
                    log.info("refresh failed, trying again: %s", exc)
                    self._dirty.update(kinds)
                    for name, ids in some.items():
                        if name not in self._dirty:
                            self._dirty_items.setdefault(name, set()).update(ids)
                    await asyncio.sleep(self.REFRESH_RETRY_SECONDS)
                    continue
                self.message.emit(MessageLevel.ERROR, f"Could not refresh the lists: {exc}")
                return

    # -- actions ------------------------------------------------------------------------

    def run(
        self,
        action: Callable[[engine.Engine, *Ts], Coroutine[Any, Any, R]],
        *args: *Ts,
        describe: str,
        key: str | None = None,
        on_done: Callable[[R], object] | None = None,
        quiet_not_found: bool = False,
    ) -> asyncio.Task[Any] | None:
        """Run ``action(engine, *args)`` in the background; report failures as messages.

        ``action`` is any coroutine function taking the client first, as every call
        of the engine API does: ``session.run(engine.search_images, term, …)``.
        ``on_done`` gets its result, called from the loop after the task ended
        (never inside it: see :func:`_deliver`).

        With ``key``, an earlier task with the same key is cancelled first (stale
        work for a previous selection).  ``describe`` completes the sentence
        "Could not …" in the message a failure produces.
        """
        client = self._engine
        if client is None:
            self.message.emit(
                MessageLevel.WARNING, f"Could not {describe}: not connected to an engine"
            )
            return None
        if key is not None and (stale := self._keyed.pop(key, None)) is not None:
            stale.cancel()
        task = asyncio.ensure_future(
            self._guard(partial(action, client, *args), describe, quiet_not_found))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if on_done is not None:
            task.add_done_callback(partial(_deliver, on_done))
        if key is not None:
            self._keyed[key] = task
        return task

    def save_login(self, registry: str, username: str, password: str) -> asyncio.Task[Any]:
        """Save a login where ``docker login`` would, and say where.  A credential helper
        is a program that may take a while (a keyring prompt): off the GUI thread.  It
        needs no engine, so it works while disconnected too."""
        async def save() -> engine.LoginStore:
            return await asyncio.to_thread(engine.save_login, registry, username, password)

        task = asyncio.ensure_future(self._guard(save, "save the login", False))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(partial(_deliver, lambda store: self.message.emit(
            MessageLevel.INFO, f"Saved the login in {store}")))
        return task

    def cancel(self, key: str) -> None:
        """Cancel the running task started with ``key``, if any."""
        if (task := self._keyed.pop(key, None)) is not None:
            task.cancel()

    async def _guard(
        self,
        action: Callable[[], Coroutine[Any, Any, Any]],
        describe: str,
        quiet_not_found: bool,
    ) -> _Outcome:
        # The coroutine is made here, inside the task: a task cancelled before it
        # starts then leaves no never-awaited coroutine behind.
        try:
            result = await action()
        except asyncio.CancelledError:
            raise
        except engine.NotFound as exc:
            if quiet_not_found:  # an expected race: the object went away meanwhile
                log.info("could not %s: %s", describe, exc)
            else:
                self.message.emit(MessageLevel.ERROR, f"Could not {describe}: {exc}")
        except engine.EngineError as exc:
            self.message.emit(MessageLevel.ERROR, f"Could not {describe}: {exc}")
        else:
            return _Outcome(True, result)
        return _Outcome(False, None)


@dataclass(frozen=True)
class _Outcome:
    succeeded: bool
    result: Any


def _deliver(on_done: Callable[[Any], object], task: asyncio.Task[_Outcome]) -> None:
    """Hand a finished action's result to ``on_done`` — outside the task, on purpose.

    A done callback runs from the loop, with no task current.  Called inside the
    task instead, an ``on_done`` that opened a modal dialog nested Qt's event loop
    in the task; every other task woken meanwhile (the event stream's, the
    refreshes) then failed with "Cannot enter into task … while another task … is
    being executed" and the window stopped following the engine (issue 12.1).
    """
    if task.cancelled():
        return
    outcome = task.result()
    if outcome.succeeded:
        on_done(outcome.result)
