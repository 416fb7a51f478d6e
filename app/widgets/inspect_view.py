"""Inspect: the settings a user looks for, then the raw JSON with search and copy."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QTextDocument
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

import engine


def summary_rows(details: engine.ContainerDetails) -> list[tuple[str, str]]:
    """(label, text) pairs for the structured view, from the inspect document."""
    raw: Mapping[str, Any] = details.raw
    host = raw.get("HostConfig") or {}
    network = raw.get("NetworkSettings") or {}
    ports = []
    # What was asked for (HostConfig) is there before the first start; the live
    # mapping (NetworkSettings) fills in ports the engine chose.
    configured = dict(host.get("PortBindings") or {})
    for port, bindings in (network.get("Ports") or {}).items():
        if bindings or port not in configured:
            configured[port] = bindings
    for port, bindings in sorted(configured.items()):
        if bindings:
            ports += [f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')} → {port}"
                      for b in bindings]
        else:
            ports.append(f"{port} (not published)")
    mounts = [f"{m.source or m.name or '(anonymous)'} → {m.destination}"
              f"{' (read-only)' if m.read_only else ''} [{m.type}]" for m in details.mounts]
    networks = [f"{name} {info.get('IPAddress') or ''}".strip()
                for name, info in (network.get("Networks") or {}).items()]
    restart = details.restart_policy
    retries = (host.get("RestartPolicy") or {}).get("MaximumRetryCount")
    if restart == "on-failure" and retries:
        restart += f" (at most {retries} times)"
    state = details.state
    status = state.status + (f", exit code {state.exit_code}" if state.status == "exited"
                             else "")
    return [
        ("State", status + (f", health: {state.health}" if state.health else "")),
        ("Image", details.image),
        ("Command", " ".join([*details.entrypoint, *details.cmd]) or "(image default)"),
        ("Ports", "\n".join(ports) or "none"),
        ("Mounts", "\n".join(mounts) or "none"),
        ("Networks", "\n".join(networks) or "none"),
        ("Restart policy", restart + (", removed when it stops" if host.get("AutoRemove")
                                      else "")),
        ("Environment", "\n".join(details.env) or "none"),
        ("Labels", "\n".join(f"{k}={v}" for k, v in sorted(details.labels.items())) or "none"),
    ]


class InspectView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspect")
        self.summary = QLabel(self)
        self.summary.setObjectName("inspect-summary")
        self.summary.setAccessibleName("Container settings")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setWordWrap(True)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.search_box = QLineEdit(self)
        self.search_box.setObjectName("inspect-find")
        self.search_box.setAccessibleName("Find in the JSON")
        self.search_box.setPlaceholderText("Find in the JSON… (Enter for the next match)")
        self.find_status = QLabel(self)
        self.find_status.setObjectName("inspect-find-status")
        self.copy = QPushButton("Copy JSON", self)
        self.copy.setObjectName("inspect-copy")
        self.copy.clicked.connect(self.copy_json)
        self.json = QPlainTextEdit(self)
        self.json.setObjectName("inspect-json")
        self.json.setAccessibleName("Container configuration as JSON")
        self.json.setReadOnly(True)
        self.json.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        bar = QHBoxLayout()
        bar.addWidget(self.search_box, 1)
        bar.addWidget(self.find_status)
        bar.addWidget(self.copy)
        raw = QWidget(self)
        raw_layout = QVBoxLayout(raw)
        raw_layout.setContentsMargins(0, 0, 0, 0)
        raw_layout.addLayout(bar)
        raw_layout.addWidget(self.json, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.summary)
        splitter.addWidget(raw)
        splitter.setSizes([380, 520])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.search_box.returnPressed.connect(self.find_next)
        self.search_box.textChanged.connect(lambda _t: self.find_status.setText(""))

    def show_details(self, details: engine.ContainerDetails) -> None:
        rows = "".join(
            f"<tr><td valign='top'><b>{html.escape(label)}</b>&nbsp;&nbsp;</td>"
            f"<td>{html.escape(text).replace(chr(10), '<br>')}</td></tr>"
            for label, text in summary_rows(details))
        self.summary.setText(f"<table>{rows}</table>")
        self.json.setPlainText(json.dumps(details.raw, indent=2, sort_keys=True))

    def find_next(self) -> bool:
        text = self.search_box.text()
        if not text:
            return False
        if self.json.find(text):
            self.find_status.setText("")
            return True
        # Wrap around once from the top.
        cursor = self.json.textCursor()
        cursor.movePosition(cursor.MoveOperation.Start)
        self.json.setTextCursor(cursor)
        found = self.json.find(text, QTextDocument.FindFlag(0))
        self.find_status.setText("" if found else "not found")
        return found

    def copy_json(self) -> None:
        QGuiApplication.clipboard().setText(self.json.toPlainText())
