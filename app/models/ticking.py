"""Cells that say how long ago something happened ("a minute ago") must age on screen.

Nothing in the engine changes when a minute passes, so no event or refresh
would repaint them: every half minute :func:`relative_time_clock` ticks, and
each :class:`RelativeTimeTicker` tells its views that the ticking columns
changed.  A view that is hidden repaints nothing, so an idle window pays
nothing.  The one timer belongs to the application, not to each model: a model
freed by the garbage collector on a worker thread must not take a timer with it
(Qt refuses to stop a timer from another thread).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractItemModel, QCoreApplication, QModelIndex, QObject, Qt, QTimer

INTERVAL_MS = 30_000


def relative_time_clock() -> QTimer:
    """The application's one half-minute timer (made on first use, on the GUI thread)."""
    app = QCoreApplication.instance()
    clock = app.findChild(QTimer, "relative-time-clock") if app is not None else None
    if clock is None:
        clock = QTimer(app)
        clock.setObjectName("relative-time-clock")
        clock.setInterval(INTERVAL_MS)
        clock.start()
    return clock


class RelativeTimeTicker(QObject):
    def __init__(self, model: QAbstractItemModel, columns: Sequence[int]) -> None:
        super().__init__(model)
        self._model = model
        self._first, self._last = min(columns), max(columns)
        relative_time_clock().timeout.connect(self.tick)

    def tick(self) -> None:
        """Say that every ticking cell changed: top-level rows and their children."""
        model = self._model
        parents = [QModelIndex()]
        parents += [index for row in range(model.rowCount())
                    if model.rowCount(index := model.index(row, 0))]
        for parent in parents:
            rows = model.rowCount(parent)
            if rows:
                model.dataChanged.emit(model.index(0, self._first, parent),
                                       model.index(rows - 1, self._last, parent),
                                       [Qt.ItemDataRole.DisplayRole])
