"""The container file tree model on its own: pages of a big folder, sorting, search, changes.

No engine: entries are what a read of a container's tar hands over (the tab's tests
read real containers); the model tester watches every signal.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import engine
from app.models import container_files
from app.models.container_files import ContainerFilesModel
from app.presentation import human_size
from tests.waits import wait_ms

PAGE = 20

DIR, FILE = engine.FileKind.DIRECTORY, engine.FileKind.FILE


def entries(files: int) -> list[engine.ContainerFile]:
    found = [engine.ContainerFile("/big", DIR, 0, 0o755, 0, 0, 1),
             engine.ContainerFile("/etc", DIR, 0, 0o755, 0, 0, 1),
             engine.ContainerFile("/etc/hosts", FILE, 10, 0o644, 0, 0, 2)]
    found += [engine.ContainerFile(f"/big/f-{i:05d}", FILE, i, 0o600, 1000, 1000, 3)
              for i in range(files)]
    return found


def names(model: ContainerFilesModel, parent: QModelIndex) -> list[str]:
    return [model.index(r, 0, parent).data() for r in range(model.rowCount(parent))]


def test_a_big_folder_shows_a_page_then_more(qtbot: QtBot, qtmodeltester: ModelTester,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Small pages: the model tester checks the whole model on every insert.
    monkeypatch.setattr(container_files, "PAGE", PAGE)
    model = ContainerFilesModel()
    qtmodeltester.check(model)
    total = PAGE * 2 + 5
    found = entries(total)
    for start in range(0, len(found), 700):  # batches, as a read hands them over
        model.add_entries(found[start:start + 700])
    model.finish_read("/", {"/": sum(range(total)) + 10, "/big": sum(range(total)),
                            "/etc": 10})
    qtbot.waitUntil(model.settled_now, timeout=wait_ms(5))
    assert names(model, QModelIndex()) == ["big", "etc"]
    big = model.index(0, 0)
    assert model.index(0, 1).data() == human_size(sum(range(total)))
    model.fetchMore(big)
    qtbot.waitUntil(model.settled_now, timeout=wait_ms(5))
    assert model.rowCount(big) == PAGE + 1
    more = model.index(PAGE, 0, big)
    assert model.is_more(more) and model.entry(more) is None
    assert more.data().startswith(f"… {total - PAGE:,} more")
    model.show_more(more)
    qtbot.waitUntil(model.settled_now, timeout=wait_ms(5))
    assert model.rowCount(big) == 2 * PAGE + 1
    model.show_more(model.index(2 * PAGE, 0, big))
    qtbot.waitUntil(model.settled_now, timeout=wait_ms(5))
    assert model.rowCount(big) == total  # all shown: the "more" row is gone
    assert not model.is_more(model.index(total - 1, 0, big))

    # Largest first: the page holds the largest of all entries (sorted in steps).
    with qtbot.waitSignal(model.settled, timeout=wait_ms(5)):
        model.sort(1, Qt.SortOrder.DescendingOrder)
    assert model.index(0, 0, big).data() == f"f-{total - 1:05d}"
    assert model.index(0, 3, big).data() == "1000:1000"
    assert model.index(0, 2, big).data() == "-rw-------"

    found_count, capped = model.search("F-0004")  # any case
    assert (found_count, capped) == (5, False) and model.static
    big = model.index(0, 0)
    assert names(model, big) == [f"f-0004{i}" for i in range(5)]

    model.show_changes([engine.ContainerChange("/etc/hosts", engine.ChangeKind.MODIFIED, 10),
                        engine.ContainerChange("/gone", engine.ChangeKind.REMOVED)])
    assert names(model, QModelIndex()) == ["etc", "gone"]
    assert model.index(1, 6).data() == "removed"
    assert model.index(1, 0).data(Qt.ItemDataRole.FontRole).strikeOut()
    model.browse()
    qtbot.waitUntil(model.settled_now, timeout=wait_ms(5))
    # The top level comes back (folders below as they are opened again).
    assert names(model, QModelIndex()) == ["big", "etc"]


def test_sorting_a_big_folder_runs_in_steps_and_keeps_reads_in_order(
        qtbot: QtBot, qtmodeltester: ModelTester, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small steps, so that a few thousand entries take many turns of the loop.
    monkeypatch.setattr(container_files, "PAGE", PAGE)
    monkeypatch.setattr(container_files, "SORT_PIECE", 64)
    model = ContainerFilesModel()
    qtmodeltester.check(model)
    total = 3000
    # Sizes out of name order, with ties (stable: ties keep name order).
    found = [engine.ContainerFile("/big", DIR, 0, 0o755, 0, 0, 1)]
    found += [engine.ContainerFile(f"/big/f-{i:05d}", FILE, (i * 7919) % 1000, 0o600, 0, 0,
                                   i % 13) for i in range(total)]
    model.add_entries(found)
    model.finish_read("/", {"/": 0, "/big": 0})
    qtbot.waitUntil(model.settled_now, timeout=wait_ms(5))
    big = model.index(0, 0)
    model.fetchMore(big)
    qtbot.waitUntil(model.settled_now, timeout=wait_ms(5))

    steps = 0
    real_step = model._step_sort

    def counted_step() -> None:
        nonlocal steps
        steps += 1
        real_step()

    monkeypatch.setattr(container_files, "SLICE_SECONDS", 0.0)  # one step per turn
    model._sort_timer.timeout.disconnect()
    model._sort_timer.timeout.connect(counted_step)
    with qtbot.waitSignal(model.settled, timeout=wait_ms(10)):
        model.sort(1, Qt.SortOrder.DescendingOrder)
        assert not model.settled_now()  # not sorted inside the call: in steps
    assert steps > 10
    expected = sorted(found[1:], key=lambda e: e.size, reverse=True)
    assert model.known["/big"] == expected
    assert names(model, big)[:PAGE] == [e.name for e in expected[:PAGE]]

    # Entries a read adds while a sort runs are sorted once the read ends.
    model.sort(4, Qt.SortOrder.AscendingOrder)  # by mtime
    model.add_entries([engine.ContainerFile("/big/zz-late", FILE, 1, 0o600, 0, 0, 0)])
    qtbot.waitUntil(model.settled_now, timeout=wait_ms(10))
    model.finish_read("/", {"/": 0, "/big": 0})
    qtbot.waitUntil(model.settled_now, timeout=wait_ms(10))
    assert model.known["/big"] == sorted(model.known["/big"], key=lambda e: e.mtime)
    late = [e.name for e in model.known["/big"]].index("zz-late")
    assert model.known["/big"][late + 1].mtime == 1  # last of the oldest (a stable sort)
    assert len(model.known["/big"]) == total + 1
    assert names(model, big)[:PAGE] == [e.name for e in model.known["/big"][:PAGE]]


def test_a_big_root_shows_its_page_again_after_a_search(
        qtbot: QtBot, qtmodeltester: ModelTester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container_files, "PAGE", PAGE)
    model = ContainerFilesModel()
    qtmodeltester.check(model)
    total = PAGE * 2
    model.add_entries([engine.ContainerFile(f"/f-{i:03d}", FILE, i) for i in range(total)])
    model.finish_read("/", {"/": sum(range(total))})
    qtbot.waitUntil(model.settled_now, timeout=wait_ms(5))
    assert model.rowCount() == PAGE + 1 and model.is_more(model.index(PAGE, 0))
    model.search("f-00")
    model.browse()
    qtbot.waitUntil(lambda: model.settled_now() and model.rowCount() > 0, timeout=wait_ms(5))
    assert model.rowCount() == PAGE + 1  # its page and one "more" row, as before
    assert model.index(PAGE, 0).data().startswith(f"… {total - PAGE:,} more")
