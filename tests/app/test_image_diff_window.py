"""The Images page's "Compare with…": the picker, then the diff window with the
hand-computed answer of tests/test_diff.py (the same two images)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.pages.image_diff import ComparePicker, ImageDiffWindow
from app.presentation import same_repository_first
from tests.app.conftest import wait_connected
from tests.conftest import EngineUnderTest
from tests.test_diff import pair  # noqa: F401  (the fixture)
from tests.waits import wait_ms


def _row(model: object, index: QModelIndex) -> tuple[str, str, str]:
    return tuple(  # type: ignore[return-value]
        model.data(index.siblingAtColumn(c)) for c in range(3))  # type: ignore[attr-defined]


def test_compare_with_shows_the_changes_as_a_tree_and_the_config_beside(
    qtbot: QtBot, qtmodeltester: ModelTester, make_session, any_engine: EngineUnderTest,
    pair: tuple[str, str],  # noqa: F811
) -> None:
    first, second = pair
    session = make_session(any_engine.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    wait_connected(qtbot, session)
    window.sidebar.setCurrentRow(1)
    page = window.images_page
    reference = any_engine.qualified(first)
    qtbot.waitUntil(lambda: page.model.row_of(reference) is not None, timeout=wait_ms(10))
    page.search.setText(first.rsplit(":", 1)[1])
    qtbot.waitUntil(lambda: page.proxy.rowCount() >= 1, timeout=wait_ms(5))
    for row in range(page.proxy.rowCount()):
        if page.proxy.index(row, 1).data() == first.rsplit(":", 1)[1]:
            page.table.selectRow(row)
    assert [r.reference for r in page.selected_items()] == [reference]
    page.compare_button.click()
    picker = page.findChild(ComparePicker)
    assert picker is not None
    qtbot.waitExposed(picker, timeout=wait_ms(5))
    assert picker.combo.findText(any_engine.qualified(second)) >= 0
    assert picker.combo.findText(reference) < 0  # not with itself
    # The other tags of the same repository come first (the pair's parent and B), above a
    # separator, and the first is preselected: comparing two tags is a click away.
    repository = reference.rsplit(":", 1)[0]
    items = [picker.combo.itemText(i) for i in range(picker.combo.count())]
    same = [i for i in items if i.rsplit(":", 1)[0] == repository]
    assert any_engine.qualified(second) in same and len(same) >= 2
    assert items[:len(same)] == same
    if len(items) > len(same):  # then the other images, after a separator
        assert items[len(same)] == "" and items[len(same) + 1:] and not any(
            i.rsplit(":", 1)[0] == repository for i in items[len(same) + 1:])
    assert picker.combo.currentText() == same[0]
    assert f"(the other tags of {repository} first)" in " ".join(
        label.text() for label in picker.findChildren(QLabel))
    picker.combo.setCurrentText(any_engine.qualified(second))
    picker.accept()

    qtbot.waitUntil(lambda: any(isinstance(w, ImageDiffWindow) and w.diff is not None
                                for w in QApplication.topLevelWidgets()), timeout=wait_ms(60))
    view = next(w for w in QApplication.topLevelWidgets() if isinstance(w, ImageDiffWindow))
    assert view.summary.text().startswith(
        f"{reference} → {any_engine.qualified(second)}:  1 added, 2 removed, 3 modified; -3 Bytes")
    assert view.progress.isHidden()
    model = view.tree_model
    data = model.find("data")
    assert _row(model, data) == ("data/", "-3 Bytes", "")
    rows = {model.data(model.index(r, 0, data)): _row(model, model.index(r, 0, data))
            for r in range(model.rowCount(data))}
    assert rows == {
        "added.txt": ("added.txt", "+10 Bytes", "added"),
        "a-only.txt": ("a-only.txt", "-9 Bytes", "removed"),
        "removed.txt": ("removed.txt", "-4 Bytes", "removed"),
        "same.txt": ("same.txt", "0 Bytes", "modified: content"),
        "mode.sh": ("mode.sh", "0 Bytes", "modified: mode 0644 → 0755"),
        "link": ("link", "0 Bytes", "modified: link same.txt → kept.txt"),
    }
    # Biggest change first, whichever way.
    assert [model.data(model.index(r, 0, data)) for r in range(3)] == [
        "added.txt", "a-only.txt", "removed.txt"]
    facts = view.facts_model
    table = [tuple(facts.data(facts.index(r, c)) for c in range(4))
             for r in range(facts.rowCount())]
    assert table[0][:3] == ("Layers", "shared", table[0][3])
    assert table[0][2].startswith("3 (")
    assert [row[0] for row in table] == (
        ["Layers", "Layer", "Layer"] + ["History"] * 5 + ["Config"] * 2)
    assert table[-2:] == [("Config", "env APP_MODE", "one", "two"),
                          ("Config", "label dockyard.diff", "one", "two")]
    assert view.tree.isSortingEnabled()
    qtmodeltester.check(model)
    qtmodeltester.check(facts)
    assert Qt.WindowType.Window & view.windowFlags()
    view.close()


def test_the_tags_of_the_same_repository_come_first() -> None:
    others = ["busybox:latest", "registry:5000/app:v1", "sha256:" + "a" * 64,
              "registry:5000/app:v3", "registry:5000/app-tools:v1", "app:v2"]
    assert same_repository_first("registry:5000/app:v2", others) == (
        ["registry:5000/app:v1", "registry:5000/app:v3", "busybox:latest",
         "sha256:" + "a" * 64, "registry:5000/app-tools:v1", "app:v2"], 2)
    # An untagged image (its ID) has no repository: nothing is put first.
    assert same_repository_first("sha256:" + "b" * 64, others) == (others, 0)
