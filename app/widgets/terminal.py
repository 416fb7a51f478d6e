"""A VT terminal widget: pyte parses the byte stream, Qt paints the cells.

The widget knows nothing about containers: bytes go in through :meth:`feed`,
key presses and pastes come out through :attr:`TerminalWidget.input`, and size
changes through :attr:`TerminalWidget.resized`.  Repaints are coalesced to one
per frame whatever the output rate, so a ``cat`` of a large file never floods
the event loop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
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

from app.widgets.terminal_keys import encode_key

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
#: Bytes that could change pyte's state beyond the text they write: C0 controls other
#: than tab, LF and CR, DEL (ESC among them), and UTF-8 encoded C1 controls.
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")
_BRACKETED_PASTE = 2004


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


def _colour(name: str, default: QColor) -> QColor:
    if name == "default":
        return default
    if name in PALETTE:
        return QColor(PALETTE[name])
    if len(name) == 6:
        return QColor("#" + name)
    return default


class TerminalWidget(QWidget):
    """A terminal emulator view; connect :attr:`input` to the program's stdin."""

    input = Signal(bytes)
    resized = Signal(int, int)  # rows, columns

    FRAME_MS = 16
    #: Bytes handed to pyte at a time, and pyte time allowed per event-loop turn.
    SLICE = 1024
    BUDGET_SECONDS = 0.008
    #: Backlog above which text bound to scroll past the scrollback is skipped.
    SKIP_AHEAD_BYTES = 64 * 1024

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
        self.stream = pyte.ByteStream(self.vt)
        self.scroll_offset = 0  # lines scrolled back from the bottom
        self._selection: tuple[QPoint, QPoint] | None = None
        self._selecting = False
        self._repaint = QTimer(self)
        self._repaint.setSingleShot(True)
        self._repaint.setInterval(self.FRAME_MS)
        self._repaint.timeout.connect(self.update)
        self._pending = bytearray()
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
        """Take output; small bursts are parsed at once, floods in slices per loop turn."""
        if not self._pending and len(data) <= self.SLICE:
            self.stream.feed(data)  # typing and prompts: no latency
        else:
            self._pending += data
            if not self._drain_timer.isActive():
                self._drain_timer.start()
        if not self._repaint.isActive():
            self._repaint.start()

    def busy(self) -> bool:
        """Whether output is still waiting to be parsed."""
        return bool(self._pending)

    def _drain(self) -> None:
        # pyte parses about 0.1-1 MB/s: parse within a time budget per event-loop
        # turn so the window keeps responding, and skip what would scroll out of
        # the scrollback anyway.
        start = time.perf_counter()
        self._skip_ahead()
        pending = self._pending
        while pending and time.perf_counter() - start < self.BUDGET_SECONDS:
            piece = bytes(pending[: self.SLICE])
            del pending[: self.SLICE]
            self.stream.feed(piece)
        if pending:
            self._drain_timer.start()
        if not self._repaint.isActive():
            self._repaint.start()

    def _skip_ahead(self) -> None:
        """Drop plain text that could only end up beyond the scrollback.

        Only when it cannot change anything but the lines it writes: the parser
        is between escape sequences, no full-screen program or scroll region is
        active, and the dropped bytes hold no control character besides tab, CR
        and LF.
        """
        pending = self._pending
        if (len(pending) < self.SKIP_AHEAD_BYTES or self.vt.alternate
                or self.vt.margins is not None or not self.stream._taking_plain_text):
            return
        position = len(pending)
        for _ in range(SCROLLBACK_LINES + 2 * self.rows + 2):
            position = pending.rfind(b"\n", 0, position)
            if position < 0:
                return
        cut = position + 1
        if _CONTROL_BYTES.search(pending, 0, cut):
            return
        del pending[:cut]
        self.stream.utf8_decoder.reset()

    def _reply(self, text: str) -> None:
        self.input.emit(text.encode())

    def display_lines(self) -> list[str]:
        """The text on screen, one string per row (trailing blanks kept) — for tests."""
        return list(self.vt.display)

    def _all_lines(self) -> list[dict[int, Char]]:
        history = [] if self.vt.alternate else list(self.vt.history.top)
        return [*history, *(self.vt.buffer[y] for y in range(self.rows))]

    # -- painting -----------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), DEFAULT_BG)
        lines = self._all_lines()
        first = max(len(lines) - self.rows - self.scroll_offset, 0)
        selection = self._normalised_selection()
        default = self.vt.default_char
        for row in range(self.rows):
            index = first + row
            if index >= len(lines):
                break
            self._paint_line(painter, row, index, lines[index], default, selection)
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

    def _paint_line(
        self, painter: QPainter, row: int, index: int, line: dict[int, Char], default: Char,
        selection: tuple[QPoint, QPoint] | None,
    ) -> None:
        y = row * self.cell_height
        x = 0
        while x < self.columns:
            char = line.get(x, default)
            style = (char.fg, char.bg, char.bold, char.italics, char.underscore, char.reverse,
                     self._selected(selection, index, x))
            start = x
            text = [char.data or " "]
            x += 1
            while x < self.columns:
                nxt = line.get(x, default)
                if (nxt.fg, nxt.bg, nxt.bold, nxt.italics, nxt.underscore, nxt.reverse,
                        self._selected(selection, index, x)) != style:
                    break
                text.append(nxt.data or " ")
                x += 1
            self._paint_run(painter, start, y, "".join(text), style)

    def _paint_run(self, painter: QPainter, column: int, y: int, text: str,
                   style: tuple[Any, ...]) -> None:
        fg_name, bg_name, bold, italics, underscore, reverse, selected = style
        if bold and fg_name in PALETTE and not fg_name.startswith("bright"):
            fg_name = "bright" + fg_name  # bold as bright, as xterm does by default
        fg, bg = _colour(fg_name, DEFAULT_FG), _colour(bg_name, DEFAULT_BG)
        if reverse:
            fg, bg = bg, fg
        if selected:
            bg = SELECTION_BG
        rect = QRect(column * self.cell_width, y, len(text) * self.cell_width, self.cell_height)
        if bg != DEFAULT_BG:
            painter.fillRect(rect, bg)
        if not text.strip():
            return
        font = QFont(self.font())
        font.setBold(bool(bold))
        font.setItalic(bool(italics))
        font.setUnderline(bool(underscore))
        painter.setFont(font)
        painter.setPen(fg)
        if text.isascii():
            # A monospace font gives every ASCII character the cell's width: one call.
            painter.drawText(column * self.cell_width, y + self.ascent, text)
            return
        # Otherwise one cell per character, so wide fallback glyphs cannot drift.
        for offset, ch in enumerate(text):
            if ch != " ":
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
        lines = len(self._all_lines())
        first = max(lines - self.rows - self.scroll_offset, 0)
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

    @staticmethod
    def _selected(selection: tuple[QPoint, QPoint] | None, line: int, column: int) -> bool:
        if selection is None:
            return False
        start, end = selection
        return (start.y(), start.x()) <= (line, column) <= (end.y(), end.x()) and (
            start != end)

    def selected_text(self) -> str:
        selection = self._normalised_selection()
        if selection is None or selection[0] == selection[1]:
            return ""
        start, end = selection
        lines = self._all_lines()
        out = []
        for index in range(start.y(), end.y() + 1):
            if index >= len(lines):
                break
            line = lines[index]
            first = start.x() if index == start.y() else 0
            last = end.x() if index == end.y() else self.columns - 1
            text = "".join(line[x].data if x in line else " " for x in range(first, last + 1))
            out.append(text.rstrip())
        return "\n".join(out)

    def copy_selection(self) -> None:
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text)
