""""A minute ago" ages on screen with no engine event to refresh it (#12.8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.models.table import Column, KeyedTableModel
from app.models.ticking import INTERVAL_MS, relative_time_clock
from app.presentation import relative_time
from tests.waits import wait_ms


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_relative_times_tick_by_themselves(qtbot: QtBot) -> None:
    clock = Clock()
    created = clock.now - timedelta(seconds=70)
    # Owned by a widget pytest-qt deletes on this thread: a model left to the garbage
    # collector could be freed on a worker thread, with its timer.
    owner = QWidget()
    qtbot.addWidget(owner)
    model = KeyedTableModel(
        [Column("Name", lambda item: item[0]),
         Column("Created", lambda item: relative_time(item[1], clock.now), ticks=True)],
        key=lambda item: item[0], parent=owner)
    model.set_items([("web", created)])
    cell = model.index(0, 1)
    assert cell.data() == "a minute ago"
    clock.now += timedelta(minutes=5)
    timer = relative_time_clock()
    timer.setInterval(20)
    try:
        with qtbot.waitSignal(model.dataChanged, timeout=wait_ms(5)) as changed:
            pass
    finally:
        timer.setInterval(INTERVAL_MS)
    top_left, bottom_right = changed.args[0], changed.args[1]
    assert (top_left.row(), top_left.column(), bottom_right.column()) == (0, 1, 1)
    assert changed.args[2] == [Qt.ItemDataRole.DisplayRole]
    assert cell.data() == "6 minutes ago"


def test_a_model_without_relative_times_has_no_ticker() -> None:
    model = KeyedTableModel([Column("Name", str)], key=str)
    assert not hasattr(model, "ticker")
    model.set_items(["a"])
    assert model.rowCount(QModelIndex()) == 1
