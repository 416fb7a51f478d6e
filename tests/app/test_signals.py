"""Guards the Qt binding itself: PySide6 6.12.0 on Python 3.11 corrupts reference counts
on every signal emission and aborts the process after a few thousand (a shell session
or a busy log reaches that in seconds)."""

from __future__ import annotations

import subprocess
import sys

from tests.waits import seconds

SCRIPT = """
import sys
from PySide6.QtCore import QObject, Signal
from PySide6.QtCore import QCoreApplication
app = QCoreApplication([])
class Emitter(QObject):
    data = Signal(bytes)
emitter = Emitter()
received = []
emitter.data.connect(received.append)
for _ in range(20000):
    emitter.data.emit(b"x")
print(len(received))
"""


def test_many_signal_emissions_do_not_crash() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=seconds(60), check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "20000"
