"""Progress, Cancel and where to save: what every long file transfer of the window shares.

The volume browser and the container Files tab both show a status line with a
progress bar, stop at the next progress report on Cancel (:class:`Stopper`,
:func:`request_cancel`), and save a folder under a free name (:func:`free_path`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from app.presentation import human_size

#: ``progress(done, total)`` from the engine's calls.
Progress = Callable[[int, int | None], None]


def _progress_text(verb: str, done: int, total: int | None) -> str:
    if total:
        return f"{verb} {human_size(min(done, total))} of {human_size(total)}…"
    return f"{verb} {human_size(done)}…"


class ProgressBox(QWidget):
    """A status line, a progress bar and a Cancel button, for one running task."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel(self)
        self.status.setObjectName(f"{name}-status")
        self.status.setAccessibleName("Status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar(self)
        self.bar.setObjectName(f"{name}-progress")
        self.bar.setAccessibleName("Progress")
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(12)
        self.bar.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)

    def show_progress(self, verb: str, done: int, total: int | None) -> None:
        self.bar.show()
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(min(done / total, 1.0) * 1000))
        else:
            self.bar.setRange(0, 0)
        self.status.setText(_progress_text(verb, done, total))

    def done(self, text: str) -> None:
        self.bar.hide()
        self.status.setText(text)


class Cancelled(Exception):
    """Raised from a progress report after Cancel was pressed.

    Cancel stops an operation at its next progress report instead of cancelling
    its task while it waits on a socket: under qasync, a socket wait cancelled
    mid-read left the loop's notifier for that descriptor broken
    ("InvalidStateError" in ``__notifier_cb_wrapper``), and the next connection
    given the same descriptor — the helper's removal — then waited for an answer
    that had arrived.  Unwinding from a progress call closes everything in order.
    """


#: Seconds after Cancel before the task itself is cancelled (a stalled engine).
HARD_CANCEL_SECONDS = 15.0


def request_cancel(owner: QObject, task: asyncio.Task[Any] | None, stopper: Stopper,
                   status: QLabel, on_hard: Callable[[], object]) -> bool:
    """Cancel, as every transfer of the window does: ``stopper`` makes the task stop at
    its next progress report (see :class:`Cancelled`), the status line says
    "Cancelling…", and if the task has still not ended after
    :data:`HARD_CANCEL_SECONDS` (a stalled engine) it is cancelled and ``on_hard`` runs.

    Returns whether a cancel was asked now (False: nothing runs, or asked already).
    """
    if task is None or task.done() or stopper.requested:
        return False
    stopper.requested = True
    status.setText("Cancelling…")

    def hard() -> None:
        if not task.done():
            task.cancel()
            on_hard()

    QTimer.singleShot(int(HARD_CANCEL_SECONDS * 1000), owner, hard)
    return True


class Stopper:
    """Wraps a progress callback so that it raises :class:`Cancelled` once asked to."""

    def __init__(self, show: Progress) -> None:
        self.show = show
        self.requested = False
        self.done = 0

    def __call__(self, done: int, total: int | None) -> None:
        if self.requested:
            raise Cancelled
        self.done = done
        self.show(done, total)


def free_path(path: Path) -> Path:
    """``path``, or ``name (2)``, ``name (3)``… beside it: a saved folder never replaces
    one of the user's (the folder chooser asks nothing about what is inside)."""
    candidate, number = path, 1
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = path.with_name(f"{path.name} ({number})")
    return candidate
