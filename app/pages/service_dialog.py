"""The Swarm page's "Create service…" and "Update image…" dialogs.

Both are :class:`FormDialog` s: every field is parsed as it is typed with the
engine's own parsers (:mod:`engine` ``parse_service_ports``, ``parse_constraint``,
``parse_duration`` …, which read the docker CLI's syntaxes), the first problem is
said in red above the buttons and disables the verb, so nothing invalid is sent.
What only the daemon can know (a published port another service holds, an image
no node can get) comes back as its one-line refusal in the same place, with
every field kept as typed; only success closes the dialog.

The update dialog shows the service's rolling-update policy (parallelism, delay
between batches, what to do when a task fails, stop-first or start-first), lets
it be changed for this very update, and says what the update will do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TypeVar

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

import engine
from app.pages.resource_forms import Call, FormDialog, parse_pairs
from app.resources import IMAGES
from app.session import EngineSession

#: The most replicas or parallelism the spin boxes offer (a guard rail, not the engine's).
MAX_REPLICAS = 1000
MAX_ATTEMPTS = 1000


def _box(placeholder: str, parent: QWidget, height: int = 52) -> QPlainTextEdit:
    box = QPlainTextEdit(parent)
    box.setPlaceholderText(placeholder)
    box.setTabChangesFocus(True)
    box.setFixedHeight(height)
    return box


def _line(placeholder: str, parent: QWidget, width: int | None = None) -> QLineEdit:
    line = QLineEdit(parent)
    line.setPlaceholderText(placeholder)
    if width:
        line.setMaximumWidth(width)
    return line


def _combo(items: tuple[str, ...], parent: QWidget) -> QComboBox:
    combo = QComboBox(parent)
    combo.addItems(list(items))
    return combo


W = TypeVar("W", bound=QWidget)


def _named(widget: W, name: str, accessible: str) -> W:
    widget.setObjectName(name)
    widget.setAccessibleName(accessible)
    return widget


def _row(parent: QWidget, *items: QWidget | str) -> QWidget:
    """Several small fields on one form row, each after its caption."""
    holder = QWidget(parent)
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for item in items:
        layout.addWidget(QLabel(item, holder) if isinstance(item, str) else item)
    layout.addStretch(1)
    return holder


class UpdatePolicyFields:
    """Parallelism, delay, failure action and order: on both dialogs, read as one policy."""

    def __init__(self, parent: QWidget, prefix: str) -> None:
        self.parallelism = QSpinBox(parent)
        self.parallelism.setRange(0, MAX_REPLICAS)
        self.parallelism.setValue(1)
        self.parallelism.setSpecialValueText("all")
        self.delay = _line("0s", parent, 90)
        self.failure_action = _combo(engine.FAILURE_ACTIONS, parent)
        self.order = _combo(engine.UPDATE_ORDERS, parent)
        _named(self.parallelism, f"{prefix}-update-parallelism", "Update parallelism")
        _named(self.delay, f"{prefix}-update-delay", "Delay between update batches")
        _named(self.failure_action, f"{prefix}-update-failure-action",
               "When an updated task fails")
        _named(self.order, f"{prefix}-update-order", "Update order")
        self.row = _row(parent, "Tasks at a time", self.parallelism, "delay", self.delay,
                        "on failure", self.failure_action, self.order)

    def signals(self) -> tuple[object, ...]:
        return (self.parallelism.valueChanged, self.delay.textChanged,
                self.failure_action.currentTextChanged, self.order.currentTextChanged)

    def fill(self, policy: engine.UpdatePolicy) -> None:
        self.parallelism.setValue(policy.parallelism)
        self.delay.setText(engine.format_duration(policy.delay_ns))
        self.failure_action.setCurrentText(policy.failure_action)
        self.order.setCurrentText(policy.order)

    def policy(self) -> engine.UpdatePolicy:
        """Raises :class:`engine.InvalidInput` for a bad delay."""
        return engine.UpdatePolicy(
            parallelism=self.parallelism.value(),
            delay_ns=engine.parse_duration(self.delay.text(), "Update delay"),
            failure_action=self.failure_action.currentText(),
            order=self.order.currentText())


def published_ports(services: Sequence[engine.Service]) -> dict[tuple[int, str], str]:
    """Which service publishes each ingress port, as the services list says."""
    return {(p.published, p.protocol): s.name for s in services for p in s.ports
            if p.published and p.mode == "ingress"}


class ImageCompleter(QCompleter):
    """The engine's image names, offered as an image is typed (kept as the list changes)."""

    def __init__(self, session: EngineSession, line: QLineEdit) -> None:
        self.names = QStringListModel(line)
        super().__init__(self.names, line)
        self.session = session
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterMode(Qt.MatchFlag.MatchContains)
        line.setCompleter(self)
        session.live(IMAGES).changed.connect(self._refresh)
        self._refresh()

    def _refresh(self, *_args: object) -> None:
        self.names.setStringList(sorted({
            tag for image in self.session.items(IMAGES) for tag in image.repo_tags
            if not tag.startswith("<none>")}))

    def choices(self) -> list[str]:
        return self.names.stringList()


