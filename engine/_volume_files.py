"""A volume's files: browse (read-only), save out, back up, restore and clone.

The Engine API has no call that reads a volume.  What it has is the archive API
of a container: ``HEAD /containers/{id}/archive?path=`` (a stat, base64 JSON in
the ``X-Docker-Container-Path-Stat`` header), ``GET`` (a tar of the path) and
``PUT`` (extract a tar there).  It works on a container that was only
*created*, never started.  So every operation here makes a short-lived helper
container from an image the engine already has (no pull), mounting the volume at
:data:`MOUNT` (read-only unless restoring), uses the archive API, and removes the
helper on every path out: done, failed, cancelled, or the engine gone (then
:func:`remove_helpers` sweeps what is left once it is back).  The helper is
never started: no shell, no process, no network.

Helpers carry :data:`HELPER_LABEL` = :data:`HELPER_KIND` and
:data:`HELPER_OWNER_LABEL` = :data:`HELPER_OWNER` (one value per process), so a
sweep removes only this process's own helpers.  What a process that crashed
left behind (any owner) is removed by :func:`sweep_stale_helpers` once it is
old enough (:data:`STALE_HELPER_AGE`) to belong to no operation still running;
:func:`is_helper` tells a list which containers to hide from the user.

A tree is read from a ``GET`` of a directory's tar (headers only; the data is
skipped as it streams past): one read gives the whole subtree, with each
directory's size the sum of the files under it (``du --apparent-size``).  A UI
reads a directory when it is opened and keeps the subtree.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import posixpath
import tarfile
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from engine._archive import (
    CHUNK,
    TAR_ENTRY_KINDS,
    EntryKind,
    PathStat,
    Progress,
    Writer,
    put_archive,
    read_archive,
    save_out,
    stat_path,
    write_chunks,
)
from engine._client import Engine
from engine._errors import APIError, Conflict, EngineError, NotFound
from engine._layers.tar import TarMember, TarParser
from engine._threads import in_thread
from engine._volumes import Volume, create_volume, volume

#: Every helper container Dockyard makes carries this label, valued by what it is for.
HELPER_LABEL = "dockyard.helper"
HELPER_KIND = "volume-files"
#: Which process made the helper: a sweep removes its own only.
HELPER_OWNER_LABEL = "dockyard.helper.owner"
HELPER_OWNER = uuid.uuid4().hex
#: A helper is never started and lives as long as one operation: one created this long
#: ago is a leftover of a process that crashed (any owner's).  A day, not an hour: a
#: helper is never "running", so age is all that tells a leftover from the helper of a
#: long back-up in another window; this process's own are never swept.
STALE_HELPER_AGE = 24 * 3600.0
#: The values of :data:`HELPER_LABEL` this code makes (a sweep removes no other).
HELPER_KINDS = frozenset({HELPER_KIND})
#: Where the helper mounts the volume.
MOUNT = "/volume"



_Writer = Writer


class _Reader(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class VolumeEntry:
    """One file or folder of a volume; ``path`` is relative to the volume's root ("" is it)."""

    path: str
    kind: EntryKind
    #: A file's bytes; a folder's: the sum of the files under it; links and others 0.
    size: int = 0
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
class VolumeTree:
    """A directory of a volume and everything under it, as one read found it."""

    root: str
    entries: Mapping[str, VolumeEntry]
    _children: Mapping[str, tuple[str, ...]] = field(repr=False, default_factory=dict)

    def children(self, path: str) -> list[VolumeEntry]:
        """The entries directly in ``path``: folders first, then by name."""
        found = [self.entries[p] for p in self._children.get(path, ())]
        return sorted(found, key=lambda e: (not e.is_dir, e.name))

    @property
    def size(self) -> int:
        entry = self.entries.get(self.root)
        return entry.size if entry else 0


_TAR_KINDS = TAR_ENTRY_KINDS


