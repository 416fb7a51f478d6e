"""Plain text onto a pyte screen at C speed, with exactly the result pyte would give.

pyte parses about 0.5 MB/s: every character goes through ``Screen.draw`` and every
line feed through its parser coroutine.  A ``cat`` of a large file is almost all
plain text, though, and what plain text does to a screen is simple enough to play
a line at a time with ``str`` methods: text is written at the cursor (wrapping at
the last column), ``\\t`` jumps to the next tab stop, ``\\r`` goes to column 0,
``\\n`` goes down a row and, at the bottom, scrolls the top row into the history.

Coloured output (``ls --color``, logs) is the same text with a few SGR sequences
(``ESC [ params m``) a line.  Those only change the cursor's attributes, so the
writer takes them too: the screen's own ``select_graphic_rendition`` works out the
new attributes from the parameters parsed as pyte's parser parses them (see
:data:`_SGR`), and the text after them is written with those.  Any other sequence,
or an SGR pyte's parser reads in an odd way, is left to pyte.

:func:`drain` hands such stretches to :class:`PlainWriter` and everything else
(other escape sequences, controls, wide or combining characters, invalid UTF-8)
to pyte, so the screen, the cursor and the scrollback always end as if pyte had
parsed every byte; tests/app/test_terminal_fast.py checks that against pyte.

Rows the writer creates enter the history as ``(text, attrs)`` tuples rather than
pyte's ``{column: Char}`` dicts (:data:`HOLE` marks a cell never written), and are
turned into dicts only when painted (:func:`row_cells`): a 20 MB ``cat`` builds
350,000 rows of which 5,000 are kept and 30 are seen.  A row whose cells get
different attributes becomes a pyte dict as soon as the second set is written.
"""

from __future__ import annotations

import codecs
import re
import time
from functools import lru_cache
from itertools import repeat
from typing import TypeAlias

import pyte
from pyte import charsets, modes
from pyte.screens import Char, StaticDefaultDict
from wcwidth import wcwidth

#: A cell the writer never wrote (pyte's dict simply has no such key).
HOLE = "\x00"
#: A row of the screen or the history: pyte's dict, or the writer's (text, attrs).
Row: TypeAlias = dict[int, Char] | tuple[str, Char]

#: A stretch of pending bytes is handed to the writer at most this long at a time.
REGION_BYTES = 256 * 1024
#: Backlog (bytes) above which text bound to scroll past the history is dropped unparsed.
DROP_MIN_BYTES = 256 * 1024
#: How far into the backlog to look for text to drop.
DROP_SCAN_BYTES = 4 << 20
#: Bytes pyte gets at a time when the writer cannot take the text (up to a newline).
PYTE_SLICE = 1024

#: Bytes that never change pyte's state beyond the cells they write: all but C0
#: controls (tab, LF and CR excepted) and DEL.  UTF-8 C1 controls are caught after
#: decoding, where they are not in :data:`_SAFE`.
_PLAIN_BYTES = bytes(b for b in range(256) if b >= 0x20 and b != 0x7F) + b"\t\n\r"
_ASCII_BYTES = bytes(range(128))
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
#: Plain bytes plus ESC, which may start an SGR sequence the writer takes.
_PLAIN_OR_ESC = _PLAIN_BYTES + b"\x1b"
#: An SGR sequence the writer takes: ``ESC [``, ASCII digits and semicolons, ``m``.
#: pyte's parser reads these as parameters split at ``;`` (an empty one is 0, each at
#: most 9999).  Everything else it reads differently, so it stays with pyte: a
#: private ``?`` (pyte then passes ``private=True``, which its screen rejects),
#: ``>`` or space (skipped), ``:`` (ends the sequence), controls inside (executed),
#: CAN/SUB (abort), non-ASCII digits.  At most 64 characters, so ``int`` never sees
#: a number too long to convert.
_SGR = re.compile(rb"\x1b\[([0-9;]{0,64})m")
_SGR_MAX = 67
#: An ESC that does not start an :data:`_SGR` sequence (within the bytes searched).
_ESC_NOT_SGR = re.compile(rb"\x1b(?!\[[0-9;]{0,64}m)")
_TOKEN = re.compile(r"[^\t\r\n]+|[\t\r\n]")
_LONE_CR_OR_LF = re.compile(r"\r(?!\n)|(?<!\r)\n")
#: Where the fast scan of the start of a backlog stops before scanning the rest.
_FIRST_SCAN = 4096
#: Bulk windows (characters): grow while lines keep the simple shape, shrink when not.
_BULK_MIN = 4096
_BULK_MAX = 1 << 20

