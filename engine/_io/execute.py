"""Exec: a command in a running container over a hijacked (``101``) connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from engine._client import Engine
from engine._decoders import (
    FrameDecoder,
    StreamKind,
)
from engine._errors import (
    APIError,
    EngineUnreachable,
    ServerError,
)
from engine._io.container_logs import LogChunk
from engine._shapes import created_id, validated
from engine._transport import Upgraded

_READ_SIZE = 65536

_EOT = b"\x04"
#: Shells a user expects, best first (issue 5: bash, then ash, then sh).
SHELLS = ("bash", "ash", "sh")




async def exec_create(
    client: Engine,
    container_id: str,
    cmd: Sequence[str],
    *,
    tty: bool,
    stdin: bool,
    env: Mapping[str, str] | Sequence[str] | None = None,
    user: str | None = None,
    workdir: str | None = None,
    console_size: tuple[int, int] | None = None,
) -> str:
    """Create (not start) an exec instance; returns its ID.

    ``console_size`` is (rows, cols).  Docker 20.10 and Podman 4.3 (API 1.41) ignore
    it and start the TTY at 0x0 (busybox ``stty size`` then fails), so pass it to
    :func:`exec_start` too, which resizes once the process runs.
    Raises :class:`Conflict` if the container is not running.
    """
    body: dict[str, Any] = {
        "AttachStdin": stdin,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": tty,
        "Cmd": list(cmd),
    }
    if env is not None:
        body["Env"] = ([f"{k}={v}" for k, v in env.items()] if isinstance(env, Mapping)
                       else list(env))
    if user is not None:
        body["User"] = user
    if workdir is not None:
        body["WorkingDir"] = workdir
    if console_size is not None:
        body["ConsoleSize"] = [console_size[0], console_size[1]]
    response = await client.request("POST", f"/containers/{container_id}/exec", json=body)
    return created_id(response.content, "the created exec")


@dataclass(frozen=True, slots=True)
class ExecInfo:
    """``GET /exec/{id}/json``: whether it runs, and how it ended."""

    running: bool
    exit_code: int | None
    pid: int

    @classmethod
    @validated("an exec's state")
    def from_api(cls, raw: Mapping[str, Any]) -> ExecInfo:
        code = raw.get("ExitCode")
        return cls(
            running=bool(raw.get("Running")),
            exit_code=int(code) if code is not None else None,
            pid=int(raw.get("Pid") or 0),
        )


async def exec_inspect(client: Engine, exec_id: str) -> ExecInfo:
    return ExecInfo.from_api(await client.get_json(f"/exec/{exec_id}/json"))


class ExecSession:
    """A started exec: its hijacked connection, for reading, writing and resizing.

    Use as ``async with await exec_start(...) as session``.  :meth:`read` returns
    ``None`` once the process closed its output (it has exited, or is about to);
    :meth:`wait` then gives the exit code.
    """

    def __init__(self, client: Engine, exec_id: str, tty: bool, stream: Upgraded) -> None:
        self.client = client
        self.exec_id = exec_id
        self.tty = tty
        self._stream = stream
        self._decoder = None if tty else FrameDecoder()
        self._frames: list[LogChunk] = []
        self._eof = False
        self._stdin_closed = False
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def read(self) -> LogChunk | None:
        """The next piece of output; ``None`` at the end.  TTY output is all STDOUT."""
        while not self._frames:
            if self._eof:
                return None
            try:
                data = await self._stream.read(_READ_SIZE)
            except EngineUnreachable as exc:
                if self._closed:
                    return None
                raise _session_lost(self.client, exc) from exc
            if not data:
                self._eof = True
                if self._decoder is not None:
                    self._decoder.close()
                return None
            if self._decoder is None:
                return LogChunk(StreamKind.STDOUT, data)
            for frame in self._decoder.feed(data):
                if frame.kind == StreamKind.SYSTEMERR:
                    message = frame.data.decode("utf-8", "replace").strip()
                    raise ServerError(500, message or "the engine reported an error")
                self._frames.append(LogChunk(frame.kind, frame.data))
        return self._frames.pop(0)

    async def read_all(self) -> tuple[bytes, bytes]:
        """Everything until the end: (stdout, stderr).  TTY output is all stdout."""
        out: list[bytes] = []
        err: list[bytes] = []
        while (chunk := await self.read()) is not None:
            (err if chunk.stream == StreamKind.STDERR else out).append(chunk.data)
        return b"".join(out), b"".join(err)

    async def write(self, data: bytes) -> None:
        """Send ``data`` to the process's stdin (needs ``stdin=True`` at create)."""
        if self._stdin_closed:
            raise ValueError("stdin of this exec session was closed")
        try:
            await self._stream.write(data)
        except EngineUnreachable as exc:
            raise _session_lost(self.client, exc) from exc

    async def close_stdin(self) -> None:
        """Give the process end-of-file on stdin.

        Without a TTY this half-closes the socket: the process sees EOF and its
        output keeps coming.  With a TTY a half-close would drop the whole stream
        while the process runs on, so Ctrl-D (0x04) is sent instead; the line
        discipline turns it into EOF when it starts a line.
        """
        if self._stdin_closed:
            return
        if self.tty:
            await self.write(_EOT)
            return
        self._stdin_closed = True
        self._stream.shutdown_write()

    async def resize(self, rows: int, cols: int) -> None:
        """Set the TTY size.  Only after start: before, Docker blocks and then fails."""
        await self.client.request(
            "POST", f"/exec/{self.exec_id}/resize", params={"h": rows, "w": cols}
        )

    async def inspect(self) -> ExecInfo:
        return await exec_inspect(self.client, self.exec_id)

    async def wait(self, *, timeout: float | None = None, interval: float = 0.02) -> int:
        """The exit code, polling ``/exec/{id}/json`` until the process stopped.

        The output can end a moment before the daemon records the exit, hence the
        polling (there is no wait endpoint for exec).  ``timeout`` raises
        ``TimeoutError``.  A container stopped under the exec gives 137 (killed);
        a removed one takes its execs along, so this raises :class:`NotFound`.
        """
        async with asyncio.timeout(timeout):
            delay = interval
            while True:
                info = await self.inspect()
                if not info.running and info.exit_code is not None:
                    return info.exit_code
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.25)

    async def aclose(self) -> None:
        """Close the connection.  The process itself is not killed (exec has no kill)."""
        if self._closed:
            return
        self._closed = True
        await self._stream.aclose()


