"""A container's networks, from the container's side: the Networks tab of its detail pane.

Lists the networks the selected container is configured for (from its own
inspect, so a stopped container's networks show too, with no address until it
runs), with its IPv4/IPv6 address, MAC and aliases on each.  Connect… attaches
it to another network (aliases, and a fixed address where that network has a
subnet); Disconnect takes it off the selected one, after asking.  The engine
calls and the input checks are the Networks page's (:mod:`app.pages.networks`).

The list is read while the tab is on screen only, again when the selection
changes, when the container starts or stops, and after any network connect or
disconnect event (one inspect each; no network list is kept for this).  The
networks Connect… offers are read when it opens.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from functools import partial

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

import engine
from app.models.table import Column, KeyedTableModel
from app.pages.networks import (
    connect_container,
    connect_problem,
    split_aliases,
)
from app.pages.resource_forms import Call, FormDialog
from app.session import EngineSession, MessageLevel
from app.widgets.ask import ask

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Attachment:
    """The selected container on one network: the row of the tab."""

    network: str
    endpoint: engine.NetworkEndpoint


def own_aliases(endpoint: engine.NetworkEndpoint) -> list[str]:
    """The aliases a user gave; Docker adds the container's short ID (and name): noise."""
    return [a for a in endpoint.aliases
            if a != endpoint.container_name
            and not (len(a) >= 12 and endpoint.container_id.startswith(a))]


#: An address the engine does not give (not running, no IPv6).
NONE = "\N{EN DASH}"

ATTACHMENT_COLUMNS = (
    Column("Network", lambda a: a.network),
    Column("IPv4", lambda a: a.endpoint.ipv4 or NONE,
           tooltip=lambda a: "" if a.endpoint.ipv4 else "No address while it is not running"),
    Column("IPv6", lambda a: a.endpoint.ipv6 or NONE),
    Column("MAC", lambda a: a.endpoint.mac or NONE),
    Column("Aliases", lambda a: ", ".join(own_aliases(a.endpoint)),
           tooltip=lambda a: "\n".join(a.endpoint.aliases)),
)


def attachments_model(parent: QWidget | None = None) -> KeyedTableModel:
    return KeyedTableModel(ATTACHMENT_COLUMNS, key=lambda a: a.network, parent=parent)


#: What the tab says with no container selected, and while reading.
NO_CONTAINER = "Select a container to see its networks."
NO_NETWORK = "Not on any network."