def policy_of(service: engine.Service) -> engine.UpdatePolicy:
    return engine.UpdatePolicy(service.update_parallelism, service.update_delay_ns,
                               service.update_failure_action, service.update_order)


class ServiceCreateDialog(FormDialog):
    """Image, name, mode, ports, env, mounts, constraints, resources, restart and update."""

    def __init__(self, session: EngineSession, parent: QWidget | None = None,
                 labels: dict[str, str] | None = None,
                 published: Callable[[], Mapping[tuple[int, str], str]] | None = None) -> None:
        super().__init__(session, "service-create-dialog", "Create service", "Create", parent)
        #: The ingress ports services publish now ((port, protocol) → service name), read
        #: at each check, so a clash is said as it is typed, not only when the daemon refuses.
        self._published = published
        self.setMinimumWidth(640)
        p = "service"
        self.image = _line("e.g. nginx:1.27 or registry:5000/team/app:2", self)
        self.image_completer = ImageCompleter(session, self.image)
        self.add_row("&Image:", self.image, f"{p}-image", "Image")
        self.name = _line("empty: Swarm names it", self)
        self.add_row("&Name:", self.name, f"{p}-name", "Service name")
        self.mode = _named(_combo(("replicated", "global"), self), f"{p}-mode", "Mode")
        self.replicas = QSpinBox(self)
        self.replicas.setRange(0, MAX_REPLICAS)
        self.replicas.setValue(1)
        _named(self.replicas, f"{p}-replicas", "Replicas")
        self.mode.currentTextChanged.connect(
            lambda mode: self.replicas.setEnabled(mode == "replicated"))
        self.form.addRow("&Mode:", _row(self, self.mode, "replicas", self.replicas))
        self.command = _line("empty: the image's own; e.g. sleep 3600", self)
        self.add_row("&Command:", self.command, f"{p}-command", "Command")
        self.ports = _box("[PUBLISHED:]TARGET[/udp], or published=8080,target=80,mode=host;"
                          " one a line", self)
        self.add_row("&Ports:", self.ports, f"{p}-ports", "Published ports")
        self.env = _box("KEY=value, one a line", self)
        self.add_row("&Env:", self.env, f"{p}-env", "Environment")
        self.mounts = _box("volume:/path or /host/path:/path[:ro], or type=bind,source=…,"
                           "target=…; one a line", self)
        self.add_row("Mou&nts:", self.mounts, f"{p}-mounts", "Mounts")
        self.constraints = _box("e.g. node.role==manager or node.labels.zone!=east;"
                                " one a line", self, 44)
        self.add_row("Cons&traints:", self.constraints, f"{p}-constraints",
                     "Placement constraints")
        self.labels = _box("key=value, one a line", self, 44)
        self.add_row("&Labels:", self.labels, f"{p}-labels", "Labels")
        if labels:
            self.labels.setPlainText("\n".join(f"{k}={v}" for k, v in labels.items()))

        self.cpu_limit = _named(_line("no limit", self, 90), f"{p}-cpu-limit", "CPU limit")
        self.memory_limit = _named(_line("no limit", self, 90), f"{p}-memory-limit",
                                   "Memory limit")
        self.cpu_reservation = _named(_line("none", self, 90), f"{p}-cpu-reservation",
                                      "CPU reservation")
        self.memory_reservation = _named(_line("none", self, 90), f"{p}-memory-reservation",
                                         "Memory reservation")
        self.form.addRow("Limits:", _row(self, "CPUs", self.cpu_limit, "memory",
                                         self.memory_limit))
        self.form.addRow("Reserved:", _row(self, "CPUs", self.cpu_reservation, "memory",
                                           self.memory_reservation))
        self.restart_condition = _named(_combo(engine.RESTART_CONDITIONS, self),
                                        f"{p}-restart-condition", "Restart condition")
        self.restart_delay = _named(_line("5s", self, 90), f"{p}-restart-delay",
                                    "Restart delay")
        self.restart_attempts = QSpinBox(self)
        self.restart_attempts.setRange(0, MAX_ATTEMPTS)
        self.restart_attempts.setSpecialValueText("no limit")
        _named(self.restart_attempts, f"{p}-restart-attempts", "Restart attempts")
        self.form.addRow("Restart:", _row(self, self.restart_condition, "delay",
                                          self.restart_delay, "attempts",
                                          self.restart_attempts))
        self.update_fields = UpdatePolicyFields(self, p)
        self.form.addRow("Update:", self.update_fields.row)

        for line in (self.image, self.name, self.command, self.cpu_limit, self.memory_limit,
                     self.cpu_reservation, self.memory_reservation, self.restart_delay):
            self.watch(line.textChanged)
        self.watch(self.mode.currentTextChanged, self.replicas.valueChanged,
                   self.restart_condition.currentTextChanged,
                   self.restart_attempts.valueChanged, *self.update_fields.signals())
        for box in (self.ports, self.env, self.mounts, self.constraints, self.labels):
            self.watch(box.textChanged)
        self.validate()

    def spec(self) -> engine.ServiceSpec:
        """The spec the fields say; raises ValueError (InvalidInput) with the first problem."""
        image = self.image.text().strip()
        if not image:
            raise engine.InvalidInput("Give an image, e.g. nginx:1.27")
        try:
            engine.parse_reference(image)
        except engine.InvalidReference as exc:
            raise engine.InvalidInput(str(exc)) from None
        name = engine.validate_service_name(self.name.text())
        restart_delay = self.restart_delay.text().strip()
        spec = engine.ServiceSpec(
            image=image, name=name,
            replicas=self.replicas.value() if self.mode.currentText() == "replicated" else None,
            command=engine.parse_command(self.command.text()) or (),
            env=engine.parse_env_lines(self.env.toPlainText()),
            labels=parse_pairs(self.labels.toPlainText(), "Labels"),
            ports=engine.parse_service_ports(self.ports.toPlainText()),
            mounts=engine.parse_service_mounts(self.mounts.toPlainText()),
            constraints=engine.parse_constraints(self.constraints.toPlainText()),
            cpu_limit=engine.parse_cpus(self.cpu_limit.text()),
            memory_limit=engine.parse_memory(self.memory_limit.text()),
            cpu_reservation=engine.parse_cpus(self.cpu_reservation.text()),
            memory_reservation=engine.parse_memory(self.memory_reservation.text()),
            restart=engine.RestartSpec(
                self.restart_condition.currentText(),
                engine.parse_duration(restart_delay, "Restart delay") if restart_delay
                else engine.RestartSpec().delay_ns,
                self.restart_attempts.value()),
            update=self.update_fields.policy(),
        )
        problems = spec.problems()
        if problems:
            raise engine.InvalidInput(problems[0])
        taken = self._published() if self._published else {}
        for port in spec.ports:
            owner = taken.get((port.published, port.protocol)) if port.mode == "ingress" \
                else None
            if owner:
                raise engine.InvalidInput(f"Port {port.published}/{port.protocol} is already"
                                          f" published by the service {owner}")
        return spec

    def check(self) -> str:
        try:
            self.spec()
        except ValueError as exc:
            return str(exc).splitlines()[0]
        return ""

    def call(self) -> tuple[Call, str]:
        spec = self.spec()
        return (partial(_create, spec),
                f"create service {spec.name or spec.image}")