class _TreeBuilder:
    """Collects member headers of a directory's tar into a :class:`VolumeTree`."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.members: list[TarMember] = []

    def on_member(self, member: TarMember) -> None:
        self.members.append(member)
        return None  # data skipped

    def tree(self) -> VolumeTree:
        # The contents of a folder: "./", "./x" (Docker) or "x" (Podman), relative to it.
        sizes: dict[str, int] = {}
        kinds: dict[str, tuple[EntryKind, int, str]] = {}
        for member in self.members:
            rest = _relative(member.name)
            path = posixpath.join(self.root, rest).strip("/") if rest else self.root
            kind = _TAR_KINDS.get(member.type, EntryKind.OTHER)
            size = member.size if kind is EntryKind.FILE else 0
            kinds[path] = (kind, size, member.linkname)
        kinds.setdefault(self.root, (EntryKind.DIRECTORY, 0, ""))
        children: dict[str, list[str]] = {}
        for path, (_kind, size, _link) in kinds.items():
            if path != self.root:
                children.setdefault(posixpath.dirname(path), []).append(path)
            # Each file's bytes count in every folder above it, up to the root.
            if size:
                up = path
                while up != self.root:
                    up = posixpath.dirname(up)
                    sizes[up] = sizes.get(up, 0) + size
        entries = {
            path: VolumeEntry(path, kind, sizes.get(path, 0) if kind is EntryKind.DIRECTORY
                              else size, link)
            for path, (kind, size, link) in kinds.items()
        }
        return VolumeTree(self.root, entries, {k: tuple(v) for k, v in children.items()})


def _relative(name: str) -> str:
    """A member name of a folder's contents tar, relative to the folder ("" for itself)."""
    name = name.strip("/")
    while name == "." or name.startswith("./"):
        name = name[2:].lstrip("/")
    return name


def _clean(path: str) -> str:
    """A path inside the volume, normalised; refuses to leave it."""
    norm = posixpath.normpath("/" + path.strip()).lstrip("/")
    return "" if norm == "." else norm


class VolumeHelper:
    """A created (never started) container with one volume mounted at :data:`MOUNT`."""

    def __init__(self, client: Engine, container_id: str, volume: str, read_only: bool) -> None:
        self.client = client
        self.id = container_id
        self.volume = volume
        self.read_only = read_only

    def archive_path(self, path: str, contents: bool = False) -> str:
        """``"a/b"`` → ``/volume/a/b``; with ``contents``, ``/volume/a/b/.``.

        A folder's *contents* are named alike on both daemons (``./x`` on Docker,
        ``x`` on Podman), while the folder itself is not: Podman names the
        mount point's own tar ``/``, ``/x``.  So folders are always read as
        contents.
        """
        inner = _clean(path)
        where = f"{MOUNT}/{inner}" if inner else MOUNT
        return f"{where}/." if contents else where

    async def stat(self, path: str = "") -> PathStat:
        """``HEAD …/archive``: one path's name, size, mode, kind."""
        return await stat_path(self.client, self.id, self.archive_path(path))

    @asynccontextmanager
    async def tar(self, path: str, contents: bool = False
                  ) -> AsyncIterator[AsyncIterator[bytes]]:
        """``GET …/archive``: the tar of ``path`` (of what is in it, with ``contents``)."""
        async with read_archive(self.client, self.id,
                                self.archive_path(path, contents)) as chunks:
            yield chunks

    async def tree(self, path: str = "", progress: Progress | None = None) -> VolumeTree:
        """``path`` (a folder) and everything under it, with sizes; file data is skipped."""
        root = _clean(path)
        builder = _TreeBuilder(root)
        parser = TarParser(builder.on_member)
        done = 0
        async with self.tar(root, contents=True) as chunks:
            async for chunk in chunks:
                parser.feed(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, None)
                if parser.ended:
                    break
        parser.close()
        return builder.tree()

    async def is_empty(self) -> bool:
        """Whether the volume holds nothing; stops reading at the second member."""
        seen = 0

        def count(member: TarMember) -> None:
            nonlocal seen
            seen += bool(_relative(member.name))  # Docker sends "./" itself first

        parser = TarParser(count)
        async with self.tar("", contents=True) as chunks:
            async for chunk in chunks:
                parser.feed(chunk)
                if seen or parser.ended:
                    break
        return not seen

    async def save_tar(self, path: str, out: _Writer, progress: Progress | None = None,
                       total: int | None = None, *, contents: bool = False,
                       first: bytes = b"") -> int:
        """Write the tar of ``path`` to ``out`` (writes in a worker thread); returns bytes.

        ``first``: bytes written before the engine's (a header it leaves out).
        """
        async with self.tar(path, contents) as chunks:
            return await write_chunks(chunks, out, progress, total, first=first)

    async def put_tar(self, chunks: AsyncIterator[bytes], path: str = "") -> None:
        """``PUT …/archive``: extract a plain tar at ``path`` in the volume.

        Refused on a read-only helper here: Podman's archive API writes through a
        read-only mount (Docker refuses).
        """
        if self.read_only:
            raise APIError(403, f"the helper mounts volume {self.volume} read-only")
        await put_archive(self.client, self.id, self.archive_path(path), chunks)