_safe: frozenset[str] = frozenset()
_unsafe: re.Pattern[str] | None = None


def _safe_chars() -> tuple[frozenset[str], re.Pattern[str]]:
    """The non-ASCII characters the writer takes, and a pattern for everything it does not.

    One-cell printables by the same ``wcwidth`` pyte asks, over the scripts text
    output mostly uses (Latin, Greek, Cyrillic, punctuation, arrows, box drawing);
    built on first use.  Everything else (wide, combining, C1 controls, lone
    surrogates) is left to pyte.
    """
    global _safe, _unsafe
    if _unsafe is None:
        safe = [
            chr(code) for start, stop in ((0xA0, 0x530), (0x2000, 0x2C00))
            for code in range(start, stop) if wcwidth(chr(code)) == 1
        ]
        ranges: list[str] = []
        for char in safe:  # collapse runs into ranges to keep the class short
            if ranges and ord(ranges[-1][-1]) + 1 == ord(char):
                ranges[-1] = ranges[-1][0] + char
            else:
                ranges.append(char)
        body = "".join(re.escape(r[0]) + ("-" + re.escape(r[-1]) if len(r) > 1 else "")
                       for r in ranges)
        _safe = frozenset(safe)
        _unsafe = re.compile("[^\t\n\r\x20-\x7e" + body + "]")
    return _safe, _unsafe


def _safe_text(region: bytes) -> str:
    """The longest start of ``region`` (plain bytes, some non-ASCII) the writer can take.

    Stops before invalid UTF-8 (pyte decodes it as U+FFFD), before a sequence cut
    short at the end (it waits for its rest) and before the first character not
    in :func:`_safe_chars`.  Checked on the non-ASCII bytes alone, in C, unless
    something is actually unsafe.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(region)
        valid = len(region) - len(decoder.getstate()[0])
    except UnicodeDecodeError as error:
        valid = error.start
        text = region[:valid].decode()
    safe, unsafe = _safe_chars()
    # ASCII bytes never occur inside a multi-byte sequence, so what is left is valid.
    if set(region[:valid].translate(None, _ASCII_BYTES).decode()) <= safe:
        return text
    first = unsafe.search(text)
    return text if first is None else text[:first.start()]


_sgr_results: dict[tuple[type, Char, Char, bytes], Char] = {}


def _after_sgr(screen: pyte.Screen, default: Char, attrs: Char, params: bytes) -> Char:
    """The cursor attributes ``ESC [ params m`` turns ``attrs`` into, on ``screen``.

    Worked out by the screen's own ``select_graphic_rendition``, called with the
    parameters as pyte's parser would pass them, and remembered: the result
    depends only on the screen's class, its default character (reverse video
    changes it), the attributes before and the parameters.
    """
    key = (type(screen), default, attrs, params)
    result = _sgr_results.get(key)
    if result is None:
        cursor = screen.cursor
        saved = cursor.attrs
        cursor.attrs = attrs
        try:
            screen.select_graphic_rendition(
                *[min(int(param or 0), 9999) for param in params.split(b";")])
            result = cursor.attrs
        finally:
            cursor.attrs = saved
        if len(_sgr_results) > 4096:
            _sgr_results.clear()
        _sgr_results[key] = result
    return result


class _Chars(dict[str, Char]):
    """One attribute set's cells by character, so a row is built with one ``map``."""

    def __init__(self, attrs: Char) -> None:
        super().__init__()
        self.attrs = attrs

    def __missing__(self, data: str) -> Char:
        char = self[data] = self.attrs._replace(data=data)
        return char


_char_tables: dict[Char, _Chars] = {}


