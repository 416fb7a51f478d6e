"""Container lifecycle actions beyond create/start/stop, normalised across Docker and Podman.

The Engine class keeps the basic verbs; these are module functions over an
:class:`~engine.Engine` so the UI can call every action the same way, and so
the per-daemon quirks live next to each other.  What the daemons answer
(measured against Docker 20.10.24 and Podman 4.3.1's compat API):

=============================  ============================  ===========================
request                        Docker                        Podman
=============================  ============================  ===========================
pause a stopped container      409 "is not running"          500 "container state improper"
pause a paused container       409 "is already paused"       500 "container state improper"
unpause a non-paused one       **500** "is not paused"       500 "container state improper"
start a paused container       409 "try unpause instead"     500 "container state improper"
stop a paused container        204 (stops it)                500 "container state improper"
kill a stopped container       409 "is not running"          500 "container state improper"
kill with a bad signal         400 "Invalid signal"          **500** "invalid signal"
rename to a taken name         409 "is already in use"       409 "already in use"
rename to its own name         **400** "same name as its…"   204
rename to an invalid name      400 "Invalid container name"  **500** "invalid argument"
remove while auto-remove runs  409 "removal … in progress"   404 (already gone)
start/restart while removing   409/500 "marked for removal"  404 (already gone)
start running / stop stopped   304                           304
=============================  ============================  ===========================

Normalised here: every "wrong state" answer raises :class:`Conflict` (Podman's
500s already are, via ``engine._errors``; Docker's 500 on unpause is mapped
here), every "bad argument" answer raises :class:`BadRequest`, renaming to the
current name is a no-op, a removal that races the daemon's own auto-remove
counts as done, a start or restart of a container being removed is a no-op (it
is going away, as the other client asked), and a paused container is stopped on
Podman too (which refuses to stop it until it is unpaused).  ``status`` on the
exception stays what the daemon sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from engine._client import Engine
from engine._errors import APIError, BadRequest, Conflict, NotFound, ServerError

#: Docker 20.10 answers 500 for "unpause a container that is not paused".
_DOCKER_STATE_500 = ("is not paused",)
#: Podman answers 500 where Docker answers 400 for a bad argument.
_PODMAN_BAD_ARGUMENT = ("invalid signal", "invalid argument")
#: Docker's 409 when the container is already being removed (auto-remove, another client).
_REMOVAL_IN_PROGRESS = "is already in progress"
#: Docker's 400 for a rename to the current name; Podman accepts it silently.
_SAME_NAME = "same name as its current name"
#: Docker's answer to starting/restarting a container another client is removing.
_BEING_REMOVED = "marked for removal"


def _normalise(exc: APIError) -> APIError:
    """The exception class callers should see for this daemon answer."""
    if isinstance(exc, ServerError):
        if any(marker in exc.message for marker in _DOCKER_STATE_500):
            return Conflict(exc.status, exc.message)
        if any(marker in exc.message for marker in _PODMAN_BAD_ARGUMENT):
            return BadRequest(exc.status, exc.message)
    return exc


async def _post(client: Engine, path: str, params: Mapping[str, Any] | None = None,
                timeout: float | None = None) -> int:
    """POST and return the status code (204 done, 304 nothing to do); errors normalised."""
    try:
        response = await client.request("POST", path, params=params, timeout=timeout)
    except APIError as exc:
        normalised = _normalise(exc)
        if normalised is exc:
            raise
        raise normalised from exc
    return response.status


async def _settled(client: Engine, container_id: str) -> None:
    """Return once the engine's lists agree that the container stopped.

    Docker 25+ answers a stop or a SIGKILL as soon as the process has exited, before its
    exit handler has written the new state where ``/containers/json`` reads it: a list
    right after the answer still said "running" (12 times in 15 on Docker 26; never on
    20.10).  An inspect takes the container's lock, which that handler holds until it has
    written the state, so one inspect waits exactly as long as needed.  A container gone
    meanwhile (``--rm``) has settled too.
    """
    with contextlib.suppress(NotFound):
        await client.get_json(f"/containers/{container_id}/json")


async def pause_container(client: Engine, container_id: str) -> None:
    """Freeze every process of a running container (cgroup freezer).

    Raises :class:`Conflict` when the container is not running or already paused.
    """
    await _post(client, f"/containers/{container_id}/pause")


async def unpause_container(client: Engine, container_id: str) -> None:
    """Thaw a paused container.  Raises :class:`Conflict` when it is not paused."""
    await _post(client, f"/containers/{container_id}/unpause")


async def kill_container(
    client: Engine, container_id: str, *, signal: str | int | None = None
) -> None:
    """Send ``signal`` (default SIGKILL) to the container's main process.

    Raises :class:`Conflict` when the container is not running and
    :class:`BadRequest` for a signal the daemon does not know.  A signal the
    process ignores (SIGTERM to a shell as PID 1) succeeds and changes nothing.
    """
    params = {"signal": str(signal)} if signal is not None else None
    await _post(client, f"/containers/{container_id}/kill", params)
    if signal is None or str(signal).upper().removeprefix("SIG") in ("KILL", "9"):
        await _settled(client, container_id)  # the daemon waited for the exit


async def rename_container(client: Engine, container_id: str, name: str) -> None:
    """Give the container a new name; renaming to its current name does nothing.

    Raises :class:`Conflict` when another container has the name (the daemon's
    message names it) and :class:`BadRequest` for a name the daemon rejects.
    """
    try:
        await _post(client, f"/containers/{container_id}/rename", {"name": name})
    except BadRequest as exc:
        if _SAME_NAME not in exc.message:
            raise


async def ensure_started(client: Engine, container_id: str) -> bool:
    """Start the container; False when it was already running (304) or is being removed.

    Neither is an error: a container another client is removing (Docker: "marked
    for removal") is going away, which a start racing it cannot change.
    """
    try:
        return await _post(client, f"/containers/{container_id}/start") != 304
    except APIError as exc:
        if _BEING_REMOVED in exc.message:
            return False
        raise


async def ensure_stopped(
    client: Engine, container_id: str, *, timeout: int | None = None, paused: bool = False
) -> bool:
    """Stop the container; False when it was already stopped (304), which is no error.

    ``paused`` says the caller saw it paused: Podman refuses to stop a paused
    container ("container state improper") where Docker stops it, so it is
    unpaused first (a Conflict there means it was unpaused meanwhile).
    """
    if paused:
        with contextlib.suppress(Conflict):
            await unpause_container(client, container_id)
    wait = (timeout if timeout is not None else 10) + 30.0
    status = await _post(client, f"/containers/{container_id}/stop", {"t": timeout}, wait)
    if status != 304:
        await _settled(client, container_id)
    return status != 304


async def ensure_restarted(
    client: Engine, container_id: str, *, timeout: int | None = None
) -> bool:
    """Restart the container; False when it is being removed (a race, not a failure)."""
    try:
        await client.restart_container(container_id, timeout=timeout)
    except APIError as exc:
        if _BEING_REMOVED in exc.message:
            return False
        raise
    return True


async def remove_if_present(
    client: Engine, container_id: str, *, force: bool = False, volumes: bool = False
) -> bool:
    """Remove the container; False when it was already gone or being removed.

    A container started with ``--rm`` removes itself when it stops, so a user's
    "stop, then remove" races the daemon: Docker answers 409 "removal … is
    already in progress", Podman 404.  Either way the container is going, as
    asked, so neither is an error.  With ``volumes`` its anonymous volumes go too.
    """
    try:
        await client.remove_container(container_id, force=force, volumes=volumes)
    except NotFound:
        return False
    except Conflict as exc:
        if _REMOVAL_IN_PROGRESS in exc.message:
            return False
        raise
    return True
