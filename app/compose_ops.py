"""Compose files and commands as activities: open or drop a file, then Up, Down, Pull, Build.

A file is read (engine.load_compose_file) and shown in the Compose sheet before
anything runs.  Commands run the user's Compose tool (engine.find_compose_tool)
against the engine the window is connected to; its output streams into an
activity of the panel, whose status line keeps each service's latest step.
After Up, the project is read back by label: a service with no running
container is named with the tool's error (podman-compose exits 0 even when a
container failed to start).  Down of a project whose files are gone removes it
through the API by label, as the Apps page's Remove does.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

import engine
from app.operations import offer_again
from app.presentation import counted, sentence
from app.session import EngineSession, MessageLevel
from app.settings import Settings
from app.widgets.activity import Activity, ActivityPanel
from app.widgets.compose_sheet import ComposeSheet

#: The folder of the last Compose file opened, to start there next time.
LAST_COMPOSE_FOLDER = "state/last_compose_folder"
COMPOSE_FILES = ("Compose files (compose.yaml compose.yml docker-compose.yaml "
                 "docker-compose.yml *compose*.yaml *compose*.yml);;All files (*)")
#: Lines of the tool's output kept to find its error in (the activity keeps its own).
KEPT_LINES = 4000
#: Verbs as the activity names them.
TITLES = {"up": "Up", "down": "Down", "pull": "Pull", "build": "Build", "restart": "Restart"}


def choose_compose_file(parent: QWidget, settings: Settings) -> Path | None:
    """Ask for a Compose file (call from a slot, never inside a task)."""
    last = str(settings.store.value(LAST_COMPOSE_FOLDER, "") or "")
    start = last if last and Path(last).is_dir() else str(Path.home())
    path, _filter = QFileDialog.getOpenFileName(
        parent, "Open a Compose file", start, COMPOSE_FILES)
    if not path:
        return None
    settings.store.setValue(LAST_COMPOSE_FOLDER, str(Path(path).parent))
    return Path(path)


def open_compose_file(parent: QWidget, session: EngineSession, panel: ActivityPanel,
                      path: Path, on_up: Callable[[str], object] | None = None
                      ) -> ComposeSheet | None:
    """Read the file and show what it defines; a broken file is one message, no sheet.

    ``on_up`` gets the project's name when the user asks for Up (the window shows
    the Apps page, which lists the project as its containers appear).
    """
    try:
        project = engine.load_compose_file(path)
    except engine.ComposeFileError as exc:
        session.message.emit(MessageLevel.ERROR, f"Cannot open {path.name}: {exc}")
        return None
    sheet = ComposeSheet(project, parent)

    def requested(verb: str, chosen: engine.ComposeFile) -> None:
        start_compose(session, panel, verb, engine.ComposeTarget.of_file(chosen))
        if verb == "up" and on_up is not None:
            on_up(chosen.name)  # the Apps page, where the project appears as it comes up

    sheet.requested.connect(requested)
    session.run(_tool_for_sheet, describe="look for a Compose tool",
                on_done=lambda found: sheet.set_tool(*found))
    sheet.finished.connect(sheet.deleteLater)
    sheet.open()
    return sheet


async def _tool_for_sheet(client: engine.Engine) -> tuple[engine.ComposeTool | None, str]:
    try:
        return await engine.find_compose_tool(podman=client.version.is_podman), ""
    except engine.ComposeToolMissing as exc:
        return None, str(exc)


def start_compose(session: EngineSession, panel: ActivityPanel, verb: str,
                  target: engine.ComposeTarget,
                  on_done: Callable[[str], object] | None = None) -> Activity:
    """Run ``verb`` on ``target`` with the user's Compose tool, as an activity.

    ``on_done`` gets the project name after a successful run (the Apps page
    selects it).
    """
    activity = panel.add(f"{TITLES.get(verb, verb.capitalize())} app {target.project}")
    activity.task = session.run(
        partial(_compose, session, activity, verb, target),
        describe=f"{verb} app {target.project}",
        on_done=lambda ok: on_done(target.project) if ok and on_done else None)
    activity.end_with_task()
    offer_again(activity, panel, f"{TITLES.get(verb, verb)} again",
                 partial(start_compose, session, panel, verb, target, on_done))
    return activity


def _service_step(line: str, project: str, services: Sequence[str]) -> tuple[str, str] | None:
    """(service, what it is doing) if the tool's line is about one service."""
    if not services:
        return None
    names = "|".join(re.escape(s) for s in sorted(services, key=len, reverse=True))
    match = (re.search(rf"{re.escape(project)}[_-]({names})[_-]\d+", line)
             or re.search(rf"^(?:Pulling|Building|Pulled|Built|Creating|Starting)\s+({names})\b",
                          line))
    if match is None:
        return None
    words = line.split()
    if "..." in line:
        state = line.rsplit("...", 1)[1].strip() or f"{words[0].lower()}…"
    elif words[0] == "podman" and len(words) > 1:
        state = {"run": "starting", "start": "starting", "stop": "stopping", "rm": "removing",
                 "pull": "pulling", "build": "building"}.get(words[1], words[1])
    elif words[0] == "Container":
        state = words[-1].lower()
    else:
        state = words[0].lower()
    return match.group(1), state


