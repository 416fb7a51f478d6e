"""Push, save, load, import and export from the real window, against real engines.

Push goes to Debian's ``docker-registry`` on loopback; what the activity row says
(per-layer lines, the digest) is checked against the registry's own manifest
digest.  Save and load go through the file dialogs (answered by the test) and a
drop on the window; the loaded images must be shown and selected.
"""

from __future__ import annotations

import base64
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.pages.images import ImagesPage
from app.pages.push_dialog import PushDialog
from app.widgets.activity import Activity
from tests.app.test_pull_build import open_window
from tests.conftest import RUN_ID, EngineUnderTest, unique_name
from tests.engine.test_push import (  # noqa: F401  (fixtures)
    PASSWORD,
    _manifest_digest,
    auth_registry,
    push_registry,
)
from tests.fault_proxy import Fault, FaultProxy
from tests.waits import wait_ms


def select_tag(page: ImagesPage, reference: str, qtbot: QtBot) -> None:
    """Select the row of ``reference`` through the search box, as a user would."""
    repository, _, tag = reference.rpartition(":")
    page.search.setText(repository.rpartition("/")[2])

    def shown_row() -> int | None:
        """The filtered table's row of ``reference`` (the search applies a moment later)."""
        for proxy_row in range(page.proxy.rowCount()):
            item = page.proxy.index(proxy_row, 0).data(Qt.ItemDataRole.UserRole + 1)
            if getattr(item, "reference", None) == reference:
                return proxy_row
        return next((r for r in range(page.proxy.rowCount())
                     if page.proxy.index(r, 1).data() == tag), None)

    qtbot.waitUntil(lambda: shown_row() is not None, timeout=wait_ms(10))
    row = shown_row()
    assert row is not None, f"no row for {reference}"
    page.table.selectRow(row)


def only_activity(window: MainWindow) -> Activity:
    [activity] = window.activity.activities()
    return activity


@pytest.fixture
def own_tag(docker_engine: EngineUnderTest) -> Iterator[str]:
    tag = f"dockyard-test/{unique_name('xfer')}:v1"
    docker_engine.cli("tag", docker_engine.image, tag)
    yield tag
    docker_engine.cli("rmi", tag, check=False)


def open_push(window: MainWindow, reference: str, qtbot: QtBot) -> PushDialog:
    select_tag(window.images_page, reference, qtbot)
    qtbot.waitUntil(window.images_page.push_button.isEnabled, timeout=wait_ms(10))
    window.images_page.push_button.click()
    dialog = window.findChild(PushDialog)
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_push_tags_for_the_registry_and_shows_layers_and_the_digest(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, push_registry: str,  # noqa: F811
    own_tag: str,
) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    dialog = open_push(window, own_tag, qtbot)
    repository = own_tag.rpartition(":")[0]
    target = f"{push_registry}/{repository}:v1"
    dialog.registry.setText(push_registry)
    assert dialog.repository.text() == repository and dialog.tag.text() == "v1"
    assert dialog.target_label.text() == f"Will tag {own_tag} as {target}, then push it"
    assert dialog.ok.text() == "Tag and push"
    try:
        dialog.ok.click()
        activity = only_activity(window)
        assert activity.title.text() == f"<b>Push {target}</b>"
        qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(60))
        assert activity.succeeded, activity.status.text()
        digest = _manifest_digest(push_registry, repository, "v1")
        assert activity.status.text().endswith(f"\nDigest: {digest}")
        lines = activity.log.toPlainText().splitlines()
        assert lines[-1] == f"digest: {digest}"
        assert len(lines) >= 3 and all(line.split(": ", 1)[1].startswith("Pushed")
                                       for line in lines[:-1])
        # Pushing the same again: every layer is already there.
        window.activity.dismiss(activity)
        open_push(window, target, qtbot).ok.click()
        again = only_activity(window)
        qtbot.waitUntil(lambda: again.done, timeout=wait_ms(60))
        assert again.succeeded, again.status.text()
        assert all(line.endswith("Layer already exists")
                   for line in again.log.toPlainText().splitlines()[:-1])
    finally:
        docker_engine.cli("rmi", target, check=False)


def test_push_with_a_wrong_password_says_so_without_the_password(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, auth_registry: str,  # noqa: F811
    own_tag: str,
) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    dialog = open_push(window, own_tag, qtbot)
    dialog.registry.setText(auth_registry)
    dialog.username.setText("ann")
    assert not dialog.ok.isEnabled()  # a user name without its password
    dialog.password.setText("not-" + PASSWORD)
    target = dialog.target()
    try:
        dialog.ok.click()
        activity = only_activity(window)
        qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(60))
        assert not activity.succeeded
        text = activity.status.text()
        assert text.startswith(f"{auth_registry} refused the push of {target}"), text
        secret = base64.b64encode(f"ann:not-{PASSWORD}".encode()).decode()
        for shown in (text, activity.log.toPlainText()):
            assert PASSWORD not in shown and secret not in shown
    finally:
        docker_engine.cli("rmi", str(target), check=False)


def _answer_save(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))


def _answer_open(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))