async def _create(spec: engine.ServiceSpec, client: engine.Engine) -> engine.Service:
    ident = await engine.create_service_from_spec(client, spec)
    return await engine.service(client, ident)


class ServiceUpdateDialog(FormDialog):
    """A new image for a service, rolled out under its update policy (shown, changeable)."""

    def __init__(self, session: EngineSession, service: engine.Service,
                 parent: QWidget | None = None) -> None:
        super().__init__(session, "service-update-dialog", f"Update {service.name}", "Update",
                         parent)
        self.setMinimumWidth(640)
        self.service = service
        self.current = QLabel(
            f"Now: {service.image_with_digest}<br>Rolling updates: {policy_of(service)}", self)
        self.current.setObjectName("service-update-current")
        self.current.setAccessibleName("Current image and update policy")
        self.current.setWordWrap(True)
        self.form.addRow(self.current)
        self.image = _line("e.g. nginx:1.28", self)
        self.image_completer = ImageCompleter(session, self.image)
        self.image.setText(service.image)
        self.add_row("&Image:", self.image, "service-update-image", "New image")
        self.update_fields = UpdatePolicyFields(self, "service")
        self.update_fields.fill(policy_of(service))
        self.form.addRow("Update:", self.update_fields.row)
        self.watch(self.image.textChanged, *self.update_fields.signals())
        self.image.selectAll()
        self.validate()

    def policy(self) -> engine.UpdatePolicy:
        return self.update_fields.policy()

    def check(self) -> str:
        image = self.image.text().strip()
        if not image:
            return "Give the image to roll the service onto"
        try:
            engine.parse_reference(image)
            policy = self.update_fields.policy()
        except (engine.InvalidReference, engine.InvalidInput) as exc:
            return str(exc).splitlines()[0]
        problems = engine.ServiceSpec(image, update=policy).problems()
        return problems[0] if problems else ""

    def call(self) -> tuple[Call, str]:
        image = self.image.text().strip()
        policy = self.update_fields.policy()
        return (partial(_update, self.service.id, image, policy),
                f"update {self.service.name} to {image}")

    def validate(self, *_args: object) -> bool:
        """Also say what Update will do, when the input is good."""
        good = super().validate()
        if good:
            try:
                policy = self.update_fields.policy()
            except engine.InvalidInput:  # pragma: no cover - check() said so already
                return good
            self.say(f"Rolls {self.service.name} onto {self.image.text().strip()}: {policy}",
                     error=False)
        return good


async def _update(service_id: str, image: str, policy: engine.UpdatePolicy,
                  client: engine.Engine) -> engine.Service:
    return await engine.update_service(client, service_id, image=image, policy=policy)
