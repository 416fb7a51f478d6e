"""Pulls and builds as activities: started from any page, shown in the activity panel.

Each runs through the session (so failures never escape as tracebacks), feeds
its :class:`~app.widgets.activity.Activity`, and reports the resulting image so
the Images page can select it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

import engine
from app.presentation import counted, human_size, sentence
from app.session import EngineSession, MessageLevel
from app.widgets.activity import Activity, ActivityPanel
from app.widgets.build_sheet import BuildRequest
from app.widgets.login_dialog import LoginDialog

READ_CHUNK = 1 << 20


def start_pull(session: EngineSession, panel: ActivityPanel, reference: str,
               on_done: Callable[[str], None] | None = None,
               auth: str | None = None, platform: str = "",
               save_login: tuple[str, str, str] | None = None) -> Activity | None:
    """Pull ``reference``; ``on_done`` gets the familiar name once the image exists.

    ``auth`` is a login typed just now; otherwise the docker CLI's saved
    credentials are used.  An "unauthorized" answer offers a login dialog.
    ``platform`` (``os/arch[/variant]``) picks one image of a multi-platform tag;
    "" lets the engine pick its own.  ``save_login`` (registry, user, password) is
    saved once the pull succeeded: the registry took it (docker login checks first).
    """
    try:
        ref = engine.parse_reference(reference)
    except engine.InvalidReference as exc:
        session.message.emit(MessageLevel.ERROR, str(exc))
        return None
    activity = panel.add(f"Pull {ref.familiar}" + (f" ({platform})" if platform else ""))
    retry = partial(_log_in_and_retry, session, panel, ref, on_done, activity, platform)
    def pulled(name: str | None) -> None:
        if not name:
            return
        if save_login is not None:
            session.save_login(*save_login)
        if on_done is not None:
            on_done(name)

    activity.task = session.run(
        partial(_pull, activity, ref, auth, platform, retry), describe=f"pull {ref.familiar}",
        on_done=pulled,
    )
    activity.end_with_task()
    offer_again(activity, panel, "Pull again",
                 partial(start_pull, session, panel, reference, on_done, auth, platform))
    return activity


def offer_again(activity: Activity, panel: ActivityPanel, text: str,
                 again: Callable[[], object]) -> None:
    """After a failure or a cancel, one click repeats it as asked (tags, args, login kept):
    the row it replaces goes away."""

    def ended(succeeded: bool) -> None:
        if succeeded or activity.findChild(QPushButton, "activity-login") is not None:
            return  # "Log in…" is the way to try an unauthorized pull again

        def repeat() -> None:
            panel.dismiss(activity)
            again()

        activity.offer(text, "activity-again", repeat)

    activity.finished.connect(ended)


def _log_in_and_retry(session: EngineSession, panel: ActivityPanel, ref: engine.ImageReference,
                      on_done: Callable[[str], None] | None, activity: Activity,
                      platform: str = "") -> LoginDialog:
    try:  # config.json only: small, read at once (the helper itself runs when saving)
        where = str(engine.login_store(ref.registry))
    except engine.EngineError:
        where = ""
    dialog = LoginDialog(ref.registry, activity.status.text(), panel.window(), save_where=where)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def accepted() -> None:
        username, password = dialog.username.text().strip(), dialog.password.text()
        panel.dismiss(activity)
        # Saved once the pull succeeded: a mistyped password never replaces a login
        # that works.
        start_pull(session, panel, ref.familiar, on_done,
                   auth=engine.login_auth(ref.registry, username, password), platform=platform,
                   save_login=(ref.registry, username, password) if dialog.save.isChecked()
                   else None)

    dialog.accepted.connect(accepted)
    dialog.open()
    return dialog



async def _pull(activity: Activity, ref: engine.ImageReference, login: str | None,
                platform: str, retry: Callable[[], object], client: engine.Engine
                ) -> str | None:
    auth = login or await asyncio.to_thread(engine.registry_auth, ref.registry)
    layers: dict[str, str] = {}
    try:
        async for progress in engine.pull(client, ref.familiar, auth=auth,
                                          platform=platform or None):
            if progress.layer is not None:
                layer = progress.layer
                state = str(layer.state)
                if layer.total and layer.state in (engine.LayerState.DOWNLOADING,
                                                   engine.LayerState.EXTRACTING):
                    state += f" {human_size(layer.current)} / {human_size(layer.total)}"
                layers[layer.id] = state
            done = progress.layers_done
            total = len(progress.layers)
            activity.set_fraction(progress.fraction if total else None)
            activity.set_status(f"{done} of {total} layers done · {progress.status}"
                                if total else progress.status)
            activity.log.setPlainText("\n".join(f"{lid}: {s}" for lid, s in layers.items()))
    except engine.PullFailed as exc:
        if exc.reason is engine.PullFailure.UNAUTHORIZED:  # before finish: see offer_again
            activity.offer("Log in…", "activity-login", retry)
        activity.finish(False, sentence(str(exc)))
        return None
    except engine.EngineError as exc:
        activity.finish(False, sentence(str(exc)))
        return None
    activity.finish(True, f"Pulled {ref.familiar}.")
    return ref.familiar


def start_build(session: EngineSession, panel: ActivityPanel, request: BuildRequest,
                on_done: Callable[[str], None] | None = None, *,
                rewalk: bool = False) -> Activity:
    """Build; ``on_done`` gets the new image ID.

    ``rewalk`` lists the context folder again first: "Build again" after the user
    fixed the Dockerfile must send the files as they are now, not as listed before.
    """
    activity = panel.add(request.title)
    activity.show_log()
    activity.task = session.run(
        partial(_build, activity, request, rewalk), describe=request.title.lower(),
        on_done=lambda image_id: on_done(image_id) if on_done and image_id else None,
    )
    activity.end_with_task()
    offer_again(activity, panel, "Build again",
                 partial(start_build, session, panel, request, on_done, rewalk=True))
    return activity


async def _read_tar(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, READ_CHUNK):
            yield chunk


async def _build(activity: Activity, request: BuildRequest, rewalk: bool,
                 client: engine.Engine) -> str | None:
    context: engine.ContextListing | AsyncIterator[bytes]
    if request.listing is not None:
        context = request.listing
        if rewalk:
            activity.set_status("Listing the context again…")
            try:
                context = await asyncio.to_thread(
                    engine.walk_context, context.root, str(context.dockerfile_path or
                                                           context.dockerfile))
            except engine.ContextError as exc:
                activity.finish(False, sentence(str(exc)))
                return None
        activity.set_status(f"Sending {counted(context.file_count, 'file')} "
                            f"({human_size(context.total_size)})…")
    elif request.tar is not None:
        context = _read_tar(request.tar)
    else:
        raise ValueError("a build needs a context folder or a tar file")
    try:
        async for event in engine.build(
            client, context, tags=request.tags, buildargs=request.buildargs,
            target=request.target, nocache=request.nocache, pull=request.pull,
            buildkit=request.buildkit,
        ):
            _show_build_event(activity, event)
            if isinstance(event, engine.BuildComplete):
                tags = f", tagged {', '.join(request.tags)}" if request.tags else ""
                cache = f"\n{sentence(event.cache.summary)}." if event.cache else ""
                if event.cache:
                    activity.append(f"{sentence(event.cache.summary)}.")
                activity.finish(True, f"Built {event.image_id[:19]}{tags}.{cache}")
                return event.image_id
    except engine.BuildFailed as exc:
        # Classic: "Step N: INSTRUCTION"; BuildKit names no step number, only the vertex's
        # instruction (its message quotes the shell command instead: say which line it was).
        where = (f"Step {exc.step}: {exc.instruction}\n" if exc.step
                 else f"{exc.instruction}\n" if exc.instruction else "")
        line = f" (Dockerfile line {exc.line})" if exc.line else ""
        activity.append(f"\nFAILED{line}: {exc.message}")
        activity.finish(False, f"{where}Failed{line}: {exc.message}")
        return None
    except engine.EngineUnreachable as exc:
        activity.append(f"\n{exc}")  # the technical words, for whoever wants them
        activity.finish(False, "The connection to the engine was lost during the build;"
                               " the daemon stops a build whose client went away.")
        return None
    except engine.EngineError as exc:
        activity.finish(False, f"The build could not run: {exc}")
        return None
    return None


def _show_build_event(activity: Activity, event: engine.BuildEvent) -> None:
    if isinstance(event, engine.BuildStep):
        line = f" (line {event.line})" if event.line else ""
        text = f"Step {event.number}/{event.total} : {event.instruction}"
        if event.cached:  # marked as BuildKit's cached vertices are, on the step's own line
            activity.set_status(f"cached: Step {event.number}/{event.total}{line}: "
                                f"{event.instruction}")
            activity.replace_last(text, f"[cached] {text}")
            return
        activity.set_fraction((event.number - 1) / max(event.total, 1))
        activity.set_status(f"Step {event.number}/{event.total}{line}: {event.instruction}")
        activity.append(text)
    elif isinstance(event, engine.BuildOutput):
        activity.append(event.text)
    elif isinstance(event, engine.BuildVertex):
        took = f" {event.duration:.1f}s" if event.duration is not None else ""
        activity.set_status(f"{event.state}: {event.name}")
        if event.state != "running" and event.state != "waiting":
            activity.append(f"[{event.state}{took}] {event.name}")
