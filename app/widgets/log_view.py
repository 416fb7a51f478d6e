"""A log view that stays fast whatever a container writes.

Lines arrive from the engine in batches (``engine.log_batches``) and are kept as
the container wrote them: bytes, a stream byte and the unparsed timestamp, in
parallel lists, behind a cap (the oldest are dropped, and a label says how
many).  Nothing is decoded on the way in: a row is decoded, stripped of ANSI
codes, split into colour runs and its timestamp parsed only when it is shown
(and cached while it stays near the screen), or searched.  Batches reach the
model once per tick with one remove/insert pair, and the table has fixed row
heights, so only the visible rows are measured or painted.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import compress
from typing import Any, overload

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontMetrics, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.models.log_levels import LEVELS, line_levels
from app.theme import MUTED_TEXT, SEARCH_HIT, Tone
from app.widgets.ansi import PLAIN, Run, ansi_runs, strip_ansi
from engine import log_timestamp

AnyIndex = QModelIndex | QPersistentModelIndex
EntryRole = Qt.ItemDataRole.UserRole + 1

STDOUT, STDERR = 1, 2
DEFAULT_CAP = 100_000
STDERR_MARK = QColor("#d0342c")
#: Decoded rows kept for painting; more than a screenful or two is never needed.
DECODED_ROWS = 2048
#: The colours of a merged log's ``service |`` marks, each readable on a light and a
#: dark palette (xterm's cyan and green, which ``docker compose logs`` uses, are not
#: on white).  As there, a source's colour is its place in the project's order, so
#: eight services never share one and a project looks the same in every session.
MARK_TONES = (
    Tone("#0b7285", "#66d9e8"), Tone("#c2255c", "#faa2c1"), Tone("#2b8a3e", "#8ce99a"),
    Tone("#5f3dc4", "#b197fc"), Tone("#d9480f", "#ffa94d"), Tone("#1864ab", "#74c0fc"),
    Tone("#862e9c", "#e599f7"), Tone("#087f5b", "#63e6be"),
)
#: The level filter's buttons: what they say and which levels they show.
LEVEL_BUTTONS = (("Error", "error"), ("Warn", "warn"), ("Info", "info"), ("Debug", "debug"),
                 ("Other", "other"))


def mark_tone(number: int) -> Tone:
    """The colour of source ``number``'s mark."""
    return MARK_TONES[number % len(MARK_TONES)]


def plain_text(raw: bytes) -> str:
    """What a user reads and searches: decoded, every escape sequence removed."""
    text = raw.decode("utf-8", "replace")
    return strip_ansi(text) if b"\x1b" in raw else text


class LogEntry:
    """One line: the bytes as the container wrote them; text made on first use."""

    __slots__ = ("_parsed", "_plain", "_runs", "_text", "_timestamp", "raw", "source", "stamp",
                 "stream")

    def __init__(self, stream: int, raw: bytes, stamp: bytes | None = None,
                 source: int = 0) -> None:
        self.stream = stream
        self.source = source  # which of the view's sources wrote it (a merged log's service)
        self.raw = raw
        self.stamp = stamp  # the RFC 3339 text of the daemon's timestamp prefix
        self._text: str | None = None
        self._plain: str | None = None
        self._runs: list[Run] | None = None
        self._timestamp: datetime | None = None
        self._parsed = False

    @classmethod
    def from_bytes(cls, stream: int, raw: bytes, stamp: bytes | None = None) -> LogEntry:
        return cls(stream, raw, stamp)

    @property
    def text(self) -> str:
        """Decoded, ANSI codes kept for painting."""
        if self._text is None:
            self._text = self.raw.decode("utf-8", "replace")
        return self._text

    @property
    def plain(self) -> str:
        """Decoded, ANSI codes removed: what search and filter see."""
        if self._plain is None:
            self._plain = strip_ansi(self.text) if b"\x1b" in self.raw else self.text
        return self._plain

    @property
    def runs(self) -> list[Run]:
        """Styled runs to paint (tabs expanded, carriage returns dropped)."""
        if self._runs is None:
            self._runs = ansi_runs(self.text.replace("\r", "").replace("\t", "    "))
        return self._runs

    @property
    def timestamp(self) -> datetime | None:
        if not self._parsed:
            self._timestamp = None if self.stamp is None else log_timestamp(self.stamp)
            self._parsed = True
        return self._timestamp


