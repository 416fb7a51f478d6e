#!/usr/bin/env python3
"""Take the README's screenshots of the window, in the light and the dark theme.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/screenshots.py [OUT_DIR]
        [--host URL] [--size 1100x680] [--pages containers,images,…] [--themes light,dark]
        [--palette QUERY]
        [--select containers=web-1,images=app:1] [--tab "images=Layers and files"]
        [--compare IMAGE1,IMAGE2]
        [--registry 127.0.0.1:5000/team/app[:tag]] [--platform linux/arm64/v8]
        [--search TERM] [--compose DIR --compose-name NAME]

writes OUT_DIR/<page>-<theme>.png (default OUT_DIR: docs/screenshots) from the real
engine the window finds (or --host).  The window runs with private, throw-away
settings, so the user's theme, geometry and layouts neither leak in nor change.
The theme is switched through the Settings object, the same path the Settings
dialog takes, so the pictures show exactly what a user gets with either choice.
For AppStream and the README, 1100x680 keeps text legible when scaled down.
With ``--compare`` the Images page's diff window of those two images is taken
too, as OUT_DIR/image-diff-<theme>.png.  With ``--compose DIR`` that folder is dropped
on the window (a real drop event), its Compose sheet taken before anything runs
(OUT_DIR/compose-sheet-NAME.png), then Up is pressed and, once the app is up, the Apps
page is taken with its services and with its merged logs (compose-up-NAME.png,
compose-logs-NAME.png); NAME is ``--compose-name`` (e.g. the engine's kind).
The app is left running: take it down with the Compose tool afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SETTLE_SECONDS = 0.4  # let coalesced refreshes and the theme's repaint land


async def _wait(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        await asyncio.sleep(0.05)
    return False


async def _browse(page: object, address: str, platform: str = "") -> None:
    """Open ``address`` (registry/repository[:tag]) on the Registries page and pick that tag
    (else the first); with ``platform``, pull that platform of it and wait for the pull."""
    from app.pages.registries import RegistriesPage

    assert isinstance(page, RegistriesPage)
    seen: list[str] = []
    page.loaded.connect(seen.append)
    last = address.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else ""
    address = address.removesuffix(f":{tag}") if tag else address
    page.address.setText(address)
    page.browse()
    if "/" in address and not await _wait(lambda: any("/" in s for s in seen), 30):
        raise SystemExit(f"the registry {address} did not answer: {page.status.text()}")
    model = page.tags_table.model()
    rows = [model.index(r, 0).data() for r in range(model.rowCount())]
    if rows:
        page.tags_table.selectRow(rows.index(tag) if tag in rows else 0)
    if platform:
        if not await _wait(lambda: page.platform.findText(platform) >= 0, 30):
            raise SystemExit(f"{address}:{tag} has no platform {platform}")
        page.platform.setCurrentText(platform)
        window = page.window()
        page.pull_button.click()
        activities = window.activity.activities()  # type: ignore[attr-defined]
        if not await _wait(lambda: all(a.done for a in activities), 120):
            raise SystemExit("the pull did not finish")


async def _search(page: object, term: str) -> None:
    """Search ``term`` on the Registries page and wait for its results (or failure)."""
    from app.pages.registries import RegistriesPage

    assert isinstance(page, RegistriesPage)
    page.search_box.setText(term)
    page.search()
    if not await _wait(lambda: not page.status.text().startswith("Searching"), 90):
        raise SystemExit(f"the search for {term} did not end")
    if page.results.rowCount():
        page.results_table.selectRow(0)


def _repolish_style_sheets(app: QApplication) -> None:
    """Work around widgets with a style sheet (the sidebar) keeping the previous theme's
    palette after a switch; a no-op once app.theme.apply_theme re-polishes them itself."""
    for widget in app.allWidgets():
        if widget.styleSheet():
            widget.setStyleSheet(widget.styleSheet())


def _select_named(page: object, wanted: str | None) -> bool:
    """Select the row whose item is called ``wanted`` (a container's name, an image's tag,
    a volume's name); False when there is none."""
    from PySide6.QtCore import QItemSelectionModel

    from app.models.table import ItemRole

    model, proxy, table = (getattr(page, a, None) for a in ("model", "proxy", "table"))
    if not wanted or model is None or proxy is None or table is None:
        return False
    for row in range(model.rowCount()):
        item = model.index(row, 0).data(ItemRole)
        if wanted in (getattr(item, "name", None), getattr(item, "tag", None)):
            index = proxy.mapFromSource(model.index(row, 0))
            if index.isValid():
                table.selectionModel().setCurrentIndex(
                    index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows)
                return True
    return False


async def _show_tab(page: object, title: str, timeout: float = 20) -> None:
    """Bring the detail tab called ``title`` forward; wait until a progress bar of the
    page (the layer analysis) is done."""
    from PySide6.QtWidgets import QProgressBar, QTabWidget

    for tabs in page.findChildren(QTabWidget):  # type: ignore[attr-defined]
        for index in range(tabs.count()):
            if tabs.tabText(index) == title:
                tabs.setCurrentIndex(index)
    bars = page.findChildren(QProgressBar)  # type: ignore[attr-defined]
    await _wait(lambda: not any(bar.isVisible() for bar in bars), timeout)
    await asyncio.sleep(SETTLE_SECONDS)


async def _expand_files(page: object, paths: list[str], timeout: float = 20) -> None:
    """Open these folders of the container's Files tab (once read); select the last."""
    files = page.detail.files  # type: ignore[attr-defined]
    model = files.model
    await _wait(lambda: "/" in model.complete and model.settled_now(), timeout)
    await _wait(lambda: bool(files.changes), timeout)  # marked before the shot
    for path in paths:
        await _wait(lambda p=path: model.index_of_path(p).isValid(), timeout)
        index = model.index_of_path(path)
        files.view.expand(index)
        files.view.setCurrentIndex(index)
        await _wait(model.settled_now, timeout)
    await asyncio.sleep(SETTLE_SECONDS)


async def take(args: argparse.Namespace, app: QApplication) -> list[Path]:
    from app.desktop_entry import window_icon
    from app.main_window import MainWindow
    from app.session import ConnectionState, EngineSession
    from app.settings import THEME, Settings

    app.setWindowIcon(window_icon())
    width, height = (int(v) for v in args.size.split("x"))
    settings = Settings(QSettings(str(Path(args.state) / "screenshots.ini"),
                                  QSettings.Format.IniFormat))
    session = EngineSession(args.host)
    window = MainWindow(session, settings)
    window.resize(width, height)
    window.show()
    session.start()
    written: list[Path] = []
    try:
        if not await _wait(lambda: session.status.state == ConnectionState.CONNECTED, 20):
            raise SystemExit(f"no engine: {session.status.error or session.status.state}")
        if args.switch_to:  # added in the window, then switched to live
            import engine

            window.engine_switch.add(engine.endpoint_for(args.switch_to, "added in Dockyard"))
            if not await _wait(lambda: session.status.state == ConnectionState.CONNECTED
                               and session.status.endpoint == args.switch_to, 30):
                raise SystemExit(f"could not switch to {args.switch_to}: {session.status.error}")
        from app.page_table import PAGES
        pages = {spec.key: page for spec, page in zip(PAGES, window.page_widgets, strict=True)}
        tables = [t for p in pages.values() if (t := getattr(p, "table", None)) is not None]
        await _wait(lambda: all(t.model().rowCount() for t in tables), 10)
        for name in args.pages.split(","):
            page = pages[name]
            window.sidebar.setCurrentRow(window.pages.indexOf(page))
            if name == "registries" and args.registry:
                await _browse(page, args.registry, args.platform)
            if name == "registries" and args.search:
                await _search(page, args.search)
            await asyncio.sleep(SETTLE_SECONDS)
            table = getattr(page, "table", None)
            if table is not None and table.model().rowCount() and not _select_named(
                    page, dict(pair.split("=", 1) for pair in args.select.split(",") if pair)
                    .get(name)):
                table.selectRow(0)
            tab = dict(pair.split("=", 1) for pair in args.tab.split(",") if pair).get(name)
            if tab:
                await _show_tab(page, tab)
            if args.expand and name == "containers":
                await _expand_files(page, args.expand.split(","))
            for theme in args.themes.split(","):
                settings.set(THEME, theme)
                _repolish_style_sheets(app)
                await asyncio.sleep(SETTLE_SECONDS)
                out = Path(args.out) / f"{name}-{theme}.png"
                out.parent.mkdir(parents=True, exist_ok=True)
                if not window.grab().save(str(out)):
                    raise SystemExit(f"cannot write {out}")
                written.append(out)
                print(out)
                if args.palette is not None:  # the Ctrl+K overlay over the same page
                    palette = window.open_palette()
                    palette.query.setText(args.palette)
                    await asyncio.sleep(SETTLE_SECONDS)
                    out = Path(args.out) / f"{name}-palette-{theme}.png"
                    if not window.grab().save(str(out)):
                        raise SystemExit(f"cannot write {out}")
                    palette.close_palette()
                    written.append(out)
                    print(out)
        if args.compare:
            written += await _take_diff(args, app, session, window, settings)
        if args.switcher:
            written += await _take_switcher(args, app, window, settings)
        if args.all_engines:
            written += await _take_all_engines(args, app, window, settings)
        if args.compose:
            written += await _take_compose(args, window)
    finally:
        window.close()
        await window.engine_switch.aclose()
        await session.aclose()
    return written


async def _take_diff(args: argparse.Namespace, app: QApplication, session: object,
                     window: object, settings: object) -> list[Path]:
    from app.pages.image_diff import open_image_diff
    from app.settings import THEME

    first, second = args.compare.split(",", 1)
    width, height = (int(v) for v in args.size.split("x"))
    view = open_image_diff(session, first, second, window)  # type: ignore[arg-type]
    view.resize(width, height)
    if not await _wait(lambda: view.diff is not None, 300):
        raise SystemExit(f"the diff of {first} and {second} did not finish")
    written = []
    for theme in args.themes.split(","):
        settings.set(THEME, theme)  # type: ignore[attr-defined]
        _repolish_style_sheets(app)
        await asyncio.sleep(SETTLE_SECONDS)
        out = Path(args.out) / f"image-diff-{theme}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not view.grab().save(str(out)):
            raise SystemExit(f"cannot write {out}")
        written.append(out)
        print(out)
    view.close()
    return written


async def _take_switcher(args: argparse.Namespace, app: QApplication, window: object,
                         settings: object) -> list[Path]:
    """The Engine page with its engine switcher open, once every engine was probed.

    The open list is a popup (a window of its own), so it is painted onto the
    window's picture where it shows on screen.
    """
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QPainter

    from app.main_window import MainWindow
    from app.pages.engine import EnginePage
    from app.settings import THEME
    from app.widgets.engine_switcher import CONNECTING, LOOKING

    assert isinstance(window, MainWindow)
    switch = window.engine_switch
    if not await _wait(lambda: switch.entries and all(
            e.state not in (LOOKING, CONNECTING) for e in switch.entries) and len(
            switch.entries) > 1, 30):
        raise SystemExit("the engines were not all probed in time")
    page = window.page(EnginePage)
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    written = []
    for theme in args.themes.split(","):
        settings.set(THEME, theme)  # type: ignore[attr-defined]
        _repolish_style_sheets(app)
        await asyncio.sleep(SETTLE_SECONDS)
        combo = page.switcher.combo
        combo.showPopup()
        await asyncio.sleep(SETTLE_SECONDS)
        shot = window.grab()
        popup = combo.view().window()
        painter = QPainter(shot)
        # Under the combo, as on a real screen (offscreen, Qt clamps it to a small screen).
        at = combo.mapTo(window, QPoint(0, combo.height()))
        at.setX(max(0, min(at.x(), window.width() - popup.width())))
        painter.drawPixmap(at, popup.grab())
        painter.end()
        combo.hidePopup()
        out = Path(args.out) / f"engine-switcher-{theme}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not shot.save(str(out)):
            raise SystemExit(f"cannot write {out}")
        written.append(out)
        print(out)
    return written


async def _take_all_engines(args: argparse.Namespace, app: QApplication, window: object,
                            settings: object) -> list[Path]:
    """The "All engines" window, once every reachable engine's containers are listed."""
    from app.main_window import MainWindow
    from app.session import ConnectionState
    from app.settings import THEME
    from app.widgets.engine_switcher import CONNECTING, LOOKING, REACHABLE

    assert isinstance(window, MainWindow)
    switch = window.engine_switch
    if not await _wait(lambda: switch.entries and all(
            e.state not in (LOOKING, CONNECTING) for e in switch.entries) and len(
            switch.entries) > 1, 30):
        raise SystemExit("the engines were not all probed in time")
    view = switch.open_all()
    width, height = (int(v) for v in args.size.split("x"))
    view.resize(width, height)
    reachable = {e.url for e in switch.entries if e.state == REACHABLE}
    if not await _wait(lambda: all(
            f.session.status.state is ConnectionState.CONNECTED for f in view.feeds.values())
            and {r.url for r in view.containers.model.items()} >= reachable, 30):
        raise SystemExit("the engines' containers were not all listed in time")
    await asyncio.sleep(SETTLE_SECONDS)
    view.containers.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    view.containers.table.selectRow(0)
    written = []
    for theme in args.themes.split(","):
        settings.set(THEME, theme)  # type: ignore[attr-defined]
        _repolish_style_sheets(app)
        await asyncio.sleep(SETTLE_SECONDS)
        out = Path(args.out) / f"all-engines-{theme}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not view.grab().save(str(out)):
            raise SystemExit(f"cannot write {out}")
        written.append(out)
        print(out)
    view.close()
    return written


def _drop(window: object, path: Path) -> None:
    """Drop ``path`` on the window as a file manager would."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    point = QPointF(550, 340)
    for event in (QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime,
                                  Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier),
                  QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                             Qt.KeyboardModifier.NoModifier)):
        QApplication.sendEvent(window, event)  # type: ignore[arg-type]


async def _take_compose(args: argparse.Namespace, window: object) -> list[Path]:
    from app.main_window import MainWindow
    from app.pages.apps import AppsPage
    from app.widgets.compose_sheet import ComposeSheet

    assert isinstance(window, MainWindow)
    out = Path(args.out)
    _drop(window, Path(args.compose).resolve())
    sheets = [s for s in window.findChildren(ComposeSheet) if s.isVisible()]
    if not sheets:
        raise SystemExit(f"dropping {args.compose} opened no Compose sheet: "
                         f"{window.messages.text()}")
    sheet = sheets[0]
    if not await _wait(lambda: sheet.verb_buttons["up"].isEnabled(), 30):
        raise SystemExit(f"no Compose tool: {sheet.tool.text()}")
    await asyncio.sleep(SETTLE_SECONDS)
    written = [out / f"compose-sheet-{args.compose_name}.png"]
    sheet.grab().save(str(written[-1]))
    name = sheet.project.name
    sheet.verb_buttons["up"].click()
    page = window.page(AppsPage)
    activity = window.activity.activities()[0]
    if not await _wait(lambda: activity.done, 300):
        raise SystemExit("Up did not finish")
    if not activity.succeeded:
        raise SystemExit(activity.status.text())
    await _wait(lambda: (p := page.selected_project()) is not None and p.name == name
                and p.running == p.total, 30)
    await asyncio.sleep(3)  # a few seconds of logs, and health checks run
    page.services_view.selectRow(0)
    await asyncio.sleep(SETTLE_SECONDS)
    written.append(out / f"compose-up-{args.compose_name}.png")
    window.grab().save(str(written[-1]))
    page.tabs.setCurrentWidget(page.logs)
    await _wait(lambda: len(page.logs.model.entries) > 20, 30)
    await asyncio.sleep(SETTLE_SECONDS)
    written.append(out / f"compose-logs-{args.compose_name}.png")
    window.grab().save(str(written[-1]))
    for path in written:
        print(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--host", default=None)
    parser.add_argument("--size", default="1100x680")
    parser.add_argument("--pages", default="containers,images")
    parser.add_argument("--themes", default="light,dark")
    parser.add_argument("--palette", default=None, metavar="QUERY",
                        help="also shoot each page with the command palette open on QUERY"
                             " (writes <page>-palette-<theme>.png)")
    parser.add_argument("--tab", default="",
                        help="detail tabs to show, as page=title pairs: images=Layers and files")
    parser.add_argument("--select", default="",
                        help="rows to select, as page=name pairs: containers=web-1,images=app:1"
                             " (default: each table's first row)")
    parser.add_argument("--expand", default="",
                        help="container folders the Files tab opens: /srv,/srv/shop")
    parser.add_argument("--compare", metavar="IMAGE1,IMAGE2", default="",
                        help="also take the diff window of these two images")
    parser.add_argument("--registry", default="",
                        help="REGISTRY/REPOSITORY[:TAG] the Registries page browses before its"
                             " shot (and selects TAG)")
    parser.add_argument("--platform", default="",
                        help="with --registry: pull this platform of the tag before the shot")
    parser.add_argument("--search", default="", metavar="TERM",
                        help="the Registries page searches TERM before its shot")
    parser.add_argument("--switcher", action="store_true",
                        help="also take the Engine page with its engine switcher open, once"
                             " every engine was probed (writes engine-switcher-<theme>.png)")
    parser.add_argument("--switch-to", default="", metavar="URL",
                        help="add this engine in the window and switch to it before the shots")
    parser.add_argument("--all-engines", action="store_true",
                        help="also take the All engines window (every reachable engine's"
                             " containers in one list; writes all-engines-<theme>.png)")
    parser.add_argument("--compose", default="", metavar="DIR",
                        help="drop this Compose folder on the window, shoot its sheet, Up, "
                             "then shoot the app with its services and merged logs")
    parser.add_argument("--compose-name", default="docker",
                        help="suffix of the Compose shots' names (the engine's kind)")
    args = parser.parse_args(argv)

    from app.event_loop import make_event_loop

    app = QApplication(sys.argv[:1])
    app.setApplicationName("Dockyard")
    app.setDesktopFileName("io.github.dockyard.Dockyard")
    app.setQuitOnLastWindowClosed(False)  # closing the window must not stop the loop
    loop = make_event_loop(app)
    with tempfile.TemporaryDirectory(prefix="dockyard-screenshots-") as state, loop:
        args.state = state
        loop.run_until_complete(take(args, app))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
