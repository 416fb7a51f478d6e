"""Desktop notifications: long work that ended, or a container that failed, while you are away.

:class:`Notifier` decides; it notifies only while the main window is not the
active window.  It sends through the desktop's notification service
(``org.freedesktop.Notifications`` on the session bus: GNOME, KDE, Xfce, dunst,
mako… all serve it) when it is given a :class:`DesktopNotifications`, and falls
back to the system tray (``QSystemTrayIcon.showMessage``), which a stock GNOME
desktop does not show.  The tray icon is created on the first tray message,
shown only while a message may be on screen; clicking either kind of message
brings the window back.  Where neither exists (offscreen) nothing is shown, but
the message is still recorded in :attr:`Notifier.last`, as it is everywhere, so
tests can see the decision.

D-Bus is spoken with jeepney, not QtDBus: the Notify call's ``replaces_id`` is
a D-Bus ``uint32``, which PySide6 cannot marshal (a Python int always goes out
as ``int32`` and the service refuses the call), and jeepney's asyncio router
runs on the window's own event loop.

:class:`ContainerAlerts` turns the engine's event stream into the few events
worth a notification: a container that died on its own with a failure exit
code (not one somebody stopped or killed), and one whose health check turned
unhealthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from jeepney import DBusAddress, MatchRule, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.asyncio import DBusRouter, open_dbus_router
from PySide6.QtCore import QObject, QTimer, Signal, SignalInstance
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

import engine
from app.widgets.activity import Activity

log = logging.getLogger(__name__)

LONG_OPERATION_SECONDS = 5.0
MESSAGE_MSECS = 10_000


APP_ID = "io.github.dockyard.Dockyard"
_NOTIFICATIONS = DBusAddress("/org/freedesktop/Notifications",
                             bus_name="org.freedesktop.Notifications",
                             interface="org.freedesktop.Notifications")
#: How long the bus may take to answer before we fall back to the tray.
DBUS_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Notification:
    title: str
    text: str
    succeeded: bool
    shown: bool  # False when there is neither a notification service nor a tray to show it
    via: str = ""  # "desktop" (the session bus's notification service), "tray" or ""


class DesktopUnavailable(Exception):
    """No session bus, or no notification service on it: use the tray instead."""


class DesktopNotifications:
    """``org.freedesktop.Notifications`` on a D-Bus bus (the session bus by default)."""

    def __init__(self, bus: str = "SESSION") -> None:
        self.bus = bus
        self._router: DBusRouter | None = None
        self._router_cm: contextlib.AbstractAsyncContextManager[DBusRouter] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._sent: set[int] = set()
        #: Called with no argument when the user clicks one of our notifications.
        self.on_click: Callable[[], None] | None = None

    async def _connect(self) -> DBusRouter:
        if self._router is not None:
            return self._router
        try:
            self._router_cm = open_dbus_router(self.bus)
            router = await asyncio.wait_for(self._router_cm.__aenter__(), DBUS_TIMEOUT_S)
            rule = MatchRule(type="signal", interface=_NOTIFICATIONS.interface,
                             member="ActionInvoked")
            queue: asyncio.Queue[object] = asyncio.Queue()
            router.filter(rule, queue=queue, bufsize=64)  # type: ignore[arg-type]
            await asyncio.wait_for(
                router.send_and_get_reply(message_bus.AddMatch(rule)), DBUS_TIMEOUT_S)
        except (OSError, KeyError, ValueError, TimeoutError) as exc:
            # KeyError: no DBUS_SESSION_BUS_ADDRESS; OSError: no bus at that address.
            raise DesktopUnavailable(f"no session bus: {exc}") from exc
        self._router = router
        self._listener = asyncio.ensure_future(self._listen(queue))
        return router

    async def _listen(self, queue: asyncio.Queue[object]) -> None:
        while True:
            message = await queue.get()
            notification_id, action = message.body  # type: ignore[attr-defined]
            if notification_id in self._sent and action == "default" and self.on_click:
                self.on_click()

    async def notify(self, summary: str, body: str, *, urgent: bool) -> int:
        """Show a notification; its ID.  Raises :class:`DesktopUnavailable`."""
        router = await self._connect()
        hints = {"urgency": ("y", 2 if urgent else 1), "desktop-entry": ("s", APP_ID)}
        call = new_method_call(_NOTIFICATIONS, "Notify", "susssasa{sv}i", (
            "Dockyard", 0, APP_ID, summary, body, ["default", "Show Dockyard"], hints,
            MESSAGE_MSECS))
        try:
            reply = await asyncio.wait_for(router.send_and_get_reply(call), DBUS_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise DesktopUnavailable(f"the notification service did not answer: {exc}") from exc
        if reply.header.message_type == MessageType.error:
            raise DesktopUnavailable(f"the notification service refused: {reply.body}")
        notification_id = int(reply.body[0])
        self._sent.add(notification_id)
        return notification_id

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
        if self._router_cm is not None:
            with contextlib.suppress(Exception):
                await self._router_cm.__aexit__(None, None, None)
        self._router = self._router_cm = self._listener = None


class Notifier(QObject):
    notified = Signal(object)  # Notification

    def __init__(
        self, window: QWidget, icon: QIcon | None = None, *,
        min_seconds: float = LONG_OPERATION_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        desktop: DesktopNotifications | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent if parent is not None else window)
        self.window = window
        self.desktop = desktop
        self._sending: set[asyncio.Task[None]] = set()
        if desktop is not None:
            desktop.on_click = self._bring_back
        self.icon = icon if icon is not None else window.windowIcon()
        self.min_seconds = min_seconds
        self.clock = clock
        self.last: Notification | None = None
        self.tray: QSystemTrayIcon | None = None
        self._hide_tray = QTimer(self)
        self._hide_tray.setSingleShot(True)
        self._hide_tray.setInterval(MESSAGE_MSECS + 2_000)
        self._hide_tray.timeout.connect(self._on_hide_timeout)

    # -- deciding ---------------------------------------------------------------------

    def window_is_active(self) -> bool:
        return self.window.isActiveWindow()

    def watch(self, activity: Activity) -> None:
        """Notify when ``activity`` finishes, if it was long and the window is inactive."""
        started = self.clock()
        name = activity.accessibleName()

        def finished(succeeded: bool) -> None:
            if self.clock() - started >= self.min_seconds:
                verb = "finished" if succeeded else "failed"
                self.notify(f"{name} {verb}", activity.status.text(), succeeded)

        activity.finished.connect(finished)

    def watch_containers(self, events: SignalInstance, enabled: Callable[[], bool]) -> None:
        """Notify about the engine ``events`` that mean a container failed, while ``enabled``."""
        alerts = ContainerAlerts()

        def raise_alert(alert: Alert) -> None:
            if alerts.still_standing(alert) and enabled():
                self.notify(alert.title, alert.text, False)

        def on_event(event: engine.Event) -> None:
            # Fed every event, so that a kill seen while disabled still explains its die.
            alert = alerts.alert(event)
            if alert is not None:
                QTimer.singleShot(round(alert.confirm_after * 1000), self,
                                  partial(raise_alert, alert))

        events.connect(on_event)

    def notify(self, title: str, text: str, succeeded: bool) -> bool:
        """Show ``title``/``text`` unless the window is active; returns whether it notified.

        Through the desktop's service, the message is sent in the background and
        :attr:`notified` follows when the service has taken it (or the tray has).
        """
        if self.window_is_active():
            return False
        if self.desktop is not None:
            sending = self._send(self.desktop, title, text, succeeded)
            try:
                task = asyncio.ensure_future(sending)
            except RuntimeError:  # no event loop any more (the app is closing): nothing sent
                sending.close()
                return False
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        else:
            self._show_in_tray(title, text, succeeded)
        return True

    async def _send(self, desktop: DesktopNotifications, title: str, text: str,
                    succeeded: bool) -> None:
        try:
            await desktop.notify(title, text, urgent=not succeeded)
        except DesktopUnavailable as exc:
            log.info("desktop notifications unavailable, using the tray: %s", exc)
            if self.desktop is desktop:
                self.desktop = None  # asked once; the tray from now on
            self._show_in_tray(title, text, succeeded)
            return
        self._record(Notification(title, text, succeeded, shown=True, via="desktop"))

    def _show_in_tray(self, title: str, text: str, succeeded: bool) -> None:
        shown = QSystemTrayIcon.isSystemTrayAvailable()
        if shown:
            tray = self._tray()
            tray.show()
            tray.showMessage(
                title, text,
                QSystemTrayIcon.MessageIcon.Information if succeeded
                else QSystemTrayIcon.MessageIcon.Warning,
                MESSAGE_MSECS,
            )
            self._hide_tray.start()
        self._record(Notification(title, text, succeeded, shown, via="tray" if shown else ""))

    def _record(self, notification: Notification) -> None:
        self.last = notification
        self.notified.emit(notification)

    # -- the tray icon ----------------------------------------------------------------

    def _tray(self) -> QSystemTrayIcon:
        if self.tray is None:
            self.tray = QSystemTrayIcon(self.icon, self)
            self.tray.setToolTip("Dockyard")
            self.tray.messageClicked.connect(self._bring_back)
            self.tray.activated.connect(lambda _reason: self._bring_back())
        return self.tray

    def _bring_back(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
        self._on_hide_timeout()

    def _on_hide_timeout(self) -> None:
        self._hide_tray.stop()
        if self.tray is not None:
            self.tray.hide()


# -- containers worth a notification -------------------------------------------------------

#: After one of these, a container's death was asked for: no alert.
_ASKED_TO_END = frozenset({"kill", "stop"})


@dataclass(frozen=True)
class Alert:
    container_id: str
    title: str
    text: str
    #: When the event happened (the engine's clock, ns).
    time_nano: int
    #: Wait this long for a kill/stop that explains it (Podman sends those after the die).
    confirm_after: float = 0.0


class ContainerAlerts:
    """Which engine events mean a container failed on its own.

    A ``die`` with a non-zero ``exitCode`` is a crash unless somebody asked the
    container to end.  Docker sends ``kill`` (and ``stop``) around the die of a
    container it was told to stop, so a die no kill/stop explains is an alert, to
    confirm a moment later (:meth:`still_standing`).  Podman 4 sends neither: there,
    only the exit code tells, so an exit by SIGINT, SIGKILL or SIGTERM (130, 137,
    143: how a stop ends) raises no alert on any engine — unless an ``oom`` event
    came first, which is its own alert.  ``health_status: unhealthy`` is an alert
    at once.
    """

    #: A kill/stop this close to a die (before or after it) explains the die.
    ASKED_WINDOW_NS = 30 * 1_000_000_000
    #: How long to wait for a kill/stop that comes after the die.
    CONFIRM_SECONDS = 2.0

    #: Exit codes of a process ended by SIGINT, SIGKILL or SIGTERM.
    SIGNALLED = frozenset({"130", "137", "143"})

    def __init__(self) -> None:
        self._asked: dict[str, int] = {}
        self._out_of_memory: set[str] = set()

    def alert(self, event: engine.Event) -> Alert | None:
        """The alert this event may raise, or None."""
        if event.type != "container":
            return None
        name = event.attributes.get("name") or event.actor_id[:12]
        if event.action in _ASKED_TO_END:
            self._asked[event.actor_id] = event.time_nano
            return None
        if event.action == "oom":
            self._out_of_memory.add(event.actor_id)
            return None
        if event.action == "die":
            code = event.attributes.get("exitCode", "0")
            if event.actor_id in self._out_of_memory:
                self._out_of_memory.discard(event.actor_id)
                return Alert(event.actor_id, f"{name} ran out of memory",
                             f"The kernel stopped it (exit code {code}).", event.time_nano)
            if (code in ("", "0") or code in self.SIGNALLED
                    or self._explained(event.actor_id, event.time_nano)):
                return None
            return Alert(event.actor_id, f"{name} stopped unexpectedly",
                         f"It exited with code {code}.", event.time_nano,
                         self.CONFIRM_SECONDS)
        if event.action == "health_status" and event.detail == "unhealthy":
            return Alert(event.actor_id, f"{name} is unhealthy",
                         "Its health check is failing.", event.time_nano)
        return None

    def still_standing(self, alert: Alert) -> bool:
        """Whether no kill/stop has explained ``alert`` since it was raised."""
        return not self._explained(alert.container_id, alert.time_nano)

    def _explained(self, container_id: str, time_nano: int) -> bool:
        asked = self._asked.get(container_id)
        return asked is not None and abs(time_nano - asked) < self.ASKED_WINDOW_NS
