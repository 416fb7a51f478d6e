"""The image detail's layer tree, files, efficiency and shared layers, on real images."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QTreeView
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.models.file_tree import FileTreeModel, PathInfo
from app.pages.image_layers import LAYER_COLOURS, LayerView, SizeBar, layer_colour
from app.pages.images import ImagesPage
from app.presentation import human_size
from app.session import EngineSession
from app.theme import contrast
from tests.app.conftest import await_in_qt, wait_connected
from tests.conftest import LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.faults import SocketRelay
from tests.waits import seconds, wait_ms

# Builds and layers: where the window shows Docker 26 (BuildKit, OCI export) differently.
pytestmark = pytest.mark.docker26


def test_file_tree_builds_folders_only_when_expanded(qtmodeltester: ModelTester) -> None:
    model = FileTreeModel()
    paths = [PathInfo(f"usr/share/doc/pkg{n // 100}/file{n}", n) for n in range(40_000)]
    paths.append(PathInfo("etc/removed.conf", 999, "removed"))
    model.set_paths(paths)
    assert model._root.children is None  # nothing built before a view asks
    assert model.rowCount() == 2  # etc/ and usr/
    usr = model.index(1, 0)
    assert usr.data() == "usr/"
    assert model._node(usr).children is None  # usr/ not expanded yet
    assert model.index(1, 1).data() == "800.0 MB"  # sum(range(40_000)) bytes
    # Removed paths do not count towards the folder that no longer holds them.
    assert model.index(0, 1).data() == "0 Bytes"
    found = model.find("usr/share/doc/pkg7/file712")
    assert found.isValid() and found.data() == "file712"
    qtmodeltester.check(model)


def build_image(target: EngineUnderTest, tmp_path: Path) -> str:
    folder = tmp_path / "layers"
    folder.mkdir()
    (folder / "Dockerfile").write_text(
        f"FROM {target.image}\n"
        f"LABEL {LABEL_KEY}={RUN_ID}\n"
        "RUN mkdir /app && dd if=/dev/zero of=/app/big bs=1024 count=300\n"
        "ENV MODE=test\n"
        "RUN rm /app/big && echo hi > /app/small\n"
        'CMD ["sh"]\n')
    tag = f"dockyard-test/{unique_name('layers')}:1"
    target.cli("build", "-q", "-t", tag, str(folder), timeout=seconds(300))
    return tag


def open_image(qtbot: QtBot, make_session: Callable[[str], EngineSession], url: str,
               tag: str) -> tuple[MainWindow, ImagesPage]:
    """The window's Images page with ``tag`` (and only it) shown and selected.

    The caller keeps the window: qtbot holds it weakly, and a window collected
    mid-test takes its pages' C++ objects with it (a crash, or "already deleted").
    """
    session = make_session(url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    wait_connected(qtbot, session)
    page = window.images_page
    page.search.setText(tag.split("/")[1].split(":")[0])
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 1, timeout=wait_ms(10))
    page.table.selectRow(0)
    return window, page


def test_file_tree_sorts_built_folders_and_keeps_selections(
    qtbot: QtBot, qtmodeltester: ModelTester,
) -> None:
    model = FileTreeModel()
    model.set_paths([PathInfo("b/small", 1), PathInfo("b/big", 500), PathInfo("a", 20),
                     PathInfo("c/x", 7), PathInfo("B2", 3)])
    view = QTreeView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setSortingEnabled(True)

    def names(parent: QModelIndex = QModelIndex()) -> list[str]:  # noqa: B008
        return [model.index(r, 0, parent).data() for r in range(model.rowCount(parent))]

    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert names() == ["b/", "c/", "a", "B2"]  # folders first, then by name, any case
    b = QPersistentModelIndex(model.find("b/small"))
    view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    assert names() == ["b/", "a", "c/", "B2"]  # 501, 20, 7, 3 bytes
    assert names(model.find("b")) == ["big", "small"]
    assert b.isValid() and b.row() == 1 and b.data() == "small"  # followed its row
    view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert names(model.find("b")) == ["small", "big"] and b.row() == 0
    model.set_paths([PathInfo("z/1", 1), PathInfo("z/2", 2)])
    assert names(model.index(0, 0)) == ["1", "2"]  # a new tree keeps the order
    qtmodeltester.check(model)


def test_layers_files_and_waste_of_a_real_image(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
    qtmodeltester: ModelTester,
) -> None:
    tag = build_image(any_engine, tmp_path)
    try:
        _window, page = open_image(qtbot, make_session, any_engine.url, tag)
        detail = page.detail
        qtbot.waitUntil(lambda: detail.analysis is not None, timeout=wait_ms(60))
        analysis = detail.analysis
        assert analysis is not None
        # busybox COPY + RUN, then our two RUNs: four filesystem layers.
        assert len(analysis.layers) == 4
        view = detail.layer_view
        top = [view.layers_model.item(r, 2).text() for r in range(view.layers_model.rowCount())]
        assert top[2] == "RUN mkdir /app && dd if=/dev/zero of=/app/big bs=1024 count=300"
        assert top[3] == "RUN rm /app/big && echo hi > /app/small"
        metadata = view.layers_model.item(2, 0)
        assert metadata.rowCount() == 1 and metadata.child(0, 2).text() == "ENV MODE=test"
        # The newest layer is selected; its changes: /app/big removed, /app/small added.
        assert view.selected_layer() == 3
        qtbot.waitUntil(lambda: view.files_title.text().startswith(
            "Changes in layer 4 of 4 (step "), timeout=wait_ms(5))
        marks = {}
        app_dir = view.files_model.find("app")
        for row in range(view.files_model.rowCount(app_dir)):
            name = view.files_model.index(row, 0, app_dir).data()
            marks[name] = view.files_model.index(row, 2, app_dir).data()
        assert marks == {"big": "removed", "small": "added"}
        # The step named is the one the Build steps tab lists under that number.
        step = int(view.files_title.text().split("(step ", 1)[1].split(")", 1)[0])
        history = detail.history_model
        rows = [history.index(r, 1).data() for r in range(history.rowCount())
                if history.index(r, 0).data() == str(step)]
        assert rows == ["RUN rm /app/big && echo hi > /app/small"]
        qtmodeltester.check(view.files_model)

        # Other lists are made in a worker thread, then kept: going back is immediate.
        view.mode.setCurrentIndex(view.AGGREGATED)
        assert view.files_title.text() == "Listing the files of layer 4…"
        qtbot.waitUntil(lambda: view.files_title.text().startswith(
            "The filesystem with layers 1 to 4 of 4 (step "), timeout=wait_ms(5))
        assert view.files_model.find("app/big").isValid() is False
        assert view.files_model.find("app/small").isValid()
        view.select_layer(2)
        qtbot.waitUntil(lambda: view.files_title.text().startswith(
            "The filesystem with layers 1 to 3 of 4 (step "), timeout=wait_ms(5))
        assert view.files_model.find("app/big").isValid()
        view.mode.setCurrentIndex(view.CHANGES)
        view.select_layer(3)
        assert view.files_title.text().startswith("Changes in layer 4 of 4 (step ")  # no wait: kept
        assert view.files_model.find("app/small").isValid()

        efficiency = detail.efficiency
        assert efficiency.summary.text().startswith("<b>307.2 kB</b> wasted of")
        assert efficiency.waste_model.rowCount() == 1
        assert efficiency.waste_model.index(0, 0).data() == "/app/big"
        # Layers count from 1, as build steps do: written in layer 3, deleted in layer 4.
        headers = [efficiency.waste_model.headerData(c, Qt.Orientation.Horizontal)
                   for c in range(4)]
        assert headers == ["Path", "Wasted", "Written in layer", "Hidden by layer"]
        assert [efficiency.waste_model.index(0, c).data() for c in (2, 3)] == ["3", "4"]
        assert [view.layers_model.item(r, 0).text() for r in range(4)] == ["1", "2", "3", "4"]
        assert view.bar.labels == ["1", "2", "3", "4"]
        qtbot.waitUntil(lambda: "Shares up to" in efficiency.shared.text(), timeout=wait_ms(30))
        base = next(s for s in efficiency.shared_with
                    if s.name == any_engine.qualified(any_engine.image))
        assert base.layers == 2
        # What the two layers of our own steps hold is not shared: 307,200 + 3 bytes.
        unique = analysis.layers[2].size + analysis.layers[3].size
        assert f"<b>{human_size(unique)}</b> is this image's own." in efficiency.shared.text()
    finally:
        any_engine.cli("rmi", "-f", tag, check=False)


def test_build_steps_and_layers_give_one_size_per_step(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    """Podman's history sizes are layer tar lengths (headers, padding): once the layers
    are read, a step shows its layer's size, on Docker and Podman alike (issue 12.11)."""
    tag = build_image(any_engine, tmp_path)
    try:
        _window, page = open_image(qtbot, make_session, any_engine.url, tag)
        detail = page.detail
        qtbot.waitUntil(lambda: detail.analysis is not None, timeout=wait_ms(60))
        analysis = detail.analysis
        assert analysis is not None
        history, view = detail.history_model, detail.layer_view
        steps = {history.index(r, 1).data(): (history.index(r, 2).data(),
                                              history.index(r, 2).data(Qt.ItemDataRole.ToolTipRole))
                 for r in range(history.rowCount())}
        for row, layer in enumerate(analysis.layers):
            instruction = view.layers_model.item(row, 2).text()
            shown = view.layers_model.item(row, 1).text()
            assert steps[instruction] == (shown, f"{layer.size:,} bytes"), instruction
        # The big file's step: its bytes, not its tar's (307,712 on Podman).
        assert steps["RUN mkdir /app && dd if=/dev/zero of=/app/big bs=1024 count=300"][1] \
            == "307,200 bytes"
        assert steps["ENV MODE=test"][1] == "0 bytes"
    finally:
        any_engine.cli("rmi", "-f", tag, check=False)


