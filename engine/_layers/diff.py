"""How two images differ: shared layers, history, config, and every file of the final filesystems.

Both images are read from ONE export (``GET /images/get?names=A&names=B``, what
``docker save A B`` sends): the layers they share are in it, and parsed, once.
While each layer tar streams past, every regular file's content is hashed
(SHA-256) and its mode, owner and link target kept, so "modified" means a
different kind, size, mode, owner, link target or content — never just a new
mtime.  Hashing every layer once (not only those above the shared prefix) is
deliberate: the legacy export names layers by v1 IDs, so which layer is which
is only known from ``manifest.json`` at the very end, and a file a later layer
rewrites with the same size needs the digest of its lower copy too.  Memory
holds one entry (and a 32-byte digest) per file, never file contents.

The final filesystems are stacked with :func:`stack_layers` (whiteouts, opaque
directories) and compared path by path; a path whose visible copy comes from
the same shared layer in both is equal without looking further.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from engine._client import Engine
from engine._errors import ProtocolError
from engine._layers.analysis import pair_history
from engine._layers.archive import (
    TAR_KINDS,
    ImageArchiveReader,
    LayerIndexer,
    SavedImage,
    normalise_path,
)
from engine._layers.export import ProgressCallback, no_cyclic_gc
from engine._layers.model import ChangeKind, EntryKind, FileEntry, HistoryStep
from engine._layers.stacking import stack_layers
from engine._layers.tar import MemberSink, TarMember
from engine._models import ImageDetails

_EMPTY_DIGEST = hashlib.sha256().digest()


@dataclass(frozen=True, slots=True)
class DiffEntry(FileEntry):
    """A layer entry with what a diff compares besides the size: mode, owner, content digest.

    A hard link whose target is in the same layer is recorded as the file it
    shares bytes with (its size and digest), as a container sees it.
    """

    mode: int = 0
    uid: int = 0
    gid: int = 0
    #: SHA-256 of a regular file's content (b"" for other kinds).
    digest: bytes = b""


_ENTRY_FIELDS = ("path", "size", "kind", "link", "mode", "uid", "gid", "digest")
_SETTERS = tuple((DiffEntry.__dict__.get(name) or FileEntry.__dict__[name]).__set__
                 for name in _ENTRY_FIELDS)
if tuple(f.name for f in fields(DiffEntry)) != _ENTRY_FIELDS:
    raise AssertionError("_entry() sets DiffEntry's fields by name: update it")
_new = object.__new__


def _entry(path: str, size: int, kind: EntryKind, link: str, mode: int, uid: int, gid: int,
           digest: bytes = b"") -> DiffEntry:
    """``DiffEntry(...)`` without the frozen ``__init__``'s ``object.__setattr__`` per field:
    one is made per file of both images (as :func:`make_change` does for changes)."""
    entry = _new(DiffEntry)
    set_path, set_size, set_kind, set_link, set_mode, set_uid, set_gid, set_digest = _SETTERS
    set_path(entry, path)
    set_size(entry, size)
    set_kind(entry, kind)
    set_link(entry, link)
    set_mode(entry, mode)
    set_uid(entry, uid)
    set_gid(entry, gid)
    set_digest(entry, digest)
    return entry


class _Hasher:
    """Hashes one member's data as it streams past, then records the entry."""

    __slots__ = ("_hash", "_indexer", "_member", "_path")

    def __init__(self, indexer: _DiffIndexer, path: str, member: TarMember) -> None:
        self._indexer = indexer
        self._path = path
        self._member = member
        self._hash = hashlib.sha256()

    def write(self, data: memoryview) -> None:
        self._hash.update(data)

    def close(self) -> None:
        member = self._member
        self._indexer.add(_entry(self._path, member.size, EntryKind.FILE, "", member.mode,
                                 member.uid, member.gid, self._hash.digest()))


