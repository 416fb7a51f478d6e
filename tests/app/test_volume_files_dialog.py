"""The Volumes page's file browser and transfers against real engines.

Browse (tree with sizes, save out), back up, restore (asking first into a
volume that holds files), clone, cancel — and no helper container left behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QModelIndex
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.pages.volume_files import VolumeFilesDialog, VolumeTransferDialog, free_path
from app.pages.volumes import VolumesPage
from app.presentation import human_size
from tests.app.conftest import answer
from tests.app.test_volumes_page import open_volumes, select
from tests.conftest import LABEL, EngineUnderTest, unique_name
from tests.disk_helpers import LABELS, disk_engine  # noqa: F401
from tests.engine.test_volume_files import cli_tar, fill, our_helpers
from tests.waits import wait_ms

WAIT = wait_ms(30)


def make_volume(target: EngineUnderTest, script: str | None = None) -> str:
    name = unique_name("vol")
    target.cli("volume", "create", "--label", LABEL, name)
    if script is None:
        fill(target, name)
    else:
        fill(target, name, script)
    return name


def volumes_page(qtbot: QtBot, make_session, target: EngineUnderTest, name: str) -> VolumesPage:
    window = open_volumes(qtbot, make_session, target)
    page = window.page(VolumesPage)
    page.helper_image = target.image
    page.helper_labels = dict(LABELS)
    qtbot.waitUntil(lambda: page.model.row_of(name) is not None, timeout=WAIT)
    select(page, name)
    return page


def rows(dialog: VolumeFilesDialog, parent: QModelIndex) -> dict[str, str]:
    model = dialog.model
    return {str(model.index(r, 0, parent).data()): str(model.index(r, 1, parent).data())
            for r in range(model.rowCount(parent))}


def child(dialog: VolumeFilesDialog, parent: QModelIndex, name: str) -> QModelIndex:
    model = dialog.model
    for r in range(model.rowCount(parent)):
        if model.index(r, 0, parent).data() == name:
            return model.index(r, 0, parent)
    raise AssertionError(f"{name} not under {parent.data()}")


def transfer(page: VolumesPage, qtbot: QtBot) -> VolumeTransferDialog:
    """The shown transfer dialog, once it ended (closed ones may linger until deleted)."""

    def ended() -> list[VolumeTransferDialog]:
        return [d for d in page.findChildren(VolumeTransferDialog)
                if d.isVisible() and d.result_text]

    qtbot.waitUntil(lambda: bool(ended()), timeout=WAIT)
    [dialog] = ended()
    return dialog


def transfer_running(page: VolumesPage, qtbot: QtBot) -> VolumeTransferDialog:
    qtbot.waitUntil(lambda: any(d.isVisible() and not d.result_text
                                for d in page.findChildren(VolumeTransferDialog)),
                    timeout=WAIT)
    [dialog] = [d for d in page.findChildren(VolumeTransferDialog)
                if d.isVisible() and not d.result_text]
    return dialog


def test_browse_the_tree_with_sizes_and_save_out(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest, tmp_path: Path,  # noqa: F811
) -> None:
    name = make_volume(disk_engine)
    page = volumes_page(qtbot, make_session, disk_engine, name)
    assert page.browse_button.defaultAction().isEnabled()
    page.browse_button.defaultAction().trigger()
    dialog = page.findChild(VolumeFilesDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.tree is not None, timeout=WAIT)
    ModelTester(None).check(dialog.model)  # type: ignore[arg-type]
    top = rows(dialog, QModelIndex())
    assert top == {"bin/": human_size(18), "docs/": human_size(73005), "empty/": human_size(0),
                   "link": human_size(0), "name with spaces": human_size(1)}
    docs = child(dialog, QModelIndex(), "docs/")
    assert rows(dialog, docs) == {"deep/": human_size(73000), "hello.txt": human_size(5)}
    link = child(dialog, QModelIndex(), "link")
    assert dialog.model.index(link.row(), 2).data() == "docs/hello.txt"
    assert f"6 files, 5 folders, {human_size(73024)}" in dialog.summary.text()
    assert our_helpers(disk_engine) == []  # each read's helper is gone once it is read

    shots = os.environ.get("DOCKYARD_SHOTS")
    if shots:
        deep = child(dialog, docs, "deep/")
        dialog.view.expand(deep)
        dialog.view.setCurrentIndex(child(dialog, docs, "hello.txt"))
        dialog.grab().save(str(Path(shots) / f"volume-files-{disk_engine.kind}.png"))

    with qtbot.waitSignal(dialog.ended, timeout=WAIT) as saved:
        dialog.save_to("docs/deep/er/random.bin", tmp_path / "random.bin")
    assert saved.args[0] == f"Saved /docs/deep/er/random.bin to {tmp_path / 'random.bin'}"
    assert (tmp_path / "random.bin").read_bytes() == \
        cli_tar(disk_engine, name)["docs/deep/er/random.bin"][2]
    with qtbot.waitSignal(dialog.ended, timeout=WAIT):
        dialog.save_to("docs", tmp_path / "docs")
    assert (tmp_path / "docs" / "hello.txt").read_bytes() == b"hello"
    with qtbot.waitSignal(dialog.ended, timeout=WAIT) as failed:
        dialog.save_to("gone", tmp_path / "gone")
    assert failed.args[0].startswith("Could not save /gone: ")
    assert "\n" not in failed.args[0]
    assert our_helpers(disk_engine) == []


def test_cancel_and_close_leave_no_helper(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest, tmp_path: Path,  # noqa: F811
) -> None:
    name = make_volume(disk_engine, "head -c 40000000 /dev/urandom > /v/big")
    page = volumes_page(qtbot, make_session, disk_engine, name)
    archive = tmp_path / "big.tar.gz"
    dialog = page.backup_to(name, archive)
    qtbot.waitUntil(lambda: dialog.done_bytes > 0, timeout=WAIT)
    assert dialog.running and len(our_helpers(disk_engine)) == 1
    with qtbot.waitSignal(dialog.ended, timeout=WAIT) as ended:
        dialog.cancel_button.click()
    assert ended.args == ["Cancelled."]
    qtbot.waitUntil(lambda: our_helpers(disk_engine) == [], timeout=WAIT)
    assert list(tmp_path.iterdir()) == []
    dialog.cancel_button.click()  # now "Close": the dialog goes
    qtbot.waitUntil(lambda: not page.findChildren(VolumeTransferDialog), timeout=WAIT)

    # Closing the window of a running backup stops it too.
    closing = page.backup_to(name, archive)
    qtbot.waitUntil(lambda: closing.done_bytes > 0, timeout=WAIT)
    with qtbot.waitSignal(closing.ended, timeout=WAIT) as ended:
        closing.close()
    assert ended.args == ["Cancelled."]
    qtbot.waitUntil(lambda: our_helpers(disk_engine) == [], timeout=WAIT)
    qtbot.waitUntil(lambda: not page.findChildren(VolumeTransferDialog), timeout=WAIT)
    assert list(tmp_path.iterdir()) == []

    # The browser: Cancel while it reads, then closed while it reads again.
    browser = page.browse_selected()
    assert browser is not None
    qtbot.waitUntil(lambda: browser.stopper.done > 0, timeout=WAIT)
    with qtbot.waitSignal(browser.ended, timeout=WAIT) as ended:
        browser.cancel_button.click()
    assert ended.args == ["Cancelled."] and browser.tree is None
    qtbot.waitUntil(lambda: our_helpers(disk_engine) == [], timeout=WAIT)
    browser.reload_button.click()
    qtbot.waitUntil(lambda: browser.stopper.done > 0, timeout=WAIT)
    with qtbot.waitSignal(browser.ended, timeout=WAIT):
        browser.close()
    qtbot.waitUntil(lambda: not page.findChildren(VolumeFilesDialog), timeout=WAIT)
    qtbot.waitUntil(lambda: our_helpers(disk_engine) == [], timeout=WAIT)


def test_backup_restore_and_clone_from_the_page(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest, tmp_path: Path,  # noqa: F811
) -> None:
    name = make_volume(disk_engine)
    original = cli_tar(disk_engine, name)
    page = volumes_page(qtbot, make_session, disk_engine, name)
    stem = unique_name("saved")
    archive = tmp_path / f"{stem}.tar.gz"
    backup = page.backup_to(name, archive)
    with qtbot.waitSignal(backup.ended, timeout=WAIT) as ended:
        pass
    assert ended.args[0].startswith(f"Backed up volume {name} (")
    backup.close()

    # Into a volume that holds files: asked first; Cancel leaves it as it was.
    busy = make_volume(disk_engine,
                       "mkdir /v/docs && printf old > /v/docs/hello.txt && printf keep > /v/other")
    page.restore_from(archive, busy)
    text = answer(qtbot, "volume-restore-confirm", "Cancel", timeout=WAIT)
    assert f"Volume {busy} is not empty" in text
    assert set(cli_tar(disk_engine, busy)) == {"", "docs", "docs/hello.txt", "other"}
    page.restore_from(archive, busy)
    answer(qtbot, "volume-restore-confirm", "Restore", timeout=WAIT)
    done = transfer(page, qtbot)
    assert done.result_text == f"Restored {archive.name} into volume {busy}"
    merged = cli_tar(disk_engine, busy)
    assert merged["other"][2] == b"keep"
    assert {k: v for k, v in merged.items() if k not in ("", "other")} == \
        {k: v for k, v in original.items() if k}
    done.close()

    # No volume selected: into a new one named after the file, no question asked.
    page.table.clearSelection()
    page.restore_from(archive, None)
    done = transfer(page, qtbot)
    assert done.result_text == f"Restored {archive.name} into volume {stem}"
    assert cli_tar(disk_engine, stem) == original
    done.close()

    select(page, name)
    asked = page.open_clone()
    assert asked is not None
    assert asked.name.text() == f"{name}-copy"
    asked.name.setText(busy)  # taken: said, and Clone is off
    assert asked.problem() == f"A volume named {busy} exists already"
    assert not asked.accept_button.isEnabled()
    asked.name.setText(f"{name}-copy")
    asked.accept_button.click()
    clone = transfer_running(page, qtbot)
    with qtbot.waitSignal(clone.ended, timeout=WAIT) as cloned:
        pass
    assert cloned.args[0] == f"Cloned volume {name} as {name}-copy"
    assert cli_tar(disk_engine, f"{name}-copy") == original
    assert our_helpers(disk_engine) == []
    clone.close()
    qtbot.waitUntil(lambda: not page.findChildren(VolumeTransferDialog), timeout=WAIT)


def test_buttons_follow_the_selection(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    name = make_volume(disk_engine, "true")
    page = volumes_page(qtbot, make_session, disk_engine, name)
    for button in (page.browse_button, page.backup_button, page.clone_button):
        assert button.defaultAction().isEnabled()
    page.table.clearSelection()
    for button in (page.browse_button, page.backup_button, page.clone_button):
        assert not button.defaultAction().isEnabled()
    assert page.restore_button.defaultAction().isEnabled()


def test_a_saved_folder_gets_a_free_name_beside_the_users_own(tmp_path: Path) -> None:
    assert free_path(tmp_path / "data") == tmp_path / "data"
    (tmp_path / "data").mkdir()
    (tmp_path / "data (2)").write_text("a file of the user's")
    assert free_path(tmp_path / "data") == tmp_path / "data (3)"
