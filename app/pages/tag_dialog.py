"""The Images page's "Tag…" dialog: a new name for an image, checked as it is typed.

The name is parsed with the engine's own :func:`engine.parse_reference` on every
keystroke; a problem shows in red under the field and disables Tag, so an
invalid name is never sent.  The tag goes through the session with the dialog
still open ("Tagging…"); it closes only when the engine has tagged the image.
If the engine refuses (the image was removed meanwhile, …) its words are shown
under the field and the typed name is kept.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

import engine
from app.session import EngineSession, MessageLevel
from app.theme import ERROR_TEXT, text_style

HINT_STYLE = "color: palette(placeholder-text);"


def check_new_name(text: str) -> engine.ImageReference:
    """The reference a new tag names; raises :class:`engine.InvalidReference` with the reason."""
    ref = engine.parse_reference(text)
    if ref.digest is not None:
        raise engine.InvalidReference(
            f"{text.strip()!r}: a new name cannot have a digest (@…); give it a :tag instead")
    return ref


class TagDialog(QDialog):
    """One line for the new name, its problem (or what it will be) underneath."""

    #: Emitted with the new familiar name (``team/app:2``) once the engine tagged it.
    tagged = Signal(str)

    def __init__(self, session: EngineSession, source: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tag-dialog")
        self.setWindowTitle("Tag image")
        self.setAccessibleName(f"Tag {source}")
        self.session = session
        self.source = source
        self._key = f"tag-dialog-{id(self)}"
        self._busy = False
        self._ref: engine.ImageReference | None = None

        prompt = QLabel(f"New name for {source}:", self)
        prompt.setWordWrap(True)
        self.name = QLineEdit(self)
        self.name.setObjectName("tag-name")
        self.name.setAccessibleName("New name")
        self.name.setPlaceholderText("name:tag, e.g. team/app:1.0 or registry:5000/app:1.0")
        prompt.setBuddy(self.name)
        self.hint = QLabel(self)
        self.hint.setObjectName("tag-hint")
        self.hint.setAccessibleName("Name problem")
        self.hint.setWordWrap(True)
        self.hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(self)
        self.tag_button = self.buttons.addButton("Tag", QDialogButtonBox.ButtonRole.AcceptRole)
        self.tag_button.setObjectName("tag-accept")
        self.tag_button.setAccessibleName("Tag")
        self.tag_button.setDefault(True)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setObjectName("tag-cancel")
        cancel.setAccessibleName("Cancel")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(prompt)
        layout.addWidget(self.name)
        layout.addWidget(self.hint)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)

        self.name.textChanged.connect(self._validate)
        # An untagged image is known by its ID, which is no name to start from.
        self.name.setText("" if source.startswith("sha256:") else source)
        self.name.selectAll()
        self._validate()

    @property
    def busy(self) -> bool:
        return self._busy

    def problem(self) -> str:
        """The message under the field when it is a problem (red), else ""."""
        return self.hint.text() if self.hint.styleSheet() != HINT_STYLE else ""

    def _say(self, text: str, *, error: bool) -> None:
        self.hint.setStyleSheet(text_style(ERROR_TEXT, self.hint) if error else HINT_STYLE)
        self.hint.setText(text)
        self.hint.setVisible(bool(text))

    def _validate(self) -> None:
        text = self.name.text()
        self._ref = None
        if not text.strip():
            self._say("Type the new name, e.g. team/app:1.0", error=False)
        else:
            try:
                ref = check_new_name(text)
            except engine.InvalidReference as exc:
                self._say(str(exc), error=True)
            else:
                if ref.familiar == self.source or ref.normalized == self.source:
                    self._say("That is already its name", error=False)
                else:
                    self._ref = ref
                    self._say(f"Will tag as {ref.normalized}", error=False)
        self.tag_button.setEnabled(self._ref is not None and not self._busy)

    def accept(self) -> None:
        ref = self._ref
        if self._busy or ref is None:
            return
        self._set_busy(True)
        task = self.session.run(
            partial(_tag_or_refusal, self.source, ref.familiar_name, ref.tag or "latest"),
            key=self._key, describe=f"tag {self.source} as {ref.familiar}",
            on_done=partial(self._finished, ref))
        if task is None:  # not connected: the session said so in the message bar
            self._set_busy(False)
            self._say("Not connected to an engine; nothing was sent.", error=True)

    def reject(self) -> None:
        self.session.cancel(self._key)  # a tag is one request: it happened or it did not
        self._busy = False
        super().reject()

    def _finished(self, ref: engine.ImageReference, outcome: engine.EngineError | None) -> None:
        self._set_busy(False)
        if outcome is not None:
            self._say(f"The engine refused: {outcome}", error=True)
            return
        self.session.message.emit(MessageLevel.INFO, f"Tagged {self.source} as {ref.familiar}")
        self.tagged.emit(ref.familiar)
        super().accept()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.name.setReadOnly(busy)
        self.tag_button.setText("Tagging…" if busy else "Tag")
        if busy:
            self.tag_button.setEnabled(False)
        else:
            # Keep whatever is shown (the engine's refusal); only the button follows the text.
            self.tag_button.setEnabled(self._ref is not None)


async def _tag_or_refusal(source: str, repository: str, tag: str,
                          client: engine.Engine) -> engine.EngineError | None:
    """Tag ``source``; the engine's refusal is handed back to the dialog, not the message bar."""
    try:
        await client.tag_image(source, repository, tag)
    except engine.EngineError as exc:
        return exc
    return None
