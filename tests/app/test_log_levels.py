"""Levels read from log lines, and the log view's source and level filters (no engine)."""

from __future__ import annotations

import pytest
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.models.log_levels import LEVEL_NAMES, line_level, line_levels
from app.widgets.log_view import EntryRole, LogView


@pytest.mark.parametrize(("line", "level"), [
    (b"2024-01-01 12:00:00 INFO server started", "info"),
    (b"time=1 level=warn msg=\"disk almost full\"", "warn"),
    (b'{"level":"error","msg":"boom"}', "error"),
    (b"2024/01/01 [error] 12#12: upstream timed out", "error"),
    (b"error: no such file", "error"),
    (b"LOG:  checkpoint starting: time", "info"),
    (b"Warning: deprecated option", "warn"),
    (b"[DEBUG] cache miss", "debug"),
    (b"FATAL: role does not exist", "error"),
    (b"INFO retrying after ERROR", "info"),   # the first level named decides
    (b"no error was found", "other"),          # lower case inside a sentence: not a level
    (b"ERRORS=0 INFORMATIVE", "other"),        # not whole words
    (b"000123 the quick brown fox", "other"),
])
def test_a_line_names_its_level(line: bytes, level: str) -> None:
    assert LEVEL_NAMES[line_level(line)] == level


def test_continuation_lines_take_their_sources_last_level() -> None:
    lines = [b"ERROR Traceback:", b"INFO other service", b"  File x.py, line 1",
             b"\tat Foo.bar()", b"plain again"]
    sources = bytes([0, 1, 0, 0, 0])
    assert [LEVEL_NAMES[n] for n in line_levels(lines, sources)] == [
        "error", "info", "error", "error", "other"]
    # Across batches: the lines before come as (sources, levels).
    more = line_levels([b"  more frames"], b"\x00", (sources, line_levels(lines, sources)))
    assert LEVEL_NAMES[more[0]] == "other"  # its source's last line was "plain again"


def test_the_view_filters_by_source_and_level(qtbot: QtBot, qtmodeltester: ModelTester) -> None:
    view = LogView()
    qtbot.addWidget(view)
    view.set_sources(["web", "db"])
    lines = [b"web 0 INFO up", b"db 0 WARN slow", b"web 1 ERROR down", b"db 1 plain"]
    view.add_lines(b"\x01" * 4, lines, [None] * 4, bytes([0, 1, 0, 1]))
    view.flush()

    def texts() -> list[str]:
        model = view.list.model()
        return [model.index(r, 0).data(EntryRole).plain for r in range(model.rowCount())]

    view.source_buttons["web"].click()
    assert texts() == ["db 0 WARN slow", "db 1 plain"]
    view.set_levels({"warn", "error"})
    assert texts() == ["db 0 WARN slow"]
    view.set_shown_sources(None)
    assert texts() == ["db 0 WARN slow", "web 1 ERROR down"]
    qtmodeltester.check(view.list.model())
    # New lines are filtered as they come; dropped ones (the cap) leave the filter too.
    view.add_lines(b"\x01\x01", [b"web 2 WARN again", b"web 3 INFO fine"], [None, None],
                   b"\x00\x00")
    view.flush()
    assert texts() == ["db 0 WARN slow", "web 1 ERROR down", "web 2 WARN again"]
    view.model.cap = 3
    view.add_lines(b"\x01", [b"db 2 ERROR late"], [None], b"\x01")
    view.flush()
    assert texts() == ["web 2 WARN again", "db 2 ERROR late"]
    assert view.line_text(view.model.entry(0)) == "web | web 2 WARN again"
    view.set_levels(None)
    assert view.list.model() is view.model


def test_the_search_filter_and_the_source_filter_combine(qtbot: QtBot) -> None:
    view = LogView()
    qtbot.addWidget(view)
    view.set_sources(["web", "db"])
    lines = [b"web GET /a", b"db GET-like query", b"web POST /b", b"db idle"]
    view.add_lines(b"\x01" * 4, lines, [None] * 4, bytes([0, 1, 0, 1]))
    view.flush()
    view.search.setText("GET")
    view.filter.setChecked(True)
    view._run_search()
    model = view.list.model()
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == [
        "web GET /a", "db GET-like query"]
    view.source_buttons["db"].click()
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["web GET /a"]
    # A line that comes later is searched as it arrives.
    view.add_lines(b"\x01\x01", [b"web GET /c", b"db GET x"], [None, None], b"\x00\x01")
    view.flush()
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == [
        "web GET /a", "web GET /c"]
    assert view.match_count() == 4
