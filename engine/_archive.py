"""The archive API of a container, shared by the volume and the container file browsers.

``HEAD /containers/{id}/archive?path=`` stats one path (base64 JSON in the
``X-Docker-Container-Path-Stat`` header), ``GET`` answers a tar of it (of a
folder: everything under it, with the file data) and ``PUT`` extracts a tar
into a folder.  All three work on a container that is running, stopped, or
only created, and never run anything inside it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import errno
import json
import os
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from engine._client import Engine
from engine._errors import ProtocolError
from engine._models import parse_timestamp
from engine._threads import in_thread

#: ``progress(done, total)``: bytes so far, and the total when known.
Progress = Callable[[int, int | None], None]
#: Bytes handed to a worker thread at a time (gzip, file writes, tar decoding).
CHUNK = 1 << 20

STAT_HEADER = "x-docker-container-path-stat"

# Go's os.FileMode bits, as the stat header carries them.
_MODE_DIR = 1 << 31
_MODE_SYMLINK = 1 << 27
_MODE_PERM = 0o7777


class Writer(Protocol):
    def write(self, data: bytes, /) -> int: ...


class EntryKind(enum.StrEnum):
    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    OTHER = "other"  # hard link, device, FIFO


#: Tar typeflags by what a file browser shows of them.
TAR_ENTRY_KINDS = {"0": EntryKind.FILE, "7": EntryKind.FILE, "5": EntryKind.DIRECTORY,
                   "2": EntryKind.SYMLINK}


@dataclass(frozen=True, slots=True)
class PathStat:
    """What ``HEAD …/archive`` says about one path."""

    name: str
    size: int
    #: Permission bits (0o755), without the type.
    mode: int
    kind: EntryKind
    mtime: datetime | None = None
    link_target: str = ""

    @classmethod
    def from_header(cls, value: str) -> PathStat:
        try:
            raw = json.loads(base64.b64decode(value))
        except (ValueError, binascii.Error) as exc:
            raise ProtocolError(f"an unreadable path stat from the engine: {exc}") from exc
        if not isinstance(raw, Mapping):
            raise ProtocolError("an unreadable path stat from the engine")
        mode = int(raw.get("mode") or 0)
        kind = (EntryKind.DIRECTORY if mode & _MODE_DIR else EntryKind.SYMLINK
                if mode & _MODE_SYMLINK else EntryKind.FILE if not mode >> 16 else EntryKind.OTHER)
        return cls(str(raw.get("name") or ""), int(raw.get("size") or 0), mode & _MODE_PERM,
                   kind, parse_timestamp(raw.get("mtime")), str(raw.get("linkTarget") or ""))


async def stat_path(client: Engine, container_id: str, path: str) -> PathStat:
    """``HEAD …/archive``: one path's name, size, mode, kind (NotFound when it is not there)."""
    response = await client.request("HEAD", f"/containers/{container_id}/archive",
                                    params={"path": path})
    header = response.headers.get(STAT_HEADER)
    if not header:
        raise ProtocolError("the engine sent no path stat for an archive HEAD")
    return PathStat.from_header(header)


@asynccontextmanager
async def read_archive(client: Engine, container_id: str, path: str
                       ) -> AsyncIterator[AsyncIterator[bytes]]:
    """``GET …/archive``: the tar of ``path`` as it streams in (``dir/.``: its contents)."""
    # Docker gzips this answer when the client accepts gzip; read the plain tar.
    async with client.stream("GET", f"/containers/{container_id}/archive",
                             params={"path": path},
                             headers={"Accept-Encoding": "identity"}) as response:
        yield response.aiter_bytes()


async def put_archive(client: Engine, container_id: str, path: str,
                      chunks: AsyncIterator[bytes]) -> None:
    """``PUT …/archive``: extract a plain tar into the folder ``path``.

    A folder is never replaced by a file of the same name, nor the other way
    round (``noOverwriteDirNonDir``).  Refusals come back as the daemon's words.
    """
    async with client.stream(
            "PUT", f"/containers/{container_id}/archive",
            params={"path": path, "noOverwriteDirNonDir": "true"},
            headers={"Content-Type": "application/x-tar"}, content=chunks) as response:
        await response.read()


def extract_saved(spool: Path, work: Path, folder: bool, destination: Path) -> None:
    """Unpack a spooled tar (from ``GET …/archive``) and move the result to ``destination``.

    ``folder``: the tar holds a folder's contents (``dir/.``), which become
    ``destination``; otherwise its one file (or link) does.  A file replaces a
    file there (the save dialog asked); a folder is never replaced: an existing
    ``destination`` folder is refused, not removed.
    """
    if destination.is_dir() and not destination.is_symlink():
        raise FileExistsError(errno.EEXIST, "a folder of that name exists already",
                              str(destination))
    work.mkdir()
    try:
        with tarfile.open(spool) as archive:
            archive.extractall(work, filter=keep_links_skip_devices)
    except tarfile.TarError as exc:
        raise ProtocolError(f"cannot unpack what the engine sent: {exc}") from None
    made = work if folder else next(iter(work.iterdir()), None)
    if made is None:
        raise ProtocolError("the engine sent an empty archive for a file")
    if destination.exists() or destination.is_symlink():
        destination.unlink()
    os.replace(made, destination)


def keep_links_skip_devices(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    """tarfile's "data" filter, except that a symlink to an absolute path (common in
    volumes and images: ``current -> /srv/app/v2``) is saved as the link it is, and
    device files and FIFOs are left out rather than failing the save.  Nothing is ever
    written through a link to outside the folder: both filters refuse that."""
    if member.ischr() or member.isblk() or member.isfifo():
        return None
    if member.issym():
        try:
            return tarfile.data_filter(member, path)
        except tarfile.FilterError:
            return tarfile.tar_filter(member, path)
    return tarfile.data_filter(member, path)


async def write_chunks(chunks: AsyncIterator[bytes], out: Writer,
                       progress: Progress | None = None, total: int | None = None, *,
                       first: bytes = b"") -> int:
    """Write ``first`` then ``chunks`` to ``out`` in MiB pieces, each in a worker thread (a
    disk may be slow; the loop is not), reporting progress per piece; returns bytes."""
    done = 0
    pending: list[bytes] = [first] if first else []
    size = len(first)
    async for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= CHUNK:
            await in_thread(out.write, b"".join(pending))
            done += size
            pending, size = [], 0
            if progress is not None:
                progress(done, total)
    if pending:
        await in_thread(out.write, b"".join(pending))
        done += size
    if progress is not None:
        progress(done, total)
    return done


async def save_out(client: Engine, container_id: str, archive_path: str, destination: Path, *,
                   folder: bool, total: int | None = None, progress: Progress | None = None,
                   first: bytes = b"") -> Path:
    """Save what ``GET …/archive?path=archive_path`` answers to ``destination``.

    The tar is spooled beside the destination (written in a worker thread) and
    unpacked there with :func:`keep_links_skip_devices`; nothing is left
    half-written on failure or cancel.  ``folder``: ``archive_path`` names a
    folder's contents (``dir/.``).
    """
    destination = Path(destination)
    with tempfile.TemporaryDirectory(prefix=".dockyard-save-", dir=destination.parent) as work:
        spool = Path(work) / "archive.tar"
        with spool.open("wb") as out:
            async with read_archive(client, container_id, archive_path) as chunks:
                await write_chunks(chunks, out, progress, total, first=first)
        await asyncio.to_thread(extract_saved, spool, Path(work) / "out", folder, destination)
    return destination
