"""The ``docker run`` command that would recreate a container, read from its inspect data.

Portainer and Docker Desktop users keep asking for it: to move a container to
another host, to put it in a script, or to see at a glance how it was started.
The settings come from :func:`~engine._recreate.spec_from_container` (the same
reading "Change settings…" starts from), so what the command says and what a
recreate keeps cannot drift apart.  Environment, labels, command and
entrypoint equal to the image's own are left out: the image brings them back,
and a command listing ``PATH`` and every label of the base image hides what
the user actually chose.  So are the variables an engine adds by itself
(Podman's ``container=podman``, ``TERM=xterm`` and ``HOSTNAME``): the engine
that runs the command adds them again.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from engine._models import ContainerDetails, ImageDetails
from engine._recreate import spec_from_container
from engine._run import format_cpus, format_memory

if TYPE_CHECKING:
    from engine._client import Engine


def _engine_added_env(details: ContainerDetails) -> set[str]:
    hostname = str((details.raw.get("Config") or {}).get("Hostname") or "")
    return {"container=podman", "TERM=xterm", f"HOSTNAME={hostname}"}


def run_command(
    details: ContainerDetails, image: ImageDetails | None = None, *, podman: bool = False
) -> str:
    """One shell line, quoted for a POSIX shell; ``image`` is what defaults are read from."""
    spec = spec_from_container(details)
    image_env = set(image.env) if image is not None else set()
    if podman:
        image_env |= _engine_added_env(details)
    image_labels = dict(image.labels) if image is not None else {}
    image_cmd = image.cmd if image is not None else ()
    image_entrypoint = image.entrypoint if image is not None else ()
    image_config = (image.raw.get("Config") or {}) if image is not None else {}
    image_user = str(image_config.get("User") or "")
    image_workdir = str(image_config.get("WorkingDir") or "")

    words = ["docker", "run", "--detach"]
    if spec.name:
        words += ["--name", spec.name]
    if spec.interactive:
        words.append("--interactive")
    if spec.tty:
        words.append("--tty")
    if spec.auto_remove:
        words.append("--rm")
    if spec.restart.name not in ("", "no"):
        words += ["--restart", str(spec.restart)]
    if spec.network:
        words += ["--network", spec.network]
    if spec.user and spec.user != image_user:
        words += ["--user", spec.user]
    # Podman reports "/" for an image that sets none: that is where a process starts anyway.
    if spec.working_dir and spec.working_dir != (image_workdir or "/"):
        words += ["--workdir", spec.working_dir]
    if spec.nano_cpus:
        words += ["--cpus", format_cpus(spec.nano_cpus)]
    if spec.memory:
        words += ["--memory", format_memory(spec.memory)]
    if spec.publish_all:
        words.append("--publish-all")
    for port in spec.ports:
        words += ["--publish", str(port)]
    for volume in spec.volumes:
        words += ["--volume", str(volume)]
    for variable in spec.env:
        if variable not in image_env:
            words += ["--env", variable]
    for key, value in sorted(spec.labels.items()):
        if image_labels.get(key) != value:
            words += ["--label", f"{key}={value}"]

    entrypoint = spec.entrypoint or ()
    command = spec.command or ()
    arguments: tuple[str, ...] = ()
    if entrypoint != image_entrypoint:
        # --entrypoint takes one word and resets the image's command: the rest of the
        # entrypoint and the whole command follow the image as arguments.
        words += ["--entrypoint", entrypoint[0] if entrypoint else ""]
        arguments = entrypoint[1:] + command
    elif command != image_cmd:
        arguments = command
    words.append(spec.image)
    words += arguments
    return shlex.join(words)


async def container_run_command(client: Engine, container_id: str) -> str:
    """:func:`run_command` for a container, its image's defaults read from the engine."""
    details = await client.container(container_id)
    image = await client.image(details.image_id or details.image)
    return run_command(details, image, podman=client.version.is_podman)