def test_save_then_load_back_selects_the_loaded_image(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tag = f"dockyard-test/{unique_name('saved')}:v1"
    any_engine.cli("tag", any_engine.image, tag)
    shown_tag = any_engine.qualified(tag)
    archive = tmp_path / "saved.tar.gz"
    try:
        window = open_window(qtbot, make_session, any_engine)
        page = window.images_page
        select_tag(page, shown_tag, qtbot)
        _answer_save(monkeypatch, archive)
        page.save_button.click()
        activity = only_activity(window)
        qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(60))
        assert activity.succeeded, activity.status.text()
        assert activity.status.text().startswith(f"Saved {shown_tag} to {archive} (")
        assert archive.exists() and not Path(f"{archive}.part").exists()
        window.activity.dismiss(activity)
        any_engine.cli("rmi", tag)
        qtbot.waitUntil(lambda: all(r.reference != shown_tag for r in page.model.items()),
                        timeout=wait_ms(20))
        page.search.clear()
        _answer_open(monkeypatch, archive)
        page.load_button.defaultAction().trigger()
        loading = only_activity(window)
        qtbot.waitUntil(lambda: loading.done, timeout=wait_ms(60))
        assert loading.succeeded, loading.status.text()
        assert loading.status.text() == f"Loaded {shown_tag}."
        qtbot.waitUntil(lambda: [r.reference for r in page.selected_items()] == [shown_tag],
                        timeout=wait_ms(20))
    finally:
        any_engine.cli("rmi", tag, check=False)


def test_a_cancelled_save_leaves_no_file(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, own_tag: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cancelled while the archive is being written (it arrives a byte at a time through
    a relay): the half-written file goes."""
    out = tmp_path / "out"
    out.mkdir()
    with FaultProxy(docker_engine.endpoint.socket_path or "", tmp_path / "p.sock") as relay:
        relay.fault = Fault(r"/images/get$", "trickle", interval=0.01)
        target = EngineUnderTest("docker", relay.url, docker_engine.cli_config, docker_engine.image)
        window = open_window(qtbot, make_session, target)
        select_tag(window.images_page, own_tag, qtbot)
        _answer_save(monkeypatch, out / "cancelled.tar")
        window.images_page.save_button.click()
        activity = only_activity(window)
        qtbot.waitUntil(lambda: relay.hits > 0 and any(out.iterdir()), timeout=wait_ms(20))
        assert [p.name for p in out.iterdir()] == ["cancelled.tar.part"]
        activity.cancel_button.click()
        assert activity.done and activity.status.text() == "Cancelled."
        assert activity.task is not None
        qtbot.waitUntil(activity.task.done, timeout=wait_ms(20))
        qtbot.waitUntil(lambda: not any(out.iterdir()), timeout=wait_ms(5))


def _drop(window: MainWindow, path: Path) -> str:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    point = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    said = window.drop.overlay.text()
    dropped = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, dropped)
    return said


def test_dropping_an_image_archive_loads_it(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    tags = [f"dockyard-test/{unique_name('dropped')}:{n}" for n in ("a", "b")]
    archive = tmp_path / "two.tar"
    for tag in tags:
        any_engine.cli("tag", any_engine.image, tag)
    try:
        any_engine.cli("save", "-o", str(archive), *tags)
        any_engine.cli("rmi", *tags)
        window = open_window(qtbot, make_session, any_engine)
        assert _drop(window, archive) == "Drop to load the images in two.tar"
        activity = only_activity(window)
        assert activity.title.text() == "<b>Load two.tar</b>"
        qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(60))
        assert activity.succeeded, activity.status.text()
        wanted = sorted(any_engine.qualified(t) for t in tags)
        page = window.images_page
        qtbot.waitUntil(lambda: sorted(r.reference for r in page.selected_items()) == wanted,
                        timeout=wait_ms(20))
    finally:
        any_engine.cli("rmi", *tags, check=False)


def test_a_dropped_build_context_tar_still_builds(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    context = tmp_path / "context.tar"
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {docker_engine.image}\n")
    with tarfile.open(context, "w") as archive:
        archive.add(dockerfile, "Dockerfile")
    window = open_window(qtbot, make_session, docker_engine)
    assert _drop(window, context) == "Drop to build from the archive context.tar"
    assert window.activity.activities() == []


def test_export_a_container_and_import_it_back(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    container_id, name = any_engine.create(any_engine.image)
    exported = tmp_path / "fs.tar"
    window = open_window(qtbot, make_session, any_engine)
    page = window.containers_page
    qtbot.waitUntil(lambda: page.select_key(container_id), timeout=wait_ms(20))
    assert page.export_action.isEnabled()
    _answer_save(monkeypatch, exported)
    page.export_action.trigger()
    activity = only_activity(window)
    qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(60))
    assert activity.succeeded, activity.status.text()
    assert activity.status.text().startswith(f"Exported the filesystem of {name} to {exported}")
    with tarfile.open(exported) as archive:
        busybox = archive.getmember("bin/busybox")
        assert busybox.size > 500_000
    window.activity.dismiss(activity)
    repository = f"imported/{exported.stem}"
    _answer_open(monkeypatch, exported)
    try:
        window.images_page.import_action.trigger()
        importing = only_activity(window)
        qtbot.waitUntil(lambda: importing.done, timeout=wait_ms(60))
        assert importing.succeeded, importing.status.text()
        assert importing.status.text().startswith(
            f"Imported fs.tar as {repository}:latest: sha256:")
        image_id = importing.status.text().rsplit(": ", 1)[1].rstrip(".")
        qtbot.waitUntil(lambda: [r.image.id for r in window.images_page.selected_items()]
                        == [image_id], timeout=wait_ms(20))
    finally:
        any_engine.cli("rmi", f"{repository}:latest", check=False)
    _ = RUN_ID