class _DiffIndexer(LayerIndexer):
    """A layer's entries with modes, owners and content digests."""

    details = True

    def __init__(self) -> None:
        super().__init__()
        self._own: dict[str, DiffEntry] = {}

    def add(self, entry: DiffEntry) -> None:
        self.entries.append(entry)
        self._own[entry.path] = entry

    def on_member(self, member: TarMember) -> MemberSink | None:
        kind = TAR_KINDS.get(member.type, EntryKind.OTHER)
        if kind is not EntryKind.FILE and kind is not EntryKind.HARDLINK:
            before = len(self.entries)
            super().on_member(member)  # whiteouts, directories, symlinks, devices
            if len(self.entries) > before:
                plain = self.entries[-1]
                entry = _entry(plain.path, plain.size, plain.kind, plain.link, member.mode,
                               member.uid, member.gid)
                self.entries[-1] = entry
                self._own[entry.path] = entry
            return None
        path = normalise_path(member.name)
        if not path or path.rpartition("/")[2].startswith(".wh."):
            return super().on_member(member)
        if kind is EntryKind.HARDLINK:
            target = normalise_path(member.linkname)
            data = self._own.get(target)
            if data is not None and data.kind is EntryKind.FILE:
                # ``link`` remembers it was a hard link: its bytes count once in the layer.
                self.add(_entry(path, data.size, EntryKind.FILE, target, data.mode, data.uid,
                                data.gid, data.digest))
            else:  # a link to nothing this layer holds: compared by its target's name
                self.add(_entry(path, 0, EntryKind.HARDLINK, target, member.mode,
                                member.uid, member.gid))
            return None
        if not member.size:
            self.add(_entry(path, 0, EntryKind.FILE, "", member.mode, member.uid,
                            member.gid, _EMPTY_DIGEST))
            return None
        return _Hasher(self, path, member)

    def close(self) -> None:
        super().close()
        self._own = {}  # only hard links in the same tar look names up


def _stored_size(entries: Iterable[FileEntry]) -> int:
    """A layer's bytes as ``docker history`` counts them: a hard link's once."""
    return sum(e.size for e in entries if not (e.kind is EntryKind.FILE and e.link))


# ---------------------------------------------------------------- the result


@dataclass(frozen=True, slots=True)
class FileState:
    """One path of one image's final filesystem, as the diff compares it."""

    kind: EntryKind
    size: int
    mode: int
    uid: int
    gid: int
    link: str = ""
    digest: str = ""  # hex SHA-256, regular files only

    @classmethod
    def of(cls, entry: FileEntry) -> FileState:
        link = entry.link if entry.kind is not EntryKind.FILE else ""
        if isinstance(entry, DiffEntry):
            return cls(entry.kind, entry.size, entry.mode, entry.uid, entry.gid, link,
                       entry.digest.hex())
        return cls(entry.kind, entry.size, 0, 0, 0, link)


#: What can make a path "modified", in the order they are reported.
DIFFERENCES = ("kind", "size", "content", "link", "mode", "owner")


def _differences(before: FileState, after: FileState) -> tuple[str, ...]:
    found: list[str] = []
    if before.kind is not after.kind:
        return ("kind",)
    if before.size != after.size and before.kind in (EntryKind.FILE, EntryKind.OTHER):
        found.append("size")
    if before.digest != after.digest:
        found.append("content")
    if before.link != after.link:
        found.append("link")
    if before.mode != after.mode:
        found.append("mode")
    if (before.uid, before.gid) != (after.uid, after.gid):
        found.append("owner")
    return tuple(found)


@dataclass(frozen=True, slots=True)
class FileDiff:
    """A path added, removed or modified between the first image and the second.

    ``before`` is the first image's copy (None when added), ``after`` the
    second's (None when removed); ``differences`` names what changed
    (see :data:`DIFFERENCES`) for a modified path.
    """

    path: str
    kind: ChangeKind
    before: FileState | None
    after: FileState | None
    differences: tuple[str, ...] = ()

    @property
    def entry_kind(self) -> EntryKind:
        state = self.after or self.before
        assert state is not None
        return state.kind

    @property
    def size(self) -> int:
        """Bytes in the second image (0 when removed; directories 0)."""
        return _bytes(self.after)

    @property
    def previous_size(self) -> int:
        return _bytes(self.before)

    @property
    def delta(self) -> int:
        return self.size - self.previous_size


def _bytes(state: FileState | None) -> int:
    return 0 if state is None or state.kind is EntryKind.DIR else state.size


