#!/usr/bin/env python3
"""Take the README's push and save/load screenshots in the real window.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/transfer_screenshots.py \\
        --registry 127.0.0.1:5000 --image app:1 [OUT_DIR] [--size 1100x680] [--theme light]

With a registry already listening (plain http on loopback) and a local image
(a layer of a hundred MB or so, so that the push is caught half-way): the push
sheet is filled in (tag for the registry), Tag and push is pressed, and the
window is taken while the layers go up (``push-progress.png``); then the image
is saved to a .tar.gz, its tag removed, and the archive loaded back: the window
is taken with both rows done and the loaded image selected (``save-load.png``).
The pushed and loaded tags are removed afterwards; the image itself is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SETTLE = 0.4


async def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return False


def _newest(window: object, known: set[object]) -> Any:
    [new] = [a for a in window.activity.activities()  # type: ignore[attr-defined]
             if a not in known]
    return new


async def take(args: argparse.Namespace, app: QApplication) -> None:
    import engine
    from app.main_window import MainWindow
    from app.pages.push_dialog import PushDialog
    from app.session import ConnectionState, EngineSession
    from app.settings import THEME, Settings

    width, height = (int(v) for v in args.size.split("x"))
    settings = Settings(QSettings(str(Path(args.state) / "shots.ini"),
                                  QSettings.Format.IniFormat))
    settings.set(THEME, args.theme)
    session = EngineSession(None)
    window = MainWindow(session, settings)
    window.resize(width, height)
    window.show()
    session.start()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    page = window.images_page
    source = engine.parse_reference(args.image)
    target = f"{args.registry}/{source.familiar_name.split('/')[-1]}:{source.tag or 'latest'}"
    client, _ = await engine.discover()
    try:
        if not await _wait(lambda: session.status.state == ConnectionState.CONNECTED, 20):
            raise SystemExit("no engine")
        window.sidebar.setCurrentRow(window.pages.indexOf(page))
        page.splitter.setSizes([90, 200])  # room for the activity rows below
        await _wait(lambda: page.model.rowCount() > 0, 10)
        page.search.setText(source.familiar_name.split("/")[-1])
        await asyncio.sleep(SETTLE)
        page.table.selectRow(0)
        dialog = page.push_selected()
        assert isinstance(dialog, PushDialog)
        dialog.registry.setText(args.registry)
        await asyncio.sleep(SETTLE)
        dialog.ok.click()
        [push] = window.activity.activities()
        push.show_log()
        if not await _wait(lambda: "MB sent" in push.status.text()
                           and 300 <= push.progress.value() <= 800, 120):
            print("push never caught half-way; taking it as it is")
        window.grab().save(str(out / "push-progress.png"))
        print(out / "push-progress.png")
        await _wait(lambda: push.done, 300)
        push.toggle.setChecked(False)
        archive = Path(args.state) / f"{source.familiar_name.split('/')[-1]}.tar.gz"
        page.save_requested.emit([source.familiar], archive)
        save = _newest(window, {push})
        await _wait(lambda: save.done, 300)
        await client.remove_image(source.familiar)
        await asyncio.sleep(1.0)
        page.search.clear()
        page.load_requested.emit(archive)
        load = _newest(window, {push, save})
        await _wait(lambda: load.done, 300)
        await _wait(lambda: bool(page.selected_items()), 20)
        await asyncio.sleep(SETTLE)
        window.grab().save(str(out / "save-load.png"))
        print(out / "save-load.png")
    finally:
        window.close()
        with contextlib.suppress(engine.EngineError):
            await client.remove_image(target)
        await client.aclose()
        await session.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--registry", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--size", default="1100x820")
    parser.add_argument("--theme", default="light")
    args = parser.parse_args()
    from app.event_loop import make_event_loop

    app = QApplication(sys.argv[:1])
    app.setApplicationName("Dockyard")
    app.setQuitOnLastWindowClosed(False)
    loop = make_event_loop(app)
    with tempfile.TemporaryDirectory(prefix="dockyard-shots-") as state, loop:
        args.state = state
        loop.run_until_complete(take(args, app))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
