"""Headless commands import only what they need: checked in a fresh interpreter.

``import engine`` is cheap (names load from their submodules on first use) and the
command modules keep engine names for annotations only, so ``dockyard analyze``
does not pay for the build, compose, registry or Qt code; these tests fail when a
module-level import brings them back.
"""

from __future__ import annotations

import json
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
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
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


def test_analyze_loads_the_layer_code_and_the_client_only(
        docker_engine: EngineUnderTest) -> None:
    code, modules = modules_after("analyze", "-H", docker_engine.url, "--no-cache",
                                  docker_engine.image)
    assert code == 0
    assert {"engine._layers", "engine._client", "httpx"} <= modules
    assert loaded(modules, *NEVER_HEADLESS, "engine._system", "engine._networks") == []


def test_df_loads_no_layer_code(docker_engine: EngineUnderTest) -> None:
    code, modules = modules_after("df", "--json", "-H", docker_engine.url)
    assert code == 0
    assert "engine._system" in modules
    assert loaded(modules, *NEVER_HEADLESS, "engine._layers") == []


def test_the_window_module_loads_neither_qtawesome_nor_the_terminal() -> None:
    """Icons are drawn from qtawesome's font without its Qt layer (qtpy star-imports
    QtOpenGL); the terminal's VT parser loads with the first shell."""
    probe = ("import json, sys; from app.main_window import MainWindow; "
             "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=REPO.parent, check=True, timeout=seconds(120))
    modules = set(json.loads(result.stdout.splitlines()[-1]))
    assert "app.pages.containers" in modules
    assert loaded(modules, "qtawesome", "qtpy", "pyte", "wcwidth", "app.widgets.terminal") == []
