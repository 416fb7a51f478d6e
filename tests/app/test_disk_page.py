"""The Disk usage page and the Clean up sheet against real engines (Docker and Podman).

Other tests share the engines: totals are compared at a moment the CLI's own
``docker system df`` held still around the page's read, and the clean-up sheet
is narrowed by this run's label, so a test never removes what it did not make.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import engine
from app.df_cmd import reclaimable_text
from app.main_window import MainWindow
from app.models.cleanup import CleanupModel, CleanupRow
from app.models.table import SortRole
from app.page_table import PAGES
from app.pages.cleanup_sheet import CleanupSheet, label_filters, report
from app.pages.containers import ContainersPage
from app.pages.disk import DiskItem, DiskPage, biggest_items, df_stale
from app.pages.table_page import TablePage
from app.presentation import cli_size, human_size
from app.session import EngineSession
from tests.app.conftest import answer, await_in_qt, wait_connected
from tests.conftest import LABEL, LABEL_KEY, EngineUnderTest, unique_name
from tests.disk_helpers import disk_engine  # noqa: F401
from tests.waits import wait_ms

WAIT = wait_ms(30)  # /system/df is slow on a busy machine


def cli_summary(target: EngineUnderTest) -> list[dict[str, Any]] | None:
    """The CLI's df; None when it failed (Podman: a container removed while it measured)."""
    try:
        out = target.cli("system", "df", "--format", "{{json .}}")
    except AssertionError:
        return None
    return [json.loads(line) for line in out.splitlines()]


async def read_df(target: EngineUnderTest) -> engine.DiskUsage:
    async with await target.open() as client:
        return await engine.disk_usage(client)


def shown_page(qtbot: QtBot, make_session: Any, url: str) -> DiskPage:
    session: EngineSession = make_session(url)
    page = DiskPage(session)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        session.start()
    return page


def settled_read(qtbot: QtBot, page: DiskPage, target: EngineUnderTest
                 ) -> tuple[list[dict[str, Any]], engine.DiskUsage]:
    """The CLI's df, our own df and the page's, taken while the engine held still."""
    for _ in range(10):
        qtbot.waitUntil(lambda: not page.reading, timeout=WAIT)
        before = cli_summary(target)
        with qtbot.waitSignal(page.refreshed, timeout=WAIT):
            page.refresh()
        ours = await_in_qt(qtbot, read_df(target), timeout=WAIT)
        if before is not None and cli_summary(target) == before:
            return before, ours
    pytest.fail("the engine's disk usage kept changing while it was read")


def test_page_totals_agree_with_the_engine_and_the_cli(
    qtbot: QtBot, make_session: Any, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    volume = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, volume)
    disk_engine.cli("run", "--rm", "--label", LABEL, "-v", f"{volume}:/v", disk_engine.image,
                    "sh", "-c", "head -c 54321 /dev/zero > /v/data")
    page = shown_page(qtbot, make_session, disk_engine.url)
    cli, ours = settled_read(qtbot, page, disk_engine)

    assert page.summary == ours.summary()
    assert [row["Type"] for row in cli] == [k.kind for k in page.summary]
    for theirs, kind in zip(cli, page.summary, strict=True):
        assert int(theirs["TotalCount"]) == kind.total
        assert int(theirs["Active"]) == kind.active
        assert theirs["Size"] == cli_size(kind.size)
        assert theirs["Reclaimable"] == reclaimable_text(kind)
    # What the user sees says the same.
    for key, kind in zip(("images", "containers", "volumes", "build-cache"), page.summary,
                         strict=True):
        card = page.cards[key]
        assert card.size_label.text() == human_size(kind.size)
        assert card.reclaimable_label.text().startswith(
            f"Reclaimable {human_size(kind.reclaimable)}")
    assert page.cards["volumes"].count_label.text() == (
        f"{page.summary[2].total} volumes, {page.summary[2].active} in use")
    total = sum(k.size for k in page.summary)
    assert human_size(total) in page.total_label.text()
    # The test's volume is among the biggest items (or smaller than all of them), unused.
    rows = [page.biggest_model.item_at(r) for r in range(page.biggest_model.rowCount())]
    mine = [r for r in rows if r.key == volume]
    assert mine == [] or (mine[0].size == 54321 and mine[0].reclaimable)
    view = page.biggest.model()
    shown = [view.index(r, 2).data(SortRole) for r in range(view.rowCount())]
    assert shown == sorted(shown, reverse=True) and len(shown) == len(rows)
    if disk_engine.kind == "podman":
        assert page.cache_stack.currentWidget() is page.cache_note
        assert "Podman keeps no build cache records" in page.cache_note.text()