async def pick_helper_image(client: Engine) -> str:
    """An image the engine already has, for a helper that never runs: the smallest.

    Any image does (the helper is only created); none present is said plainly.
    """
    for attempt in range(3):
        try:
            images = await client.images()
            break
        except NotFound:
            # Podman counts each image's containers and fails with "no such container"
            # when one (a helper just removed) goes meanwhile: ask again.
            if not client.version.is_podman or attempt == 2:
                raise
            await asyncio.sleep(0.1 * (attempt + 1))
    if not images:
        raise NotFound(404, "the engine has no image to make a helper container from;"
                            " pull any small image (busybox, alpine) first")
    return min(images, key=lambda i: (i.size, i.id)).id


async def _create_helper(client: Engine, volume_name: str, read_only: bool, image: str | None,
                         labels: Mapping[str, str] | None) -> str:
    image = image or await pick_helper_image(client)
    return await client.create_container(
        image,
        name=f"dockyard-volume-helper-{uuid.uuid4().hex[:12]}",
        # Never run: a command is only needed for images that have none.
        command=["/dockyard-helper-never-started"],
        labels={**(labels or {}), HELPER_LABEL: HELPER_KIND, HELPER_OWNER_LABEL: HELPER_OWNER},
        host_config={
            "Mounts": [{"Type": "volume", "Source": volume_name, "Target": MOUNT,
                        "ReadOnly": read_only}],
            "NetworkMode": "none",
        },
    )


async def _remove_helper(client: Engine, container_id: str) -> None:
    """Remove a helper, quietly: gone already is fine; an engine that is gone leaves it for
    :func:`remove_helpers`."""
    with contextlib.suppress(NotFound, EngineError):
        await client.remove_container(container_id, force=True)


@asynccontextmanager
async def volume_helper(
    client: Engine, volume_name: str, *, read_only: bool = True, image: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> AsyncIterator[VolumeHelper]:
    """A helper mounting ``volume_name`` for the block; removed on every way out.

    The volume must exist (a helper would otherwise create it).  ``image``: the
    image to create it from (default: :func:`pick_helper_image`).
    """
    await volume(client, volume_name)  # NotFound, rather than a new empty volume
    container_id = await _create_helper(client, volume_name, read_only, image, labels)
    try:
        yield VolumeHelper(client, container_id, volume_name, read_only)
    finally:
        # Shielded: a second cancel (the window closing) must not skip the removal.
        await asyncio.shield(_remove_helper(client, container_id))


async def helpers(client: Engine, *, owner: str | None = HELPER_OWNER) -> list[str]:
    """IDs of the volume helpers on the engine (this process's, unless ``owner`` None)."""
    wanted = [f"{HELPER_LABEL}={HELPER_KIND}"]
    if owner is not None:
        wanted.append(f"{HELPER_OWNER_LABEL}={owner}")
    return [c.id for c in await client.containers(all=True, filters={"label": wanted})]


async def remove_helpers(client: Engine, *, owner: str | None = HELPER_OWNER) -> list[str]:
    """Remove helpers left behind when the engine went away mid-operation; their IDs."""
    found = await helpers(client, owner=owner)
    for container_id in found:
        await _remove_helper(client, container_id)
    return found


def is_helper(labels: Mapping[str, str]) -> bool:
    """Whether a container with these labels is one of Dockyard's helpers (hidden in lists)."""
    return labels.get(HELPER_LABEL) in HELPER_KINDS


async def sweep_stale_helpers(
    client: Engine, *, older_than: float = STALE_HELPER_AGE, now: datetime | None = None,
    labels: Sequence[str] = (),
) -> list[str]:
    """Remove helpers a crashed process left behind (of any owner); their IDs.

    Only containers labelled as a helper (:func:`is_helper`), created more than
    ``older_than`` seconds before ``now`` and neither running, paused nor
    restarting: nothing else, and never by force.  ``labels`` (``key=value``)
    narrow it further (tests confine it to their own).  A container that went
    meanwhile or that the daemon keeps is skipped, not an error.
    """
    wanted = [HELPER_LABEL, *labels]
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=older_than)
    removed: list[str] = []
    for container in await client.containers(all=True, filters={"label": wanted}):
        if (not is_helper(container.labels) or container.created is None
                or container.labels.get(HELPER_OWNER_LABEL) == HELPER_OWNER  # ours: in use
                or container.created > cutoff
                or container.state in ("running", "paused", "restarting", "removing")):
            continue
        try:
            await client.remove_container(container.id)
        except APIError:  # gone meanwhile, or the daemon keeps it: not this sweep's to force
            continue
        removed.append(container.id)
    return removed


