"""Start-up: time to a populated Dockyard window vs time to a bare PySide6 window.

Both are measured as whole fresh processes (interpreter, imports, first paint),
alternating, median wall and CPU time of several runs, in the same run of this
script.  The bare window quits after its first paint; Dockyard's after the first
paint of its containers table once it holds every container the engine has (the
populated window a user sees).  CPU time is the figure to compare on a busy
machine: the wall time moves with the load.  The issue's goal: ratio <= 2.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from _common import load, timed_process

REPO = Path(__file__).resolve().parents[2]

BARE = """
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QMainWindow, QTableView

class QuitOnPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and watched is table.viewport():
            app.quit()
        return False

app = QApplication([])
window = QMainWindow()
table = QTableView()
window.setCentralWidget(table)
table.viewport().installEventFilter(QuitOnPaint(app))
window.show()
app.exec()
"""

DOCKYARD = """
import asyncio, sys
import qasync
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
from app.main_window import MainWindow
from app.session import EngineSession

app = QApplication([])
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
session = EngineSession()
window = MainWindow(session)
window.show()
expected = int(sys.argv[1])

async def until_populated_and_painted() -> None:
    session.start()
    while window.containers_page.model.rowCount() < expected:
        await asyncio.sleep(0.001)
    painted = asyncio.Event()
    viewport = window.containers_page.tree.viewport()

    class SetOnPaint(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint and watched is viewport:
                painted.set()
            return False

    viewport.installEventFilter(SetOnPaint(viewport))
    viewport.update()
    await painted.wait()
    await session.aclose()

with loop:
    loop.run_until_complete(until_populated_and_painted())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    count = len(subprocess.run(["docker", "ps", "-aq"], capture_output=True, text=True,
                               check=True).stdout.split())
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "bare PySide6 window painted": [sys.executable, "-c", BARE],
        "Dockyard window populated+painted": [sys.executable, "-c", DOCKYARD, str(count)],
    }
    for command in commands.values():  # warm the file and bytecode caches
        timed_process(command, cwd=REPO)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(timed_process(command, cwd=REPO))
    wall = {name: statistics.median(w for w, _ in s) for name, s in samples.items()}
    cpu = {name: statistics.median(c for _, c in s) for name, s in samples.items()}
    print(load())
    print(f"containers on the engine: {count}")
    print(f"{'':36s} {'wall ms':>8} {'CPU ms':>8}  (median of {runs})")
    for name in commands:
        print(f"{name:36s} {wall[name] * 1000:8.1f} {cpu[name] * 1000:8.1f}")
    bare, ours = "bare PySide6 window painted", "Dockyard window populated+painted"
    print(f"ratio Dockyard / bare PySide6: wall {wall[ours] / wall[bare]:.2f},"
          f" CPU {cpu[ours] / cpu[bare]:.2f} (goal <= 2)")


if __name__ == "__main__":
    main()
