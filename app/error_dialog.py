"""The last resort: an unexpected exception becomes a dialog with details to copy.

Expected failures never get here; they go to the message bar.  This catches
programming errors so the user sees what happened instead of a dead window.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from types import TracebackType
from typing import Any

from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)


class ErrorDialog(QDialog):
    def __init__(self, summary: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("error-dialog")
        self.setWindowTitle("Dockyard hit an unexpected error")
        label = QLabel(
            f"Something went wrong that Dockyard did not expect:\n{summary}\n\n"
            "Your containers and images are untouched. The details below help us fix it.",
            self,
        )
        label.setWordWrap(True)
        self.details = QPlainTextEdit(details, self)
        self.details.setObjectName("error-details")
        self.details.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QApplication.clipboard().setText(details))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)
        self.resize(640, 420)


_open_dialogs: list[ErrorDialog] = []


def show_unexpected(summary: str, details: str) -> None:
    log.error("unexpected error: %s\n%s", summary, details)
    if QApplication.instance() is None:
        return
    dialog = ErrorDialog(summary, details, QApplication.activeWindow())
    _open_dialogs.append(dialog)
    dialog.finished.connect(lambda _r: _open_dialogs.remove(dialog))
    dialog.show()


def _excepthook(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    details = "".join(traceback.format_exception(kind, value, tb))
    show_unexpected(f"{kind.__name__}: {value}", details)


def _loop_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    if exc is None:
        log.warning("asyncio: %s", context.get("message"))
        return
    show_unexpected(
        f"{type(exc).__name__}: {exc}",
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    )


def install(loop: asyncio.AbstractEventLoop) -> None:
    sys.excepthook = _excepthook
    loop.set_exception_handler(_loop_handler)
