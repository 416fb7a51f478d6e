"""Pull box, activity panel and drag-and-drop builds in the real window."""

from __future__ import annotations

import base64
import json
import os
import re
import tarfile
from itertools import pairwise
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QPushButton
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.session import EngineSession
from app.widgets.activity import Activity
from app.widgets.build_sheet import LAST_BUILD_FOLDER, BuildSheet
from app.widgets.login_dialog import LoginDialog
from tests.app.conftest import wait_connected
from tests.conftest import LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.credential_helper import install_helper
from tests.engine.test_build import (  # noqa: F401  (registry is a fixture)
    Registry,
    _htpasswd,
    _start_registry,
    _stop,
    registry,
)
from tests.waits import wait_ms

# Builds and layers: where the window shows Docker 26 (BuildKit, OCI export) differently.
pytestmark = pytest.mark.docker26


def open_window(qtbot: QtBot, make_session, target: EngineUnderTest) -> MainWindow:
    session: EngineSession = make_session(target.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session)
    return window


def selected_tags(window: MainWindow) -> tuple[str, ...]:
    rows = window.images_page.selected_items()
    return rows[0].image.repo_tags if len(rows) == 1 else ()


def test_pull_box_validates_as_you_type(qtbot: QtBot, make_session,
                                        docker_engine: EngineUnderTest) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    page = window.images_page
    page.pull_box.setText("Busybox:Latest")
    assert not page.pull_button.isEnabled()
    assert page.pull_hint.text() == "'Busybox:Latest': repository names must be lowercase"
    page.pull_box.setText("busybox")
    assert page.pull_button.isEnabled()
    assert page.pull_hint.text() == "Will pull docker.io/library/busybox:latest"
    page.pull_box.setText("ghcr.io/owner/app@sha256:" + "a" * 64)
    assert page.pull_hint.text() == f"Will pull ghcr.io/owner/app@sha256:{'a' * 64}"


def test_pull_from_a_registry_shows_progress_and_selects_the_image(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, registry: Registry  # noqa: F811
) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    try:
        window.images_page.pull_box.setText(registry.image)
        with qtbot.waitSignal(window.images_page.pull_requested, timeout=wait_ms(5)):
            window.images_page.pull_button.click()
        [activity] = window.activity.activities()
        assert window.activity.isVisible()
        qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(60))
        assert activity.succeeded, activity.status.text()
        assert activity.status.text() == f"Pulled {registry.image}."
        layers = activity.log.toPlainText().splitlines()
        assert layers and all(line.endswith(": done") for line in layers)
        qtbot.waitUntil(lambda: registry.image in selected_tags(window), timeout=wait_ms(10))
        assert docker_engine.cli("images", "-q", registry.image) != ""
    finally:
        docker_engine.cli("rmi", "-f", registry.image, check=False)


def test_pull_of_a_missing_tag_says_not_found(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, registry: Registry  # noqa: F811
) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    missing = f"{registry.address}/dockyard/pulled:no-such-tag"
    activity = window.pull(missing)
    assert isinstance(activity, Activity)
    qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(60))
    assert not activity.succeeded
    assert "not found" in activity.status.text()
    assert docker_engine.cli("images", "-q", missing) == ""
    assert activity.findChild(QPushButton, "activity-again") is not None  # "Pull again"


def drop(window: MainWindow, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    point = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert window.drop.overlay.isVisible()
    assert window.drop.overlay.text() == f"Drop to build the folder {path.name}/ (its Dockerfile)"
    dropped = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, dropped)
    assert not window.drop.overlay.isVisible()


def make_context(tmp_path: Path, target: EngineUnderTest, body: str) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "Dockerfile").write_text(
        f"FROM {target.image}\nARG GREETING=hello\nLABEL {LABEL_KEY}={RUN_ID}\n{body}")
    (folder / "keep.txt").write_text("kept\n")
    (folder / "secret.env").write_text("TOKEN=1\n")
    (folder / ".dockerignore").write_text("*.env\n")
    return folder


