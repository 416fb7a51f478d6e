"""The window against real engines: live lists, actions, and a daemon that goes away."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, QSettings, QSize, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.main_window import DEFAULT_SIZE, MainWindow
from app.models.table import ItemRole, KeyedTableModel
from app.pages.containers import ContainersPage
from app.presentation import short_reference
from app.session import ConnectionState, EngineSession, MessageLevel
from app.settings import Settings
from tests.app.conftest import await_in_qt, wait_connected
from tests.conftest import DOCKER_CLI, LABEL, EngineUnderTest, unique_name
from tests.faults import SocketRelay
from tests.waits import wait_ms


def row_cells(model: KeyedTableModel, key: str) -> dict[str, str] | None:
    row = model.row_of(key)
    if row is None:
        return None
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    return {h: model.index(row, c).data() for c, h in enumerate(headers)}


def connected_window(qtbot: QtBot, make_session, url: str | None, *, show: bool = False
                     ) -> MainWindow:
    """A window on a session that has connected (the caller keeps it: qtbot holds it weakly)."""
    session: EngineSession = make_session(url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    if show:
        window.show()
    session.start()
    wait_connected(qtbot, session)
    return window


def test_containers_table_follows_the_cli(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, qtmodeltester: ModelTester
) -> None:
    session: EngineSession = make_session(any_engine.url)
    page = ContainersPage(session)
    qtbot.addWidget(page)
    model = page.model
    resets: list[None] = []
    model.modelReset.connect(lambda: resets.append(None))
    session.start()
    wait_connected(qtbot, session)

    # A neighbour row stays selected through every change to the other row.
    neighbour_id, _neighbour = any_engine.create(any_engine.image, "sleep", "300")
    qtbot.waitUntil(lambda: model.row_of(neighbour_id) is not None, timeout=wait_ms(10))
    proxy_row = page.proxy.mapFromSource(model.index(model.row_of(neighbour_id) or 0, 0))
    page.table.selectionModel().select(
        proxy_row, QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows,
    )

    name = unique_name("live")
    with qtbot.waitSignal(model.rowsInserted, timeout=wait_ms(10),
                          check_params_cb=lambda parent, first, last: any(
                              model.item_at(r).name == name for r in range(first, last + 1))):
        container_id, _ = any_engine.create(any_engine.image, "sleep", "300", name=name)
    cells = row_cells(model, container_id)
    assert cells is not None
    assert cells["Name"] == name
    assert cells["State"] == "created"
    # As the docker CLI shows it: Podman's "docker.io/" prefix is not shown (issue 12.11).
    assert cells["Image"] == any_engine.image

    any_engine.cli("start", name)
    qtbot.waitUntil(lambda: (row_cells(model, container_id) or {}).get("State") == "running",
                    timeout=wait_ms(10))
    any_engine.cli("stop", "-t", "0", name)
    qtbot.waitUntil(lambda: (row_cells(model, container_id) or {}).get("State", "")
                    .startswith("exited"), timeout=wait_ms(10))
    qtmodeltester.check(model)
    qtmodeltester.check(page.proxy)

    with qtbot.waitSignal(model.rowsRemoved, timeout=wait_ms(10)):
        any_engine.cli("rm", name)
    qtbot.waitUntil(lambda: model.row_of(container_id) is None, timeout=wait_ms(10))

    assert resets == []
    selected = page.selected_items()
    assert [c.id for c in selected] == [neighbour_id]


def test_stop_button_stops_the_selected_container(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest
) -> None:
    session: EngineSession = make_session(any_engine.url)
    page = ContainersPage(session)
    qtbot.addWidget(page)
    session.start()
    wait_connected(qtbot, session)
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    model = page.model
    qtbot.waitUntil(lambda: (row_cells(model, container_id) or {}).get("State") == "running",
                    timeout=wait_ms(10))
    page.search.setText(name)
    assert page.proxy.rowCount() == 1
    page.table.selectRow(0)
    assert page.stop_button.isEnabled()
    assert not page.start_button.isEnabled()
    page.stop_button.click()
    qtbot.waitUntil(lambda: (row_cells(model, container_id) or {}).get("State", "")
                    .startswith("exited"), timeout=wait_ms(30))
    state = any_engine.cli("inspect", "--format", "{{.State.Status}}", name)
    assert state == "exited"


def test_images_page_shows_size_and_usage(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, qtmodeltester: ModelTester
) -> None:
    window = connected_window(qtbot, make_session, any_engine.url)
    model = window.images_page.model
    image_id = "sha256:" + any_engine.cli(
        "image", "inspect", "--format", "{{.Id}}", any_engine.image).removeprefix("sha256:")
    key = any_engine.qualified(any_engine.image)  # rows are keyed by tag
    qtbot.waitUntil(lambda: model.row_of(key) is not None, timeout=wait_ms(10))
    any_engine.create(any_engine.image, "true")
    qtbot.waitUntil(lambda: (row_cells(model, key) or {}).get("Used by") != "unused",
                    timeout=wait_ms(10))
    cells = row_cells(model, key)
    assert cells is not None
    # Shown as the docker CLI shows it (Podman's "docker.io/" left out); the row keeps
    # the full reference the engine gave, which is what actions send.
    repository, tag = any_engine.image.rsplit(":", 1)
    assert cells["Repository"] == repository
    assert cells["Tag"] == tag
    # The image is this run's own: the container just created is its only user.
    assert cells["Used by"] == "1 container"
    size = int(any_engine.cli("image", "inspect", "--format", "{{.Size}}", any_engine.image))
    assert cells["Size"] == f"{size / 1e6:.1f} MB"
    qtmodeltester.check(model)
    row = model.row_of(key)
    assert row is not None
    assert model.index(row, 0).data(ItemRole).image.id == image_id
    assert model.index(row, 0).data(ItemRole).image.size == size
    assert model.index(row, 0).data(ItemRole).reference == key


def test_image_header_follows_tags_and_users(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest,
) -> None:
    window = connected_window(qtbot, make_session, any_engine.url)
    page = window.images_page
    image_id = "sha256:" + any_engine.cli(
        "image", "inspect", "--format", "{{.Id}}", any_engine.image).removeprefix("sha256:")
    qtbot.waitUntil(lambda: page.row_of_image(image_id) is not None, timeout=wait_ms(10))
    page.select_image(image_id)
    qtbot.waitUntil(lambda: page.detail.image_id == image_id, timeout=wait_ms(10))
    header = page.detail.header
    assert "unused" in header.plain_text()
    extra = f"dockyard-test/{unique_name('header')}:1"
    any_engine.cli("tag", any_engine.image, extra)
    try:
        qtbot.waitUntil(lambda: extra in header.plain_text(), timeout=wait_ms(10))
        any_engine.create(any_engine.image, "true")
        qtbot.waitUntil(lambda: "1 container" in header.plain_text(), timeout=wait_ms(10))
        assert header.badge.text == "1 container" and header.badge.tone == "good"
    finally:
        any_engine.cli("rmi", extra, check=False)
    qtbot.waitUntil(lambda: extra not in header.plain_text(), timeout=wait_ms(10))


def test_no_engine_shows_what_was_tried(qtbot: QtBot, make_session, tmp_path: Path) -> None:
    missing = tmp_path / "gone.sock"
    session: EngineSession = make_session(f"unix://{missing}")
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    qtbot.waitUntil(lambda: session.status.state == ConnectionState.UNREACHABLE,
                    timeout=wait_ms(10))
    assert window.root.currentWidget() is window.unavailable_page
    assert window.unavailable_page.title.text() == "No container engine is running"
    details = window.unavailable_page.details.text()
    assert f"no socket at {missing}" in details
    assert "--host" in details
    assert window.engine_label.text() == "No engine"


def test_a_message_does_not_move_the_page(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
) -> None:
    window = connected_window(qtbot, make_session, docker_engine.url, show=True)
    search = window.containers_page.search
    before = search.mapTo(window, QPoint(0, 0))
    window.session.message.emit(MessageLevel.ERROR, "Could not stop web: it is gone")
    qtbot.waitUntil(lambda: window.messages.isVisible(), timeout=wait_ms(5))
    qtbot.wait(wait_ms(0.05))  # one layout pass
    assert "Could not stop web" in window.messages.text()
    assert search.mapTo(window, QPoint(0, 0)) == before


def test_daemon_going_away_shows_banner_and_reconnects(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tmp_path: Path
) -> None:
    relay = SocketRelay(docker_engine.endpoint.socket_path or "", tmp_path / "relay.sock")
    await_in_qt(qtbot, relay.start())
    session: EngineSession = make_session(relay.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session)
    assert window.root.currentIndex() == 0

    await_in_qt(qtbot, relay.cut())
    qtbot.waitUntil(lambda: session.status.state == ConnectionState.LOST, timeout=wait_ms(10))
    assert window.banner.isVisible()
    assert "Reconnecting" in window.banner.text()
    assert not window.pages.isEnabled()
    assert window.root.currentIndex() == 0  # the lists stay on screen

    # While away, a container appears; on return the list must show it.
    container_id, _ = docker_engine.create(docker_engine.image, "true")
    await_in_qt(qtbot, relay.start())
    session.retry_now()
    wait_connected(qtbot, session)
    qtbot.waitUntil(lambda: window.containers_page.model.row_of(container_id) is not None,
                    timeout=wait_ms(10))
    assert not window.banner.isVisible()
    assert window.pages.isEnabled()
    await_in_qt(qtbot, relay.cut())


def test_image_detail_lists_build_steps(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, qtmodeltester: ModelTester
) -> None:
    window = connected_window(qtbot, make_session, any_engine.url)
    page = window.images_page
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=wait_ms(10))
    page.search.setText(any_engine.image.split(":")[1])  # this run's unique tag
    assert page.proxy.rowCount() == 1
    page.table.selectRow(0)
    detail = page.detail
    qtbot.waitUntil(lambda: detail.history_model.rowCount() == 4, timeout=wait_ms(10))
    steps = [detail.history_model.index(r, 1).data() for r in range(4)]
    assert steps[0].startswith("COPY ") and steps[0].endswith(" /bin/busybox")
    # Docker records an exec-form RUN as its bare argv, Podman as the JSON array.
    assert steps[1] == ('RUN ["/bin/busybox", "--install", "-s", "/bin"]'
                        if any_engine.kind == "podman" else "RUN /bin/busybox --install -s /bin")
    assert steps[2].startswith("LABEL dockyard.test=")
    assert steps[3] == 'CMD ["sh"]'
    assert any_engine.image.split(":")[1] in detail.header.title.text()
    qtmodeltester.check(detail.history_model)


def test_quitting_with_shells_open_asks_first(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest,
) -> None:
    from tests.app.conftest import answer

    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    window = connected_window(qtbot, make_session, any_engine.url, show=True)
    page = window.page(ContainersPage)
    qtbot.waitUntil(lambda: page.model.row_of(container_id) is not None, timeout=wait_ms(10))
    page.search.setText(name)
    page.table.selectRow(0)
    qtbot.waitUntil(lambda: page.detail.shell_button.isEnabled(), timeout=wait_ms(10))
    tab = page.detail.open_shell()
    assert tab is not None
    qtbot.waitUntil(lambda: tab.running and tab.shell is not None, timeout=wait_ms(15))

    window.close()  # Ctrl+Q's slot
    assert window.isVisible()
    assert answer(qtbot, "quit-confirm", "Cancel") == (
        "Still running: 1 open shell. Quitting ends it: Quit anyway?")
    assert window.isVisible()
    window.close()
    assert answer(qtbot, "quit-confirm", "Quit") == (
        "Still running: 1 open shell. Quitting ends it: Quit anyway?")
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=wait_ms(5))


@pytest.mark.parametrize("size", [None, (1200, 720)], ids=["default-size", "1200x720"])
def test_the_containers_page_fits_the_window_without_scrolling_sideways(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, size: tuple[int, int] | None,
    tmp_path: Path,
) -> None:
    """Issue 12.14: at the default size the list needed scrolling sideways, and a long
    name in the pane's title widened the window past the size it was given.

    A long list is what users have: the vertical scroll bar is forced on, as 40
    containers would, so the columns must fit beside it.
    """
    container_id, name = docker_engine.create(
        "-p", "127.0.0.1::80", "-p", "127.0.0.1::443", docker_engine.image, "sleep", "300",
        name=unique_name("a-long-container-name-as-compose-projects-make"))
    docker_engine.cli("start", name)
    # Fresh settings: the defaults are under test, not a layout another test saved.
    session: EngineSession = make_session(docker_engine.url)
    window = MainWindow(session, Settings(QSettings(str(tmp_path / "fresh.ini"),
                                                    QSettings.Format.IniFormat)))
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session)
    if size is not None:
        window.resize(*size)
    wanted = DEFAULT_SIZE if size is None else QSize(*size)
    page = window.containers_page
    tree = page.tree
    tree.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
    qtbot.waitUntil(lambda: page.model.row_of(container_id) is not None, timeout=wait_ms(10))
    assert page.select_key(container_id)
    qtbot.waitUntil(lambda: name in page.detail.title.text(), timeout=wait_ms(5))
    qtbot.waitUntil(lambda: tree.viewport().width() < tree.width() - 10, timeout=wait_ms(5))

    assert window.size() == wanted  # nothing on the page asks for more room
    header = tree.header()
    widths = [header.sectionSize(c) for c in range(header.count())]
    assert tree.horizontalScrollBar().maximum() == 0, (widths, tree.viewport().width())
    # Nothing on the toolbar or the pane's header is squeezed below what it needs.
    squeezed = [w.objectName() for w in (*page.action_buttons.values(), page.detail.tail,
                                         page.detail.edit_button, page.detail.shell_command,
                                         page.detail.shell_user, page.detail.shell_button)
                if w.width() < min(w.sizeHint().width(), w.maximumWidth())]
    assert squeezed == []
    # Every tab of the pane is shown whole: none behind the tab bar's scroll arrows.
    bar = page.detail.tabs.tabBar()
    cut = [bar.tabText(i) for i in range(bar.count())
           if bar.tabRect(i).right() >= bar.width() or bar.tabRect(i).left() < 0]
    assert cut == [], (cut, bar.width())


def test_the_window_title_names_the_engine_and_follows_a_reconnect(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    podman_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    """Issue 12.14: the title said "Dockyard" whatever it showed.  It names the engine,
    its release and address; while away it says so; back on another engine at the
    same address, it names that one."""
    relay = SocketRelay(docker_engine.endpoint.socket_path or "", tmp_path / "relay.sock")
    await_in_qt(qtbot, relay.start())
    session: EngineSession = make_session(relay.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session)

    def release(engine: EngineUnderTest) -> str:  # 20.10.24+dfsg1 → 20.10, as the CLI says
        version = engine.cli("version", "--format", "{{.Server.Version}}")
        return ".".join(version.split("+")[0].split(".")[:2])

    assert window.windowTitle() == f"Dockyard — Docker {release(docker_engine)} · {relay.url}"
    await_in_qt(qtbot, relay.cut())
    qtbot.waitUntil(lambda: session.status.state == ConnectionState.LOST, timeout=wait_ms(10))
    assert window.windowTitle() == f"Dockyard — reconnecting to {relay.url}"

    relay.target = podman_engine.endpoint.socket_path or ""
    await_in_qt(qtbot, relay.start())
    session.retry_now()
    wait_connected(qtbot, session)
    assert window.windowTitle() == f"Dockyard — Podman {release(podman_engine)} · {relay.url}"
    await_in_qt(qtbot, relay.cut())


def test_the_window_title_names_the_cli_context_it_came_from(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found through a docker CLI context, the engine is named by the context's name."""
    assert DOCKER_CLI
    config = tmp_path / "docker-config"
    context = unique_name("ctx")
    subprocess.run([DOCKER_CLI, "context", "create", context, "--docker",
                    f"host={docker_engine.url}"], check=True, capture_output=True,
                   env={**os.environ, "DOCKER_CONFIG": str(config)})
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("DOCKER_CONTEXT", context)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    window = connected_window(qtbot, make_session, None)  # found as the CLI finds it
    assert window.windowTitle().startswith("Dockyard — Docker ")
    assert window.windowTitle().endswith(f" · {context}")


