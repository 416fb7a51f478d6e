"""The terminal widget on its own: key encoding as xterm sends it, and what it shows."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.widgets.terminal import TerminalWidget
from app.widgets.terminal_keys import encode_key
from tests.waits import wait_ms

K = Qt.Key
M = Qt.KeyboardModifier
NONE, SHIFT, CTRL, ALT = M.NoModifier, M.ShiftModifier, M.ControlModifier, M.AltModifier


@pytest.mark.parametrize(
    ("key", "mods", "text", "app_cursor", "sent"),
    [
        (K.Key_A, NONE, "a", False, b"a"),
        (K.Key_A, SHIFT, "A", False, b"A"),
        (K.Key_Return, NONE, "\r", False, b"\r"),
        (K.Key_Enter, NONE, "\r", False, b"\r"),
        (K.Key_Backspace, NONE, "\x08", False, b"\x7f"),
        (K.Key_Backspace, CTRL, "", False, b"\x08"),
        (K.Key_Tab, NONE, "\t", False, b"\t"),
        (K.Key_Backtab, SHIFT, "", False, b"\x1b[Z"),
        (K.Key_Escape, NONE, "\x1b", False, b"\x1b"),
        (K.Key_Up, NONE, "", False, b"\x1b[A"),
        (K.Key_Down, NONE, "", False, b"\x1b[B"),
        (K.Key_Right, NONE, "", False, b"\x1b[C"),
        (K.Key_Left, NONE, "", False, b"\x1b[D"),
        (K.Key_Up, NONE, "", True, b"\x1bOA"),
        (K.Key_Left, NONE, "", True, b"\x1bOD"),
        (K.Key_Right, CTRL, "", False, b"\x1b[1;5C"),
        (K.Key_Up, SHIFT, "", True, b"\x1b[1;2A"),
        (K.Key_Home, NONE, "", False, b"\x1b[H"),
        (K.Key_End, NONE, "", False, b"\x1b[F"),
        (K.Key_Home, NONE, "", True, b"\x1bOH"),
        (K.Key_Insert, NONE, "", False, b"\x1b[2~"),
        (K.Key_Delete, NONE, "", False, b"\x1b[3~"),
        (K.Key_PageUp, NONE, "", False, b"\x1b[5~"),
        (K.Key_PageDown, NONE, "", False, b"\x1b[6~"),
        (K.Key_Delete, CTRL, "", False, b"\x1b[3;5~"),
        (K.Key_F1, NONE, "", False, b"\x1bOP"),
        (K.Key_F4, NONE, "", False, b"\x1bOS"),
        (K.Key_F1, SHIFT, "", False, b"\x1b[1;2P"),
        (K.Key_F5, NONE, "", False, b"\x1b[15~"),
        (K.Key_F6, NONE, "", False, b"\x1b[17~"),
        (K.Key_F10, NONE, "", False, b"\x1b[21~"),
        (K.Key_F11, NONE, "", False, b"\x1b[23~"),
        (K.Key_F12, NONE, "", False, b"\x1b[24~"),
        (K.Key_F12, CTRL, "", False, b"\x1b[24;5~"),
        (K.Key_C, CTRL, "\x03", False, b"\x03"),
        (K.Key_D, CTRL, "\x04", False, b"\x04"),
        (K.Key_Z, CTRL, "\x1a", False, b"\x1a"),
        (K.Key_BracketLeft, CTRL, "\x1b", False, b"\x1b"),
        (K.Key_Space, CTRL, "", False, b"\x00"),
        (K.Key_Backslash, CTRL, "\x1c", False, b"\x1c"),
        (K.Key_X, ALT, "x", False, b"\x1bx"),
        (K.Key_B, ALT, "", False, b"\x1bb"),
        (K.Key_Return, ALT, "\r", False, b"\x1b\r"),
        (K.Key_C, CTRL | ALT, "", False, b"\x1b\x03"),
        (K.Key_Shift, SHIFT, "", False, None),
        (K.Key_Eacute, NONE, "é", False, "é".encode()),
    ],
)
def test_keys_encode_as_xterm(
    key: Qt.Key, mods: Qt.KeyboardModifier, text: str, app_cursor: bool, sent: bytes | None
) -> None:
    assert encode_key(key, mods, text, application_cursor=app_cursor) == sent


@pytest.fixture
def terminal(qtbot: QtBot) -> TerminalWidget:
    widget = TerminalWidget()
    qtbot.addWidget(widget)
    widget.resize(widget.cell_width * 40, widget.cell_height * 10)
    widget.show()
    qtbot.waitUntil(lambda: widget.columns == 40, timeout=wait_ms(5))
    return widget


def test_text_colours_and_attributes(terminal: TerminalWidget) -> None:
    terminal.feed(b"plain \x1b[1;31mbold red\x1b[0m \x1b[38;5;208m256\x1b[0m "
                  b"\x1b[38;2;1;2;3mtrue\x1b[0m \x1b[7mrev\x1b[0m\r\nnext")
    assert terminal.display_lines()[0].rstrip() == "plain bold red 256 true rev"
    assert terminal.display_lines()[1].rstrip() == "next"
    line = terminal.vt.buffer[0]
    assert (line[6].fg, line[6].bold) == ("red", True)
    assert line[15].fg == "ff8700"  # xterm's colour 208
    assert line[19].fg == "010203"
    assert line[24].reverse is True
    terminal.repaint()  # paints every kind of cell without error


def test_odd_escape_sequences_do_not_break_the_terminal(terminal: TerminalWidget) -> None:
    # vim's key-modifier query (private SGR), then a command given too many parameters:
    # pyte raised TypeError out of feed for both.
    terminal.feed(b"a\x1b[?4mb\r\nc\x1b[1;31a")
    terminal.feed(b"\r\nstill here")
    assert terminal.display_lines()[0].rstrip() == "ab"
    assert terminal.display_lines()[2].rstrip() == "still here"
    big = b"x" * 300 + b"\x1b[?4m" + b"y\r\n" * 5000  # through the budgeted drain too
    terminal.feed(big)
    terminal._drain()
    while terminal.busy():
        terminal._drain()
    assert terminal.display_lines()[-2].rstrip() == "y"


def test_alternate_screen_is_left_cleanly(terminal: TerminalWidget) -> None:
    terminal.feed(b"$ prompt line\r\n$ ")
    before = terminal.display_lines()
    cursor = (terminal.vt.cursor.x, terminal.vt.cursor.y)
    terminal.feed(b"\x1b[?1049h\x1b[H\x1b[2Jfull screen program\x1b[5;5Hmore")
    assert terminal.vt.alternate
    assert terminal.display_lines()[0].startswith("full screen program")
    terminal.feed(b"\x1b[?1049l")
    assert not terminal.vt.alternate
    assert terminal.display_lines() == before
    assert (terminal.vt.cursor.x, terminal.vt.cursor.y) == cursor


def test_scrollback_keeps_lines_that_left_the_screen(terminal: TerminalWidget) -> None:
    terminal.feed(b"".join(b"line %d\r\n" % n for n in range(30)))
    assert terminal.display_lines()[-2].rstrip() == "line 29"
    history = terminal.scrollback_text()
    assert history[0].rstrip() == "line 0"
    terminal.scroll_by(1000)
    assert terminal.scroll_offset == len(history)
    terminal.scroll_by(-1000)
    assert terminal.scroll_offset == 0


def test_keys_and_paste_come_out_as_input(qtbot: QtBot, terminal: TerminalWidget) -> None:
    sent: list[bytes] = []
    terminal.input.connect(sent.append)
    qtbot.keyClicks(terminal, "ls")
    qtbot.keyClick(terminal, Qt.Key.Key_Tab)
    qtbot.keyClick(terminal, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert b"".join(sent) == b"ls\t\x03"
    sent.clear()
    terminal.paste("echo a\necho b")
    assert sent == [b"echo a\recho b"]
    terminal.feed(b"\x1b[?2004h")
    sent.clear()
    terminal.paste("x")
    assert sent == [b"\x1b[200~x\x1b[201~"]


def test_device_status_queries_are_answered(terminal: TerminalWidget) -> None:
    sent: list[bytes] = []
    terminal.input.connect(sent.append)
    terminal.feed(b"ab\x1b[6n")
    assert sent == [b"\x1b[1;3R"]


def test_resize_reports_rows_and_columns(qtbot: QtBot, terminal: TerminalWidget) -> None:
    with qtbot.waitSignal(terminal.resized, timeout=wait_ms(5)) as blocker:
        terminal.resize(terminal.cell_width * 100, terminal.cell_height * 30)
    assert blocker.args == [30, 100]
    assert (terminal.rows, terminal.columns) == (30, 100)


def test_selection_copies_text(qtbot: QtBot, terminal: TerminalWidget) -> None:
    terminal.feed(b"hello world\r\nsecond")
    y = terminal.cell_height // 2
    start = terminal.rect().topLeft()
    start.setY(y)
    start.setX(terminal.cell_width * 6 + 1)
    end = start.__class__(terminal.cell_width * 10 + 1, y)
    qtbot.mousePress(terminal, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(terminal, end)
    qtbot.mouseRelease(terminal, Qt.MouseButton.LeftButton, pos=end)
    assert terminal.selected_text() == "world"


def test_a_flood_of_output_ends_as_if_every_byte_was_parsed(
    qtbot: QtBot, terminal: TerminalWidget
) -> None:
    import pyte

    from app.widgets.terminal import TerminalScreen

    flood = b"\x1b[32m$\x1b[0m cat big.txt\r\n" + b"".join(
        b"line %d \xc3\xa9 with some text to wrap around the forty columns\r\n" % n
        for n in range(20_000)) + b"$ "
    reference = TerminalScreen(terminal.columns, terminal.rows, lambda _: None)
    pyte.ByteStream(reference).feed(flood)
    for start in range(0, len(flood), 65536):  # as the socket delivers it
        terminal.feed(flood[start:start + 65536])
    assert terminal.busy()  # parsed in slices, not all at once
    qtbot.waitUntil(lambda: not terminal.busy(), timeout=wait_ms(60))
    assert terminal.display_lines() == list(reference.display)

    ours = [line.rstrip() for line in terminal.scrollback_text()]
    theirs = ["".join(line[x].data for x in sorted(line)).rstrip()
              for line in reference.history.top]
    assert ours[-4000:] == theirs[-4000:]


def test_a_shorter_terminal_sends_its_top_lines_to_the_scrollback(
    qtbot: QtBot, terminal: TerminalWidget
) -> None:
    terminal.feed(b"".join(b"line %d\r\n" % n for n in range(9)) + b"$ ")
    assert terminal.display_lines()[-1].rstrip() == "$"
    with qtbot.waitSignal(terminal.resized, timeout=wait_ms(5)):
        terminal.resize(terminal.cell_width * 40, terminal.cell_height * 6)
    # As xterm: the cursor's row stays, the rows above it that no longer fit scroll
    # into the history instead of being thrown away.
    assert [line.rstrip() for line in terminal.display_lines()] == [
        "line 4", "line 5", "line 6", "line 7", "line 8", "$"]
    assert (terminal.vt.cursor.x, terminal.vt.cursor.y) == (2, 5)
    assert [line.rstrip() for line in terminal.scrollback_text()] == [
        "line 0", "line 1", "line 2", "line 3"]
    # Taller again: nothing lost either way.
    with qtbot.waitSignal(terminal.resized, timeout=wait_ms(5)):
        terminal.resize(terminal.cell_width * 40, terminal.cell_height * 10)
    terminal.feed(b"next")
    assert terminal.display_lines()[5].rstrip() == "$ next"


def test_a_shorter_terminal_drops_blank_rows_under_the_cursor_first(
    qtbot: QtBot, terminal: TerminalWidget
) -> None:
    terminal.feed(b"first\r\n$ ")
    with qtbot.waitSignal(terminal.resized, timeout=wait_ms(5)):
        terminal.resize(terminal.cell_width * 40, terminal.cell_height * 4)
    assert [line.rstrip() for line in terminal.display_lines()] == ["first", "$", "", ""]
    assert terminal.scrollback_text() == []
