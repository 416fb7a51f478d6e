"""The Files tab of the container pane against real engines: browse, changes, open, save,
drop to copy in, refusals."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QModelIndex, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.pages import container_files
from app.pages.container_files import ContainerFilesTab
from app.presentation import human_size
from app.session import EngineSession
from tests.app.conftest import answer
from tests.app.test_container_detail import open_page, select
from tests.conftest import EngineUnderTest
from tests.engine.test_container_files import run_and_stop
from tests.waits import wait_ms

WAIT = wait_ms(30)


def files_tab(qtbot: QtBot, make_session: Callable[[str], EngineSession],
              target: EngineUnderTest, container_id: str, name: str) -> ContainerFilesTab:
    page = open_page(qtbot, make_session, target)
    select(qtbot, page, container_id, name)
    tab = page.detail.files
    page.detail.tabs.setCurrentWidget(tab)
    wait_read(qtbot, tab)
    return tab


def wait_read(qtbot: QtBot, tab: ContainerFilesTab) -> None:
    qtbot.waitUntil(lambda: "/" in tab.model.complete and not tab.reads
                    and tab.model.settled_now() and bool(tab.changes), timeout=WAIT)


def child(qtbot: QtBot, tab: ContainerFilesTab, parent: QModelIndex, name: str
          ) -> QModelIndex:
    """The row ``name`` under ``parent``, opening ``parent`` as the view would."""
    model = tab.model
    if model.canFetchMore(parent):
        model.fetchMore(parent)
    qtbot.waitUntil(model.settled_now, timeout=WAIT)
    for row in range(model.rowCount(parent)):
        if model.index(row, 0, parent).data() == name:
            return model.index(row, 0, parent)
    raise AssertionError(f"{name} not under {parent.data()}")


def cells(tab: ContainerFilesTab, index: QModelIndex) -> list[str]:
    return [str(tab.model.index(index.row(), c, index.parent()).data())
            for c in range(tab.model.columnCount())]


def test_browse_changes_search_open_and_save(
    qtbot: QtBot, make_session: Callable[[str], EngineSession], any_engine: EngineUnderTest,
    qtmodeltester: ModelTester, tmp_path: Path,
) -> None:
    container_id, name = run_and_stop(any_engine)
    tab = files_tab(qtbot, make_session, any_engine, container_id, name)
    qtmodeltester.check(tab.model)
    top = {tab.model.index(r, 0).data() for r in range(tab.model.rowCount())}
    assert {"bin", "data", "etc"} <= top
    data = child(qtbot, tab, QModelIndex(), "data")
    assert cells(tab, data)[1] == human_size(3013)
    assert cells(tab, data)[6] == "added"  # marked from /changes
    hello = child(qtbot, tab, data, "hello.txt")
    row = cells(tab, hello)
    assert row[1:4] == [human_size(5), "-rw-r-----", "0:0"] and row[4]
    assert cells(tab, child(qtbot, tab, data, "link"))[5] == "hello.txt"
    assert "entries read" in tab.summary.text()

    # Sorting by size, largest first: deep (3000 B) before hello.txt.
    tab.view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    data = child(qtbot, tab, QModelIndex(), "data")
    assert tab.model.index(0, 0, data).data() == "deep"
    qtmodeltester.check(tab.model)

    # Changes only: what `docker diff` lists, removed paths included.
    tab.changes_only.setChecked(True)
    qtbot.waitUntil(lambda: tab.model.static, timeout=WAIT)
    shown: set[str] = set()

    def walk(parent: QModelIndex) -> None:
        for r in range(tab.model.rowCount(parent)):
            index = tab.model.index(r, 0, parent)
            entry = tab.model.entry(index)
            assert entry is not None
            if tab.model.index(r, 6, parent).data():
                shown.add(f"{tab.model.index(r, 6, parent).data()[0].upper()} {entry.path}")
            walk(index)

    walk(QModelIndex())
    cli = {line.replace("C ", "M ", 1).replace("D ", "R ", 1)
           for line in any_engine.cli("diff", name).splitlines()}
    assert shown == cli
    qtmodeltester.check(tab.model)
    tab.changes_only.setChecked(False)

    # Search by name in what is loaded.
    tab.search.setText("hello")
    assert tab.model.static
    data = child(qtbot, tab, QModelIndex(), "data")
    assert [tab.model.index(r, 0, data).data() for r in range(tab.model.rowCount(data))] \
        == ["hello.txt"]
    assert "1 match" in tab.box.status.text()
    tab.view.setCurrentIndex(tab.model.index(0, 0, data))
    viewer = tab.open_selected()
    assert viewer is not None
    qtbot.waitUntil(lambda: "text" in viewer.info.text(), timeout=WAIT)
    assert viewer.text.toPlainText() == "hello"
    assert viewer.info.text().startswith("ASCII text, 5 B")
    viewer.close()
    tab.search.clear()

    with qtbot.waitSignal(tab.ended, timeout=WAIT) as saved:
        tab.save_to("/data", tmp_path / "data")
    assert saved.args[0] == f"Saved /data to {tmp_path / 'data'}"
    assert (tmp_path / "data" / "hello.txt").read_bytes() == b"hello"


def drop(tab: ContainerFilesTab, index: QModelIndex, paths: list[Path]) -> None:
    """Drop local files on the row ``index``, as a file manager's drag does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    tab.view.scrollTo(index)
    point = QPointF(tab.view.visualRect(index).center())
    event = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    tab.view.dropEvent(event)