def _chars(attrs: Char) -> _Chars:
    table = _char_tables.get(attrs)
    if table is None:
        if len(_char_tables) > 256:
            _char_tables.clear()
        table = _char_tables[attrs] = _Chars(attrs)
    return table


def row_cells(row: Row, default: Char | None = None) -> dict[int, Char]:
    """The row as pyte stores it: ``{column: Char}`` for every written cell."""
    if isinstance(row, dict):
        return row
    text, attrs = row
    line: dict[int, Char] = (
        StaticDefaultDict(default) if default is not None else {})
    if text:
        line.update(enumerate(map(_chars(attrs).__getitem__, text)))
        if HOLE in text:
            for column in [i for i, data in enumerate(text) if data == HOLE]:
                del line[column]
    return line


def row_list(row: Row, columns: int, default: Char) -> list[Char]:
    """Exactly ``columns`` cells, ``default`` where nothing was written: for painting."""
    if isinstance(row, dict):
        return list(map(row.get, range(columns), repeat(default)))  # type: ignore[arg-type]
    text, attrs = row
    cells = list(map(_chars(attrs).__getitem__, text[:columns]))
    if HOLE in text:
        cells = [default if cell.data == HOLE else cell for cell in cells]
    cells.extend(repeat(default, columns - len(cells)))
    return cells


def row_text(row: Row, columns: int) -> str:
    """The row's characters, a space for every cell not written (as pyte's ``display``)."""
    if isinstance(row, dict):
        return "".join(row[x].data if x in row else " " for x in range(columns))
    return row[0][:columns].replace(HOLE, " ").ljust(columns)


def can_take_plain(screen: pyte.HistoryScreen, stream: pyte.ByteStream) -> bool:
    """Whether plain text would now only write cells and move the cursor, as the writer does.

    The parser must be between sequences with nothing half-decoded, and no mode
    may be on that changes what text does (insert, no auto-wrap, a scroll region,
    the alternate screen, a national charset); tab stops must lie on the screen.
    """
    cursor = screen.cursor
    return bool(
        stream._taking_plain_text and stream.use_utf8
        and not stream.utf8_decoder.getstate()[0]
        and not getattr(screen, "alternate", False) and screen.margins is None
        and modes.DECAWM in screen.mode and modes.IRM not in screen.mode
        and screen.charset == 0 and screen.g0_charset == charsets.LAT1_MAP
        and 0 <= cursor.x <= screen.columns and 0 <= cursor.y < screen.lines
        and max(screen.tabstops, default=0) < screen.columns
        and screen.history.top.maxlen is not None)


@lru_cache(maxsize=16)
def _next_tabs(columns: int, stops: frozenset[int]) -> tuple[int, ...]:
    """Where a tab from each column (0 to ``columns``) goes, as pyte's ``Screen.tab``."""
    ordered = sorted(stops)
    return tuple(next((stop for stop in ordered if stop > x), columns - 1)
                 for x in range(columns + 1))


