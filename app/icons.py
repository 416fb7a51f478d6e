"""The window's icons: one glyph per action, drawn in the colours of the current palette.

The glyphs come from the Material Design Icons font that qtawesome bundles (icons
under Apache 2.0, font under the SIL Open Font Licence).  The font and its charmap
are read from qtawesome's package directory and each glyph is drawn as qtawesome
draws it (text in that font, 7/8 of the icon's height, centred), without importing
qtawesome: its Qt layer (qtpy) star-imports QtCore, QtGui, QtWidgets and QtOpenGL,
about a quarter of the window's start-up CPU.  A glyph is painted in the
palette's button-text colour at the moment it is drawn (:class:`ThemedIconEngine`),
not baked into a pixmap: switching between light and dark repaints every icon in
the new colours without anyone having to set the icons again.

Buttons keep their words: an icon is beside the text (toolbars) or the text stays
the accessible name and tool tip, so a screen reader and a new user read the
same thing as before.

:data:`ICONS` maps a button's ``objectName`` (the name tests and screen readers
already know it by) to its glyph, so a page names its buttons as it always did
and :func:`decorate` gives each its icon; a button left out of the table simply
has none (tests/app/test_icons.py checks that every toolbar action has one).
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import QAbstractButton, QWidget

#: objectName of a button (or the action behind it) → Material Design Icons glyph.
ICONS: dict[str, str] = {
    # Containers (CONTAINER_ACTIONS in app/pages/containers.py) and their detail pane.
    "container-start": "mdi6.play",
    "container-stop": "mdi6.stop",
    "container-restart": "mdi6.restart",
    "container-pause": "mdi6.pause",
    "container-unpause": "mdi6.play-pause",
    "container-kill": "mdi6.flash",
    "container-rename": "mdi6.form-textbox",
    "container-remove": "mdi6.delete-outline",
    "container-open": "mdi6.open-in-new",
    "container-copy-run": "mdi6.content-copy",
    "container-shell": "mdi6.console",
    "container-edit": "mdi6.tune",
    "container-logs": "mdi6.text-box-outline",
    "container-inspect": "mdi6.text-box-search-outline",
    "container-stats": "mdi6.chart-line",
    "shell-reopen": "mdi6.reload",
    "logs-save": "mdi6.content-save-outline",
    "inspect-copy": "mdi6.content-copy",
    # Images.
    "image-run": "mdi6.play",
    "image-run-options": "mdi6.play-box-outline",
    "image-tag": "mdi6.tag-outline",
    "image-remove": "mdi6.delete-outline",
    "swarm-create": "mdi6.plus-box-multiple-outline",
    "swarm-update": "mdi6.update",
    "swarm-scale": "mdi6.arrow-expand-vertical",
    "swarm-rollback": "mdi6.undo-variant",
    "swarm-remove": "mdi6.delete-outline",
    "image-compare": "mdi6.compare-horizontal",
    "images-prune": "mdi6.broom",
    "images-pull-button": "mdi6.download",
    "images-registry-search": "mdi6.magnify",
    "images-build-button": "mdi6.hammer",
    "image-push": "mdi6.upload",
    "images-save": "mdi6.content-save-outline",
    "images-load": "mdi6.package-up",
    "images-import": "mdi6.import",
    "container-export": "mdi6.export",
    # Volumes and networks.
    "volume-create": "mdi6.plus",
    "volume-remove": "mdi6.delete-outline",
    "volume-browse": "mdi6.folder-open-outline",
    "volume-backup": "mdi6.archive-arrow-down-outline",
    "volume-restore": "mdi6.archive-arrow-up-outline",
    "volume-clone": "mdi6.content-duplicate",
    "volume-show-container": "mdi6.cube-outline",
    "volumes-prune": "mdi6.broom",
    "network-create": "mdi6.plus",
    "network-connect": "mdi6.lan-connect",
    "network-disconnect": "mdi6.lan-disconnect",
    "network-remove": "mdi6.delete-outline",
    "networks-prune": "mdi6.broom",
    "network-show-container": "mdi6.cube-outline",
    # Disk usage and the engine's page.
    "app-start": "mdi6.play",
    "app-stop": "mdi6.stop",
    "app-restart": "mdi6.restart",
    "app-pause": "mdi6.pause",
    "app-unpause": "mdi6.play-pause",
    "app-remove": "mdi6.delete-outline",
    "app-open": "mdi6.file-code-outline",
    "app-compose": "mdi6.layers-triple-outline",
    "app-service-start": "mdi6.play",
    "app-service-stop": "mdi6.stop",
    "app-service-restart": "mdi6.restart",
    "registry-browse": "mdi6.magnify",
    "registry-pull": "mdi6.download",
    "registry-login": "mdi6.login",
    "registry-logout": "mdi6.logout",
    "disk-refresh": "mdi6.refresh",
    "disk-cleanup": "mdi6.broom",
    "engine-events-pause": "mdi6.pause",
    "engine-events-copy": "mdi6.content-copy",
    # The "All engines" window: show the row in the main window, on its own engine.
    "all-open": "mdi6.open-in-app",
    "all-image-open": "mdi6.open-in-app",
}

#: The sidebar's pages (PageSpec.key) → glyph.
PAGE_ICONS: dict[str, str] = {
    "containers": "mdi6.cube-outline",
    "images": "mdi6.layers-outline",
    "volumes": "mdi6.database-outline",
    "networks": "mdi6.lan",
    "disk": "mdi6.harddisk",
    "apps": "mdi6.application-brackets-outline",
    "registries": "mdi6.server-network",
    "swarm": "mdi6.hexagon-multiple-outline",
    "engine": "mdi6.engine-outline",
}


def glyph_colour(mode: QIcon.Mode, palette: QPalette | None = None) -> QColor:
    """The colour a glyph takes in ``mode`` on ``palette`` (the application's when None):
    the button text colour, greyed when disabled, highlighted text when selected."""
    palette = palette if palette is not None else QGuiApplication.palette()
    role = QPalette.ColorRole
    if mode == QIcon.Mode.Disabled:
        return palette.color(QPalette.ColorGroup.Disabled, role.ButtonText)
    if mode == QIcon.Mode.Selected:
        return palette.color(QPalette.ColorGroup.Active, role.HighlightedText)
    return palette.color(QPalette.ColorGroup.Active, role.ButtonText)


#: The Material Design Icons 6 font in qtawesome's ``fonts`` directory (its version in
#: the name, e.g. ``-6.9.96.ttf``) and its charmap (``-charmap-6.9.96.json``).
_FONT_GLOB = "materialdesignicons6-webfont-[0-9]*.ttf"


class GlyphFontMissing(Exception):
    """qtawesome's font or charmap is not where it should be (a broken install or bundle)."""


@cache
def _glyph_font() -> tuple[str, dict[str, str]]:
    """(font family, glyph name -> character), loaded once from qtawesome's files."""
    spec = importlib.util.find_spec("qtawesome")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise GlyphFontMissing("qtawesome is not installed")
    fonts = Path(next(iter(spec.submodule_search_locations))) / "fonts"
    font_file = max(fonts.glob(_FONT_GLOB), default=None)
    if font_file is None:
        raise GlyphFontMissing(f"no {_FONT_GLOB} in {fonts}")
    charmap = font_file.with_name(font_file.name.replace("-webfont-", "-webfont-charmap-"))
    try:
        font_id = QFontDatabase.addApplicationFontFromData(font_file.read_bytes())
        codes: dict[str, str] = json.loads(charmap.with_suffix(".json").read_text())
    except (OSError, ValueError) as exc:
        raise GlyphFontMissing(str(exc)) from exc
    families = QFontDatabase.applicationFontFamilies(font_id)
    if not families:
        raise GlyphFontMissing(f"Qt could not load {font_file}")
    return families[0], {key: chr(int(code, 16)) for key, code in codes.items()}


def _paint_glyph(painter: QPainter, rect: QRect, name: str, colour: QColor) -> None:
    """Draw glyph ``name`` ("mdi6.play") in ``rect`` as qtawesome's text mode does."""
    family, characters = _glyph_font()
    font = QFont()
    font.setFamily(family)
    # 7/8 of the height leaves room for the font's bearings (qtawesome's rule).
    font.setPixelSize(round(0.875 * rect.height()))
    painter.save()
    painter.setPen(colour)
    painter.setFont(font)
    painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), characters[name.split(".", 1)[1]])
    painter.restore()


