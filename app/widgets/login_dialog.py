"""Log in to a registry that answered "unauthorized", and only save it if asked."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)


class LoginDialog(QDialog):
    """User name and password for one registry; "Save" is off unless the user ticks it."""

    def __init__(self, registry: str, reason: str, parent: QWidget | None = None, *,
                 save_where: str = "", ok_text: str = "Log in and pull") -> None:
        """``save_where`` says where "Save" puts the login (a credential helper or a file)."""
        super().__init__(parent)
        self.setObjectName("login-dialog")
        self.setWindowTitle(f"Log in to {registry}")
        self.registry = registry
        why = QLabel(reason, self)
        why.setWordWrap(True)
        self.username = QLineEdit(self)
        self.username.setObjectName("login-username")
        self.username.setAccessibleName("User name")
        self.password = QLineEdit(self)
        self.password.setObjectName("login-password")
        self.password.setAccessibleName("Password or access token")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        where = f" (in {save_where})" if save_where else ""
        self.save = QCheckBox(f"Save as docker login does{where}", self)
        self.save.setObjectName("login-save")
        self.save.setChecked(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(why)
        form.addRow("User name", self.username)
        form.addRow("Password", self.password)
        form.addRow(self.save)
        form.addRow(self.buttons)
        self.username.textChanged.connect(self._update)
        self.password.textChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.username.text().strip() and self.password.text()))