def test_layer_tree_shows_before_the_export_is_read(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    tag = build_image(any_engine, tmp_path)
    relay = SocketRelay(any_engine.endpoint.socket_path or "", tmp_path / "relay.sock")
    await_in_qt(qtbot, relay.start())
    relay.hold(b"/get ")  # the export answers only when the test says so
    try:
        _window, page = open_image(qtbot, make_session, relay.url, tag)
        detail, view = page.detail, page.detail.layer_view
        qtbot.waitUntil(lambda: view.layers_model.rowCount() == 4, timeout=wait_ms(10))
        assert detail.analysis is None
        rows = [view.layers_model.item(r, 2).text() for r in range(4)]
        assert rows[3] == "RUN rm /app/big && echo hi > /app/small"
        assert view.layers_model.item(2, 0).child(0, 2).text() == "ENV MODE=test"
        assert view.selected_layer() == 3
        assert view.files_title.text() == "Reading the files of the layers…"
        view.select_layer(2)  # the user picks a layer while the export is still held

        relay.release()
        qtbot.waitUntil(lambda: detail.analysis is not None, timeout=wait_ms(60))
        assert [view.layers_model.item(r, 2).text() for r in range(4)] == rows
        assert view.selected_layer() == 2  # the exact tree kept the user's choice
        qtbot.waitUntil(lambda: view.files_title.text().startswith(
            "Changes in layer 3 of 4 (step "), timeout=wait_ms(5))
    finally:
        relay.release()
        await_in_qt(qtbot, relay.cut())
        any_engine.cli("rmi", "-f", tag, check=False)


def test_folder_bar_splits_where_the_bytes_do(qtbot: QtBot) -> None:
    view = LayerView()
    qtbot.addWidget(view)
    model = view.files_model
    model.set_paths([PathInfo("usr/share/doc/a", 600), PathInfo("usr/share/man/b", 300),
                     PathInfo("usr/bin/c", 50), PathInfo("etc/d", 10),
                     PathInfo("usr/share/gone", 5000, "removed")])
    # usr holds 95 % of the bytes, usr/share 90 % of usr: the split is inside usr/share.
    assert model.breakdown() == ("usr/share", [("usr/share/doc", 600), ("usr/share/man", 300)])
    view._show_folders()
    assert view.folder_title.text() == "In /usr/share:"
    assert view.folder_bar.labels == ["doc/", "man/"]
    view.folder_bar.resize(400, 28)
    block = view.folder_bar.blocks()[1]
    qtbot.mouseClick(view.folder_bar, Qt.MouseButton.LeftButton, pos=block.center())
    current = view.files.currentIndex()
    assert current.isValid() and current.data() == "man/"


def test_layer_bar_labels_read_on_every_tint_and_a_tiny_selection_pales_nothing(
        qtbot: QtBot) -> None:
    bar = SizeBar("bar", "Bytes per layer")
    qtbot.addWidget(bar)
    bar.resize(600, 28)
    colours = [layer_colour(n) for n in range(len(LAYER_COLOURS))] + [QColor("#8c8c8c")]
    bar.set_blocks([100] * len(colours), [str(n) for n in range(len(colours))], colours)
    for index, colour in enumerate(colours):
        assert contrast(bar.text_colour(index), colour) >= 4.5, colour.name()
    # The newest layer is selected by default and is often 0 B: the others keep their colour.
    bar.set_blocks([5000, 3000, 0], ["1", "2", "3"], colours[:3])
    bar.selected = 2
    image = QImage(bar.size(), QImage.Format.Format_RGB32)
    bar.render(image)
    for index, rect in enumerate(bar.blocks()[:2]):
        assert QColor(image.pixel(QPoint(rect.left() + 2, 2))) == colours[index]


def test_a_narrow_block_shortens_the_name_and_keeps_the_size(qtbot: QtBot) -> None:
    bar = SizeBar("bar", "Bytes per folder")
    qtbot.addWidget(bar)
    bar.set_blocks([12_300_000], ["fonts-dejavu-core-and-more/"], [layer_colour(0)])
    metrics = bar.fontMetrics()
    full = "fonts-dejavu-core-and-more/  12.3 MB"
    assert bar.block_text(0, metrics.horizontalAdvance(full)) == full
    short = bar.block_text(0, metrics.horizontalAdvance("fonts-de…  12.3 MB"))
    assert short.startswith("fon") and short.endswith("…  12.3 MB"), short
    assert bar.block_text(0, metrics.horizontalAdvance("12.3 MB") + 2) == "12.3 MB"
    assert bar.block_text(0, 5) == ""


def test_the_export_wait_is_told_and_a_second_open_needs_no_export(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    """#18: while the engine prepares the export the bar says so (time waited), not 0 %;
    an image analysed once opens again from the layer cache with the export held back
    (no export is asked for), and the cache forgets the image once it is removed."""
    tag = build_image(any_engine, tmp_path)
    relay = SocketRelay(any_engine.endpoint.socket_path or "", tmp_path / "relay.sock")
    await_in_qt(qtbot, relay.start())
    relay.hold(b"/get ")
    removed = False
    try:
        _window, page = open_image(qtbot, make_session, relay.url, tag)
        detail, view = page.detail, page.detail.layer_view
        qtbot.waitUntil(lambda: detail.progress.format() == "Engine preparing the export… 1 s",
                        timeout=wait_ms(10))
        assert detail.progress.value() == 0 and not detail.progress.isHidden()
        relay.release()
        qtbot.waitUntil(lambda: detail.analysis is not None, timeout=wait_ms(60))
        first = detail.analysis
        assert first is not None and detail.progress.isHidden()
        client = page.session.client
        assert client is not None
        entry = detail.layer_cache.path(engine.layer_cache_scope(client.endpoint.url),
                                        first.image_id)
        assert entry.is_file()

        relay.hold(b"/get ")  # from here on, an export would never arrive
        page.table.clearSelection()
        qtbot.waitUntil(lambda: detail.analysis is None, timeout=wait_ms(5))
        page.table.selectRow(0)
        qtbot.waitUntil(lambda: view.files_title.text().startswith(
            "Changes in layer 4 of 4 (step "), timeout=wait_ms(5))
        again = detail.analysis
        assert again is not None and again is not first
        assert again.layers == first.layers
        assert again.wasted_paths(None) == first.wasted_paths(None)
        assert view.files_model.find("app/small").isValid()

        # The image goes: its delete event takes the cache entry with it.
        any_engine.cli("rmi", "-f", tag)
        removed = True
        qtbot.waitUntil(lambda: not entry.exists(), timeout=wait_ms(10))
    finally:
        relay.release()
        await_in_qt(qtbot, relay.cut())
        if not removed:
            any_engine.cli("rmi", "-f", tag, check=False)


def test_entries_of_images_gone_while_the_window_was_closed_are_forgotten_at_start(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    cache = engine.LayerCache()
    scope = engine.layer_cache_scope(any_engine.endpoint.url)
    gone = cache.path(scope, "sha256:" + "0" * 64)  # no engine has this image
    present_id = json.loads(any_engine.cli("image", "inspect", any_engine.image))[0]["Id"]
    present = cache.path(scope, present_id)
    elsewhere = cache.path("another-engine", "sha256:" + "0" * 64)
    for path in (gone, present, elsewhere):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"an entry")
    session = make_session(any_engine.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    wait_connected(qtbot, session)
    qtbot.waitUntil(lambda: not gone.exists(), timeout=wait_ms(10))
    assert present.exists()  # the engine still has it
    assert elsewhere.exists()  # another engine's: not this one's to judge
