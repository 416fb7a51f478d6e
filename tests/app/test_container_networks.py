"""A container's networks from its own side (the detail pane's Networks tab), against real
engines: what it lists, Connect… with aliases and a fixed address, Disconnect, each seen
by the engine's own ``inspect``."""

from __future__ import annotations

import json
from collections.abc import Callable

from pytestqt.exceptions import TimeoutError as QtTimeoutError
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import engine
from app.pages.container_networks import (
    Attachment,
    ContainerConnectDialog,
    attachments_model,
)
from app.pages.containers import ContainersPage
from app.session import EngineSession
from tests.app.conftest import answer, wait_connected
from tests.conftest import LABEL, EngineUnderTest, unique_name
from tests.disk_helpers import disk_engine, free_subnet  # noqa: F401
from tests.waits import wait_ms

WAIT = 30_000


def open_page(qtbot: QtBot, make_session: Callable[[str], EngineSession],
              target: EngineUnderTest) -> ContainersPage:
    session = make_session(target.url)
    page = ContainersPage(session)
    qtbot.addWidget(page)
    page.resize(1100, 800)
    page.show()
    session.start()
    wait_connected(qtbot, session)
    return page


def cli_networks(target: EngineUnderTest, container: str) -> dict[str, dict[str, object]]:
    raw = target.cli("inspect", "--format", "{{json .NetworkSettings.Networks}}", container)
    networks: dict[str, dict[str, object]] = json.loads(raw)
    return networks


def shown(page: ContainersPage) -> dict[str, tuple[str, ...]]:
    """Network → the row's cells, as the tab shows them."""
    model = page.detail.networks.model
    return {str(model.index(r, 0).data()): tuple(str(model.index(r, c).data())
                                                for c in range(model.columnCount()))
            for r in range(model.rowCount())}


def test_connect_and_disconnect_from_the_containers_side_seen_by_inspect(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    subnet, _gateway, prefix = free_subnet()
    network = unique_name("net")
    disk_engine.cli("network", "create", "--label", LABEL, "--subnet", subnet, network)
    container_id, container = disk_engine.create(disk_engine.image, "sleep", "300")
    disk_engine.cli("start", container)
    default = next(iter(cli_networks(disk_engine, container)))  # bridge / podman
    page = open_page(qtbot, make_session, disk_engine)
    qtbot.waitUntil(lambda: page.model.row_of(container_id) is not None, timeout=WAIT)
    page.search.setText(container)
    page.table.selectRow(0)
    view = page.detail.networks
    page.detail.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: default in shown(page), timeout=WAIT)
    address = str(cli_networks(disk_engine, container)[default]["IPAddress"])
    assert shown(page)[default][1] == address
    assert view.status.text() == "On 1 network"
    assert not view.disconnect_button.isEnabled()  # nothing selected yet

    # Connect…: offers the new network (not the one it is on), checks the address.
    dialog = view.open_connect()
    assert isinstance(dialog, ContainerConnectDialog)
    assert dialog.problem() == "Reading the networks…" and not dialog.accept_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.networks is not None, timeout=WAIT)
    offered = [dialog.network.itemData(i) for i in range(dialog.network.count())]
    assert network in offered and default not in offered
    dialog.network.setCurrentIndex(offered.index(network))
    assert dialog.ipv4.isEnabled()
    dialog.aliases.setText("api, api-v2")
    dialog.ipv4.setText("10.0.0.9")
    assert "is not in" in dialog.problem()
    dialog.aliases.setText("api, bad/alias")
    dialog.ipv4.setText(f"{prefix}.77")
    assert "Alias 'bad/alias'" in dialog.problem()
    assert not dialog.accept_button.isEnabled()
    dialog.aliases.setText("api, api-v2")
    assert dialog.problem() == ""
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        dialog.accept_button.click()
    seen = cli_networks(disk_engine, container)[network]
    assert seen["IPAddress"] == f"{prefix}.77"
    assert {"api", "api-v2"} <= set(seen["Aliases"] or [])  # type: ignore[call-overload]
    qtbot.waitUntil(lambda: shown(page).get(network, ("",) * 5)[1] == f"{prefix}.77",
                    timeout=WAIT)
    assert shown(page)[network][4] == "api, api-v2"
    assert view.status.text() == "On 2 networks"

    # Disconnect: asked, then gone from the engine and from the tab.
    assert view.select_network(network)
    assert view.disconnect_button.isEnabled()
    view.disconnect_button.click()
    text = answer(qtbot, "container-network-disconnect-confirm", "Disconnect")
    assert f"Disconnect {container} from {network}?" in text
    try:
        qtbot.waitUntil(lambda: network not in shown(page), timeout=WAIT)
    except QtTimeoutError as exc:
        raise AssertionError(f"the tab shows {shown(page)}") from exc
    assert network not in cli_networks(disk_engine, container)
    assert default in shown(page)


def test_a_stopped_container_is_connected_and_shown_without_an_address(
    qtbot: QtBot, make_session, disk_engine: EngineUnderTest,  # noqa: F811
) -> None:
    network = unique_name("net")
    disk_engine.cli("network", "create", "--label", LABEL, network)
    container_id, container = disk_engine.create(disk_engine.image, "sleep", "300")
    page = open_page(qtbot, make_session, disk_engine)
    qtbot.waitUntil(lambda: page.model.row_of(container_id) is not None, timeout=WAIT)
    page.search.setText(container)
    page.table.selectRow(0)
    view = page.detail.networks
    page.detail.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.shown_for == container_id, timeout=WAIT)
    dialog = view.open_connect()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.networks is not None, timeout=WAIT)
    offered = [dialog.network.itemData(i) for i in range(dialog.network.count())]
    assert "host" not in offered and "none" not in offered
    dialog.network.setCurrentIndex(offered.index(network))
    dialog.aliases.setText("quiet")
    with qtbot.waitSignal(dialog.finished, timeout=wait_ms(15)):
        dialog.accept_button.click()
    assert network in cli_networks(disk_engine, container)
    qtbot.waitUntil(lambda: network in shown(page), timeout=WAIT)
    assert shown(page)[network][1] == "\N{EN DASH}"  # no address until it runs
    assert "quiet" in shown(page)[network][4]


def test_the_attachments_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = attachments_model()
    items = [Attachment(f"n{i}", engine.NetworkEndpoint("c" * 64, "web", f"10.1.0.{i}", None,
                                                        None, ("db", "c" * 12)))
             for i in range(3)]
    model.set_items(items)
    qtmodeltester.check(model, force_py=True)
    assert model.index(0, 4).data() == "db"  # the container's own short ID is not shown
    model.set_items(items[1:])
    qtmodeltester.check(model, force_py=True)
