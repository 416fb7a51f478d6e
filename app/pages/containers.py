"""The Containers page: every container, live, with start / stop / restart / remove."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QMessageBox, QSplitter, QWidget

import engine
from app.models.table import Column, KeyedTableModel
from app.pages.container_detail import ContainerDetail
from app.pages.table_page import TablePage
from app.presentation import (
    container_image,
    container_ports,
    container_state,
    container_tone,
    relative_time,
)
from app.session import EngineSession, MessageLevel
from app.settings import CONFIRM_REMOVE, LOG_LINE_CAP, Settings

TONE_COLOURS = {
    "good": QColor("#2e9e44"),
    "busy": QColor("#d9a400"),
    "bad": QColor("#d0342c"),
    "idle": QColor("#9a9a9a"),
}


def _created_key(container: engine.Container) -> float:
    return container.created.timestamp() if container.created else 0.0


CONTAINER_COLUMNS = (
    Column("Name", lambda c: c.name),
    Column("ID", lambda c: c.short_id, tooltip=lambda c: c.id),
    Column("Image", container_image, tooltip=lambda c: c.image),
    Column("State", container_state, tooltip=lambda c: c.status,
           decoration=lambda c: TONE_COLOURS[container_tone(c)]),
    Column("Created", lambda c: relative_time(c.created), sort_key=_created_key,
           tooltip=lambda c: c.created.isoformat() if c.created else ""),
    Column("Ports", container_ports),
)


def containers_model(parent: QWidget | None = None) -> KeyedTableModel:
    return KeyedTableModel(CONTAINER_COLUMNS, key=lambda c: c.id, parent=parent)


class ContainersPage(TablePage):
    def __init__(self, session: EngineSession, settings: Settings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("containers", containers_model(), parent)
        self.model.setParent(self)
        self.session = session
        self.settings = settings if settings is not None else Settings(parent=self)
        self.running_only = QCheckBox("Running only", self)
        self.running_only.setObjectName("containers-running-only")
        self.running_only.setAccessibleName("Show running containers only")
        self.running_only.toggled.connect(self._apply_running_filter)
        self.toolbar.addWidget(self.running_only)
        self.start_button = self.add_button("Start", "container-start", self.start_selected)
        self.stop_button = self.add_button("Stop", "container-stop", self.stop_selected)
        self.restart_button = self.add_button("Restart", "container-restart", self.restart_selected)
        self.remove_button = self.add_button("Remove", "container-remove", self.remove_selected,
                                             shortcut="Delete")
        session.containersChanged.connect(self.model.set_items)
        self.fit_columns({0: 170, 1: 110, 2: 180, 3: 130, 4: 120})
        self.detail = ContainerDetail(session, self)
        self.detail.logs.model.cap = self.settings.get(LOG_LINE_CAP)
        self.settings.changed.connect(self._on_setting_changed)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("containers-splitter")
        self.main_layout.replaceWidget(self.table, self.splitter)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setSizes([260, 360])
        # The detail follows the selected row through refreshes (state changes).
        self.model.dataChanged.connect(lambda *_: self.selection_changed())
        self.selection_changed()

    def noun(self, count: int) -> str:
        return "container" if count == 1 else "containers"

    def _on_setting_changed(self, key: str) -> None:
        if key == LOG_LINE_CAP.key:
            self.detail.logs.model.cap = self.settings.get(LOG_LINE_CAP)

    def _apply_running_filter(self, running_only: bool) -> None:
        self.proxy.set_predicate((lambda c: c.running) if running_only else None)

    def selection_changed(self) -> None:
        selected: list[engine.Container] = self.selected_items()
        self.start_button.defaultAction().setEnabled(any(not c.running for c in selected))
        self.stop_button.defaultAction().setEnabled(any(c.running for c in selected))
        self.restart_button.defaultAction().setEnabled(bool(selected))
        self.remove_button.defaultAction().setEnabled(bool(selected))
        self.detail.show_container(selected[0] if len(selected) == 1 else None)

    def start_selected(self) -> None:
        for container in self.selected_items():
            if not container.running:
                self.session.run(partial(_start, container.id), describe=f"start {container.name}")

    def stop_selected(self) -> None:
        for container in self.selected_items():
            if container.running:
                self.session.run(partial(_stop, container.id), describe=f"stop {container.name}",
                                 quiet_not_found=True)

    def restart_selected(self) -> None:
        for container in self.selected_items():
            self.session.run(partial(_restart, container.id),
                             describe=f"restart {container.name}")

    def remove_selected(self) -> None:
        selected: list[engine.Container] = self.selected_items()
        if not selected:
            return
        running = [c for c in selected if c.running]
        names = ", ".join(c.name for c in selected[:5]) + ("…" if len(selected) > 5 else "")
        text = f"Remove {len(selected)} container(s): {names}?"
        if running:
            text += f"\n\n{len(running)} of them are running and will be stopped first."
        if self.settings.get(CONFIRM_REMOVE):
            answer = QMessageBox.question(self, "Remove containers", text)
            if answer != QMessageBox.StandardButton.Yes:
                return
        for container in selected:
            self.session.run(
                partial(_remove, container.id, container.running),
                describe=f"remove {container.name}", quiet_not_found=True,
                on_done=partial(self._removed, container.name),
            )

    def _removed(self, name: str, _result: object) -> None:
        self.session.message.emit(MessageLevel.INFO, f"Removed {name}")


async def _start(container_id: str, client: engine.Engine) -> None:
    await client.start_container(container_id)


async def _stop(container_id: str, client: engine.Engine) -> None:
    await client.stop_container(container_id)


async def _restart(container_id: str, client: engine.Engine) -> None:
    await client.restart_container(container_id)


async def _remove(container_id: str, force: bool, client: engine.Engine) -> None:
    await client.remove_container(container_id, force=force)