def test_drop_copies_in_after_asking_and_round_trips(
    qtbot: QtBot, make_session: Callable[[str], EngineSession], any_engine: EngineUnderTest,
    tmp_path: Path,
) -> None:
    container_id, name = run_and_stop(any_engine)
    tab = files_tab(qtbot, make_session, any_engine, container_id, name)
    payload = os.urandom(200_000)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "payload.bin").write_bytes(payload)
    data = child(qtbot, tab, QModelIndex(), "data")
    drop(tab, data, [tmp_path / "in"])
    question = answer(qtbot, "copy-in-question", "Copy In")
    assert f"Copy in into /data of {name}?" in question
    qtbot.waitUntil(lambda: tab.box.status.text().startswith("Copied"), timeout=WAIT)
    any_engine.cli("cp", f"{name}:/data/in/payload.bin", str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == payload
    # The tree was read again: the new folder is there.
    wait_read(qtbot, tab)
    assert cells(tab, child(qtbot, tab, child(qtbot, tab, QModelIndex(), "data"), "in"))[1] == \
        human_size(200_000)

    # Cancel on the question copies nothing.
    drop(tab, child(qtbot, tab, QModelIndex(), "etc"), [tmp_path / "in"])
    answer(qtbot, "copy-in-question", "Cancel")
    assert "in" not in {tab.model.index(r, 0, child(qtbot, tab, QModelIndex(), "etc")).data()
                        for r in range(tab.model.rowCount(child(qtbot, tab, QModelIndex(), "etc")))}


def test_read_only_container_refuses_in_the_daemons_words(
    qtbot: QtBot, make_session: Callable[[str], EngineSession], any_engine: EngineUnderTest,
    tmp_path: Path,
) -> None:
    container_id, name = any_engine.create("--read-only", any_engine.image, "true")
    page = open_page(qtbot, make_session, any_engine)
    select(qtbot, page, container_id, name)
    tab = page.detail.files
    page.detail.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: "/" in tab.model.complete and not tab.reads, timeout=WAIT)
    (tmp_path / "f.txt").write_text("x")
    tab.confirm_copy_in("/", [str(tmp_path / "f.txt")])
    answer(qtbot, "copy-in-question", "Copy In")
    with qtbot.waitSignal(tab.ended, timeout=WAIT) as refused:
        pass
    assert refused.args[0].startswith("The engine refused the copy into /:")
    assert "read-only" in refused.args[0]


def test_drag_out_saves_first_and_cancel_stops_a_read(
    qtbot: QtBot, make_session: Callable[[str], EngineSession], any_engine: EngineUnderTest,
) -> None:
    container_id, name = run_and_stop(any_engine)
    tab = files_tab(qtbot, make_session, any_engine, container_id, name)
    hello = tab.model.entry(child(qtbot, tab, child(qtbot, tab, QModelIndex(), "data"),
                                  "hello.txt"))
    assert hello is not None
    # What a drag to the desktop carries: a local copy, written while the drag runs.
    with qtbot.waitSignal(tab.ended, timeout=WAIT) as saved:
        local = tab._prepare_drag(hello)
    assert local is not None and local.name == "hello.txt"
    assert saved.args[0] == f"Saved /data/hello.txt to {local}"
    assert local.read_bytes() == b"hello"

    # Cancel right after a reload: the read stops at its first batch and says so.
    with qtbot.waitSignal(tab.ended, timeout=WAIT,
                          check_params_cb=lambda text: text == "Cancelled."):
        tab.reload()
        assert tab.cancel_button.isEnabled()
        tab.cancel()
    assert "/" not in tab.model.complete and not tab.reads


def test_save_clicked_twice_saves_once(
    qtbot: QtBot, make_session: Callable[[str], EngineSession], any_engine: EngineUnderTest,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    container_id, name = run_and_stop(any_engine)
    tab = files_tab(qtbot, make_session, any_engine, container_id, name)
    tab.view.setCurrentIndex(child(qtbot, tab, QModelIndex(), "data"))
    asked: list[str] = []

    class Chooser:
        """The folder chooser: the user picks tmp_path; while it is open (its nested
        event loop), the second click of a double-click on Save… arrives."""

        @staticmethod
        def getExistingDirectory(_parent: object, caption: str) -> str:
            asked.append(caption)
            if len(asked) == 1:
                tab.save_selected()
            return str(tmp_path)

    monkeypatch.setattr(container_files, "QFileDialog", Chooser)
    with qtbot.waitSignal(tab.ended, timeout=WAIT,
                          check_params_cb=lambda text: text.startswith("Saved")) as saved:
        tab.save_button.click()
        assert tab.transferring and not tab.save_button.isEnabled()
        # Save… again while the save runs (a shortcut, a queued click): it says so.
        with qtbot.waitSignal(tab.ended, timeout=WAIT) as refused:
            tab.save_selected()
        assert refused.args[0] == "Another copy is running: wait for it or cancel it"
    assert asked == ["Save the folder data into"]
    assert saved.args[0] == f"Saved /data to {tmp_path / 'data'}"
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # one save, not "data (2)"
    assert (tmp_path / "data" / "hello.txt").read_bytes() == b"hello"
    qtbot.waitUntil(lambda: tab.save_button.isEnabled(), timeout=WAIT)
