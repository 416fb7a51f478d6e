#!/usr/bin/env python3
"""Render the app icon's PNG sizes from resources/icons/io.github.dockyard.Dockyard.svg.

    .venv/bin/python packaging/render_icons.py OUT_DIR

writes OUT_DIR/<N>x<N>/apps/io.github.dockyard.Dockyard.png for N in 16 … 256 (the
hicolor theme layout), with Qt's SVG renderer (no display needed).  The bundle build
(dockyard.spec) and `dockyard --install-desktop-entry` render the same way, through
app.desktop_entry.render_icons; this script is for distribution packagers.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.desktop_entry import APP_ID, render_icons  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for path in render_icons(ROOT / "resources" / "icons" / f"{APP_ID}.svg", Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
