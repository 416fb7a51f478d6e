"""All engines in one list: the containers and images of every engine that answers.

Read-mostly by design: each reachable engine gets an :class:`EngineSession` of its
own (the same live lists, event stream and reconnects as the window's), and the
rows of all of them are shown in one table with an Engine column.  The few
actions here (start, stop, remove) go to the row's own engine through its
session; anything more ("Open") switches the window to that engine and shows the
item there, where every other action lives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

import engine
from app.models.table import Column, KeyedTableModel
from app.pages.containers import CONTAINER_COLUMNS, STATE_COLUMN
from app.pages.images import IMAGE_COLUMNS
from app.pages.table_page import TablePage
from app.presentation import ImageRow, counted, engine_label, image_rows
from app.resources import CONTAINERS, IMAGES
from app.session import ConnectionState, ConnectionStatus, EngineSession, MessageLevel
from app.widgets.ask import ask
from app.widgets.badges import StateBadgeDelegate
from app.widgets.engine_switcher import REACHABLE, EngineEntry
from app.widgets.message_bar import MessageBar


@dataclass(frozen=True)
class EngineRow:
    """One row of the aggregated lists: an item and the engine it lives on."""

    engine: str  # what the Engine column shows (presentation.engine_label)
    url: str
    item: Any  # engine.Container, or an ImageRow
    key: str


def _on_item(column: Column) -> Column:
    """A page's column, applied to the row's item."""
    def via(f: Callable[[Any], Any] | None) -> Callable[[EngineRow], Any] | None:
        return None if f is None else (lambda r: f(r.item))

    text = column.text
    return replace(column, text=lambda r: text(r.item), sort_key=via(column.sort_key),
                   tooltip=via(column.tooltip), decoration=via(column.decoration),
                   tone=via(column.tone))


ENGINE_COLUMN = Column("Engine", lambda r: r.engine, tooltip=lambda r: r.url)
ALL_CONTAINER_COLUMNS = (ENGINE_COLUMN, *(_on_item(c) for c in CONTAINER_COLUMNS))
ALL_IMAGE_COLUMNS = (ENGINE_COLUMN, *(_on_item(c) for c in IMAGE_COLUMNS))
#: Where the State column is (after the Engine column).
STATE_AT = 1 + CONTAINER_COLUMNS.index(STATE_COLUMN)


class EngineFeed(QObject):
    """One engine's live containers and images, through a session of its own."""

    changed = Signal()

    def __init__(self, entry: EngineEntry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.session = EngineSession(target=entry.endpoint, parent=self)
        self.containers = self.session.live(CONTAINERS)
        self.images = self.session.live(IMAGES)
        self.containers.changed.connect(self.changed)
        self.images.changed.connect(self.changed)
        self.session.statusChanged.connect(self._on_status)
        self.session.start()

    @property
    def name(self) -> str:
        """What the Engine column says: the product and where (the context's name, if any)."""
        status = self.session.status
        product = status.product if status.product else self.entry.product
        return engine_label(self.entry.url, product, self.entry.endpoint.context)

    def _on_status(self, _status: ConnectionStatus) -> None:
        self.changed.emit()

    def container_rows(self) -> list[EngineRow]:
        url = self.entry.url
        return [EngineRow(self.name, url, c, f"{url} {c.id}") for c in self.containers.items]

    def image_rows(self) -> list[EngineRow]:
        url = self.entry.url
        rows: list[ImageRow] = image_rows(self.images.items, self.containers.items)
        return [EngineRow(self.name, url, r, f"{url} {r.key}") for r in rows]


class AllContainersPage(TablePage):
    """Every engine's containers; Start, Stop, Remove and Open act on the row's engine."""

    def __init__(self, view: AllEnginesView) -> None:
        super().__init__("all-containers",
                         KeyedTableModel(ALL_CONTAINER_COLUMNS, key=lambda r: r.key), view)
        self.view = view
        self.search.setPlaceholderText("Search the containers of every engine…")
        self.search.setAccessibleName("Search the containers of every engine")
        self.set_empty_hint("No container on any engine that answers.")
        self.start_button = self.add_button("Start", "container-start", self.start_selected)
        self.stop_button = self.add_button("Stop", "container-stop", self.stop_selected)
        self.remove_button = self.add_button("Remove", "container-remove", self.remove_selected)
        self.open_button = self.add_button("Open", "all-open", self.open_selected)
        self.open_button.setToolTip("Switch the window to this container's engine and show it")
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        # The State column as on the Containers page: a badge.
        self.table.setItemDelegateForColumn(STATE_AT, StateBadgeDelegate(self.table))
        self.table.setColumnWidth(0, 240)
        self.table.setColumnWidth(1, 200)
        self.selection_changed()

    def noun(self, count: int) -> str:
        return "container" if count == 1 else "containers"

    def selection_changed(self) -> None:
        rows: list[EngineRow] = self.selected_items()
        states = [r.item.state for r in rows]
        self.start_button.defaultAction().setEnabled(
            any(s not in ("running", "paused") for s in states))
        self.stop_button.defaultAction().setEnabled(
            any(s in ("running", "paused") for s in states))
        self.remove_button.defaultAction().setEnabled(bool(rows))
        self.open_button.defaultAction().setEnabled(len(rows) == 1)

    def start_selected(self) -> None:
        for row in self.selected_items():
            if row.item.state not in ("running", "paused"):
                self.view.act(row, engine.ensure_started, row.item.id,
                              describe=f"start {row.item.name} on {row.engine}",
                              done=f"Started {row.item.name} on {row.engine}")

    def stop_selected(self) -> None:
        for row in self.selected_items():
            if row.item.state in ("running", "paused"):
                call = partial(engine.ensure_stopped, paused=row.item.state == "paused")
                self.view.act(row, call, row.item.id,
                              describe=f"stop {row.item.name} on {row.engine}",
                              done=f"Stopped {row.item.name} on {row.engine}")

    def remove_selected(self) -> None:
        rows: list[EngineRow] = self.selected_items()
        if not rows:
            return
        what = ", ".join(f"{r.item.name} (on {r.engine})" for r in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        self.view.question = ask(
            self, "Remove containers", f"Remove {what}{more}? Running ones are stopped first.",
            "Remove", partial(self._remove, rows), name="all-remove-confirm")

    def _remove(self, rows: Sequence[EngineRow]) -> None:
        for row in rows:
            force = row.item.state in ("running", "paused")
            self.view.act(row, partial(engine.remove_if_present, force=force), row.item.id,
                          describe=f"remove {row.item.name} on {row.engine}",
                          done=f"Removed {row.item.name} on {row.engine}")

    def open_selected(self) -> None:
        rows = self.selected_items()
        if len(rows) == 1:
            self.view.openRequested.emit(rows[0].url, "containers", rows[0].item.id)


class AllImagesPage(TablePage):
    """Every engine's images; Open shows one on its engine's Images page."""

    def __init__(self, view: AllEnginesView) -> None:
        super().__init__("all-images", KeyedTableModel(ALL_IMAGE_COLUMNS, key=lambda r: r.key),
                         view)
        self.view = view
        self.search.setPlaceholderText("Search the images of every engine…")
        self.search.setAccessibleName("Search the images of every engine")
        self.set_empty_hint("No image on any engine that answers.")
        self.open_button = self.add_button("Open", "all-image-open", self.open_selected)
        self.open_button.setToolTip("Switch the window to this image's engine and show it")
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.table.setColumnWidth(0, 240)
        self.table.setColumnWidth(1, 220)
        self.selection_changed()

    def noun(self, count: int) -> str:
        return "image" if count == 1 else "images"

    def selection_changed(self) -> None:
        self.open_button.defaultAction().setEnabled(len(self.selected_items()) == 1)

    def open_selected(self) -> None:
        rows = self.selected_items()
        if len(rows) == 1:
            self.view.openRequested.emit(rows[0].url, "images", rows[0].item.key)


class AllEnginesView(QWidget):
    """A window of its own: the containers and images of every engine that answers."""

    #: Show an item in the main window: (engine URL, page key, item key).
    openRequested = Signal(str, str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("all-engines")
        self.setWindowTitle("All engines — Dockyard")
        self.feeds: dict[str, EngineFeed] = {}
        self.question: QWidget | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.summary = QLabel(self)
        self.summary.setObjectName("all-engines-summary")
        self.summary.setWordWrap(True)
        self.messages = MessageBar("all-engines-messages")
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("all-engines-tabs")
        self.containers = AllContainersPage(self)
        self.images = AllImagesPage(self)
        self.tabs.addTab(self.containers, "Containers")
        self.tabs.addTab(self.images, "Images")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.messages)
        layout.addWidget(self.tabs, 1)
        self.resize(1100, 620)
        self._show()

    def set_engines(self, entries: Sequence[EngineEntry]) -> None:
        """Follow every reachable engine of ``entries`` not followed yet (engines are never
        dropped here: one that goes away says so in the summary, as it reconnects)."""
        for entry in entries:
            if entry.state == REACHABLE and entry.url and entry.url not in self.feeds:
                feed = self.feeds[entry.url] = EngineFeed(entry, self)
                feed.changed.connect(self._show)
                feed.session.message.connect(partial(self._message, feed))
        self._show()

    def _message(self, feed: EngineFeed, level: MessageLevel, text: str) -> None:
        self.messages.show_message(level, f"{feed.name}: {text}")

    def _show(self) -> None:
        feeds = list(self.feeds.values())
        self.containers.model.set_items([r for f in feeds for r in f.container_rows()])
        self.images.model.set_items([r for f in feeds for r in f.image_rows()])
        connected = [f.name for f in feeds if f.session.status.state is ConnectionState.CONNECTED]
        waiting = [f.name for f in feeds if f.session.status.state is not ConnectionState.CONNECTED]
        text = f"{counted(len(connected), 'engine')}: {', '.join(connected)}" if connected \
            else "No engine connected yet."
        if waiting:
            text += f". Connecting to {', '.join(waiting)}…"
        self.summary.setText(text)

    def act(self, row: EngineRow, call: Callable[..., Any], *args: Any,
            describe: str, done: str) -> asyncio.Task[Any] | None:
        """Run ``call(client, *args)`` on the row's own engine; its session reports a failure."""
        feed = self.feeds.get(row.url)
        if feed is None:
            return None

        def finished(result: object) -> None:
            if result is not False:
                self.messages.show_message(MessageLevel.INFO, done)

        return feed.session.run(call, *args, describe=describe, quiet_not_found=True,
                                on_done=finished)

    async def aclose(self) -> None:
        """End every engine's session (their event streams and connections)."""
        feeds = list(self.feeds.values())
        self.feeds.clear()
        self._show()  # reopened, it shows nothing stale before the engines answer again
        await asyncio.gather(*(f.session.aclose() for f in feeds), return_exceptions=True)
        for feed in feeds:
            feed.deleteLater()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the window ends its sessions: nothing is followed while it is not shown."""
        if self.feeds:
            task = asyncio.ensure_future(self.aclose())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        super().closeEvent(event)
