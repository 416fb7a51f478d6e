"""The Apps page's merged log against real engines: filters, and reading only while shown.

The project is three labelled containers with the Compose labels (what any Compose
tool leaves), writing numbered lines with levels, so the tests can say exactly
which lines a filter must show and that none is lost or repeated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.pages.apps import AppsPage
from app.session import EngineSession
from app.widgets.log_view import EntryRole, LogEntry
from tests.app.conftest import wait_connected
from tests.conftest import EngineUnderTest, unique_name
from tests.waits import wait_ms

WAIT = wait_ms(30)
LEVELS = ("ERROR boom", "WARN slow", "INFO ok", "DEBUG detail", "plain")
# Each service writes "<service> <n> <level words>", the level cycling through LEVELS.
SCRIPT = ('i=0; while true; do case $((i % 5)) in 0) l="ERROR boom";; 1) l="WARN slow";;'
          ' 2) l="INFO ok";; 3) l="DEBUG detail";; *) l="plain";; esac;'
          ' echo "{name} $i $l"; i=$((i+1)); sleep {pause}; done')
SERVICES = {"api": 0.1, "db": 0.15, "cache": 0.2}


@pytest.fixture
def project(any_engine: EngineUnderTest) -> Iterator[tuple[EngineUnderTest, str]]:
    """Three running services of one project, removed after."""
    name = unique_name("logs").replace(".", "-")
    ids = []
    try:
        for service, pause in SERVICES.items():
            container_id, _ = any_engine.create(
                "--label", f"{engine.COMPOSE_PROJECT_LABEL}={name}",
                "--label", f"{engine.COMPOSE_SERVICE_LABEL}={service}",
                "--label", f"{engine.COMPOSE_NUMBER_LABEL}=1",
                any_engine.image, "sh", "-c", SCRIPT.format(name=service, pause=pause))
            ids.append(container_id)
            any_engine.cli("start", container_id)
        yield any_engine, name
    finally:
        if ids:
            any_engine.cli("rm", "-f", *ids, check=False)


def open_logs(qtbot: QtBot, make_session, target: EngineUnderTest, name: str
              ) -> tuple[MainWindow, AppsPage]:
    session: EngineSession = make_session(target.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.start()
    wait_connected(qtbot, session)
    page = window.page(AppsPage)
    window.sidebar.setCurrentRow(window.pages.indexOf(page))

    def up() -> bool:
        row = page.model.row_of(name)
        return row is not None and page.model.item_at(row).running == 3

    qtbot.waitUntil(up, timeout=WAIT)
    page.search.setText(name)
    page.table.selectRow(0)
    page.tabs.setCurrentWidget(page.logs)
    return window, page


def shown(page: AppsPage) -> list[LogEntry]:
    """The lines the list shows, through whatever filter is on."""
    model = page.logs.list.model()
    return [model.index(row, 0).data(EntryRole) for row in range(model.rowCount())]


def numbers(entries: list[LogEntry], service: str) -> list[int]:
    return [int(e.plain.split()[1]) for e in entries if e.plain.split()[0] == service]


def test_filters_show_exactly_the_chosen_services_and_levels(
    qtbot: QtBot, make_session, project: tuple[EngineUnderTest, str],
) -> None:
    target, name = project
    _, page = open_logs(qtbot, make_session, target, name)
    view = page.logs
    everything = view.model.entries
    qtbot.waitUntil(lambda: all(len(numbers(list(everything), s)) >= 10 for s in SERVICES),
                    timeout=WAIT)
    assert set(view.source_buttons) == set(SERVICES)

    # Untick cache: the list shows every api and db line, in order, and nothing else.
    view.source_buttons["cache"].click()
    view.flush()
    held = [e for e in everything if view.source_names[e.source] != "cache"]
    assert [e.raw for e in shown(page)] == [e.raw for e in held]

    # Right-click on "Error": only error lines of api and db; new ones keep coming.
    view.level_buttons["error"].customContextMenuRequested.emit(QPoint())
    assert [b for b, button in view.level_buttons.items() if button.isChecked()] == ["error"]

    def errors_only() -> bool:
        view.flush()
        lines = shown(page)
        expected = [e.raw for e in everything
                    if view.source_names[e.source] != "cache" and "ERROR" in e.plain]
        return [e.raw for e in lines] == expected and all(
            re.fullmatch(r"(api|db) \d+ ERROR boom", e.plain) for e in lines)

    assert errors_only()
    count = len(shown(page))
    qtbot.waitUntil(lambda: len(shown(page)) >= count + 3 and errors_only(), timeout=WAIT)

    # Warn as well, api alone (right-click on its button): api's error and warn lines.
    view.level_buttons["warn"].click()
    view.source_buttons["api"].customContextMenuRequested.emit(QPoint())
    view.flush()
    lines = shown(page)
    assert lines and {e.plain.split(" ", 2)[2] for e in lines} == {"ERROR boom", "WARN slow"}
    assert {e.plain.split()[0] for e in lines} == {"api"}
    assert numbers(lines, "api") == [n for n in numbers(list(everything), "api") if n % 5 < 2]

    # Every level and service again: the list is the model itself.
    view.set_levels(None)
    view.set_shown_sources(None)
    assert view.list.model() is view.model


def test_the_log_is_read_only_while_shown_and_resumes_without_repeats_or_gaps(
    qtbot: QtBot, make_session, project: tuple[EngineUnderTest, str],
) -> None:
    target, name = project
    window, page = open_logs(qtbot, make_session, target, name)
    view = page.logs
    qtbot.waitUntil(lambda: len(numbers(list(view.model.entries), "api")) >= 5, timeout=WAIT)
    assert page.project_logs.following
    reads = page.project_logs.reads

    def written(service: str) -> int:
        """The newest number the service wrote, as the docker CLI reads it."""
        label = f"label={engine.COMPOSE_SERVICE_LABEL}={service}"
        ids = target.cli("ps", "-q", "--filter", f"label={engine.COMPOSE_PROJECT_LABEL}={name}",
                         "--filter", label).split()
        last = target.cli("logs", "--tail", "1", ids[0]).split()
        return int(last[1]) if len(last) > 1 else -1

    for hide in (lambda: page.tabs.setCurrentWidget(page.services_tab),
                 lambda: window.sidebar.setCurrentRow(0)):
        hide()
        assert not view.isVisible()
        assert not page.project_logs.following
        view.flush()
        held = len(view.model.entries)
        newest = max(numbers(list(view.model.entries), "api"))
        # While hidden the services write on; nothing is read, nothing is added.
        qtbot.waitUntil(lambda newest=newest: written("api") >= newest + 10, timeout=WAIT)
        view.flush()
        assert len(view.model.entries) == held
        assert page.project_logs.reads == reads

        # Shown again: it resumes, with what was written meanwhile.
        window.sidebar.setCurrentRow(window.pages.indexOf(page))
        page.tabs.setCurrentWidget(page.logs)
        assert page.project_logs.following
        assert page.project_logs.reads == reads + 1
        reads += 1
        qtbot.waitUntil(lambda newest=newest: max(numbers(list(view.model.entries), "api"))
                        >= newest + 12, timeout=WAIT)

    entries = list(view.model.entries)
    for service in SERVICES:
        got = numbers(entries, service)
        assert got == list(range(got[0], got[0] + len(got))), f"{service}: {got}"
    keys = [engine.log_since(e.stamp) for e in entries]
    assert len(keys) == len(set(zip(keys, (e.raw for e in entries), strict=True)))


def test_save_writes_the_merged_lines_with_their_marks(
    qtbot: QtBot, make_session, project: tuple[EngineUnderTest, str],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """Save… writes every line held, each marked by its service, as the view shows them."""
    from PySide6.QtWidgets import QFileDialog

    target, name = project
    window, page = open_logs(qtbot, make_session, target, name)
    view = page.logs
    qtbot.waitUntil(lambda: all(len(numbers(list(view.model.entries), s)) >= 3
                                for s in SERVICES), timeout=WAIT)
    saved = tmp_path / "app.log"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *_a, **_k: (str(saved), "")))
    view.save_button.click()
    lines = saved.read_text().splitlines()
    assert len(lines) >= 9
    for service in SERVICES:
        assert any(re.fullmatch(rf"{service} +\| {service} \d+ .+", line) for line in lines), \
            (service, lines[:5])
    assert window.messages.text() == f"Saved the logs to {saved}"
