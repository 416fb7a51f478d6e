"""A log view that stays fast whatever a container writes.

Lines live in a list model with a cap (the oldest are dropped, and a label says
how many); the list view is virtualised (uniform row heights: only visible rows
are measured or painted), lines arrive in batches once per tick rather than one
signal per line, and ANSI colours are parsed only for the rows being painted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontMetrics, QPainter
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
    QVBoxLayout,
    QWidget,
)

from app.widgets.ansi import ansi_runs, strip_ansi

AnyIndex = QModelIndex | QPersistentModelIndex
EntryRole = Qt.ItemDataRole.UserRole + 1

STDOUT, STDERR = 1, 2
DEFAULT_CAP = 100_000
STDERR_MARK = QColor("#d0342c")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line: the bytes as the container wrote them, and what a user reads."""

    stream: int
    raw: bytes
    text: str  # decoded, ANSI codes kept for painting
    plain: str  # decoded, ANSI codes removed: what search and filter see
    timestamp: datetime | None = None

    @classmethod
    def from_bytes(cls, stream: int, raw: bytes, timestamp: datetime | None = None) -> LogEntry:
        text = raw.decode("utf-8", "replace")
        return cls(stream, raw, text, strip_ansi(text), timestamp)


class LogModel(QAbstractListModel):
    dropped_changed = Signal(int)

    def __init__(self, cap: int = DEFAULT_CAP, parent: Any = None) -> None:
        super().__init__(parent)
        self.cap = cap
        self.entries: list[LogEntry] = []
        self.dropped = 0

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.entries)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.entries):
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.plain
        if role == EntryRole:
            return entry
        return None

    def append(self, entries: Sequence[LogEntry]) -> None:
        if not entries:
            return
        # A batch larger than the cap is cut first; those lines count as dropped too.
        skipped = max(len(entries) - self.cap, 0)
        entries = list(entries)[skipped:]
        overflow = max(len(self.entries) + len(entries) - self.cap, 0)
        if overflow:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            del self.entries[:overflow]
            self.endRemoveRows()
        if overflow or skipped:
            self.dropped += overflow + skipped
            self.dropped_changed.emit(self.dropped)
        first = len(self.entries)
        self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
        self.entries.extend(entries)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.entries.clear()
        self.dropped = 0
        self.endResetModel()
        self.dropped_changed.emit(0)


class LogDelegate(QStyledItemDelegate):
    """Paints a line's ANSI runs, a red gutter for stderr, and search hits."""

    def __init__(self, view: LogView) -> None:
        super().__init__(view)
        self.view = view

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        metrics = QFontMetrics(self.view.list.font())
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
        runs = ansi_runs(entry.text.replace("\r", "").replace("\t", "    "))
        metrics = QFontMetrics(painter.font())
        if self.view.wrap.isChecked():
            painter.setPen(default)
            painter.drawText(rect.adjusted(8, 0, 0, 0), Qt.TextFlag.TextWrapAnywhere,
                             prefix + entry.plain)
            painter.restore()
            return
        baseline = rect.top() + metrics.ascent()
        if prefix:
            painter.setPen(QColor("#8a8a8a"))
            painter.drawText(x, baseline, prefix)
            x += metrics.horizontalAdvance(prefix)
        pattern = self.view.search_pattern
        for run in runs:
            if x > rect.right():
                break
            width = metrics.horizontalAdvance(run.text)
            if run.style.bg and not selected:
                painter.fillRect(QRect(x, rect.top(), width, rect.height()), QColor(run.style.bg))
            if pattern is not None:
                self._paint_hits(painter, pattern, run.text, x, rect, metrics)
            font = QFont(painter.font())
            font.setBold(run.style.bold)
            font.setItalic(run.style.italic)
            font.setUnderline(run.style.underline)
            painter.setFont(font)
            painter.setPen(QColor(run.style.fg) if run.style.fg and not selected else default)
            painter.drawText(x, baseline, run.text)
            x += width
        painter.restore()

    @staticmethod
    def _paint_hits(painter: QPainter, pattern: re.Pattern[str], text: str, x: int, rect: QRect,
                    metrics: QFontMetrics) -> None:
        for match in pattern.finditer(text):
            if match.end() == match.start():
                continue
            left = x + metrics.horizontalAdvance(text[: match.start()])
            width = metrics.horizontalAdvance(match.group(0))
            painter.fillRect(QRect(left, rect.top(), width, rect.height()), QColor("#f5d76e"))


class LogView(QWidget):
    """Toolbar (follow, timestamps, wrap, search, filter, save) over a virtualised list."""

    FLUSH_MS = 50

    def __init__(self, parent: QWidget | None = None, cap: int = DEFAULT_CAP) -> None:
        super().__init__(parent)
        self.setObjectName("logs")
        self.model = LogModel(cap, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.search_pattern: re.Pattern[str] | None = None
        self._pending: list[LogEntry] = []
        self._matches: list[int] = []
        self._current = -1

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
        self.list.setModel(self.proxy)
        self.list.setShowGrid(False)
        self.list.horizontalHeader().hide()
        self.list.horizontalHeader().setStretchLastSection(True)
        self.list.verticalHeader().hide()
        self.list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.list.setFont(font)
        rows = self.list.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(QFontMetrics(font).height())
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
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

    def _button(self, text: str, name: str, accessible: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAccessibleName(accessible)
        return button

    # -- feeding ----------------------------------------------------------------------

    def add(self, entry: LogEntry) -> None:
        """Queue a line; lines reach the model in batches, once per tick."""
        self._pending.append(entry)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        if not self._pending:
            self._flush_timer.stop()
            return
        batch, self._pending = self._pending, []
        self.model.append(batch)
        if self.search_pattern is not None and not self.filter.isChecked():
            self._count_matches(len(self.model.entries) - len(batch))
        if self.follow.isChecked():
            self.list.scrollToBottom()

    def clear(self) -> None:
        self._pending.clear()
        self.model.clear()
        self._matches = []
        self._current = -1
        self._update_match_label()
        self.show_status("")

    def show_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def line_text(self, entry: LogEntry | None) -> str:
        return "" if entry is None else self.prefix(entry) + entry.plain

    def prefix(self, entry: LogEntry) -> str:
        if self.timestamps.isChecked() and entry.timestamp is not None:
            return entry.timestamp.isoformat(timespec="milliseconds") + "  "
        return ""

    # -- follow, wrap, dropped ------------------------------------------------------------

    def _on_scrolled(self, value: int) -> None:
        bar = self.list.verticalScrollBar()
        at_bottom = value >= bar.maximum()
        if self.follow.isChecked() != at_bottom and self.model.entries:
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
        if self.filter.isChecked() and self.search_pattern is not None:
            self.proxy.setFilterRegularExpression(self.search_pattern.pattern)
            self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        else:
            self.proxy.setFilterRegularExpression("")
        if self.search_pattern is not None:
            self._count_matches(0)
        elif not self.search.text():
            self.match_label.setText("")
        self.list.viewport().update()

    def _count_matches(self, start: int) -> None:
        pattern = self.search_pattern
        if pattern is None:
            return
        entries = self.model.entries
        self._matches.extend(
            row for row in range(start, len(entries)) if pattern.search(entries[row].plain)
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
        source = self.model.index(self._matches[self._current], 0)
        index = self.proxy.mapFromSource(source)
        if index.isValid():
            self.follow.setChecked(False)
            self.list.setCurrentIndex(index)
            self.list.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self._update_match_label()

    def text(self) -> bytes:
        """Every line held, as the container wrote it, newline-separated (for Save)."""
        return b"".join(entry.raw + b"\n" for entry in self.model.entries)
