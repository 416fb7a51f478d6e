"""The Swarm page's Logs tab and task history against the private swarm (a real engine):
a service's lines from each task, marked, searched and followed; a failing task's error
and exit code, and its rescheduling, as the user sees them."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.models.table import ItemRole
from app.pages.swarm import SwarmPage
from app.session import EngineSession
from app.settings import LOG_LINE_CAP
from app.widgets.log_view import LogEntry
from tests.app.conftest import wait_connected
from tests.app.test_desktop import make_settings
from tests.conftest import LABEL, SwarmUnderTest, unique_name
from tests.waits import wait_ms

WAIT = wait_ms(60)
TICKER = "i=0; while true; do echo \"tick $i from $(hostname)\"; i=$((i+1)); sleep 0.3; done"


def open_page(qtbot: QtBot, make_session, target: SwarmUnderTest  # type: ignore[no-untyped-def]
              ) -> SwarmPage:
    session: EngineSession = make_session(target.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session)
    page = window.page(SwarmPage)
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    return page


def select(qtbot: QtBot, page: SwarmPage, service_id: str, name: str) -> None:
    qtbot.waitUntil(lambda: page.model.row_of(service_id) is not None, timeout=WAIT)
    page.search.setText(name)
    qtbot.waitUntil(lambda: page.table.model().rowCount() == 1, timeout=WAIT)
    page.table.selectRow(0)
    qtbot.waitUntil(lambda: page.tasks_title.text() == f"Tasks of {name}", timeout=WAIT)


def cells(page: SwarmPage, column: str) -> list[str]:
    """A column of the tasks table, top to bottom as shown."""
    model = page.tasks.model()
    titles = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    at = titles.index(column)
    return [str(model.index(row, at).data()) for row in range(model.rowCount())]


def ticks(entries: list[LogEntry], names: list[str]) -> dict[str, list[tuple[int, str]]]:
    """Each mark's ``tick N from HOST`` lines as (N, HOST)."""
    found: dict[str, list[tuple[int, str]]] = {}
    for entry in entries:
        match = re.fullmatch(r"tick (\d+) from (\w+)", entry.plain)
        assert match, entry.plain
        found.setdefault(names[entry.source], []).append((int(match.group(1)), match.group(2)))
    return found


def test_logs_tab_shows_each_tasks_lines_marked_and_follows_them(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("plogs")
    service_id = swarm_engine.cli("service", "create", "--detach", "--name", name,
                                  "--replicas", "2", "--label", LABEL, swarm_engine.image,
                                  "sh", "-c", TICKER)
    page = open_page(qtbot, make_session, swarm_engine)
    select(qtbot, page, service_id, name)
    view = page.logs
    assert not page.service_logs.following  # the Tasks tab shows: nothing is read
    # The Logs tab from the command palette (Ctrl+K), as a keyboard user gets there.
    window = page.window()
    assert isinstance(window, MainWindow)
    palette = window.open_palette()
    qtbot.keyClicks(palette.query, "service logs")
    assert palette.labels()[0] == "Swarm: Service logs"
    qtbot.keyClick(palette.query, Qt.Key.Key_Return)
    assert page.detail_tabs.currentWidget() is view
    hostname = swarm_engine.cli("node", "inspect", "--format", "{{.Description.Hostname}}",
                                swarm_engine.node_id)
    marks = {f"{name}.1@{hostname}", f"{name}.2@{hostname}"}

    def both_tasks(least: int) -> bool:
        view.flush()
        found = ticks(list(view.model.entries), view.source_names)
        return set(found) == marks and all(len(v) >= least for v in found.values())

    qtbot.waitUntil(lambda: both_tasks(3), timeout=WAIT)
    assert page.service_logs.following
    assert set(view.source_buttons) == marks  # a filter button per task
    found = ticks(list(view.model.entries), view.source_names)
    for lines in found.values():  # one container per mark, its ticks in order, none twice
        assert len({host for _, host in lines}) == 1
        numbers = [n for n, _ in lines]
        assert numbers == sorted(set(numbers))
    shown = view.line_text(view.model.entries[-1])
    assert re.match(rf"{re.escape(name)}\.[12]@{re.escape(hostname)} +\| tick \d+ from ", shown)

    # Follow: new lines keep arriving while the tab shows.
    held = {mark: len(lines) for mark, lines in found.items()}
    qtbot.waitUntil(lambda: both_tasks(max(held.values()) + 5), timeout=WAIT)

    # The log view's search finds the lines of one task's container.
    host = found[f"{name}.2@{hostname}"][0][1]
    view.search.setText(f"from {host}")
    qtbot.waitUntil(lambda: view.match_count() >= 3, timeout=WAIT)

    # Back on the Tasks tab the read stops; on the Logs tab again it resumes: the lines
    # written meanwhile come, none twice, none missing.
    page.detail_tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: not page.service_logs.following, timeout=WAIT)
    view.flush()
    held_ticks = ticks(list(view.model.entries), view.source_names)
    before = {mark: len(lines) for mark, lines in held_ticks.items()}
    newest_shown = max(n for lines in held_ticks.values() for n, _ in lines)

    def written_meanwhile() -> bool:  # the engine has lines the view has not read
        out = swarm_engine.cli("service", "logs", "--raw", "--tail", "3", name)
        newest = max((int(n) for n in re.findall(r"tick (\d+) from", out)), default=-1)
        return newest >= newest_shown + 4

    qtbot.waitUntil(written_meanwhile, timeout=WAIT)
    page.detail_tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: both_tasks(max(before.values()) + 8), timeout=WAIT)
    assert page.service_logs.reads == 2
    for lines in ticks(list(view.model.entries), view.source_names).values():
        numbers = [n for n, _ in lines]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers


