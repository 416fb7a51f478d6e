"""How the window looks (issue 12, "make it look like a product"): icons on every action
that follow light and dark, state badges that read in both themes, and a detail header
that shows the real container's name, state, ports and uptime."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QRect, QSize, Qt, QUrl, Slot
from PySide6.QtGui import QColor, QDesktopServices, QIcon, QImage, QPainter, QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication
from pytestqt.qtbot import QtBot

import engine
from app import icons, theme
from app.main_window import MainWindow
from app.models.ticking import relative_time_clock
from app.pages.containers import CONTAINER_ACTIONS
from app.presentation import port_links, uptime_text
from app.session import EngineSession
from app.widgets.badges import StateBadge
from app.widgets.detail_header import DetailHeader
from app.widgets.link_label import LinkLabel
from tests.app.test_container_detail import open_page, select
from tests.conftest import EngineUnderTest
from tests.waits import wait_ms

PALETTES = {"light": theme.light_palette, "dark": theme.dark_palette}


@pytest.fixture(params=["light", "dark"])
def palette(request: pytest.FixtureRequest, qapp: QApplication) -> Iterator[QPalette]:
    """The application's palette, light or dark, for one test."""
    before = qapp.palette()
    chosen = PALETTES[request.param]()
    qapp.setPalette(chosen)
    yield chosen
    qapp.setPalette(before)


def inked(image: QImage) -> list[QColor]:
    """The colours of the pixels a glyph covers fully (its anti-aliased edges left out)."""
    return [c for y in range(image.height()) for x in range(image.width())
            if (c := image.pixelColor(x, y)).alpha() == 255]


def glyph_pixels(icon: QIcon, mode: QIcon.Mode = QIcon.Mode.Normal) -> list[QColor]:
    image = icon.pixmap(QSize(32, 32), mode).toImage()
    return inked(image)


@pytest.fixture
def offline_window(qtbot: QtBot, make_session, tmp_path: Path) -> MainWindow:
    """The whole window, on an engine that is not there (the buttons are built anyway)."""
    session: EngineSession = make_session(f"unix://{tmp_path / 'none.sock'}")
    window = MainWindow(session)
    qtbot.addWidget(window)
    return window


def test_every_container_action_has_an_icon() -> None:
    missing = [a.name for a in CONTAINER_ACTIONS if a.name not in icons.ICONS]
    assert missing == []


def test_every_toolbar_action_and_page_has_an_icon_in_the_palette_colours(
    offline_window: MainWindow, palette: QPalette
) -> None:
    window = offline_window
    actions = [a for page in window.page_widgets for a in getattr(page, "page_actions", [])]
    assert len(actions) >= len(CONTAINER_ACTIONS) + 10
    ink = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.ButtonText)
    ground = palette.color(QPalette.ColorRole.Button)
    for action in actions:
        pixels = glyph_pixels(action.icon())
        assert pixels, f"{action.objectName()} ({action.text()}) has no icon"
        assert {c.name() for c in pixels} == {ink.name()}, action.objectName()
        assert theme.contrast(pixels[0], ground) >= 4.5
        # The words stay: on the button beside the icon, and as its tool tip.
        assert action.text() and action.toolTip()
    # Every named button of the window that the table lists has its glyph (Shell, Pull…).
    named = [b for b in window.findChildren(QAbstractButton) if b.objectName() in icons.ICONS]
    assert {b.objectName() for b in named} >= {
        "container-shell", "container-edit", "images-pull-button", "images-build-button",
        "disk-refresh", "disk-cleanup", "engine-events-pause"}
    for button in named:
        assert glyph_pixels(button.icon()), button.objectName()
    # The sidebar: one icon per page, in the selected item's text colour when selected.
    for row in range(window.sidebar.count()):
        item = window.sidebar.item(row)
        assert glyph_pixels(item.icon()), item.text()
    selected = glyph_pixels(window.sidebar.item(0).icon(), QIcon.Mode.Selected)
    assert {c.name() for c in selected} == {palette.color(QPalette.ColorRole.HighlightedText)
                                            .name()}


def test_icons_change_colour_with_the_theme(qtbot: QtBot, offline_window: MainWindow,
                                            qapp: QApplication) -> None:
    """The same QIcon, drawn after a switch, takes the new palette's colour: nobody needs
    to set the icons again."""
    before = qapp.palette()
    start = offline_window.containers_page.action_buttons["container-start"]
    try:
        colours = {}
        for which in ("light", "dark"):
            theme.apply_theme(qapp, which)
            colours[which] = {c.name() for c in glyph_pixels(start.icon())}
            # What the button paints, too: its glyph in this palette's colour for its mode.
            mode = QIcon.Mode.Normal if start.isEnabled() else QIcon.Mode.Disabled
            painted = {c.name() for c in glyph_pixels(start.icon(), mode)}
            shot = start.grab().toImage()
            assert any(c.name() in painted for c in inked(shot)), which
        assert colours["light"] == {theme.light_palette().color(QPalette.ColorRole.ButtonText)
                                    .name()}
        assert colours["dark"] == {theme.dark_palette().color(QPalette.ColorRole.ButtonText)
                                   .name()}
        assert colours["light"] != colours["dark"]
        disabled = glyph_pixels(start.icon(), QIcon.Mode.Disabled)
        assert {c.name() for c in disabled} == {
            qapp.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText)
            .name()}
    finally:
        qapp.setPalette(before)