def _session_lost(client: Engine, exc: EngineUnreachable) -> EngineUnreachable:
    detail = exc.__cause__ or exc
    return EngineUnreachable(f"the exec session's connection was lost ({detail})",
                             client.endpoint.url)


async def exec_start(
    client: Engine,
    exec_id: str,
    *,
    tty: bool,
    console_size: tuple[int, int] | None = None,
) -> ExecSession:
    """Start an exec and take over its connection (HTTP ``101``) for stdin and output.

    ``tty`` must match the create call: it decides whether the output is framed.
    ``console_size`` (rows, cols) is applied by a resize right after the start, for
    daemons that ignore ``ConsoleSize`` at create.
    """
    stream = await client.upgrade(
        "POST", f"/exec/{exec_id}/start", json={"Detach": False, "Tty": tty},
        # Podman upgrades only when both are sent; without them Docker answers 200
        # and stdin cannot be written.
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
    )
    session = ExecSession(client, exec_id, tty, stream)
    if console_size is not None and tty:
        try:
            await _initial_resize(session, console_size)
        except BaseException:
            await session.aclose()
            raise
    return session


async def _initial_resize(session: ExecSession, size: tuple[int, int]) -> None:
    """Apply the size at once; a command that already finished needs none.

    A short command (``stty size``) can be gone before the resize arrives; both
    engines then answer 500 ("cannot resize a stopped container", Podman: "exec
    session state improper").
    """
    try:
        await session.resize(*size)
    except APIError:
        if (await session.inspect()).running:
            raise


#: What runtimes print when the command cannot be started (runc, crun, Podman).
_EXEC_FAILURE = re.compile(
    rb"OCI runtime exec failed|executable file not found|no such file or directory"
    rb"|permission denied|OCI runtime attempted to invoke a command"
    rb"|unable to find (?:user|group) ",
    re.IGNORECASE,
)


def exec_failure_reason(exit_code: int, output: bytes) -> str | None:
    """A sentence for the user when an exec could not start its command, else ``None``.

    The daemon still answers 101 when the command is missing; the runtime's message
    is in the output (Docker: stdout, Podman: stderr unless TTY) and the exit code is
    126 or 127 (Docker 20.10 says 126 even for "not found"; Podman 127).  A command
    that ran and chose to exit 126/127 without such a message is not reported.
    """
    if exit_code not in (126, 127) or not _EXEC_FAILURE.search(output):
        return None
    text = output.decode("utf-8", "replace")
    user = re.search(r"unable to find (?:user|group) [^\r\n]{0,200}", text)
    if user is not None:  # the engine's words: "unable to find user x: no matching entries…"
        return user.group(0)
    found = re.search(r'exec: "([^"]*)": ([^\r\n]*)', text)
    command = found.group(1) if found else None
    detail = (found.group(2) if found else text).lower()
    if "executable file not found" in detail:
        why = "executable file not found in $PATH"
    elif "no such file or directory" in detail:
        why = "no such file or directory"
    elif "permission denied" in detail:
        why = "permission denied (is it an executable file?)"
    elif exit_code == 127:
        why = "command not found"
    else:
        why = "the runtime could not start it"
    return f"cannot run {command}: {why}" if command else f"cannot run the command: {why}"


async def exec_run(
    client: Engine,
    container_id: str,
    cmd: Sequence[str],
    *,
    tty: bool = False,
    stdin: bytes | None = None,
    user: str | None = None,
) -> tuple[int, bytes, bytes]:
    """Run ``cmd`` in a running container and collect it: (exit code, stdout, stderr).

    With ``tty`` stderr is merged into stdout (one raw stream) and lines end in CRLF.
    """
    exec_id = await exec_create(client, container_id, cmd, tty=tty, stdin=stdin is not None,
                                user=user)
    async with await exec_start(client, exec_id, tty=tty) as session:
        if stdin is not None:
            writer = asyncio.ensure_future(_feed(session, stdin))
            try:
                out, err = await session.read_all()
            finally:
                if not writer.done():
                    writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, EngineUnreachable):
                    await writer
        else:
            out, err = await session.read_all()
        code = await session.wait()
    return code, out, err


async def _feed(session: ExecSession, data: bytes) -> None:
    await session.write(data)
    await session.close_stdin()


async def find_shell(client: Engine, container_id: str) -> str | None:
    """The best interactive shell in a running container (bash, then ash, then sh).

    Each candidate is started and asked to find its own file along PATH, so the
    answer is a path that really starts; a missing shell costs one failed exec
    (126/127).  ``command -v`` is no use here: busybox ash answers ``ash`` for its
    own applets, not a path.  ``None`` when the container has none of them.
    """
    for shell in SHELLS:
        script = (f'IFS=:; for d in $PATH; do [ -x "$d/{shell}" ] && '
                  f'{{ echo "$d/{shell}"; exit 0; }}; done; exit 0')
        code, out, _ = await exec_run(client, container_id, [shell, "-c", script])
        if code != 0:
            continue
        path = out.decode("utf-8", "replace").strip()
        return path if path.startswith("/") else shell
    return None