class _Entries(Sequence[LogEntry]):
    """The model's rows as :class:`LogEntry` objects, made on demand."""

    def __init__(self, model: LogModel) -> None:
        self._model = model

    def __len__(self) -> int:
        return len(self._model.lines)

    @overload
    def __getitem__(self, index: int) -> LogEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[LogEntry]: ...

    def __getitem__(self, index: int | slice) -> LogEntry | list[LogEntry]:
        if isinstance(index, slice):
            return [self._model.entry(row) for row in range(*index.indices(len(self)))]
        row = index + len(self) if index < 0 else index
        if not 0 <= row < len(self):
            raise IndexError(index)
        return self._model.entry(row)

    def __iter__(self) -> Iterator[LogEntry]:
        return (self._model.entry(row) for row in range(len(self)))


class LogModel(QAbstractListModel):
    """The last ``cap`` lines, as parallel lists of raw bytes, streams, stamps and sources.

    ``sources`` says which source wrote each line (a merged log's services; 0 for a
    container's own log).  ``levels`` holds each line's level (:mod:`app.models.log_levels`)
    only while :attr:`track_levels` is on (a level filter shows): reading them costs
    a search of every line, which nothing else needs.
    """

    dropped_changed = Signal(int)

    def __init__(self, cap: int = DEFAULT_CAP, parent: Any = None) -> None:
        super().__init__(parent)
        self.cap = cap
        self.streams = bytearray()
        self.lines: list[bytes] = []
        self.stamps: list[bytes | None] = []
        self.sources = bytearray()
        self.levels = bytearray()
        self._track_levels = False
        self.dropped = 0
        # Decoded rows by line number (row + lines ever removed from the front), so a
        # trim does not have to renumber them.
        self.removed = 0
        self._decoded: dict[int, LogEntry] = {}

    @property
    def entries(self) -> Sequence[LogEntry]:
        return _Entries(self)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.lines)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.lines):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            # Not cached: whoever asks for the text of every row should not fill it.
            entry = self._decoded.get(index.row() + self.removed)
            return entry.plain if entry is not None else plain_text(self.lines[index.row()])
        if role == EntryRole:
            return self.entry(index.row())
        return None

    def entry(self, row: int) -> LogEntry:
        """Row ``row``, decoded once while it stays in the cache."""
        key = row + self.removed
        entry = self._decoded.get(key)
        if entry is None:
            if len(self._decoded) >= DECODED_ROWS:
                self._decoded.clear()
            entry = LogEntry(self.streams[row], self.lines[row], self.stamps[row],
                             self.sources[row])
            self._decoded[key] = entry
        return entry

    def plain_texts(self, start: int = 0) -> list[str]:
        """Every row's plain text from ``start`` on, for search (nothing is cached).

        Decoded in one go: joined with newlines (no line holds one), one decode and
        one split are C loops, and give what decoding line by line gives ("replace"
        turns an invalid sequence cut by the newline into the same U+FFFD).
        """
        lines = self.lines[start:]
        blob = b"\n".join(lines)
        texts = blob.decode("utf-8", "replace").split("\n")
        if len(texts) != len(lines):  # a line added by hand held a newline
            return [plain_text(line) for line in lines]
        if b"\x1b" in blob:
            texts = [strip_ansi(text) if "\x1b" in text else text for text in texts]
        return texts

    def append(self, entries: Iterable[LogEntry]) -> None:
        entries = list(entries)
        self.append_lines(bytes(e.stream for e in entries), [e.raw for e in entries],
                          [e.stamp for e in entries])

    @property
    def track_levels(self) -> bool:
        return self._track_levels

    @track_levels.setter
    def track_levels(self, on: bool) -> None:
        """Keep :attr:`levels` (read for every line held now, then for each batch)."""
        if on and not self._track_levels:
            self.levels = line_levels(self.lines, self.sources)
        elif not on:
            self.levels = bytearray()
        self._track_levels = on

    def append_lines(self, streams: bytes | bytearray, lines: Sequence[bytes],
                     stamps: Sequence[bytes | None], *, dropped: int = 0,
                     sources: bytes | bytearray | None = None) -> None:
        """Add a batch with one remove and one insert, whatever its size: O(batch).

        ``dropped`` counts lines of the batch the caller already had to leave out;
        ``sources`` says which source wrote each line (all 0 when None).
        """
        if not lines:
            return
        if sources is None:
            sources = bytes(len(lines))
        # A batch larger than the cap is cut first; those lines count as dropped too.
        cut = max(len(lines) - self.cap, 0)
        if cut:
            streams, lines, stamps = streams[cut:], lines[cut:], stamps[cut:]
            sources = sources[cut:]
        levels = line_levels(lines, sources, (self.sources, self.levels)) \
            if self._track_levels else b""
        overflow = max(len(self.lines) + len(lines) - self.cap, 0)
        if overflow:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            del self.streams[:overflow]
            del self.lines[:overflow]
            del self.stamps[:overflow]
            del self.sources[:overflow]
            del self.levels[:overflow]
            self.removed += overflow
            self.endRemoveRows()
        if overflow or cut or dropped:
            self.dropped += overflow + cut + dropped
            self.dropped_changed.emit(self.dropped)
        first = len(self.lines)
        self.beginInsertRows(QModelIndex(), first, first + len(lines) - 1)
        self.streams += streams
        self.lines += lines
        self.stamps += stamps
        self.sources += sources
        self.levels += levels
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.removed += len(self.lines)  # line numbers never repeat
        self.streams.clear()
        self.lines.clear()
        self.stamps.clear()
        self.sources.clear()
        self.levels.clear()
        self._decoded.clear()
        self.dropped = 0
        self.endResetModel()
        self.dropped_changed.emit(0)


