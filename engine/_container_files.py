"""A container's files, through the archive API only: list, what changed, read, save, copy in.

Nothing here runs a process in the container (no ``exec``), so it works the
same on a running, a stopped and a created container.  The Engine API has no
call that lists one folder: ``GET …/archive?path=DIR/.`` answers a tar of
everything under ``DIR``, file data included.  :func:`list_tree` reads it once,
decodes the headers on the event loop in short slices (the data streams past,
never copied) and hands out entries in batches as they come, so a caller can
show the first rows at once and keep the rest of the subtree: opening a folder
below one already read costs no second request.  Folder sizes (the bytes of the files
beneath, ``du --apparent-size``) are known when the read ends.

What changed (``GET /containers/{id}/changes``) is the container's writable
layer relative to its image: added, modified (a folder whose content changed
counts too) and removed paths, with sizes from a ``HEAD …/archive`` each.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import posixpath
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from engine._archive import (
    CHUNK,
    TAR_ENTRY_KINDS,
    EntryKind,
    PathStat,
    Progress,
    put_archive,
    read_archive,
    save_out,
    stat_path,
)
from engine._client import Engine
from engine._errors import APIError, NotFound, ProtocolError
from engine._layers.model import ChangeKind
from engine._layers.tar import MemberSink, TarMember, TarParser
from engine._shapes import PACE_SECONDS, decode_json_in_pieces, paced
from engine._threads import in_thread

#: How many changed paths get a size (one ``HEAD`` each); the rest show none.
CHANGE_SIZE_LIMIT = 2000
#: ``HEAD`` requests in flight at once while sizing changes.
_STAT_CONCURRENCY = 8


class ContainerFile(NamedTuple):
    """One path in a container.  A named tuple: a 100k-entry folder makes 100k of them.

    ``path`` is absolute and normalised (``/etc/passwd``; the root is ``/``).
    """

    path: str
    kind: EntryKind
    #: A file's bytes; a folder's: the sum of the files under it, once its read ended.
    size: int = 0
    mode: int = 0
    uid: int = 0
    gid: int = 0
    #: Seconds since the epoch.
    mtime: int = 0
    #: A symlink's target; a hard link's: the path it shares its data with.
    link_target: str = ""

    @property
    def name(self) -> str:
        return posixpath.basename(self.path) or "/"

    @property
    def parent(self) -> str:
        return posixpath.dirname(self.path)

    @property
    def is_dir(self) -> bool:
        return self.kind is EntryKind.DIRECTORY


@dataclass(frozen=True, slots=True)
class ListingBatch:
    """What one step of :func:`list_tree` found."""

    #: New entries, in the order the tar holds them (Docker: by name, depth first).
    entries: Sequence[ContainerFile]
    #: Bytes of the tar read so far.
    read: int
    #: On the last batch only: every folder's size (bytes of the files beneath it).
    sizes: Mapping[str, int] | None = None

    @property
    def last(self) -> bool:
        return self.sizes is not None


@dataclass(frozen=True, slots=True)
class ContainerChange:
    """One path the container changed relative to its image."""

    path: str
    kind: ChangeKind
    #: Bytes now there (file), or None: removed, a folder, or not sized (over the limit).
    size: int | None = None
    is_dir: bool = False


def clean_path(path: str) -> str:
    """An absolute, normalised container path; never above the root."""
    norm = posixpath.normpath("/" + path.strip())
    return "/" + norm.lstrip("/")


def _contents(path: str) -> str:
    """The archive path that names a folder's contents: ``/etc/.``, ``/.``."""
    return path.rstrip("/") + "/."


def _relative(name: str) -> str:
    """A member name of a folder's contents tar, relative to the folder ("" for itself).

    Docker names them ``./x``, Podman ``x``.
    """
    name = name.strip("/")
    while name == "." or name.startswith("./"):
        name = name[2:].lstrip("/")
    return name


