"""The plain-text fast path ends exactly where pyte's own parsing ends.

Each example is fed twice to a small screen: byte by byte through pyte only (the
reference), and in random chunks through ``terminal_fast.drain`` (the writer for
plain stretches, pyte for the rest).  Screen cells, cursor, modes and every
history row must be equal.  The mixes include long lines that wrap, lines that
exactly fill a row, tabs, bare CR and LF, wide, combining and non-ASCII
characters, invalid UTF-8, C1 controls and escape sequences that change what
plain text does (insert mode, no auto-wrap, scroll regions, LNM, tab stops, the
alternate screen).
"""

from __future__ import annotations

import pyte
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyte.screens import Char

from app.widgets import terminal_fast
from app.widgets.terminal import TerminalScreen
from app.widgets.terminal_fast import Row, drain, row_cells

COLUMNS, LINES, HISTORY = 12, 5, 30

WORDS = ["a", "hello", "x" * 11, "y" * 12, "z" * 13, "w" * 25, "q" * 36, "é", "Ωmega",
         "┌─┐", " ", "  ", "0123456789"]
SPECIAL = [
    "\r\n", "\r\n", "\r\n", "\n", "\r", "\t", "\t\t", "\r\r\n",
    "中", "e\u0301", "\U0001f600", "\x07", "\x08",  # wide, combining, BEL, BS
    "\x1b[1;31m", "\x1b[0m", "\x1b[7m", "\x1b[2;5H", "\x1b[K", "\x1b[2J", "\x1b[3J",
    "\x1bH", "\x1b[3g", "\x1b[g", "\x1b[4h", "\x1b[4l", "\x1b[?7l", "\x1b[?7h",
    "\x1b[2;4r", "\x1b[r", "\x1b[20h", "\x1b[20l", "\x1b[?1049h", "\x1b[?1049l",
    "\x1b[?5h", "\x1b[?5l", "\x1bD", "\x1bM", "\x1b[3C", "\x1b]0;title\x07", "\x1b(0", "\x1b(B",
]
# Invalid, cut short, C1 CSI.  Not here: characters pyte cannot draw (other C1 and C0
# controls, zero-width non-combining ones) — pyte drops the rest of the text handed to
# draw() with them, so its own result depends on how the input was chunked.
RAW = [b"\xff", b"\xc3", b"\xe4\xb8", b"\xc2\x9b"]


def piece() -> st.SearchStrategy[bytes]:
    text = st.sampled_from(WORDS + SPECIAL).map(str.encode)
    lines = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(
        lambda words: "".join(word + "\r\n" for word in words).encode())
    return st.one_of(text, text, text, lines, st.sampled_from(RAW))


def new_screen() -> tuple[TerminalScreen, pyte.ByteStream]:
    screen = TerminalScreen(COLUMNS, LINES, lambda _: None)
    screen.history = screen.history._replace(top=type(screen.history.top)(maxlen=HISTORY))
    return screen, pyte.ByteStream(screen)


def state(screen: TerminalScreen) -> dict[str, object]:
    def cells(row: Row) -> dict[int, Char]:
        return dict(row_cells(row))

    return {
        "rows": [cells(screen.buffer[y]) for y in range(screen.lines)],
        "history": [cells(row) for row in screen.history.top],
        "cursor": (screen.cursor.x, screen.cursor.y, screen.cursor.attrs, screen.cursor.hidden),
        "mode": set(screen.mode), "margins": screen.margins, "alternate": screen.alternate,
        "tabstops": set(screen.tabstops),
    }


def reference(data: bytes) -> dict[str, object]:
    screen, stream = new_screen()
    for byte in range(len(data)):
        stream.feed(data[byte:byte + 1])
    return state(screen)


def fast(data: bytes, cuts: list[int]) -> dict[str, object]:
    screen, stream = new_screen()
    pending = bytearray()
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        pending += data[start:cut]
        start = max(start, cut)
        drain(screen, stream, pending)
    assert not pending
    return state(screen)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(piece(), max_size=80), st.lists(st.integers(0, 2000), max_size=6))
def test_mixed_output_ends_as_with_pyte(pieces: list[bytes], cuts: list[int]) -> None:
    data = b"".join(pieces)
    assert fast(data, [c % (len(data) + 1) for c in cuts]) == reference(data)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS + ["\r\n"] * 8 + ["\t", "\n", "\r"]),
                min_size=200, max_size=600),
       st.lists(st.tuples(st.integers(0, 2000), st.sampled_from(SPECIAL)), max_size=3),
       st.lists(st.integers(0, 20_000), max_size=4))
def test_floods_that_drop_text_end_as_with_pyte(
    monkeypatch: pytest.MonkeyPatch, words: list[str], inserts: list[tuple[int, str]],
    cuts: list[int],
) -> None:
    """With the drop threshold at zero, backlogs longer than history + two screens
    are cut at a CR LF and the text before it is never parsed."""
    monkeypatch.setattr(terminal_fast, "DROP_MIN_BYTES", 0)
    words = words * 3
    for position, special in inserts:
        words.insert(position % (len(words) + 1), special)
    data = "".join(words).encode()
    assert fast(data, [c % (len(data) + 1) for c in cuts]) == reference(data)


def test_a_flood_is_mostly_dropped_and_bulk_written(monkeypatch: pytest.MonkeyPatch) -> None:
    screen, stream = new_screen()
    data = b"".join(b"%06d the quick brown\r\n" % n for n in range(10_000)) + b"$ "
    pending = bytearray(data)
    fed: list[bytes] = []
    original = stream.feed
    monkeypatch.setattr(stream, "feed", lambda piece: fed.append(piece) or original(piece))
    drain(screen, stream, pending)
    assert not pending
    assert fed == []  # pyte never needed
    assert state(screen) == reference(data[-2000:])  # history is 30 rows, the rest dropped


def test_time_budget_stops_between_lines() -> None:
    screen, stream = new_screen()
    data = b"".join(b"a\tb\tc %d\r\n" % n for n in range(2000))
    pending = bytearray(data)
    drain(screen, stream, pending, deadline=0.0)  # already passed: one step only
    assert 0 < len(pending) < len(data)
    drain(screen, stream, pending)
    assert state(screen) == reference(data)
