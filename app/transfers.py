"""Push, save, load, import and export as activities in the activity panel.

Like pulls and builds (:mod:`app.operations`): each runs through the session (so a
failure is a sentence, never a traceback), shows its progress per layer or in
bytes, can be cancelled from its row, and hands what it made to the page that
selects it (the pushed digest, the loaded images' names, the imported image).
Progress is shown at most every :data:`SHOW_EVERY` seconds: a save reports a
few thousand chunks, and relaying each to a label would cost more than the copy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

from PySide6.QtGui import QGuiApplication

import engine
from app.pages.containers import ContainersPage
from app.pages.images import ImagesPage
from app.presentation import counted, human_size, sentence
from app.session import EngineSession
from app.widgets.activity import Activity, ActivityPanel
from app.widgets.drop_overlay import DropBuild

#: Seconds between two progress updates of one activity.
SHOW_EVERY = 0.1




# -- push --------------------------------------------------------------------------------


def start_push(session: EngineSession, panel: ActivityPanel, source: str, target: str, *,
               auth: str | None = None,
               on_done: Callable[[str], None] | None = None) -> Activity:
    """Tag ``source`` as ``target`` (when they differ), then push ``target``.

    ``auth`` is a login typed just now (an ``X-Registry-Auth`` value); otherwise the
    docker CLI's saved login for the target's registry is used.  ``on_done`` gets
    the pushed digest.
    """
    activity = panel.add(f"Push {target}")
    activity.task = session.run(
        partial(_push, activity, source, target, auth), describe=f"push {target}",
        on_done=lambda digest: on_done(digest) if on_done and digest else None)
    activity.end_with_task()
    return activity


def _layer_line(layer: engine.LayerPush) -> str:
    if layer.state is engine.PushState.PUSHING:
        total = f" / {human_size(layer.total)}" if layer.total >= layer.current else ""
        return f"Pushing {human_size(layer.current)}{total}"
    if layer.state is engine.PushState.PUSHED:
        return f"Pushed ({human_size(layer.current)})" if layer.current else "Pushed"
    if layer.state is engine.PushState.EXISTS:
        return "Layer already exists"
    return str(layer.state).capitalize()


async def _push(activity: Activity, source: str, target: str, login: str | None,
                client: engine.Engine) -> str | None:
    ref = engine.parse_reference(target)
    try:
        if engine.parse_reference(source).normalized != ref.normalized:
            activity.set_status(f"Tagging {source} as {target}…")
            await client.tag_image(source, ref.familiar_name, ref.tag or "latest")
        auth = login or await asyncio.to_thread(engine.registry_auth, ref.registry)
        shown = 0.0
        last: engine.PushProgress | None = None
        async for progress in engine.push(client, target, auth=auth):
            last = progress
            now = time.monotonic()
            if now - shown >= SHOW_EVERY:
                shown = now
                _show_push(activity, progress)
    except (engine.PushFailed, engine.APIError) as exc:
        activity.finish(False, sentence(str(exc)))
        return None
    except engine.EngineError as exc:
        activity.finish(False, sentence(str(exc)))
        return None
    if last is None or last.digest is None:
        activity.finish(False, "The engine did not say what it pushed.")
        return None
    _show_push(activity, last)
    digest = last.digest
    activity.append(f"digest: {digest}")
    activity.finish(True, f"Pushed {target} ({counted(len(last.layers), 'layer')},"
                          f" {human_size(last.sent)} sent)\nDigest: {digest}")
    activity.offer("Copy digest", "activity-copy-digest",
                   lambda: QGuiApplication.clipboard().setText(f"{ref.name}@{digest}"))
    return digest


def _show_push(activity: Activity, progress: engine.PushProgress) -> None:
    total = len(progress.layers)
    activity.set_fraction(progress.fraction if total else None)
    if total:
        activity.set_status(f"{progress.layers_done} of {total} layers done ·"
                            f" {human_size(progress.sent)} sent · {progress.status}")
    else:
        activity.set_status(progress.status)
    activity.log.setPlainText("\n".join(f"{layer.id}: {_layer_line(layer)}"
                                        for layer in progress.layers))


# -- save, export ------------------------------------------------------------------------


def start_save(session: EngineSession, panel: ActivityPanel, names: list[str],
               destination: Path) -> Activity:
    """Save images into one ``docker save`` archive (gzipped for a ``.gz`` name)."""
    what = names[0] if len(names) == 1 else counted(len(names), "image")
    activity = panel.add(f"Save {what} to {destination.name}")
    activity.task = session.run(
        partial(_write_file, activity, destination, f"Saved {what}",
                partial(engine.save_images, names=names, destination=destination)),
        describe=f"save {what}")
    activity.end_with_task()
    return activity


def start_export(session: EngineSession, panel: ActivityPanel, container: str, shown: str,
                 destination: Path) -> Activity:
    """A container's filesystem into a tar (``docker export``)."""
    activity = panel.add(f"Export {shown} to {destination.name}")
    activity.task = session.run(
        partial(_write_file, activity, destination, f"Exported the filesystem of {shown}",
                partial(engine.export_container, container=container,
                        destination=destination)),
        describe=f"export {shown}")
    activity.end_with_task()
    return activity


