"""Headless commands import only what they need: checked in a fresh interpreter.

``import engine`` is cheap (names load from their submodules on first use) and the
command modules keep engine names for annotations only, so ``dockyard analyze``
does not pay for the build, compose, registry or Qt code; these tests fail when a
module-level import brings them back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import EngineUnderTest
from tests.waits import seconds

REPO = Path(__file__).resolve().parent

#: Loaded by no headless command: the window's libraries and the engine parts for
#: building, pulling, compose, registries, ssh and volume files.
NEVER_HEADLESS = ("PySide6", "qasync", "qtawesome", "jeepney", "pyte", "asyncssh",
                  "engine._build", "engine._compose", "engine._registry", "engine._context",
                  "engine._volume_files", "engine._recreate", "engine._transport.ssh")

PROBE = """
import contextlib, io, json, sys
from app.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exit:
        code = exit.code
# None: a name blocked from importing (engine blocks httpx._main), not a module loaded
print(json.dumps({"code": code, "modules": sorted(k for k, v in sys.modules.items() if v)}))
"""


def modules_after(*argv: str) -> tuple[int, set[str]]:
    """Run ``dockyard ARGV`` in a fresh interpreter: (exit code, the modules it imported)."""
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True,
                            text=True, cwd=REPO.parent, check=True, timeout=seconds(120))
    report = json.loads(result.stdout.splitlines()[-1])
    return report["code"], set(report["modules"])


def loaded(modules: set[str], *packages: str) -> list[str]:
    return sorted(m for m in modules if m in packages or m.startswith(
        tuple(f"{p}." for p in packages)))


def test_help_and_argument_errors_load_no_engine_code_and_no_http() -> None:
    for argv in (["--help"], ["analyze", "--help"], ["df", "--bogus"]):
        code, modules = modules_after(*argv)
        assert code in (0, 2)
        assert loaded(modules, *NEVER_HEADLESS, "httpx", "httpcore") == [], argv
        assert [m for m in modules if m.startswith("engine.")] == [], argv


#: httpx and what it brings: a local socket's API calls and exports need none of it
#: (rawhttp), and httpx's command-line client (click, rich, pygments) is never loaded.
HTTP_STACK = ("httpx", "httpcore", "anyio", "h11", "sniffio", "click", "rich", "pygments")


def test_analyze_loads_the_layer_code_and_the_client_only(
        docker_engine: EngineUnderTest) -> None:
    for cache in ("--no-cache", None):  # reading the export, then from the layer cache
        argv = ["analyze", "-H", docker_engine.url, docker_engine.image]
        code, modules = modules_after(*argv, *([cache] if cache else []))
        assert code == 0
        assert {"engine._layers", "engine._client"} <= modules
        assert loaded(modules, *NEVER_HEADLESS, "engine._system", "engine._networks",
                      "engine._layers.diff") == [], cache
        if docker_engine.url.startswith("unix://"):  # tcp:// keeps httpx's pool (TLS)
            assert loaded(modules, *HTTP_STACK) == [], cache


def test_df_loads_no_layer_code(docker_engine: EngineUnderTest) -> None:
    code, modules = modules_after("df", "--json", "-H", docker_engine.url)
    assert code == 0
    assert "engine._system" in modules
    assert loaded(modules, *NEVER_HEADLESS, "engine._layers") == []


def test_the_window_module_loads_neither_qtawesome_nor_the_terminal() -> None:
    """Icons are drawn from qtawesome's font without its Qt layer (qtpy star-imports
    QtOpenGL); the terminal's VT parser loads with the first shell."""
    probe = ("import json, sys; from app.main_window import MainWindow; "
             "print(json.dumps(sorted(k for k, v in sys.modules.items() if v)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=REPO.parent, check=True, timeout=seconds(120))
    modules = set(json.loads(result.stdout.splitlines()[-1]))
    assert "app.pages.containers" in modules
    assert loaded(modules, "qtawesome", "qtpy", "pyte", "wcwidth", "app.widgets.terminal") == []


#: What the first window (populated and painted) must not have loaded: dialogs, the
#: terminal, the build, compose-file and registry machinery, the layer analysis and
#: httpx's command-line client.  Each loads when the user first asks for it.
NOT_IN_FIRST_WINDOW = (
    "app.pages.run_dialog", "app.pages.push_dialog", "app.pages.tag_dialog",
    "app.pages.image_diff", "app.widgets.settings_dialog", "app.widgets.build_sheet",
    "app.widgets.compose_sheet", "app.compose_ops", "app.operations",
    "app.widgets.terminal", "pyte", "yaml", "asyncssh", "qtawesome",
    "engine._build", "engine._compose_file", "engine._registry", "engine._run",
    "engine._layers.analysis", "engine._layers.diff", "engine._layers.export",
    "httpx._main", "click", "rich", "pygments",
)

WINDOW_PROBE = """
import asyncio, json, sys
import qasync
from PySide6.QtWidgets import QApplication
from app.main_window import MainWindow
from app.resources import CONTAINERS, IMAGES
from app.session import EngineSession

app = QApplication([])
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
session = EngineSession(sys.argv[1])
window = MainWindow(session)
window.show()

async def until_listed() -> None:
    containers, images = asyncio.Event(), asyncio.Event()
    session.live(CONTAINERS).changed.connect(lambda _items: containers.set())
    session.live(IMAGES).changed.connect(lambda _items: images.set())
    session.start()
    await containers.wait()
    await images.wait()
    # The paint and whatever the lists set off (a start-up's own deferred work, 2 s on,
    # may load more: that is after the first window, and not asked about here).
    await asyncio.sleep(float(sys.argv[2]))
    print(json.dumps({"rows": window.images_page.model.rowCount(),
                      "modules": sorted(k for k, v in sys.modules.items() if v)}))
    await session.aclose()

with loop:
    loop.run_until_complete(asyncio.wait_for(until_listed(), float(sys.argv[3])))
"""


def test_the_first_window_loads_no_dialog_build_compose_or_layer_machinery(
        docker_engine: EngineUnderTest) -> None:
    """The window as a user first sees it, against a real engine: lists loaded and
    painted.  A module-level import of a dialog (or of engine names at import time)
    brings these back, and the start-up benchmark with them (issue 18)."""
    result = subprocess.run(
        [sys.executable, "-c", WINDOW_PROBE, docker_engine.url, str(seconds(0.2)),
         str(seconds(120))], capture_output=True,
        text=True, cwd=REPO.parent, check=True, timeout=seconds(180),
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    report = json.loads(result.stdout.splitlines()[-1])
    modules = set(report["modules"])
    assert report["rows"] > 0  # the engine's images are listed (the test image at least)
    assert {"app.pages.containers", "app.pages.images", "engine._client"} <= modules
    assert loaded(modules, *NOT_IN_FIRST_WINDOW) == []
