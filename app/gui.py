"""Start the window inside a qasync event loop (asyncio running on Qt's loop)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys

from PySide6.QtWidgets import QApplication


def run_gui(host: str | None, argv: list[str]) -> int:
    from app import error_dialog
    from app.engine_switch import startup_target
    from app.event_loop import make_event_loop
    from app.main_window import MainWindow
    from app.session import EngineSession
    from app.settings import THEME, Settings
    from app.theme import apply_theme

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO: thousands of lines a minute with stats and
    # lists live, which buried the lines that matter (#12.14).
    for chatty in ("httpx", "httpcore", "asyncssh"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv)
    app.setApplicationName("Dockyard")
    app.setOrganizationName("Dockyard")
    app.setDesktopFileName("io.github.dockyard.Dockyard")
    from app.desktop_entry import window_icon

    app.setWindowIcon(window_icon())
    loop = make_event_loop(app)
    error_dialog.install(loop)
    signal.signal(signal.SIGINT, lambda *_: app.quit())

    settings = Settings()
    apply_theme(app, settings.get(THEME))
    app.styleHints().colorSchemeChanged.connect(
        lambda _scheme: apply_theme(app, settings.get(THEME)))
    # The engine chosen last in the window, unless --host, DOCKER_HOST or DOCKER_CONTEXT
    # names one (they win, as for the docker CLI).
    session = EngineSession(host, target=startup_target(host, settings))
    window = MainWindow(session, settings)
    window.show()
    # Qt, PySide and the window are long-lived: keep the collector from walking them
    # again and again. A full collection over them stalled a terminal flood ~40 ms.
    gc.freeze()
    session.start()
    with loop:
        code: int = loop.run_until_complete(_run_until_quit(app))
        loop.run_until_complete(window.engine_switch.aclose())
        loop.run_until_complete(session.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
    return code


async def _run_until_quit(app: QApplication) -> int:
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finish() -> None:
        if not done.done():
            done.set_result(0)

    app.aboutToQuit.connect(finish)
    app.lastWindowClosed.connect(finish)
    return await done


if __name__ == "__main__":
    sys.exit(run_gui(None, sys.argv))