class MatchFilter(QAbstractListModel):
    """The lines a filter keeps: "Only matches", chosen sources, chosen levels.

    Not a QSortFilterProxyModel: that asks a Python ``filterAcceptsRow`` about every
    row (~1 s for 200k lines on this machine) and keeps a mapping per row.  Here the
    kept lines are a list of line numbers (row + lines ever removed from the front,
    so a trim renumbers nothing), computed a batch at a time with byte operations in
    C: sources and levels are a byte a line in the model, turned into a 0/1 mask by
    ``bytes.translate``, masks combined as integers, and the line numbers taken by
    ``itertools.compress``.  The search's matches are line numbers already (the
    view's match count); lines added after a search are searched as they come.
    It is attached to the view only while it filters.
    """

    def __init__(self, model: LogModel, parent: QWidget) -> None:
        super().__init__(parent)
        self._model = model
        self._pattern: re.Pattern[str] | None = None
        self._found: set[int] = set()
        self._searched = 0  # line numbers below this were searched: _found has their matches
        self._sources: frozenset[int] | None = None
        self._levels: frozenset[int] | None = None
        self._kept: list[int] = []  # line numbers of the rows shown, ascending
        self._attached = False

    @property
    def active(self) -> bool:
        return (self._pattern is not None or self._sources is not None
                or self._levels is not None)

    def sourceModel(self) -> LogModel | None:
        return self._model if self._attached else None

    def set_matches(self, pattern: re.Pattern[str] | None, rows: Iterable[int]) -> None:
        """Show only ``rows`` (and later lines ``pattern`` finds); None: every line."""
        removed = self._model.removed
        self._pattern = pattern
        self._found = {row + removed for row in rows} if pattern is not None else set()
        self._searched = len(self._model.lines) + removed
        self._refilter()

    def set_lines(self, sources: Iterable[int] | None, levels: Iterable[int] | None) -> None:
        """Show only lines of these sources and levels (None: any)."""
        self._sources = frozenset(sources) if sources is not None else None
        self._levels = frozenset(levels) if levels is not None else None
        self._refilter()

    def _refilter(self) -> None:
        attach = self.active
        if attach and not self._attached:
            model = self._model
            model.rowsInserted.connect(self._on_inserted)
            model.rowsAboutToBeRemoved.connect(self._on_removing)
            model.modelReset.connect(self._on_reset)
        elif not attach and self._attached:
            model = self._model
            model.rowsInserted.disconnect(self._on_inserted)
            model.rowsAboutToBeRemoved.disconnect(self._on_removing)
            model.modelReset.disconnect(self._on_reset)
        self._attached = attach
        self.beginResetModel()
        self._kept = self._keep(0, len(self._model.lines)) if attach else []
        self.endResetModel()

    def _keep(self, first: int, end: int) -> list[int]:
        """Line numbers of rows ``first``..``end`` - 1 that the filter keeps."""
        model = self._model
        count = end - first
        mask: int | None = None
        for chosen, column in ((self._sources, model.sources), (self._levels, model.levels)):
            if chosen is None:
                continue
            table = bytes(1 if value in chosen else 0 for value in range(256))
            part = int.from_bytes(bytes(column[first:end]).translate(table), "big")
            mask = part if mask is None else mask & part
        if self._pattern is not None:
            removed = model.removed
            found = bytearray(count)
            for line in self._found:  # what the search found: line numbers already
                if first <= line - removed < end:
                    found[line - removed - first] = 1
            start = max(self._searched - removed, first)
            if start < end:  # lines that came after the search: matched here
                search = self._pattern.search
                for offset, text in enumerate(model.plain_texts(start)[:end - start]):
                    if search(text):
                        found[start - first + offset] = 1
            part = int.from_bytes(found, "big")
            mask = part if mask is None else mask & part
        numbers = range(first + model.removed, end + model.removed)
        if mask is None:
            return list(numbers)
        return list(compress(numbers, mask.to_bytes(count, "big")))

    def _on_inserted(self, _parent: QModelIndex, first: int, last: int) -> None:
        kept = self._keep(first, last + 1)
        if kept:
            start = len(self._kept)
            self.beginInsertRows(QModelIndex(), start, start + len(kept) - 1)
            self._kept += kept
            self.endInsertRows()

    def _on_removing(self, _parent: QModelIndex, first: int, last: int) -> None:
        # Rows leave the model only from the front (the cap): so do ours.
        gone = bisect_left(self._kept, last + 1 + self._model.removed)
        if gone:
            self.beginRemoveRows(QModelIndex(), 0, gone - 1)
            del self._kept[:gone]
            self.endRemoveRows()

    def _on_reset(self) -> None:
        self.beginResetModel()
        self._kept = []
        self._found = set()
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._kept)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._kept):
            return None
        row = self._kept[index.row()] - self._model.removed
        return self._model.data(self._model.index(row, 0), role)

    def mapFromSource(self, index: AnyIndex) -> QModelIndex:
        """The row showing the model's row ``index`` (invalid if filtered out)."""
        line = index.row() + self._model.removed
        at = bisect_left(self._kept, line)
        if at < len(self._kept) and self._kept[at] == line:
            return self.index(at, 0)
        return QModelIndex()


