"""Image removal (with the second confirmation), tagging, pruning and the filters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.exceptions import TimeoutError as QtTimeoutError
from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.pages.images import ImagesPage
from app.pages.tag_dialog import TagDialog
from app.session import EngineSession, MessageLevel
from tests.app.conftest import answer, shown_box, wait_connected
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.waits import wait_ms

# Builds and layers: where the window shows Docker 26 (BuildKit, OCI export) differently.
pytestmark = pytest.mark.docker26


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
    qtbot.waitUntil(lambda: page.row_of_image(image_id) is not None, timeout=wait_ms(10))
    page.search.setText(image_id.removeprefix("sha256:")[:12])
    assert page.proxy.rowCount() == 1
    page.table.selectRow(0)


def open_tag_dialog(qtbot: QtBot, window: MainWindow) -> TagDialog:
    window.images_page.tag_button.click()
    dialog = window.images_page.findChild(TagDialog)
    assert dialog is not None
    qtbot.waitExposed(dialog, timeout=wait_ms(5))
    return dialog


def test_removing_an_image_in_use_asks_again_naming_the_container(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    name = f"dockyard-test/{unique_name('inuse')}:1"
    image_id = make_image(any_engine, tmp_path, name)
    _, user = any_engine.create(name, "true")
    window = open_images(qtbot, make_session, any_engine)
    said: list[str] = []
    window.session.message.connect(lambda _level, text: said.append(text))
    select(qtbot, window, image_id)
    window.images_page.remove_button.click()
    answer(qtbot, "images-remove-confirm", "Remove")
    asked = answer(qtbot, "images-force-confirm", "Force removal", timeout=wait_ms(60))
    assert f"It is used by 1 container: {user}." in asked
    # Podman under CI load once took over 20 s here; what the window said tells why.
    try:
        qtbot.waitUntil(lambda: window.images_page.row_of_image(image_id) is None,
                        timeout=wait_ms(60))
    except QtTimeoutError as exc:
        raise AssertionError(f"the row stayed; the window said {said}") from exc
    assert shown_box("images-force-confirm") is None  # asked once
    assert any_engine.cli("images", "-q", name) == ""


def select_key(page: ImagesPage, key: str) -> None:
    """Select the row keyed ``key`` (a tag) through the search box, as a user would."""
    page.search.setText(key.rpartition(":")[0].rpartition("/")[2])
    assert page.proxy.rowCount() == 1
    page.table.selectRow(0)


def test_each_tag_is_a_row_and_remove_untags_until_the_last(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    first = f"dockyard-test/{unique_name('pertag-a')}:1"
    second = f"dockyard-test/{unique_name('pertag-b')}:local"
    image_id = make_image(any_engine, tmp_path, first)
    any_engine.cli("tag", first, second)
    window = open_images(qtbot, make_session, any_engine)
    page = window.images_page
    said: list[str] = []
    window.session.message.connect(lambda _level, text: said.append(text))
    one, two = any_engine.qualified(first), any_engine.qualified(second)
    try:
        qtbot.waitUntil(lambda: page.model.row_of(one) is not None
                        and page.model.row_of(two) is not None, timeout=wait_ms(10))
        row = page.model.row_of(two)
        assert row is not None
        assert page.model.index(row, 1).data() == "local"  # its own tag, no "(+1)"
        assert page.model.item_at(row).image.id == image_id
        # A link by image ID (the Disk page's) still finds it: one of its tags' rows.
        assert window.open_item("images", image_id)
        assert [r.image.id for r in page.selected_items()] == [image_id]

        # The pane shows the row's image, whichever tag is selected.
        select_key(page, two)
        qtbot.waitUntil(lambda: page.detail.image_id == image_id, timeout=wait_ms(10))
        page.remove_button.click()
        asked = answer(qtbot, "images-remove-confirm", "Remove")
        assert asked == f"Remove 1 tag: {second}?"  # as the docker CLI names it
        qtbot.waitUntil(lambda: page.model.row_of(two) is None, timeout=wait_ms(20))
        assert page.model.row_of(one) is not None
        assert any_engine.cli("image", "inspect", "--format", "{{.Id}}", first) != ""
        assert any_engine.cli("images", "-q", second) == ""
        qtbot.waitUntil(lambda: any(t.startswith(f"Untagged {second}") for t in said),
                        timeout=wait_ms(10))
        assert shown_box("images-force-confirm") is None

        # The last tag takes the image with it.
        select_key(page, one)
        qtbot.waitUntil(lambda: page.detail.image_id == image_id, timeout=wait_ms(10))
        page.remove_button.click()
        assert answer(qtbot, "images-remove-confirm", "Remove") == f"Remove 1 image: {first}?"
        qtbot.waitUntil(lambda: page.row_of_image(image_id) is None, timeout=wait_ms(20))
        assert any_engine.cli("images", "-q", first) == ""
        qtbot.waitUntil(lambda: any(t.startswith(f"Removed {first}") for t in said),
                        timeout=wait_ms(10))
    finally:
        any_engine.cli("rmi", "-f", first, second, check=False)


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
        with qtbot.waitSignals([dialog.tagged, dialog.finished], timeout=wait_ms(10)):
            qtbot.mouseClick(dialog.tag_button, Qt.MouseButton.LeftButton)
        # The new tag is a row of its own; the first tag's row stays as it was.
        qtbot.waitUntil(lambda: page.model.row_of(any_engine.qualified(new_name)) is not None,
                        timeout=wait_ms(10))
        new_row = page.model.row_of(any_engine.qualified(new_name))
        old_row = page.model.row_of(any_engine.qualified(name))
        assert new_row is not None and old_row is not None
        assert page.model.index(new_row, 1).data() == "v2"
        assert page.model.index(old_row, 1).data() == "1"
        page.unused_only.setChecked(True)
        assert page.proxy.rowCount() == 2  # the search still narrows to our image, unused
        any_engine.create(name, "true")
        qtbot.waitUntil(lambda: page.proxy.rowCount() == 0, timeout=wait_ms(10))
    finally:
        any_engine.remove_test_containers()
        any_engine.cli("rmi", "-f", name, new_name, check=False)


def test_prune_removes_only_dangling_images(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
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
    window = open_images(qtbot, make_session, any_engine)
    page = window.images_page
    messages: list[str] = []
    window.session.message.connect(lambda _l, text: messages.append(text))
    try:
        qtbot.waitUntil(lambda: page.model.row_of(old_id) is not None, timeout=wait_ms(10))
        row = page.model.row_of(old_id)
        assert row is not None and page.model.item_at(row).image.dangling
        page.dangling_only.setChecked(True)
        assert all(page.proxy.index(r, 0).data() == "<none>"
                   for r in range(page.proxy.rowCount()))
        # Only this run's images: the test must not prune anything it did not make.
        page.prune_dangling(filters={"label": [LABEL]})
        asked = answer(qtbot, "images-prune-confirm", "Prune")
        assert asked.startswith("Remove the ") and asked.endswith(" that no container uses?")
        qtbot.waitUntil(lambda: page.model.row_of(old_id) is None, timeout=wait_ms(20))
        assert page.row_of_image(kept_id) is not None
        # The row can go before the prune answers (Podman, under load): wait as long.
        qtbot.waitUntil(lambda: any(m.startswith("Removed ") for m in messages),
                        timeout=wait_ms(20))
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
        qtbot.waitUntil(lambda: dialog.problem() != "", timeout=wait_ms(10))
        assert dialog.problem().startswith("The engine refused: ")
        assert name in dialog.problem()  # the engine's words name the image it lacks
        assert dialog.isVisible()
        assert dialog.name.text() == new_name
        assert dialog.tag_button.isEnabled()
        assert len(sent) == 1
        assert not [m for m in messages if m[0] == MessageLevel.ERROR]
    finally:
        any_engine.cli("rmi", "-f", name, new_name, check=False)


class BoxDriver:
    """Answers questions from a timer: it works whether a box is modal or not, so the
    same test runs before and after questions stopped being modal."""

    def __init__(self, steps: list[tuple[Callable[[], bool], Callable[[], None]]],
                 deadline_s: float) -> None:
        self.steps = steps
        self.deadline = time.monotonic() + deadline_s
        self.timed_out = False
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    @property
    def done(self) -> bool:
        return not self.steps or self.timed_out

    def _tick(self) -> None:
        if self.done:
            self.timer.stop()
            return
        ready, act = self.steps[0]
        if ready():
            self.steps.pop(0)
            act()
        elif time.monotonic() > self.deadline:
            # Give up, closing every box so a nested (modal) loop returns to the test.
            self.timed_out = True
            for box in shown_boxes():
                box.reject()


def shown_boxes(title: str | None = None) -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible()
            and (title is None or w.windowTitle() == title)]


def click(title: str, *texts: str) -> None:
    """Press the button of the open box ``title`` whose text is one of ``texts``."""
    (box,) = shown_boxes(title)
    for button in box.buttons():
        if button.text().replace("&", "") in texts:
            button.click()
            return
    raise AssertionError(f"no {texts} in {[b.text() for b in box.buttons()]}")


def test_the_window_stays_live_while_a_question_asked_after_a_removal_is_open(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    """Issue 12.1: a question opened from the removal's outcome must not freeze the lists.

    A modal box there nested Qt's loop inside the session's task; the next engine event
    then failed with "Cannot enter into task … while another task … is being executed"
    and the window stopped following the engine.
    """
    name = f"dockyard-test/{unique_name('force')}:1"
    image_id = make_image(any_engine, tmp_path, name)
    any_engine.create(name, "true")  # in use: removing it needs force
    window = open_images(qtbot, make_session, any_engine)
    loop = asyncio.get_running_loop()
    errors: list[str] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(str(context)))
    created: list[str] = []
    said: list[str] = []
    window.session.message.connect(lambda _level, text: said.append(text))

    def create_container() -> None:
        created.append(any_engine.create(name, "true")[0])

    def container_listed() -> bool:
        return bool(created) and window.containers_page.model.row_of(created[0]) is not None

    try:
        select(qtbot, window, image_id)
        driver = BoxDriver([
            (lambda: bool(shown_boxes("Remove images")),
             lambda: click("Remove images", "Remove")),
            (lambda: bool(shown_boxes("Force removal")), create_container),
            # The list follows the engine while the question is open...
            (container_listed, lambda: click("Force removal", "Cancel")),
        ], deadline_s=30)
        window.images_page.remove_button.click()
        qtbot.waitUntil(lambda: driver.done, timeout=wait_ms(60))
        assert not driver.timed_out, (
            f"stuck {len(driver.steps)} steps before the end; loop errors: {errors};"
            f" the window said {said}")
        assert errors == []
        # ...and after it is answered.
        any_engine.cli("rm", "-f", created[0])
        qtbot.waitUntil(lambda: window.containers_page.model.row_of(created[0]) is None,
                        timeout=wait_ms(10))
        assert errors == []
    finally:
        loop.set_exception_handler(previous_handler)
        any_engine.remove_test_containers()
        any_engine.cli("rmi", "-f", name, check=False)
