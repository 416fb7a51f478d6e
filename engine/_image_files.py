"""Images and filesystems as tar files: save, load, import, export.

- :func:`save_images`: ``GET /images/get?names=…`` (the ``docker save`` archive)
  into a file, read in big reads (:meth:`Engine.open_body`), optionally gzipped;
- :func:`load_images`: a ``.tar`` / ``.tar.gz`` uploaded to ``POST /images/load``
  (the daemon un-gzips it itself), in big chunks; the loaded names come back;
- :func:`import_image`: a root filesystem tarball to
  ``POST /images/create?fromSrc=-`` (``docker import``);
- :func:`export_container`: ``GET /containers/{id}/export`` into a file.

Each is an async generator of :class:`Transfer` progress (bytes so far, the total
when known).  A file being written is written under a ``.part`` name and renamed
only once complete, so a cancelled or failed save leaves nothing half-written
behind.  Closing the generator early (cancel) drops the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine._decoders import JSONStreamDecoder
from engine._errors import APIError, EngineError
from engine._threads import in_thread

if TYPE_CHECKING:
    from engine._client import Engine

#: Upload chunk: big, so the HTTP layer's per-chunk cost is paid a few hundred times
#: for a big image, not tens of thousands.
UPLOAD_CHUNK = 4 << 20
#: gzip level of a saved ``.tar.gz``: fast, as ``gzip -1``; layers are mostly binaries.
GZIP_LEVEL = 1


class ArchiveError(EngineError):
    """A tar file that could not be saved, loaded or imported, in plain words."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """Bytes moved so far, of ``total`` when known (a save's total is an estimate)."""

    done: int
    total: int | None = None
    #: Set on the last item of a load (image names, else IDs) or an import (the ID).
    images: tuple[str, ...] = ()

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(self.done / self.total, 1.0)


def is_gzip(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(2) == b"\x1f\x8b"


class _Output:
    """A file written as ``NAME.part`` and renamed at the end; gzipped if asked."""

    def __init__(self, destination: Path, compress: bool) -> None:
        self.destination = destination
        self.part = destination.with_name(destination.name + ".part")
        try:
            self.fd = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as exc:
            raise ArchiveError(f"cannot write {destination}: {exc.strerror}") from exc
        self._gzip = (zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                      if compress else None)

    def write(self, views: list[memoryview]) -> int:
        """Write the views (gzipped if asked), with one ``writev`` when plain; their length."""
        size = sum(len(view) for view in views)
        if self._gzip is not None:
            views = [memoryview(b"".join(self._gzip.compress(view) for view in views))]
        try:
            while views:
                written = os.writev(self.fd, views)
                while views and written >= len(views[0]):
                    written -= len(views[0])
                    views.pop(0)
                if views and written:
                    views[0] = views[0][written:]
        except OSError as exc:
            raise ArchiveError(f"cannot write {self.destination}: {exc.strerror}") from exc
        return size

    def finish(self) -> None:
        if self._gzip is not None:
            tail = self._gzip.flush()
            self._gzip = None
            self.write([memoryview(tail)])
        os.close(self.fd)
        self.fd = -1
        os.replace(self.part, self.destination)

    def abandon(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(FileNotFoundError):
            self.part.unlink()


async def _reads(body: AsyncIterator[memoryview]) -> AsyncIterator[list[memoryview]]:
    """The body a socket read at a time (the raw reader's views, no copy), or a chunk at
    a time from a transport without one."""
    read_views = getattr(body, "read_views", None)
    if read_views is not None:
        while views := await read_views():
            yield views
        return
    async for chunk in body:
        yield [chunk]


async def _write_body(client: Engine, path: str, params: Any, destination: Path,
                      total: int | None, compress: bool) -> AsyncGenerator[Transfer, None]:
    """The body into the file with one ``writev`` per socket read: the bytes are copied
    once from the receive buffer to the file, as ``docker save -o`` does."""
    output = _Output(destination, compress)
    done = 0
    try:
        async with client.open_body("GET", path, params=params) as body:
            async for views in _reads(body):
                if compress:  # CPU-bound: off the event loop
                    done += await in_thread(output.write, views)
                else:
                    done += output.write(views)
                yield Transfer(done, total)
        await in_thread(output.finish)
    except BaseException:
        output.abandon()
        raise
    yield Transfer(done, done)


async def save_images(client: Engine, names: Sequence[str], destination: Path, *,
                      compress: bool | None = None) -> AsyncGenerator[Transfer, None]:
    """Save images (by name or ID) into one ``docker save`` archive at ``destination``.

    ``compress`` None: gzip when the file name ends in ``.gz`` / ``.tgz``.  The total
    is the images' size as listed (the archive is about that big, uncompressed).
    """
    if not names:
        raise ArchiveError("no image to save")
    if compress is None:
        compress = destination.name.endswith((".gz", ".tgz"))
    total = 0
    for name in names:
        total += (await client.image(name)).size  # also: a missing image fails here, plainly
    params = [("names", name) for name in names]
    async with contextlib.aclosing(_write_body(client, "/images/get", params, destination,
                                               total or None, compress)) as transfers:
        async for progress in transfers:
            yield progress


async def export_container(client: Engine, container: str, destination: Path, *,
                           compress: bool | None = None) -> AsyncGenerator[Transfer, None]:
    """A container's whole filesystem as a tar (``docker export``), gzipped if asked."""
    if compress is None:
        compress = destination.name.endswith((".gz", ".tgz"))
    await client.container(container)  # a missing container fails here, plainly
    async with contextlib.aclosing(_write_body(client, f"/containers/{container}/export", None,
                                               destination, None, compress)) as transfers:
        async for progress in transfers:
            yield progress


async def _read_file(path: Path, sent: list[int], gunzip: bool = False
                     ) -> AsyncIterator[bytes]:
    """The file in big chunks, read off the event loop; ``sent[0]`` counts what was read.

    ``gunzip``: un-gzip it on the way (for an engine that only takes a plain tar).
    """
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gunzip else None
    with path.open("rb") as file:
        while chunk := await in_thread(file.read, UPLOAD_CHUNK):
            sent[0] += len(chunk)
            if inflate is not None:
                chunk = await asyncio.to_thread(inflate.decompress, chunk)
                if not chunk:
                    continue
            yield chunk
        if inflate is not None and (tail := inflate.flush()):
            yield tail


_LOADED = re.compile(r"^Loaded image(?: ID)?: (\S+)", re.MULTILINE)


def _stream_error(message: Mapping[str, Any]) -> str | None:
    error = message.get("errorDetail") or ({"message": message["error"]}
                                           if message.get("error") else None)
    if not error:
        return None
    return str(error.get("message") if isinstance(error, Mapping) else error)


async def _upload(client: Engine, path: str, params: Any, source: Path, what: str,
                  gunzip: bool = False) -> AsyncGenerator[tuple[Transfer, list[Any]], None]:
    """Upload ``source`` as the body; yields progress with the JSON messages read so far."""
    try:
        total = source.stat().st_size
    except OSError as exc:
        raise ArchiveError(f"cannot read {source}: {exc.strerror}") from exc
    sent = [0]
    decoder = JSONStreamDecoder()
    try:
        if gunzip:
            last = -1
            body = _read_file(source, sent, gunzip)
            async with client.stream("POST", path, params=params, content=body,
                                     headers={"Content-Type": "application/x-tar"}
                                     ) as response:
                async for chunk in response.aiter_bytes():
                    messages = decoder.feed(chunk)
                    if messages or sent[0] != last:
                        last = sent[0]
                        yield Transfer(sent[0], total), messages
        else:
            async with contextlib.aclosing(_send_file(client, path, params, source, total)
                                           ) as items:
                async for done, chunk in items:
                    yield Transfer(done, total), decoder.feed(chunk) if chunk else []
        decoder.close()
    except APIError as exc:
        raise ArchiveError(f"{what} {source.name} failed: {_plain(exc.message)}") from exc
    except OSError as exc:
        raise ArchiveError(f"cannot read {source}: {exc.strerror}") from exc
    except zlib.error as exc:
        raise ArchiveError(f"{what} {source.name} failed: it is not valid gzip ({exc})") from exc


_END = object()


async def _send_file(client: Engine, path: str, params: Any, source: Path, total: int
                     ) -> AsyncGenerator[tuple[int, bytes], None]:
    """The file sent as the body (``sendfile`` where the transport can): (bytes sent, a
    piece of the answer or b"") as each comes.

    The upload runs in a task of its own so that its progress reaches the caller while
    the body is still going out (the answer only starts once it is all sent).
    """
    queue: asyncio.Queue[Any] = asyncio.Queue()
    sent = 0

    def progress(done: int) -> None:
        queue.put_nowait((done, b""))

    async def run() -> None:
        with source.open("rb") as file:
            async with client.upload_file("POST", path, source=file, length=total,
                                          params=params, sent=progress,
                                          headers={"Content-Type": "application/x-tar"}
                                          ) as body:
                async for chunk in body:
                    queue.put_nowait((total, chunk))
        queue.put_nowait(_END)

    task = asyncio.ensure_future(run())
    task.add_done_callback(lambda t: queue.put_nowait(_END) if not t.cancelled()
                           and t.exception() is not None else None)
    try:
        while (item := await queue.get()) is not _END:
            sent, chunk = item
            yield sent, chunk
        await task  # raises what failed the upload
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


_NOT_AN_ARCHIVE = ("supported image formats", "repositories: no such file", "manifest.json",
                   "does not contain", "invalid tar header", "unexpected EOF")


def _plain(message: str) -> str:
    """The daemon's words for a tar that is not an image archive, said plainly (one line)."""
    message = " ".join(message.split()).rstrip(":")
    if any(marker in message for marker in _NOT_AN_ARCHIVE):
        return f"it is not an image archive as docker save writes ({message})"
    return message


async def load_images(client: Engine, source: Path) -> AsyncGenerator[Transfer, None]:
    """Load a ``docker save`` archive (``.tar`` or gzipped); the last item names the images.

    Progress is the upload's (the daemon reads as it receives).  The names are
    those the daemon reports ("Loaded image: …"), else the IDs ("Loaded image ID:").
    Docker un-gzips a ``.tar.gz`` itself; Podman's compat service does not, so for
    it the file is un-gzipped here on the way.
    """
    loaded: list[str] = []
    progress = Transfer(0)
    try:
        gunzip = client.version.is_podman and is_gzip(source)
    except OSError as exc:
        raise ArchiveError(f"cannot read {source}: {exc.strerror}") from exc
    uploads = _upload(client, "/images/load", {"quiet": "1"}, source, "loading", gunzip)
    async with contextlib.aclosing(uploads):
        async for progress, messages in uploads:
            for message in messages:
                if not isinstance(message, Mapping):
                    continue
                if (error := _stream_error(message)) is not None:
                    raise ArchiveError(f"loading {source.name} failed: {_plain(error)}")
                text = str(message.get("stream") or message.get("status") or "")
                # Podman names several images on one line, joined by commas.
                names = [name for found in _LOADED.findall(text) for name in found.split(",")]
                loaded += [name for name in names if name and name not in loaded]
            yield progress
    if not loaded:
        raise ArchiveError(f"{source.name} held no image (is it a docker save archive?)")
    yield Transfer(progress.total or progress.done, progress.total, tuple(loaded))


_ID = re.compile(r"(sha256:[0-9a-f]{64})")


async def import_image(client: Engine, source: Path, repository: str = "", tag: str = "",
                       *, changes: Sequence[str] = (), message: str = ""
                       ) -> AsyncGenerator[Transfer, None]:
    """``docker import``: a root filesystem tarball (gzip too) as a one-layer image.

    ``changes`` are Dockerfile instructions applied to it (``CMD ["sh"]``).  The last
    item carries the new image's ID.
    """
    params: list[tuple[str, str]] = [("fromSrc", "-")]
    if repository and client.version.is_podman:  # Podman's compat service ignores ``tag``
        params.append(("repo", f"{repository}:{tag or 'latest'}"))
    elif repository:
        params += [("repo", repository), ("tag", tag or "latest")]
    params += [("changes", change) for change in changes]
    if message:
        params.append(("message", message))
    image_id: str | None = None
    progress = Transfer(0)
    uploads = _upload(client, "/images/create", params, source, "importing")
    async with contextlib.aclosing(uploads):
        async for progress, messages in uploads:
            for item in messages:
                if not isinstance(item, Mapping):
                    continue
                if (error := _stream_error(item)) is not None:
                    raise ArchiveError(f"importing {source.name} failed: {error}")
                for text in (item.get("status"), item.get("id"), item.get("stream")):
                    if isinstance(text, str) and (found := _ID.search(text)):
                        image_id = found.group(1)
            yield progress
    if image_id is None:
        raise ArchiveError(f"importing {source.name}: the engine did not say the new image's ID")
    yield Transfer(progress.total or progress.done, progress.total, (image_id,))