class LogDelegate(QStyledItemDelegate):
    """Paints a line's ANSI runs, a red gutter for stderr, and search hits."""

    def __init__(self, view: LogView) -> None:
        super().__init__(view)
        self.view = view

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        metrics = self.view.metrics
        if not self.view.wrap.isChecked():
            return QSize(0, metrics.height())
        text = self.view.line_text(index.data(EntryRole))
        width = max(self.view.list.viewport().width() - 12, 50)
        rect = metrics.boundingRect(QRect(0, 0, width, 100_000), Qt.TextFlag.TextWrapAnywhere,
                                    text)
        return QSize(width, max(rect.height(), metrics.height()))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        entry: LogEntry | None = index.data(EntryRole)
        if entry is None:
            return
        rect = option.rect  # type: ignore[attr-defined]
        palette = option.palette  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        painter.save()
        if selected:
            painter.fillRect(rect, palette.highlight())
        if entry.stream == STDERR:
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), STDERR_MARK)
        x = rect.left() + 8
        default = palette.highlightedText().color() if selected else palette.text().color()
        prefix = self.view.prefix(entry)
        mark = self.view.mark(entry)
        if self.view.wrap.isChecked():
            painter.setPen(default)
            painter.drawText(rect.adjusted(8, 0, 0, 0), Qt.TextFlag.TextWrapAnywhere,
                             prefix + (mark[0] if mark else "") + entry.plain)
            painter.restore()
            return
        metrics = self.view.metrics
        baseline = rect.top() + metrics.ascent()
        if prefix:
            painter.setPen(QColor(MUTED_TEXT.on(palette)))
            painter.drawText(x, baseline, prefix)
            x += metrics.horizontalAdvance(prefix)
        if mark:
            painter.setPen(default if selected else QColor(mark[1].on(palette)))
            painter.drawText(x, baseline, mark[0])
            x += metrics.horizontalAdvance(mark[0])
        pattern = self.view.search_pattern
        base_font = painter.font()
        # The font is fixed-pitch: what lies beyond the right edge is never shaped.
        room = (rect.right() - x) // self.view.char_width + 2
        runs = entry.runs
        for number, run in enumerate(runs):
            if room <= 0:
                break
            text = run.text if len(run.text) <= room else run.text[:room]
            room -= len(text)
            style = run.style
            last = number == len(runs) - 1
            needs_width = not last or (style.bg and not selected) or pattern is not None
            width = metrics.horizontalAdvance(text) if needs_width else 0
            if style.bg and not selected:
                painter.fillRect(QRect(x, rect.top(), width, rect.height()), QColor(style.bg))
            if pattern is not None:
                self._paint_hits(painter, pattern, text, x, rect, metrics,
                                 QColor(SEARCH_HIT.on(palette)))
            if style is PLAIN:
                painter.setFont(base_font)
            else:
                font = QFont(base_font)
                font.setBold(style.bold)
                font.setItalic(style.italic)
                font.setUnderline(style.underline)
                painter.setFont(font)
            painter.setPen(QColor(style.fg) if style.fg and not selected else default)
            painter.drawText(x, baseline, text)
            x += width
        painter.restore()

    @staticmethod
    def _paint_hits(painter: QPainter, pattern: re.Pattern[str], text: str, x: int, rect: QRect,
                    metrics: QFontMetrics, hit: QColor) -> None:
        for match in pattern.finditer(text):
            if match.end() == match.start():
                continue
            left = x + metrics.horizontalAdvance(text[: match.start()])
            width = metrics.horizontalAdvance(match.group(0))
            painter.fillRect(QRect(left, rect.top(), width, rect.height()), hit)


