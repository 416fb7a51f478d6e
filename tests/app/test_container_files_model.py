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

    # Largest first: the page holds the largest of all entries.
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
    assert model.rowCount() == 0  # rows come back as the tree is opened again
