"""Questions that never block: a box opened with ``open()`` that calls back on its verb.

Every question in Dockyard goes through :func:`ask`.  ``QMessageBox.question`` and
``exec()`` run a nested Qt event loop; opened from inside an asyncio task (or
anything a task calls) that loop re-enters the task machinery, and every live
update of the window dies with "Cannot enter into task … while another task …
is being executed" (issue 12.1).  A box opened with ``open()`` returns at once,
so it is safe from anywhere; the caller continues in ``on_yes``.

The affirmative button names its verb ("Remove", "Recreate"), as the platform
guidelines ask, instead of Yes/No; Cancel is the default, so Enter never destroys.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget


def ask(
    parent: QWidget, title: str, text: str, verb: str, on_yes: Callable[[], object], *,
    name: str = "question", icon: QMessageBox.Icon = QMessageBox.Icon.Question,
    checkbox: QCheckBox | None = None,
) -> QMessageBox:
    """Open a window-modal question and return at once; ``on_yes`` runs if ``verb`` is
    pressed.  The box deletes itself when closed."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName(name)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    yes = box.addButton(verb, QMessageBox.ButtonRole.AcceptRole)
    yes.setObjectName(f"{name}-yes")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    if checkbox is not None:
        box.setCheckBox(checkbox)

    def finished(_result: int) -> None:
        if box.clickedButton() is yes:
            on_yes()

    box.finished.connect(finished)
    box.open()
    return box
