"""Cancel as every file transfer of the window does (app.widgets.transfer.request_cancel):
at the next progress report, and a task that never reports again is cancelled after a
while (a stalled engine)."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.widgets import transfer
from app.widgets.transfer import Cancelled, Stopper, request_cancel
from tests.waits import wait_ms


def test_cancel_stops_at_the_next_report_or_else_after_a_while(
        qtbot: QtBot, qloop: asyncio.AbstractEventLoop,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "HARD_CANCEL_SECONDS", 0.2)
    status = QLabel()
    reports: list[int] = []
    ended: list[str] = []

    async def reporting(progress: Stopper) -> str:
        try:
            for done in range(1_000_000):
                progress(done, None)
                await asyncio.sleep(0.01)
        except Cancelled:
            return "stopped at a report"
        return "ran to the end"

    stopper = Stopper(lambda done, _total: reports.append(done))
    task = qloop.create_task(reporting(stopper))
    qtbot.waitUntil(lambda: len(reports) > 2, timeout=wait_ms(5))
    assert request_cancel(status, task, stopper, status, lambda: ended.append("hard"))
    assert status.text() == "Cancelling…"
    assert not request_cancel(status, task, stopper, status, lambda: ended.append("again"))
    qtbot.waitUntil(task.done, timeout=wait_ms(5))
    assert task.result() == "stopped at a report"

    # A task stalled on the engine (no report comes): cancelled after a while.
    stalled_stopper = Stopper(lambda _done, _total: None)
    stalled = qloop.create_task(asyncio.sleep(3600))
    assert request_cancel(status, stalled, stalled_stopper, status,
                          lambda: ended.append("hard"))
    qtbot.waitUntil(lambda: bool(ended), timeout=wait_ms(5))
    # One "hard": the first cancel's timer (due earlier) found its task ended.
    qtbot.waitUntil(stalled.done, timeout=wait_ms(5))
    assert ended == ["hard"]
    assert stalled.cancelled()
    assert not request_cancel(status, stalled, Stopper(lambda _d, _t: None), status,
                              lambda: ended.append("nothing runs"))
