"""A Compose file dropped on the real window: shown before anything runs, brought up from
the app with the user's Compose tool (docker-compose 1.29 for Docker, podman-compose for
Podman), grouped on the Apps page, acted on per service, and taken down again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.pages.apps import AppsPage
from app.session import EngineSession
from app.widgets.activity import Activity
from app.widgets.compose_sheet import ComposeSheet
from tests.app.conftest import answer, wait_connected
from tests.compose_helpers import COMPOSE_FILE, ComposeUnderTest, compose_tool
from tests.conftest import LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.waits import wait_ms

WAIT = wait_ms(60)


@pytest.fixture
def project(any_engine: EngineUnderTest, tmp_path: Path) -> Iterator[ComposeUnderTest]:
    """The three-service file in a folder named as the project; nothing runs yet.
    Whatever the test brought up is removed after, by the tool and by label."""
    name = unique_name("up").replace(".", "-")
    folder = tmp_path / name
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(COMPOSE_FILE.format(
        image=any_engine.image, label_key=LABEL_KEY, run_id=RUN_ID))
    under_test = ComposeUnderTest(any_engine, name, folder, compose_tool(any_engine.kind))
    try:
        yield under_test
    finally:
        under_test.down()


def open_window(qtbot: QtBot, make_session, target: EngineUnderTest) -> MainWindow:
    session: EngineSession = make_session(target.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session)
    return window


def drop(window: MainWindow, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    point = QPointF(window.width() / 2, window.height() / 2)
    QApplication.sendEvent(window, QDragEnterEvent(
        point.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier))
    assert window.drop.overlay.text() == (
        f"Drop to open the Compose app {path.name}/docker-compose.yml")
    QApplication.sendEvent(window, QDropEvent(
        point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier))


def sheet_of(window: MainWindow) -> ComposeSheet:
    sheets = [s for s in window.findChildren(ComposeSheet) if s.isVisible()]
    assert len(sheets) == 1
    return sheets[0]


def cell(model, key: str, column: str) -> str:
    row = model.row_of(key)
    assert row is not None, f"{key} is not listed"
    titles = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    return str(model.index(row, titles.index(column)).data())


def newest_activity(window: MainWindow) -> Activity:
    return window.activity.rows.itemAt(0).widget()


def test_a_dropped_compose_file_is_shown_then_brought_up_grouped_and_taken_down(
    qtbot: QtBot, make_session, project: ComposeUnderTest,
) -> None:
    window = open_window(qtbot, make_session, project.target)
    drop(window, project.directory)
    sheet = sheet_of(window)
    # Before anything runs: the three services, their images, volume, network and check.
    assert [sheet.services.index(r, 0).data() for r in range(3)] == ["web", "worker", "cache"]
    assert cell(sheet.services, "web", "Image / build").endswith(project.target.image)
    assert cell(sheet.services, "web", "Volumes") == "data:/data"
    assert cell(sheet.services, "web", "Health check") == "yes"
    assert cell(sheet.services, "cache", "Runs") == "yes"
    assert "data" in sheet.resources.text() and "back" in sheet.resources.text()
    assert project.ps() == {}
    tool = Path(project.tool).name
    qtbot.waitUntil(lambda: sheet.tool.text().startswith(f"Runs with {tool} "), timeout=WAIT)

    sheet.verb_buttons["up"].click()
    page = window.page(AppsPage)
    assert window.pages.currentWidget() is page
    activity = newest_activity(window)
    qtbot.waitUntil(lambda: activity.done, timeout=WAIT)
    assert activity.succeeded, activity.status.text()
    assert tool in activity.title.text()  # the tool is named
    log = activity.log.toPlainText()
    assert log.startswith(f"$ {project.tool} -p {project.name}")
    assert "3 of 3 running" in activity.status.text()
    # Grouped: the project is selected on the Apps page with its three services.
    qtbot.waitUntil(lambda: page.selected_project() is not None
                    and page.selected_project().state_text == "3 of 3 running", timeout=WAIT)
    assert page.services.rowCount() == 3
    assert cell(page.services, "web", "Replicas") == "1 of 1 running"
    assert set(project.ps().values()) == {"running"}
    assert f"{project.name}_data" in page.resources_label.text()

    # One service's own actions: stop and start the worker only.
    page.services_view.selectRow(page.services.row_of("worker"))
    assert page.service_label.text().startswith("Service worker")
    qtbot.waitUntil(page.service_actions["stop"].isEnabled, timeout=WAIT)
    page.service_actions["stop"].trigger()
    worker = f"{project.name}_worker_1"
    qtbot.waitUntil(lambda: project.ps().get(worker) == "exited", timeout=WAIT)
    assert project.ps()[f"{project.name}_web_1"] == "running"
    qtbot.waitUntil(lambda: cell(page.services, "worker", "Replicas") == "0 of 1 running",
                    timeout=WAIT)
    page.services_view.selectRow(page.services.row_of("worker"))
    # Enabled once the page has the worker stopped (a disabled action ignores trigger()).
    qtbot.waitUntil(page.service_actions["start"].isEnabled, timeout=WAIT)
    page.service_actions["start"].trigger()
    qtbot.waitUntil(lambda: project.ps().get(worker) == "running", timeout=WAIT)

    # Down through the tool, with the recorded files.
    page.tool_actions["down"].trigger()
    assert "3 containers" in answer(qtbot, "app-down-confirm", "Down")
    qtbot.waitUntil(lambda: page.model.row_of(project.name) is None, timeout=WAIT)
    down = newest_activity(window)
    qtbot.waitUntil(lambda: down.done, timeout=WAIT)
    assert down.succeeded, down.status.text()
    assert project.ps() == {}


def test_a_failed_up_names_the_service_and_the_tools_error(
    qtbot: QtBot, make_session, project: ComposeUnderTest,
) -> None:
    (project.directory / "docker-compose.yml").write_text(
        f'version: "3.7"\nservices:\n  fine:\n    image: {project.target.image}\n'
        '    command: ["sleep", "100000"]\n'
        f'  broken:\n    image: {project.target.image}\n'
        '    command: ["no-such-program-here"]\n')
    window = open_window(qtbot, make_session, project.target)
    sheet = window.open_compose(project.directory)
    assert sheet is not None
    qtbot.waitUntil(lambda: sheet.verb_buttons["up"].isEnabled(), timeout=WAIT)
    sheet.verb_buttons["up"].click()
    activity = newest_activity(window)
    qtbot.waitUntil(lambda: activity.done, timeout=WAIT)
    assert not activity.succeeded
    text = activity.status.text()
    assert text.startswith(f"Up of app {project.name} failed: service broken: "), text
    assert "no-such-program-here" in text
    assert "\n" not in text
    qtbot.waitUntil(lambda: window.messages.text() == text, timeout=WAIT)


def test_a_broken_file_is_one_line_and_no_tool_says_what_to_install(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = open_window(qtbot, make_session, any_engine)
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  web:\n    image: busybox\n   ports: ['80']\n")
    assert window.open_dropped(broken) is None
    assert window.messages.text().startswith("Cannot open compose.yaml: compose.yaml line 4: ")
    assert "\n" not in window.messages.text()
    assert not [s for s in window.findChildren(ComposeSheet) if s.isVisible()]

    broken.write_text("services:\n  web:\n    image: busybox\n")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    sheet = window.open_dropped(tmp_path)
    assert isinstance(sheet, ComposeSheet)
    wanted = "podman-compose" if any_engine.kind == "podman" else "docker-compose"
    qtbot.waitUntil(lambda: sheet.tool.text().startswith("No Compose tool found on PATH"),
                    timeout=WAIT)
    assert f"install {wanted}" in sheet.tool.text() or wanted in sheet.tool.text()
    assert not sheet.verb_buttons["up"].isEnabled()


def test_up_again_uses_the_recorded_files_and_down_without_them_removes_by_label(
    qtbot: QtBot, make_session, project: ComposeUnderTest,
) -> None:
    project.up()  # from "a terminal"
    # podman-compose exits 0 whatever happened: see that it did bring the project up.
    assert len(project.ps()) == 3, project.compose("ps", check=False).stdout
    window = open_window(qtbot, make_session, project.target)
    page = window.page(AppsPage)
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    try:
        qtbot.waitUntil(lambda: page.select_key(project.name), timeout=WAIT)
    except qtbot.TimeoutError:  # seen twice under load, not reproduced: say what was listed
        listed = [page.model.index(r, 0).data() for r in range(page.model.rowCount())]
        raise AssertionError(f"{project.name} never listed; the page lists {listed}; "
                             f"docker ps: {project.ps()}; {window.session.status}") from None
    web = f"{project.name}_web_1"
    project.target.cli("rm", "-f", web)
    qtbot.waitUntil(lambda: page.selected_project() is not None
                    and page.selected_project().total == 2, timeout=WAIT)

    # Up from another working directory than the project's: the labels' files and folder.
    page.tool_actions["up"].trigger()
    up = newest_activity(window)
    qtbot.waitUntil(lambda: up.done, timeout=WAIT)
    assert up.succeeded, up.status.text()
    assert f"-f {project.directory / 'docker-compose.yml'}" in up.log.toPlainText()
    qtbot.waitUntil(lambda: project.ps().get(web) == "running", timeout=WAIT)
    qtbot.waitUntil(lambda: page.selected_project() is not None
                    and page.selected_project().state_text == "3 of 3 running", timeout=WAIT)

    # The files moved: Down still takes the containers and networks away, by label.
    project.directory.rename(project.directory.with_name("moved"))
    page.tool_actions["down"].trigger()
    answer(qtbot, "app-down-confirm", "Down")
    down = newest_activity(window)
    qtbot.waitUntil(lambda: down.done, timeout=WAIT)
    assert down.succeeded, down.status.text()
    assert down.status.text().startswith(f"Took down app {project.name} by label: 3 containers")
    assert project.ps() == {}
    project.directory = project.directory.with_name("moved")  # for the fixture's clean-up


def test_build_from_the_sheet_builds_the_services_image_with_the_tool(
    qtbot: QtBot, make_session, project: ComposeUnderTest,
) -> None:
    tag = f"{unique_name('built').replace('.', '-')}:1"
    (project.directory / "Dockerfile").write_text(
        f"FROM {project.target.image}\nLABEL {LABEL_KEY}={RUN_ID}\nRUN echo built > /built\n")
    (project.directory / "docker-compose.yml").write_text(
        f'version: "3.7"\nservices:\n  app:\n    build: .\n    image: {tag}\n'
        '    command: ["sleep", "100000"]\n')
    window = open_window(qtbot, make_session, project.target)
    sheet = window.open_compose(project.directory)
    assert sheet is not None
    assert cell(sheet.services, "app", "Image / build") == f"build . → {tag}"
    qtbot.waitUntil(lambda: sheet.verb_buttons["build"].isEnabled(), timeout=WAIT)
    sheet.verb_buttons["build"].click()
    activity = newest_activity(window)
    try:
        qtbot.waitUntil(lambda: activity.done, timeout=WAIT)
        assert activity.succeeded, activity.status.text()
        assert activity.status.text() == f"Built app {project.name}."
        assert project.target.cli("images", "-q", tag) != ""
        assert project.ps() == {}  # built, not run
    finally:
        project.target.cli("rmi", "-f", tag, check=False)


def test_the_sheet_follows_the_profiles_ticked_and_its_model_passes_the_model_tester(
    qtbot: QtBot, qtmodeltester: ModelTester, tmp_path: Path,
) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web: {image: busybox, ports: ['${PORT:-8080}:80']}\n"
        "  debug: {image: busybox, profiles: [debug]}\n  build: {build: ./b}\n")
    sheet = ComposeSheet(engine.load_compose_file(tmp_path, environ={}))
    qtbot.addWidget(sheet)
    qtmodeltester.check(sheet.services)
    assert cell(sheet.services, "web", "Ports") == "8080:80"
    assert cell(sheet.services, "debug", "Runs") == "no (profile off)"
    sheet.set_tool(engine.ComposeTool("docker-compose", ("/usr/bin/docker-compose",), "1.29.2"))
    assert sheet.tool.text() == "Runs with docker-compose 1.29.2 (/usr/bin/docker-compose)"
    assert sheet.verb_buttons["build"].isEnabled() and sheet.verb_buttons["pull"].isEnabled()
    requested: list[tuple[str, engine.ComposeFile]] = []
    sheet.requested.connect(lambda verb, project: requested.append((verb, project)))
    sheet.profile_boxes["debug"].setChecked(True)
    assert cell(sheet.services, "debug", "Runs") == "yes"
    qtmodeltester.check(sheet.services)
    sheet.verb_buttons["pull"].click()
    assert requested[0][0] == "pull"
    assert engine.ComposeTarget.of_file(requested[0][1]).profiles == ("debug",)
    assert engine.ComposeTarget.of_file(requested[0][1]).expected == ("web", "debug", "build")