class PlainWriter:
    """Plays text of tabs, CR, LF and one-cell characters onto a screen, as pyte would.

    Works on a copy of the screen's rows and cursor; :meth:`commit` puts them back.
    Only the row under the cursor is ever written (plain text never moves up), so
    it alone is a mutable list of cells, all written with :attr:`attrs`; every other
    row is a pyte dict or a finished ``(text, attrs)`` tuple.
    """

    def __init__(self, screen: pyte.HistoryScreen) -> None:
        self.screen = screen
        self.columns: int = screen.columns
        self.bottom: int = screen.lines - 1
        self.attrs: Char = screen.cursor.attrs
        self.default: Char = screen.default_char
        self.blank: Row = ("", self.attrs)
        self.rows: list[Row] = []
        for y in range(screen.lines):
            line = screen.buffer.get(y)
            self.rows.append(line if line else self.blank)
        self.x: int = screen.cursor.x
        self.y: int = screen.cursor.y
        self.lnm = modes.LNM in screen.mode
        maxlen = screen.history.top.maxlen
        assert maxlen is not None  # see can_take_plain
        self.maxlen: int = maxlen
        self.scrolled: list[Row] = []
        self.cells: list[str] | None = None  # the cursor's row while it is written
        self.next_tab = _next_tabs(self.columns, frozenset(screen.tabstops))
        self._bulk_window = _BULK_MIN

    # -- the cursor's row ---------------------------------------------------------------

    def _open(self) -> list[str]:
        row = self.rows[self.y]
        if isinstance(row, tuple) and row[0] and row[1] != self.attrs:
            # Cells in other attributes: from now on a dict, as pyte keeps every row.
            row = self.rows[self.y] = row_cells(row, self.default)
        cells = list(row[0]) if isinstance(row, tuple) else []
        cells.extend(HOLE * (self.columns - len(cells)))
        self.cells = cells
        return cells

    def _close(self) -> None:
        cells = self.cells
        if cells is None:
            return
        self.cells = None
        row = self.rows[self.y]
        if isinstance(row, dict):  # a row pyte made, or mixed: written in place, as pyte does
            table = _chars(self.attrs)
            text = "".join(cells)
            end = len(text.rstrip(HOLE))
            start = end - len(text[:end].lstrip(HOLE))
            if HOLE in text[start:end]:
                for x, data in enumerate(cells):
                    if data != HOLE:
                        row[x] = table[data]
            else:  # one written stretch (the usual case): in C
                row.update(enumerate(map(table.__getitem__, text[start:end]), start))
        else:
            self.rows[self.y] = ("".join(cells).rstrip(HOLE), self.attrs)

    def _index(self) -> None:
        self._close()
        if self.y == self.bottom:
            rows = self.rows
            self.scrolled.append(rows.pop(0))
            rows.append(self.blank)
            if len(self.scrolled) > 2 * self.maxlen + 64:
                del self.scrolled[:-self.maxlen]
        else:
            self.y += 1

    def _draw(self, text: str) -> None:
        columns = self.columns
        while True:
            if self.x == columns:  # pending wrap: CR + LF, as pyte's draw does
                self._index()
                self.x = 0
            cells = self.cells if self.cells is not None else self._open()
            x = self.x
            room = columns - x
            if len(text) <= room:
                cells[x:x + len(text)] = text
                self.x = x + len(text)
                return
            cells[x:columns] = text[:room]
            self.x = columns
            text = text[room:]

    # -- text ---------------------------------------------------------------------------

    def select_graphic_rendition(self, params: bytes) -> None:
        """Apply ``ESC [ params m`` (an :data:`_SGR` match) to the cursor's attributes."""
        attrs = _after_sgr(self.screen, self.default, self.attrs, params)
        if attrs != self.attrs:
            self._close()  # the open row's cells are in the old attributes
            self.attrs = attrs

    def write(self, text: str, deadline: float = float("inf")) -> int:
        """Play ``text`` (only safe characters); returns how much, stopping at a line end
        once ``deadline`` (``time.perf_counter``) has passed."""
        position, end = 0, len(text)
        while position < end:
            if (self.x == 0 and self.y == self.bottom and self.cells is None
                    and self.rows[-1] is self.blank):
                after = self._bulk(text, position)
                if after > position:
                    position = after
                    if time.perf_counter() > deadline:
                        break
                    continue
            newline = text.find("\n", position)
            stop = end if newline < 0 else newline + 1
            for match in _TOKEN.finditer(text, position, stop):
                token = match.group()
                if token == "\n":
                    self._index()
                    if self.lnm:
                        self.x = 0
                elif token == "\r":
                    self.x = 0
                elif token == "\t":
                    self.x = self.next_tab[self.x]
                else:
                    self._draw(token)
            position = stop
            if time.perf_counter() > deadline:
                break
        return position

    def _bulk(self, text: str, position: int) -> int:
        """Lines without tabs, each ending in CR LF, from the start of a blank bottom row:
        they become rows as they are (cut at the width when they wrap), with ``str``
        methods only.  Returns where such lines end (``position`` if the next is not)."""
        window = self._bulk_window
        end = text.rfind("\r\n", position, position + window)
        if end < 0:
            self._bulk_window = _BULK_MIN
            return position
        end += 2
        tab = text.find("\t", position, end)
        if tab >= 0:
            crlf = text.rfind("\r\n", position, tab)
            end = crlf + 2 if crlf >= 0 else position
        block = text[position:end]
        rows = block.split("\r\n")
        lines = len(rows) - 1
        if block.count("\r") != lines or block.count("\n") != lines:
            # A CR or LF outside a CR LF pair: stop at the last pair before it.
            lone = _LONE_CR_OR_LF.search(block)
            assert lone is not None
            block = block[:block.rfind("\r\n", 0, lone.start()) + 2]
            if not block.endswith("\r\n"):
                block = ""
            rows = block.split("\r\n")
        if not block:
            self._bulk_window = _BULK_MIN
            return position
        rows.pop()
        columns = self.columns
        if max(map(len, rows)) > columns:  # long lines wrap: a row per ``columns`` cells
            rows = [part for line in rows for part in (
                [line] if len(line) <= columns else
                [line[x:x + columns] for x in range(0, len(line), columns)])]
        self._bulk_window = min(window * 2, _BULK_MAX)
        if rows:
            self._push(rows)
        return position + len(block)

    def _push(self, lines: list[str]) -> None:
        # Each line is written on the (blank) bottom row, then CR LF scrolls it up.
        keep = self.maxlen + self.bottom + 1
        if len(lines) > keep:  # the rest would scroll out of the history anyway
            lines = lines[-keep:]
        combined = self.rows[:-1]
        combined.extend(zip(lines, repeat(self.attrs)))
        self.scrolled.extend(combined[:len(lines)])
        if len(self.scrolled) > 2 * self.maxlen + 64:
            del self.scrolled[:-self.maxlen]
        self.rows = combined[len(lines):]
        self.rows.append(self.blank)

    def commit(self) -> None:
        """Put rows, history and cursor back on the screen."""
        self._close()
        screen = self.screen
        if self.scrolled:
            # pyte's deque of dicts now also holds (text, attrs) rows: see the module doc.
            screen.history.top.extend(self.scrolled)  # type: ignore[arg-type]
            self.scrolled = []
        default = screen.default_char
        buffer = screen.buffer
        for y, row in enumerate(self.rows):
            buffer[y] = row if isinstance(row, dict) else row_cells(row, default)  # type: ignore[assignment]
        screen.cursor.x, screen.cursor.y = self.x, self.y
        screen.cursor.attrs = self.attrs
        screen.dirty.update(range(screen.lines))