# -- save out ------------------------------------------------------------------------


async def export_path(
    client: Engine, volume_name: str, path: str, destination: Path, *,
    progress: Progress | None = None, image: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Path:
    """Save a file or folder of a volume to ``destination`` (a file's new name, or the
    folder to create); returns it.  Nothing is left half-written on failure or cancel.

    Extraction uses tarfile's ``data`` filter: no absolute paths, no links out,
    no device files, no set-uid bits.
    """
    destination = Path(destination)
    async with volume_helper(client, volume_name, image=image, labels=labels) as helper:
        stat = await helper.stat(path)
        folder = stat.kind is EntryKind.DIRECTORY
        await save_out(client, helper.id, helper.archive_path(path, contents=folder),
                       destination, folder=folder, total=None if folder else stat.size,
                       progress=progress)
    return destination


# -- back up, restore, clone --------------------------------------------------------


async def backup_volume(
    client: Engine, volume_name: str, destination: Path, *,
    progress: Progress | None = None, image: str | None = None,
    labels: Mapping[str, str] | None = None, size: int | None = None,
) -> int:
    """Write the volume's contents to ``destination`` as a ``.tar.gz``; returns tar bytes.

    The archive holds ``./`` and everything under it (as ``tar czf - -C vol .``
    would), so it restores into any volume.  Written beside the destination and
    renamed at the end: a cancel or a failure leaves no partial file.
    Progress counts uncompressed bytes against ``size``: the caller's (a listed
    volume's), else measured, which is a ``/system/df`` of the whole engine.
    """
    destination = Path(destination)
    total = size if size is not None else (await volume(client, volume_name, size=True)).size
    async with volume_helper(client, volume_name, image=image, labels=labels) as helper:
        first = b""
        if client.version.is_podman:  # Podman leaves out "./": its mode would be lost
            first = _root_header(await helper.stat(""))
        handle, temp_name = tempfile.mkstemp(prefix=f".{destination.name}.",
                                             dir=destination.parent)
        temp = Path(temp_name)
        try:
            with os.fdopen(handle, "wb") as raw, gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
                written = await helper.save_tar("", gz, progress, total, contents=True,
                                                first=first)
            os.chmod(temp, 0o666 & ~_umask())  # as any new file, not mkstemp's 0600
            os.replace(temp, destination)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    return written


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _root_header(stat: PathStat) -> bytes:
    """The tar header of ``./`` (the volume's root folder), as Docker writes it."""
    info = tarfile.TarInfo(".")
    info.type = tarfile.DIRTYPE
    info.mode = stat.mode
    info.mtime = int(stat.mtime.timestamp()) if stat.mtime else 0
    info.uname = info.gname = "root"
    return info.tobuf(tarfile.GNU_FORMAT)


async def _gunzip_chunks(source: Path, progress: Progress | None) -> AsyncIterator[bytes]:
    """The plain tar inside a ``.tar.gz`` (or a plain ``.tar``), decompressed in a worker
    thread; progress counts compressed bytes read."""
    total = source.stat().st_size
    raw = source.open("rb")
    try:
        magic = raw.read(2)
        raw.seek(0)
        stream: _Reader = gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" \
            else raw
        while True:
            try:
                chunk = await in_thread(stream.read, CHUNK)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise BadArchive(f"{source.name} is not a readable .tar.gz: {exc}") from exc
            if not chunk:
                break
            if progress is not None:
                progress(raw.tell(), total)
            yield chunk
    finally:
        raw.close()


class BadArchive(EngineError):
    """The file to restore is not a (gzipped) tar archive."""


def _check_tar(source: Path) -> None:
    """Fail early, before any helper exists, on a file that is no tar at all."""
    try:
        with tarfile.open(source, "r:*") as archive:
            archive.next()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BadArchive(f"{source.name} is not a .tar.gz archive ({exc})") from exc


async def restore_volume(
    client: Engine, volume_name: str, source: Path, *, progress: Progress | None = None,
    image: str | None = None, labels: Mapping[str, str] | None = None,
) -> None:
    """Extract a ``.tar.gz`` (or ``.tar``) into the volume, through ``PUT …/archive``.

    Files already there with the same names are replaced; the caller asks first
    when the volume is not empty (:func:`volume_is_empty`).
    """
    source = Path(source)
    await asyncio.to_thread(_check_tar, source)
    async with volume_helper(client, volume_name, read_only=False, image=image,
                             labels=labels) as helper:
        try:
            await helper.put_tar(_gunzip_chunks(source, progress))
        except APIError as exc:
            raise APIError(exc.status, f"the engine refused the archive: {exc.message}",
                           exc.details) from exc


async def volume_is_empty(client: Engine, volume_name: str, *, image: str | None = None,
                          labels: Mapping[str, str] | None = None) -> bool:
    """Whether the volume holds no file at all (a restore then needs no question)."""
    async with volume_helper(client, volume_name, image=image, labels=labels) as helper:
        return await helper.is_empty()


async def create_new_volume(client: Engine, name: str, *,
                            labels: Mapping[str, str] | None = None) -> Volume:
    """Create a volume that does not exist yet: Docker answers a create of an existing
    name with that volume, which a clone or a restore that fails must then not remove."""
    with contextlib.suppress(NotFound):
        await volume(client, name)
        raise Conflict(409, f"a volume named {name} exists already")
    return await create_volume(client, name, labels=labels)


async def clone_volume(
    client: Engine, source: str, target: str, *, progress: Progress | None = None,
    image: str | None = None, labels: Mapping[str, str] | None = None,
    size: int | None = None,
) -> Volume:
    """A new volume ``target`` with the contents of ``source`` (modes and times kept).

    The tar streams from one helper straight into the other.  ``labels`` are
    the new volume's (and the helpers').  A target that exists is refused; a
    clone that fails or is cancelled removes the half-made target.  ``size`` is
    the source's for progress, as for :func:`backup_volume`.
    """
    measured = await volume(client, source, size=size is None)  # it exists, before anything
    total = size if size is not None else measured.size
    created = await create_new_volume(client, target, labels=labels)
    try:
        async with volume_helper(client, source, image=image, labels=labels) as reader, \
                volume_helper(client, target, read_only=False, image=image,
                              labels=labels) as writer, \
                reader.tar("", contents=True) as chunks:
            await writer.put_tar(_counted(chunks, progress, total))
    except BaseException:
        with contextlib.suppress(EngineError):
            await asyncio.shield(client.request("DELETE", f"/volumes/{target}"))
        raise
    return created


async def _counted(chunks: AsyncIterator[bytes], progress: Progress | None,
                   total: int | None) -> AsyncIterator[bytes]:
    done = 0
    async for chunk in chunks:
        done += len(chunk)
        if progress is not None:
            progress(done, total)
        yield chunk
