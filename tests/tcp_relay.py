"""A plain-tcp front for a real engine's Unix socket, as ``dockerd -H tcp://0.0.0.0:2375`` is.

The tests need an engine reached by plain ``tcp://`` at an address that is not
loopback (to see the "no TLS" warning) and at one that is (to see none).  The
relay listens on one of this machine's own addresses and accepts connections
from this machine only (the peer must have a local address): the engine is never
offered to the network, even for the length of a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterator


def local_address() -> str | None:
    """This machine's IPv4 address on its default route, if it is not loopback (a UDP
    "connect" only picks the source address: nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.250", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


class TCPRelay:
    """``with TCPRelay(socket_path, host) as relay: relay.url`` — ``tcp://host:port``."""

    def __init__(self, socket_path: str, host: str) -> None:
        self.socket_path = socket_path
        self.host = host
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="tcp-relay")
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        #: A connection from this machine to ``host`` comes from ``host`` itself.
        self._own = {host, "127.0.0.1", "::1"}

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def __enter__(self) -> TCPRelay:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        pending = asyncio.all_tasks() - {asyncio.current_task()}
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if not peer or peer[0] not in self._own:  # another machine: never relayed
            writer.transport.abort()
            return
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError):
                if dst.can_write_eof():
                    dst.write_eof()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except asyncio.CancelledError:
            # The relay is stopping.  Ended quietly: asyncio's stream callback would
            # print a cancelled handler's "exception" otherwise (Python 3.11).
            pass
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()


@contextlib.contextmanager
def tcp_relay(socket_path: str, host: str) -> Iterator[TCPRelay]:
    with TCPRelay(socket_path, host) as relay:
        yield relay