def _scan(data: bytes | bytearray, end: int) -> int:
    """How much of ``data[:end]`` is plain bytes and whole :data:`_SGR` sequences."""
    window = data[:end]
    bad = window.translate(None, _PLAIN_OR_ESC)
    stop = window.find(bad[:1]) if bad else end
    if window.find(b"\x1b", 0, stop) < 0:  # plain text: no need for the pattern
        return stop
    other = _ESC_NOT_SGR.search(window, 0, stop)
    return stop if other is None else other.start()


def _text_end(data: bytes | bytearray, limit: int) -> int:
    """Where the stretch of plain text and SGR sequences at the start of ``data`` ends
    (at most ``limit``).  A short first look, as a sequence usually comes early."""
    first = min(limit, _FIRST_SCAN)
    end = _scan(data, first)
    if limit > first and end > first - _SGR_MAX:  # maybe only a sequence cut at ``first``
        end = _scan(data, limit)
    return end


def _drop_point(pending: bytearray, keep: int) -> int:
    """How many leading bytes can be dropped unparsed: 0, or the end of a CR LF followed
    by at least ``keep`` line feeds and preceded by nothing but plain text and SGR
    sequences.

    After CR LF the cursor is at column 0 whatever came before; ``keep`` (history +
    two screens of) line feeds later every row on screen and in the history was
    made after it, so the dropped text cannot show.  Of the dropped SGR sequences
    only their effect on the cursor's attributes remains (:func:`_attrs_after`).
    """
    limit = min(len(pending), DROP_SCAN_BYTES)
    # Counting is cheap, scanning for sequences is not: most drains of a flood come
    # right after a drop, with too few lines pending to drop more.
    if pending.count(b"\n", 0, limit) <= 2 * keep:
        return 0
    end = _text_end(pending, limit)
    if end < limit and pending.count(b"\n", 0, end) <= 2 * keep:
        return 0
    position = end
    for _ in range(keep):
        position = pending.rfind(b"\n", 0, position)
    cut = pending.rfind(b"\r\n", 0, position)
    if cut < 0:
        return 0
    cut += 2
    if not pending[:cut].isascii() and _C1_UTF8.search(pending, 0, cut):
        return 0
    return cut


