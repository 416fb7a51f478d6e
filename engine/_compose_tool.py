"""Up, Down, Pull, Build and Restart through the Compose tool the user has.

Dockyard does not reimplement Compose: it finds the implementation on PATH —
the ``docker compose`` plugin, ``docker-compose`` 1.x, or ``podman-compose`` for
Podman — runs it with the project's name, files and folder, and streams its
output.  The tool talks to the engine the window is connected to:

- ``docker compose`` / ``docker-compose``: ``DOCKER_HOST`` is the window's
  endpoint (any ``DOCKER_CONTEXT`` is dropped, since it would win);
- ``podman-compose`` drives the ``podman`` CLI: ``CONTAINER_HOST`` is the
  window's endpoint, which makes that CLI a remote client of the same service
  (Podman 4 turns ``--remote`` on when it is set).

For Podman, ``podman-compose`` is preferred; without it ``docker compose`` or
``docker-compose`` work through Podman's Docker-compatible API.  No tool: a
:class:`ComposeToolMissing` saying which to install.

The project name is always passed (``-p``), so every tool agrees with the
labels; ``podman-compose`` 1.0 knows no ``--profile``, so with it the active
services are named on the command line instead.  A failure is a
:class:`ComposeFailed` whose message names the service and the tool's error
(:func:`failure_of` reads it from the output, whichever tool wrote it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine._compose import ComposeProject
from engine._compose_file import ComposeFile
from engine._endpoint import TLSConfig
from engine._errors import EngineError

#: What the tools can be asked to do.
COMPOSE_VERBS = ("up", "down", "pull", "build", "restart", "start", "stop")
#: Seconds a ``version`` probe may take.
PROBE_SECONDS = 15.0
#: Seconds a cancelled tool gets to stop on SIGTERM before it is killed.
TERM_SECONDS = 5.0

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_VERSION = re.compile(r"v?(\d+\.\d+(?:\.\d+)?)")


class ComposeToolMissing(EngineError):
    """No Compose implementation on PATH: the message says which to install."""


class ComposeFailed(EngineError):
    """The tool failed; ``service`` is the one it named ("" if none), ``error`` its words."""

    def __init__(self, message: str, *, service: str = "", error: str = "",
                 returncode: int | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.error = error
        self.returncode = returncode


@dataclass(frozen=True, slots=True)
class ComposeTool:
    """One Compose implementation found on PATH."""

    #: As users type it: "docker compose", "docker-compose", "podman-compose".
    name: str
    #: The command line that runs it, before its own arguments.
    argv: tuple[str, ...]
    version: str = ""

    @property
    def drives_podman(self) -> bool:
        """Runs the podman CLI (``CONTAINER_HOST``) rather than the Docker API."""
        return self.name == "podman-compose"

    @property
    def knows_profiles(self) -> bool:
        return not self.drives_podman

    @property
    def label(self) -> str:
        """"docker-compose 1.29.2", as the UI names it."""
        return f"{self.name} {self.version}".strip()


def install_advice(podman: bool) -> str:
    """Which Compose to install, for the engine the window is connected to."""
    if podman:
        return ("No Compose tool found on PATH: install podman-compose (apt install "
                "podman-compose, or pip install podman-compose), or docker-compose")
    return ("No Compose tool found on PATH: install the docker compose plugin "
            "(docker-compose-plugin) or docker-compose (apt install docker-compose)")


async def _probe(argv: Sequence[str], env: Mapping[str, str]) -> str | None:
    """The version ``argv version`` prints, or None if it is not a working Compose."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, "version", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=dict(env))
    except OSError:
        return None
    try:
        out, _ = await asyncio.wait_for(process.communicate(), PROBE_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return None
    if process.returncode != 0:
        return None
    text = out.decode(errors="replace")
    # podman-compose prints the podman version first: its own line says "podman-compose".
    lines = [line for line in text.splitlines() if "compose" in line.lower()] or \
        text.splitlines()
    for line in lines:
        if match := _VERSION.search(line):
            return match.group(1)
    return ""


async def find_compose_tool(*, podman: bool = False, path: str | None = None,
                            environ: Mapping[str, str] | None = None) -> ComposeTool:
    """The Compose implementation to use for a Docker (or Podman) engine.

    ``path`` is the PATH to search (default: this process's).  Each candidate is
    asked its version, so a ``docker`` CLI without the compose plugin is passed
    over.  Raises :class:`ComposeToolMissing` naming what to install.
    """
    env = dict(os.environ if environ is None else environ)
    if path is not None:
        env["PATH"] = path
    search = env.get("PATH", os.defpath)
    candidates: list[tuple[str, tuple[str, ...]]] = []
    order = ["podman-compose", "docker compose", "docker-compose"] if podman else \
        ["docker compose", "docker-compose"]
    for name in order:
        program = shutil.which(name.split()[0], path=search)
        if program is not None:
            candidates.append((name, (program, *name.split()[1:])))
    for name, argv in candidates:
        version = await _probe(argv, env)
        if version is not None:
            return ComposeTool(name, argv, version)
    raise ComposeToolMissing(install_advice(podman))


@dataclass(frozen=True, slots=True)
class ComposeTarget:
    """What a Compose command acts on: a project, its files and folder."""

    project: str
    #: Absolute (or working_dir-relative) config files; empty: the folder's default.
    files: tuple[str, ...]
    working_dir: str
    profiles: tuple[str, ...] = ()
    #: Only these services ("" for all).  Also how profiles reach podman-compose.
    services: tuple[str, ...] = ()
    #: The services the file makes active (with the profiles): what Up should run.
    expected: tuple[str, ...] = ()

    @classmethod
    def of_file(cls, project: ComposeFile) -> ComposeTarget:
        """A file just read: its files, folder and the profiles chosen."""
        return cls(project.name, project.files, project.working_dir, project.enabled_profiles,
                   expected=tuple(s.name for s in project.active_services))

    @classmethod
    def of_project(cls, project: ComposeProject) -> ComposeTarget:
        """A project found by its labels: the files and folder they record."""
        return cls(project.name, project.config_paths, project.working_dir,
                   expected=tuple(s.name for s in project.services if s.replicas))


@dataclass(frozen=True, slots=True)
class ComposeInvocation:
    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str]

    @property
    def command_line(self) -> str:
        """For the activity's log: what ran, as a user could type it."""
        return " ".join(a if a and not re.search(r"[\s'\"$]", a) else repr(a)
                        for a in self.argv)


