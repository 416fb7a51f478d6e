"""Desktop notifications: only for long activities that end while the window is inactive."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PySide6.QtWidgets import QSystemTrayIcon, QWidget
from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.notifications import Alert, ContainerAlerts, DesktopNotifications, Notification, Notifier
from app.settings import NOTIFY_FAILURES
from app.widgets.activity import Activity
from tests.app.conftest import await_in_qt, wait_connected
from tests.conftest import EngineUnderTest
from tests.waits import poll_until, seconds, wait_ms


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


# -- the desktop's notification service (a real one: dunst, on a private bus) ---------------


@dataclass
class PrivateDesktop:
    address: str
    env: dict[str, str]

    def dunstctl(self, *args: str) -> str:
        return subprocess.run(["dunstctl", *args], env=self.env, capture_output=True,
                              text=True, check=True, timeout=seconds(30)).stdout


def _start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)


@pytest.fixture
def bus() -> Iterator[tuple[str, dict[str, str]]]:
    """A private session bus: nothing of the developer's desktop is touched."""
    if not shutil.which("dbus-daemon"):
        pytest.skip("dbus-daemon is not installed")
    daemon = _start(["dbus-daemon", "--session", "--nofork", "--print-address=1"])
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
    yield address, env
    daemon.terminate()
    daemon.wait(timeout=seconds(10))


@pytest.fixture
def desktop(bus: tuple[str, dict[str, str]]) -> Iterator[PrivateDesktop]:
    """dunst, a real notification service, on its own X display and the private bus."""
    for tool in ("Xvfb", "dunst", "dunstctl"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (./test.sh installs it)")
    address, env = bus
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "800x600x24"],
                            pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as display:
        env["DISPLAY"] = f":{display.readline().strip()}"
    dunst = _start(["dunst"], env)
    private = PrivateDesktop(address, env)
    poll_until(lambda: subprocess.run(["dunstctl", "is-paused"], env=env,
                                      capture_output=True).returncode == 0,
               10, what="dunst on the private bus")
    yield private
    dunst.terminate()
    dunst.wait(timeout=seconds(10))
    xvfb.terminate()
    xvfb.wait(timeout=seconds(10))


def test_desktop_service_shows_the_notification_and_a_click_brings_the_window_back(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, window: QWidget, elsewhere: QWidget,
    desktop: PrivateDesktop,
) -> None:
    service = DesktopNotifications(desktop.address)
    notifier = Notifier(window, min_seconds=0, desktop=service)
    with qtbot.waitSignal(notifier.notified, timeout=wait_ms(20)) as blocker:
        assert notifier.notify("web-1 stopped unexpectedly", "It exited with code 3.", False)
    assert blocker.args == [Notification("web-1 stopped unexpectedly", "It exited with code 3.",
                                         False, shown=True, via="desktop")]
    assert desktop.dunstctl("count", "displayed").strip() == "1"
    desktop.dunstctl("action", "0")  # a click on it: its default action
    qtbot.waitUntil(window.isActiveWindow, timeout=wait_ms(20))
    desktop.dunstctl("close-all")
    shown = json.loads(desktop.dunstctl("history"))["data"][0][0]
    assert (shown["summary"]["data"], shown["body"]["data"]) == (
        "web-1 stopped unexpectedly", "It exited with code 3.")
    assert (shown["appname"]["data"], shown["default_action_name"]["data"]) == (
        "Dockyard", "default")
    await_in_qt(qtbot, service.aclose())


def test_without_a_notification_service_the_tray_is_used(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, window: QWidget, elsewhere: QWidget,
    bus: tuple[str, dict[str, str]],
) -> None:
    for address in (bus[0], "unix:path=/nonexistent/bus"):
        service = DesktopNotifications(address)
        notifier = Notifier(window, min_seconds=0, desktop=service)
        with qtbot.waitSignal(notifier.notified, timeout=wait_ms(20)) as blocker:
            notifier.notify("Pull busybox finished", "Pulled busybox.", True)
        tray = QSystemTrayIcon.isSystemTrayAvailable()
        assert blocker.args == [Notification("Pull busybox finished", "Pulled busybox.", True,
                                             shown=tray, via="tray" if tray else "")]
        assert notifier.desktop is None  # asked once; the tray from now on
        await_in_qt(qtbot, service.aclose())


