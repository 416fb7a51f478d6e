"""Put Dockyard's desktop entry, icons and AppStream metainfo into the user's XDG data dir.

``dockyard --install-desktop-entry`` is for pip and pipx installs, which have no
package manager to do it: it writes, under ``$XDG_DATA_HOME`` (``~/.local/share``)::

    applications/io.github.dockyard.Dockyard.desktop        Exec= this dockyard command
    metainfo/io.github.dockyard.Dockyard.metainfo.xml
    icons/hicolor/scalable/apps/io.github.dockyard.Dockyard.svg
    icons/hicolor/<N>x<N>/apps/io.github.dockyard.Dockyard.png  N in ICON_SIZES

and ``--uninstall-desktop-entry`` removes exactly those files (and nothing else).

The source files are found, in order, in a PyInstaller bundle (``sys._MEIPASS/share``),
a source checkout or editable install (``resources/`` and ``packaging/`` beside
``app/``), or a wheel install (``<prefix>/share``, where pyproject's data-files put
them).  PNG sizes are rendered from the SVG with Qt's SVG renderer, which needs no
display; Qt is imported only then, never at module level, so this module stays
headless.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon

APP_ID = "io.github.dockyard.Dockyard"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)

DESKTOP_NAME = f"{APP_ID}.desktop"
METAINFO_NAME = f"{APP_ID}.metainfo.xml"
SVG_NAME = f"{APP_ID}.svg"
PNG_NAME = f"{APP_ID}.png"

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


class DesktopEntryError(Exception):
    """Installing or removing the desktop entry failed; the message says why, in one line."""


@dataclass(frozen=True)
class DataFiles:
    """Where this installation keeps the files to copy."""

    desktop: Path
    metainfo: Path
    svg: Path
    png_dir: Path | None  # holds <N>x<N>/apps/<id>.png already rendered (the bundle)


def _share_layout(share: Path) -> DataFiles:
    icons = share / "icons" / "hicolor"
    return DataFiles(
        desktop=share / "applications" / DESKTOP_NAME,
        metainfo=share / "metainfo" / METAINFO_NAME,
        svg=icons / "scalable" / "apps" / SVG_NAME,
        png_dir=icons,
    )


def _candidates() -> list[DataFiles]:
    found: list[DataFiles] = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        found.append(_share_layout(Path(bundle) / "share"))
    found.append(DataFiles(
        desktop=_SOURCE_ROOT / "packaging" / DESKTOP_NAME,
        metainfo=_SOURCE_ROOT / "packaging" / METAINFO_NAME,
        svg=_SOURCE_ROOT / "resources" / "icons" / SVG_NAME,
        png_dir=None,
    ))
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        found.append(_share_layout(Path(prefix) / "share"))
    return found


def data_files() -> DataFiles:
    """The first complete set of source files; :class:`DesktopEntryError` if none is."""
    candidates = _candidates()
    for files in candidates:
        if files.desktop.is_file() and files.metainfo.is_file() and files.svg.is_file():
            return files
    tried = ", ".join(str(c.desktop.parent) for c in candidates)
    raise DesktopEntryError(f"Dockyard's desktop files are not installed (looked in {tried})")


def icon_path() -> Path | None:
    """The app icon's SVG, for the window icon; None if this installation lacks it."""
    for files in _candidates():
        if files.svg.is_file():
            return files.svg
    return None


def window_icon() -> QIcon:
    """The app icon for ``QApplication.setWindowIcon``: our SVG, else the icon theme's."""
    from PySide6.QtGui import QIcon

    svg = icon_path()
    return QIcon(str(svg)) if svg is not None else QIcon.fromTheme(APP_ID)


def resolve_data_home(value: Path | None = None) -> Path:
    """``value``, else ``$XDG_DATA_HOME`` if absolute, else ``~/.local/share``."""
    if value is not None:
        return value
    env = os.environ.get("XDG_DATA_HOME", "")
    # The spec: a relative path is invalid and must be ignored.
    if env and Path(env).is_absolute():
        return Path(env)
    return Path.home() / ".local" / "share"


