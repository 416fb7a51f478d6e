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

from jeepney import DBusAddress, MatchRule, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.asyncio import DBusRouter, open_dbus_router
from PySide6.QtCore import QObject, QTimer, Signal
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

    def notify(self, title: str, text: str, succeeded: bool) -> bool:
        """Show ``title``/``text`` unless the window is active; returns whether it notified.

        Through the desktop's service, the message is sent in the background and
        :attr:`notified` follows when the service has taken it (or the tray has).
        """
        if self.window_is_active():
            return False
        if self.desktop is not None:
            task = asyncio.ensure_future(self._send(self.desktop, title, text, succeeded))
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


class ContainerAlerts:
    """Which engine events mean a container failed on its own.

    Docker and Podman send ``kill`` (and Docker ``stop``) before the ``die`` of a
    container somebody stopped; a ``die`` with a non-zero ``exitCode`` and no such
    event shortly before it is a crash.  An ``health_status: unhealthy`` event
    is one too.
    """

    #: How long a kill/stop explains a die that follows.
    ASKED_WINDOW_NS = 60 * 1_000_000_000

    def __init__(self) -> None:
        self._asked: dict[str, int] = {}

    def alert(self, event: engine.Event) -> tuple[str, str] | None:
        """A (title, text) to notify about, or None."""
        if event.type != "container":
            return None
        name = event.attributes.get("name") or event.actor_id[:12]
        if event.action in _ASKED_TO_END:
            self._asked[event.actor_id] = event.time_nano
            return None
        if event.action == "die":
            asked = self._asked.pop(event.actor_id, None)
            code = event.attributes.get("exitCode", "0")
            if code in ("", "0") or (
                    asked is not None and event.time_nano - asked < self.ASKED_WINDOW_NS):
                return None
            return f"{name} stopped unexpectedly", f"It exited with code {code}."
        if event.action == "health_status" and event.detail == "unhealthy":
            return f"{name} is unhealthy", "Its health check is failing."
        if event.action == "destroy":
            self._asked.pop(event.actor_id, None)
        return None
