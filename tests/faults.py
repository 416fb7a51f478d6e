"""A Unix-socket relay in front of a real engine, for cutting the connection on demand.

The engine's behaviour stays real; only the wire between Dockyard and the
daemon is under the test's control (the daemon "going away" and coming back,
or a slow answer to one kind of request).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path


class SocketRelay:
    def __init__(self, target: str, listen: Path) -> None:
        self.target = target
        self.listen = listen
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._held: bytes | None = None
        self._release = asyncio.Event()

    @property
    def url(self) -> str:
        return f"unix://{self.listen}"

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.listen))

    async def cut(self) -> None:
        """Drop every open connection and stop listening, as a dying daemon would."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        with contextlib.suppress(FileNotFoundError):
            self.listen.unlink()

    def hold(self, request_part: bytes) -> None:
        """Keep back the answers to requests whose first bytes contain ``request_part``
        (e.g. ``b"/get "``) until :meth:`release`; everything else flows."""
        self._held = request_part
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        held = False

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       upstream: bool) -> None:
            nonlocal held
            try:
                while data := await src.read(65536):
                    if upstream and self._held is not None and self._held in data[:1024]:
                        held = True
                    if not upstream and held:
                        await self._release.wait()
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))
        self._writers.difference_update((writer, up_writer))
