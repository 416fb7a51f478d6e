"""Desktop notifications: only for long activities that end while the window is inactive."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QSystemTrayIcon, QWidget
from pytestqt.qtbot import QtBot

from app.notifications import Notification, Notifier
from app.widgets.activity import Activity
from tests.waits import wait_ms


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def shown_window(qtbot: QtBot, name: str) -> QWidget:
    widget = QWidget()
    widget.setObjectName(name)
    widget.setWindowTitle(name)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget, timeout=wait_ms(5))
    return widget


def activate(qtbot: QtBot, widget: QWidget) -> None:
    widget.activateWindow()
    qtbot.waitUntil(widget.isActiveWindow, timeout=wait_ms(5))


@pytest.fixture
def window(qtbot: QtBot) -> QWidget:
    return shown_window(qtbot, "main")


@pytest.fixture
def elsewhere(qtbot: QtBot, window: QWidget) -> Iterator[QWidget]:
    """Another window has the focus: the main window is shown but not active."""
    other = shown_window(qtbot, "elsewhere")
    activate(qtbot, other)
    assert not window.isActiveWindow()
    yield other


def test_active_window_gets_no_notification(qtbot: QtBot, window: QWidget) -> None:
    activate(qtbot, window)
    notifier = Notifier(window, min_seconds=0)
    assert notifier.notify("Pull busybox:latest finished", "Pulled busybox:latest.", True) is False
    assert notifier.last is None
    assert notifier.tray is None  # nothing created for nothing


def test_inactive_window_gets_the_exact_message(
    qtbot: QtBot, window: QWidget, elsewhere: QWidget,
) -> None:
    notifier = Notifier(window, min_seconds=0)
    with qtbot.waitSignal(notifier.notified, timeout=wait_ms(5)) as blocker:
        assert notifier.notify("Build app:1 finished", "Built sha256:0123456789ab.", True)
    expected = Notification("Build app:1 finished", "Built sha256:0123456789ab.", True,
                            shown=QSystemTrayIcon.isSystemTrayAvailable())
    assert blocker.args == [expected]
    assert notifier.last == expected
    # Offscreen there is no tray: the message is recorded and no tray icon is made.
    assert (notifier.tray is not None) == expected.shown


def test_long_activity_finishing_while_away_notifies(
    qtbot: QtBot, window: QWidget, elsewhere: QWidget,
) -> None:
    clock = Clock()
    notifier = Notifier(window, min_seconds=5, clock=clock)
    activity = Activity("Pull busybox:latest")
    qtbot.addWidget(activity)
    notifier.watch(activity)
    clock.now += 30
    activity.finish(True, "Pulled busybox:latest.")
    assert notifier.last is not None
    assert (notifier.last.title, notifier.last.text, notifier.last.succeeded) == (
        "Pull busybox:latest finished", "Pulled busybox:latest.", True)


def test_failed_activity_says_failed(qtbot: QtBot, window: QWidget, elsewhere: QWidget) -> None:
    clock = Clock()
    notifier = Notifier(window, min_seconds=5, clock=clock)
    activity = Activity("Build app:1")
    qtbot.addWidget(activity)
    notifier.watch(activity)
    clock.now += 5
    activity.finish(False, "Step 2/3: RUN false\nFailed (Dockerfile line 2): exit code 1")
    assert notifier.last == Notification(
        "Build app:1 failed", "Step 2/3: RUN false\nFailed (Dockerfile line 2): exit code 1",
        False, shown=QSystemTrayIcon.isSystemTrayAvailable())


def test_short_activity_is_not_worth_a_notification(
    qtbot: QtBot, window: QWidget, elsewhere: QWidget,
) -> None:
    clock = Clock()
    notifier = Notifier(window, min_seconds=5, clock=clock)
    activity = Activity("Pull busybox:latest")
    qtbot.addWidget(activity)
    notifier.watch(activity)
    clock.now += 4.9
    activity.finish(True, "Pulled busybox:latest.")
    assert notifier.last is None


def test_activity_ending_while_window_is_active_is_quiet(qtbot: QtBot, window: QWidget) -> None:
    activate(qtbot, window)
    clock = Clock()
    notifier = Notifier(window, min_seconds=5, clock=clock)
    activity = Activity("Pull busybox:latest")
    qtbot.addWidget(activity)
    notifier.watch(activity)
    clock.now += 60
    activity.finish(True, "Pulled busybox:latest.")
    assert notifier.last is None
