"""The Disk usage page: what ``docker system df -v`` knows, as a picture at a glance.

One card per kind (images, containers' writable layers, volumes, build cache)
with its total, how many are in use and what a clean-up could reclaim, the
numbers computed by :meth:`engine.DiskUsage.summary` exactly as the docker CLI
does; a bar of where the bytes go; the biggest items, each opening its own page
(double-click or Enter); and the build cache records.

``GET /system/df`` is slow (the daemon measures every layer and volume), so the
page reads it only while shown, at most one read in flight, and folds a burst
of engine events into one read after :attr:`DiskPage.COALESCE_MS`.  Events that
arrive while a read runs mark the page stale; one more read follows.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QMouseEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import engine
from app.df_gate import read_disk_usage
from app.models.cleanup import short_image
from app.models.table import Column, ItemRole, KeyedTableModel
from app.pages.cleanup_sheet import CleanupSheet
from app.pages.table_page import FilterProxy
from app.presentation import human_size, relative_time
from app.resources import QUIET_CONTAINER_ACTIONS
from app.session import EngineSession
from app.widgets.disk_bar import BarPart, DiskBar

#: Colours of the kinds (and of a kind's parts), readable on light and dark themes.
COLORS = {
    "images": "#3b82f6", "containers": "#10b981", "volumes": "#f59e0b",
    "build-cache": "#8b5cf6", "shared": "#93c5fd", "reclaimable": "#ef4444",
}
#: How many of the biggest items the page lists.
BIGGEST = 100


def df_stale(event: engine.Event) -> bool:
    """Whether this event may change what ``/system/df`` says."""
    if event.type == "container":
        return event.action not in QUIET_CONTAINER_ACTIONS
    return event.type in ("image", "volume", "builder")


@dataclass(frozen=True)
class DiskItem:
    """One row of "Biggest items": what it is, its bytes, and the page that shows it."""

    kind: str  # "Image", "Container", "Volume"
    key: str  # the ID (volumes: the name) its page selects
    page: str  # the page table's key
    name: str
    size: int
    detail: str
    reclaimable: bool

    @property
    def row_key(self) -> str:
        return f"{self.page}/{self.key}"


def _image_detail(image: engine.ImageUsage) -> str:
    unique = image.unique_size
    parts = [] if unique is None else [
        f"unique {human_size(unique)}, shared {human_size(image.shared_size or 0)}"]
    if image.containers:
        parts.append(f"{image.containers} container{'s' if image.containers != 1 else ''}")
    elif image.dangling:
        parts.append("dangling")
    return " · ".join(parts)


def biggest_items(usage: engine.DiskUsage, limit: int = BIGGEST) -> list[DiskItem]:
    """The largest images, containers (writable layer) and volumes, largest first.

    Only the ``limit`` largest are described (the df may list thousands)."""
    # Ties (many images of one size) are broken by ID or name, not by the df's order,
    # which changes from read to read: the same items stay listed, and the model's diff
    # between two reads is empty instead of a hundred rows out and in.
    sized: list[tuple[int, int, str, int]] = [
        (i.size, 0, i.id, n) for n, i in enumerate(usage.images)]
    sized += [(c.size_rw, 1, c.id, n) for n, c in enumerate(usage.containers)]
    sized += [(v.size or 0, 2, v.name, n) for n, v in enumerate(usage.volumes)]
    items = []
    for _size, kind, _key, n in heapq.nlargest(limit, sized):
        if kind == 0:
            i = usage.images[n]
            items.append(DiskItem("Image", "sha256:" + i.id.removeprefix("sha256:"), "images",
                                  i.name, i.size, _image_detail(i), not i.containers))
        elif kind == 1:
            c = usage.containers[n]
            items.append(DiskItem("Container", c.id, "containers", c.name or c.short_id,
                                  c.size_rw, f"{c.state or 'unknown'} · {short_image(c.image)}",
                                  not c.active))
        else:
            v = usage.volumes[n]
            items.append(DiskItem("Volume", v.name, "volumes", v.display_name, v.size or 0,
                                  (f"used by {v.ref_count}" if v.ref_count else "unused")
                                  + (" · anonymous" if v.anonymous else ""), not v.ref_count))
    items.sort(key=lambda d: (-d.size, d.kind, d.name))
    return items


@dataclass(frozen=True)
class DiskView:
    """What the page shows of one df, worked out before the page is touched."""

    usage: engine.DiskUsage
    summary: tuple[engine.KindUsage, ...]
    unique_used: int
    unique_unused: int
    biggest: list[DiskItem]


def disk_view(usage: engine.DiskUsage) -> DiskView:
    return DiskView(
        usage, usage.summary(),
        sum(i.unique_size or 0 for i in usage.images if i.containers),
        sum(i.unique_size or 0 for i in usage.images if not i.containers),
        biggest_items(usage))


async def read_disk_view(client: engine.Engine) -> DiskView:
    """Read the df and work out what the page shows, off the page (and in steps: see
    :func:`engine.disk_usage`); only setting texts and model diffs is left for it."""
    usage = await read_disk_usage(client)
    await asyncio.sleep(0)  # the decode's last step and this one: apart
    return disk_view(usage)


BIGGEST_COLUMNS = (
    Column("Kind", lambda d: d.kind),
    Column("Name", lambda d: d.name, tooltip=lambda d: d.key),
    Column("Size", lambda d: human_size(d.size), sort_key=lambda d: d.size, align_right=True),
    Column("Reclaimable", lambda d: "yes" if d.reclaimable else "in use"),
    Column("Details", lambda d: d.detail),
)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


CACHE_COLUMNS = (
    Column("Type", lambda r: r.type),
    Column("Size", lambda r: human_size(r.size), sort_key=lambda r: r.size, align_right=True),
    Column("Shared", lambda r: _yes(r.shared)),
    Column("In use", lambda r: _yes(r.in_use)),
    Column("Last used", lambda r: relative_time(r.last_used),
           sort_key=lambda r: r.last_used.timestamp() if r.last_used else 0.0),
    Column("Usage count", lambda r: str(r.usage_count), sort_key=lambda r: r.usage_count,
           align_right=True),
    Column("Description", lambda r: r.description, tooltip=lambda r: r.id),
)


class KindCard(QFrame):
    """One kind's total, its in-use count, its reclaimable bytes and a bar of its parts."""

    clicked = Signal()

    def __init__(self, key: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"disk-{key}-card")
        self.setAccessibleName(f"{title} disk usage")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.title = QLabel(title, self)
        self.title.setObjectName(f"disk-{key}-title")
        self.size_label = QLabel("—", self)
        self.size_label.setObjectName(f"disk-{key}-size")
        self.size_label.setAccessibleName(f"{title} size")
        font = self.size_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.size_label.setFont(font)
        self.count_label = QLabel("", self)
        self.count_label.setObjectName(f"disk-{key}-count")
        self.count_label.setAccessibleName(f"{title} count")
        self.reclaimable_label = QLabel("", self)
        self.reclaimable_label.setObjectName(f"disk-{key}-reclaimable")
        self.reclaimable_label.setAccessibleName(f"{title} reclaimable")
        self.bar = DiskBar(f"disk-{key}-bar", self, height=10)
        self.legend = QLabel("", self)
        self.legend.setObjectName(f"disk-{key}-legend")
        self.legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(4)
        for widget in (self.title, self.size_label, self.count_label, self.reclaimable_label,
                       self.bar, self.legend):
            layout.addWidget(widget)
        layout.addStretch(1)

    def show_usage(self, usage: engine.KindUsage, noun: str, parts: list[BarPart]) -> None:
        self.size_label.setText(human_size(usage.size))
        self.count_label.setText(f"{usage.total} {noun}, {usage.active} in use")
        share = f" ({usage.reclaimable * 100 // usage.size}%)" if usage.size else ""
        self.reclaimable_label.setText(f"Reclaimable {human_size(usage.reclaimable)}{share}")
        self.bar.set_parts(parts)
        self.legend.setText("  ".join(
            f'<span style="color:{p.color}">■</span> {p.label}' for p in parts))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self.clicked.emit()