# -- which container events are worth one ----------------------------------------------------


def event(action: str, seconds: float, detail: str = "", **attributes: str) -> engine.Event:
    return engine.Event("container", action, "c0ffee" * 10, {"name": "web-1", **attributes},
                        int(seconds * 1e9), detail)


def said(alert: Alert | None) -> tuple[str, str] | None:
    return None if alert is None else (alert.title, alert.text)


def test_a_crash_alerts_and_a_stop_does_not() -> None:
    alerts = ContainerAlerts()
    crash = alerts.alert(event("die", 10, exitCode="3"))
    assert said(crash) == ("web-1 stopped unexpectedly", "It exited with code 3.")
    assert crash is not None and crash.confirm_after > 0 and alerts.still_standing(crash)
    assert alerts.alert(event("die", 20, exitCode="0")) is None  # finished its work
    assert alerts.alert(event("kill", 30, signal="15")) is None  # Docker: kill, then die
    assert alerts.alert(event("die", 31, exitCode="143")) is None
    late = alerts.alert(event("die", 200, exitCode="2"))  # a stop long ago explains
    assert said(late) == ("web-1 stopped unexpectedly", "It exited with code 2.")
    assert late is not None and alerts.still_standing(late)
    assert alerts.alert(event("stop", 200.5)) is None  # a stop just after: it explains
    assert not alerts.still_standing(late)
    # Podman 4 announces no stop: a SIGTERM/SIGKILL exit is how a stop ends, no alert…
    assert alerts.alert(event("die", 300, exitCode="137")) is None
    # …unless the kernel's OOM killer sent the SIGKILL.
    assert alerts.alert(event("oom", 400)) is None
    assert said(alerts.alert(event("die", 400.1, exitCode="137"))) == (
        "web-1 ran out of memory", "The kernel stopped it (exit code 137).")
    unhealthy = alerts.alert(event("health_status", 50, detail="unhealthy"))
    assert said(unhealthy) == ("web-1 is unhealthy", "Its health check is failing.")
    assert unhealthy is not None and unhealthy.confirm_after == 0
    assert alerts.alert(event("health_status", 51, detail="healthy")) is None
    assert alerts.alert(engine.Event("image", "delete", "sha256:1", {}, 0)) is None


# -- the window: a crashing container, seen from the engine's event stream ------------------


def test_the_window_notifies_when_a_container_crashes_and_not_when_stopped(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, elsewhere: QWidget,
) -> None:
    session = make_session(any_engine.url)
    main = MainWindow(session)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main, timeout=wait_ms(10))
    activate(qtbot, elsewhere)
    session.start()
    wait_connected(qtbot, session)
    seen: list[Notification] = []
    main.notifier.notified.connect(seen.append)

    _, stopped = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", stopped)
    any_engine.cli("stop", "-t", "1", stopped)  # asked to end: exit 137/143, no alert
    _, crashing = any_engine.create(any_engine.image, "sh", "-c", "sleep 1; exit 3")
    with qtbot.waitSignal(main.notifier.notified, timeout=wait_ms(30)):
        any_engine.cli("start", crashing)
    assert [(n.title, n.text, n.succeeded) for n in seen] == [
        (f"{crashing} stopped unexpectedly", "It exited with code 3.", False)]

    main.settings.set(NOTIFY_FAILURES, False)  # the setting turns them off
    _, again = any_engine.create(any_engine.image, "sh", "-c", "exit 4")
    any_engine.cli("start", again)
    any_engine.cli("wait", again)
    # Podman 4.3 names a container's removal "remove", Docker "destroy".
    with qtbot.waitSignal(session.eventReceived, timeout=wait_ms(10),
                          check_params_cb=lambda e: e.action in ("destroy", "remove")):
        any_engine.cli("rm", again)
    assert len(seen) == 1
    main.settings.set(NOTIFY_FAILURES, True)
