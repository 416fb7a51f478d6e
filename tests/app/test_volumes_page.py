"""The Volumes page against real engines: the live list, create, remove, prune preview."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from PySide6.QtCore import Qt
from pytestqt.exceptions import TimeoutError as QtTimeoutError
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.pages.resource_forms import PruneDialog
from app.pages.volumes import VolumeCreateDialog, VolumesPage, volumes_model
from app.presentation import volume_rows
from app.session import EngineSession
from tests.app.conftest import answer, wait_connected
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.disk_helpers import OURS, disk_engine  # noqa: F401
from tests.waits import wait_ms

WAIT = 30_000


def open_volumes(qtbot: QtBot, make_session, target: EngineUnderTest) -> MainWindow:
    session: EngineSession = make_session(target.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    wait_connected(qtbot, session)
    window.sidebar.setCurrentRow(window.pages.indexOf(window.page(VolumesPage)))
    return window


def cell(page: VolumesPage, name: str, column: str) -> str:
    row = page.model.row_of(name)
    assert row is not None, f"{name} is not listed"
    titles = [page.model.headerData(c, Qt.Orientation.Horizontal)
              for c in range(page.model.columnCount())]
    return str(page.model.index(row, titles.index(column)).data())


def wait_plan(qtbot: QtBot, dialog: PruneDialog, count: int | None = None) -> None:
    """Wait for the preview (of ``count`` items); a failure says what the dialog showed."""
    try:
        qtbot.waitUntil(lambda: dialog.plan is not None and (
            count is None or dialog.items_list.count() == count), timeout=WAIT)
    except QtTimeoutError as exc:
        raise AssertionError(f"the preview said {dialog.summary.text()!r}") from exc


def select(page: VolumesPage, name: str) -> None:
    page.search.setText(name)
    assert page.proxy.rowCount() == 1
    page.table.selectRow(0)


def test_the_list_follows_volumes_the_cli_creates_uses_and_removes(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    window = open_volumes(qtbot, make_session, disk_engine)
    page = window.page(VolumesPage)
    name = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, "--label",
                    "com.docker.compose.project=shop", name)
    qtbot.waitUntil(lambda: page.model.row_of(name) is not None, timeout=WAIT)
    assert cell(page, name, "Driver") == "local"
    assert cell(page, name, "Used by") == "unused"
    assert cell(page, name, "Compose project") == "shop"
    assert cell(page, name, "Labels") == LABEL
    assert cell(page, name, "Mount point").endswith(f"/{name}/_data")

    _, holder = disk_engine.create("-v", f"{name}:/data", disk_engine.image, "true")
    # Creating a container sends no volume event; the next volume event shows the user.
    anonymous = disk_engine.cli("volume", "create", "--label", LABEL)
    qtbot.waitUntil(lambda: page.model.row_of(anonymous) is not None, timeout=WAIT)
    qtbot.waitUntil(lambda: cell(page, name, "Used by") == holder, timeout=WAIT)
    shown = cell(page, anonymous, "Name")
    assert shown == f"{anonymous[:12]} (anonymous)"

    disk_engine.cli("rm", holder)
    disk_engine.cli("volume", "rm", name)
    qtbot.waitUntil(lambda: page.model.row_of(name) is None, timeout=WAIT)
    assert page.model.row_of(anonymous) is not None


def test_a_volumes_containers_are_a_click_away(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    """Issue 13: "which containers use it (links that select them on the Containers
    page)".  One user is shown at once; several are offered in a menu."""
    window = open_volumes(qtbot, make_session, disk_engine)
    page = window.page(VolumesPage)
    name = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, name)
    users = sorted((disk_engine.create("-v", f"{name}:/data", disk_engine.image, "true")
                    for _ in range(2)), key=lambda user: user[1])  # by name, as listed
    # Creating a container sends no volume event; the next volume event shows the users.
    disk_engine.cli("volume", "rm", disk_engine.cli("volume", "create", "--label", LABEL))
    qtbot.waitUntil(lambda: cell(page, name, "Used by") == ", ".join(n for _, n in users),
                    timeout=WAIT)
    containers = window.containers_page
    qtbot.waitUntil(lambda: all(containers.model.row_of(i) is not None for i, _ in users),
                    timeout=WAIT)
    select(page, name)
    assert page.show_container_button.isEnabled()
    menu = page.show_containers(page.show_container_button)
    assert menu is not None
    assert [a.text() for a in menu.actions()] == [n for _, n in users]
    menu.actions()[1].trigger()
    assert window.pages.currentWidget() is containers
    assert [c.id for c in containers.selected_items()] == [users[1][0]]
    menu.close()
    # A volume nobody uses offers nothing.
    unused = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, unused)
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    qtbot.waitUntil(lambda: page.model.row_of(unused) is not None, timeout=WAIT)
    select(page, unused)
    assert not page.show_container_button.isEnabled()