def test_dropped_folder_builds_and_selects_the_image(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path
) -> None:
    folder = make_context(tmp_path, any_engine,
                          "COPY . /ctx\nRUN echo $GREETING > /greeting\n")
    window = open_window(qtbot, make_session, any_engine)
    drop(window, folder)
    sheet = window.findChild(BuildSheet)
    assert sheet is not None and sheet.isVisible()
    qtbot.waitUntil(lambda: sheet.listing is not None, timeout=wait_ms(10))
    listing = sheet.listing
    assert listing is not None
    assert sorted(listing.paths()) == [".dockerignore", "Dockerfile", "keep.txt"]
    # Dockerfile, .dockerignore and keep.txt; the .dockerignore itself names one pattern.
    assert sheet.summary.text() == "3 files, 142 Bytes sent (1 .dockerignore pattern applied)"
    assert sheet.buildargs.toPlainText() == "GREETING=hello"
    tag = f"dockyard-test/{unique_name('built')}:v1"
    sheet.tags.setText(tag)
    sheet.buildargs.setPlainText("GREETING=bonjour")
    try:
        sheet.build_button.click()
        [activity] = window.activity.activities()
        qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(120))
        assert activity.succeeded, activity.status.text()
        # Each instruction's progress: "Step 2/3 : COPY . /ctx" (classic), "STEP 2/3: …"
        # (Buildah), "[2/3] COPY . /ctx" (BuildKit, Docker 23+'s default)
        assert "COPY . /ctx" in activity.log.toPlainText()
        shown = any_engine.qualified(tag)
        qtbot.waitUntil(lambda: shown in selected_tags(window), timeout=wait_ms(10))
        assert any_engine.cli("run", "--rm", tag, "cat", "/greeting") == "bonjour"
        assert any_engine.cli("run", "--rm", tag, "ls", "/ctx") == "Dockerfile\nkeep.txt"
    finally:
        any_engine.cli("rmi", "-f", tag, check=False)


def test_build_button_picks_a_dockerfile_or_a_tar_and_remembers_the_folder(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = make_context(tmp_path, docker_engine, "RUN true\n")
    (folder / "Dockerfile.dev").write_text((folder / "Dockerfile").read_text())
    archive = tmp_path / "context.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(folder / "Dockerfile", "Dockerfile")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    window = open_window(qtbot, make_session, docker_engine)
    window.settings.store.remove(LAST_BUILD_FOLDER)
    asked: list[tuple[str, str]] = []
    picked: list[str] = [""]  # the user cancels the dialog first

    def get_open_file_name(_parent: object, _caption: str, start: str,
                           filters: str) -> tuple[str, str]:
        asked.append((start, filters))
        return picked.pop(0), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", get_open_file_name)
    window.images_page.build_button.click()
    assert window.findChild(BuildSheet) is None  # cancelled: nothing opens
    assert asked[0][0] == str(home)  # not the directory the program was started in
    assert "Dockerfile" in asked[0][1] and "*.tar" in asked[0][1]

    picked.append(str(folder / "Dockerfile.dev"))
    window.images_page.build_button.click()
    sheet = window.findChild(BuildSheet)
    assert sheet is not None and sheet.isVisible()
    assert asked[1][0] == str(home)
    assert (sheet.context.text(), Path(sheet.dockerfile.text()).name) == (str(folder),
                                                                          "Dockerfile.dev")
    qtbot.waitUntil(lambda: sheet.listing is not None, timeout=wait_ms(10))
    assert sheet.buildargs.toPlainText() == "GREETING=hello"
    sheet.reject()
    qtbot.waitUntil(lambda: window.findChild(BuildSheet) is None, timeout=wait_ms(10))

    picked.append(str(archive))
    window.images_page.build_button.click()
    assert asked[2][0] == str(folder)  # where the last one was picked
    sheet = window.findChild(BuildSheet)
    assert sheet is not None and sheet.tar == archive
    sheet.reject()


def test_a_dockerfile_that_does_not_parse_leaves_no_empty_log_open(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path
) -> None:
    folder = make_context(tmp_path, any_engine, "FROBNICATE now\n")
    window = open_window(qtbot, make_session, any_engine)
    sheet = window.open_build(folder)
    qtbot.waitUntil(lambda: sheet.build_button.isEnabled(), timeout=wait_ms(10))
    sheet.tags.setText(f"dockyard-test/{unique_name('parse')}:v1")
    sheet.build_button.click()
    [activity] = window.activity.activities()
    qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(120))
    assert not activity.succeeded
    assert "frobnicate" in activity.status.text().lower(), activity.status.text()
    text = activity.log.toPlainText()
    # Either the log has something to read and a toggle to close it, or it is closed.
    assert activity.log.isVisibleTo(activity) == bool(text)
    if text:
        assert activity.toggle.isVisibleTo(activity)
    # No blank line after each classic "Step N/M" line.
    assert not [step for step, after in pairwise(text.splitlines())
                if step.lower().startswith("step") and not after], text


