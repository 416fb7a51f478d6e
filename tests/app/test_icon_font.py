"""The icon glyphs are drawn from qtawesome's Material Design Icons font (app/icons.py
reads it without importing qtawesome): each name draws its own, visible glyph."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication

from app.icons import glyphs_drawn, themed_icon


def test_glyphs_paint_and_differ(qapp: QApplication) -> None:
    assert glyphs_drawn()
    images = {name: themed_icon(name).pixmap(QSize(24, 24)).toImage()
              for name in ("mdi6.play", "mdi6.stop", "mdi6.delete-outline")}
    for image in images.values():
        assert any(image.pixelColor(x, y).alpha() for y in range(24) for x in range(24))
    assert images["mdi6.play"] != images["mdi6.stop"] != images["mdi6.delete-outline"]