def test_a_failing_task_shows_its_error_exit_code_and_rescheduling(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("pfail")
    service_id = swarm_engine.cli(
        "service", "create", "--detach", "--name", name, "--replicas", "1",
        "--restart-condition", "on-failure", "--restart-delay", "1s", "--label", LABEL,
        swarm_engine.image, "sh", "-c", "echo starting; sleep 1; exit 3")
    page = open_page(qtbot, make_session, swarm_engine)
    select(qtbot, page, service_id, name)

    def failed_rows() -> int:
        return sum(1 for state in cells(page, "Current") if state == "failed")

    qtbot.waitUntil(lambda: failed_rows() >= 1, timeout=WAIT)
    row = cells(page, "Current").index("failed")
    assert cells(page, "Exit")[row] == "3"
    assert cells(page, "Error")[row] == "task: non-zero exit (3)"
    assert page.history.isVisibleTo(page)
    assert "exit code 3" in page.history.text()
    assert "task: non-zero exit (3)" in page.history.text()

    # The swarm starts a new task in the slot; the history grows as it does.
    qtbot.waitUntil(lambda: failed_rows() >= 2, timeout=WAIT)
    assert "2 tasks failed" in page.history.text() or "3 tasks failed" in page.history.text()
    slots = cells(page, "Slot")
    assert set(slots) == {"1"}  # one slot, its tasks one under the other
    shown = page.tasks.model()
    created = [shown.index(row, 0).data(ItemRole).created for row in range(shown.rowCount())]
    assert created == sorted(created, reverse=True)  # newest first
    assert all(d == "shutdown" for d, s in zip(cells(page, "Desired"), cells(page, "Current"),
                                               strict=True) if s == "failed")


def test_the_service_log_keeps_as_many_lines_as_the_setting_says(
        qtbot: QtBot, qloop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    settings.set(LOG_LINE_CAP, 5000)
    window = MainWindow(EngineSession(f"unix://{tmp_path}/none.sock"), settings)
    qtbot.addWidget(window)
    page = window.page(SwarmPage)
    assert page.logs.model.cap == 5000
    settings.set(LOG_LINE_CAP, 7000)
    assert page.logs.model.cap == 7000


def test_a_log_that_cannot_be_read_says_so_once(
        qtbot: QtBot, make_session, swarm_engine: SwarmUnderTest) -> None:  # type: ignore[no-untyped-def]
    """A service whose log driver keeps nothing: one plain message, not one per event."""
    name = unique_name("nolog")
    service_id = swarm_engine.cli("service", "create", "--detach", "--name", name,
                                  "--replicas", "1", "--log-driver", "none", "--label", LABEL,
                                  swarm_engine.image, "sleep", "3600")
    page = open_page(qtbot, make_session, swarm_engine)
    said: list[str] = []
    page.session.message.connect(lambda _level, text: said.append(text))
    select(qtbot, page, service_id, name)
    page.detail_tabs.setCurrentWidget(page.logs)
    qtbot.waitUntil(lambda: any(f"read the logs of service {name}" in t for t in said),
                    timeout=WAIT)
    message = next(t for t in said if name in t)
    assert "\n" not in message and "Traceback" not in message
    # More swarm events (a scale) reload the page; the failed read is not tried again.
    swarm_engine.cli("service", "scale", "--detach", f"{name}=2")
    qtbot.waitUntil(lambda: sum(1 for t in page.tasks_model.items()
                                if t.state == "running") == 2, timeout=WAIT)
    assert sum(1 for t in said if f"read the logs of service {name}" in t) == 1
    assert page.logs.model.rowCount() == 0