class _Decoder:
    """Turns a folder's tar into :class:`ContainerFile` entries, a slice at a time.

    It runs on the event loop, in slices of :data:`PACE_SECONDS`: in a worker
    thread, its pure-Python header decoding held the GIL against the loop, which
    then waited up to the interpreter's switch interval (5 ms) each time it came
    back from a Qt call (#17: gaps of 200 ms while a 100k-entry folder loaded).
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self._prefix = "" if root == "/" else root
        self.found: list[ContainerFile] = []
        #: Bytes of the files directly in each folder (rolled up by :meth:`finish`).
        self.direct: dict[str, int] = {}
        self.parser = TarParser(self._on_member, details=True)

    def _on_member(self, member: TarMember) -> MemberSink | None:
        rest = _relative(member.name)
        if not rest:
            return None  # the folder itself: the caller has it already
        path = f"{self._prefix}/{rest}"
        kind = TAR_ENTRY_KINDS.get(member.type, EntryKind.OTHER)
        size = member.size if kind is EntryKind.FILE else 0
        link = member.linkname
        if member.type == "1" and link:  # hard link: named relative to the archive
            link = f"{self._prefix}/{_relative(link)}"
        self.found.append(ContainerFile(path, kind, size, member.mode, member.uid, member.gid,
                                        member.mtime, link))
        if size:
            parent = path.rpartition("/")[0] or "/"
            self.direct[parent] = self.direct.get(parent, 0) + size
        return None  # data skipped

    async def feed(self, data: bytes, pacer: Pacer) -> list[ContainerFile]:
        """Decode ``data``, :data:`_PIECE` bytes at a time, handing the loop back
        whenever ``pacer``'s budget is spent."""
        view = memoryview(data)
        for start in range(0, len(view), _PIECE):
            self.parser.feed(view[start:start + _PIECE])
            if self.parser.ended:
                break
            await pacer.tick()
        found, self.found = self.found, []
        return found

    async def finish(self, pacer: Pacer) -> dict[str, int]:
        """Every folder's total, the root's included: each folder's own bytes added to
        it and every folder above it up to the root."""
        self.parser.close()
        sizes: dict[str, int] = {self.root: 0}
        root = self.root
        for count, (folder, size) in enumerate(self.direct.items()):
            up = folder
            while True:
                sizes[up] = sizes.get(up, 0) + size
                if up == root or up == "/":
                    break
                up = posixpath.dirname(up)
            if count % 256 == 255:
                await pacer.tick()
        return sizes


#: Bytes of tar decoded between looks at the clock: at most 32 headers (< 1 ms).
_PIECE = 16 << 10


class Pacer:
    """Hands the event loop back once ``budget`` seconds of work have passed since it
    last did: long work on the loop then never holds it for more than that (plus one
    step)."""

    def __init__(self, budget: float = PACE_SECONDS) -> None:
        self.budget = budget
        self.started = time.perf_counter()

    async def tick(self) -> None:
        if time.perf_counter() - self.started > self.budget:
            await asyncio.sleep(0)
            self.started = time.perf_counter()


async def list_tree(client: Engine, container_id: str, path: str = "/", *,
                    chunk: int = CHUNK) -> AsyncIterator[ListingBatch]:
    """Everything under the folder ``path``, in batches as the tar streams in.

    Headers are decoded on the event loop in slices (see :class:`_Decoder`),
    ``chunk`` bytes to a batch; stop early by leaving the loop (the request is
    closed in order).
    """
    root = clean_path(path)
    decoder = _Decoder(root)
    pacer = Pacer()
    read = 0
    pending: list[bytes] = []
    size = 0
    async with read_archive(client, container_id, _contents(root)) as chunks:
        async for data in chunks:
            pending.append(data)
            size += len(data)
            if size >= chunk:
                read += size
                found = await decoder.feed(b"".join(pending), pacer)
                pending, size = [], 0
                yield ListingBatch(found, read)
                if decoder.parser.ended:
                    break
    if pending:
        read += size
        found = await decoder.feed(b"".join(pending), pacer)
        if found:
            yield ListingBatch(found, read)
    sizes = await decoder.finish(pacer)
    yield ListingBatch((), read, sizes)


async def stat_container_path(client: Engine, container_id: str, path: str) -> PathStat:
    """``HEAD …/archive`` of one path."""
    return await stat_path(client, container_id, clean_path(path))


_CHANGE_KINDS = {0: ChangeKind.MODIFIED, 1: ChangeKind.ADDED, 2: ChangeKind.REMOVED,
                 "C": ChangeKind.MODIFIED, "A": ChangeKind.ADDED, "D": ChangeKind.REMOVED}


def _parse_changes(raw: list[Any] | None
                   ) -> Generator[None, None, list[tuple[str, ChangeKind]]]:
    """``/changes``' decoded answer, by path, in steps (see :func:`container_changes`)."""
    changes: list[tuple[str, ChangeKind]] = []
    for item in raw or ():
        if not isinstance(item, Mapping) or not isinstance(item.get("Path"), str):
            raise ProtocolError("an unreadable change list from the engine")
        kind = _CHANGE_KINDS.get(item.get("Kind"))
        if kind is None:
            raise ProtocolError(f"an unknown change kind {item.get('Kind')!r} from the engine")
        changes.append((clean_path(item["Path"]), kind))
        yield
    changes.sort(key=itemgetter(0))  # engines answer in walk order: near sorted, O(n)
    return changes