def test_run_shows_the_new_container_selected(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest
) -> None:
    """Run on the Images page: the window goes to Containers with the new one selected."""
    window = connected_window(qtbot, make_session, any_engine.url)
    images = window.images_page
    window.sidebar.setCurrentRow(window.page_widgets.index(images))
    images.select_reference(any_engine.image)
    qtbot.waitUntil(lambda: len(images.selected_items()) == 1, timeout=wait_ms(10))
    before = set(any_engine.cli("ps", "-aq", "--no-trunc").split())
    images.run_selected()
    page = window.containers_page

    def new_selected() -> bool:
        chosen = page.selected_items()
        return (window.pages.currentWidget() is page and len(chosen) == 1
                and chosen[0].id not in before)

    qtbot.waitUntil(new_selected, timeout=wait_ms(30))
    chosen = page.selected_items()[0]
    assert any_engine.cli("inspect", "--format", "{{.State.Status}}", chosen.id) == "running"


def test_references_are_shown_as_the_docker_cli_shows_them() -> None:

    digest = "sha256:" + "a" * 64
    assert short_reference("docker.io/library/busybox:latest") == "busybox:latest"
    assert short_reference("docker.io/team/app:1") == "team/app:1"
    assert short_reference(f"docker.io/library/busybox@{digest}") == f"busybox@{digest}"
    for kept in ("localhost/app:1", "ghcr.io/o/r:2", "127.0.0.1:5000/x:3", "busybox:1.36",
                 "docker.io/Bad Name"):
        assert short_reference(kept) == kept