def target_paths(home: Path) -> list[Path]:
    """Every file install() writes under ``home``, in the order it writes them."""
    icons = home / "icons" / "hicolor"
    return [
        home / "applications" / DESKTOP_NAME,
        home / "metainfo" / METAINFO_NAME,
        icons / "scalable" / "apps" / SVG_NAME,
        *(icons / f"{n}x{n}" / "apps" / PNG_NAME for n in ICON_SIZES),
    ]


def dockyard_command() -> str:
    """The command line that starts this Dockyard, quoted for a desktop entry's Exec key."""
    if getattr(sys, "frozen", False):
        return _quote_exec(str(Path(sys.executable).absolute()))
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    # Not resolved through symlinks: pipx's ~/.local/bin/dockyard stays valid across upgrades.
    if argv0 is not None and argv0.name == "dockyard" and argv0.is_file():
        return _quote_exec(str(argv0.absolute()))
    found = shutil.which("dockyard")
    if found:
        return _quote_exec(str(Path(found).absolute()))
    return f"{_quote_exec(sys.executable)} -m app"


def _quote_exec(arg: str) -> str:
    """Quote one Exec argument as the Desktop Entry spec asks (and escape its '%')."""
    arg = arg.replace("%", "%%")
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    if not any(ch in reserved for ch in arg):
        return arg
    escaped = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
    return f'"{escaped}"'


def desktop_entry_text(template: str, command: str) -> str:
    """The packaged entry with its Exec (and TryExec, if any) pointing at ``command``."""
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            line = f"Exec={command}"
        elif line.startswith("TryExec="):
            continue  # TryExec takes no arguments; Exec alone is right for every case
        lines.append(line)
    return "\n".join(lines) + "\n"


def render_png(svg: Path, size: int, out: Path) -> None:
    """Render ``svg`` as a square PNG ``size`` pixels wide; Qt's SVG renderer needs no display."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise DesktopEntryError(f"cannot read the icon {svg}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out)):  # the format follows the ".png" suffix
        raise DesktopEntryError(f"cannot write {out}")


def render_icons(svg: Path, hicolor: Path, sizes: tuple[int, ...] = ICON_SIZES) -> list[Path]:
    """Write ``hicolor/<N>x<N>/apps/<id>.png`` for each size; returns the paths."""
    written = []
    for n in sizes:
        out = hicolor / f"{n}x{n}" / "apps" / PNG_NAME
        render_png(svg, n, out)
        written.append(out)
    return written


def install(data_home: Path | None = None) -> list[Path]:
    """Write the desktop entry, metainfo and icons; returns the files written."""
    home = resolve_data_home(data_home)
    files = data_files()
    desktop, metainfo, svg, *pngs = target_paths(home)
    try:
        template = files.desktop.read_text(encoding="utf-8")
        for path in (desktop, metainfo, svg):
            path.parent.mkdir(parents=True, exist_ok=True)
        desktop.write_text(desktop_entry_text(template, dockyard_command()), encoding="utf-8")
        shutil.copyfile(files.metainfo, metainfo)
        shutil.copyfile(files.svg, svg)
        for n, png in zip(ICON_SIZES, pngs, strict=True):
            rendered = (files.png_dir / f"{n}x{n}" / "apps" / PNG_NAME
                        if files.png_dir is not None else None)
            if rendered is not None and rendered.is_file():
                png.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(rendered, png)
            else:
                render_png(files.svg, n, png)
    except OSError as exc:
        raise DesktopEntryError(f"cannot install the desktop entry: {exc}") from exc
    _touch_icon_theme(home)
    return [desktop, metainfo, svg, *pngs]


def uninstall(data_home: Path | None = None) -> list[Path]:
    """Remove what install() writes; returns the files that were there and are now gone."""
    home = resolve_data_home(data_home)
    removed = []
    try:
        for path in target_paths(home):
            if path.is_file() or path.is_symlink():
                path.unlink()
                removed.append(path)
    except OSError as exc:
        raise DesktopEntryError(f"cannot remove the desktop entry: {exc}") from exc
    if removed:
        _touch_icon_theme(home)
    return removed


def _touch_icon_theme(home: Path) -> None:
    """Icon caches notice new icons by the theme directory's mtime; bump it if it exists."""
    hicolor = home / "icons" / "hicolor"
    if hicolor.is_dir():
        with contextlib.suppress(OSError):
            os.utime(hicolor)
