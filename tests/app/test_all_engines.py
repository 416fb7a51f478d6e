"""The "All engines" window (issue 14): the containers and images of Docker and of a private
Podman service in one list with an Engine column; an action on a row goes to that row's
engine, as the engine's own CLI then shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from app.all_engines import AllEnginesView, EngineRow
from app.main_window import MainWindow
from app.pages.containers import ContainersPage
from app.pages.images import ImagesPage
from app.session import ConnectionState, EngineSession
from app.settings import Settings
from app.widgets.engine_switcher import REACHABLE
from tests.app.conftest import answer, await_in_qt, wait_connected
from tests.conftest import EngineUnderTest
from tests.waits import wait_ms


@pytest.fixture
def private_settings_file(tmp_path: Path) -> Settings:
    return Settings(QSettings(str(tmp_path / "dockyard.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def podman_connection(monkeypatch: pytest.MonkeyPatch, podman_engine: EngineUnderTest,
                      tmp_path: Path) -> EngineUnderTest:
    """The private Podman service, known as Podman's tools know one (CONTAINER_HOST)."""
    monkeypatch.setenv("CONTAINER_HOST", podman_engine.url)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    return podman_engine


def rows(view: AllEnginesView, images: bool = False) -> list[EngineRow]:
    model = (view.images if images else view.containers).model
    return [model.item_at(row) for row in range(model.rowCount())]


def shown_row(view: AllEnginesView, name: str) -> list[str]:
    """The cells of the container row called ``name``, as shown ([] if not listed)."""
    model = view.containers.model
    for row in range(model.rowCount()):
        if model.item_at(row).item.name == name:
            return [str(model.index(row, col).data()) for col in range(model.columnCount())]
    return []


def running(target: EngineUnderTest, name: str) -> bool:
    return target.cli("inspect", "-f", "{{.State.Running}}", name).strip() == "true"