def _needed_profiles(target: engine.ComposeTarget) -> engine.ComposeTarget:
    """A project found by label, brought up again: the profiles its running services need
    (read from its files), so Up starts the same services it had."""
    try:
        project = engine.load_compose_file(target.files[0], extra_files=target.files[1:])
    except engine.ComposeFileError:
        return target  # the tool says what is wrong, in its words
    wanted = set(target.expected)
    profiles = sorted({p for s in project.services if s.name in wanted for p in s.profiles})
    return engine.ComposeTarget(target.project, target.files, target.working_dir,
                                tuple(profiles), target.services, target.expected)


async def _compose(session: EngineSession, activity: Activity, verb: str,
                   target: engine.ComposeTarget, client: engine.Engine) -> bool:
    try:
        tool = await engine.find_compose_tool(podman=client.version.is_podman)
    except engine.ComposeToolMissing as exc:
        activity.finish(False, str(exc))
        session.message.emit(MessageLevel.ERROR, str(exc))
        return False
    activity.title.setText(f"<b>{activity.accessibleName()}</b> · {tool.label}")
    missing = [f for f in target.files if not Path(f).is_file()]
    if missing:
        if verb == "down":
            return await _down_by_label(session, activity, target, missing, client)
        text = (f"The files of app {target.project} are gone ({', '.join(missing)}): "
                f"{verb} needs them; Remove… on the Apps page works without them")
        activity.finish(False, text)
        session.message.emit(MessageLevel.ERROR, text)
        return False
    if verb == "up" and not target.profiles and not target.services and target.files:
        target = await asyncio.to_thread(_needed_profiles, target)
    invocation = engine.compose_command(tool, verb, target, client.endpoint.url,
                                        tls=client.endpoint.tls)
    activity.append(f"$ {invocation.command_line}")
    activity.set_status(f"Running {tool.label}…")
    lines: deque[str] = deque(maxlen=KEPT_LINES)
    steps: dict[str, str] = {}
    try:
        async for line in engine.run_compose(invocation):
            lines.append(line)
            activity.append(line)
            if step := _service_step(line, target.project, target.expected):
                steps[step[0]] = step[1]
                activity.set_status(" · ".join(f"{s}: {state}" for s, state in steps.items()))
    except engine.ComposeFailed as exc:
        service, error = engine.failure_of(list(lines), target.project, target.expected)
        return _failed(session, activity, verb, target, service,
                       error or (lines[-1] if lines else f"{tool.name} {exc}"))
    if verb == "up":
        return await _check_up(session, activity, target, list(lines), client)
    done = {"down": "Took down", "pull": "Pulled the images of", "build": "Built",
            "restart": "Restarted"}.get(verb, f"{verb.capitalize()}:")
    activity.finish(True, f"{done} app {target.project}.")
    return True


def _failed(session: EngineSession, activity: Activity, verb: str,
            target: engine.ComposeTarget, service: str, error: str) -> bool:
    who = f"service {service}: " if service else ""
    text = f"{TITLES.get(verb, verb)} of app {target.project} failed: {who}{sentence(error)}"
    activity.finish(False, text)
    session.message.emit(MessageLevel.ERROR, text)
    return False


async def _check_up(session: EngineSession, activity: Activity, target: engine.ComposeTarget,
                    lines: list[str], client: engine.Engine) -> bool:
    """Every service Up should have run has a running container (or one that exited 0)."""
    try:
        project = await engine.compose_project(client, target.project)
    except engine.NotFound:
        service, error = engine.failure_of(lines, target.project, target.expected)
        return _failed(session, activity, "up", target, service,
                       error or "no container was created")
    by_name = {s.name: s for s in project.services}
    for name in target.expected:
        found = by_name.get(name)
        if found is not None and (found.running or any(
                c.state == "exited" and c.status.startswith("Exited (0)")
                for c in found.replicas)):
            continue
        said, error = engine.failure_of(lines, target.project, target.expected)
        if said != name or not error:
            error = (f"its container is {found.replicas[0].status or found.replicas[0].state}"
                     if found is not None and found.replicas else "no container was created")
        return _failed(session, activity, "up", target, name, error)
    activity.finish(True, f"App {target.project} is up: {project.state_text} "
                          f"({counted(len(project.services), 'service')}).")
    return True


async def _down_by_label(session: EngineSession, activity: Activity,
                         target: engine.ComposeTarget, missing: list[str],
                         client: engine.Engine) -> bool:
    activity.append(f"{', '.join(missing)} no longer exist: removing the app's containers and "
                    "networks by their labels instead")
    try:
        plan = await engine.project_removal_plan(client, target.project)
    except engine.NotFound:
        activity.finish(True, f"App {target.project} has no container left.")
        return True
    result = await engine.remove_project(client, plan)
    text = (f"Took down app {target.project} by label: "
            f"{counted(len(result.containers), 'container')}, "
            f"{counted(len(result.networks), 'network')}")
    if result.failed:
        text += ". Kept: " + "; ".join(f"{n}: {why}" for n, why in result.failed.items())
        session.message.emit(MessageLevel.WARNING, text)
    activity.finish(not result.failed, text + ".")
    return not result.failed
