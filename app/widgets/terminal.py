"""A VT terminal widget: pyte parses the byte stream, Qt paints the cells.

The widget knows nothing about containers: bytes go in through :meth:`feed`,
key presses and pastes come out through :attr:`TerminalWidget.input`, and size
changes through :attr:`TerminalWidget.resized`.  Output is parsed at most once
per frame while it streams in, within a time budget, plain text by
:mod:`app.widgets.terminal_fast` (same result as pyte, a hundred times faster)
and the rest by pyte; repaints are coalesced to one per frame (fewer during a
flood), so a ``cat`` of a large file never floods the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from itertools import groupby
from operator import itemgetter
from typing import Any

import pyte
from PySide6.QtCore import QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QClipboard,
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget
from pyte.screens import Char

from app.widgets.terminal_fast import Row, drain, row_list
from app.widgets.terminal_keys import encode_key

log = logging.getLogger(__name__)

SCROLLBACK_LINES = 5000

#: The 16 ANSI colours (xterm's defaults), by pyte's names.
PALETTE = {
    "black": "#000000", "red": "#cd0000", "green": "#00cd00", "brown": "#cdcd00",
    "blue": "#0000ee", "magenta": "#cd00cd", "cyan": "#00cdcd", "white": "#e5e5e5",
    "brightblack": "#7f7f7f", "brightred": "#ff0000", "brightgreen": "#00ff00",
    "brightbrown": "#ffff00", "brightblue": "#5c5cff", "brightmagenta": "#ff00ff",
    "brightcyan": "#00ffff", "brightwhite": "#ffffff",
}
DEFAULT_FG = QColor("#d8d8d8")
DEFAULT_BG = QColor("#1e1e1e")
SELECTION_BG = QColor("#3a5f8f")

#: Application cursor keys (private mode 1, shifted the way pyte stores private modes).
DECCKM = 1 << 5
_ALTERNATE_MODES = (47, 1047, 1049)
_BRACKETED_PASTE = 2004
#: What decides how a cell is painted: fg, bg, bold, italics, underscore, reverse.
_STYLE = itemgetter(1, 2, 3, 4, 5, 7)
_DATA = itemgetter(0)


class ForgivingStream(pyte.ByteStream):  # type: ignore[misc]
    """pyte's stream, minus every way output can break a session.

    A shell's output is the container's to choose, and pyte lets exceptions out of
    ``feed``: ``ESC[1;31a`` (two parameters for a one-parameter command) raises
    TypeError from the handler, a parameter of more than 4,300 digits ValueError
    from ``int`` (``printf '\\033[%05000dm' 1``).  pyte resets its parser when that
    happens; here the sequence is dropped and parsing goes on with the next
    character, so nothing after it is lost.
    """

    def _send_to_parser(self, data: str) -> bool | None:
        try:
            return super()._send_to_parser(data)  # type: ignore[no-any-return]
        except Exception as exc:  # untrusted output must never raise
            log.debug("dropped a malformed escape sequence: %.200s", exc)
            # pyte made a new parser before raising: it waits for plain text.
            return self._taking_plain_text  # type: ignore[no-any-return]

    def feed(self, data: bytes) -> None:  # type: ignore[override]  # pyte: str, bytes here
        try:
            super().feed(data)
        except Exception as exc:  # drawing text, decoding: never raise
            log.debug("dropped output pyte could not take: %.200s", exc)


class TerminalScreen(pyte.HistoryScreen):  # type: ignore[misc]
    """pyte's screen plus what full-screen programs need and pyte lacks.

    pyte has no alternate screen (``vi``, ``top``, ``less`` switch to it and
    back), does not track bracketed paste, and answers device queries through
    :meth:`write_process_input`, which we route back to the program.
    """

    # HistoryScreen wraps every attribute access in before/after-event hooks that
    # only paging (prev_page/next_page) needs; the widget scrolls on its own, and
    # the hooks cost a quarter of all parsing time.  DECTCEM still hides the cursor
    # through set_mode/reset_mode.
    __getattribute__ = object.__getattribute__

    def __init__(self, columns: int, lines: int, reply: Callable[[str], None]) -> None:
        super().__init__(columns, lines, history=SCROLLBACK_LINES, ratio=0.5)
        self._reply = reply
        self.alternate = False
        self.bracketed_paste = False
        self._saved_lines: dict[int, dict[int, Char]] = {}

    def write_process_input(self, data: str) -> None:
        self._reply(data)

    def select_graphic_rendition(self, *attrs: int, private: bool = False) -> None:
        """``CSI ? … m`` (xterm's key-modifier query, which vim sends) changes no
        attributes; pyte passes ``private`` here and its own method raised TypeError."""
        if not private:
            super().select_graphic_rendition(*attrs)

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            if _BRACKETED_PASTE in modes:
                self.bracketed_paste = True
            if any(mode in _ALTERNATE_MODES for mode in modes):
                self._enter_alternate(save_cursor=1049 in modes)
            modes = tuple(m for m in modes if m not in (*_ALTERNATE_MODES, _BRACKETED_PASTE))
            if not modes:
                return
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            if _BRACKETED_PASTE in modes:
                self.bracketed_paste = False
            if any(mode in _ALTERNATE_MODES for mode in modes):
                self._leave_alternate(restore_cursor=1049 in modes)
            modes = tuple(m for m in modes if m not in (*_ALTERNATE_MODES, _BRACKETED_PASTE))
            if not modes:
                return
        super().reset_mode(*modes, **kwargs)

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """As xterm: a shorter screen keeps the cursor's row and the rows above it as
        far as they fit, the rows that no longer fit go to the history (pyte dropped
        them), and rows under the cursor (usually blank) are the first to go."""
        lines = lines or self.lines
        excess = self.lines - lines
        if excess > 0 and not self.alternate:
            below = self.lines - 1 - self.cursor.y
            top = excess - min(excess, max(below, 0))
            if top:
                buffer = self.buffer
                for y in range(top):
                    self.history.top.append(buffer[y])
                rows = {y - top: buffer[y] for y in range(top, self.lines) if y in buffer}
                buffer.clear()
                buffer.update(rows)
                self.cursor.y -= top
            for y in range(lines, self.lines):
                self.buffer.pop(y, None)
            self.lines = lines  # pyte's resize now only sees the columns change
            self.set_margins()
            self.dirty.update(range(lines))
        super().resize(lines, columns)

    def index(self) -> None:
        # Lines scrolled off a full-screen program's screen are not history.
        if self.alternate:
            pyte.Screen.index(self)
        else:
            super().index()

    def _enter_alternate(self, *, save_cursor: bool) -> None:
        if self.alternate:
            return
        if save_cursor:
            self.save_cursor()
        self._saved_lines = {y: dict(line) for y, line in self.buffer.items()}
        self.alternate = True
        self.erase_in_display(2)

    def _leave_alternate(self, *, restore_cursor: bool) -> None:
        if not self.alternate:
            return
        self.alternate = False
        self.buffer.clear()
        for y, line in self._saved_lines.items():
            if y < self.lines:
                self.buffer[y].update(line)
        self._saved_lines = {}
        if restore_cursor:
            self.restore_cursor()
        self.dirty.update(range(self.lines))


_colours: dict[str, QColor] = {}


def _colour(name: str, default: QColor) -> QColor:
    if name == "default":
        return default
    colour = _colours.get(name)
    if colour is None:
        if name in PALETTE:
            colour = QColor(PALETTE[name])
        elif len(name) == 6:
            colour = QColor("#" + name)
        else:
            return default
        _colours[name] = colour
    return colour


class TerminalWidget(QWidget):
    """A terminal emulator view; connect :attr:`input` to the program's stdin."""

    input = Signal(bytes)
    resized = Signal(int, int)  # rows, columns

    FRAME_MS = 16
    #: Output up to this size is parsed at once (typing, prompts) unless a flood is
    #: being drained; the rest waits for the next drain, at most one per frame while
    #: output streams in, so each drain takes a large batch.
    SLICE = 1024
    #: Parsing time allowed per event-loop turn.
    BUDGET_SECONDS = 0.008
    #: While a drain takes more than FLOOD_BYTES, drains and frames are FLOOD_FRAME_MS
    #: apart: nobody can follow the text, a paint costs a few ms better spent reading,
    #: and a larger batch lets more text that would scroll past the history be dropped.
    FLOOD_BYTES = 32 * 1024
    FLOOD_FRAME_MS = 40

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("terminal")
        self.setAccessibleName("Terminal")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(max(font.pointSize(), 10))
        self.setFont(font)
        self.vt = TerminalScreen(80, 24, self._reply)
        self.stream = ForgivingStream(self.vt)
        self.scroll_offset = 0  # lines scrolled back from the bottom
        self._selection: tuple[QPoint, QPoint] | None = None
        self._selecting = False
        self._repaint = QTimer(self)
        self._repaint.setSingleShot(True)
        self._repaint.setInterval(self.FRAME_MS)
        self._repaint.timeout.connect(self.update)
        self._pending = bytearray()
        self._last_drain = 0.0
        self._flooding = False
        self._fonts: dict[tuple[bool, bool, bool], QFont] = {}
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._drain)
        self._update_metrics()

    # -- sizes --------------------------------------------------------------------------

    def _update_metrics(self) -> None:
        metrics = QFontMetrics(self.font())
        self.cell_width = max(metrics.horizontalAdvance("M"), 1)
        self.cell_height = max(metrics.height(), 1)
        self.ascent = metrics.ascent()

    @property
    def rows(self) -> int:
        return int(self.vt.lines)

    @property
    def columns(self) -> int:
        return int(self.vt.columns)

    def sizeHint(self) -> QSize:
        return QSize(self.cell_width * 100 + 4, self.cell_height * 30 + 4)

    def resizeEvent(self, event: QResizeEvent) -> None:
        columns = max(event.size().width() // self.cell_width, 2)
        rows = max(event.size().height() // self.cell_height, 2)
        if (rows, columns) != (self.rows, self.columns):
            self.vt.resize(rows, columns)
            self.resized.emit(rows, columns)
        super().resizeEvent(event)

    # -- output -------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Take output: a little after a quiet frame is parsed at once, the rest per frame."""
        now = time.perf_counter()
        if (not self._pending and len(data) <= self.SLICE
                and now - self._last_drain >= self.FRAME_MS / 1000):
            self.stream.feed(data)  # typing and prompts: no latency
        else:
            self._pending += data
            if not self._drain_timer.isActive():
                frame = self.FLOOD_FRAME_MS if self._flooding else self.FRAME_MS
                wait = self._last_drain + frame / 1000 - now
                self._drain_timer.start(max(int(wait * 1000), 0))
        self._schedule_repaint()

    def busy(self) -> bool:
        """Whether output is still waiting to be parsed."""
        return bool(self._pending)

    def _drain(self) -> None:
        # Plain text goes through terminal_fast's writer (str methods, exact), the rest
        # through pyte (about 0.5 MB/s); within a time budget per event-loop turn, so
        # the window keeps responding however fast output comes.
        start = self._last_drain = time.perf_counter()
        before = len(self._pending)
        drain(self.vt, self.stream, self._pending, start + self.BUDGET_SECONDS)
        self._flooding = before - len(self._pending) > self.FLOOD_BYTES
        if self._pending:
            self._drain_timer.start(0)
        self._schedule_repaint()

    def _schedule_repaint(self) -> None:
        frame = self.FLOOD_FRAME_MS if self._flooding else self.FRAME_MS
        if not self._repaint.isActive() or self._repaint.remainingTime() > frame:
            self._repaint.start(frame)

    def _reply(self, text: str) -> None:
        self.input.emit(text.encode())

    def display_lines(self) -> list[str]:
        """The text on screen, one string per row (trailing blanks kept) — for tests."""
        return list(self.vt.display)

    def _line_count(self) -> int:
        """Rows of history (none on the alternate screen) plus the screen's rows."""
        return (0 if self.vt.alternate else len(self.vt.history.top)) + self.rows

    def _line(self, index: int) -> Row:
        """Row ``index`` of history followed by screen (see :meth:`_line_count`)."""
        history = 0 if self.vt.alternate else len(self.vt.history.top)
        if index < history:
            row: Row = self.vt.history.top[index]
            return row
        return self.vt.buffer[index - history]  # type: ignore[no-any-return]

    def scrollback_text(self) -> list[str]:
        """The history's rows as text, oldest first (trailing blanks kept) — for tests."""
        return ["".join(map(_DATA, row_list(row, self.columns, self.vt.default_char)))
                for row in self.vt.history.top]

    # -- painting -----------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), DEFAULT_BG)
        total = self._line_count()
        first = max(total - self.rows - self.scroll_offset, 0)
        selection = self._normalised_selection()
        default = self.vt.default_char
        for row in range(min(self.rows, total - first)):
            index = first + row
            cells = row_list(self._line(index), self.columns, default)
            self._paint_line(painter, row, cells, self._selected_columns(selection, index))
        if not self.vt.cursor.hidden and self.scroll_offset == 0:
            cursor = self.vt.cursor
            rect = QRect(cursor.x * self.cell_width, cursor.y * self.cell_height,
                         self.cell_width, self.cell_height)
            if self.hasFocus():
                painter.fillRect(rect, QColor(220, 220, 220, 160))
            else:
                painter.setPen(DEFAULT_FG)
                painter.drawRect(rect.adjusted(0, 0, -1, -1))
        painter.end()

    def _paint_line(self, painter: QPainter, row: int, cells: list[Char],
                    selected: tuple[int, int] | None) -> None:
        """Paint a row as runs of cells that look alike (one drawText per run)."""
        y = row * self.cell_height
        styles = list(map(_STYLE, cells))
        if styles.count(styles[0]) == len(styles):  # one style, the common case
            runs: Iterable[tuple[tuple[Any, ...], list[str]]] = [
                (styles[0], list(map(_DATA, cells)))]
        else:
            runs = ((style, list(map(_DATA, group)))
                    for style, group in groupby(cells, _STYLE))
        x = 0
        for style, data in runs:
            end = x + len(data)
            if selected is None or selected[1] < x or selected[0] >= end:
                self._paint_run(painter, x, y, data, style, False)
            else:  # split at the selection's edges
                left, right = max(selected[0], x), min(selected[1] + 1, end)
                if left > x:
                    self._paint_run(painter, x, y, data[:left - x], style, False)
                self._paint_run(painter, left, y, data[left - x:right - x], style, True)
                if right < end:
                    self._paint_run(painter, right, y, data[right - x:], style, False)
            x = end

    def _paint_run(self, painter: QPainter, column: int, y: int, data: list[str],
                   style: tuple[Any, ...], selected: bool) -> None:
        fg_name, bg_name, bold, italics, underscore, reverse = style
        if bold and fg_name in PALETTE and not fg_name.startswith("bright"):
            fg_name = "bright" + fg_name  # bold as bright, as xterm does by default
        fg, bg = _colour(fg_name, DEFAULT_FG), _colour(bg_name, DEFAULT_BG)
        if reverse:
            fg, bg = bg, fg
        if selected:
            bg = SELECTION_BG
        if bg != DEFAULT_BG:
            rect = QRect(column * self.cell_width, y, len(data) * self.cell_width,
                         self.cell_height)
            painter.fillRect(rect, bg)
        text = "".join(data)
        if not text.strip():
            return
        key = (bool(bold), bool(italics), bool(underscore))
        font = self._fonts.get(key)
        if font is None:
            font = self._fonts[key] = QFont(self.font())
            font.setBold(key[0])
            font.setItalic(key[1])
            font.setUnderline(key[2])
        painter.setFont(font)
        painter.setPen(fg)
        if len(text) == len(data) and text.isascii():
            # A monospace font gives every ASCII character the cell's width: one call.
            painter.drawText(column * self.cell_width, y + self.ascent, text)
            return
        # Otherwise one cell per character, so wide fallback glyphs cannot drift
        # (a wide character's second cell holds "").
        for offset, ch in enumerate(data):
            if ch and ch != " ":
                painter.drawText((column + offset) * self.cell_width, y + self.ascent, ch)

    # -- keyboard -----------------------------------------------------------------------

    def event(self, event: Any) -> bool:
        # Tab and Backtab belong to the program, not to focus navigation.
        if isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress and \
                event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            self.keyPressEvent(event)
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        mods = event.modifiers()
        ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        if (mods & ctrl_shift) == ctrl_shift and event.key() == Qt.Key.Key_C:
            self.copy_selection()
            return
        if ((mods & ctrl_shift) == ctrl_shift and event.key() == Qt.Key.Key_V) or (
                mods & Qt.KeyboardModifier.ShiftModifier and event.key() == Qt.Key.Key_Insert):
            self.paste(QGuiApplication.clipboard().text())
            return
        if mods & Qt.KeyboardModifier.ShiftModifier and event.key() in (
                Qt.Key.Key_PageUp, Qt.Key.Key_PageDown) and not self.vt.alternate:
            step = self.rows - 1
            self.scroll_by(step if event.key() == Qt.Key.Key_PageUp else -step)
            return
        data = encode_key(event.key(), mods, event.text(),
                          application_cursor=bool(DECCKM in self.vt.mode))
        if data:
            self.scroll_offset = 0
            self._selection = None
            self.input.emit(data)
            self.update()

    def paste(self, text: str) -> None:
        if not text:
            return
        data = text.replace("\r\n", "\r").replace("\n", "\r").encode()
        if self.vt.bracketed_paste:
            data = b"\x1b[200~" + data + b"\x1b[201~"
        self.scroll_offset = 0
        self.input.emit(data)

    # -- scrollback and selection -----------------------------------------------------------

    def scroll_by(self, lines: int) -> None:
        limit = 0 if self.vt.alternate else len(self.vt.history.top)
        self.scroll_offset = min(max(self.scroll_offset + lines, 0), limit)
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() // 40
        if not steps:
            return
        if self.vt.alternate:  # full-screen programs scroll by arrow keys, as in xterm
            key = Qt.Key.Key_Up if steps > 0 else Qt.Key.Key_Down
            data = encode_key(key, Qt.KeyboardModifier.NoModifier, "",
                              application_cursor=bool(DECCKM in self.vt.mode))
            self.input.emit((data or b"") * abs(steps))
        else:
            self.scroll_by(steps)

    def _cell_at(self, pos: QPoint) -> QPoint:
        first = max(self._line_count() - self.rows - self.scroll_offset, 0)
        column = min(max(pos.x() // self.cell_width, 0), self.columns - 1)
        row = min(max(pos.y() // self.cell_height, 0), self.rows - 1)
        return QPoint(column, first + row)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            cell = self._cell_at(event.position().toPoint())
            self._selection = (cell, cell)
            self._selecting = True
            self.update()
        elif event.button() == Qt.MouseButton.MiddleButton:
            self.paste(QGuiApplication.clipboard().text(QClipboard.Mode.Selection))
        self.setFocus()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._selecting and self._selection is not None:
            self._selection = (self._selection[0], self._cell_at(event.position().toPoint()))
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._selecting:
            self._selecting = False
            text = self.selected_text()
            if text:
                clipboard = QGuiApplication.clipboard()
                if clipboard.supportsSelection():
                    clipboard.setText(text, QClipboard.Mode.Selection)
            else:
                self._selection = None

    def _normalised_selection(self) -> tuple[QPoint, QPoint] | None:
        if self._selection is None:
            return None
        a, b = self._selection
        if (a.y(), a.x()) > (b.y(), b.x()):
            a, b = b, a
        return a, b

    def _selected_columns(self, selection: tuple[QPoint, QPoint] | None,
                          line: int) -> tuple[int, int] | None:
        """The first and last selected column of ``line``, if any of it is selected."""
        if selection is None:
            return None
        start, end = selection
        if start == end or not start.y() <= line <= end.y():
            return None
        return (start.x() if line == start.y() else 0,
                end.x() if line == end.y() else self.columns - 1)

    def selected_text(self) -> str:
        selection = self._normalised_selection()
        if selection is None or selection[0] == selection[1]:
            return ""
        start, end = selection
        total = self._line_count()
        default = self.vt.default_char
        out = []
        for index in range(start.y(), min(end.y() + 1, total)):
            first, last = self._selected_columns(selection, index) or (0, -1)
            cells = row_list(self._line(index), self.columns, default)
            out.append("".join(map(_DATA, cells[first:last + 1])).rstrip())
        return "\n".join(out)

    def copy_selection(self) -> None:
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text)
