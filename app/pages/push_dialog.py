"""The push sheet: name the image for a registry (tag it) and push it, with a login.

One sheet does both steps a push needs: the registry, repository and tag fields
make the name it is pushed as (checked as typed, shown in full), and the image
is tagged with that name first when it differs from the selected one.  The
login is the docker CLI's saved one unless a user name and password are typed
here; "Save login" stores those where ``docker login`` would (a credential
helper, else ``config.json``).  Nothing is done inside the dialog: it says what
was chosen through :attr:`PushDialog.chosen` and closes.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

import engine
from app.theme import ERROR_TEXT, text_style

#: The registry typed last in this run, offered again for the next push.
_last_registry = ""


class PushDialog(QDialog):
    #: (source, target reference, username, password, save the login)
    chosen = Signal(str, str, str, str, bool)

    def __init__(self, source: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("push-dialog")
        self.setWindowTitle(f"Push {source}")
        self.source = source
        try:
            ref = engine.parse_reference(source)
        except engine.InvalidReference:
            ref = None
        on_hub = ref is None or ref.registry == "docker.io"
        self.registry = QLineEdit(_last_registry if on_hub else ref.registry if ref else "",
                                  self)
        self.registry.setObjectName("push-registry")
        self.registry.setAccessibleName("Registry")
        self.registry.setPlaceholderText("127.0.0.1:5000, ghcr.io, docker.io")
        self.repository = QLineEdit(self._repository_of(ref) if ref else "", self)
        self.repository.setObjectName("push-repository")
        self.repository.setAccessibleName("Repository")
        self.tag = QLineEdit((ref.tag if ref and ref.tag else "latest"), self)
        self.tag.setObjectName("push-tag")
        self.tag.setAccessibleName("Tag")
        self.target_label = QLabel(self)
        self.target_label.setObjectName("push-target")
        self.target_label.setWordWrap(True)
        self.username = QLineEdit(self)
        self.username.setObjectName("push-username")
        self.username.setAccessibleName("User name")
        self.username.setPlaceholderText("the saved login, if any")
        self.password = QLineEdit(self)
        self.password.setObjectName("push-password")
        self.password.setAccessibleName("Password or access token")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.save_login = QCheckBox("Save this login as docker login does", self)
        self.save_login.setObjectName("push-save-login")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setObjectName("push-ok")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Image", QLabel(source, self))
        form.addRow("Registry", self.registry)
        form.addRow("Repository", self.repository)
        form.addRow("Tag", self.tag)
        form.addRow(self.target_label)
        form.addRow("User name", self.username)
        form.addRow("Password", self.password)
        form.addRow(self.save_login)
        form.addRow(self.buttons)
        for field in (self.registry, self.repository, self.tag, self.username, self.password):
            field.textChanged.connect(self._update)
        self.setMinimumWidth(520)
        self._update()

    @staticmethod
    def _repository_of(ref: engine.ImageReference) -> str:
        """The repository without Docker Hub's ``library/``: what a user would push as."""
        return ref.repository.removeprefix("library/") if ref.registry == "docker.io" \
            else ref.repository

    def target(self) -> str | None:
        """The full name to push as, or None while the fields do not make a valid one."""
        registry = self.registry.text().strip().removeprefix("https://").rstrip("/")
        repository = self.repository.text().strip()
        tag = self.tag.text().strip() or "latest"
        if not repository:
            return None
        text = f"{registry}/{repository}:{tag}" if registry else f"{repository}:{tag}"
        try:
            return engine.parse_reference(text).familiar
        except engine.InvalidReference:
            return None

    def _update(self) -> None:
        target = self.target()
        login_ok = bool(self.username.text().strip()) == bool(self.password.text())
        if target is None:
            self.target_label.setStyleSheet(text_style(ERROR_TEXT, self.target_label))
            self.target_label.setText("Not a valid image name: registry host[:port],"
                                      " a lowercase repository and a tag")
        else:
            same = self._same_as_source(target)
            self.target_label.setStyleSheet("color: palette(placeholder-text);")
            self.target_label.setText(f"Will push {target}" if same else
                                      f"Will tag {self.source} as {target}, then push it")
        self.save_login.setEnabled(bool(self.username.text().strip() and self.password.text()))
        self.ok.setText("Push" if target is None or self._same_as_source(target)
                        else "Tag and push")
        self.ok.setEnabled(target is not None and login_ok)

    def _same_as_source(self, target: str) -> bool:
        try:
            return engine.parse_reference(self.source).normalized == \
                engine.parse_reference(target).normalized
        except engine.InvalidReference:
            return False

    def _accept(self) -> None:
        global _last_registry
        target = self.target()
        if target is None:
            return
        _last_registry = self.registry.text().strip()
        self.chosen.emit(self.source, target, self.username.text().strip(),
                         self.password.text(), self.save_login.isChecked())
        self.accept()
