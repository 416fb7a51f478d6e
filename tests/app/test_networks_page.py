"""The Networks page against real engines: the live list, built-ins kept, create,
connect/disconnect seen by ``docker inspect``, prune preview."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from pytestqt.exceptions import TimeoutError as QtTimeoutError
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.pages.networks import (
    BUILTIN_TIP,
    ConnectDialog,
    DisconnectDialog,
    NetworksPage,
    networks_model,
)
from app.pages.resource_forms import PruneDialog
from app.resources import CONTAINERS
from app.session import EngineSession
from tests.app.conftest import answer, wait_connected
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.disk_helpers import OURS, disk_engine, free_subnet  # noqa: F401
from tests.waits import wait_ms

WAIT = 30_000


def open_networks(qtbot: QtBot, make_session, target: EngineUnderTest) -> MainWindow:
    session: EngineSession = make_session(target.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    wait_connected(qtbot, session)
    window.sidebar.setCurrentRow(window.pages.indexOf(window.page(NetworksPage)))
    return window


def row_named(page: NetworksPage, name: str) -> int | None:
    return next((r for r, n in enumerate(page.model.items()) if n.name == name), None)


def cell(page: NetworksPage, name: str, column: str) -> str:
    row = row_named(page, name)
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


def select(page: NetworksPage, name: str) -> None:
    page.search.setText(name)
    rows = [r for r in range(page.proxy.rowCount())
            if page.proxy.index(r, 0).data().split(" ")[0] == name]
    assert len(rows) == 1
    page.table.selectRow(rows[0])


def cli_networks(target: EngineUnderTest, container: str) -> dict[str, dict[str, object]]:
    raw = target.cli("inspect", "--format", "{{json .NetworkSettings.Networks}}", container)
    networks: dict[str, dict[str, object]] = json.loads(raw)
    return networks


def test_the_list_follows_networks_the_cli_creates_and_attaches(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    window = open_networks(qtbot, make_session, disk_engine)
    page = window.page(NetworksPage)
    subnet, gateway, prefix = free_subnet()
    name = unique_name("net")
    disk_engine.cli("network", "create", "--label", LABEL, "--internal", "--subnet", subnet,
                    "--gateway", gateway, "--label", "com.docker.compose.project=shop", name)
    qtbot.waitUntil(lambda: row_named(page, name) is not None, timeout=WAIT)
    assert cell(page, name, "Driver") == "bridge"
    assert cell(page, name, "Scope") == "local"
    assert cell(page, name, "Subnet") == subnet
    assert cell(page, name, "Gateway") == gateway
    assert "internal" in cell(page, name, "Flags")
    assert cell(page, name, "Compose project") == "shop"
    assert cell(page, name, "Labels") == LABEL

    container_id, container = disk_engine.create("--network", name, "--network-alias", "shop-db",
                                      "--ip", f"{prefix}.77", disk_engine.image, "sleep", "300")
    disk_engine.cli("start", container)
    qtbot.waitUntil(lambda: container in cell(page, name, "Containers"), timeout=WAIT)
    shown = cell(page, name, "Containers")
    assert f"{prefix}.77" in shown and "shop-db" in shown
    # Its one container is a click away, on the Containers page.
    select(page, name)
    containers = window.containers_page
    qtbot.waitUntil(lambda: containers.model.row_of(container_id) is not None, timeout=WAIT)
    assert page.show_container_button.isEnabled()
    page.show_container_button.click()
    assert window.pages.currentWidget() is containers
    assert [c.id for c in containers.selected_items()] == [container_id]

    disk_engine.cli("rm", "-f", container)
    disk_engine.cli("network", "rm", name)
    qtbot.waitUntil(lambda: row_named(page, name) is None, timeout=WAIT)


def test_builtin_networks_are_marked_and_cannot_be_removed(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    window = open_networks(qtbot, make_session, disk_engine)
    page = window.page(NetworksPage)
    default = "podman" if disk_engine.kind == "podman" else "bridge"
    qtbot.waitUntil(lambda: row_named(page, default) is not None, timeout=WAIT)
    assert cell(page, default, "Name") == f"{default} (built-in)"
    select(page, default)
    remove = page.remove_button.defaultAction()
    assert not remove.isEnabled()
    assert page.remove_button.toolTip() == BUILTIN_TIP
    page.remove_selected()  # even if called (Delete), nothing is asked or removed
    assert disk_engine.cli("network", "inspect", "--format", "{{.Name}}", default) == default


def test_create_checks_addresses_and_creates_what_was_asked(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    window = open_networks(qtbot, make_session, disk_engine)
    page = window.page(NetworksPage)
    dialog = page.open_create()
    qtbot.waitExposed(dialog, timeout=wait_ms(10))
    assert dialog.problem() == "Give the network a name"
    name = unique_name("net")
    subnet, gateway, prefix = free_subnet()
    dialog.name.setText(name)
    dialog.subnet.setText(f"{prefix}.5/24")
    assert "host bits set" in dialog.problem()
    dialog.subnet.setText(subnet)
    dialog.gateway.setText("10.1.2.300")
    assert "not an IP address" in dialog.problem()
    dialog.gateway.setText("192.168.254.1")
    assert dialog.problem() == f"Gateway 192.168.254.1 is not in {subnet}"
    assert not dialog.accept_button.isEnabled()
    dialog.gateway.setText(gateway)
    dialog.ip_range.setText(f"{prefix}.128/25")
    dialog.internal.setChecked(True)
    dialog.labels.setPlainText(f"{LABEL}\npurpose=form")
    assert dialog.problem() == "" and dialog.name.text() == name
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        dialog.accept_button.click()
    qtbot.waitUntil(lambda: row_named(page, name) is not None, timeout=WAIT)
    [seen] = json.loads(disk_engine.cli("network", "inspect", name))
    assert seen["Internal"] is True
    assert seen["Labels"] == {LABEL_KEY: RUN_ID, "purpose": "form"}
    [pool] = seen["IPAM"]["Config"]
    assert pool["Subnet"] == subnet and pool["Gateway"] == gateway
    if disk_engine.kind == "docker":  # Podman does not report the range back
        assert pool["IPRange"] == f"{prefix}.128/25"


def test_connect_and_disconnect_through_the_page_seen_by_docker_inspect(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    subnet, _gateway, prefix = free_subnet()
    name = unique_name("net")
    disk_engine.cli("network", "create", "--label", LABEL, "--subnet", subnet, name)
    _, container = disk_engine.create(disk_engine.image, "sleep", "300")
    disk_engine.cli("start", container)
    window = open_networks(qtbot, make_session, disk_engine)
    page = window.page(NetworksPage)
    qtbot.waitUntil(lambda: row_named(page, name) is not None and any(
        c.name == container for c in page.session.items(CONTAINERS)), timeout=WAIT)
    select(page, name)
    page.connect_button.click()
    dialog = page.findChild(ConnectDialog)
    assert dialog is not None
    qtbot.waitExposed(dialog, timeout=wait_ms(10))
    dialog.container.setCurrentIndex(dialog.container.findData(
        next(c.id for c in page.session.items(CONTAINERS) if c.name == container)))
    dialog.aliases.setText("web, shop-web")
    dialog.ipv4.setText("10.0.0.9")
    assert "is not in" in dialog.problem()
    dialog.ipv4.setText(f"{prefix}.200")
    assert dialog.problem() == ""
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        dialog.accept_button.click()
    seen = cli_networks(disk_engine, container)[name]
    assert seen["IPAddress"] == f"{prefix}.200"
    assert {"web", "shop-web"} <= set(seen["Aliases"] or [])  # type: ignore[call-overload]
    qtbot.waitUntil(lambda: f"{prefix}.200" in cell(page, name, "Containers"), timeout=WAIT)

    select(page, name)
    qtbot.waitUntil(lambda: page.disconnect_button.isEnabled(), timeout=WAIT)
    page.disconnect_button.click()
    gone = page.findChild(DisconnectDialog)
    assert gone is not None
    assert container in gone.container.currentText()
    said: list[str] = []
    page.session.message.connect(lambda _level, text: said.append(text))
    try:
        with qtbot.waitSignal(gone.finished, timeout=WAIT):
            gone.accept_button.click()
    except QtTimeoutError as exc:
        raise AssertionError(f"the dialog said {gone.problem()!r}, the window {said}") from exc
    assert name not in cli_networks(disk_engine, container)
    qtbot.waitUntil(lambda: cell(page, name, "Containers") == "", timeout=WAIT)


def test_prune_previews_and_removes_exactly_the_unused_networks(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    idle, busy = unique_name("net"), unique_name("net")
    for name in (idle, busy):
        disk_engine.cli("network", "create", "--label", LABEL, name)
    _, container = disk_engine.create("--network", busy, disk_engine.image, "sleep", "300")
    disk_engine.cli("start", container)
    window = open_networks(qtbot, make_session, disk_engine)
    page = window.page(NetworksPage)
    page.prune_filters = OURS
    dialog = page.open_prune()
    wait_plan(qtbot, dialog)
    lines = [dialog.items_list.item(i).text() for i in range(dialog.items_list.count())]
    assert len(lines) == 1 and lines[0].startswith(f"{idle}    bridge")
    assert dialog.summary.text().startswith("1 unused network")
    assert dialog.prune_button.text() == "Remove 1 network"
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        dialog.prune_button.click()
    left = disk_engine.cli("network", "ls", "--format", "{{.Name}}", "--filter",
                           f"label={LABEL}").split()
    assert left == [busy]

    # Removing the busy one: asked, refused by the daemon, said, nothing forced.
    said: list[str] = []
    page.session.message.connect(lambda _level, text: said.append(text))
    qtbot.waitUntil(lambda: row_named(page, busy) is not None
                    and container in cell(page, busy, "Containers"), timeout=WAIT)
    select(page, busy)
    page.remove_button.click()
    assert container in answer(qtbot, "networks-remove-confirm", "Remove")
    try:
        qtbot.waitUntil(lambda: any(s.startswith(f"Could not remove network {busy}")
                                    for s in said), timeout=WAIT)
    except QtTimeoutError as exc:
        raise AssertionError(f"the window said {said}") from exc
    assert disk_engine.cli("network", "ls", "-q", "--filter", f"name={busy}")


def test_the_network_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = networks_model()
    endpoint = engine.NetworkEndpoint("c" * 64, "web", "10.1.0.2", None, None, ("db", "c" * 12))
    items = [engine.Network(f"{i:064x}", f"n{i}", ipam=(engine.IPAMPool("10.1.0.0/24",
                                                                        "10.1.0.1"),),
                            containers=(endpoint,) if i % 2 else ()) for i in range(4)]
    items.append(engine.Network("f" * 64, "bridge"))
    model.set_items(items)
    qtmodeltester.check(model)
    assert model.index(4, 0).data() == "bridge (built-in)"
    assert model.index(1, 6).data() == "web 10.1.0.2 (aliases: db)"
    model.set_items(items[1:3])
    qtmodeltester.check(model)
    assert model.rowCount() == 2
