"""The window's icons: one glyph per action, drawn in the colours of the current palette.

The glyphs come from the Material Design Icons font that qtawesome bundles (icons
under Apache 2.0, font under the SIL Open Font Licence).  A glyph is painted in the
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

import os
from functools import cache

# qtpy (qtawesome's Qt layer) would take PyQt5 first if it were installed beside PySide6.
os.environ.setdefault("QT_API", "pyside6")

import qtawesome
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import (
    QColor,
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


@cache
def _glyph(name: str, colour: str) -> QIcon:
    """qtawesome's icon for ``name`` in one colour (one per colour used, kept)."""
    icon: QIcon = qtawesome.icon(name, color=colour, color_disabled=colour,
                                 color_active=colour, color_selected=colour)
    return icon


class ThemedIconEngine(QIconEngine):
    """Paints a font glyph in the colour the palette has when it is painted."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode,
              state: QIcon.State) -> None:
        colour = glyph_colour(mode).name(QColor.NameFormat.HexArgb)
        _glyph(self.name, colour).paint(painter, rect, Qt.AlignmentFlag.AlignCenter,
                                        QIcon.Mode.Normal, state)

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
    except Exception:  # qtawesome raises when its font or charmap is missing
        return False
    return any(image.pixelColor(x, y).alpha() for y in range(16) for x in range(16))
