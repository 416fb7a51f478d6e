"""The Networks page: every network, live, with its addresses and the containers on it.

Built-in networks (bridge, host, none; podman on Podman) are marked and
protected: Remove is disabled for them, with a tooltip saying why.  Connect
and Disconnect attach a container (running or not) with aliases and, on a
network with a subnet, a fixed address.  Prune shows exactly which networks
go, then removes exactly those.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPlainTextEdit, QWidget

import engine
from app.models.table import Column, KeyedTableModel
from app.pages.resource_forms import (
    Call,
    FormDialog,
    PreviewItem,
    PruneDialog,
    PruneMode,
    PrunePlan,
    parse_pairs,
)
from app.pages.table_page import TablePage
from app.presentation import (
    counted,
    endpoint_text,
    labels_text,
    network_containers,
    network_flags,
    network_name,
)
from app.resources import CONTAINERS, NETWORKS
from app.session import EngineSession, MessageLevel
from app.widgets.ask import ask

#: What the daemons accept as a network name.
NETWORK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
BUILTIN_TIP = ("Built-in networks (bridge, host, none, podman) belong to the engine"
               " and cannot be removed")
REMOVE_TIP = "Remove the selected networks (Delete)"

NETWORK_COLUMNS = (
    Column("Name", network_name, tooltip=lambda n: f"{n.name}\n{n.id}"),
    Column("Driver", lambda n: n.driver),
    Column("Scope", lambda n: n.scope),
    Column("Subnet", lambda n: ", ".join(n.subnets)),
    Column("Gateway", lambda n: ", ".join(n.gateways)),
    Column("Flags", network_flags,
           tooltip=lambda n: "internal: no route outside" if n.internal else ""),
    Column("Containers", network_containers, sort_key=lambda n: len(n.containers),
           tooltip=lambda n: "\n".join(endpoint_text(e) for e in n.containers)
           or "No container on it"),
    Column("Compose project", lambda n: n.compose_project or ""),
    Column("Labels", lambda n: labels_text(n.labels),
           tooltip=lambda n: "\n".join(f"{k}={v}" for k, v in sorted(n.labels.items()))),
)


def networks_model(parent: QWidget | None = None) -> KeyedTableModel:
    return KeyedTableModel(NETWORK_COLUMNS, key=lambda n: n.id, parent=parent)


class NetworksPage(TablePage):
    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__("networks", networks_model(), parent)
        self.model.setParent(self)
        self.session = session
        #: Narrows what Prune looks at (tests confine it to their own label).
        self.prune_filters: Mapping[str, Sequence[str]] | None = None
        self.create_button = self.add_button("Create…", "network-create", self.open_create)
        self.connect_button = self.add_button("Connect…", "network-connect", self.open_connect)
        self.disconnect_button = self.add_button("Disconnect…", "network-disconnect",
                                                 self.open_disconnect)
        self.remove_button = self.add_button("Remove", "network-remove", self.remove_selected,
                                             shortcut="Delete")
        self.prune_button = self.add_button("Prune…", "networks-prune", self.open_prune)
        self.show_container_button = self.add_container_links(
            "network-show-container",
            lambda n: [(e.container_id, e.container_name) for e in n.containers])
        for button in (self.connect_button, self.disconnect_button, self.remove_button):
            button.defaultAction().setEnabled(False)
        session.live(NETWORKS).changed.connect(self.model.set_items)
        # Connect offers containers: keep their list too.
        session.live(CONTAINERS)
        self.model.dataChanged.connect(self.selection_changed)
        self.fit_columns({0: 150, 1: 65, 2: 55, 3: 115, 4: 95, 5: 75, 6: 260, 7: 110})

    def noun(self, count: int) -> str:
        return "network" if count == 1 else "networks"

    def _one(self) -> engine.Network | None:
        selected: list[engine.Network] = self.selected_items()
        return selected[0] if len(selected) == 1 else None

    def selection_changed(self, *_args: object) -> None:
        selected: list[engine.Network] = self.selected_items()
        one = self._one()
        self.connect_button.defaultAction().setEnabled(one is not None)
        self.disconnect_button.defaultAction().setEnabled(
            one is not None and bool(one.containers))
        builtin = any(n.builtin for n in selected)
        remove = self.remove_button.defaultAction()
        remove.setEnabled(bool(selected) and not builtin)
        remove.setToolTip(BUILTIN_TIP if builtin else REMOVE_TIP)

    # -- create ----------------------------------------------------------------------

    def open_create(self) -> NetworkCreateDialog:
        dialog = NetworkCreateDialog(self.session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.succeeded.connect(lambda n: self.session.message.emit(
            MessageLevel.INFO, f"Created network {n.name}"))
        dialog.open()
        return dialog

    # -- remove ----------------------------------------------------------------------

    def remove_selected(self) -> None:
        selected: list[engine.Network] = [n for n in self.selected_items() if not n.builtin]
        if not selected:
            return
        names = ", ".join(n.name for n in selected[:5]) + ("…" if len(selected) > 5 else "")
        busy = [n for n in selected if n.containers]
        warning = ""
        if busy:
            warning = ("\n\nContainers are on it, so the engine will refuse: "
                       + "; ".join(f"{n.name}: " + ", ".join(
                           e.container_name for e in n.containers) for n in busy))
        ask(self, "Remove networks", f"Remove {counted(len(selected), 'network')}: {names}?"
            f"{warning}", "Remove", partial(self._remove, selected),
            name="networks-remove-confirm")

    def _remove(self, selected: list[engine.Network]) -> None:
        for item in selected:
            self.session.run(_remove_unless_used, item.id,
                             describe=f"remove network {item.name}",
                             on_done=partial(self._removed, item.name))

    def _removed(self, name: str, _result: None) -> None:
        self.session.message.emit(MessageLevel.INFO, f"Removed network {name}")

    # -- connect and disconnect --------------------------------------------------------

    def open_connect(self) -> ConnectDialog | None:
        network = self._one()
        if network is None:
            return None
        on_it = {e.container_id for e in network.containers}
        candidates = [c for c in self.session.items(CONTAINERS) if c.id not in on_it]
        dialog = ConnectDialog(self.session, network, candidates, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.succeeded.connect(lambda _r: self.session.refresh())
        dialog.open()
        return dialog

    def open_disconnect(self) -> DisconnectDialog | None:
        network = self._one()
        if network is None or not network.containers:
            return None
        dialog = DisconnectDialog(self.session, network, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.succeeded.connect(lambda _r: self.session.refresh())
        dialog.open()
        return dialog

    # -- prune -----------------------------------------------------------------------

    def open_prune(self) -> PruneDialog:
        filters = dict(self.prune_filters or {})
        modes = [PruneMode("unused", "Unused networks", partial(_plan, filters))]
        dialog = PruneDialog(self.session, "networks-prune-dialog", "Prune networks", modes,
                             self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.pruned.connect(self._pruned)
        dialog.open()
        return dialog

    def _pruned(self, result: engine.PruneResult) -> None:
        self.session.refresh()
        text = f"Removed {counted(len(result.deleted), 'network')}."
        if result.failed:
            text += " Kept: " + "; ".join(f"{n}: {why}" for n, why in result.failed.items())
        self.session.message.emit(
            MessageLevel.WARNING if result.failed else MessageLevel.INFO, text)


async def _remove_unless_used(client: engine.Engine, network_id: str) -> None:
    """Remove a network; one with containers on it is refused, on every engine.

    Docker refuses by itself (its words are shown).  Podman's compatible API
    disconnects the containers and removes the network anyway: a silent force,
    so the containers are looked up first and named instead.
    """
    if client.version.is_podman:
        found = await engine.network(client, network_id, aliases=False)
        if found.containers:
            names = ", ".join(e.container_name or e.container_id[:12] for e in found.containers)
            raise engine.Conflict(
                409, f"network {found.name} has containers on it ({names}); disconnect them"
                " first")
    await engine.remove_network(client, network_id)


async def _plan(filters: Mapping[str, Sequence[str]], client: engine.Engine) -> PrunePlan:
    plan = await engine.network_prune_plan(client, filters=filters or None)
    if plan.networks:
        summary = (f"{counted(len(plan.networks), 'unused network')} (no container on them)."
                   " Built-in networks are never pruned.")
    else:
        summary = "No unused networks: nothing to prune."
    items = [PreviewItem(n.name, f"{n.driver}  {', '.join(n.subnets)}".rstrip())
             for n in plan.networks]
    names = [n.id for n in plan.networks]
    # Exactly the networks shown, not whatever a prune would find a moment later.
    prune: Call = partial(_remove_these, names)
    return PrunePlan(items, summary, prune, f"Remove {counted(len(names), 'network')}")


async def _remove_these(names: list[str], client: engine.Engine) -> engine.PruneResult:
    return await engine.remove_networks(client, names)


def _address_problem(text: str, what: str) -> str:
    if not text:
        return ""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return f"{what}: {text!r} is not an IP address"
    return ""


def split_aliases(text: str) -> list[str]:
    """``"db, cache web"`` → ``["db", "cache", "web"]``."""
    return [a for a in re.split(r"[\s,]+", text) if a]


def connect_problem(aliases: Sequence[str], ipv4: str, ipv6: str,
                    subnets: Sequence[str]) -> str:
    """What is wrong with a connect's aliases and fixed addresses on a network with
    ``subnets``, or "" (shared by both sides: the network's and the container's)."""
    for alias in aliases:
        if not NETWORK_NAME.fullmatch(alias):
            return f"Alias {alias!r}: use letters, digits, '_', '.', '-'"
    for text, what, version in ((ipv4, "IPv4 address", 4), (ipv6, "IPv6 address", 6)):
        if problem := _address_problem(text, what):
            return problem
        if not text:
            continue
        if not subnets:
            return f"{what}: a fixed address needs a network created with a subnet"
        address = ipaddress.ip_address(text)
        if address.version != version:
            return f"{what}: {text} is not IPv{version}"
        networks = [ipaddress.ip_network(s, strict=False) for s in subnets]
        if not any(address in s for s in networks if s.version == version):
            return f"{what}: {text} is not in {', '.join(subnets)}"
    return ""


class NetworkCreateDialog(FormDialog):
    """Name, driver, subnet, gateway, IP range, internal, attachable, labels."""

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(session, "network-create-dialog", "Create network", "Create", parent)
        self.name = QLineEdit(self)
        self.add_row("&Name:", self.name, "network-name", "Network name")
        self.driver = QComboBox(self)
        self.driver.setEditable(True)
        self.driver.addItems(["bridge", "macvlan", "ipvlan", "overlay"])
        self.add_row("&Driver:", self.driver, "network-driver", "Network driver")
        self.subnet = QLineEdit(self)
        self.subnet.setPlaceholderText("e.g. 10.20.0.0/24; empty: the engine picks one")
        self.add_row("&Subnet:", self.subnet, "network-subnet", "Subnet")
        self.gateway = QLineEdit(self)
        self.gateway.setPlaceholderText("e.g. 10.20.0.1")
        self.add_row("&Gateway:", self.gateway, "network-gateway", "Gateway")
        self.ip_range = QLineEdit(self)
        self.ip_range.setPlaceholderText("e.g. 10.20.0.128/25: where containers get addresses")
        self.add_row("IP &range:", self.ip_range, "network-ip-range", "IP range")
        self.internal = QCheckBox("Internal: no route outside the network", self)
        self.add_row("", self.internal, "network-internal", "Internal")
        self.attachable = QCheckBox("Attachable (swarm overlay networks)", self)
        self.add_row("", self.attachable, "network-attachable", "Attachable")
        self.labels = QPlainTextEdit(self)
        self.labels.setPlaceholderText("key=value, one a line")
        self.labels.setMaximumHeight(70)
        self.add_row("&Labels:", self.labels, "network-labels", "Labels")
        self.watch(self.name.textChanged, self.driver.currentTextChanged,
                   self.subnet.textChanged, self.gateway.textChanged,
                   self.ip_range.textChanged, self.labels.textChanged)
        self.validate()

    def check(self) -> str:
        name = self.name.text().strip()
        if not name:
            return "Give the network a name"
        if not NETWORK_NAME.fullmatch(name):
            return (f"{name!r} is not a valid network name: use letters, digits, '_', '.', '-',"
                    " starting with a letter or digit")
        if not self.driver.currentText().strip():
            return "Give a driver (bridge, unless you need another)"
        subnet_text, gateway, ip_range = (self.subnet.text().strip(), self.gateway.text().strip(),
                                          self.ip_range.text().strip())
        subnet = None
        if subnet_text:
            try:
                subnet = ipaddress.ip_network(subnet_text, strict=True)
            except ValueError as exc:
                return f"Subnet: {exc}"
        elif gateway or ip_range:
            return "A gateway or IP range needs a subnet"
        if problem := _address_problem(gateway, "Gateway"):
            return problem
        if gateway and subnet is not None and ipaddress.ip_address(gateway) not in subnet:
            return f"Gateway {gateway} is not in {subnet}"
        if ip_range:
            try:
                pool = ipaddress.ip_network(ip_range, strict=True)
            except ValueError as exc:
                return f"IP range: {exc}"
            if subnet is not None and (pool.version != subnet.version
                                       or not pool.subnet_of(subnet)):  # type: ignore[arg-type]
                return f"IP range {pool} is not inside {subnet}"
        try:
            parse_pairs(self.labels.toPlainText(), "Labels")
        except ValueError as exc:
            return str(exc)
        return ""

    def call(self) -> tuple[Call, str]:
        name = self.name.text().strip()
        call: Call = partial(
            _create, name, self.driver.currentText().strip(),
            self.subnet.text().strip() or None, self.gateway.text().strip() or None,
            self.ip_range.text().strip() or None, self.internal.isChecked(),
            self.attachable.isChecked(), parse_pairs(self.labels.toPlainText(), "Labels"))
        return call, f"create network {name}"


async def _create(name: str, driver: str, subnet: str | None, gateway: str | None,
                  ip_range: str | None, internal: bool, attachable: bool,
                  labels: dict[str, str], client: engine.Engine) -> engine.Network:
    return await engine.create_network(client, name, driver=driver, subnet=subnet,
                                       gateway=gateway, ip_range=ip_range, internal=internal,
                                       attachable=attachable, labels=labels)


class ConnectDialog(FormDialog):
    """A container (running or not) onto this network, with aliases and a fixed address."""

    def __init__(self, session: EngineSession, network: engine.Network,
                 containers: Sequence[engine.Container], parent: QWidget | None = None) -> None:
        super().__init__(session, "network-connect-dialog", f"Connect to {network.name}",
                         "Connect", parent)
        self.network = network
        self.container = QComboBox(self)
        for container in sorted(containers, key=lambda c: c.name):
            self.container.addItem(f"{container.name}  ({container.state})", container.id)
        self.add_row("&Container:", self.container, "connect-container", "Container")
        self.aliases = QLineEdit(self)
        self.aliases.setPlaceholderText("other names on this network, e.g. db, cache")
        self.add_row("&Aliases:", self.aliases, "connect-aliases", "Aliases")
        self.ipv4 = QLineEdit(self)
        self.ipv6 = QLineEdit(self)
        fixed = bool(network.subnets)
        for field, version in ((self.ipv4, "IPv4"), (self.ipv6, "IPv6")):
            field.setEnabled(fixed)
            field.setPlaceholderText(
                f"optional fixed {version} address in {', '.join(network.subnets)}" if fixed
                else "only on a network created with a subnet")
        self.add_row("IPv&4 address:", self.ipv4, "connect-ipv4", "Fixed IPv4 address")
        self.add_row("IPv&6 address:", self.ipv6, "connect-ipv6", "Fixed IPv6 address")
        self.watch(self.container.currentIndexChanged, self.aliases.textChanged,
                   self.ipv4.textChanged, self.ipv6.textChanged)
        self.validate()

    def alias_list(self) -> list[str]:
        return split_aliases(self.aliases.text())

    def check(self) -> str:
        if self.container.count() == 0:
            return "Every container is on this network already"
        return connect_problem(self.alias_list(), self.ipv4.text().strip(),
                               self.ipv6.text().strip(), self.network.subnets)

    def call(self) -> tuple[Call, str]:
        container = str(self.container.currentData())
        name = self.container.currentText().split("  (")[0]
        call: Call = partial(connect_container, self.network.name, container, self.alias_list(),
                             self.ipv4.text().strip() or None, self.ipv6.text().strip() or None)
        return call, f"connect {name} to {self.network.name}"


async def connect_container(network: str, container: str, aliases: list[str],
                            ipv4: str | None, ipv6: str | None, client: engine.Engine) -> None:
    """The one connect both sides use (the network's and the container's)."""
    await engine.connect_network(client, network, container, aliases=aliases, ipv4=ipv4,
                                 ipv6=ipv6)


class DisconnectDialog(FormDialog):
    """One of the containers on this network, taken off it."""

    def __init__(self, session: EngineSession, network: engine.Network,
                 parent: QWidget | None = None) -> None:
        super().__init__(session, "network-disconnect-dialog", f"Disconnect from {network.name}",
                         "Disconnect", parent)
        self.network = network
        self.container = QComboBox(self)
        for endpoint in sorted(network.containers, key=lambda e: e.container_name):
            # By name: an endpoint Docker lists mid-join has a placeholder ID ("ep-…").
            self.container.addItem(endpoint_text(endpoint),
                                   endpoint.container_name or endpoint.container_id)
        self.add_row("&Container:", self.container, "disconnect-container", "Container")
        self.validate()

    def call(self) -> tuple[Call, str]:
        container = str(self.container.currentData())
        call: Call = partial(disconnect_container, self.network.name, container)
        return call, f"disconnect {self.container.currentText()} from {self.network.name}"


async def disconnect_container(network: str, container: str, client: engine.Engine) -> None:
    """The one disconnect both sides use."""
    await engine.disconnect_network(client, network, container)
