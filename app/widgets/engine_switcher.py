"""The engine switcher: every engine this user has, with its state, one pick away.

The widget only shows entries and reports what the user picked (signals); the
window's :mod:`app.engine_switch` finds and probes the engines and switches.  The
same widget sits in the status bar and on the Engine page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import engine
from app.presentation import engine_entry_text

#: The states an entry can be in ("reachable", "unreachable", "permission denied" come
#: from the probe, as in ``dockyard doctor --all``).
LOOKING = "looking…"
CONNECTING = "connecting…"
REACHABLE = "reachable"

ADD = "add"
RESCAN = "rescan"
ALL = "all"
_COLOURS = {REACHABLE: "#2e9d4e", "unreachable": "#9a9a9a", "permission denied": "#d0453b"}


@dataclass
class EngineEntry:
    """One engine in the list: where it is, how it was found, and what answered there."""

    endpoint: engine.Endpoint
    found_via: tuple[str, ...] = ()
    #: The docker CLI's current context.
    current_context: bool = False
    added: bool = False
    state: str = LOOKING
    product: str = ""
    version: str = ""
    error: str = ""

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def name(self) -> str:
        """What users call it: the CLI context's name, else its address."""
        return self.endpoint.context or self.endpoint.url

    @property
    def warning(self) -> str:
        """Plain words when it is tcp:// without TLS to another machine ("" otherwise)."""
        return engine.plain_tcp_warning(self.endpoint)


def _dot(state: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(_COLOURS.get(state, "#d9a400")))
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


