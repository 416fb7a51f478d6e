"""What the Volumes and Networks pages' dialogs share: a checked form and a prune preview.

Both are opened with ``open()`` (never ``exec()``) and keep what was typed: a
problem with the input, or the engine's refusal, is said in red inside the
dialog, which stays open; only success closes it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

import engine
from app.session import EngineSession
from app.theme import ERROR_TEXT, text_style

HINT_STYLE = "color: palette(placeholder-text);"

#: An engine call with its arguments bound: what ``session.run`` runs.
Call = Callable[[engine.Engine], Coroutine[Any, Any, Any]]


def parse_pairs(text: str, what: str) -> dict[str, str]:
    """``key=value`` pairs, one a line or comma-separated; raises ValueError naming the bad one.

    A bare ``key`` means an empty value (as ``--label key`` does).
    """
    pairs: dict[str, str] = {}
    for raw in text.replace(",", "\n").splitlines():
        item = raw.strip()
        if not item:
            continue
        key, _, value = item.partition("=")
        key = key.strip()
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"{what}: {item!r} is not key=value")
        pairs[key] = value.strip()
    return pairs


async def _refusal_or_result(client: engine.Engine, call: Call) -> Any:
    """Run ``call``; the engine's refusal is handed back to the dialog, not the message bar."""
    try:
        return await call(client)
    except engine.EngineError as exc:
        return exc