def compose_env(tool: ComposeTool, engine_url: str,
                environ: Mapping[str, str] | None = None,
                tls: TLSConfig | None = None) -> dict[str, str]:
    """The tool's environment: this process's, pointed at ``engine_url``.

    A TLS endpoint's certificates reach a Docker tool as the docker CLI's
    ``DOCKER_CERT_PATH`` (a folder of ``ca.pem``, ``cert.pem``, ``key.pem``: files
    named otherwise are linked under those names in a private folder) and
    ``DOCKER_TLS_VERIFY``.  Whatever TLS settings this process inherited are dropped
    first: they belong to another engine, or to none.
    """
    env = dict(os.environ if environ is None else environ)
    for inherited in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS"):
        env.pop(inherited, None)
    if tool.drives_podman:
        env["CONTAINER_HOST"] = engine_url
    else:
        env["DOCKER_HOST"] = engine_url
        env.pop("CONTAINER_HOST", None)
        if tls is not None:
            if (folder := _cert_folder(tls)) is not None:
                env["DOCKER_CERT_PATH"] = str(folder)
            if tls.verify:
                env["DOCKER_TLS_VERIFY"] = "1"
            else:
                env["DOCKER_TLS"] = "1"  # TLS without verifying, as the engine was added
    # Plain lines, no progress bars redrawn in place: the output is read as a log.
    env["COMPOSE_ANSI"] = "never"
    env["BUILDKIT_PROGRESS"] = "plain"
    return env