def test_page_reads_again_after_an_event_one_read_at_a_time(
    qtbot: QtBot, make_session: Any, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    page = shown_page(qtbot, make_session, disk_engine.url)
    qtbot.waitUntil(lambda: not page.reading, timeout=WAIT)
    volume = unique_name("vol")
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        disk_engine.cli("volume", "create", "--label", LABEL, volume)
    qtbot.waitUntil(lambda: page.usage is not None
                    and any(v.name == volume for v in page.usage.volumes), timeout=WAIT)
    # Asking again while a read runs starts no second one.
    page.refresh()
    task = page._task
    page.refresh()
    assert page._task is task
    qtbot.waitUntil(lambda: not page.reading and not page._timer.isActive(), timeout=WAIT)

    # Hidden, the page does not read; shown again, it reads what changed meanwhile.
    page.hide()
    hidden = unique_name("vol")
    with qtbot.waitSignal(page.session.eventReceived, timeout=WAIT,
                          # Podman names the volume in the attributes only.
                          check_params_cb=lambda e: e.type == "volume"
                          and hidden in (e.actor_id, e.attributes.get("name"))):
        disk_engine.cli("volume", "create", "--label", LABEL, hidden)
    assert not page.reading and not page._timer.isActive()
    assert page.usage is not None and all(v.name != hidden for v in page.usage.volumes)
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        page.show()
    qtbot.waitUntil(lambda: page.usage is not None
                    and any(v.name == hidden for v in page.usage.volumes), timeout=WAIT)


def test_biggest_item_opens_its_page(
    qtbot: QtBot, make_session: Any, docker_engine: EngineUnderTest,
) -> None:
    container_id, name = docker_engine.create(docker_engine.image, "sh", "-c",
                                              "head -c 200000 /dev/zero > /blob")
    docker_engine.cli("start", "-a", name)
    try:
        opens_its_page(qtbot, make_session, docker_engine, container_id, name)
    finally:
        docker_engine.cli("rm", "-f", container_id, check=False)


def opens_its_page(qtbot: QtBot, make_session: Any, docker_engine: EngineUnderTest,
                   container_id: str, name: str) -> None:
    session: EngineSession = make_session(docker_engine.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    wait_connected(qtbot, session)
    containers = window.page(ContainersPage)
    qtbot.waitUntil(lambda: containers.model.row_of(container_id) is not None, timeout=WAIT)
    disk = window.page(DiskPage)
    item = DiskItem("Container", container_id, "containers", name, 200000, "", True)
    disk.biggest_model.set_items([item])
    with qtbot.waitSignal(disk.open_requested, timeout=wait_ms(5)):
        disk._open_item(disk.biggest.model().index(0, 0))
    assert window.pages.currentWidget() is containers
    assert [c.id for c in containers.selected_items()] == [container_id]
    # A volume opens on the Volumes page (the page table's "volumes"), selected.
    volume = unique_name("vol")
    docker_engine.cli("volume", "create", "--label", LABEL, volume)
    try:
        volumes = window.page_widgets[[s.key for s in PAGES].index("volumes")]
        assert isinstance(volumes, TablePage)
        qtbot.waitUntil(lambda: volumes.model.row_of(volume) is not None, timeout=WAIT)
        assert window.open_item("volumes", volume)
        assert window.pages.currentWidget() is volumes
        assert [v.name for v in volumes.selected_items()] == [volume]
    finally:
        docker_engine.cli("volume", "rm", volume, check=False)
    # A page this version does not have is said, not a failure.
    assert window.open_item("no-such-page", "x") is False
    assert "no-such-page" in window.messages.label.text().lower()


def _item_names(sheet: CleanupSheet, kind: str) -> set[str]:
    return {row.item.name for row in sheet.model.rows_of(kind)}


def test_cleanup_sheet_removes_exactly_what_is_ticked(
    qtbot: QtBot, make_session: Any, disk_engine: EngineUnderTest,  # noqa: F811
    qtmodeltester: ModelTester,
) -> None:
    # A label of this test's own: the run's label is shared with the other tests.
    mine = f"{LABEL_KEY}.case={unique_name('case')}"
    kept_id, kept = disk_engine.create("--label", mine, disk_engine.image, "true")
    gone_id, gone = disk_engine.create("--label", mine, disk_engine.image, "true")
    volumes = [unique_name("vol"), unique_name("vol")]
    for volume in volumes:
        disk_engine.cli("volume", "create", "--label", LABEL, "--label", mine, volume)
    page = shown_page(qtbot, make_session, disk_engine.url)
    sheet = page.open_cleanup()
    assert not sheet.isModal()
    sheet.label_box.setText(mine)
    sheet.named_volumes.setChecked(True)
    with qtbot.waitSignal(sheet.planned, timeout=WAIT):
        sheet.plan()
    assert _item_names(sheet, engine.STOPPED_CONTAINERS) == {kept, gone}
    assert _item_names(sheet, engine.UNUSED_VOLUMES) == set(volumes)
    assert sheet.model.ticked() == []
    assert not sheet.remove_button.isEnabled()
    qtmodeltester.check(sheet.model)
    note = sheet.model.note(engine.BUILD_CACHE)
    assert note == ("Podman keeps no build cache records" if disk_engine.kind == "podman"
                    else "build cache records carry no labels")

    assert sheet.model.set_ticked(engine.STOPPED_CONTAINERS, gone_id, True)
    assert sheet.model.set_ticked(engine.UNUSED_VOLUMES, volumes[1], True)
    kind_index = sheet.model.kind_index(engine.STOPPED_CONTAINERS)
    assert kind_index.data(Qt.ItemDataRole.CheckStateRole) == \
        Qt.CheckState.PartiallyChecked.value
    assert sheet.status.text().startswith("2 of 4 items ticked")
    assert sheet.remove_button.isEnabled()
    with qtbot.waitSignal(sheet.reclaimed, timeout=WAIT) as removed:
        sheet.remove_button.click()
        text = answer(qtbot, "confirm-cleanup", "Remove")
    assert gone in text and volumes[1] in text and kept not in text
    results = removed.args[0]
    assert set(results[engine.STOPPED_CONTAINERS].deleted) == {gone_id}
    assert set(results[engine.UNUSED_VOLUMES].deleted) == {volumes[1]}
    assert "stopped containers 1, unused volumes 1" in sheet.result_label.text()

    names = set(disk_engine.cli("ps", "-a", "--filter", f"label={mine}",
                                "--format", "{{.Names}}").split())
    assert kept in names and gone not in names
    left = set(disk_engine.cli("volume", "ls", "-q", "--filter", f"label={mine}").split())
    assert volumes[0] in left and volumes[1] not in left
    # The sheet plans again: what was removed is gone from it, the rest still offered.
    qtbot.waitUntil(lambda: _item_names(sheet, engine.UNUSED_VOLUMES) == {volumes[0]},
                    timeout=WAIT)
    assert kept_id in {r.item.id for r in sheet.model.rows_of(engine.STOPPED_CONTAINERS)}


# -- without an engine ----------------------------------------------------------------------


def _item(kind: str, item_id: str, size: int | None) -> engine.CleanupItem:
    return engine.CleanupItem(kind, item_id, f"name-{item_id}", size)


def test_cleanup_model_ticks_and_passes_the_model_tester(
    qtbot: QtBot, qtmodeltester: ModelTester,
) -> None:
    model = CleanupModel()
    rows = [CleanupRow(_item(engine.STOPPED_CONTAINERS, "c1", 10)),
            CleanupRow(_item(engine.STOPPED_CONTAINERS, "c2", 20)),
            CleanupRow(_item(engine.DANGLING_IMAGES, "i1", 100)),
            CleanupRow(_item(engine.UNUSED_IMAGES, "i1", 100)),
            CleanupRow(_item(engine.UNUSED_IMAGES, "i2", 200)),
            CleanupRow(_item(engine.UNUSED_VOLUMES, "v1", None))]
    model.set_plan(rows, {engine.BUILD_CACHE: "Podman keeps no build cache records"})
    qtmodeltester.check(model)
    assert model.rowCount() == len(engine.CLEANUP_KINDS)
    cache = model.kind_index(engine.BUILD_CACHE)
    assert model.index(cache.row(), 2).data() == "Podman keeps no build cache records"
    assert not model.flags(cache) & Qt.ItemFlag.ItemIsUserCheckable
    # A dangling image is one tick under both kinds, removed and counted once.
    model.set_ticked(engine.DANGLING_IMAGES, "i1", True)
    unused = model.kind_index(engine.UNUSED_IMAGES)
    assert unused.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.PartiallyChecked.value
    assert [i.id for i in model.ticked()] == ["i1"]
    assert model.ticked_bytes() == 100
    # Ticking a kind ticks all of its items.
    containers = model.kind_index(engine.STOPPED_CONTAINERS)
    assert model.setData(containers, Qt.CheckState.Checked.value,
                         Qt.ItemDataRole.CheckStateRole)
    assert {i.id for i in model.ticked()} == {"c1", "c2", "i1"}
    qtmodeltester.check(model)
    # A new plan keeps the ticks of items still planned.
    model.set_plan(rows[1:], {})
    assert {i.id for i in model.ticked()} == {"c2", "i1"}
    qtmodeltester.check(model)


def test_pure_helpers() -> None:
    assert label_filters(" a=1, b ") == {"label": ["a=1", "b"]}
    assert label_filters("") is None
    line, failures = report({
        engine.STOPPED_CONTAINERS: engine.PruneResult(("c",), 1000),
        engine.UNUSED_VOLUMES: engine.PruneResult((), 0, {"v": "volume is in use"}),
    })
    assert line == "Removed: stopped containers 1. The engine reclaimed 1.0 kB."
    assert failures == ["v: volume is in use"]
    usage = engine.DiskUsage(
        layers_size=300,
        images=(engine.ImageUsage("sha256:a", ("x:1",), size=300, shared_size=100,
                                  containers=1),),
        volumes=(),
    )
    [image] = biggest_items(usage)
    assert (image.page, image.key, image.reclaimable) == ("images", "sha256:a", False)
    assert "unique 200 Bytes" in image.detail


@pytest.mark.parametrize(("kind", "action", "stale"), [
    ("volume", "create", True), ("image", "delete", True), ("container", "destroy", True),
    ("container", "exec_start", False), ("network", "connect", False),
])
def test_which_events_make_the_df_stale(kind: str, action: str, stale: bool) -> None:
    assert df_stale(engine.Event(kind, action, "id", {}, 0)) is stale