class FormDialog(QDialog):
    """A form whose input is checked as it is typed; the verb runs one engine call.

    Subclasses add rows to ``form``, call :meth:`watch` on their fields, and
    implement :meth:`check` (the problem with the input, or "") and
    :meth:`call` (the engine call to run and how to describe it).
    """

    #: The call's result, once the engine did it.
    succeeded = Signal(object)

    def __init__(self, session: EngineSession, name: str, title: str, verb: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.session = session
        self.verb = verb
        self._key = f"{name}-{id(self)}"
        self._busy = False
        self.form = QFormLayout()
        self.problem_label = QLabel(self)
        self.problem_label.setObjectName(f"{name}-problem")
        self.problem_label.setAccessibleName("Problem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(self)
        self.accept_button = self.buttons.addButton(verb, QDialogButtonBox.ButtonRole.AcceptRole)
        self.accept_button.setObjectName(f"{name}-accept")
        self.accept_button.setAccessibleName(verb)
        self.accept_button.setDefault(True)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setObjectName(f"{name}-cancel")
        cancel.setAccessibleName("Cancel")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def add_row(self, label: str, field: QWidget, name: str, accessible: str) -> None:
        field.setObjectName(name)
        field.setAccessibleName(accessible)
        self.form.addRow(label, field)

    def watch(self, *signals: Any) -> None:
        for signal in signals:
            signal.connect(self.validate)

    # -- to implement ----------------------------------------------------------------

    def check(self) -> str:
        """The problem with the input, or ""."""
        return ""

    def call(self) -> tuple[Call, str]:
        raise NotImplementedError

    # -- flow ------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._busy

    def problem(self) -> str:
        """The message shown when it is a problem (red), else ""."""
        return self.problem_label.text() if self.problem_label.styleSheet() != HINT_STYLE else ""

    def say(self, text: str, *, error: bool) -> None:
        self.problem_label.setStyleSheet(
            text_style(ERROR_TEXT, self.problem_label) if error else HINT_STYLE)
        self.problem_label.setText(text)

    def validate(self, *_args: object) -> bool:
        problem = self.check()
        self.say(problem, error=bool(problem))
        self.accept_button.setEnabled(not problem and not self._busy)
        return not problem

    def accept(self) -> None:
        if self._busy or not self.validate():
            return
        call, describe = self.call()
        self._set_busy(True)
        task = self.session.run(_refusal_or_result, call, key=self._key, describe=describe,
                                on_done=self._finished)
        if task is None:  # not connected: the session said so in the message bar
            self._set_busy(False)
            self.say("Not connected to an engine; nothing was sent.", error=True)

    def reject(self) -> None:
        self.session.cancel(self._key)
        self._busy = False
        super().reject()

    def _finished(self, outcome: Any) -> None:
        if not shiboken6.isValid(self):  # closed with the window meanwhile
            return
        self._set_busy(False)
        if isinstance(outcome, engine.EngineError):
            self.say(f"The engine refused: {outcome}", error=True)
            return
        self.succeeded.emit(outcome)
        super().accept()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.accept_button.setText(f"{self.verb.rstrip('e')}ing…" if busy else self.verb)
        self.accept_button.setEnabled(not busy and not self.check())


@dataclass(frozen=True)
class PreviewItem:
    """One line of a prune preview: what goes, and its bytes where known."""

    name: str
    detail: str = ""


@dataclass(frozen=True)
class PrunePlan:
    """What the preview shows and how to carry it out."""

    items: Sequence[PreviewItem]
    #: One sentence: how many, how many bytes, and which kind of prune it is.
    summary: str
    #: Removes exactly what was shown; its result goes to the page.
    prune: Call
    verb: str


@dataclass(frozen=True)
class PruneMode:
    key: str
    label: str
    #: Reads the plan for this mode (an engine call returning a :class:`PrunePlan`).
    plan: Call


class PruneDialog(QDialog):
    """A preview of exactly what a prune removes; nothing is removed before the verb.

    With more than one mode (anonymous only / all unused) each is a radio button,
    and the preview is read again for the mode chosen; the verb stays disabled
    until the preview of the chosen mode is shown.
    """

    pruned = Signal(object)

    def __init__(self, session: EngineSession, name: str, title: str,
                 modes: Sequence[PruneMode], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.session = session
        self.modes = list(modes)
        self.plan: PrunePlan | None = None
        self._key = f"{name}-{id(self)}"
        self._mode = self.modes[0].key
        layout = QVBoxLayout(self)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        if len(self.modes) > 1:
            for mode in self.modes:
                radio = QRadioButton(mode.label, self)
                radio.setObjectName(f"{name}-mode-{mode.key}")
                radio.setAccessibleName(mode.label)
                self.mode_group.addButton(radio)
                self.mode_buttons[mode.key] = radio
                layout.addWidget(radio)
            self.mode_buttons[self._mode].setChecked(True)
            self.mode_group.buttonToggled.connect(self._mode_toggled)
        self.summary = QLabel(self)
        self.summary.setObjectName(f"{name}-summary")
        self.summary.setAccessibleName("What the prune removes")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.items_list = QListWidget(self)
        self.items_list.setObjectName(f"{name}-items")
        self.items_list.setAccessibleName("Items the prune removes")
        self.buttons = QDialogButtonBox(self)
        self.prune_button: QPushButton = self.buttons.addButton(
            "Prune", QDialogButtonBox.ButtonRole.AcceptRole)
        self.prune_button.setObjectName(f"{name}-accept")
        self.prune_button.setAccessibleName("Prune")
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setObjectName(f"{name}-cancel")
        cancel.setAccessibleName("Cancel")
        # Cancel is the default: Enter never destroys.
        cancel.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.summary)
        layout.addWidget(self.items_list, 1)
        layout.addWidget(self.buttons)
        self.setMinimumSize(520, 360)
        self._read_plan()

    @property
    def mode(self) -> str:
        return self._mode

    def choose(self, key: str) -> None:
        self.mode_buttons[key].setChecked(True)

    def _mode_toggled(self, button: QRadioButton, checked: bool) -> None:
        if checked:
            self._mode = next(k for k, b in self.mode_buttons.items() if b is button)
            self._read_plan()

    def _read_plan(self) -> None:
        self.plan = None
        self.items_list.clear()
        self.prune_button.setEnabled(False)
        self.summary.setStyleSheet("")
        self.summary.setText("Looking at what a prune would remove…")
        mode = next(m for m in self.modes if m.key == self._mode)
        task = self.session.run(_refusal_or_result, mode.plan, key=self._key,
                                describe="preview the prune",
                                on_done=lambda plan: self._show_plan(mode.key, plan))
        if task is None:
            self._say_problem("Not connected to an engine.")

    def _say_problem(self, text: str) -> None:
        self.summary.setStyleSheet(text_style(ERROR_TEXT, self.summary))
        self.summary.setText(text)

    def _show_plan(self, mode: str, plan: PrunePlan | engine.EngineError) -> None:
        if not shiboken6.isValid(self) or mode != self._mode:
            return  # a preview for the mode no longer chosen
        if isinstance(plan, engine.EngineError):
            self._say_problem(f"Could not preview the prune: {plan}")
            return
        self.plan = plan
        self.summary.setText(plan.summary)
        for item in plan.items:
            self.items_list.addItem(f"{item.name}    {item.detail}".rstrip())
        self.prune_button.setText(plan.verb)
        self.prune_button.setEnabled(bool(plan.items))

    def accept(self) -> None:
        plan = self.plan
        if plan is None or not plan.items:
            return
        self.prune_button.setEnabled(False)
        self.prune_button.setText("Pruning…")
        for button in self.mode_buttons.values():
            button.setEnabled(False)
        task = self.session.run(_refusal_or_result, plan.prune, key=self._key,
                                describe="prune", on_done=self._finished)
        if task is None:
            self._say_problem("Not connected to an engine; nothing was removed.")

    def reject(self) -> None:
        self.session.cancel(self._key)
        super().reject()

    def _finished(self, result: Any) -> None:
        if not shiboken6.isValid(self):
            return
        if isinstance(result, engine.EngineError):
            for button in self.mode_buttons.values():
                button.setEnabled(True)
            self._say_problem(f"The engine refused: {result}")
            if self.plan is not None:
                self.prune_button.setText(self.plan.verb)
                self.prune_button.setEnabled(True)
            return
        self.pruned.emit(result)
        super().accept()