class ContainerNetworksView(QWidget):
    """The Networks tab: where the selected container is attached, Connect…, Disconnect."""

    #: The list was read (for the selected container): tests and the header wait on it.
    loaded = Signal()

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("container-networks")
        self.setAccessibleName("The container's networks")
        self.session = session
        self.container: engine.Container | None = None
        #: The container the list shows (None: not read yet).
        self.shown_for: str | None = None
        self.model = attachments_model(self)
        self.table = QTableView(self)
        self.table.setObjectName("container-networks-table")
        self.table.setAccessibleName("Networks the container is on")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((170, 120, 190, 130)):
            self.table.setColumnWidth(column, width)
        self.status = QLabel(NO_CONTAINER, self)
        self.status.setObjectName("container-networks-status")
        self.connect_button = QPushButton("Connect…", self)
        self.connect_button.setObjectName("container-network-connect")
        self.connect_button.setAccessibleName("Connect the container to a network")
        self.connect_button.clicked.connect(self.open_connect)
        self.disconnect_button = QPushButton("Disconnect", self)
        self.disconnect_button.setObjectName("container-network-disconnect")
        self.disconnect_button.setAccessibleName("Disconnect the container from the network")
        self.disconnect_button.clicked.connect(self.disconnect_selected)
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        self.model.rowsRemoved.connect(self._update_buttons)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.connect_button)
        bar.addWidget(self.disconnect_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self._reads = 0
        session.eventReceived.connect(self._on_event)
        self._update_buttons()

    # -- what is shown -----------------------------------------------------------------

    def show_container(self, container: engine.Container | None) -> None:
        previous = self.container
        self.container = container
        if container is None:
            self.session.cancel("container-networks")
            self.shown_for = None
            self.model.set_items([])
            self.status.setText(NO_CONTAINER)
        elif previous is None or previous.id != container.id:
            self.shown_for = None
            self.model.set_items([])
            self.status.setText(f"Reading the networks of {container.name}…")
            self.refresh()
        elif previous.running != container.running:
            self.refresh()  # started or stopped: its addresses came or went
        self._update_buttons()

    def refresh(self) -> None:
        """Read the selected container's networks again, if the tab is on screen."""
        container = self.container
        if container is None or not self.isVisible():
            return
        self._reads += 1
        self.session.run(engine.container_networks, container.id, key="container-networks",
                         describe=f"read the networks of {container.name}",
                         quiet_not_found=True,
                         on_done=partial(self._got, container.id, self._reads))

    def _on_event(self, event: engine.Event) -> None:
        if event.type == "network" and event.action in ("connect", "disconnect"):
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.container is not None and self.shown_for != self.container.id:
            self.refresh()

    def _got(self, container_id: str, read: int,
             found: dict[str, engine.NetworkEndpoint]) -> None:
        if not shiboken6.isValid(self) or read != self._reads:
            return  # closed meanwhile, or a newer read is under way
        if self.container is None or self.container.id != container_id:
            return
        self.shown_for = container_id
        self.model.set_items([Attachment(name, e) for name, e in sorted(found.items())])
        self.status.setText(f"On {len(found)} network{'s' if len(found) != 1 else ''}"
                            if found else NO_NETWORK)
        self._update_buttons()
        self.loaded.emit()

    def selected(self) -> Attachment | None:
        rows = self.table.selectionModel().selectedRows()
        if len(rows) != 1:
            return None
        item: Attachment = self.model.item_at(rows[0].row())
        return item

    def select_network(self, name: str) -> bool:
        row = self.model.row_of(name)
        if row is not None:
            self.table.selectRow(row)
        return row is not None

    def _update_buttons(self) -> None:
        self.connect_button.setEnabled(self.container is not None)
        chosen = self.selected()
        self.disconnect_button.setEnabled(self.container is not None and chosen is not None)
        self.disconnect_button.setToolTip(
            f"Take it off {chosen.network}" if chosen else "Select a network in the list")

    # -- connect and disconnect --------------------------------------------------------

    def open_connect(self) -> ContainerConnectDialog | None:
        container = self.container
        if container is None:
            return None
        on = {a.network for a in self.model.items()}
        dialog = ContainerConnectDialog(self.session, container, on, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.succeeded.connect(lambda _r: self._changed(f"Connected {container.name}"))
        dialog.open()
        return dialog

    def disconnect_selected(self) -> None:
        container, chosen = self.container, self.selected()
        if container is None or chosen is None:
            return
        text = (f"Disconnect {container.name} from {chosen.network}? It loses its address"
                f" {chosen.endpoint.ipv4 or ''} and aliases there.".replace("  ", " "))
        if self.model.rowCount() == 1:
            text += " It is on no other network: it will have no network at all."
        ask(self, "Disconnect from network", text, "Disconnect",
            partial(self._disconnect, container, chosen.network),
            name="container-network-disconnect-confirm")

    def _disconnect(self, container: engine.Container, network: str) -> None:
        self.session.run(engine.disconnect_network, network, container.id,
                         describe=f"disconnect {container.name} from {network}",
                         on_done=lambda _r: self._changed(
                             f"Disconnected {container.name} from {network}"))

    def _changed(self, text: str) -> None:
        self.session.message.emit(MessageLevel.INFO, text)
        self.session.refresh()
        if shiboken6.isValid(self):
            self.refresh()


class ContainerConnectDialog(FormDialog):
    """This container onto a network it is not on yet, with aliases and a fixed address."""

    #: The networks it offers were read (tests wait on it).
    loaded = Signal()

    def __init__(self, session: EngineSession, container: engine.Container,
                 on: Collection[str], parent: QWidget | None = None) -> None:
        super().__init__(session, "container-connect-dialog",
                         f"Connect {container.name} to a network", "Connect", parent)
        self.container_ref = container
        self.on = frozenset(on)
        self.networks: dict[str, engine.Network] | None = None  # None: being read
        self.network = QComboBox(self)
        self.add_row("&Network:", self.network, "container-connect-network", "Network")
        self.aliases = QLineEdit(self)
        self.aliases.setPlaceholderText("other names on this network, e.g. db, cache")
        self.add_row("&Aliases:", self.aliases, "container-connect-aliases", "Aliases")
        self.ipv4 = QLineEdit(self)
        self.ipv6 = QLineEdit(self)
        self.add_row("IPv&4 address:", self.ipv4, "container-connect-ipv4", "Fixed IPv4 address")
        self.add_row("IPv&6 address:", self.ipv6, "container-connect-ipv6", "Fixed IPv6 address")
        self.network.currentIndexChanged.connect(self._network_chosen)
        self.watch(self.network.currentIndexChanged, self.aliases.textChanged,
                   self.ipv4.textChanged, self.ipv6.textChanged)
        self._network_chosen()
        self.validate()
        session.run(_offered, describe="list the networks", on_done=self._got_networks)

    def _got_networks(self, networks: list[engine.Network]) -> None:
        if not shiboken6.isValid(self):
            return
        # host and none take no second network; a swarm network only if attachable.
        offered = [n for n in networks if n.name not in self.on
                   and n.name not in ("host", "none") and (n.scope != "swarm" or n.attachable)]
        self.networks = {n.name: n for n in offered}
        self.network.blockSignals(True)
        for item in sorted(offered, key=lambda n: (n.builtin, n.name)):
            subnets = ", ".join(item.subnets)
            self.network.addItem(
                f"{item.name}  ({item.driver}{'  ' + subnets if subnets else ''})", item.name)
        self.network.blockSignals(False)
        self._network_chosen()
        self.validate()
        self.loaded.emit()

    def chosen(self) -> engine.Network | None:
        return (self.networks or {}).get(str(self.network.currentData()))

    def _network_chosen(self, *_args: object) -> None:
        """A fixed address only where the chosen network has a subnet of its own."""
        network = self.chosen()
        subnets = ", ".join(network.subnets) if network is not None else ""
        fixed = network is not None and bool(network.subnets) and not network.builtin
        for field, version in ((self.ipv4, "IPv4"), (self.ipv6, "IPv6")):
            field.setEnabled(fixed)
            if not fixed:
                field.clear()
            field.setPlaceholderText(
                f"optional fixed {version} address in {subnets}" if fixed
                else "only on a user-defined network created with a subnet")

    def check(self) -> str:
        if self.networks is None:
            return "Reading the networks…"
        network = self.chosen()
        if network is None:
            return "The container is on every network it can join already"
        return connect_problem(split_aliases(self.aliases.text()), self.ipv4.text().strip(),
                               self.ipv6.text().strip(), network.subnets)

    def call(self) -> tuple[Call, str]:
        name = str(self.network.currentData())
        call: Call = partial(connect_container, name, self.container_ref.id,
                             split_aliases(self.aliases.text()),
                             self.ipv4.text().strip() or None, self.ipv6.text().strip() or None)
        return call, f"connect {self.container_ref.name} to {name}"


async def _offered(client: engine.Engine) -> list[engine.Network]:
    """The networks, with their subnets (no attached containers' aliases: not needed)."""
    return await engine.networks(client, aliases=False)