def test_a_drop_proposed_as_a_move_is_taken_as_a_copy(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tmp_path: Path
) -> None:
    folder = make_context(tmp_path, docker_engine, "RUN true\n")
    window = open_window(qtbot, make_session, docker_engine)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    point = QPointF(window.width() / 2, window.height() / 2)
    every = (Qt.DropAction.CopyAction | Qt.DropAction.MoveAction | Qt.DropAction.LinkAction)
    # Shift: what a file manager's drag proposes when it means to move the file.
    enter = QDragEnterEvent(point.toPoint(), every, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.ShiftModifier)
    assert enter.proposedAction() == Qt.DropAction.MoveAction
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted() and enter.dropAction() == Qt.DropAction.CopyAction
    move_only = QDragEnterEvent(point.toPoint(), Qt.DropAction.MoveAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, move_only)
    assert not move_only.isAccepted()
    dropped = QDropEvent(point, Qt.DropAction.LinkAction | Qt.DropAction.MoveAction, mime,
                         Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, dropped)
    assert dropped.isAccepted() and dropped.dropAction() == Qt.DropAction.LinkAction
    sheet = window.findChild(BuildSheet)
    assert sheet is not None and sheet.context.text() == str(folder)
    sheet.reject()


def test_failing_build_points_at_its_line(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path
) -> None:
    folder = make_context(tmp_path, any_engine, "RUN echo fine\nRUN echo broken >&2 && exit 3\n")
    window = open_window(qtbot, make_session, any_engine)
    sheet = window.open_build(folder)
    qtbot.waitUntil(lambda: sheet.build_button.isEnabled(), timeout=wait_ms(10))
    tag = f"dockyard-test/{unique_name('again')}:v1"
    sheet.tags.setText(tag)
    sheet.build_button.click()
    [activity] = window.activity.activities()
    qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(120))
    assert not activity.succeeded
    status = activity.status.text()
    assert "Dockerfile line 5" in status, status
    assert "RUN echo broken >&2 && exit 3" in status

    # Fixed on disk, built again in one click: same tag and args, today's files.
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("exit 3", "echo mended > /m"))
    again = activity.findChild(QPushButton, "activity-again")
    assert again is not None
    try:
        again.click()
        [retried] = window.activity.activities()
        assert retried is not activity
        qtbot.waitUntil(lambda: retried.done, timeout=wait_ms(120))
        assert retried.succeeded, retried.status.text()
        assert any_engine.cli("run", "--rm", tag, "cat", "/m") == "mended"
    finally:
        any_engine.cli("rmi", "-f", tag, check=False)


