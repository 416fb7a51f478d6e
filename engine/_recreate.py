"""Changing settings the engine cannot change in place: recreate, never silently.

Ports, environment, mounts, command and most other settings are fixed when a
container is created.  Changing them means a new container; this module says
exactly what that keeps and loses (:func:`recreate_plan`) and does it safely
(:func:`recreate_container`): the old container is renamed aside, not removed,
until the new one exists — a failure puts the old one back as it was.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from engine._errors import EngineError, NotFound
from engine._lifecycle import rename_container
from engine._models import ContainerDetails
from engine._run import PortMapping, RestartPolicy, RunSpec, VolumeMapping
from engine._shapes import created_id

if TYPE_CHECKING:
    from engine._client import Engine

log = logging.getLogger(__name__)

BACKUP_SUFFIX = "-dockyard-previous"


def _words(value: Any) -> tuple[str, ...] | None:
    return tuple(str(v) for v in value) if value else None


def spec_from_container(details: ContainerDetails) -> RunSpec:
    """The container's current settings as a RunSpec: the form starts from what runs.

    Volumes are taken by name, anonymous ones included, so the new container
    mounts the very same data.
    """
    raw: Mapping[str, Any] = details.raw
    config = raw.get("Config") or {}
    host = raw.get("HostConfig") or {}
    ports: list[PortMapping] = []
    for key, bindings in sorted((host.get("PortBindings") or {}).items()):
        number, _, proto = key.partition("/")
        for binding in bindings or [{}]:
            host_port = str(binding.get("HostPort") or "")
            ports.append(PortMapping(str(binding.get("HostIp") or ""),
                                     int(host_port) if host_port.isdigit() else None,
                                     int(number), proto or "tcp"))
    volumes = tuple(
        VolumeMapping(m.name if m.type == "volume" and m.name else m.source, m.destination,
                      m.read_only)
        for m in details.mounts if m.type in ("volume", "bind")
    )
    restart = host.get("RestartPolicy") or {}
    network = str(host.get("NetworkMode") or "") or None
    return RunSpec(
        image=details.image,
        name=details.name,
        command=_words(config.get("Cmd")),
        entrypoint=_words(config.get("Entrypoint")),
        ports=tuple(ports),
        publish_all=bool(host.get("PublishAllPorts")),
        env=tuple(details.env),
        volumes=volumes,
        restart=RestartPolicy(str(restart.get("Name") or "no"),
                              int(restart.get("MaximumRetryCount") or 0)),
        network=None if network in ("default", "bridge") else network,
        auto_remove=bool(host.get("AutoRemove")),
        tty=details.tty,
        interactive=details.open_stdin,
        labels=dict(details.labels),
        user=str(config.get("User") or "") or None,
        working_dir=str(config.get("WorkingDir") or "") or None,
        nano_cpus=int(host.get("NanoCpus") or 0) or None,
        memory=int(host.get("Memory") or 0) or None,
    )


@dataclass(frozen=True)
class RecreatePlan:
    """What a user must read before agreeing: what stays, what goes."""

    kept: tuple[str, ...]
    lost: tuple[str, ...]


def recreate_plan(details: ContainerDetails, spec: RunSpec) -> RecreatePlan:
    kept = [f"the name {details.name}"]
    new_sources = {v.source for v in spec.volumes}
    dropped: list[str] = []
    for mount in details.mounts:
        if mount.type == "volume" and mount.name:
            what = f"volume {mount.name[:12] if len(mount.name) == 64 else mount.name}"
            (kept if mount.name in new_sources else dropped).append(
                f"{what} at {mount.destination}")
        elif mount.type == "bind":
            (kept if mount.source in new_sources else dropped).append(
                f"folder {mount.source} at {mount.destination}")
    lost = [
        "files written inside the container outside its volumes (its writable layer)",
        "its logs",
        f"its ID {details.id[:12]} (a new one is made)",
    ]
    lost += [f"{d} — no longer mounted (the data itself stays on disk)" for d in dropped]
    return RecreatePlan(tuple(kept), tuple(lost))


async def recreate_container(client: Engine, container_id: str, spec: RunSpec) -> str:
    """Replace the container with one made from ``spec``; returns the new ID.

    The old container is stopped and renamed aside first; only once the new one
    was created (and started, if the old one ran) is the old one removed —
    without its volumes.  On failure the new one is removed and the old one
    gets its name (and its running state) back, and the error is raised.
    """
    old = await client.container(container_id)
    was_running = old.state.running
    if was_running and old.raw.get("HostConfig", {}).get("AutoRemove"):
        raise EngineError(f"{old.name} removes itself when stopped, so it cannot be "
                          "recreated safely; stop it and run the image again instead")
    spec = replace(spec, name=old.name)
    if was_running:
        await client.stop_container(container_id)
    await rename_container(client, container_id, old.name + BACKUP_SUFFIX)
    new_id: str | None = None
    try:
        response = await client.request("POST", "/containers/create",
                                         params={"name": old.name}, json=spec.create_body())
        new_id = created_id(response.content, "the recreated container")
        if was_running:
            await client.start_container(new_id)
    except EngineError:
        await _restore(client, container_id, old.name, was_running, new_id)
        raise
    with contextlib.suppress(NotFound):  # gone already: nothing left to clean up
        await client.remove_container(container_id, volumes=False)
    return new_id


async def _restore(client: Engine, container_id: str, name: str, was_running: bool,
                   new_id: str | None) -> None:
    try:
        if new_id is not None:
            await client.remove_container(new_id, force=True, volumes=False)
        await rename_container(client, container_id, name)
        if was_running:
            await client.start_container(container_id)
    except EngineError as exc:  # the original error matters more; say this one in the log
        log.warning("could not fully restore %s after a failed recreate: %s", name, exc)