def _cert_folder(tls: TLSConfig) -> Path | None:
    """A folder holding the endpoint's files as ca.pem, cert.pem and key.pem (the only
    names the docker CLI and Compose read), or None when it has none."""
    named = {"ca.pem": tls.ca_cert, "cert.pem": tls.client_cert, "key.pem": tls.client_key}
    files = {name: path for name, path in named.items() if path is not None}
    if not files:
        return None
    parents = {path.parent for path in files.values()}
    if len(parents) == 1 and all(path.name == name for name, path in files.items()):
        return parents.pop()
    key = hashlib.sha256("\0".join(str(p) for p in files.values()).encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"dockyard-{os.getuid()}-tls-{key}"
    folder.mkdir(mode=0o700, exist_ok=True)
    for name, path in files.items():
        link = folder / name
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(path.resolve())
    return folder


def compose_command(tool: ComposeTool, verb: str, target: ComposeTarget, engine_url: str,
                    *, remove_volumes: bool = False,
                    environ: Mapping[str, str] | None = None,
                    tls: TLSConfig | None = None) -> ComposeInvocation:
    """The command line for ``verb`` (one of :data:`COMPOSE_VERBS`) on ``target``."""
    if verb not in COMPOSE_VERBS:
        raise ValueError(f"unknown Compose command {verb!r}: one of {', '.join(COMPOSE_VERBS)}")
    argv: list[str] = [*tool.argv, "-p", target.project]
    for file in target.files:
        argv += ["-f", file]
    services = list(target.services)
    if tool.knows_profiles:
        for profile in target.profiles:
            argv += ["--profile", profile]
        if tool.name == "docker-compose" or tool.name == "docker compose":
            argv += ["--project-directory", target.working_dir]
        argv += ["--ansi", "never"]
    else:
        argv.append("--no-ansi")
        if target.profiles and not services and verb in ("up", "pull", "build"):
            services = list(target.expected)
    argv.append(verb)
    if verb == "up":
        argv.append("-d")
    elif verb == "down" and remove_volumes:
        argv.append("-v")
    if verb != "down":
        argv += services
    return ComposeInvocation(tuple(argv), target.working_dir,
                             compose_env(tool, engine_url, environ, tls))


_ERROR_LINE = re.compile(r"^(?:ERROR|Error|error)\b[: ]|Error response from daemon|"
                         r"\bfailed\b.*:|exit code: [1-9]")
_FOR_SERVICE = re.compile(r"(?:ERROR: for|Cannot start service|service|Service)\s+"
                          r"[\"']?([A-Za-z0-9][\w.-]*)[\"']?")
#: podman-compose's harmless errors: "volume inspect X || volume create X".
_BENIGN = re.compile(r"no such volume|no such network|exit code: 0")


def failure_of(lines: Sequence[str], project: str, services: Sequence[str]
               ) -> tuple[str, str]:
    """(service, error) the tool's output names, "" where it names none.

    Reads the forms the three tools write: ``ERROR: for web  Cannot start service
    web: …`` (docker-compose 1.x), ``Error response from daemon: …`` after a
    ``Container proj-web-1`` line (the plugin), and ``Error: …`` after a ``podman
    run --name=proj_web_1`` line (podman-compose).  The service is the one the error
    line names, else the last one mentioned before it.
    """
    names = sorted(services, key=len, reverse=True)
    container = re.compile(rf"{re.escape(project)}[_-]({'|'.join(map(re.escape, names))})"
                           r"[_-]\d+") if names else None
    current = ""
    found: list[tuple[str, str]] = []
    for raw in lines:
        line = _ANSI.sub("", raw).strip()
        if not line:
            continue
        if container is not None and (match := container.search(line)):
            current = match.group(1)
        named = next((m.group(1) for m in _FOR_SERVICE.finditer(line)
                      if m.group(1) in services), "")
        if _ERROR_LINE.search(line) and not _BENIGN.search(line):
            if line.startswith("ERROR: Encountered errors"):
                continue  # docker-compose's summary: the "for web" lines say more
            found.append((named or current, line))
        elif named:
            current = named
    if not found:
        return "", ""
    service, line = next((f for f in found if f[0]), found[-1])
    error = re.sub(r"^(?:ERROR|Error|error):\s*(?:for \S+\s+)?", "", line).strip()
    return service, error


async def run_compose(invocation: ComposeInvocation) -> AsyncIterator[str]:
    """The tool's output, line by line (stdout and stderr merged, as a terminal shows).

    Ends when the tool exits; a non-zero exit raises :class:`ComposeFailed` (the
    caller reads the service and error from the lines).  Cancelling terminates
    the tool (SIGTERM, then SIGKILL) so no half-run Compose keeps going unseen.
    """
    try:
        process = await asyncio.create_subprocess_exec(
            *invocation.argv, cwd=invocation.cwd or None, env=dict(invocation.env),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        raise ComposeFailed(f"{invocation.argv[0]} could not run: "
                            f"{exc.strerror or exc}") from None
    assert process.stdout is not None
    try:
        pending = b""
        while chunk := await process.stdout.read(65536):
            pending += chunk
            *complete, pending = re.split(rb"\r\n|\r|\n", pending)
            for line in complete:
                if line.strip():
                    yield _ANSI.sub("", line.decode(errors="replace"))
        if pending.strip():
            yield _ANSI.sub("", pending.decode(errors="replace"))
        returncode = await process.wait()
    finally:
        if process.returncode is None:
            await _stop(process)
    if returncode != 0:
        raise ComposeFailed(f"exited with code {returncode}", returncode=returncode)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Stop the tool and what it started: podman-compose runs ``podman pull/build/run``
    as children, which would go on after the tool alone was stopped.  The tool leads
    its own process group (``start_new_session``), so the group is signalled."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(process.wait()), TERM_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


__all__ = [
    "COMPOSE_VERBS",
    "ComposeFailed",
    "ComposeInvocation",
    "ComposeTarget",
    "ComposeTool",
    "ComposeToolMissing",
    "compose_command",
    "compose_env",
    "failure_of",
    "find_compose_tool",
    "install_advice",
    "run_compose",
]
