"""The log model's cap, whatever size the batches come in."""

from __future__ import annotations

import pytest
from pytestqt.modeltest import ModelTester

from app.widgets.log_view import STDOUT, LogEntry, LogModel


@pytest.mark.parametrize("batch", [1, 7, 999, 1000, 1001, 3000])
def test_cap_keeps_the_newest_lines_and_counts_every_dropped_one(
    batch: int, qtmodeltester: ModelTester
) -> None:
    model = LogModel(cap=1000)
    dropped: list[int] = []
    model.dropped_changed.connect(dropped.append)
    lines = [LogEntry.from_bytes(STDOUT, b"n%d" % n) for n in range(1, 3001)]
    for start in range(0, len(lines), batch):
        model.append(lines[start:start + batch])
    assert model.rowCount() == 1000
    assert model.entries[0].plain == "n2001"
    assert model.entries[-1].plain == "n3000"
    assert model.dropped == 2000
    assert dropped[-1] == 2000
    qtmodeltester.check(model)