class EngineSwitcher(QWidget):
    """A combo of engines; the connected one is shown.  Picking another asks to switch."""

    chosen = Signal(str)  # the engine's URL
    addRequested = Signal()
    rescanRequested = Signal()
    #: Show the containers and images of every engine at once.
    allRequested = Signal()

    def __init__(self, name: str = "engine-switcher", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.combo = QComboBox(self)
        self.combo.setObjectName(f"{name}-combo")
        self.combo.setAccessibleName("Engine")
        self.combo.setToolTip("The engine this window shows: pick another to switch to it")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setMinimumContentsLength(24)
        self.combo.setPlaceholderText("No engine: choose one")
        self.combo.activated.connect(self._activated)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        self.entries: list[EngineEntry] = []
        self.connected = ""

    def set_entries(self, entries: list[EngineEntry], connected: str) -> None:
        """Show ``entries``, with the one at URL ``connected`` as the current item."""
        self.entries = list(entries)
        self.connected = connected
        combo = self.combo
        combo.blockSignals(True)
        combo.clear()
        for entry in self.entries:
            warning = entry.warning
            combo.addItem(_dot(entry.state), engine_entry_text(
                entry.name, entry.state, entry.product, entry.version,
                current_context=entry.current_context, unencrypted=bool(warning)), entry.url)
            tip = [entry.url, *(f"found via {v}" for v in entry.found_via)]
            if entry.error:
                tip.append(entry.error)
            if warning:
                tip.append(f"Warning: {warning}")
            combo.setItemData(combo.count() - 1, "\n".join(tip), Qt.ItemDataRole.ToolTipRole)
        combo.insertSeparator(combo.count())
        combo.addItem("All engines: one list…", ALL)
        combo.setItemData(combo.count() - 1, "The containers and images of every engine that"
                          " answers, in one list with an Engine column",
                          Qt.ItemDataRole.ToolTipRole)
        combo.addItem("Add an engine…", ADD)
        combo.addItem("Look for engines again", RESCAN)
        combo.setCurrentIndex(self.row_of(connected))  # -1: the placeholder
        combo.blockSignals(False)

    def row_of(self, url: str) -> int:
        return next((i for i, e in enumerate(self.entries) if e.url == url), -1)

    def texts(self) -> list[str]:
        """The engines' lines as shown (for tests and screen readers)."""
        return [self.combo.itemText(i) for i in range(len(self.entries))]

    def pick_all(self) -> None:
        """What choosing "All engines" in the list does."""
        self._activated(self.combo.findData(ALL))

    def pick(self, url: str) -> None:
        """What choosing the engine at ``url`` in the list does."""
        row = self.row_of(url)
        if row >= 0:
            self.combo.setCurrentIndex(row)
            self._activated(row)

    def _activated(self, row: int) -> None:
        data = self.combo.itemData(row)
        # The combo keeps showing the engine the window shows until a switch is done.
        self.combo.setCurrentIndex(self.row_of(self.connected))
        if data == ADD:
            self.addRequested.emit()
        elif data == ALL:
            self.allRequested.emit()
        elif data == RESCAN:
            self.rescanRequested.emit()
        elif isinstance(data, str) and data and data != self.connected:
            self.chosen.emit(data)


class AddEngineDialog(QDialog):
    """An engine by its address: ``unix://``, ``tcp://`` (with TLS files) or ``ssh://``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("add-engine")
        self.setWindowTitle("Add an engine")
        self.endpoint: engine.Endpoint | None = None
        self.url = QLineEdit(self)
        self.url.setObjectName("add-engine-url")
        self.url.setAccessibleName("Address")
        self.url.setPlaceholderText("unix:///path/to.sock, tcp://host:2376 or ssh://user@host")
        self.files: dict[str, QLineEdit] = {}
        form = QFormLayout()
        form.addRow("Address:", self.url)
        for key, label in (("ca", "CA certificate:"), ("cert", "Client certificate:"),
                           ("key", "Client key:")):
            edit = QLineEdit(self)
            edit.setObjectName(f"add-engine-{key}")
            edit.setAccessibleName(label.rstrip(":"))
            edit.setPlaceholderText("tcp:// with TLS only (optional)")
            browse = QPushButton("Browse…", self)
            browse.setObjectName(f"add-engine-{key}-browse")
            browse.clicked.connect(lambda _c=False, e=edit: self._browse(e))
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(browse)
            form.addRow(label, row)
            self.files[key] = edit
        self.error = QLabel(self)
        self.error.setObjectName("add-engine-error")
        self.error.setWordWrap(True)
        self.error.hide()
        # Said while the address is typed, before anything is sent in the clear.
        self.warning = QLabel(self)
        self.warning.setObjectName("add-engine-warning")
        self.warning.setWordWrap(True)
        self.warning.hide()
        self.url.textChanged.connect(self._check_exposure)
        for edit in self.files.values():
            edit.textChanged.connect(self._check_exposure)
        buttons = QDialogButtonBox(self)
        add = buttons.addButton("Add and connect", QDialogButtonBox.ButtonRole.AcceptRole)
        add.setObjectName("add-engine-add")
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.warning)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _check_exposure(self) -> None:
        """Warn about plain tcp:// to another machine (TLS files make it TLS: no warning)."""
        text = ""
        if not any(edit.text().strip() for edit in self.files.values()):
            try:
                text = engine.plain_tcp_warning(engine.endpoint_for(self.url.text(), ""))
            except engine.EngineError:
                text = ""  # not an address yet: Add says why
        self.warning.setText(f"⚠ {text}" if text else "")
        self.warning.setVisible(bool(text))

    def _browse(self, edit: QLineEdit) -> None:
        dialog = QFileDialog(self, "Choose a file", str(Path.home() / ".docker"))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(edit.setText)
        dialog.open()

    def accept(self) -> None:
        """Only an address that can work closes the dialog; otherwise it says why."""
        def path(key: str) -> Path | None:
            text = self.files[key].text().strip()
            return Path(text).expanduser() if text else None

        try:
            self.endpoint = engine.endpoint_for(
                self.url.text(), "added in Dockyard", ca_cert=path("ca"),
                client_cert=path("cert"), client_key=path("key"))
        except engine.EngineError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        super().accept()
