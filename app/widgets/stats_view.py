"""Live container stats: CPU, memory, network and block I/O over the last minutes.

Three layers, so each can be checked on its own:

* :class:`StatsHistory` (no Qt) keeps the samples of the last few minutes and
  turns the cumulative network and block I/O counters into rates (bytes/s
  between successive samples).  A rate needs two samples of one unbroken run,
  so the first sample, the first after a pause longer than ``gap`` seconds, and
  the first after a counter went backwards (the container was restarted) start
  a new *segment*: they carry no rate, and charts do not join them to the point
  before.
* :class:`SparkChart` paints one or two series with QPainter (PySide6-Essentials
  has no QtCharts).  It only stores data and calls ``update()``, which Qt folds
  into one paint per event-loop pass however many samples arrive, and which
  costs nothing while the chart is hidden.
* :class:`StatsView` shows four charts and the current numbers as text, in the
  units ``docker stats`` uses: CPU % of one core (so above 100 on a multi-core
  host), memory used without the inactive page cache in binary units (MiB),
  network and block I/O in decimal ones (kB), with the CLI's digits.

:func:`follow_stats` feeds a view from the engine's stats stream and says in the
view, not as an error, why the numbers stopped (not running, removed, not
available on this engine, or the connection went: the window's banner is the
one place that reports a lost connection).  The time axis follows the samples' own timestamps,
so "now" is the daemon's latest reading, whatever the local clock says.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QHideEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QShowEvent,
)
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

import engine
from app.presentation import cli_io_size, cli_memory_size
from engine import StatsSample

log = logging.getLogger(__name__)

__all__ = [
    "NOT_RUNNING",
    "REMOVED",
    "WAITING",
    "SparkChart",
    "StatsHistory",
    "StatsPoint",
    "StatsView",
    "follow_stats",
    "format_block",
    "format_cpu",
    "format_memory",
    "format_network",
    "format_pids",
    "format_rate",
    "nice_ceiling",
    "unavailable",
]

#: How much history the charts show (seconds).
DEFAULT_WINDOW = 300.0
#: A pause longer than this breaks the line: Docker samples every second, Podman
#: every 5 s, so this is more than two missed Podman samples.
DEFAULT_GAP = 12.0

NOT_RUNNING = "The container is not running."
REMOVED = "The container was removed."
WAITING = "Waiting for the first sample…"
PAUSED = "Paused until the engine is back."
NO_VALUE = "—"


def unavailable(reason: str) -> str:
    """The status for an engine that cannot give stats (e.g. rootless on cgroup v1)."""
    return f"Stats are not available: {reason}" if reason else "Stats are not available."


# -- history (no Qt) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatsPoint:
    """A sample placed on the time axis (Unix seconds), with rates from the one before.

    Rates are ``None`` exactly when ``starts_segment`` is true.
    """

    t: float
    sample: StatsSample
    starts_segment: bool
    net_rx_rate: float | None = None
    net_tx_rate: float | None = None
    block_read_rate: float | None = None
    block_write_rate: float | None = None


def _rate(current: int, previous: int, seconds: float) -> float | None:
    return (current - previous) / seconds if current >= previous else None


#: One line of a chart: (time, value) pairs that are drawn joined.
Segment = list[tuple[float, float]]


class StatsHistory:
    """The samples of the last ``window`` seconds, oldest first, with derived rates.

    Bounded twice: by time (older than ``window`` before the newest sample) and by
    count (``max_points``), so a daemon that floods samples cannot grow it.
    """

    def __init__(self, window: float = DEFAULT_WINDOW, gap: float = DEFAULT_GAP,
                 max_points: int | None = None) -> None:
        if window <= 0 or gap <= 0:
            raise ValueError("window and gap must be positive")
        self.window = window
        self.gap = gap
        self.max_points = max_points if max_points is not None else int(window * 2) + 1
        self._points: deque[StatsPoint] = deque(maxlen=self.max_points)
        self._interrupted = False

    def __len__(self) -> int:
        return len(self._points)

    def __iter__(self) -> Iterator[StatsPoint]:
        return iter(self._points)

    @property
    def points(self) -> list[StatsPoint]:
        return list(self._points)

    @property
    def latest(self) -> StatsPoint | None:
        return self._points[-1] if self._points else None

    def clear(self) -> None:
        self._points.clear()
        self._interrupted = False

    def interrupt(self) -> None:
        """The next sample comes from a new stream: do not join it to the last one."""
        self._interrupted = True

    def add(self, sample: StatsSample, now: float | None = None) -> StatsPoint | None:
        """Append a sample; ``now`` (Unix seconds) stands in when it has no time.

        A sample not newer than the last one is dropped (``None``): the time axis
        must only move forward.
        """
        if sample.time is not None:
            t = sample.time.timestamp()
        else:
            t = time.time() if now is None else now
        previous = self.latest
        if previous is not None and t <= previous.t:
            return None
        point = self._point(t, sample, None if self._interrupted else previous)
        self._interrupted = False
        self._points.append(point)
        oldest = t - self.window
        while self._points[0].t < oldest:
            self._points.popleft()
        return point

    def _point(self, t: float, sample: StatsSample, previous: StatsPoint | None) -> StatsPoint:
        if previous is None or t - previous.t > self.gap:
            return StatsPoint(t, sample, True)
        seconds = t - previous.t
        before = previous.sample
        rates = (
            _rate(sample.net_rx, before.net_rx, seconds),
            _rate(sample.net_tx, before.net_tx, seconds),
            _rate(sample.block_read, before.block_read, seconds),
            _rate(sample.block_write, before.block_write, seconds),
        )
        if None in rates:  # a counter went backwards: the container restarted
            return StatsPoint(t, sample, True)
        return StatsPoint(t, sample, False, *rates)

    def segments(self, value: Callable[[StatsPoint], float | None]) -> list[Segment]:
        """The unbroken runs of ``value`` over the history, for drawing lines."""
        result: list[Segment] = []
        current: Segment = []
        for point in self._points:
            v = value(point)
            if point.starts_segment or v is None:
                if current:
                    result.append(current)
                current = []
            if v is not None:
                current.append((point.t, v))
        if current:
            result.append(current)
        return result


# -- formatting (exact strings the labels show) ------------------------------------------


def format_rate(rate: float | None) -> str:
    return NO_VALUE if rate is None else f"{cli_io_size(round(rate))}/s"


def format_cpu(sample: StatsSample | None) -> str:
    """Two decimals, like ``docker stats``; 100 % is one core."""
    return f"CPU: {NO_VALUE}" if sample is None else f"CPU: {sample.cpu_percent:.2f}%"


def format_memory(sample: StatsSample | None) -> str:
    if sample is None:
        return f"Memory: {NO_VALUE}"
    if not sample.memory_limit:
        return f"Memory: {cli_memory_size(sample.memory_used)}"
    return (f"Memory: {cli_memory_size(sample.memory_used)}"
            f" / {cli_memory_size(sample.memory_limit)}"
            f" ({sample.memory_percent:.2f}%)")


def format_network(point: StatsPoint | None) -> str:
    if point is None:
        return f"Network: {NO_VALUE}"
    s = point.sample
    return (f"Network: ↓ {format_rate(point.net_rx_rate)} ↑ {format_rate(point.net_tx_rate)}"
            f" ({cli_io_size(s.net_rx)} / {cli_io_size(s.net_tx)} in total)")


def format_block(point: StatsPoint | None) -> str:
    if point is None:
        return f"Block I/O: {NO_VALUE}"
    s = point.sample
    return (f"Block I/O: read {format_rate(point.block_read_rate)},"
            f" write {format_rate(point.block_write_rate)}"
            f" ({cli_io_size(s.block_read)} / {cli_io_size(s.block_write)} in total)")


def format_pids(sample: StatsSample | None) -> str:
    return f"PIDs: {NO_VALUE}" if sample is None else f"PIDs: {sample.pids}"


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten not below ``value``: a readable top."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10.0 * power


def _format_window(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


# -- the chart ---------------------------------------------------------------------------

_LIGHT_SERIES = (QColor("#1c6dd0"), QColor("#d9480f"))
_DARK_SERIES = (QColor("#5aa9ff"), QColor("#ffa94d"))


class SparkChart(QWidget):
    """A small time chart of one or two series, lines with a filled area below.

    The y axis starts at 0 and ends at a round number above the largest value in
    view (never below ``floor``, so an idle container does not show noise as a
    full-height line).  Labels: the title and current value(s) top left, the max
    top right, the scale top at the upper grid line, the time window along the
    bottom.  Colours come from the widget's palette, so dark themes work.
    """

    def __init__(self, name: str, title: str, series: Sequence[str],
                 format_value: Callable[[float], str], *, floor: float = 1.0,
                 window: float = DEFAULT_WINDOW, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if not 1 <= len(series) <= len(_LIGHT_SERIES):
            raise ValueError(f"a chart has 1 to {len(_LIGHT_SERIES)} series")
        self.setObjectName(name)
        self.setAccessibleName(f"{title} chart")
        self.title = title
        self.series_names = tuple(series)
        self.format_value = format_value
        self.floor = floor
        self.window_seconds = window
        self.end = 0.0
        self.data: list[list[Segment]] = [[] for _ in series]
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._refresh_description()

    def sizeHint(self) -> QSize:
        return QSize(320, 140)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, 80)

    def set_data(self, data: Sequence[Sequence[Segment]], end: float) -> None:
        """Replace the series (one list of segments each); ``end`` is the right edge."""
        if len(data) != len(self.series_names):
            raise ValueError("one list of segments per series")
        self.data = [list(segments) for segments in data]
        self.end = end
        self._refresh_description()
        self.update()  # Qt coalesces: one paint per event-loop pass at most

    def clear(self) -> None:
        self.set_data([[] for _ in self.series_names], 0.0)

    def current(self) -> list[float | None]:
        """The newest value of each series (``None`` when it has none in view)."""
        return [segments[-1][-1][1] if segments else None for segments in self.data]

    def maximum(self) -> float | None:
        values = [v for segments in self.data for segment in segments for _, v in segment]
        return max(values) if values else None

    def _current_text(self) -> str:
        parts = []
        for name, value in zip(self.series_names, self.current(), strict=True):
            text = NO_VALUE if value is None else self.format_value(value)
            parts.append(f"{name} {text}" if len(self.series_names) > 1 else text)
        return "  ".join(parts)

    def _max_text(self) -> str:
        peak = self.maximum()
        return f"max {NO_VALUE if peak is None else self.format_value(peak)}"

    def _refresh_description(self) -> None:
        self.setAccessibleDescription(f"{self.title}: {self._current_text()}, {self._max_text()}"
                                      f" over the last {_format_window(self.window_seconds)}")

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self.update()
        super().changeEvent(event)

    def series_colours(self) -> tuple[QColor, ...]:
        """Brighter colours on a dark base, so lines keep their contrast."""
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        return (_DARK_SERIES if dark else _LIGHT_SERIES)[: len(self.series_names)]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        palette = self.palette()
        text_colour = palette.color(QPalette.ColorRole.WindowText)
        faint = palette.color(QPalette.ColorRole.PlaceholderText)
        grid = palette.color(QPalette.ColorRole.Mid)
        metrics = self.fontMetrics()
        line = metrics.height()
        outer = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        plot = outer.adjusted(4, line + 4, -4, -(line + 2))
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        painter.setPen(QPen(grid, 1))
        painter.drawRect(outer)
        colours = self.series_colours()

        # Header: title and current values (left), max (right).
        header = QRectF(outer.left() + 4, outer.top() + 2, outer.width() - 8, line)
        painter.setPen(text_colour)
        x = header.left()
        painter.drawText(QPointF(x, header.top() + metrics.ascent()), self.title)
        x += metrics.horizontalAdvance(self.title) + 8
        for name, value, colour in zip(self.series_names, self.current(), colours, strict=True):
            text = NO_VALUE if value is None else self.format_value(value)
            if len(self.series_names) > 1:
                text = f"{name} {text}"
            painter.setPen(colour)
            painter.drawText(QPointF(x, header.top() + metrics.ascent()), text)
            x += metrics.horizontalAdvance(text) + 8
        painter.setPen(faint)
        painter.drawText(header, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         self._max_text())
        # Footer: the time window.
        footer = QRectF(outer.left() + 4, outer.bottom() - line - 1, outer.width() - 8, line)
        painter.drawText(footer, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"{_format_window(self.window_seconds)} ago")
        painter.drawText(footer, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         "now")
        if plot.width() < 4 or plot.height() < 4:
            return

        top = nice_ceiling(max(self.maximum() or 0.0, self.floor))
        pen = QPen(grid, 1, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        for fraction in (0.0, 0.5):
            y = plot.top() + plot.height() * fraction
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        painter.setPen(QPen(grid, 1))
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.setPen(faint)
        painter.drawText(QPointF(plot.left() + 2, plot.top() + metrics.ascent()),
                         self.format_value(top))

        start = self.end - self.window_seconds

        def point(t: float, v: float) -> QPointF:
            x = plot.left() + (t - start) / self.window_seconds * plot.width()
            y = plot.bottom() - min(v / top, 1.0) * plot.height()
            return QPointF(max(plot.left(), x), y)

        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for segments, colour in zip(self.data, colours, strict=True):
            fill = QColor(colour)
            fill.setAlpha(50)
            for segment in segments:
                points = [point(t, v) for t, v in segment]
                if len(points) == 1:  # a lone sample: a dot, there is no line yet
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.setBrush(colour)
                    painter.drawEllipse(points[0], 2.0, 2.0)
                    continue
                path = QPainterPath(points[0])
                for p in points[1:]:
                    path.lineTo(p)
                area = QPainterPath(path)
                area.lineTo(points[-1].x(), plot.bottom())
                area.lineTo(points[0].x(), plot.bottom())
                area.closeSubpath()
                painter.fillPath(area, fill)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(QPen(colour, 1.5))
                painter.drawPath(path)


# -- the view ----------------------------------------------------------------------------


def _percent(value: float) -> str:
    return f"{value:.1f}%"


def _bytes(value: float) -> str:
    return cli_memory_size(round(value))


def _per_second(value: float) -> str:
    return format_rate(value)


class StatsView(QWidget):
    """CPU, memory, network and block I/O of one container: numbers and charts."""

    #: Emitted after each sample is shown (tests and callers can wait on it).
    sampleAdded = Signal()
    #: Shown (True) or hidden (False): its tab was switched, its page changed, or the
    #: window minimised.  Whoever runs the stream stops it while nobody can see it.
    shownChanged = Signal(bool)

    def __init__(self, window: float = DEFAULT_WINDOW, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stats-view")
        self.setAccessibleName("Container stats")
        self.history = StatsHistory(window)
        #: Whether the view is on screen (a minimised window's widgets stay "visible").
        self.shown = False
        self.status = QLabel(self)
        self.status.setObjectName("stats-status")
        self.status.setAccessibleName("Stats status")
        self.status.setWordWrap(True)
        self.status.hide()

        def label(name: str, accessible: str) -> QLabel:
            widget = QLabel(self)
            widget.setObjectName(name)
            widget.setAccessibleName(accessible)
            widget.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            return widget

        self.cpu_label = label("stats-cpu", "CPU usage")
        self.memory_label = label("stats-memory", "Memory usage")
        self.network_label = label("stats-network", "Network I/O")
        self.block_label = label("stats-block-io", "Block I/O")
        self.pids_label = label("stats-pids", "Processes")
        self.cpu_chart = SparkChart("stats-cpu-chart", "CPU", ["cpu"], _percent,
                                    floor=1.0, window=window, parent=self)
        self.memory_chart = SparkChart("stats-memory-chart", "Memory", ["used"], _bytes,
                                       floor=1e6, window=window, parent=self)
        self.network_chart = SparkChart("stats-network-chart", "Network", ["↓", "↑"],
                                        _per_second, floor=1e3, window=window, parent=self)
        self.block_chart = SparkChart("stats-block-io-chart", "Block I/O", ["read", "write"],
                                      _per_second, floor=1e3, window=window, parent=self)

        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for index, (text, chart) in enumerate(((self.cpu_label, self.cpu_chart),
                                               (self.memory_label, self.memory_chart),
                                               (self.network_label, self.network_chart),
                                               (self.block_label, self.block_chart))):
            row, column = divmod(index, 2)
            grid.addWidget(text, row * 2, column)
            grid.addWidget(chart, row * 2 + 1, column)
            grid.setRowStretch(row * 2 + 1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addWidget(self.pids_label)
        layout.addLayout(grid, 1)
        self.clear()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.shown = True
        self.shownChanged.emit(True)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.shown = False
        self.shownChanged.emit(False)

    @property
    def charts(self) -> tuple[SparkChart, ...]:
        return (self.cpu_chart, self.memory_chart, self.network_chart, self.block_chart)

    def add(self, sample: StatsSample) -> None:
        """Show a new sample; a sample arriving means any earlier status is stale."""
        if self.history.add(sample) is None:
            return
        self.set_status("")
        self._refresh()
        self.sampleAdded.emit()

    def interrupt(self) -> None:
        """A new stream starts (e.g. the container was restarted): break the lines."""
        self.history.interrupt()

    def clear(self) -> None:
        """Forget everything: another container was selected."""
        self.history.clear()
        self.set_status("")
        self._refresh()

    def set_status(self, text: str) -> None:
        """Say why there are no new numbers; the last minutes stay on the charts."""
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def status_text(self) -> str:
        return self.status.text()

    def _refresh(self) -> None:
        point = self.history.latest
        sample = point.sample if point is not None else None
        self.cpu_label.setText(format_cpu(sample))
        self.memory_label.setText(format_memory(sample))
        self.network_label.setText(format_network(point))
        self.block_label.setText(format_block(point))
        self.pids_label.setText(format_pids(sample))
        end = point.t if point is not None else 0.0
        h = self.history
        self.cpu_chart.set_data([h.segments(lambda p: p.sample.cpu_percent)], end)
        self.memory_chart.set_data([h.segments(lambda p: float(p.sample.memory_used))], end)
        self.network_chart.set_data([h.segments(lambda p: p.net_rx_rate),
                                     h.segments(lambda p: p.net_tx_rate)], end)
        self.block_chart.set_data([h.segments(lambda p: p.block_read_rate),
                                   h.segments(lambda p: p.block_write_rate)], end)


# -- the stream ----------------------------------------------------------------------------


async def follow_stats(view: StatsView, container_id: str, client: engine.Engine) -> None:
    """Feed ``view`` from the container's stats stream until it ends or is cancelled.

    Run through ``EngineSession.run(partial(follow_stats, view, cid), key="stats")``
    so a new selection cancels it.  Why the stream ended is shown in the view:
    the container stopped, was removed, or the engine cannot give stats (Podman
    rootless on cgroup v1, for one) — expected states, not errors.  A lost
    connection is not one either: the window's banner says it, the view says it
    paused, and whoever started the stream starts it again once connected.
    """
    view.interrupt()
    if len(view.history) == 0:
        view.set_status(WAITING)
    try:
        async for sample in engine.stats(client, container_id, stream=True):
            view.add(sample)
    except engine.NotFound:
        view.set_status(REMOVED)
        return
    except engine.Conflict:  # Podman: "container state improper"
        view.set_status(NOT_RUNNING)
        return
    except engine.APIError as exc:
        log.info("no stats for %s: %s", container_id, exc)
        view.set_status(unavailable(exc.message))
        return
    except engine.EngineUnreachable as exc:
        log.info("stats of %s stopped with the connection: %s", container_id, exc)
        view.set_status(PAUSED)
        return
    try:
        await client.container(container_id)
    except engine.NotFound:
        view.set_status(REMOVED)
        return
    except engine.EngineUnreachable as exc:
        log.info("stats of %s stopped with the connection: %s", container_id, exc)
        view.set_status(PAUSED)
        return
    view.set_status(NOT_RUNNING)