class ThemedIconEngine(QIconEngine):
    """Paints a font glyph in the colour the palette has when it is painted."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode,
              state: QIcon.State) -> None:
        _paint_glyph(painter, rect, self.name, glyph_colour(mode))

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        pixmap = QPixmap(size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        try:
            self.paint(painter, QRect(QPoint(0, 0), size), mode, state)
        finally:
            painter.end()
        return pixmap

    def clone(self) -> QIconEngine:
        return ThemedIconEngine(self.name)

    def key(self) -> str:
        return "dockyard-themed"


def themed_icon(name: str) -> QIcon:
    """An icon for glyph ``name`` (e.g. "mdi6.play") that follows light and dark."""
    return QIcon(ThemedIconEngine(name))


def icon_for(object_name: str) -> QIcon | None:
    """The icon of the button (or action) named ``object_name``; None when it has none."""
    name = ICONS.get(object_name.removeprefix("action-"))
    return themed_icon(name) if name else None


def decorate(root: QWidget) -> int:
    """Give every button under ``root`` named in :data:`ICONS` its icon (once); how many."""
    given = 0
    for button in root.findChildren(QAbstractButton):
        if not button.icon().isNull():
            continue
        icon = icon_for(button.objectName())
        if icon is not None:
            button.setIcon(icon)
            given += 1
    return given


def glyphs_drawn() -> bool:
    """Whether a glyph actually paints (its font was found): the bundle's smoke test asks,
    since a missing font shows up only as blank buttons."""
    try:
        image = themed_icon("mdi6.play").pixmap(QSize(16, 16)).toImage()
    except (GlyphFontMissing, KeyError):
        return False
    return any(image.pixelColor(x, y).alpha() for y in range(16) for x in range(16))
