"""The Images page: every local image, live, with size and what uses it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QSplitter, QWidget

import engine
from app.models.table import Column, KeyedTableModel
from app.pages.image_detail import ImageDetail
from app.pages.table_page import TablePage
from app.presentation import (
    ImageRow,
    human_size,
    image_repository,
    image_rows,
    image_tag,
    relative_time,
    used_by_text,
)
from app.session import EngineSession


def _created_key(row: ImageRow) -> float:
    return row.image.created.timestamp() if row.image.created else 0.0


IMAGE_COLUMNS = (
    Column("Repository", lambda r: image_repository(r.image),
           tooltip=lambda r: "\n".join(r.image.repo_tags) or "untagged"),
    Column("Tag", lambda r: image_tag(r.image)),
    Column("ID", lambda r: r.image.short_id, tooltip=lambda r: r.image.id),
    Column("Size", lambda r: human_size(r.image.size), sort_key=lambda r: r.image.size,
           align_right=True, tooltip=lambda r: f"{r.image.size:,} bytes"),
    Column("Created", lambda r: relative_time(r.image.created), sort_key=_created_key),
    Column("Used by", lambda r: used_by_text(r.used_by), sort_key=lambda r: r.used_by),
)


def images_model(parent: QWidget | None = None) -> KeyedTableModel:
    return KeyedTableModel(IMAGE_COLUMNS, key=lambda r: r.id, parent=parent)


class ImagesPage(TablePage):
    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__("images", images_model(), parent)
        self.model.setParent(self)
        self.session = session
        self.dangling_only = QCheckBox("Dangling only", self)
        self.dangling_only.setObjectName("images-dangling-only")
        self.dangling_only.setAccessibleName("Show dangling images only")
        self.dangling_only.toggled.connect(
            lambda on: self.proxy.set_predicate((lambda r: r.image.dangling) if on else None)
        )
        self.toolbar.addWidget(self.dangling_only)
        session.imagesChanged.connect(self._reload)
        session.containersChanged.connect(self._reload)
        self.fit_columns({0: 260, 1: 110, 2: 110, 3: 90, 4: 130})
        self.detail = ImageDetail(session, self)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("images-splitter")
        self.main_layout.replaceWidget(self.table, self.splitter)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setSizes([300, 300])

    def selection_changed(self) -> None:
        selected: list[ImageRow] = self.selected_items()
        shown = selected[0] if len(selected) == 1 else None
        if (shown.id if shown else None) != self.detail.image_id:
            self.detail.show_image(shown)

    def noun(self, count: int) -> str:
        return "image" if count == 1 else "images"

    def _reload(self, *_args: object) -> None:
        images: list[engine.Image] = self.session.images
        self.model.set_items(image_rows(images, self.session.containers))
