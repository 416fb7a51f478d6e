"""The detail pane under the images table: what the selected image is made of.

The build steps come from ``/images/{id}/history`` and show at once, with the
layer tree they imply; the file analysis of the layers streams the image export
and fills in (and confirms the tree) when it is done.  An image analysed before
is read back from the layer cache (:class:`engine.LayerCache`, per image ID, in
the XDG cache directory): no export at all.  The cache forgets an image on its
delete event, and, once per engine connection, every image the engine no longer
lists.
"""

from __future__ import annotations

import asyncio
import functools
import html
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QProgressBar,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import engine
from app.icons import themed_icon
from app.models.table import Column, KeyedTableModel
from app.models.ticking import relative_time_clock
from app.pages.image_layers import EfficiencyView, LayerView, SharedWith, shared_layers
from app.presentation import (
    ImageRow,
    human_size,
    relative_time,
    short_reference,
    used_by_text,
)
from app.resources import IMAGES
from app.session import EngineSession
from app.widgets.detail_header import DetailHeader
from app.widgets.message_bar import reserve_space

#: The progress bar's words while the export streams, and before its first byte.
READING = "Reading the layers… %p%"
PREPARING = "Engine preparing the export"
#: What the header says while no image is selected.
NOTHING_SELECTED = "Select an image to see what it is made of."
#: How long after the images list arrives the layer cache forgets the images gone.
PRUNE_DELAY_MS = 2000


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One build step, numbered from the bottom of the image (step 1 = first)."""

    key: str
    number: int
    entry: engine.HistoryEntry


HISTORY_COLUMNS = (
    Column("#", lambda r: str(r.number), sort_key=lambda r: r.number),
    Column("Instruction", lambda r: engine.clean_instruction(r.entry.created_by),
           tooltip=lambda r: r.entry.created_by),
    Column("Size", lambda r: human_size(r.entry.size), sort_key=lambda r: r.entry.size,
           align_right=True, tooltip=lambda r: f"{r.entry.size:,} bytes"),
    Column("Created", lambda r: relative_time(r.entry.created),
           sort_key=lambda r: r.entry.created.timestamp() if r.entry.created else 0.0,
           ticks=True),
)


class ImageDetail(QWidget):
    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("image-detail")
        self.setAccessibleName("Image details")
        self.session = session
        self.image_id: str | None = None
        self.header = DetailHeader("image", themed_icon("mdi6.layers-outline"), self)
        self.header.show_nothing(NOTHING_SELECTED)
        #: The line of facts under the image's name (ID, size, created, used by).
        self.summary = self.header.facts
        # "created a minute ago" ages with the clock, not with engine events.
        self._summary_row: ImageRow | None = None
        relative_time_clock().timeout.connect(self._tick_summary)

        self.history_model = KeyedTableModel(HISTORY_COLUMNS, key=lambda r: r.key, parent=self)
        self.history = QTableView(self)
        self.history.setObjectName("image-history")
        self.history.setAccessibleName("Build steps")
        self.history.setModel(self.history_model)
        self.history.verticalHeader().hide()
        self.history.verticalHeader().setDefaultSectionSize(26)  # as the page tables
        self.history.setShowGrid(False)
        self.history.setWordWrap(False)
        self.history.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.history.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)

        self.layer_view = LayerView(self)
        self.efficiency = EfficiencyView(self)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("image-analysis-progress")
        self.progress.setAccessibleName("Layer analysis progress")
        self.progress.setMaximumHeight(16)
        self.progress.setFormat(READING)
        self.progress.hide()
        reserve_space(self.progress)  # "Reading the layers…" comes and goes in place
        self.analysis: engine.ImageAnalysis | None = None
        self._history_entries: list[engine.HistoryEntry] = []
        #: When the analysis of the shown image started (for "preparing… N s").
        self._asked_at = 0.0
        #: Engine endpoints whose vanished images the cache has forgotten this run.
        self._pruned: set[str] = set()
        session.eventReceived.connect(self._on_event)
        session.live(IMAGES).changed.connect(self._prune_cache_soon)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("image-tabs")
        self.tabs.addTab(self.history, "Build steps")
        self.tabs.addTab(self.layer_view, "Layers and files")
        self.tabs.addTab(self.efficiency, "Efficiency")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.progress)
        layout.addWidget(self.tabs, 1)

    def show_image(self, row: ImageRow | None) -> None:
        self.analysis = None
        self._history_entries = []
        self.layer_view.show_analysis(None)
        self.efficiency.show_analysis(None)
        if row is None:
            self.image_id = None
            self._summary_row = None
            self.header.show_nothing(NOTHING_SELECTED)
            self.history_model.set_items([])
            self.progress.hide()
            self.session.cancel("image-analysis")
            return
        image = row.image
        self.image_id = image.id
        self.update_summary(row)
        self.session.run(
            partial(_history, image.id), describe=f"read the history of {image.display_name}",
            key="image-detail", quiet_not_found=True,
            on_done=partial(self._show_history, image.id),
        )
        # The export streams in the background; the steps above show meanwhile.
        self.progress.setValue(0)
        self.progress.setFormat(READING)
        self.progress.show()
        self._asked_at = time.monotonic()
        self.session.run(
            partial(_analyse, image.id, self._on_progress, self.layer_cache),
            describe=f"read the layers of {image.display_name}", key="image-analysis",
            quiet_not_found=True, on_done=partial(self._show_analysis, image.id),
        )

    def _tick_summary(self) -> None:
        if self._summary_row is not None and self.isVisible():
            self.update_summary(self._summary_row)

    def update_summary(self, row: ImageRow) -> None:
        """The line above the tabs; the page calls it again whenever the list reloads,
        so tags removed, containers started and "created … ago" stay as the row says."""
        self._summary_row = row
        image = row.image
        tag = row.tag or (image.repo_tags[0] if image.repo_tags else "")
        name = short_reference(tag) if tag else "untagged"
        others = [short_reference(t) for t in image.repo_tags if t != tag]
        also = f" · also {', '.join(others)}" if others else ""
        self.header.show_item(
            f"<b>{html.escape(name)}</b>", used_by_text(row.used_by),
            "good" if row.used_by else "idle",
            f"{image.short_id} · {human_size(image.size)} · "
            f"created {relative_time(image.created)}{also}")

    def _on_progress(self, done: int, total: int) -> None:
        """Bytes read; before the first one, how long the engine has been preparing the
        export (it may take seconds, and a bar at 0 % looked stuck)."""
        if done == 0:
            waited = int(time.monotonic() - self._asked_at)
            self.progress.setFormat(f"{PREPARING}… {waited} s")
            self.progress.setValue(0)
            return
        if self.progress.format() != READING:
            self.progress.setFormat(READING)
        self.progress.setValue(int(done / total * 100) if total else 0)

    # -- the layer cache ---------------------------------------------------------------

    def _on_event(self, event: engine.Event) -> None:
        """An image deleted: its remembered file index goes with it."""
        if event.type == "image" and event.action in ("delete", "remove") and event.actor_id:
            self.session.run(partial(_forget_image, self.layer_cache, event.actor_id),
                             describe="forget a removed image's layer files")

    @functools.cached_property
    def layer_cache(self) -> engine.LayerCache:
        """Made on first use: it loads the layer machinery, which the first window
        does not need (issue 18: start-up)."""
        return engine.LayerCache()

    def _prune_cache_soon(self, images: list[engine.Image]) -> None:
        """Housekeeping nobody sees: after the first paint, not in its way."""
        QTimer.singleShot(PRUNE_DELAY_MS, self, partial(self._prune_cache, images))

    def _prune_cache(self, images: list[engine.Image]) -> None:
        """Once per engine per run: forget the images this engine no longer has."""
        client = self.session.client
        if client is None or client.endpoint.url in self._pruned:
            return
        self._pruned.add(client.endpoint.url)
        self.session.run(partial(_prune_cache, self.layer_cache, [i.id for i in images]),
                         describe="forget the layer files of removed images")

    def _show_analysis(self, image_id: str, analysis: engine.ImageAnalysis) -> None:
        if image_id != self.image_id:
            return
        self.progress.hide()
        self.analysis = analysis
        self.layer_view.show_analysis(analysis)
        self.efficiency.show_analysis(analysis)
        self._fill_history()
        self.session.run(
            partial(shared_layers, analysis, list(self.session.items(IMAGES))),
            describe="compare layers with other images", key="image-shared",
            on_done=partial(self._show_shared, image_id),
        )

    def _show_shared(self, image_id: str, shared: list[SharedWith]) -> None:
        if image_id == self.image_id:
            self.efficiency.show_shared(shared)

    def _show_history(self, image_id: str, history: _History) -> None:
        if image_id != self.image_id:
            return
        entries, outline = history
        self._history_entries = entries
        self._fill_history()
        self.layer_view.show_outline(outline)

    def _fill_history(self) -> None:
        """The build steps; once the layers are read, sized as the layers are.

        Podman's history sizes are layer tar lengths, not the file bytes the layer
        view counts: with the analysis in, every step takes its layer's size, so a
        step and its layer show one number (on Docker they already agree).
        """
        entries = self._history_entries
        image_id = self.image_id
        sizes = self.analysis.step_sizes() if self.analysis is not None else None
        if sizes is not None and len(sizes) == len(entries):
            entries = [replace(entry, size=size)
                       for entry, size in zip(entries, reversed(sizes), strict=True)]
        count = len(entries)
        rows = [HistoryRow(f"{image_id}:{i}", count - i, e) for i, e in enumerate(entries)]
        self.history_model.set_items(rows[::-1])


if TYPE_CHECKING:  # engine's names load on first use (PEP 562): not at import time
    _History = tuple[list[engine.HistoryEntry], tuple[engine.LayerOutline, ...] | None]


async def _history(image_id: str, client: engine.Engine) -> _History:
    """The build steps, and the layer tree they imply, long before the export is read."""
    entries, details = await asyncio.gather(client.image_history(image_id),
                                            client.image(image_id))
    return entries, engine.outline_layers(entries, details.layers)


async def _analyse(image_id: str, progress: Callable[[int, int], None],
                   cache: engine.LayerCache, client: engine.Engine) -> engine.ImageAnalysis:
    return await engine.analyze_image(client, image_id, progress=progress, cache=cache)


async def _forget_image(cache: engine.LayerCache, image_id: str, client: engine.Engine) -> None:
    await asyncio.to_thread(cache.remove, engine.layer_cache_scope(client.endpoint.url), image_id)


async def _prune_cache(cache: engine.LayerCache, present: list[str],
                       client: engine.Engine) -> None:
    await asyncio.to_thread(cache.prune, engine.layer_cache_scope(client.endpoint.url), present)
