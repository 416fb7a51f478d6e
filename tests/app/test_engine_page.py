"""The Engine page against real engines: what `docker version` shows, and live events."""

from __future__ import annotations

import json

from PySide6.QtGui import QGuiApplication
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import engine
from app.models.engine_facts import component_version
from app.models.event_log import EventLogModel
from app.pages.engine import ALL_TYPES, EnginePage
from app.session import EngineSession
from tests.app.conftest import wait_connected
from tests.conftest import EngineUnderTest, unique_name
from tests.test_doctor import server_components
from tests.waits import wait_ms


def _page(qtbot: QtBot, make_session, target: EngineUnderTest) -> EnginePage:  # type: ignore[no-untyped-def]
    session: EngineSession = make_session(target.url)
    page = EnginePage(session)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    session.start()
    wait_connected(qtbot, session)
    qtbot.waitUntil(lambda: page.overview is not None, timeout=wait_ms(10))
    return page


def _shown(page: EnginePage) -> list[tuple[str, str]]:
    model = page.components_view.model()
    return [(str(model.index(row, 0).data()), str(model.index(row, 1).data()))
            for row in range(model.rowCount())]


def test_shows_the_components_docker_version_shows(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest  # type: ignore[no-untyped-def]
) -> None:
    page = _page(qtbot, make_session, any_engine)
    cli = json.loads(any_engine.cli("version", "--format", "{{json .}}"))
    expected = server_components(cli)
    assert expected
    # The first line of each version: Podman sends its runtime's whole `--version`.
    assert _shown(page) == [(name, version.strip().splitlines()[0]) for name, version in expected]
    server = cli["Server"]
    assert page.title.text().endswith(server["Version"])
    assert server["ApiVersion"] in page.facts["api"].text()
    assert server["KernelVersion"] in page.facts["kernel"].text()

    info = json.loads(any_engine.cli("info", "--format", "{{json .}}"))
    assert page.facts["storage"].text().startswith(info["Driver"])
    assert info["CgroupDriver"] in page.facts["cgroup"].text()
    assert page.facts["root-dir"].text() == info["DockerRootDir"]
    assert f"{info['NCPU']} CPUs" in page.facts["resources"].text()
    assert f"{info['DefaultRuntime']} (default)" in page.facts["runtimes"].text()
    seccomp = any("seccomp" in option for option in info.get("SecurityOptions") or [])
    assert ("seccomp on" if seccomp else "seccomp off") in page.facts["security"].text()

    # The chain names the processes with the versions found.
    links = page.chain.links
    by_name = dict(expected)
    if any_engine.kind == "docker":
        assert [link.process for link in links[:3]] == ["dockerd", "containerd", "containerd-shim"]
        assert links[1].version == by_name["containerd"]
        assert links[3].version == by_name[links[3].process]
    else:
        assert [link.process for link in links] == ["podman", "conmon", links[2].process]
        conmon = engine.Component("Conmon", by_name["Conmon"], {})
        assert links[1].version == conmon.short_version
        assert links[1].version in component_version(conmon)
    assert page.chain.accessibleDescription().startswith(links[0].process)
    assert page.chain.height() >= page.chain.sizeHint().height()


def test_events_log_shows_a_container_being_made_and_paused(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest  # type: ignore[no-untyped-def]
) -> None:
    page = _page(qtbot, make_session, any_engine)

    def rows() -> list[tuple[str, str, str]]:
        model = page.events_view.model()
        return [(str(model.index(r, 1).data()), str(model.index(r, 2).data()),
                 str(model.index(r, 3).data())) for r in range(model.rowCount())]

    name = unique_name("events")
    container_id, _ = any_engine.create(any_engine.image, "sleep", "60", name=name)
    any_engine.cli("start", container_id)
    any_engine.cli("pause", container_id)
    qtbot.waitUntil(lambda: ("container", "pause", name) in rows(), timeout=wait_ms(10))
    ours = [action for kind, action, actor in rows() if actor == name and kind == "container"]
    assert ours.index("create") < ours.index("start") < ours.index("pause")

    # Filter by type: only container rows, ours among them.
    page.type_filter.setCurrentText("image")
    assert all(kind == "image" for kind, _, _ in rows())
    page.type_filter.setCurrentText("container")
    assert rows() and all(kind == "container" for kind, _, _ in rows())
    assert ("container", "pause", name) in rows()
    page.type_filter.setCurrentText(ALL_TYPES)

    # Pause the log: arrivals are held, not shown, then appended in order on resume.
    page.pause_button.click()
    assert page.paused and page.pause_button.text() == "Resume"
    shown_before = rows()
    any_engine.cli("unpause", container_id)
    qtbot.waitUntil(lambda: any(e.action == "unpause" for e in page.held), timeout=wait_ms(10))
    assert rows() == shown_before
    assert "held" in page.held_label.text()
    page.pause_button.click()
    assert not page.paused and page.held == []
    assert ("container", "unpause", name) not in shown_before
    after = rows()
    assert after[:len(shown_before)] == shown_before  # appended after what was shown
    assert ("container", "unpause", name) in after[len(shown_before):]

    # Copy: the selected row as tab-separated text, with the header.
    view = page.events_view
    last = [i for i, row in enumerate(rows()) if row == ("container", "unpause", name)][-1]
    view.selectRow(last)
    text = page.copy_events()
    lines = text.splitlines()
    assert lines[0] == "Time\tType\tAction\tActor"
    assert lines[1].split("\t")[1:] == ["container", "unpause", name]
    assert QGuiApplication.clipboard().text() == text


def test_event_log_model_appends_with_a_cap(qtmodeltester: ModelTester) -> None:
    model = EventLogModel(max_rows=5)
    qtmodeltester.check(model)

    def event(n: int) -> engine.Event:
        return engine.Event("container", "start", f"id{n}", {"name": f"c{n}"}, n * 10**9)

    removed: list[tuple[int, int]] = []
    model.rowsRemoved.connect(lambda _p, first, last: removed.append((first, last)))
    model.modelReset.connect(lambda: removed.append((-1, -1)))
    model.append([event(n) for n in range(3)])
    model.append([event(n) for n in range(3, 8)])
    assert [model.event_at(r).attributes["name"] for r in range(model.rowCount())] == \
        ["c3", "c4", "c5", "c6", "c7"]
    assert removed == [(0, 2)]  # the oldest rows went; nothing was reset
    model.append([event(n) for n in range(8, 20)])
    assert model.rowCount() == 5
    assert model.event_at(4).attributes["name"] == "c19"
    qtmodeltester.check(model)
