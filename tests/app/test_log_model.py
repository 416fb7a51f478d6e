"""The log model and view: the cap, batches, and lines decoded only when looked at."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.widgets.log_view import STDERR, STDOUT, LogEntry, LogModel, LogView


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


STAMP = b"2026-11-28T17:45:51.030521839Z"


def test_batches_keep_bytes_and_decode_only_what_is_read(
    qtbot: QtBot, qtmodeltester: ModelTester
) -> None:
    view = LogView(cap=10)
    qtbot.addWidget(view)
    raw = [b"out", b"bad \xff\xfe utf8", b"\x1b[31mred\x1b[0m plain", b"tab\tand\rcr"]
    view.add_lines(bytes([STDOUT, STDERR, STDOUT, STDOUT]), raw, [STAMP, None, STAMP, None])
    assert view.model.rowCount() == 0  # not before the tick
    view.flush()
    model = view.model
    assert [e.raw for e in model.entries] == raw
    assert [e.stream for e in model.entries] == [STDOUT, STDERR, STDOUT, STDOUT]
    assert model.entries[1].plain == "bad \ufffd\ufffd utf8"
    red = model.entries[2]
    assert red.text == "\x1b[31mred\x1b[0m plain"
    assert red.plain == "red plain"
    assert [(run.text, run.style.fg) for run in red.runs] == [("red", "#cd0000"),
                                                              (" plain", None)]
    assert red.timestamp == datetime(2026, 11, 28, 17, 45, 51, 30521, tzinfo=UTC)
    assert model.entries[1].timestamp is None
    assert view.text() == b"\n".join(raw) + b"\n"
    qtmodeltester.check(model)


def test_a_flood_between_ticks_is_cut_to_the_cap_and_counted(qtbot: QtBot) -> None:
    view = LogView(cap=1000)
    qtbot.addWidget(view)
    for start in range(0, 5000, 700):
        lines = [b"n%d" % n for n in range(start, min(start + 700, 5000))]
        view.add_lines(bytes([STDOUT]) * len(lines), lines, [None] * len(lines))
    view.flush()
    assert view.model.rowCount() == 1000
    assert view.model.entries[0].raw == b"n4000"
    assert view.model.dropped == 4000
    assert view.status.text().startswith("4,000 older lines dropped")


def test_rows_keep_their_own_line_across_trims(qtbot: QtBot) -> None:
    view = LogView(cap=100)
    qtbot.addWidget(view)
    model = view.model
    for start in range(0, 1000, 30):
        lines = [b"n%d" % n for n in range(start, start + 30)]
        view.add_lines(bytes([STDOUT]) * 30, lines, [None] * 30)
        view.flush()
        # Rows that were decoded before the trim still show their own line after it.
        assert [model.entry(row).plain for row in (0, 50, 99) if row < model.rowCount()] == [
            model.lines[row].decode() for row in (0, 50, 99) if row < model.rowCount()]
    assert model.entries[-1].plain == "n1019"


def test_search_sees_the_text_without_escape_codes(qtbot: QtBot) -> None:
    view = LogView()
    qtbot.addWidget(view)
    raw = [b"\x1b[31mred\x1b[0m alert", b"31m is only in the codes: \x1b[31mx", b"RED too"]
    view.add_lines(bytes([STDOUT]) * 3, raw, [None] * 3)
    view.flush()
    view.search.setText("red")
    view._run_search()
    assert view.match_count() == 2
    view.search.setText("31m")
    view._run_search()
    assert view.match_count() == 1
    # New lines are searched as they arrive.
    view.add_lines(bytes([STDERR]), [b"another \x1b[1m31m\x1b[0m"], [None])
    view.flush()
    assert view.match_count() == 2


def test_only_matches_follows_new_lines_and_a_cleared_log(
    qtbot: QtBot, qtmodeltester: ModelTester
) -> None:
    view = LogView(cap=50)
    qtbot.addWidget(view)

    def add(*lines: bytes) -> None:
        view.add_lines(bytes([STDOUT]) * len(lines), list(lines), [None] * len(lines))
        view.flush()

    add(b"error one", b"fine", b"\x1b[31mERROR\x1b[0m two")
    view.filter.setChecked(True)
    view.search.setText("error")
    view._run_search()
    assert [view.proxy.index(r, 0).data() for r in range(view.proxy.rowCount())] == [
        "error one", "ERROR two"]
    add(b"fine again", b"error three")
    assert view.proxy.rowCount() == 3
    assert view.match_label.text() == "3 matching lines"
    add(*[b"filler %d" % n for n in range(48)])  # the first lines are trimmed away
    assert view.proxy.rowCount() == 1
    view.clear()
    add(b"error after clear", b"not this")
    assert view.proxy.rowCount() == 1
    qtmodeltester.check(view.proxy)
    assert view.list.model() is view.proxy
    view.filter.setChecked(False)
    assert view.list.model() is view.model  # no proxy in between when nothing is filtered
    assert view.model.rowCount() == 2