def test_a_rebuild_marks_its_cached_steps_and_says_where_the_cache_ended(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path
) -> None:
    folder = tmp_path / "cached"
    folder.mkdir()
    (folder / "Dockerfile").write_text(
        f"FROM {any_engine.image}\nRUN echo {unique_name()} > /f\nCOPY data.txt /data.txt\n"
        f"RUN cat /data.txt\nLABEL {LABEL_KEY}={RUN_ID}\n")
    (folder / "data.txt").write_text("one\n")
    window = open_window(qtbot, make_session, any_engine)
    tag = f"dockyard-test/{unique_name('cached')}:v1"

    def build() -> Activity:
        sheet = window.open_build(folder)
        qtbot.waitUntil(lambda: sheet.build_button.isEnabled(), timeout=wait_ms(10))
        sheet.tags.setText(tag)
        before = window.activity.activities()
        sheet.build_button.click()
        [activity] = [a for a in window.activity.activities() if a not in before]
        qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(120))
        assert activity.succeeded, activity.status.text()
        return activity

    # The classic builder counts every instruction but FROM as a step, and its log says
    # "Step N/M"; BuildKit (Docker 23+) only those that make a vertex (not LABEL), "[n/m]".
    buildkit = any_engine.kind == "docker" and int(
        any_engine.cli("version", "--format", "{{.Server.Version}}").split(".")[0]) >= 23
    steps = 3 if buildkit else 4
    try:
        first = build()
        assert f"0 of {steps} steps from the cache; the first to miss it was step 2" \
            in first.status.text()
        (folder / "data.txt").write_text("two\n")
        second = build()
    finally:
        any_engine.cli("rmi", "-f", tag, check=False)
    log = second.log.toPlainText().splitlines()
    if buildkit:
        marked = [line for line in log if line.startswith("[cached")]
        assert len(marked) == 1, log
        assert re.match(r"\[cached [0-9.]+s\] \[2/4\] RUN echo ", marked[0]), marked
        assert any(re.match(r"\[done [0-9.]+s\] \[3/4\] COPY data.txt /data.txt$", line)
                   for line in log), log
    else:
        marked = [line for line in log if line.startswith("[cached] ")]
        assert len(marked) == 1, log
        assert marked[0].startswith("[cached] Step 2/5 : RUN echo ")
        assert "Step 3/5 : COPY data.txt /data.txt" in log
    assert not any("Using cache" in line for line in log)
    assert "" not in log  # no blank line after each classic "Step N/M" line
    summary = (f"1 of {steps} steps from the cache; the first to miss it was step 3"
               " (line 3: COPY data.txt /data.txt).")
    assert second.status.text().endswith(summary)
    assert log[-1] == summary