def test_all_engines_lists_both_and_acts_on_the_rows_own_engine(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    podman_connection: EngineUnderTest, private_settings_file: Settings,
) -> None:
    podman = podman_connection
    _docker_id, docker_name = docker_engine.create(docker_engine.image, "sleep", "300")
    docker_engine.cli("start", docker_name)
    podman_id, podman_name = podman.create(podman.image, "sleep", "300")
    podman.cli("start", podman_name)

    session: EngineSession = make_session(docker_engine.url)
    window = MainWindow(session, private_settings_file)
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session)
    switch = window.engine_switch
    qtbot.waitUntil(lambda: (e := switch.entry(podman.url)) is not None and e.state == REACHABLE,
                    timeout=wait_ms(20))

    # "All engines" is an entry of the switcher; it opens a window of its own.
    assert "All engines: one list…" in [window.engine_switcher.combo.itemText(i)
                                        for i in range(window.engine_switcher.combo.count())]
    window.engine_switcher.pick_all()
    view = switch.all_view
    assert view is not None and view.isVisible()
    try:
        qtbot.waitUntil(lambda: bool(shown_row(view, docker_name))
                        and bool(shown_row(view, podman_name)), timeout=wait_ms(20))
        # The Engine column names each row's engine: what it is and where (the URL is
        # its tooltip).
        docker_cells, podman_cells = shown_row(view, docker_name), shown_row(view, podman_name)
        assert view.containers.model.headerData(0, Qt.Orientation.Horizontal) == "Engine"
        assert docker_cells[0] == f"Docker · {docker_engine.url.removeprefix('unix://')}"
        assert podman_cells[0] == f"Podman · {podman.url.removeprefix('unix://')}"
        model = view.containers.model
        tips = {model.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)
                for row in range(model.rowCount())}
        assert {docker_engine.url, podman.url} <= tips
        assert docker_cells[1] == docker_name and podman_cells[1] == podman_name
        assert "running" in docker_cells[4].lower() and "running" in podman_cells[4].lower()
        # The summary names every engine followed (others may answer on this machine too).
        qtbot.waitUntil(lambda: "Connecting" not in view.summary.text(), timeout=wait_ms(20))
        assert docker_cells[0] in view.summary.text() and podman_cells[0] in view.summary.text()
        assert view.summary.text().startswith(f"{len(view.feeds)} engines: ")
        # Both engines' images too, each with its engine.
        qtbot.waitUntil(lambda: {r.url for r in rows(view, images=True)}
                        >= {docker_engine.url, podman.url}, timeout=wait_ms(20))

        # Stop on the Podman row stops the Podman container, not a Docker one.
        assert view.containers.select_key(f"{podman.url} {podman_id}")
        assert view.containers.stop_button.defaultAction().isEnabled()
        view.containers.stop_button.click()
        qtbot.waitUntil(lambda: not running(podman, podman_name), timeout=wait_ms(30))
        assert running(docker_engine, docker_name)
        # The list follows that engine's events: the row says so without a refresh.
        qtbot.waitUntil(lambda: "exited" in shown_row(view, podman_name)[4].lower(),
                        timeout=wait_ms(20))
        assert "running" in shown_row(view, docker_name)[4].lower()

        # Remove asks first, then removes it from Podman only.
        assert view.containers.select_key(f"{podman.url} {podman_id}")
        view.containers.remove_button.click()
        text = answer(qtbot, "all-remove-confirm", "Remove")
        assert podman_name in text and "Podman" in text
        qtbot.waitUntil(lambda: not shown_row(view, podman_name), timeout=wait_ms(20))
        assert podman_name not in podman.cli("ps", "-a", "--format", "{{.Names}}").split()
        assert running(docker_engine, docker_name)

        # Open on the Docker row shows it in the window (already on Docker: no switch).
        assert view.containers.select_key(
            next(r.key for r in rows(view) if r.item.name == docker_name))
        view.containers.open_button.click()
        page = window.page(ContainersPage)
        qtbot.waitUntil(lambda: [c.name for c in page.selected_items()] == [docker_name],
                        timeout=wait_ms(10))
        # And an image row: the Images page, that image selected.
        view.tabs.setCurrentWidget(view.images)
        image_row = next(r for r in rows(view, images=True)
                         if r.url == docker_engine.url and docker_engine.image in (
                             r.item.image.repo_tags or []))
        assert view.images.select_key(image_row.key)
        view.images.open_button.click()
        images_page = window.page(ImagesPage)
        qtbot.waitUntil(lambda: [r.key for r in images_page.selected_items()]
                        == [image_row.item.key], timeout=wait_ms(10))
        assert window.pages.currentWidget() is images_page

        # Closing the window ends its connections (one per engine).
        feeds = list(view.feeds.values())
        view.close()
        qtbot.waitUntil(lambda: all(f.session.client is None for f in feeds) and not view.feeds,
                        timeout=wait_ms(10))
        assert not rows(view)
        # Closed, it stays closed to the engines: a new survey of them (a status change,
        # a switch, a rescan) starts no session for a window nobody sees.
        switch.entriesChanged.emit()
        assert not view.feeds
        # Opened again, it follows the engines afresh.
        assert switch.open_all() is view
        qtbot.waitUntil(lambda: bool(shown_row(view, docker_name)), timeout=wait_ms(20))
    finally:
        await_in_qt(qtbot, view.aclose())


def test_open_on_another_engines_row_switches_the_window_there(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    podman_connection: EngineUnderTest, private_settings_file: Settings,
) -> None:
    podman = podman_connection
    podman_id, podman_name = podman.create(podman.image, "sleep", "300")
    session: EngineSession = make_session(docker_engine.url)
    window = MainWindow(session, private_settings_file)
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session)
    switch = window.engine_switch
    qtbot.waitUntil(lambda: (e := switch.entry(podman.url)) is not None and e.state == REACHABLE,
                    timeout=wait_ms(20))
    view = switch.open_all()
    try:
        qtbot.waitUntil(lambda: bool(shown_row(view, podman_name)), timeout=wait_ms(20))
        assert view.containers.select_key(f"{podman.url} {podman_id}")
        view.containers.open_button.click()
        qtbot.waitUntil(lambda: session.status.endpoint == podman.url
                        and session.status.state is ConnectionState.CONNECTED,
                        timeout=wait_ms(20))
        page = window.page(ContainersPage)
        qtbot.waitUntil(lambda: [c.name for c in page.selected_items()] == [podman_name],
                        timeout=wait_ms(10))
        assert window.windowTitle().startswith("Dockyard — Podman ")
        # Quitting the window closes this one too (it would keep the application running).
        window.close()
        qtbot.waitUntil(lambda: not view.isVisible() and not view.feeds, timeout=wait_ms(10))
    finally:
        await_in_qt(qtbot, view.aclose())