def _made(changes: list[tuple[str, ChangeKind]], sized: Mapping[str, ContainerChange]
          ) -> Generator[None, None, list[ContainerChange]]:
    made: list[ContainerChange] = []
    for path, kind in changes:
        made.append(sized.get(path) or ContainerChange(path, kind))
        yield
    return made


async def container_changes(client: Engine, container_id: str, *, sizes: bool = True,
                            limit: int = CHANGE_SIZE_LIMIT) -> list[ContainerChange]:
    """``GET /containers/{id}/changes``, by path; with ``sizes``, each present path is
    stat'ed (up to ``limit`` of them) for its size and whether it is a folder.

    A container that wrote 100k files answers megabytes: the answer is decoded and
    its entries made on the event loop in paced steps (a worker thread would hold
    the GIL against the loop, as one ``json.loads`` does for its whole length).
    """
    path = f"/containers/{container_id}/changes"
    response = await client.request("GET", path)
    raw = await paced(decode_json_in_pieces(response.content, path))
    if raw is not None and not isinstance(raw, list):
        raise ProtocolError("an unreadable change list from the engine")
    changes = await paced(_parse_changes(raw))
    sized: dict[str, ContainerChange] = {}
    if sizes:
        wanted = islice(((p, k) for p, k in changes if k is not ChangeKind.REMOVED), limit)

        async def worker() -> None:
            # A few workers pulling from one list: a 100k-path change list makes no
            # 100k tasks.
            for path, kind in wanted:
                try:
                    stat = await stat_path(client, container_id, path)
                except NotFound:  # gone since the list was made
                    continue
                folder = stat.kind is EntryKind.DIRECTORY
                sized[path] = ContainerChange(path, kind, None if folder else stat.size, folder)

        await asyncio.gather(*(worker() for _ in range(_STAT_CONCURRENCY)))
    return await paced(_made(changes, sized))


# -- reading one file -----------------------------------------------------------------


class _Head:
    """Keeps the first ``limit`` bytes of the one file in a tar."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.size = -1
        self.full = False

    def on_member(self, member: TarMember) -> MemberSink | None:
        if self.size >= 0:
            return None
        self.size = member.size
        return self

    def write(self, data: memoryview) -> None:
        room = self.limit - len(self.data)
        if room > 0:
            self.data += data[:room]
        if len(self.data) >= self.limit:
            self.full = True

    def close(self) -> None:
        self.full = True


async def read_file_head(client: Engine, container_id: str, path: str, limit: int
                         ) -> tuple[bytes, int]:
    """The first ``limit`` bytes of a file and its whole size; a symlink is followed.

    Reading stops once ``limit`` bytes are in: a 2 GB log costs what is shown.
    """
    path = clean_path(path)
    stat = await stat_path(client, container_id, path)
    if stat.kind is EntryKind.SYMLINK and stat.link_target:
        path = clean_path(stat.link_target)
        stat = await stat_path(client, container_id, path)
    if stat.kind is EntryKind.DIRECTORY:
        raise APIError(400, f"{path} is a folder, not a file")
    head = _Head(limit)
    parser = TarParser(head.on_member)
    async with read_archive(client, container_id, path) as chunks:
        async for data in chunks:
            parser.feed(data)
            if head.full or parser.ended:
                break
    return bytes(head.data), max(head.size, 0)


@dataclass(frozen=True, slots=True)
class DecodedText:
    """What a file's first bytes are: text in an encoding, or binary."""

    text: str | None
    #: "UTF-8", "UTF-16LE", "Windows-1252", … or "binary".
    encoding: str
    binary: bool = field(default=False)


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32LE"), (codecs.BOM_UTF32_BE, "utf-32-be",
         "UTF-32BE"), (codecs.BOM_UTF8, "utf-8", "UTF-8 (BOM)"),
         (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16LE"), (codecs.BOM_UTF16_BE, "utf-16-be",
         "UTF-16BE"))
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\b\x1b")