class LogView(QWidget):
    """Toolbar (follow, timestamps, wrap, search, filter, save) over a virtualised list."""

    FLUSH_MS = 50

    def __init__(self, parent: QWidget | None = None, cap: int = DEFAULT_CAP) -> None:
        super().__init__(parent)
        self.setObjectName("logs")
        self.model = LogModel(cap, self)
        self.proxy = MatchFilter(self.model, self)
        self.search_pattern: re.Pattern[str] | None = None
        self._pending_streams = bytearray()
        self._pending_lines: list[bytes] = []
        self._pending_stamps: list[bytes | None] = []
        self._pending_sources = bytearray()
        self._pending_dropped = 0
        self._matches: list[int] = []
        self._current = -1
        #: A merged log's sources (marks and the source filter); none for one container.
        self.source_names: list[str] = []
        self._marks: list[tuple[str, Tone]] = []
        self.source_buttons: dict[str, QToolButton] = {}
        self.level_buttons: dict[str, QToolButton] = {}

        self.follow = self._check("Follow", "logs-follow", True)
        self.timestamps = self._check("Timestamps", "logs-timestamps", False)
        self.wrap = self._check("Wrap", "logs-wrap", False)
        self.search = QLineEdit(self)
        self.search.setObjectName("logs-search")
        self.search.setAccessibleName("Search logs")
        self.search.setPlaceholderText("Search logs…")
        self.search.setClearButtonEnabled(True)
        self.regex = self._check("Regex", "logs-regex", False)
        self.filter = self._check("Only matches", "logs-filter", False)
        self.match_label = QLabel(self)
        self.match_label.setObjectName("logs-matches")
        self.previous_button = self._button("↑", "logs-previous", "Previous match")
        self.next_button = self._button("↓", "logs-next", "Next match")
        self.save_button = self._button("Save…", "logs-save", "Save logs to a file")
        self.status = QLabel(self)
        self.status.setObjectName("logs-status")

        # A one-column table, not a QListView: a list view lays out every row again
        # on each insert (quadratic in the line count, bench_logs.py); a table with
        # fixed row heights only looks at the rows on screen.
        self.list = QTableView(self)
        self.list.setObjectName("logs-view")
        self.list.setAccessibleName("Log lines")
        self.list.setModel(self.model)
        self.list.setShowGrid(False)
        self.list.horizontalHeader().hide()
        self.list.horizontalHeader().setStretchLastSection(True)
        self.list.verticalHeader().hide()
        self.list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.list.setFont(font)
        self.metrics = QFontMetrics(font)
        self.char_width = max(self.metrics.horizontalAdvance("M"), 1)
        rows = self.list.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.metrics.height())
        self.list.setItemDelegate(LogDelegate(self))
        self.list.verticalScrollBar().valueChanged.connect(self._on_scrolled)

        bar = QHBoxLayout()
        for widget in (self.follow, self.timestamps, self.wrap):
            bar.addWidget(widget)
        bar.addSpacing(12)
        bar.addWidget(self.search, 1)
        tail: list[QWidget] = [self.regex, self.filter, self.match_label, self.previous_button,
                               self.next_button, self.save_button]
        for item in tail:
            bar.addWidget(item)
        # The filters of a merged log (services, levels): shown once it has some.
        self.filters = QWidget(self)
        self.filters.setObjectName("logs-filters")
        self._filter_bar = QHBoxLayout(self.filters)
        self._filter_bar.setContentsMargins(0, 0, 0, 0)
        self._filter_bar.setSpacing(4)
        self._sources_label = QLabel("Services:", self.filters)
        self._filter_bar.addWidget(self._sources_label)
        self._sources_end = QLabel("", self.filters)  # the source buttons go before it
        self._filter_bar.addWidget(self._sources_end)
        self._filter_bar.addSpacing(12)
        self._levels_label = QLabel("Levels:", self.filters)
        self._filter_bar.addWidget(self._levels_label)
        for text, level in LEVEL_BUTTONS:
            button = self._chip(text, f"logs-level-{level}",
                                f"Show {text.lower()} lines" if level != "other"
                                else "Show lines without a level")
            button.toggled.connect(self._apply_line_filter)
            self._filter_bar.addWidget(button)
            self.level_buttons[level] = button
        self._filter_bar.addStretch(1)
        self.filters.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.filters)
        layout.addWidget(self.status)
        layout.addWidget(self.list, 1)
        self.status.hide()

        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(self.FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)
        self._search_timer.timeout.connect(self._run_search)
        self.search.textChanged.connect(self._search_timer.start)
        self.regex.toggled.connect(self._run_search)
        self.filter.toggled.connect(self._run_search)
        self.search.returnPressed.connect(self.next_match)
        self.next_button.clicked.connect(self.next_match)
        self.previous_button.clicked.connect(self.previous_match)
        self.wrap.toggled.connect(self._on_wrap)
        self.timestamps.toggled.connect(self.list.viewport().update)
        self.follow.toggled.connect(self._on_follow)
        self.model.dropped_changed.connect(self._on_dropped)
        self.model.rowsRemoved.connect(self._on_rows_dropped)

    def _check(self, text: str, name: str, checked: bool) -> QCheckBox:
        box = QCheckBox(text, self)
        box.setObjectName(name)
        box.setAccessibleName(text)
        box.setChecked(checked)
        return box

    def _chip(self, text: str, name: str, accessible: str) -> QToolButton:
        button = QToolButton(self.filters)
        button.setText(text)
        button.setObjectName(name)
        button.setAccessibleName(accessible)
        button.setToolTip(f"{accessible} (right-click: only these)")
        button.setCheckable(True)
        button.setChecked(True)
        button.setAutoRaise(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        button.customContextMenuRequested.connect(lambda _pos: self._only(button))
        return button

    def _only(self, chosen: QToolButton) -> None:
        """Right-click on a filter button: show only its lines (again: show all)."""
        group = self.level_buttons if chosen in self.level_buttons.values() \
            else self.source_buttons
        alone = chosen.isChecked() and all(not b.isChecked() for b in group.values()
                                           if b is not chosen)
        for button in group.values():
            button.blockSignals(True)
            button.setChecked(alone or button is chosen)
            button.blockSignals(False)
        self._apply_line_filter()

    def _button(self, text: str, name: str, accessible: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAccessibleName(accessible)
        return button

    # -- feeding ----------------------------------------------------------------------

    def add(self, entry: LogEntry) -> None:
        """Queue a line; lines reach the model in batches, once per tick."""
        self.add_lines(bytes((entry.stream,)), [entry.raw], [entry.stamp])

    def add_lines(self, streams: bytes | bytearray, lines: Sequence[bytes],
                  stamps: Sequence[bytes | None], sources: bytes | None = None) -> None:
        """Queue a batch (``engine.LogBatch``'s fields); it reaches the model on the tick.

        ``sources``: which of :meth:`set_sources`' names wrote each line (all the first).
        """
        self._pending_streams += streams
        self._pending_lines += lines
        self._pending_stamps += stamps
        self._pending_sources += sources if sources is not None else bytes(len(lines))
        excess = len(self._pending_lines) - self.model.cap
        if excess > 0:
            # More than the cap before a tick came: the oldest could never be shown.
            del self._pending_streams[:excess]
            del self._pending_lines[:excess]
            del self._pending_stamps[:excess]
            del self._pending_sources[:excess]
            self._pending_dropped += excess
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        if not self._pending_lines:
            self._flush_timer.stop()
            return
        streams, lines, stamps, sources = (self._pending_streams, self._pending_lines,
                                           self._pending_stamps, self._pending_sources)
        self._pending_streams, self._pending_lines, self._pending_stamps = bytearray(), [], []
        self._pending_sources = bytearray()
        dropped, self._pending_dropped = self._pending_dropped, 0
        self.model.append_lines(streams, lines, stamps, dropped=dropped, sources=sources)
        if self.search_pattern is not None:
            self._count_matches(max(len(self.model.lines) - len(lines), 0))
        if self.follow.isChecked():
            self.list.scrollToBottom()

    def clear(self) -> None:
        self._pending_streams.clear()
        self._pending_lines.clear()
        self._pending_stamps.clear()
        self._pending_sources.clear()
        self._pending_dropped = 0
        self.model.clear()
        self._matches = []
        self._current = -1
        self._update_match_label()
        self.show_status("")

    def show_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def line_text(self, entry: LogEntry | None) -> str:
        if entry is None:
            return ""
        mark = self.mark(entry)
        return self.prefix(entry) + (mark[0] if mark else "") + entry.plain

    def mark(self, entry: LogEntry) -> tuple[str, Tone] | None:
        """``web    | `` and its colour, for a line of a merged log."""
        marks = self._marks
        return marks[entry.source] if entry.source < len(marks) else None

    # -- sources and levels ---------------------------------------------------------------

    def set_sources(self, names: Sequence[str]) -> None:
        """Name the sources of a merged log (``sources`` of :meth:`add_lines` index them):
        each line is marked with its source in the source's colour, as
        ``docker compose logs`` does, and a button per source filters by it.  Names
        keep their numbers while lines of them are held; a new source is shown."""
        if list(names) == self.source_names:
            return
        self.source_names = list(names)
        for name in [n for n in self.source_buttons if n not in names]:
            self.source_buttons.pop(name).deleteLater()
        width = max((len(n) for n in names), default=0)
        self._marks = [(f"{n.ljust(width)} | ", mark_tone(i)) for i, n in enumerate(names)]
        for number, name in enumerate(names):
            if name in self.source_buttons:
                continue
            button = self._chip(name, f"logs-source-{name}", f"Show the lines of {name}")
            button.setIcon(self._dot(mark_tone(number)))
            button.toggled.connect(self._apply_line_filter)
            self._filter_bar.insertWidget(self._filter_bar.indexOf(self._sources_end), button)
            self.source_buttons[name] = button
        if names:
            self.filters.show()
        self._apply_line_filter()

    def _dot(self, tone: Tone) -> QIcon:
        size = self.metrics.height() // 2 + 2
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(tone.on(self.palette())))
        painter.drawEllipse(0, 0, size - 1, size - 1)
        painter.end()
        return QIcon(pixmap)

    def shown_sources(self) -> set[int] | None:
        """The sources whose lines show (by number), or None for all."""
        chosen = {i for i, n in enumerate(self.source_names)
                  if self.source_buttons[n].isChecked()}
        return None if len(chosen) == len(self.source_names) else chosen

    def shown_levels(self) -> set[str] | None:
        """The levels whose lines show (``other``: none found), or None for all."""
        chosen = {level for level, b in self.level_buttons.items() if b.isChecked()}
        return None if len(chosen) == len(self.level_buttons) else chosen

    def set_shown_sources(self, sources: set[int] | None) -> None:
        """Show the lines of these sources only (by number; None: all)."""
        for number, name in enumerate(self.source_names):
            button = self.source_buttons[name]
            button.blockSignals(True)
            button.setChecked(sources is None or number in sources)
            button.blockSignals(False)
        self._apply_line_filter()

    def set_levels(self, levels: set[str] | None) -> None:
        """Show lines of these levels only (``error``, ``warn``, ``info``, ``debug``,
        ``other``; None: all)."""
        for level, button in self.level_buttons.items():
            button.blockSignals(True)
            button.setChecked(levels is None or level in levels)
            button.blockSignals(False)
        self._apply_line_filter()

    def _apply_line_filter(self) -> None:
        levels = self.shown_levels()
        self.model.track_levels = levels is not None
        self.proxy.set_lines(self.shown_sources(),
                             None if levels is None else {LEVELS[name] for name in levels})
        self._show_filtered()

    def _show_filtered(self) -> None:
        """The list shows the proxy while anything filters, else the model itself."""
        shown = self.proxy if self.proxy.active else self.model
        if self.list.model() is not shown:
            old_selection = self.list.selectionModel()
            self.list.setModel(shown)
            old_selection.deleteLater()
        if self.follow.isChecked():
            self.list.scrollToBottom()
        self.list.viewport().update()

    def prefix(self, entry: LogEntry) -> str:
        if self.timestamps.isChecked() and entry.timestamp is not None:
            return entry.timestamp.isoformat(timespec="milliseconds") + "  "
        return ""

    # -- follow, wrap, dropped ------------------------------------------------------------

    def _on_scrolled(self, value: int) -> None:
        bar = self.list.verticalScrollBar()
        at_bottom = value >= bar.maximum()
        if self.follow.isChecked() != at_bottom and self.model.lines:
            # Scrolling up pauses following; back at the bottom resumes it.
            self.follow.blockSignals(True)
            self.follow.setChecked(at_bottom)
            self.follow.blockSignals(False)

    def _on_follow(self, on: bool) -> None:
        if on:
            self.list.scrollToBottom()

    def _on_wrap(self, on: bool) -> None:
        # Wrapped rows have different heights, which costs a measure per row.
        self.list.setWordWrap(on)
        self.list.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents if on else QHeaderView.ResizeMode.Fixed)

    def _on_rows_dropped(self, _parent: QModelIndex, first: int, last: int) -> None:
        gone = last - first + 1
        kept = [row - gone for row in self._matches if row - gone >= 0]
        self._current = max(self._current - (len(self._matches) - len(kept)), -1)
        self._matches = kept
        self._update_match_label()

    def _on_dropped(self, count: int) -> None:
        if count:
            self.show_status(f"{count:,} older lines dropped (keeping the last "
                             f"{self.model.cap:,})")

    # -- search ---------------------------------------------------------------------------

    def _compile(self) -> re.Pattern[str] | None:
        text = self.search.text()
        if not text:
            return None
        try:
            return re.compile(text if self.regex.isChecked() else re.escape(text), re.IGNORECASE)
        except re.error as exc:
            self.match_label.setText(f"bad pattern: {exc.msg}")
            return None

    def _run_search(self) -> None:
        self.search_pattern = self._compile()
        self._matches = []
        self._current = -1
        if self.search_pattern is not None:
            self._count_matches(0)
        elif not self.search.text():
            self.match_label.setText("")
        only = self.search_pattern if self.filter.isChecked() else None
        if only is not None or self.proxy.sourceModel() is not None:
            self.proxy.set_matches(only, self._matches)
        self._show_filtered()

    def _count_matches(self, start: int) -> None:
        pattern = self.search_pattern
        if pattern is None:
            return
        search = pattern.search
        self._matches.extend(
            row for row, text in enumerate(self.model.plain_texts(start), start) if search(text)
        )
        self._update_match_label()

    def match_count(self) -> int:
        """How many lines match the search."""
        return len(self._matches)

    def _update_match_label(self) -> None:
        if self.search_pattern is None:
            return
        total = len(self._matches)
        where = f"{self._current + 1} of {total}" if self._current >= 0 else f"{total}"
        self.match_label.setText(f"{where} matching line{'s' if total != 1 else ''}")

    def next_match(self) -> None:
        self._step(1)

    def previous_match(self) -> None:
        self._step(-1)

    def _step(self, direction: int) -> None:
        if not self._matches:
            return
        self._current = (self._current + direction) % len(self._matches)
        index = self.model.index(self._matches[self._current], 0)
        if self.list.model() is self.proxy:
            index = self.proxy.mapFromSource(index)
        if index.isValid():
            self.follow.setChecked(False)
            self.list.setCurrentIndex(index)
            self.list.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self._update_match_label()

    def text(self) -> bytes:
        """Every line held, as the container wrote it, newline-separated (Save with colours)."""
        lines = self.model.lines
        return b"\n".join(lines) + b"\n" if lines else b""

    def plain_bytes(self) -> bytes:
        """Every line held as the view shows it, UTF-8, escape sequences removed (Save).

        What ``cat`` of a saved log should show: the same parser as the view strips
        the ANSI codes, so no colour or cursor sequence reaches a terminal later.
        """
        texts = self.model.plain_texts()
        if self._marks:  # a merged log: each line with its "service | " mark
            marks = [mark for mark, _tone in self._marks]
            texts = [marks[s] + t if s < len(marks) else t
                     for s, t in zip(self.model.sources, texts, strict=True)]
        return ("\n".join(texts) + "\n").encode("utf-8") if texts else b""