def _attrs_after(screen: pyte.HistoryScreen, pending: bytearray, end: int) -> Char:
    """The cursor's attributes after the SGR sequences in ``pending[:end]`` (plain text
    and whole sequences only), from the last plain reset (``ESC[m``/``ESC[0m``) on."""
    attrs = screen.cursor.attrs
    if pending.rfind(b"\x1b", 0, end) < 0:  # plain text
        return attrs
    start = max(pending.rfind(b"\x1b[0m", 0, end), pending.rfind(b"\x1b[m", 0, end), 0)
    default = screen.default_char
    for match in _SGR.finditer(pending, start, end):
        attrs = _after_sgr(screen, default, attrs, match.group(1))
    return attrs


def drop_unseen(screen: pyte.HistoryScreen, stream: pyte.ByteStream,
                pending: bytearray) -> int:
    """Drop, unparsed, the plain text at the start of a large backlog that could only
    end up beyond the history (see :func:`_drop_point`); returns the bytes dropped."""
    if len(pending) <= DROP_MIN_BYTES or not can_take_plain(screen, stream):
        return 0
    keep = int(screen.history.top.maxlen or 0) + 2 * screen.lines + 2
    cut = _drop_point(pending, keep)
    if cut:
        screen.cursor.attrs = _attrs_after(screen, pending, cut)
        del pending[:cut]
        # Right after CR LF: column 0; and enough line feeds follow for the row to be
        # the bottom one whatever it was.
        screen.cursor.x, screen.cursor.y = 0, screen.lines - 1
    return cut


def feed_plain(screen: pyte.HistoryScreen, stream: pyte.ByteStream, pending: bytearray,
               deadline: float = float("inf")) -> int:
    """Take the plain text and SGR sequences at the start of ``pending`` off it and
    onto ``screen``, with one writer for the whole stretch.

    Returns the bytes consumed: 0 when pyte must parse what comes first.
    """
    if not pending or not can_take_plain(screen, stream):
        return 0
    end = _text_end(pending, min(len(pending), REGION_BYTES))
    if not end:
        return 0
    region = bytes(pending[:end])
    writer = PlainWriter(screen)
    position = 0
    while position < end:
        escape = region.find(b"\x1b", position)
        stop = end if escape < 0 else escape
        if stop > position:
            piece = region[position:stop]
            ascii = piece.isascii()
            text = piece.decode("ascii") if ascii else _safe_text(piece)
            written = writer.write(text, deadline) if text else 0
            position += written if ascii else len(text[:written].encode())
            if position < stop or time.perf_counter() > deadline:
                break
        if escape >= 0:
            match = _SGR.match(region, escape)
            assert match is not None  # see _text_end
            writer.select_graphic_rendition(match.group(1))
            position = match.end()
    writer.commit()
    del pending[:position]
    return position


def drain(screen: pyte.HistoryScreen, stream: pyte.ByteStream, pending: bytearray,
          deadline: float = float("inf")) -> None:
    """Parse ``pending`` until it is empty or ``deadline`` passed: plain stretches by the
    writer, the rest by pyte a line (at most :data:`PYTE_SLICE` bytes) at a time."""
    drop_unseen(screen, stream, pending)
    while pending:
        if not feed_plain(screen, stream, pending, deadline):
            newline = pending.find(b"\n", 0, PYTE_SLICE)
            size = newline + 1 if newline >= 0 else PYTE_SLICE
            piece = bytes(pending[:size])
            del pending[:size]
            stream.feed(piece)
        if time.perf_counter() > deadline:
            return
