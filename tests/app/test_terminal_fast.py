"""The plain-text fast path ends exactly where pyte's own parsing ends.

Each example is fed twice to a small screen: byte by byte through pyte only (the
reference), and in random chunks through ``terminal_fast.drain`` (the writer for
plain stretches, pyte for the rest).  Screen cells, cursor, modes and every
history row must be equal.  The mixes include long lines that wrap, lines that
exactly fill a row, tabs, bare CR and LF, wide, combining and non-ASCII
characters, invalid UTF-8, C1 controls and escape sequences that change what
plain text does (insert mode, no auto-wrap, scroll regions, LNM, tab stops, the
alternate screen).  Coloured mixes add SGR sequences the writer applies itself
(colours, 256 and 24-bit, resets, empty parameters, out-of-range values) and odd
ones pyte's parser reads its own way (colons, ``>``, controls inside, cut short),
which must stay with pyte.
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
#: SGR sequences the writer takes (as pyte's parser reads them).
SGR = [
    "\x1b[m", "\x1b[0m", "\x1b[1m", "\x1b[1;31m", "\x1b[01;34m", "\x1b[32m", "\x1b[42m",
    "\x1b[38;5;196m", "\x1b[48;5;21m", "\x1b[38;2;255;128;0m", "\x1b[48;2;1;2;3m",
    "\x1b[3;4;7;9;5m", "\x1b[22;23;24;27;29;25m", "\x1b[39;49m", "\x1b[90;107m",
    "\x1b[;1m", "\x1b[1;m", "\x1b[;;m", "\x1b[00m", "\x1b[0;0m", "\x1b[1;0;4m",
    "\x1b[38;5m", "\x1b[38;2;1m", "\x1b[38;5;999m", "\x1b[38;2;300;4096;99999m",
    "\x1b[99999m", "\x1b[" + "0" * 60 + "31m", "\x1b[" + "1;" * 40 + "m", "\x1b[38;3;1m",
]
#: Those that keep something of the attributes before them (no parameter is 0), so a
#: flood that drops text must carry their effect past the cut.
SGR_NO_RESET = [sgr for sgr in SGR if all(int(p or 0) for p in sgr[2:-1].split(";"))]
#: SGR-like sequences pyte reads its own way (left to pyte).  Not here, as pyte itself
#: fails on them: a private ``ESC[?...m`` (its screen takes no ``private``), a sequence
#: cut short with two parameters (the next word's letter ends it, and most handlers
#: take one), CAN inside (the rest, drawn as text, makes pyte chunking-dependent).
ODD_SGR = [
    "\x1b[38:5:1m", "\x1b[38:2::1:2:3m", "\x1b[>4;2m", "\x1b[ 1m", "\x1b[1\r;31m",
    "\x1b[1\t;2m", "\x1b[1\x08m", "\x1b[1$m", "\x1b[31", "\x1b[", "\x1b",
    "\x1b[1K", "\x1b[K", "\x1b[" + "9" * 70 + "m", "\x1b[\u0663m", "\x1b[1\nm",
]


def piece() -> st.SearchStrategy[bytes]:
    text = st.sampled_from(WORDS + SPECIAL).map(str.encode)
    lines = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(
        lambda words: "".join(word + "\r\n" for word in words).encode())
    return st.one_of(text, text, text, lines, st.sampled_from(RAW))


def coloured_piece() -> st.SearchStrategy[bytes]:
    sgr = st.sampled_from(SGR).map(str.encode)
    word = st.sampled_from(WORDS).map(str.encode)
    # As ls --color or a log prints them: colour, word, reset (or another), more text.
    lines = st.lists(st.tuples(sgr, word, sgr, word), min_size=1, max_size=8).map(
        lambda parts: b"".join(b"".join(part) + b"\r\n" for part in parts))
    other = st.sampled_from(WORDS + SPECIAL + ODD_SGR).map(str.encode)
    return st.one_of(sgr, sgr, sgr, other, other, lines, st.sampled_from(RAW))


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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(coloured_piece(), max_size=80), st.lists(st.integers(0, 2000), max_size=8))
def test_coloured_output_ends_as_with_pyte(pieces: list[bytes], cuts: list[int]) -> None:
    """SGR sequences anywhere (mid-row, at a pending wrap, split at a chunk boundary),
    valid, odd and cut short: cells, cursor attributes and history as pyte's."""
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


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS + SGR_NO_RESET + ["\r\n"] * 4 + ["\t", "\n", "\r"]),
                max_size=400),
       st.lists(st.sampled_from(WORDS + ["\r\n"] * 8 + ["\t", "\n", "\r"]),
                min_size=150, max_size=400),
       st.lists(st.tuples(st.integers(0, 2000), st.sampled_from(SGR + SPECIAL + ODD_SGR)),
                max_size=3),
       st.lists(st.integers(0, 20_000), max_size=4))
def test_coloured_floods_that_drop_text_end_as_with_pyte(
    monkeypatch: pytest.MonkeyPatch, coloured: list[str], plain: list[str],
    inserts: list[tuple[int, str]], cuts: list[int],
) -> None:
    """Dropped text takes its SGR sequences along: only the cursor's attributes remain.

    Coloured text (sequences that build on the attributes before) and then plain
    text, so the cut often falls after the last sequence and what it left matters.
    """
    monkeypatch.setattr(terminal_fast, "DROP_MIN_BYTES", 0)
    words = coloured + plain * 2
    for position, special in inserts:
        words.insert(position % (len(words) + 1), special)
    data = "".join(words).encode()
    assert fast(data, [c % (len(data) + 1) for c in cuts]) == reference(data)


def test_a_coloured_flood_never_needs_pyte(monkeypatch: pytest.MonkeyPatch) -> None:
    screen, stream = new_screen()
    data = b"".join(b"\x1b[01;3%dm%06d\x1b[0m the quick brown\r\n" % (n % 7 + 1, n)
                    for n in range(10_000)) + b"\x1b[1;32m$ "
    fed: list[bytes] = []
    original = stream.feed
    monkeypatch.setattr(stream, "feed", lambda piece: fed.append(piece) or original(piece))
    for start in range(0, len(data), 4096):  # chunks cut through sequences too
        pending = bytearray(data[start:start + 4096])
        drain(screen, stream, pending)
        assert not pending
    assert fed  # where a chunk cut a sequence
    fed.clear()
    pending = bytearray(data)
    screen, stream = new_screen()
    monkeypatch.setattr(stream, "feed", lambda piece: fed.append(piece) or original(piece))
    drain(screen, stream, pending)
    assert not pending
    assert fed == []  # pyte never needed
    assert state(screen) == reference(data[-3000:])


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
