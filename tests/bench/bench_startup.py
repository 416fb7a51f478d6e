"""Start-up: time to a populated Dockyard window vs time to a bare PySide6 window.

Both are measured as whole fresh processes (interpreter, imports, first show),
median of several runs, in the same run of this script.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BARE = """
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QTableView
app = QApplication([])
window = QMainWindow()
window.setCentralWidget(QTableView())
window.show()
QTimer.singleShot(0, app.quit)
app.exec()
"""

DOCKYARD = """
import asyncio, sys
import qasync
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

async def until_populated() -> None:
    session.start()
    while window.containers_page.model.rowCount() < expected:
        await asyncio.sleep(0.001)
    await session.aclose()

with loop:
    loop.run_until_complete(until_populated())
"""


def timed(script: str, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", script, *args], check=True, cwd=REPO)
    return time.perf_counter() - start


def main(runs: int = 7) -> None:
    count = subprocess.run(["docker", "ps", "-aq"], capture_output=True, text=True,
                           check=True).stdout.split()
    timed(BARE)  # warm the file cache for both
    timed(DOCKYARD, str(len(count)))
    bare = statistics.median(timed(BARE) for _ in range(runs))
    dockyard = statistics.median(timed(DOCKYARD, str(len(count))) for _ in range(runs))
    print(f"containers on the engine:                 {len(count)}")
    print(f"bare PySide6 window shown (median of {runs}):  {bare * 1000:7.1f} ms")
    print(f"Dockyard window populated (median of {runs}): {dockyard * 1000:7.1f} ms")
    print(f"ratio Dockyard / bare PySide6:            {dockyard / bare:7.2f}")


if __name__ == "__main__":
    main()
