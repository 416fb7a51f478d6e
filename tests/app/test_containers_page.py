"""The Containers page: Compose grouping, every lifecycle action, and their messages."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt, QUrl
from PySide6.QtGui import QFont, QFontMetrics, QGuiApplication
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import engine
from app.models.container_tree import ComposeGroup, ContainerTreeModel, IsGroupRole
from app.pages import container_usage
from app.pages import containers as containers_module
from app.pages.containers import (
    CONTAINER_COLUMNS,
    GROUP_COLUMNS,
    KILL,
    RESTART,
    START,
    STOP,
    ContainersPage,
    RenameDialog,
    browser_urls,
    containers_model,
    group_tone,
)
from app.session import ConnectionState, EngineSession, MessageLevel
from tests.app.conftest import answer, await_in_qt, shown_box, wait_connected
from tests.conftest import DOCKER_CLI, RUN_ID, EngineUnderTest, unique_name
from tests.faults import SocketRelay
from tests.waits import seconds, wait_ms

STATE = 3  # the State column
CPU = 4  # then Memory

# -- pure parts ------------------------------------------------------------------------


def fake(cid: str, state: str = "running", project: str | None = None,
         ports: tuple[engine.Port, ...] = (), status: str = "") -> engine.Container:
    labels = {engine.COMPOSE_PROJECT_LABEL: project} if project else {}
    return engine.Container(
        id=cid, name=f"name-{cid}", image="busybox", image_id="sha256:1", command="sh",
        created=datetime(2024, 1, 1, tzinfo=UTC), state=state,
        status=status or ("Up 1 minute" if state == "running" else "Exited (0) 1 minute ago"),
        ports=ports, labels=labels)


def test_browser_urls_use_loopback_for_wildcard_ports() -> None:
    container = fake("a", ports=(
        engine.Port(80, "tcp", 32768, "0.0.0.0"), engine.Port(80, "tcp", 32768, "::"),
        engine.Port(53, "udp", 5353, "0.0.0.0"), engine.Port(443, "tcp", None, None),
        engine.Port(8080, "tcp", 9000, "192.168.1.5"), engine.Port(81, "tcp", 9001, "::1"),
    ))
    assert browser_urls(container) == [
        "http://192.168.1.5:9000", "http://[::1]:9001", "http://127.0.0.1:32768"]
    assert browser_urls(fake("b")) == []


def test_group_summary_and_tone() -> None:
    group = ComposeGroup("shop", (fake("a"), fake("b", "exited"), fake("c")))
    assert group.summary == "2 of 3 running"
    assert group_tone(group) == "busy"
    assert group_tone(ComposeGroup("shop", (fake("a"),))) == "good"
    assert group_tone(ComposeGroup("shop", (fake("a", "exited"),))) == "idle"
    failed = fake("x", "exited", status="Exited (1) 2 seconds ago")
    assert group_tone(ComposeGroup("shop", (fake("a"), failed))) == "bad"


def shown_tree(page_proxy: Any) -> list[tuple[str, list[str]]]:
    """(top row's name, [its children's names]) for what the view shows."""
    rows = []
    for row in range(page_proxy.rowCount()):
        index = page_proxy.index(row, 0)
        children = [page_proxy.index(r, 0, index).data()
                    for r in range(page_proxy.rowCount(index))]
        rows.append((index.data(), children))
    return rows


def test_tree_follows_the_flat_model_by_diffs(qtbot: QtBot, qtmodeltester: ModelTester) -> None:
    flat = containers_model()
    tree = ContainerTreeModel(flat, CONTAINER_COLUMNS, GROUP_COLUMNS)
    qtmodeltester.check(tree)
    resets: list[None] = []
    tree.modelReset.connect(lambda: resets.append(None))
    flat.set_items([fake("a", project="shop"), fake("b", "exited", project="shop"), fake("c")])
    assert tree.rowCount() == 2
    group = tree.group_index("shop")
    assert group.data() == "shop" and group.data(IsGroupRole)
    assert tree.index(group.row(), STATE).data() == "1 of 2 running"
    assert tree.rowCount(group) == 2
    assert tree.index_of("b").parent() == group

    # A state change updates the container's row and the group's count in place.
    changes: list[tuple[int, int]] = []
    tree.dataChanged.connect(lambda first, _last, _roles=(): changes.append(
        (first.row(), first.internalId())))
    flat.set_items([fake("a", project="shop"), fake("b", project="shop"), fake("c")])
    assert tree.index(group.row(), STATE).data() == "2 of 2 running"
    assert (group.row(), 0) in changes
    # Another container joins the project; one leaves; the last one takes the group away.
    flat.set_items([fake("a", project="shop"), fake("b", project="shop"), fake("c"),
                    fake("d", "exited", project="shop")])
    assert tree.index(tree.group_index("shop").row(), STATE).data() == "2 of 3 running"
    flat.set_items([fake("b", project="shop"), fake("c")])
    assert tree.index(tree.group_index("shop").row(), STATE).data() == "1 of 1 running"
    flat.set_items([fake("c")])
    assert not tree.group_index("shop").isValid()
    assert tree.rowCount() == 1
    # The busy text replaces the state while an action runs.
    tree.set_busy("c", "stopping…")
    assert tree.index_of("c", STATE).data() == "stopping…"
    tree.set_busy("c", None)
    assert tree.index_of("c", STATE).data() == "running"
    assert resets == []


# -- against real engines -----------------------------------------------------------------


@pytest.fixture
def page(qtbot: QtBot, make_session: Callable[[str], EngineSession],
         any_engine: EngineUnderTest) -> ContainersPage:
    session = make_session(any_engine.url)
    page = ContainersPage(session)
    qtbot.addWidget(page)
    page.resize(1000, 700)
    session.start()
    wait_connected(qtbot, session)
    return page


@pytest.fixture
def messages(page: ContainersPage) -> list[tuple[MessageLevel, str]]:
    seen: list[tuple[MessageLevel, str]] = []
    page.session.message.connect(lambda level, text: seen.append((level, text)))
    return seen


def errors(messages: list[tuple[MessageLevel, str]]) -> list[str]:
    return [text for level, text in messages if level != MessageLevel.INFO]


def state_of(page: ContainersPage, container_id: str) -> str | None:
    index = page.proxy.index_of(container_id, STATE)  # type: ignore[attr-defined]
    return index.data() if index.isValid() else None


def group_state(page: ContainersPage, project: str) -> str | None:
    for row in range(page.proxy.rowCount()):
        index = page.proxy.index(row, 0)
        if index.data(IsGroupRole) and index.data() == project:
            return str(index.siblingAtColumn(STATE).data())
    return None


def select(qtbot: QtBot, page: ContainersPage, *ids: str) -> None:
    qtbot.waitUntil(lambda: all(page.model.row_of(i) is not None for i in ids), timeout=wait_ms(10))
    selection = page.tree.selectionModel()
    selection.clearSelection()
    for container_id in ids:
        index = page.proxy.index_of(container_id)  # type: ignore[attr-defined]
        assert index.isValid()
        selection.select(index, QItemSelectionModel.SelectionFlag.Select
                         | QItemSelectionModel.SelectionFlag.Rows)
    assert sorted(c.id for c in page.selected_items()) == sorted(ids)


def compose(target: EngineUnderTest, project: str, *command: str) -> tuple[str, str]:
    return target.create("--label", f"com.docker.compose.project={project}",
                         "--label", "com.docker.compose.service=web", target.image, *command)


def test_groups_appear_and_follow_the_engine(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    qtmodeltester: ModelTester,
) -> None:
    qtmodeltester.check(page.tree_model)
    qtmodeltester.check(page.proxy)
    resets: list[None] = []
    for model in (page.model, page.tree_model, page.proxy):
        model.modelReset.connect(lambda: resets.append(None))
    project = f"dockyard-{RUN_ID}-{unique_name('p')[-3:].strip('-')}"
    first_id, first = compose(any_engine, project, "sleep", "300")
    second_id, _ = compose(any_engine, project, "sleep", "300")
    loose_id, _ = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", first)
    qtbot.waitUntil(lambda: group_state(page, project) == "1 of 2 running", timeout=wait_ms(10))
    group = next(page.proxy.index(r, 0) for r in range(page.proxy.rowCount())
                 if page.proxy.index(r, 0).data() == project)
    assert page.tree.isExpanded(group)
    assert page.proxy.index_of(first_id).parent() == group  # type: ignore[attr-defined]
    assert not page.proxy.index_of(loose_id).parent().isValid()  # type: ignore[attr-defined]

    # The selection stays on the loose container through every change to the group.
    select(qtbot, page, loose_id)
    third_id, _ = compose(any_engine, project, "sleep", "300")
    qtbot.waitUntil(lambda: group_state(page, project) == "1 of 3 running", timeout=wait_ms(10))

    # Search: a group shows when a child matches; running only keeps the running child.
    page.search.setText(project)
    assert shown_tree(page.proxy)[0][0] == project
    assert len(shown_tree(page.proxy)[0][1]) == 3
    page.running_only.setChecked(True)
    assert [len(children) for _, children in shown_tree(page.proxy)] == [1]
    page.search.setText(first)
    assert shown_tree(page.proxy) == [(project, [first])]
    page.search.setText("no-such-container-anywhere")
    assert shown_tree(page.proxy) == []
    page.search.clear()
    page.running_only.setChecked(False)
    select(qtbot, page, loose_id)  # filtering it out above dropped it from the selection

    any_engine.cli("rm", "-f", first_id)
    qtbot.waitUntil(lambda: group_state(page, project) == "0 of 2 running", timeout=wait_ms(10))
    any_engine.cli("rm", "-f", second_id, third_id)
    qtbot.waitUntil(lambda: group_state(page, project) is None, timeout=wait_ms(10))
    assert page.model.row_of(loose_id) is not None
    assert [c.id for c in page.selected_items()] == [loose_id]
    assert resets == []


def test_selecting_a_group_acts_on_its_containers(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    messages: list[tuple[MessageLevel, str]],
) -> None:
    project = f"dockyard-{RUN_ID}-grp"
    ids = [compose(any_engine, project, "sleep", "300")[0] for _ in range(2)]
    qtbot.waitUntil(lambda: group_state(page, project) == "0 of 2 running", timeout=wait_ms(10))
    row = next(r for r in range(page.proxy.rowCount())
               if page.proxy.index(r, 0).data() == project)
    page.table.selectRow(row)
    assert sorted(c.id for c in page.selected_items()) == sorted(ids)
    assert page.start_button.isEnabled()
    page.start_button.click()
    qtbot.waitUntil(lambda: group_state(page, project) == "2 of 2 running", timeout=wait_ms(20))
    assert errors(messages) == []


def test_pause_then_unpause(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    messages: list[tuple[MessageLevel, str]],
) -> None:
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    qtbot.waitUntil(lambda: state_of(page, container_id) == "running", timeout=wait_ms(10))
    select(qtbot, page, container_id)
    assert page.pause_button.isEnabled() and not page.unpause_button.isEnabled()
    page.pause_button.click()
    assert state_of(page, container_id) == "pausing…"  # progress at once
    qtbot.waitUntil(lambda: state_of(page, container_id) == "paused", timeout=wait_ms(15))
    assert any_engine.cli("inspect", "--format", "{{.State.Status}}", name) == "paused"
    qtbot.waitUntil(page.unpause_button.isEnabled, timeout=wait_ms(5))
    assert not page.start_button.isEnabled()
    page.unpause_button.click()
    qtbot.waitUntil(lambda: state_of(page, container_id) == "running", timeout=wait_ms(15))
    assert errors(messages) == []
    assert (MessageLevel.INFO, f"Unpaused {name}") in messages


def test_stop_of_a_paused_container(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    messages: list[tuple[MessageLevel, str]],
) -> None:
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    any_engine.cli("pause", name)
    qtbot.waitUntil(lambda: state_of(page, container_id) == "paused", timeout=wait_ms(10))
    select(qtbot, page, container_id)
    page.stop_button.click()
    qtbot.waitUntil(lambda: (state_of(page, container_id) or "").startswith("exited"),
                    timeout=wait_ms(30))
    assert errors(messages) == []


def test_kill_and_kill_of_a_stopped_container(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    messages: list[tuple[MessageLevel, str]],
) -> None:
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    qtbot.waitUntil(lambda: state_of(page, container_id) == "running", timeout=wait_ms(10))
    select(qtbot, page, container_id)
    page.kill_button.click()
    qtbot.waitUntil(lambda: state_of(page, container_id) == "exited (137)", timeout=wait_ms(15))
    assert not page.kill_button.isEnabled()
    stale = page.selected_items()[0]
    page.perform(KILL, [stale])  # a stale list, or a second click: the daemon refuses
    qtbot.waitUntil(lambda: bool(errors(messages)), timeout=wait_ms(10))
    [error] = errors(messages)
    assert error.startswith(f"Could not kill {name}: ")
    assert "not running" in error or "container state improper" in error
    qtbot.waitUntil(lambda: state_of(page, container_id) == "exited (137)", timeout=wait_ms(15))


def test_rename_through_the_dialog_and_to_a_taken_name(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    messages: list[tuple[MessageLevel, str]],
) -> None:
    container_id, name = any_engine.create(any_engine.image, "true")
    _other, taken = any_engine.create(any_engine.image, "true")
    select(qtbot, page, container_id)

    def rename_to(new: str) -> None:
        page.rename_button.click()
        dialog = page.findChild(RenameDialog)
        assert dialog is not None and dialog.isVisible()
        assert dialog.name.text() == name
        dialog.name.setText("bad name")  # marked inline, Rename disabled
        assert dialog.problem.text().startswith("A name may only use")
        ok = dialog.rename_button
        assert ok.text() == "Rename"
        assert not ok.isEnabled()
        dialog.name.setText(new)
        assert ok.isEnabled()
        with qtbot.waitSignal(dialog.destroyed, timeout=wait_ms(5)):  # closed, and gone
            ok.click()

    rename_to(taken)
    qtbot.waitUntil(lambda: bool(errors(messages)), timeout=wait_ms(10))
    [error] = errors(messages)
    assert error.startswith(f"Could not rename {name} to {taken}: ")
    assert "already in use" in error
    new_name = unique_name("renamed")
    rename_to(new_name)
    qtbot.waitUntil(lambda: page.model.item_at(page.model.row_of(container_id) or 0).name
                    == new_name, timeout=wait_ms(10))
    assert (MessageLevel.INFO, f"Renamed {name} to {new_name}") in messages
    assert len(errors(messages)) == 1


def test_the_rename_dialog_is_wide_enough_for_its_title(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
) -> None:
    """"Rename <a long name>" was cut short by the window manager: the dialog was only
    as wide as its field.  It is now at least as wide as the title and the frame's
    icon and buttons beside it."""
    container_id, name = any_engine.create(
        any_engine.image, "true", name=unique_name("a-container-with-a-long-name-for-rename"))
    select(qtbot, page, container_id)
    page.rename_button.click()
    dialog = page.findChild(RenameDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitExposed(dialog, timeout=wait_ms(5))
    assert dialog.windowTitle() == f"Rename {name}"
    bold = QFont(dialog.font())
    bold.setBold(True)
    needed = QFontMetrics(bold).horizontalAdvance(dialog.windowTitle())
    assert dialog.width() >= needed + 120  # the title, and the frame's buttons beside it
    dialog.reject()


def test_no_op_start_and_stop_stay_silent(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    messages: list[tuple[MessageLevel, str]],
) -> None:
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    select(qtbot, page, container_id)
    created = page.selected_items()[0]
    any_engine.cli("start", name)
    qtbot.waitUntil(lambda: state_of(page, container_id) == "running", timeout=wait_ms(10))
    running = page.selected_items()[0]
    page.perform(START, [running])  # what a stale row would send: 304
    qtbot.waitUntil(lambda: page.tree_model.busy(container_id) is None, timeout=wait_ms(10))
    any_engine.cli("stop", "-t", "0", name)
    qtbot.waitUntil(lambda: (state_of(page, container_id) or "").startswith("exited"),
                    timeout=wait_ms(10))
    page.perform(STOP, [created])  # stopped already: 304
    qtbot.waitUntil(lambda: page.tree_model.busy(container_id) is None, timeout=wait_ms(10))
    assert messages == []


def test_remove_racing_auto_remove_shows_no_error(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    messages: list[tuple[MessageLevel, str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    container_id, name = any_engine.create("--rm", any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    qtbot.waitUntil(lambda: state_of(page, container_id) == "running", timeout=wait_ms(10))
    [container] = [c for c in page.model.items() if c.id == container_id]
    page.perform(STOP, [container])
    page.remove([container])  # the daemon is removing it by itself meanwhile
    qtbot.waitUntil(lambda: page.model.row_of(container_id) is None, timeout=wait_ms(30))
    qtbot.waitUntil(lambda: not page.session._tasks, timeout=wait_ms(30))
    assert errors(messages) == []


def test_restart_racing_a_removal_shows_no_error(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    messages: list[tuple[MessageLevel, str]],
) -> None:
    """Restart pressed while `docker rm -f` runs: gone or going, it is no failure.

    Docker answers a restart of a container under removal with 500 "container is
    marked for removal and cannot be started".  Thousands of files in the writable
    layer keep the removal going long enough for the restart to land in it.
    """
    if any_engine.kind == "podman":
        # Podman has no such state (it answers "no such container", covered by the
        # NotFound mapping), and its service dropped the session's connection under
        # this removal's load once in CI: the test would measure that instead.
        pytest.skip("Docker's removal-in-progress race")
    container_id, name = any_engine.create(
        any_engine.image, "sh", "-c",
        "mkdir /junk && cd /junk && seq 1 20000 | xargs touch && touch /ready && sleep 300")
    any_engine.cli("start", name)
    qtbot.waitUntil(lambda: any_engine.cli("exec", name, "ls", "/ready", check=False)
                    == "/ready", timeout=wait_ms(60))
    qtbot.waitUntil(lambda: state_of(page, container_id) == "running", timeout=wait_ms(10))
    [container] = [c for c in page.model.items() if c.id == container_id]
    removal = subprocess.Popen(
        [DOCKER_CLI, "--host", any_engine.url, "rm", "-f", name],
        env={**os.environ, "DOCKER_CONFIG": str(any_engine.cli_config)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        qtbot.waitUntil(lambda: "Removal In Progress" in any_engine.cli(
            "ps", "-a", "--filter", f"id={container_id}", "--format", "{{.Status}}",
            check=False) or removal.poll() is not None, timeout=wait_ms(30))
        page.perform(RESTART, [container])
        qtbot.waitUntil(lambda: page.model.row_of(container_id) is None, timeout=wait_ms(30))
        qtbot.waitUntil(lambda: not page.session._tasks, timeout=wait_ms(30))
    finally:
        removal.wait(timeout=seconds(60))
    assert errors(messages) == []


def test_remove_with_anonymous_volumes(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    messages: list[tuple[MessageLevel, str]],
) -> None:
    # Two at a time: the detail pane (one selected container) stays out of it.
    drop = [any_engine.create("-v", "/data", any_engine.image, "true")[0] for _ in range(2)]
    keep = [any_engine.create("-v", "/data", any_engine.image, "true")[0] for _ in range(2)]
    volume_of = {cid: any_engine.cli("inspect", "--format",
                                     "{{range .Mounts}}{{.Name}}{{end}}", cid)
                 for cid in drop + keep}
    before = set(any_engine.cli("volume", "ls", "-q").split())
    assert set(volume_of.values()) <= before
    asked: list[str] = []
    for ids, tick in ((drop, True), (keep, False)):
        select(qtbot, page, *ids)
        page.remove_button.click()
        box = shown_box("remove-confirm")
        assert box is not None and box.checkBox().text() == "Also remove anonymous volumes"
        asked.append(answer(qtbot, "remove-confirm", "Remove", tick=tick))
        assert [page.tree_model.busy(cid) for cid in ids] == ["removing…"] * 2
        qtbot.waitUntil(lambda ids=ids: all(page.model.row_of(c) is None for c in ids),
                        timeout=wait_ms(30))
    after = set(any_engine.cli("volume", "ls", "-q").split())
    assert not {volume_of[c] for c in drop} & after
    assert {volume_of[c] for c in keep} <= after
    any_engine.cli("volume", "rm", *(volume_of[c] for c in keep))
    assert asked[0].startswith("Remove 2 containers: ")
    assert errors(messages) == []


def test_remove_cancelled_keeps_the_container(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
) -> None:
    container_id, _ = any_engine.create(any_engine.image, "true")
    select(qtbot, page, container_id)
    page.remove_button.click()
    answer(qtbot, "remove-confirm", "Cancel")
    assert page.tree_model.busy(container_id) is None
    assert any_engine.cli("ps", "-aq", "--filter", f"id={container_id}")


def test_open_a_published_port(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    container_id, name = any_engine.create("-p", "8080", any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    host_port = any_engine.cli("port", name, "8080/tcp").splitlines()[0].rsplit(":", 1)[1]
    opened: list[str] = []
    monkeypatch.setattr(containers_module.QDesktopServices, "openUrl",
                        lambda url: opened.append(QUrl(url).toString()) or True)
    qtbot.waitUntil(lambda: state_of(page, container_id) == "running", timeout=wait_ms(10))
    select(qtbot, page, container_id)
    assert page.open_button.isEnabled()
    assert [a.text() for a in page.open_menu.actions()] == [f"http://127.0.0.1:{host_port}"]
    page.open_button.defaultAction().trigger()
    assert opened == [f"http://127.0.0.1:{host_port}"]



def usage_cells(page: ContainersPage, container_id: str) -> tuple[str, str]:
    index = page.proxy.index_of(container_id, CPU)  # type: ignore[attr-defined]
    if not index.isValid():
        return "", ""
    return str(index.data()), str(index.siblingAtColumn(CPU + 1).data())


def test_cpu_and_memory_columns_stream_only_for_running_rows_in_view(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
) -> None:
    prefix = unique_name("usage")
    busy_id, busy = any_engine.create(any_engine.image, "sh", "-c", "while :; do :; done",
                                      name=f"{prefix}-busy")
    idle_id, idle = any_engine.create(any_engine.image, "sleep", "300", name=f"{prefix}-idle")
    stopped_id, _ = any_engine.create(any_engine.image, "true", name=f"{prefix}-stopped")
    any_engine.cli("start", busy, idle)
    page.show()
    page.search.setText(prefix)
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 3, timeout=wait_ms(10))

    def cpu(container_id: str) -> float:
        text = usage_cells(page, container_id)[0]
        return float(text.removesuffix(" %")) if text else -1.0

    # Podman samples every few seconds, Docker every second.
    qtbot.waitUntil(lambda: cpu(busy_id) > 10.0 and usage_cells(page, idle_id)[1] != "",
                    timeout=wait_ms(30))
    assert 0.0 <= cpu(idle_id) < 10.0
    memory = page.proxy.index_of(idle_id, CPU + 1)  # type: ignore[attr-defined]
    assert re.fullmatch(r"[\d.]+(B|KiB|MiB)", memory.data()), memory.data()  # as docker stats
    assert " of " in memory.data(Qt.ItemDataRole.ToolTipRole)
    assert usage_cells(page, stopped_id) == ("", "")
    assert {busy_id, idle_id} <= page.usage.watched
    assert stopped_id not in page.usage.watched
    assert page.usage.watched == set(page.visible_running())

    # A row that leaves the view stops its stream and empties its cells.
    page.search.setText(busy)
    qtbot.waitUntil(lambda: idle_id not in page.usage.watched, timeout=wait_ms(5))
    assert idle_id not in page.usage.samples
    assert busy_id in page.usage.watched

    # A container that stops ends its stream by itself.
    any_engine.cli("kill", busy)
    qtbot.waitUntil(lambda: busy_id not in page.usage.watched, timeout=wait_ms(20))
    qtbot.waitUntil(lambda: usage_cells(page, busy_id) == ("", ""), timeout=wait_ms(5))

    # A hidden page streams nothing.
    page.search.setText(prefix)
    qtbot.waitUntil(lambda: idle_id in page.usage.watched, timeout=wait_ms(5))
    page.hide()
    assert page.usage.watched == set()


def test_cpu_column_comes_back_after_the_engine_does(
    qtbot: QtBot, make_session: Callable[[str], EngineSession],
    docker_engine: EngineUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(container_usage, "RETRY_AFTER_S", 1.0)
    relay = SocketRelay(docker_engine.endpoint.socket_path or "", tmp_path / "relay.sock")
    await_in_qt(qtbot, relay.start())
    session = make_session(relay.url)
    page = ContainersPage(session)
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    session.start()
    wait_connected(qtbot, session)
    container_id, name = docker_engine.create(docker_engine.image, "sleep", "300")
    docker_engine.cli("start", name)
    page.search.setText(name)
    qtbot.waitUntil(lambda: usage_cells(page, container_id)[1] != "", timeout=wait_ms(20))

    await_in_qt(qtbot, relay.cut())
    qtbot.waitUntil(lambda: container_id not in page.usage.watched, timeout=wait_ms(10))
    assert usage_cells(page, container_id) == ("", "")
    # The stats stream breaks first; "connected" means the return only once the session
    # has seen the loss too (else the wait below passes on the old connection's state).
    qtbot.waitUntil(lambda: session.status.state is ConnectionState.LOST, timeout=wait_ms(10))
    await_in_qt(qtbot, relay.start())
    session.retry_now()
    wait_connected(qtbot, session)
    # No list change is needed: the streams start again once the engine is back.
    qtbot.waitUntil(lambda: usage_cells(page, container_id)[1] != "", timeout=wait_ms(20))
    await_in_qt(qtbot, relay.cut())


def test_copy_run_command_puts_the_recreating_command_on_the_clipboard(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    messages: list[tuple[MessageLevel, str]],
) -> None:
    container_id, name = any_engine.create("-e", "MODE=copy me", any_engine.image, "sleep", "5")
    select(qtbot, page, container_id)
    QGuiApplication.clipboard().clear()
    page.action_buttons["container-copy-run"].click()
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().text() != "", timeout=wait_ms(10))
    assert QGuiApplication.clipboard().text() == (
        f"docker run --detach --name {name} --env 'MODE=copy me'"
        f" {any_engine.qualified(any_engine.image)} sleep 5")
    assert (MessageLevel.INFO, f"Copied the docker run command that recreates {name}") in messages


def test_names_phrase_names_two_and_counts_more() -> None:
    assert containers_module.names_phrase(["a"]) == "a"
    assert containers_module.names_phrase(["a", "b"]) == "a and b"
    assert containers_module.names_phrase(["a", "b", "c"]) == "3 containers"


def test_an_action_on_several_containers_names_them_all_in_one_message(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
    messages: list[tuple[MessageLevel, str]],
) -> None:
    made = [any_engine.create(any_engine.image, "sleep", "300") for _ in range(3)]
    ids = [cid for cid, _ in made]
    select(qtbot, page, *ids)
    page.start_button.click()
    qtbot.waitUntil(lambda: all(state_of(page, cid) == "running" for cid in ids),
                    timeout=wait_ms(20))
    qtbot.waitUntil(lambda: (MessageLevel.INFO, "Started 3 containers") in messages,
                    timeout=wait_ms(10))
    select(qtbot, page, ids[0], ids[1])
    page.stop_button.click()
    names = [c.name for c in page.selected_items()]
    qtbot.waitUntil(
        lambda: (MessageLevel.INFO, f"Stopped {names[0]} and {names[1]}") in messages,
        timeout=wait_ms(30))
    info = [text for level, text in messages if level == MessageLevel.INFO]
    assert not any(text.startswith("Started ") and text != "Started 3 containers"
                   for text in info)  # one message per action, not one per container
    assert errors(messages) == []


def test_a_selected_group_says_what_it_offers(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
) -> None:
    project = f"dockyard-{RUN_ID}-offer"
    for _ in range(2):
        compose(any_engine, project, "sleep", "300")
    qtbot.waitUntil(lambda: group_state(page, project) == "0 of 2 running", timeout=wait_ms(10))
    row = next(r for r in range(page.proxy.rowCount())
               if page.proxy.index(r, 0).data() == project)
    page.table.selectRow(row)
    title = page.detail.title.text()
    assert "Select a container" not in title
    assert project in title and "2 containers" in title and "act on all of them" in title
    page.tree.selectionModel().clearSelection()
    assert page.detail.title.text() == "Select a container to see its logs."


def test_an_empty_table_says_what_to_do_next(
    qtbot: QtBot, make_session: Callable[[str], EngineSession], any_engine: EngineUnderTest,
) -> None:
    session = make_session(any_engine.url)  # not started: nothing listed yet
    page = ContainersPage(session)
    qtbot.addWidget(page)
    page.show()
    assert page.empty_label.isVisible()
    assert page.empty_label.text().startswith("No containers yet")
    assert "Images page" in page.empty_label.text()


def test_a_filter_that_hides_every_row_says_so(
    qtbot: QtBot, page: ContainersPage, any_engine: EngineUnderTest,
) -> None:
    container_id, _ = any_engine.create(any_engine.image, "sleep", "300")
    qtbot.waitUntil(lambda: page.model.row_of(container_id) is not None, timeout=wait_ms(10))
    page.show()
    assert not page.empty_label.isVisible()
    page.search.setText("no-such-container-anywhere")
    assert page.empty_label.isVisible()
    assert page.empty_label.text() == "Nothing matches the search or the filter."
    page.search.clear()
    assert not page.empty_label.isVisible()
