"""The full-window page shown while no engine could be reached at all."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from app.session import ConnectionState, ConnectionStatus

_START_HINTS = (
    "Start Docker: <code>sudo systemctl start docker</code><br>"
    "Or Podman's Docker-compatible service: <code>systemctl --user start podman.socket</code><br>"
    "Or point Dockyard elsewhere: <code>DOCKER_HOST=unix:///path/to.sock dockyard</code>"
    " or <code>dockyard --host tcp://host:2376</code>"
)
_PERMISSION_HINTS = (
    "Your user may not open the engine's socket.<br>"
    "Add yourself to the <b>docker</b> group: <code>sudo usermod -aG docker $USER</code>,"
    " then log out and in again.<br>"
    "Or run an engine of your own: rootless Docker (<code>dockerd-rootless-setuptool.sh"
    " install</code>) or Podman (<code>systemctl --user start podman.socket</code>)."
)


class UnavailablePage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("unavailable-page")
        self.setAccessibleName("No engine page")
        self.title = QLabel(self)
        self.title.setObjectName("unavailable-title")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.title.setFont(font)
        self.details = QLabel(self)
        self.details.setObjectName("unavailable-details")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry = QPushButton("Retry now", self)
        self.retry.setObjectName("unavailable-retry")
        self.retry.setAccessibleName("Retry connecting")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 48, 48, 48)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addSpacing(12)
        layout.addWidget(self.details)
        layout.addSpacing(12)
        layout.addWidget(self.retry, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(2)

    def show_status(self, status: ConnectionStatus) -> None:
        if status.state == ConnectionState.CONNECTING:
            self.title.setText("Looking for a container engine…")
            self.details.setText("")
            self.retry.hide()
            return
        self.retry.show()
        if status.permission_denied:
            self.title.setText("Permission denied on the engine's socket")
            hints = _PERMISSION_HINTS
        else:
            self.title.setText("No container engine is running")
            hints = _START_HINTS
        tried = "".join(
            f"<li><code>{html.escape(a.url)}</code> ({html.escape(a.source)}):"
            f" {html.escape(a.outcome)}</li>"
            for a in status.attempts
        )
        retry = f"Trying again in {status.retry_in:g} s." if status.retry_in else ""
        self.details.setText(
            f"<p>{html.escape(status.error)}</p>"
            + (f"<p>Tried:</p><ul>{tried}</ul>" if tried else "")
            + f"<p>{hints}</p><p>{retry}</p>"
        )