class DiskPage(QWidget):
    """Disk usage at a glance, the biggest items, the build cache, and "Clean up…"."""

    #: Asks the window to show a page (its key in the page table) and select an item there.
    open_requested = Signal(str, str)
    #: A new df is shown (tests and the benchmark wait on it).
    refreshed = Signal()

    COALESCE_MS = 500

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("disk-page")
        self.setAccessibleName("Disk usage page")
        self.session = session
        self.usage: engine.DiskUsage | None = None
        self.summary: tuple[engine.KindUsage, ...] = ()
        self.sheet: CleanupSheet | None = None
        self._task: asyncio.Task[object] | None = None
        self._stale = True
        self._read_at = 0.0

        self.total_label = QLabel("Reading disk usage…", self)
        self.total_label.setObjectName("disk-total")
        self.total_label.setAccessibleName("Total disk usage")
        font = self.total_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.total_label.setFont(font)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setObjectName("disk-refresh")
        self.refresh_button.setAccessibleName("Refresh disk usage")
        self.refresh_button.clicked.connect(self.refresh)
        self.cleanup_button = QPushButton("Clean up…", self)
        self.cleanup_button.setObjectName("disk-cleanup")
        self.cleanup_button.setAccessibleName("Clean up")
        self.cleanup_button.clicked.connect(self.open_cleanup)
        header = QHBoxLayout()
        header.addWidget(self.total_label, 1)
        header.addWidget(self.refresh_button)
        header.addWidget(self.cleanup_button)

        self.bar = DiskBar("disk-bar", self, height=18)
        self.cards = {
            "images": KindCard("images", "Images", self),
            "containers": KindCard("containers", "Containers", self),
            "volumes": KindCard("volumes", "Volumes", self),
            "build-cache": KindCard("build-cache", "Build cache", self),
        }
        self.tabs = QTabWidget(self)
        grid = QGridLayout()
        grid.setSpacing(8)
        for column, (key, card) in enumerate(self.cards.items()):
            grid.addWidget(card, 0, column)
            grid.setColumnStretch(column, 1)
            if key == "build-cache":
                card.clicked.connect(lambda: self.tabs.setCurrentIndex(1))
            else:
                card.clicked.connect(lambda k=key: self.open_requested.emit(k, ""))

        self.biggest_model = KeyedTableModel(BIGGEST_COLUMNS, key=lambda d: d.row_key,
                                             parent=self)
        self.biggest = self._table("disk-biggest", "Biggest items", self.biggest_model, 2)
        self.biggest.activated.connect(self._open_item)
        for column, width in enumerate((90, 300, 90, 95)):
            self.biggest.setColumnWidth(column, width)
        self.cache_model = KeyedTableModel(CACHE_COLUMNS, key=lambda r: r.id, parent=self)
        self.cache_table = self._table("disk-build-cache", "Build cache records",
                                       self.cache_model, 1)
        self.cache_note = QLabel("", self)
        self.cache_note.setObjectName("disk-build-cache-note")
        self.cache_note.setAccessibleName("Build cache note")
        self.cache_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for column, width in enumerate((110, 90, 70, 70, 120, 95)):
            self.cache_table.setColumnWidth(column, width)
        self.cache_stack = QStackedWidget(self)
        self.cache_stack.setObjectName("disk-build-cache-stack")
        self.cache_stack.addWidget(self.cache_table)
        self.cache_stack.addWidget(self.cache_note)
        self.tabs.setObjectName("disk-tabs")
        self.tabs.setAccessibleName("Disk usage details")
        self.tabs.addTab(self.biggest, "Biggest items")
        self.tabs.addTab(self.cache_stack, "Build cache")

        self.status_label = QLabel("", self)
        self.status_label.setObjectName("disk-status")
        self.status_label.setAccessibleName("Disk usage status")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(header)
        layout.addWidget(self.bar)
        layout.addLayout(grid)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status_label)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.COALESCE_MS)
        self._timer.timeout.connect(self.refresh)
        session.eventReceived.connect(self._on_event)
        session.watch_connection(self, resume=self._on_connected, pause=self._on_lost)

    def _table(self, name: str, title: str, model: KeyedTableModel,
               sort_column: int) -> QTableView:
        proxy = FilterProxy(self)
        proxy.setSourceModel(model)
        table = QTableView(self)
        table.setObjectName(name)
        table.setAccessibleName(title)
        table.setModel(proxy)
        table.setSortingEnabled(True)
        table.sortByColumn(sort_column, Qt.SortOrder.DescendingOrder)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(24)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        table.horizontalHeader().setStretchLastSection(True)
        return table

    # -- reading ----------------------------------------------------------------------

    def _on_event(self, event: engine.Event) -> None:
        if df_stale(event):
            self._stale = True
            if self.isVisible() and not self._timer.isActive():
                self._timer.start()

    def _on_connected(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def _on_lost(self) -> None:
        self._timer.stop()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._timer.stop()

    @property
    def reading(self) -> bool:
        return self._task is not None and not self._task.done()

    def refresh(self) -> None:
        """Read ``/system/df`` now, or right after the read in flight (never two at once)."""
        self._timer.stop()
        self._stale = True
        if self.reading or not self.session.connected:
            return
        self._stale = False
        self.status_label.setText("Reading disk usage…")
        self._read_at = time.monotonic()
        self._task = self.session.run(read_disk_view, describe="read the disk usage",
                                      on_done=self.show_view)
        if self._task is not None:
            self._task.add_done_callback(self._read_ended)

    def _read_ended(self, _task: object) -> None:
        if self._stale and self.isVisible() and self.session.connected:
            self._timer.start()
        elif self.usage is None or self.status_label.text() == "Reading disk usage…":
            self.status_label.setText("")

    # -- showing ----------------------------------------------------------------------

    def show_usage(self, usage: engine.DiskUsage) -> None:
        """Fill the cards, the bar and the tables from one df."""
        self.show_view(disk_view(usage))

    def show_view(self, view: DiskView) -> None:
        """Fill the cards, the bar and the tables from one df, worked out already."""
        self.usage = usage = view.usage
        self.summary = images, containers, volumes, cache = view.summary
        total = sum(k.size for k in self.summary)
        reclaimable = sum(k.reclaimable for k in self.summary)
        self.total_label.setText(
            f"<b>{human_size(total)}</b> used · <b>{human_size(reclaimable)}</b> reclaimable")
        self.bar.set_parts([BarPart("Images", images.size, COLORS["images"]),
                            BarPart("Containers", containers.size, COLORS["containers"]),
                            BarPart("Volumes", volumes.size, COLORS["volumes"]),
                            BarPart("Build cache", cache.size, COLORS["build-cache"])])
        unique_used, unique_unused = view.unique_used, view.unique_unused
        self.cards["images"].show_usage(images, "images", [
            BarPart("in use", unique_used, COLORS["images"]),
            BarPart("unused", unique_unused, COLORS["reclaimable"]),
            BarPart("shared", max(images.size - unique_used - unique_unused, 0),
                    COLORS["shared"])])
        for key, kind, noun in (("containers", containers, "containers"),
                                ("volumes", volumes, "volumes"),
                                ("build-cache", cache, "records")):
            self.cards[key].show_usage(kind, noun, [
                BarPart("in use", kind.size - kind.reclaimable, COLORS[key]),
                BarPart("reclaimable", kind.reclaimable, COLORS["reclaimable"])])
        if not usage.build_cache_supported:
            self.cards["build-cache"].count_label.setText("Podman keeps no build cache records")
            self.cache_note.setText("Podman keeps no build cache records: there is nothing to"
                                    " show or prune here.")
            self.cache_stack.setCurrentWidget(self.cache_note)
        elif not usage.build_cache:
            self.cache_note.setText("No build cache records.")
            self.cache_stack.setCurrentWidget(self.cache_note)
        else:
            self.cache_stack.setCurrentWidget(self.cache_table)
        self.biggest_model.set_items(view.biggest)
        self.cache_model.set_items(usage.build_cache)
        took = time.monotonic() - self._read_at
        self.status_label.setText(f"Read in {took:.1f} s")
        self.refreshed.emit()

    def _open_item(self, index: QModelIndex) -> None:
        item = index.data(ItemRole)
        if isinstance(item, DiskItem):
            self.open_requested.emit(item.page, item.key)

    # -- clean-up ---------------------------------------------------------------------

    def open_cleanup(self) -> CleanupSheet:
        """Open the (non-modal) clean-up sheet, or bring the open one forward."""
        if self.sheet is None:
            self.sheet = CleanupSheet(self.session, self)
            self.sheet.reclaimed.connect(self.refresh)
            self.sheet.destroyed.connect(self._sheet_closed)
        self.sheet.show()
        self.sheet.raise_()
        self.sheet.activateWindow()
        self.sheet.plan()
        return self.sheet

    def _sheet_closed(self) -> None:
        self.sheet = None