def test_pages_are_built_when_first_shown_and_read_nothing_before(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    """A page never shown costs nothing: no import at start-up, and no list re-read on
    every engine event (#18). Shown, it fills as before, with its saved layout."""
    from tests.fault_proxy import FaultProxy

    volume = unique_name("lazy")
    docker_engine.cli("volume", "create", "--label", LABEL, volume)
    try:
        with FaultProxy(docker_engine.endpoint.socket_path or "", tmp_path / "p.sock") as proxy:
            window = connected_window(qtbot, make_session, proxy.url, show=True)
            page = window.containers_page
            qtbot.waitUntil(lambda: page.model.rowCount() > 0 or bool(proxy.requests),
                            timeout=wait_ms(10))
            container_id, _ = docker_engine.create(docker_engine.image, "true")
            qtbot.waitUntil(lambda: page.model.row_of(container_id) is not None,
                            timeout=wait_ms(10))
            paths = {r.split(" ", 1)[1].split("?")[0] for r in proxy.requests}
            unshown = ("/volumes", "/system/df", "/networks")
            assert not [p for p in paths if p.endswith(unshown)], paths
            assert window.sidebar.currentRow() == 0
            qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
            from app.pages.volumes import VolumesPage

            volumes = window.page(VolumesPage)
            assert window.pages.currentWidget() is volumes
            qtbot.waitUntil(lambda: volumes.model.row_of(volume) is not None,
                            timeout=wait_ms(20))
    finally:
        docker_engine.remove_test_containers()
        docker_engine.cli("volume", "rm", volume, check=False)


def test_quitting_with_a_pull_running_asks_and_names_it(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
) -> None:
    """Quitting ends a running pull (or build, push, save, Compose run, volume back-up)
    as surely as a shell: it is named in the question, and Cancel keeps it running."""
    from tests.app.conftest import answer
    from tests.app.test_engine_switch import SilentRegistry

    registry = SilentRegistry()
    try:
        window = connected_window(qtbot, make_session, docker_engine.url, show=True)
        activity = window.pull(f"127.0.0.1:{registry.port}/dockyard-test/never:1")
        assert activity is not None and not activity.done
        window.close()
        text = answer(qtbot, "quit-confirm", "Cancel")
        assert text.startswith(f"Still running: Pull 127.0.0.1:{registry.port}/"), text
        assert window.isVisible() and not activity.done
        window.close()
        answer(qtbot, "quit-confirm", "Quit")
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=wait_ms(5))
    finally:
        registry.close()