@dataclass(frozen=True, slots=True)
class DirectoryDelta:
    """The changes below one directory, rolled up: bytes added, removed, and the net delta."""

    path: str
    added_bytes: int
    removed_bytes: int
    changes: int

    @property
    def delta(self) -> int:
        return self.added_bytes - self.removed_bytes


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One config value that differs: ``field`` (env, label, cmd…), ``key`` within it
    (a variable or label name, a port; "" for single values), and both values
    (None where the image has none)."""

    field: str
    key: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class DiffLayer:
    """A layer of one side, with the instruction that made it."""

    index: int
    diff_id: str
    size: int
    files: int
    instruction: str


@dataclass(frozen=True, slots=True)
class ImageSide:
    name: str
    image_id: str
    repo_tags: tuple[str, ...]
    layers: tuple[DiffLayer, ...]
    size: int  # bytes of the final filesystem's files


@dataclass(frozen=True, slots=True)
class ImageDiff:
    """Everything that differs between ``first`` and ``second`` (changes read first → second)."""

    first: ImageSide
    second: ImageSide
    #: How many bottom layers both have, diff ID for diff ID.
    shared_layers: int
    #: How many history rows are the same (text, and layer diff ID for a layer step).
    shared_steps: int
    first_steps: tuple[HistoryStep, ...]
    second_steps: tuple[HistoryStep, ...]
    config_changes: tuple[ConfigChange, ...]
    #: Biggest change first (by absolute byte delta), then by path.
    files: tuple[FileDiff, ...]
    #: Every directory with a change below it, biggest absolute delta first.
    directories: tuple[DirectoryDelta, ...]

    @property
    def identical(self) -> bool:
        return self.first.image_id == self.second.image_id or not (
            self.files or self.config_changes or self.first_steps or self.second_steps
            or len(self.first.layers) != self.shared_layers
            or len(self.second.layers) != self.shared_layers)

    def of_kind(self, kind: ChangeKind) -> tuple[FileDiff, ...]:
        return tuple(change for change in self.files if change.kind is kind)

    @property
    def size_delta(self) -> int:
        return self.second.size - self.first.size


# ---------------------------------------------------------------- comparing


def _env(values: Any) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values or ():
        name, _, value = str(item).partition("=")
        result[name] = value
    return result


def _words(values: Any) -> str | None:
    if values is None:
        return None
    if isinstance(values, str):
        return values
    return json.dumps([str(v) for v in values])


def _string(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _keyed(field: str, before: Mapping[str, str], after: Mapping[str, str]
           ) -> list[ConfigChange]:
    return [ConfigChange(field, key, before.get(key), after.get(key))
            for key in sorted(before.keys() | after.keys()) if before.get(key) != after.get(key)]


def compare_configs(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[ConfigChange]:
    """Config differences: platform, user, workdir, cmd, entrypoint, env, ports, labels."""
    a = first.get("config") or {}
    b = second.get("config") or {}
    changes: list[ConfigChange] = []
    for field in ("os", "architecture", "variant"):
        before, after = _string(first.get(field)), _string(second.get(field))
        if before != after:
            changes.append(ConfigChange(field, "", before, after))
    for field, key in (("user", "User"), ("workdir", "WorkingDir")):
        before, after = _string(a.get(key)), _string(b.get(key))
        if before != after:
            changes.append(ConfigChange(field, "", before, after))
    for field, key in (("cmd", "Cmd"), ("entrypoint", "Entrypoint")):
        before, after = _words(a.get(key)), _words(b.get(key))
        if before != after:
            changes.append(ConfigChange(field, "", before, after))
    changes += _keyed("env", _env(a.get("Env")), _env(b.get("Env")))
    ports_a = {str(p): "exposed" for p in a.get("ExposedPorts") or {}}
    ports_b = {str(p): "exposed" for p in b.get("ExposedPorts") or {}}
    changes += _keyed("port", ports_a, ports_b)
    labels_a = {str(k): str(v) for k, v in (a.get("Labels") or {}).items()}
    labels_b = {str(k): str(v) for k, v in (b.get("Labels") or {}).items()}
    changes += _keyed("label", labels_a, labels_b)
    return changes


def _step_keys(saved: SavedImage) -> list[tuple[str, bool, str]]:
    """History rows as (text, empty, diff ID of the layer it made or "")."""
    diff_ids = saved.diff_ids
    keys: list[tuple[str, bool, str]] = []
    layer = 0
    for step in saved.history:
        diff_id = ""
        if not step.empty_layer:
            diff_id = diff_ids[layer] if layer < len(diff_ids) else ""
            layer += 1
        keys.append((step.created_by, step.empty_layer, diff_id))
    return keys


def _side(name: str, image_id: str, saved: SavedImage, size: int) -> ImageSide:
    steps, _ = pair_history(saved.history, len(saved.layers))
    layers = []
    for index, (files, diff_id) in enumerate(zip(saved.layers, saved.diff_ids, strict=False)):
        making = next((s for s in steps[index] if not s.empty_layer), None) \
            if index < len(steps) else None
        layers.append(DiffLayer(index, diff_id, _stored_size(files.entries), len(files.entries),
                                making.instruction if making is not None else ""))
    return ImageSide(name, image_id, saved.repo_tags, tuple(layers), size)


def _parents(path: str) -> Iterable[str]:
    while "/" in path:
        path = path.rpartition("/")[0]
        yield path


def roll_up(files: Iterable[FileDiff]) -> list[DirectoryDelta]:
    """Per directory: bytes added and removed below it, and how many paths changed."""
    added: defaultdict[str, int] = defaultdict(int)
    removed: defaultdict[str, int] = defaultdict(int)
    counts: defaultdict[str, int] = defaultdict(int)
    for change in files:
        grown, shrunk = max(change.delta, 0), max(-change.delta, 0)
        for parent in _parents(change.path):
            counts[parent] += 1
            added[parent] += grown
            removed[parent] += shrunk
    directories = [DirectoryDelta(path, added[path], removed[path], count)
                   for path, count in counts.items()]
    directories.sort(key=lambda d: (-abs(d.delta), -(d.added_bytes + d.removed_bytes), d.path))
    return directories


def compare_images(first: SavedImage, second: SavedImage, *, first_name: str = "",
                   second_name: str = "", first_id: str = "", second_id: str = ""
                   ) -> ImageDiff:
    """The diff of two read exports; pure (no engine), for tests and the engine call alike."""
    shared = 0
    for a, b in zip(first.diff_ids, second.diff_ids, strict=False):
        if a != b:
            break
        shared += 1
    shared = min(shared, len(first.layers), len(second.layers))
    keys_a, keys_b = _step_keys(first), _step_keys(second)
    shared_steps = 0
    for a_key, b_key in zip(keys_a, keys_b, strict=False):
        if a_key != b_key:
            break
        shared_steps += 1
    with no_cyclic_gc():
        visible_a = stack_layers(first.layers)
        visible_b = stack_layers(second.layers)
        files: list[FileDiff] = []
        for path, entry_a in visible_a.items():
            entry_b = visible_b.get(path)
            if entry_b is None:
                files.append(FileDiff(path, ChangeKind.REMOVED, FileState.of(entry_a.entry), None))
            elif entry_a.layer == entry_b.layer < shared:
                continue  # the very same copy, from a layer both share
            else:
                before, after = FileState.of(entry_a.entry), FileState.of(entry_b.entry)
                differences = _differences(before, after)
                if differences:
                    files.append(FileDiff(path, ChangeKind.MODIFIED, before, after, differences))
        files += [FileDiff(path, ChangeKind.ADDED, None, FileState.of(entry_b.entry))
                  for path, entry_b in visible_b.items() if path not in visible_a]
        size_a = sum(s.entry.size for s in visible_a.values() if s.kind is not EntryKind.DIR)
        size_b = sum(s.entry.size for s in visible_b.values() if s.kind is not EntryKind.DIR)
    files.sort(key=lambda f: (-abs(f.delta), f.path))
    return ImageDiff(
        first=_side(first_name, first_id, first, size_a),
        second=_side(second_name, second_id, second, size_b),
        shared_layers=shared,
        shared_steps=shared_steps,
        first_steps=first.history[shared_steps:],
        second_steps=second.history[shared_steps:],
        config_changes=tuple(compare_configs(first.config, second.config)),
        files=tuple(files),
        directories=tuple(roll_up(files)),
    )


# ---------------------------------------------------------------- the engine call


def _pick(saved: Sequence[SavedImage], details: ImageDetails) -> SavedImage:
    """The export's image for ``details``: by config name (the image ID, as Docker's
    graph-driver store and Podman name it), else by its layers and config values
    (the containerd store's image ID is a manifest digest)."""
    hex_id = details.id.partition(":")[2] or details.id
    for image in saved:
        if image.config_path.rpartition("/")[2].removesuffix(".json") == hex_id:
            return image
    matching = [image for image in saved if list(image.diff_ids) == list(details.layers)]
    if len(matching) > 1:
        def same_config(image: SavedImage) -> bool:
            config = image.config.get("config") or {}
            return (tuple(str(e) for e in config.get("Env") or ()) == details.env
                    and tuple(str(c) for c in config.get("Cmd") or ()) == details.cmd
                    and {str(k): str(v) for k, v in (config.get("Labels") or {}).items()}
                    == dict(details.labels))
        matching = [image for image in matching if same_config(image)]
    if len(matching) == 1:
        return matching[0]
    if len(saved) == 1:
        return saved[0]
    raise ProtocolError(f"the image export does not say which of its images is {details.id}")


#: Bytes of the export handed to the worker thread at a time.
_FEED_BATCH = 1 << 20


def _feed(reader: ImageArchiveReader, batch: bytearray) -> None:
    """In a worker thread: parse a batch of the export and hash its files' contents.

    SHA-256 of a multi-GB image on the event loop stalled a window for seconds
    (qasync runs the loop on the GUI thread); here hashlib releases the GIL
    while it hashes, and the tar parsing yields it every switch interval.
    """
    with no_cyclic_gc():
        reader.feed(memoryview(batch))


async def diff_images(client: Engine, first: str, second: str, *,
                      progress: ProgressCallback | None = None) -> ImageDiff:
    """Stream one export of both images and compare them; nothing is written to disk.

    Raises :class:`NotFound` (before any streaming) when either image is
    unknown.  ``progress(read, total)`` as for :func:`analyze_image`.  The export
    is read on the event loop and parsed and hashed in a worker thread, a batch
    at a time, while the next batch is read.
    """
    a = await client.image(first)
    b = await client.image(second)
    names = [a.id] if a.id == b.id else [a.id, b.id]
    reader = ImageArchiveReader(_DiffIndexer)
    total = a.size + (b.size if b.id != a.id else 0)
    report: Callable[[int, int], None] = progress or (lambda read, total: None)
    reported = -(1 << 20)
    received = 0
    batch = bytearray()
    feeding: asyncio.Future[None] | None = None
    # The collector off for the whole read, awaits included (not per batch): the entries
    # pile up to 10^5 and more, and a full collection over them, set off by whichever
    # thread allocated between two batches, held the GIL for 100+ ms: a stalled window.
    with no_cyclic_gc():
        try:
            async with client.open_body("GET", "/images/get",
                                        params=[("names", name) for name in names]) as body:
                async for chunk in body:
                    batch += chunk  # a copy: the view is only valid until the next read
                    received += len(chunk)
                    if len(batch) < _FEED_BATCH:
                        continue
                    if feeding is not None:
                        await feeding  # one batch in flight: memory stays bounded
                    feeding = asyncio.ensure_future(asyncio.to_thread(_feed, reader, batch))
                    batch = bytearray()
                    if received - reported >= 1 << 20:
                        reported = received
                        report(reported, max(total, reported))
            if feeding is not None:
                await feeding
                feeding = None
            if batch:
                await asyncio.to_thread(_feed, reader, batch)
        finally:
            if feeding is not None:  # cancelled or failed: let the worker finish its batch
                feeding.cancel()
    report(reader.bytes_read, reader.bytes_read)

    def compare() -> ImageDiff:
        with no_cyclic_gc():
            saved = reader.close_all()
        return compare_images(_pick(saved, a), _pick(saved, b),
                              first_name=first, second_name=second,
                              first_id=a.id, second_id=b.id)

    return await asyncio.to_thread(compare)