@pytest.mark.parametrize("with_helper", [False, True], ids=["config.json", "credsStore"])
def test_unauthorized_pull_offers_a_login_and_saves_it_only_when_asked(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, with_helper: bool,
) -> None:
    """Saved where docker login would: with a credential store, in it and not in config.json."""
    root = tmp_path / "authreg"
    root.mkdir()
    password = "pw-" + RUN_ID
    _htpasswd(root / "htpasswd", "dockyard", password)
    process, address = _start_registry(root, root / "htpasswd")
    image = f"{address}/dockyard/private:{RUN_ID}"
    pusher_config = tmp_path / "pusher"
    pusher_config.mkdir()
    (pusher_config / "config.json").write_text(json.dumps({"auths": {address: {
        "auth": base64.b64encode(f"dockyard:{password}".encode()).decode()}}}))
    pusher = EngineUnderTest("docker", docker_engine.url, pusher_config, docker_engine.image)
    user_config = tmp_path / "user-docker-config"  # the app's DOCKER_CONFIG: no logins yet
    user_config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(user_config))
    helper = install_helper(tmp_path / "bin", "dyapp")
    if with_helper:
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
        (user_config / "config.json").write_text(json.dumps({"credsStore": "dyapp"}))
    try:
        pusher.cli("tag", docker_engine.image, image)
        pusher.cli("push", image)
        pusher.cli("rmi", image)
        window = open_window(qtbot, make_session, docker_engine)
        first = window.pull(image)
        assert first is not None
        qtbot.waitUntil(lambda: first.done, timeout=wait_ms(60))
        assert not first.succeeded
        assert first.status.text().startswith(f"The registry refused access to {image}")
        login = first.findChild(QPushButton, "activity-login")
        assert login is not None
        assert first.findChild(QPushButton, "activity-again") is None  # Log in… is the retry
        login.click()
        dialog = window.findChild(LoginDialog)
        assert dialog is not None and dialog.isVisible()
        assert dialog.save.text() == "Save as docker login does (in " + (
            "the credential helper docker-credential-dyapp)" if with_helper
            else f"{user_config / 'config.json'})")
        messages: list[str] = []
        window.session.message.connect(lambda _level, text: messages.append(text))
        # A mistyped password is not saved: the registry refused it (docker login checks
        # first, too), so a login that works is never replaced by one that does not.
        dialog.username.setText("dockyard")
        dialog.password.setText("wrong-" + password)
        dialog.save.setChecked(True)
        dialog.accept()
        qtbot.waitUntil(lambda: len(window.activity.activities()) == 1
                        and window.activity.activities()[0] is not first, timeout=wait_ms(10))
        [refused] = window.activity.activities()
        qtbot.waitUntil(lambda: refused.done, timeout=wait_ms(60))
        assert not refused.succeeded
        assert helper.logins() == {}
        config_file = user_config / "config.json"
        kept = json.loads(config_file.read_text()) if config_file.exists() else {}
        assert address not in kept.get("auths", {})
        login = refused.findChild(QPushButton, "activity-login")
        assert login is not None
        login.click()
        dialog = window.findChild(LoginDialog)
        assert dialog is not None and dialog.isVisible()
        dialog.username.setText("dockyard")
        dialog.password.setText(password)
        dialog.save.setChecked(True)
        dialog.accept()
        qtbot.waitUntil(lambda: len(window.activity.activities()) == 1
                        and window.activity.activities()[0] is not refused, timeout=wait_ms(10))
        [second] = window.activity.activities()
        qtbot.waitUntil(lambda: second.done, timeout=wait_ms(60))
        assert second.succeeded, second.status.text()
        qtbot.waitUntil(lambda: bool(messages), timeout=wait_ms(10))
        saved = json.loads((user_config / "config.json").read_text())
        if with_helper:
            assert messages == ["Saved the login in the credential helper"
                                " docker-credential-dyapp"]
            assert saved["auths"] == {address: {}}
            assert helper.logins() == {address: {"Username": "dockyard", "Secret": password}}
            assert password not in (user_config / "config.json").read_text()
        else:
            assert messages == [f"Saved the login in {user_config / 'config.json'}"]
            assert base64.b64decode(saved["auths"][address]["auth"]).decode() == \
                f"dockyard:{password}"
    finally:
        docker_engine.cli("rmi", "-f", image, check=False)
        _stop(process)


def test_registry_search_lists_results_or_says_it_is_offline(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest
) -> None:
    """CI has no route to Docker Hub, so there the search must say so plainly;
    on a connected machine it lists busybox."""
    window = open_window(qtbot, make_session, docker_engine)
    page = window.images_page
    messages: list[str] = []
    window.session.message.connect(lambda _level, text: messages.append(text))
    page.pull_box.setText("busybox")
    page.search_button.click()
    qtbot.waitUntil(lambda: bool(messages) or bool(page.search_results.actions()),
                    timeout=wait_ms(90))
    if messages:
        assert messages[0].startswith(
            "Could not search for busybox: the engine cannot reach the registry to search "
            "(offline?)"), messages[0]
    else:
        assert any(a.text().startswith("busybox (official)")
                   for a in page.search_results.actions())
    qtbot.waitUntil(page.search_button.isEnabled, timeout=wait_ms(5))
