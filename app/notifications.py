"""A desktop notification when a long pull or build ends while you are looking elsewhere.

:class:`Notifier` watches activities (:class:`~app.widgets.activity.Activity`);
when one that ran for at least ``min_seconds`` finishes and the main window is
not the active window, it shows a message through the system tray
(``QSystemTrayIcon.showMessage``, which Qt sends to the desktop's notification
service where there is one).  The tray icon is created on the first message,
shown only while a message may be on screen, and clicking the message brings
the window back.  Where no system tray exists (offscreen, some Wayland
desktops) nothing is shown, but the message is still recorded in
:attr:`Notifier.last`, as it is everywhere, so tests can see the decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from app.widgets.activity import Activity

LONG_OPERATION_SECONDS = 5.0
MESSAGE_MSECS = 10_000


@dataclass(frozen=True)
class Notification:
    title: str
    text: str
    succeeded: bool
    shown: bool  # False when there is no system tray to show it in


class Notifier(QObject):
    notified = Signal(object)  # Notification

    def __init__(
        self, window: QWidget, icon: QIcon | None = None, *,
        min_seconds: float = LONG_OPERATION_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent if parent is not None else window)
        self.window = window
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
        """Show ``title``/``text`` unless the window is active; returns whether it notified."""
        if self.window_is_active():
            return False
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
        self.last = Notification(title, text, succeeded, shown)
        self.notified.emit(self.last)
        return True

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