# -- state badges --------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["light", "dark"])
@pytest.mark.parametrize("tone", sorted(theme.BADGE_COLOURS))
def test_badge_text_reads_on_its_pill(which: str, tone: str) -> None:
    colours = theme.badge_colours(tone, PALETTES[which]())
    assert theme.contrast(colours.text, colours.fill) >= 4.5, (tone, which)


@pytest.mark.parametrize("tone", sorted(theme.BADGE_COLOURS))
def test_a_badge_paints_its_words_on_its_pill(qtbot: QtBot, palette: QPalette,
                                              tone: str) -> None:
    badge = StateBadge()
    qtbot.addWidget(badge)
    badge.set_state("exited (1)", tone)
    badge.resize(badge.sizeHint())
    assert badge.accessibleName() == "State: exited (1)"
    shot = badge.grab().toImage()
    colours = theme.badge_colours(tone, palette)
    painted = {c.name() for c in inked(shot)}
    assert colours.fill in painted and colours.text in painted  # the pill, the dot and text
    middle = shot.pixelColor(shot.width() - 3, shot.height() // 2)  # right padding
    assert middle.name() == colours.fill


def test_a_badge_never_hides_its_words_when_it_fits(qtbot: QtBot) -> None:
    from app.widgets.badges import badge_size, paint_badge

    image = QImage(400, 40, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        for text in ("running", "exited (0)", "running (healthy)", "3 of 3 running"):
            size = badge_size(painter.fontMetrics(), text)
            pill = paint_badge(painter, QRect(0, 0, size.width(), 40), text, "good")
            assert pill.width() == size.width()
            shown = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                                     pill.width() - 8 - 6 - 5 - 8)
            assert shown == text, text
    finally:
        painter.end()


# -- the detail header ----------------------------------------------------------------------


def test_uptime_words() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    started = now - timedelta(minutes=5)
    assert uptime_text("running", started, None, now=now) == "Up 5 minutes"
    assert uptime_text("paused", started, None, now=now) == "Up 5 minutes, paused"
    assert uptime_text("exited", started, now - timedelta(hours=2), now=now) \
        == "Exited 2 hours ago"
    assert uptime_text("created", None, None, now - timedelta(minutes=1), now=now) \
        == "Created a minute ago"


def test_port_links_only_for_a_running_container() -> None:
    from tests.app.test_containers_page import fake

    ports = (engine.Port(80, "tcp", 32768, "0.0.0.0"), engine.Port(80, "tcp", 32768, "::"),
             engine.Port(53, "udp", 5353, "0.0.0.0"), engine.Port(81, "tcp", 9001, "::1"))
    assert port_links(fake("a", ports=ports)) == [
        ("http://[::1]:9001", "[::1]:9001 → 81"),
        ("http://127.0.0.1:32768", "localhost:32768 → 80")]
    # Podman lists a stopped container's ports; nothing answers there.
    assert port_links(fake("b", "exited", ports=ports)) == []


def test_links_written_before_a_theme_switch_take_the_new_link_colour(
    qtbot: QtBot, qapp: QApplication
) -> None:
    """The Apps page's volume and network links were dark blue on dark grey after a
    switch to dark: a QLabel keeps the colour its text was laid out with."""
    before = qapp.palette()
    label = LinkLabel()
    qtbot.addWidget(label)
    label.show()
    try:
        theme.apply_theme(qapp, "light")
        label.set_html('Volumes: <a href="volumes:data">data</a>')
        for which in ("dark", "light"):
            theme.apply_theme(qapp, which)
            link = PALETTES[which]().color(QPalette.ColorRole.Link).name()
            qtbot.waitUntil(lambda link=link: f"color: {link}" in label.text(),
                            timeout=wait_ms(5))
            assert label.html() == 'Volumes: <a href="volumes:data">data</a>'
    finally:
        qapp.setPalette(before)


def test_port_links_take_the_link_colour_of_the_theme(qtbot: QtBot, qapp: QApplication) -> None:
    before = qapp.palette()
    header = DetailHeader("test")
    qtbot.addWidget(header)
    header.show()
    try:
        for which in ("light", "dark", "light"):
            theme.apply_theme(qapp, which)
            if not header.links:
                header.show_item("<b>web</b>", "running", "good", "img",
                                 [("http://127.0.0.1:8080", "localhost:8080 → 80")])
            link = PALETTES[which]().color(QPalette.ColorRole.Link).name()
            # Qt delivers the palette change through the event loop.
            qtbot.waitUntil(lambda link=link: f"color: {link}" in header.ports.text(),
                            timeout=wait_ms(5))
            assert theme.contrast(link, PALETTES[which]().color(QPalette.ColorRole.Window)) \
                >= 4.5
    finally:
        qapp.setPalette(before)


def test_the_header_uptime_ticks_with_the_clock(qtbot: QtBot) -> None:
    header = DetailHeader("test")
    qtbot.addWidget(header)
    header.show()
    calls = iter(["Up 1 minute", "Up 2 minutes"])
    header.show_item("<b>web</b>", "running", "good", "img · 123", uptime=lambda: next(calls))
    assert header.uptime.text() == "Up 1 minute"
    relative_time_clock().timeout.emit()
    assert header.uptime.text() == "Up 2 minutes"


class _Browser(QObject):
    """Stands in for the desktop's browser: QDesktopServices hands it the URLs opened."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toString())


def test_the_header_shows_the_real_container(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest
) -> None:
    container_id, name = any_engine.create("-p", "127.0.0.1::80", any_engine.image,
                                           "sleep", "300")
    any_engine.cli("start", name)
    port = int(any_engine.cli("port", name, "80/tcp").splitlines()[0].rsplit(":", 1)[1])
    page = open_page(qtbot, make_session, any_engine)
    select(qtbot, page, container_id, name)
    header = page.detail.header
    qtbot.waitUntil(lambda: header.uptime.text().startswith("Up "), timeout=wait_ms(10))
    assert header.title.text() == f"<b>{name}</b>"
    assert (header.badge.text, header.badge.tone) == ("running", "good")
    assert any_engine.image.split(":")[0] in header.facts.text()
    assert container_id[:12] in header.facts.text()
    url = f"http://127.0.0.1:{port}"
    assert header.links == [(url, f"127.0.0.1:{port} → 80")]
    assert header.ports.isVisible() and f'href="{url}"' in header.ports.text()
    # Clicking the link opens the browser at the published port.
    browser = _Browser()
    QDesktopServices.setUrlHandler("http", browser, "open")
    try:
        header.ports.linkActivated.emit(url)
    finally:
        QDesktopServices.unsetUrlHandler("http")
    assert browser.opened == [url]
    # Stopped from a terminal: the badge and the uptime follow.
    any_engine.cli("kill", name)
    qtbot.waitUntil(lambda: header.badge.text.startswith("exited"), timeout=wait_ms(15))
    assert header.badge.tone == "bad"  # killed: exit code 137
    qtbot.waitUntil(lambda: header.uptime.text().startswith("Exited "), timeout=wait_ms(10))
    assert not header.ports.isVisible()


# -- empty states -------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["light", "dark"])
def test_placeholder_text_reads_on_every_ground(which: str) -> None:
    """Empty-table hints and search boxes are drawn in the palette's placeholder colour."""
    palette = PALETTES[which]()
    hint = palette.color(QPalette.ColorRole.PlaceholderText)
    for ground in (QPalette.ColorRole.Window, QPalette.ColorRole.Base,
                   QPalette.ColorRole.AlternateBase):
        assert theme.contrast(hint, palette.color(ground)) >= 4.5, (which, ground)


def test_an_empty_table_shows_its_page_glyph_above_the_next_step(
    qtbot: QtBot, offline_window: MainWindow, palette: QPalette
) -> None:
    page = offline_window.images_page
    offline_window.resize(1100, 680)
    offline_window.root.setCurrentIndex(0)  # the pages, as once connected to an empty engine
    offline_window.show()
    qtbot.waitExposed(offline_window, timeout=wait_ms(5))
    offline_window.sidebar.setCurrentRow(offline_window.pages.indexOf(page))
    try:
        qtbot.waitUntil(page.empty_icon.isVisible, timeout=wait_ms(5))
        assert page.empty_label.isVisible() and "pull one" in page.empty_label.text()
        assert page.empty_icon.geometry().bottom() < page.empty_label.geometry().top()
        shot = page.empty_icon.grab().toImage()
        quiet = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText)
        assert quiet.name() in {c.name() for c in inked(shot)}
    finally:
        # The window saves its page on closing; later windows must open on Containers.
        offline_window.sidebar.setCurrentRow(0)


def test_the_header_shows_names_as_words_not_markup(qtbot: QtBot) -> None:
    """A tag or an image name with markup characters is shown as typed, and the name in the
    title is escaped."""
    import html as html_module

    header = DetailHeader("test")
    qtbot.addWidget(header)
    name = "<i>web</i>"
    header.show_item(f"<b>{html_module.escape(name)}</b>", "running", "good",
                     "<b>evil</b>/image:1 · 123")
    assert header.facts.textFormat() == Qt.TextFormat.PlainText
    assert header.uptime.textFormat() == Qt.TextFormat.PlainText
    assert "<b>evil</b>" in header.plain_text()
    # The title is rich text: what it displays is the name itself.
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    document.setHtml(header.title.text())
    assert document.toPlainText() == name
