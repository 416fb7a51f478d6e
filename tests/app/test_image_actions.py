"""Image removal (with the second confirmation), tagging, pruning and the filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.exceptions import TimeoutError as QtTimeoutError
from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.session import EngineSession, MessageLevel
from app.widgets.tag_dialog import TagDialog
from tests.app.conftest import wait_connected
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, unique_name


def open_images(qtbot: QtBot, make_session, target: EngineUnderTest) -> MainWindow:
    session: EngineSession = make_session(target.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    wait_connected(qtbot, session)
    window.sidebar.setCurrentRow(1)
    return window


def make_image(target: EngineUnderTest, tmp_path: Path, name: str) -> str:
    folder = tmp_path / name.replace("/", "_").replace(":", "_")
    folder.mkdir()
    (folder / "Dockerfile").write_text(
        f"FROM {target.image}\nLABEL {LABEL_KEY}={RUN_ID}\nRUN echo {name} > /name\n")
    target.cli("build", "-q", "-t", name, str(folder))
    return "sha256:" + target.cli("image", "inspect", "--format", "{{.Id}}", name).removeprefix(
        "sha256:")


def select(qtbot: QtBot, window: MainWindow, image_id: str) -> None:
    page = window.images_page
    qtbot.waitUntil(lambda: page.model.row_of(image_id) is not None, timeout=10_000)
    page.search.setText(image_id.removeprefix("sha256:")[:12])
    assert page.proxy.rowCount() == 1
    page.table.selectRow(0)


def open_tag_dialog(qtbot: QtBot, window: MainWindow) -> TagDialog:
    window.images_page.tag_button.click()
    dialog = window.images_page.findChild(TagDialog)
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def test_removing_an_image_in_use_asks_again_naming_the_container(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"dockyard-test/{unique_name('inuse')}:1"
    image_id = make_image(any_engine, tmp_path, name)
    _, user = any_engine.create(name, "true")
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)

    def warning(_parent: object, _title: str, text: str, *_a: object) -> object:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "warning", warning)
    window = open_images(qtbot, make_session, any_engine)
    said: list[str] = []
    window.session.message.connect(lambda _level, text: said.append(text))
    select(qtbot, window, image_id)
    window.images_page.remove_button.click()
    # Podman under CI load once took over 20 s here; what the window said tells why.
    try:
        qtbot.waitUntil(lambda: window.images_page.model.row_of(image_id) is None,
                        timeout=60_000)
    except QtTimeoutError as exc:
        raise AssertionError(f"the row stayed; asked {asked}, the window said {said}") from exc
    assert len(asked) == 1
    assert f"It is used by 1 container: {user}." in asked[0]
    assert any_engine.cli("images", "-q", name) == ""


def test_tag_and_filters(qtbot: QtBot, make_session, any_engine: EngineUnderTest,
                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"dockyard-test/{unique_name('tagme')}:1"
    image_id = make_image(any_engine, tmp_path, name)
    new_name = f"dockyard-test/{unique_name('tagged')}:v2"
    window = open_images(qtbot, make_session, any_engine)
    page = window.images_page
    try:
        select(qtbot, window, image_id)
        dialog = open_tag_dialog(qtbot, window)
        assert dialog.name.text() == any_engine.qualified(name)
        dialog.name.setText(new_name)
        assert dialog.problem() == ""
        # Closed (and deleted) once the engine tagged it.
        with qtbot.waitSignals([dialog.tagged, dialog.finished], timeout=10_000):
            qtbot.mouseClick(dialog.tag_button, Qt.MouseButton.LeftButton)
        row = page.model.row_of(image_id)
        qtbot.waitUntil(lambda: any_engine.qualified(new_name) in
                        page.model.item_at(page.model.row_of(image_id) or 0).image.repo_tags,
                        timeout=10_000)
        assert row is not None
        assert page.model.index(page.model.row_of(image_id) or 0, 1).data() in ("1 (+1)",
                                                                                  "v2 (+1)")
        page.unused_only.setChecked(True)
        assert page.proxy.rowCount() == 1  # the search still narrows to our image, unused
        any_engine.create(name, "true")
        qtbot.waitUntil(lambda: page.proxy.rowCount() == 0, timeout=10_000)
    finally:
        any_engine.remove_test_containers()
        any_engine.cli("rmi", "-f", name, new_name, check=False)


def test_prune_removes_only_dangling_images(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"dockyard-test/{unique_name('dangle')}:1"
    old_id = make_image(any_engine, tmp_path, name)
    kept = f"dockyard-test/{unique_name('kept')}:1"
    kept_id = make_image(any_engine, tmp_path, kept)
    # Building the same tag again leaves the first image untagged: dangling.
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "Dockerfile").write_text(
        f"FROM {any_engine.image}\nLABEL {LABEL_KEY}={RUN_ID}\nRUN echo other > /name\n")
    any_engine.cli("build", "-q", "-t", name, str(tmp_path / "again"))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)
    window = open_images(qtbot, make_session, any_engine)
    page = window.images_page
    messages: list[str] = []
    window.session.message.connect(lambda _l, text: messages.append(text))
    try:
        qtbot.waitUntil(lambda: page.model.row_of(old_id) is not None, timeout=10_000)
        row = page.model.row_of(old_id)
        assert row is not None and page.model.item_at(row).image.dangling
        page.dangling_only.setChecked(True)
        assert all(page.proxy.index(r, 0).data() == "<none>"
                   for r in range(page.proxy.rowCount()))
        # Only this run's images: the test must not prune anything it did not make.
        page.prune_dangling(filters={"label": [LABEL]})
        qtbot.waitUntil(lambda: page.model.row_of(old_id) is None, timeout=20_000)
        assert page.model.row_of(kept_id) is not None
        qtbot.waitUntil(lambda: any(m.startswith("Removed ") for m in messages))
        assert any_engine.cli("images", "-q", kept) != ""
    finally:
        any_engine.cli("rmi", "-f", name, kept, check=False)


def test_a_bad_tag_is_marked_inline_and_nothing_is_sent(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"dockyard-test/{unique_name('badtag')}:1"
    image_id = make_image(any_engine, tmp_path, name)
    sent: list[tuple[str, ...]] = []
    real_tag = engine.Engine.tag_image

    async def spy(self: engine.Engine, *args: Any, **kwargs: Any) -> Any:
        sent.append(args)
        return await real_tag(self, *args, **kwargs)

    monkeypatch.setattr(engine.Engine, "tag_image", spy)
    window = open_images(qtbot, make_session, any_engine)
    messages: list[tuple[object, str]] = []
    window.session.message.connect(lambda level, text: messages.append((level, text)))
    new_name = f"dockyard-test/{unique_name('retag')}:2"
    try:
        select(qtbot, window, image_id)
        dialog = open_tag_dialog(qtbot, window)
        dialog.name.clear()
        qtbot.keyClicks(dialog.name, "Bad Name:x y")
        assert dialog.problem() == "'Bad Name:x y': repository names must be lowercase"
        assert dialog.hint.isVisible()
        assert not dialog.tag_button.isEnabled()
        qtbot.keyClick(dialog.name, Qt.Key.Key_Return)  # Enter does not send it either
        assert dialog.isVisible()
        assert dialog.name.text() == "Bad Name:x y"
        dialog.name.setText(f"{new_name}@sha256:{'a' * 64}")
        assert "cannot have a digest" in dialog.problem()
        assert not dialog.tag_button.isEnabled()
        assert sent == []

        # A valid name the engine refuses (the image went away meanwhile): kept, said inline.
        dialog.name.setText(new_name)
        assert dialog.problem() == ""
        assert dialog.tag_button.isEnabled()
        any_engine.cli("rmi", "-f", name)
        qtbot.mouseClick(dialog.tag_button, Qt.MouseButton.LeftButton)
        assert dialog.busy and dialog.tag_button.text() == "Tagging…"
        qtbot.waitUntil(lambda: dialog.problem() != "", timeout=10_000)
        assert dialog.problem().startswith("The engine refused: ")
        assert name in dialog.problem()  # the engine's words name the image it lacks
        assert dialog.isVisible()
        assert dialog.name.text() == new_name
        assert dialog.tag_button.isEnabled()
        assert len(sent) == 1
        assert not [m for m in messages if m[0] == MessageLevel.ERROR]
    finally:
        any_engine.cli("rmi", "-f", name, new_name, check=False)