def test_create_checks_the_input_and_creates_with_options_and_labels(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    window = open_volumes(qtbot, make_session, disk_engine)
    page = window.page(VolumesPage)
    page.create_button.click()
    dialog = page.findChild(VolumeCreateDialog)
    assert dialog is not None
    qtbot.waitExposed(dialog, timeout=wait_ms(10))
    dialog.name.setText("-bad name")
    assert "not a valid volume name" in dialog.problem()
    assert not dialog.accept_button.isEnabled()
    name = unique_name("vol")
    dialog.name.setText(name)
    dialog.labels.setPlainText(f"{LABEL}\nnot a pair")
    assert "Labels" in dialog.problem() and not dialog.accept_button.isEnabled()
    # Nothing typed is lost while it is wrong.
    assert dialog.name.text() == name
    dialog.labels.setPlainText(f"{LABEL}\npurpose=form")
    dialog.options.setPlainText("type=tmpfs\ndevice=tmpfs\no=nodev")
    assert dialog.problem() == ""
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        dialog.accept_button.click()
    qtbot.waitUntil(lambda: page.model.row_of(name) is not None, timeout=WAIT)
    [seen] = json.loads(disk_engine.cli("volume", "inspect", name))
    assert seen["Labels"] == {LABEL_KEY: RUN_ID, "purpose": "form"}
    assert seen["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "nodev"}


def test_a_refused_create_keeps_the_dialog_with_the_engines_words(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    window = open_volumes(qtbot, make_session, disk_engine)
    page = window.page(VolumesPage)
    dialog = page.open_create()
    qtbot.waitExposed(dialog, timeout=wait_ms(10))
    dialog.name.setText(unique_name("vol"))
    dialog.options.setPlainText("no-such-option=1")
    dialog.labels.setPlainText(LABEL)
    dialog.accept_button.click()
    qtbot.waitUntil(lambda: "The engine refused" in dialog.problem(), timeout=WAIT)
    assert "no-such-option" in dialog.problem()
    assert dialog.isVisible() and dialog.options.toPlainText() == "no-such-option=1"
    assert dialog.accept_button.isEnabled()
    dialog.reject()


def test_removing_a_volume_in_use_says_the_daemons_words_and_the_container(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    window = open_volumes(qtbot, make_session, disk_engine)
    page = window.page(VolumesPage)
    said: list[str] = []
    page.session.message.connect(lambda _level, text: said.append(text))
    held, free = unique_name("vol"), unique_name("vol")
    for name in (held, free):
        disk_engine.cli("volume", "create", "--label", LABEL, name)
    _, holder = disk_engine.create("-v", f"{held}:/data", disk_engine.image, "true")
    page.session.refresh()
    qtbot.waitUntil(lambda: page.model.row_of(free) is not None
                    and cell(page, held, "Used by") == holder, timeout=WAIT)

    select(page, held)
    page.remove_button.click()
    asked = answer(qtbot, "volumes-remove-confirm", "Remove")
    assert f"by {holder}" in asked
    qtbot.waitUntil(lambda: any(held in s and holder in s for s in said), timeout=WAIT)
    refusal = next(s for s in said if held in s)
    assert refusal.startswith(f"Could not remove volume {held}:")
    assert "in use" in refusal or "being used" in refusal
    assert disk_engine.cli("volume", "ls", "-q", "--filter", f"name={held}")

    select(page, free)
    page.remove_button.click()
    answer(qtbot, "volumes-remove-confirm", "Remove")
    qtbot.waitUntil(lambda: page.model.row_of(free) is None, timeout=WAIT)
    assert not disk_engine.cli("volume", "ls", "-q", "--filter", f"name={free}")
    assert page.model.row_of(held) is not None


def test_prune_previews_exactly_what_goes_in_either_mode(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    window = open_volumes(qtbot, make_session, disk_engine)
    page = window.page(VolumesPage)
    page.prune_filters = OURS
    named = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, named)
    anonymous = disk_engine.cli("volume", "create", "--label", LABEL)
    used = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, used)
    disk_engine.create("-v", f"{used}:/data", disk_engine.image, "true")
    disk_engine.cli("run", "--rm", "--label", LABEL, "-v", f"{anonymous}:/v",
                    disk_engine.image, "sh", "-c", "head -c 4096 /dev/zero > /v/f")

    dialog = page.open_prune()
    wait_plan(qtbot, dialog)
    lines = [dialog.items_list.item(i).text() for i in range(dialog.items_list.count())]
    assert lines == [f"{anonymous[:12]} (anonymous)    4.1 kB"]
    assert dialog.summary.text().startswith("1 unused anonymous volume, 4.1 kB")
    assert "named volumes are kept" in dialog.summary.text()
    assert dialog.prune_button.text() == "Remove 1 volume"

    dialog.choose("all")
    wait_plan(qtbot, dialog, 2)
    lines = sorted(dialog.items_list.item(i).text() for i in range(2))
    assert lines[1].startswith(named) or lines[0].startswith(named)
    assert "named volumes included" in dialog.summary.text()

    dialog.choose("anonymous")
    wait_plan(qtbot, dialog, 1)
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        dialog.prune_button.click()
    left = set(disk_engine.cli("volume", "ls", "-q", "--filter", f"label={LABEL}").split())
    assert left == {named, used}
    qtbot.waitUntil(lambda: page.model.row_of(anonymous) is None, timeout=WAIT)


def test_the_volume_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = volumes_model()
    now = datetime.now(tz=UTC)
    volumes = [engine.Volume(f"v{i}", created=now, size=i * 1000 if i % 2 else None,
                             labels={"a": str(i)}) for i in range(5)]
    container = engine.Container("c1", "web", "img", "sha256:x", "", now, "exited", "",
                                 mounts=(engine.Mount("volume", "", "/d", name="v1"),))
    model.set_items(volume_rows(volumes, [container]))
    qtmodeltester.check(model)
    model.set_items(volume_rows(volumes[2:], []))
    qtmodeltester.check(model)
    assert model.rowCount() == 3
    texts = [model.index(r, 2).data() for r in range(3)]
    assert texts == ["—", "3.0 kB", "—"]
