#!/usr/bin/env python3
"""Take the README's Swarm screenshots: the real window on the tests' private swarm.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/swarm_screenshots.py [OUT_DIR]
        [--image dockyard-test/busybox:TAG] [--size 1200x720]

As root: starts the private one-node swarm dockerd of the tests (tests/swarm_dockerd.py,
never the main engine), loads IMAGE into it as ``busybox:1.36`` and ``busybox:1.37``,
makes three services (``web``, a ticker of the ``shop`` stack; ``worker``, global;
``broken``, whose task exits 3), and drives the window as a user would: selects
``web``, sets 3 replicas and presses Scale (shot while it scales: swarm-scaling-dark),
rolls the image to 1.37 and presses Roll back (shot once rolled back:
swarm-rollback-dark), opens its Logs tab (swarm-logs-light), and selects ``broken``
(its task history: swarm-failed-light).  Everything goes with the private dockerd.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.swarm_dockerd import PrivateSwarm, private_swarm  # noqa: E402

TICKER = ('i=0; while true; do echo "GET /health 200 $(hostname) req=$i";'
          ' [ $((i % 7)) -eq 3 ] && echo "WARN slow upstream $((i * 13 % 900))ms";'
          ' i=$((i+1)); sleep 0.7; done')


async def until(condition: object, timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def take(out: Path, size: str, swarm: PrivateSwarm, app: QApplication) -> list[Path]:
    from app.desktop_entry import window_icon
    from app.main_window import MainWindow
    from app.pages.swarm import SwarmPage
    from app.session import ConnectionState, EngineSession
    from app.settings import THEME, Settings

    app.setWindowIcon(window_icon())
    width, height = (int(v) for v in size.split("x"))
    state = tempfile.mkdtemp(prefix="dockyard-swarm-shots-")
    settings = Settings(QSettings(str(Path(state) / "s.ini"), QSettings.Format.IniFormat))
    session = EngineSession(swarm.url)
    window = MainWindow(session, settings)
    window.resize(width, height)
    window.show()

    def theme(name: str) -> None:
        """As the Settings dialog does; widgets with a style sheet are re-polished (see
        packaging/screenshots.py)."""
        settings.set(THEME, name)
        for widget in app.allWidgets():
            if widget.styleSheet():
                widget.setStyleSheet(widget.styleSheet())

    theme("dark")
    session.start()
    await until(lambda: session.status.state == ConnectionState.CONNECTED, 30, "the engine")
    page = window.page(SwarmPage)
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    written: list[Path] = []

    def shot(name: str) -> None:
        window.resize(width, height)
        path = out / f"{name}.png"
        if not window.grab().save(str(path)):
            raise SystemExit(f"could not write {path}")
        written.append(path)
        print(path)

    def row(name: str) -> object:
        for r in range(page.model.rowCount()):
            item = page.model.item_at(r)
            if item.name == name:
                return item
        return None

    def select(name: str) -> None:
        proxy = page.table.model()
        for r in range(proxy.rowCount()):
            if proxy.index(r, 0).data() == name:
                page.table.selectRow(r)
                return
        raise SystemExit(f"{name} is not listed")

    await until(lambda: all(row(n) for n in ("web", "worker", "broken")), 60, "the services")
    await until(lambda: row("web").running == 1, 60, "web running")  # type: ignore[attr-defined]
    select("web")
    page.replicas.setValue(3)
    page.scale_button.click()
    await until(lambda: any(t.state in ("preparing", "starting", "assigned", "pending")
                            for t in page.tasks_model.items()), 30, "tasks starting")
    await asyncio.sleep(0.3)
    shot("swarm-scaling-dark")
    await until(lambda: row("web").running == 3, 90, "web at 3/3")  # type: ignore[attr-defined]

    swarm.cli("service", "update", "--detach", "--image", "busybox:1.37", "web")
    await until(lambda: (s := row("web")) is not None and s.update is not None  # type: ignore[attr-defined]
                and s.update.state == "completed", 120, "the update")  # type: ignore[attr-defined]
    await until(page.rollback_button.isEnabled, 30, "Roll back enabled")
    page.rollback_button.click()
    await until(lambda: (s := row("web")) is not None and s.update is not None  # type: ignore[attr-defined]
                and s.update.state == "rollback_completed" and s.running == 3, 120,  # type: ignore[attr-defined]
                "the rollback")
    await asyncio.sleep(0.5)
    shot("swarm-rollback-dark")

    theme("light")
    page.detail_tabs.setCurrentWidget(page.logs)
    await until(lambda: len(page.logs.source_names) >= 3 and len(page.logs.model.lines) > 30,
                60, "the service's log")
    page.logs.flush()
    await asyncio.sleep(0.5)
    shot("swarm-logs-light")

    page.detail_tabs.setCurrentIndex(0)
    select("broken")
    await until(lambda: sum(1 for t in page.tasks_model.items() if t.failed) >= 3, 90,
                "failed tasks of broken")
    await asyncio.sleep(0.4)
    shot("swarm-failed-light")
    await session.aclose()
    window.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--image", default="", help="a local busybox image (the tests' own)")
    parser.add_argument("--size", default="1200x720")
    args = parser.parse_args()
    image = args.image or subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "dockyard-test/busybox"],
        capture_output=True, text=True, check=True).stdout.split()[0]
    from app.event_loop import make_event_loop

    app = QApplication(sys.argv[:1])
    app.setApplicationName("Dockyard")
    app.setQuitOnLastWindowClosed(False)
    with private_swarm() as swarm:
        swarm.load_image(["docker", "save", image])
        for tag in ("busybox:1.36", "busybox:1.37"):
            swarm.cli("tag", image, tag)
        swarm.cli("service", "create", "--detach", "--name", "web", "--replicas", "1",
                  "--label", "com.docker.stack.namespace=shop",
                  "--update-parallelism", "1", "--update-delay", "1s",
                  "busybox:1.36", "sh", "-c", TICKER)
        swarm.cli("service", "create", "--detach", "--name", "worker", "--mode", "global",
                  "busybox:1.36", "sleep", "3600")
        swarm.cli("service", "create", "--detach", "--name", "broken", "--replicas", "1",
                  "--restart-condition", "on-failure", "--restart-delay", "2s",
                  "busybox:1.36", "sh", "-c", "echo connecting to db:5432; sleep 1;"
                  " echo 'FATAL: db: connection refused' >&2; exit 3")
        loop = make_event_loop(app)
        with loop:
            loop.run_until_complete(take(Path(args.out), args.size, swarm, app))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