async def _write_file(activity: Activity, destination: Path, done_text: str,
                      transfer: Callable[[engine.Engine], AsyncIterator[engine.Transfer]],
                      client: engine.Engine) -> Path | None:
    last = engine.Transfer(0)
    shown = 0.0
    try:
        async for last in transfer(client):
            now = time.monotonic()
            if now - shown >= SHOW_EVERY:
                shown = now
                _show_bytes(activity, last, "written")
    except engine.EngineError as exc:
        activity.finish(False, sentence(str(exc)))
        return None
    activity.finish(True, f"{done_text} to {destination} ({human_size(last.done)}).")
    return destination


def _show_bytes(activity: Activity, progress: engine.Transfer, verb: str) -> None:
    activity.set_fraction(progress.fraction)
    of = f" of about {human_size(progress.total)}" if progress.total else ""
    activity.set_status(f"{human_size(progress.done)}{of} {verb}")


# -- load, import ------------------------------------------------------------------------


def start_load(session: EngineSession, panel: ActivityPanel, source: Path,
               on_done: Callable[[tuple[str, ...]], None] | None = None) -> Activity:
    """Load a ``.tar`` / ``.tar.gz`` archive; ``on_done`` gets the loaded names (or IDs)."""
    activity = panel.add(f"Load {source.name}")
    activity.task = session.run(
        partial(_read_file, activity, source, "Loaded", partial(engine.load_images,
                                                                source=source)),
        describe=f"load {source.name}",
        on_done=lambda names: on_done(names) if on_done and names else None)
    activity.end_with_task()
    return activity


def start_import(session: EngineSession, panel: ActivityPanel, source: Path, repository: str,
                 tag: str, on_done: Callable[[tuple[str, ...]], None] | None = None
                 ) -> Activity:
    """A root filesystem tarball as a new image ``repository:tag``."""
    name = f"{repository}:{tag}" if repository else "an untagged image"
    activity = panel.add(f"Import {source.name} as {name}")
    activity.task = session.run(
        partial(_read_file, activity, source, f"Imported {source.name} as {name}:",
                partial(engine.import_image, source=source, repository=repository, tag=tag)),
        describe=f"import {source.name}",
        on_done=lambda ids: on_done(ids) if on_done and ids else None)
    activity.end_with_task()
    return activity


async def _read_file(activity: Activity, source: Path, done_text: str,
                     transfer: Callable[[engine.Engine], AsyncIterator[engine.Transfer]],
                     client: engine.Engine) -> tuple[str, ...]:
    last = engine.Transfer(0)
    shown = 0.0
    try:
        async for last in transfer(client):
            now = time.monotonic()
            if now - shown >= SHOW_EVERY:
                shown = now
                _show_bytes(activity, last, "sent")
    except engine.EngineError as exc:
        activity.finish(False, sentence(str(exc)))
        return ()
    for image in last.images:
        activity.append(image)
    activity.finish(True, f"{done_text} {', '.join(last.images)}.")
    return last.images


# -- wiring ------------------------------------------------------------------------------


def connect_transfers(session: EngineSession, panel: ActivityPanel, images: ImagesPage,
                      containers: ContainersPage, drop: DropBuild) -> None:
    """What the Images and Containers pages and a dropped archive ask for, started here
    (so the window only hands its parts over)."""

    def push(source: str, target: str, username: str, password: str, save: bool) -> None:
        auth = None
        pushed: Callable[[str], None] | None = None
        if username and password:
            registry = engine.parse_reference(target).registry
            auth = engine.login_auth(registry, username, password)
            if save:  # once the registry took it, as docker login checks first
                def pushed(_digest: str) -> None:
                    session.save_login(registry, username, password)
        start_push(session, panel, source, target, auth=auth, on_done=pushed)

    def load(source: Path) -> None:
        start_load(session, panel, source, on_done=images.select_loaded)

    images.push_chosen.connect(push)
    images.save_requested.connect(partial(start_save, session, panel))
    images.load_requested.connect(load)
    images.import_requested.connect(
        lambda source, repository, tag: start_import(session, panel, source, repository, tag,
                                                     on_done=images.select_loaded))
    containers.export_requested.connect(partial(start_export, session, panel))
    drop.load_dropped.connect(load)