def decode_text(data: bytes, truncated: bool = False) -> DecodedText:
    """Detect the encoding of a file's first bytes: a BOM, else UTF-8, else a single-byte
    Windows/Latin-1 text; bytes with NULs or many control characters are binary.

    ``truncated``: the bytes stop inside the file, maybe in the middle of a character.
    """
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            return DecodedText(data[len(bom):].decode(codec, "replace"), label)
    sample = data[:8192]
    if b"\0" in sample:
        return DecodedText(None, "binary", True)
    controls = sum(1 for byte in sample if byte < 32 and byte not in _TEXT_CONTROLS)
    if sample and controls / len(sample) > 0.05:
        return DecodedText(None, "binary", True)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        text = decoder.decode(data, final=not truncated)
    except UnicodeDecodeError:
        pass
    else:
        return DecodedText(text, "ASCII" if data.isascii() else "UTF-8")
    try:
        return DecodedText(data.decode("cp1252"), "Windows-1252")
    except UnicodeDecodeError:
        return DecodedText(data.decode("latin-1"), "ISO-8859-1")


def hex_dump(data: bytes, width: int = 16) -> str:
    """``offset  hex bytes  |ascii|`` lines, as ``hexdump -C`` prints them."""
    lines = []
    for offset in range(0, len(data), width):
        row = data[offset:offset + width]
        hexes = " ".join(f"{b:02x}" for b in row)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{offset:08x}  {hexes:<{width * 3 - 1}}  |{text}|")
    return "\n".join(lines)


# -- save out, copy in ------------------------------------------------------------------


async def save_container_path(client: Engine, container_id: str, path: str, destination: Path,
                              *, progress: Progress | None = None) -> Path:
    """Save a file or folder of the container to ``destination`` (a file's new name, or
    the folder to create), as ``docker cp CONTAINER:PATH DEST`` does; returns it."""
    path = clean_path(path)
    stat = await stat_path(client, container_id, path)
    folder = stat.kind is EntryKind.DIRECTORY
    return await save_out(client, container_id, _contents(path) if folder else path,
                          Path(destination), folder=folder,
                          total=None if folder else stat.size, progress=progress)


def _pack(sources: Iterable[Path], spool: Path) -> int:
    """A tar of ``sources`` (files and folders, by their own names), owned by root as
    ``docker cp`` leaves what it copies in; returns its size."""

    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(spool, "w", format=tarfile.PAX_FORMAT) as archive:
        for source in sources:
            archive.add(source, arcname=source.name, filter=as_root)
    return spool.stat().st_size


async def _spooled(spool: Path, total: int, progress: Progress | None) -> AsyncIterator[bytes]:
    done = 0
    with spool.open("rb") as source:
        while True:
            data = await in_thread(source.read, CHUNK)
            if not data:
                break
            done += len(data)
            if progress is not None:
                progress(done, total)
            yield data


async def _refuse_read_only(client: Engine, container_id: str, folder: str) -> None:
    """Refuse, as Docker does, a copy into a read-only root filesystem: Podman's archive
    API writes through it (and through read-only mounts)."""
    details = await client.get_json(f"/containers/{container_id}/json")
    host = details.get("HostConfig") or {}
    best, writable = "", not host.get("ReadonlyRootfs")
    for mount in details.get("Mounts") or ():
        target = str(mount.get("Destination") or "")
        if (folder == target or folder.startswith(target.rstrip("/") + "/")) \
                and len(target) > len(best):
            best, writable = target, bool(mount.get("RW"))
    if not writable:
        where = f"the mount at {best}" if best else "the container's root filesystem"
        raise APIError(403, f"{where} is marked read-only")


async def copy_into(client: Engine, container_id: str, folder: str, sources: Sequence[Path],
                    *, progress: Progress | None = None) -> int:
    """Copy local files and folders into the container's ``folder`` (``docker cp SRC
    CONTAINER:FOLDER``); returns the bytes sent.

    They are packed into a tar in a worker thread first, then sent with
    ``PUT …/archive``.  A refusal is raised with the daemon's own words (a
    read-only root filesystem, a folder that does not exist).
    """
    folder = clean_path(folder)
    if client.version.is_podman:  # Podman would make the folder, and write through ro
        await _refuse_read_only(client, container_id, folder)
        try:
            found = await stat_path(client, container_id, folder)
        except NotFound:  # a HEAD has no body: no words of the daemon's to pass on
            raise NotFound(404, f"no such directory in the container: {folder}") from None
        if found.kind is not EntryKind.DIRECTORY:
            raise APIError(400, f"{folder} is not a folder")
    missing = [str(s) for s in sources if not os.path.lexists(s)]
    if missing:
        raise FileNotFoundError(2, "no such file", missing[0])
    with tempfile.TemporaryDirectory(prefix="dockyard-copy-in-") as work:
        spool = Path(work) / "in.tar"
        if progress is not None:
            progress(0, None)
        total = await asyncio.to_thread(_pack, [Path(s) for s in sources], spool)
        await put_archive(client, container_id, folder, _spooled(spool, total, progress))
    return total
