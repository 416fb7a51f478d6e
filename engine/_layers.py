"""What each image layer holds, read from the image export without touching the disk.

There is no per-layer file endpoint, so :func:`analyze_image` streams
``GET /images/{name}/get`` (the ``docker save`` tar) through a sans-IO tar
parser: every layer tar inside the export is itself parsed as it streams past,
keeping only the headers (path, size, type), so memory grows with the number of
files, not with the image size.  ``manifest.json`` comes last, so every
candidate layer is indexed by its archive path and the order is resolved at the
end (engine-api-notes §6).

Three export layouts are read:

- legacy Docker (≤ 24): ``<v1id>/layer.tar`` (possibly symlinks), ``<config>.json``;
- OCI (Docker 25+): ``blobs/sha256/<hex>`` (plain, or gzip with the containerd
  store; zstd is refused with a clear error) plus a compatibility ``manifest.json``,
  or ``index.json`` alone;
- Podman's docker-archive: ``<diffid>.tar`` at the root plus legacy directories
  whose ``layer.tar`` is a symlink.

The stacking (whiteouts, opaque directories, wasted bytes) is pure functions
over :class:`LayerFiles`, testable without an engine.

Sizes follow ``docker history``: a regular file counts its content bytes, a
symlink the length of its target (what ``lstat`` reports), directories, hard
links (their bytes are counted once, at the file they link to), devices and
whiteout markers count 0.  With that rule a layer's :attr:`LayerFiles.size`
equals the ``Size`` Docker's history reports for it.
"""

from __future__ import annotations

import gc
import json
import posixpath
import re
import struct
import time
import zlib
from bisect import bisect_left, bisect_right
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from heapq import nsmallest
from itertools import accumulate, compress, repeat
from operator import attrgetter, eq, neg
from typing import Any, NamedTuple, Protocol

from engine._client import Engine
from engine._errors import ProtocolError
from engine._models import parse_timestamp

# -- the model ----------------------------------------------------------------------------


class EntryKind(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    OTHER = "other"  # devices, FIFOs


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One path a layer sets: normalised (``usr/bin/env``: no leading ``./`` or ``/``)."""

    path: str
    size: int
    kind: EntryKind
    #: Symlink target, or the archive path a hard link points at.
    link: str = ""


@dataclass(frozen=True, slots=True)
class LayerFiles:
    """Everything one layer tar says about the filesystem.

    ``whiteouts`` are the paths a ``.wh.NAME`` marker deletes from the layers
    below (``d/.wh.sub`` → ``d/sub``); ``opaque_dirs`` are directories carrying
    ``.wh..wh..opq``: all lower content under them is hidden, while this layer's
    own entries there stay.
    """

    entries: tuple[FileEntry, ...] = ()
    whiteouts: tuple[str, ...] = ()
    opaque_dirs: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.entries)


_DOCKERFILE_KEYWORDS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})
_SHELL_PREFIXES = ("/bin/sh -c ", "/bin/bash -c ", "/bin/ash -c ", "cmd /S /C ")
_BUILD_ARGS = re.compile(r"\|(\d+) ")


def _strip_build_args(text: str) -> str:
    """Drop the ``|2 A=1 B=2 `` prefix the builders put before a RUN that saw build args."""
    match = _BUILD_ARGS.match(text)
    if not match:
        return text
    rest = text[match.end():]
    for _ in range(int(match.group(1))):
        _, _, rest = rest.partition(" ")
    return rest


def clean_instruction(created_by: str, *, empty_layer: bool = False) -> str:
    """The Dockerfile line a history row came from, as a user would have written it.

    ``/bin/sh -c #(nop)  CMD ["sh"]`` → ``CMD ["sh"]``; ``/bin/sh -c make`` →
    ``RUN make``; BuildKit's ``RUN |1 V=2 /bin/sh -c make # buildkit`` →
    ``RUN make``.  The classic builder records an exec-form RUN as the bare
    command, so a layer-making row that names no instruction is a RUN.
    """
    text = " ".join(created_by.split())  # newlines and runs of spaces, as one line
    if text.endswith("# buildkit"):
        text = text[: -len("# buildkit")].rstrip()
    is_run = False
    if text.startswith("RUN "):
        is_run, text = True, text[4:].lstrip()
    text = _strip_build_args(text)
    for prefix in _SHELL_PREFIXES:
        if text.startswith(prefix):
            text, is_run = text[len(prefix):], True
            break
    if text.startswith("#(nop)"):
        return text[len("#(nop)"):].strip()
    if is_run:
        return f"RUN {text}"
    if text.split(" ", 1)[0] in _DOCKERFILE_KEYWORDS or empty_layer or not text:
        return text
    return f"RUN {text}"


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """One row of the image config's ``history`` (oldest first)."""

    created_by: str
    created: datetime | None = None
    comment: str = ""
    #: True for metadata-only steps (CMD, ENV, LABEL…) that made no layer.
    empty_layer: bool = False

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> HistoryStep:
        return cls(
            created_by=str(raw.get("created_by") or ""),
            created=parse_timestamp(raw.get("created")),
            comment=str(raw.get("comment") or ""),
            empty_layer=bool(raw.get("empty_layer")),
        )

    @property
    def instruction(self) -> str:
        """The cleaned, one-line Dockerfile instruction (``created_by`` keeps the raw text)."""
        return clean_instruction(self.created_by, empty_layer=self.empty_layer)


class LayerSteps:
    """What a layer's history steps say: the one that made it, and the metadata ones.

    Shared by the exact :class:`ImageLayer` and the history-only
    :class:`engine.LayerOutline`; subclasses have a ``steps`` tuple.
    """

    __slots__ = ()
    steps: tuple[HistoryStep, ...]

    @property
    def step(self) -> HistoryStep | None:
        """The history row that made this layer (None when the image has no history for it)."""
        return next((s for s in self.steps if not s.empty_layer), None)

    @property
    def instruction(self) -> str:
        step = self.step
        return step.instruction if step is not None else ""

    @property
    def metadata_steps(self) -> tuple[HistoryStep, ...]:
        return tuple(s for s in self.steps if s.empty_layer)


@dataclass(frozen=True, slots=True)
class ImageLayer(LayerSteps):
    """A filesystem layer with the history steps that belong to it.

    ``steps`` is chronological: the one step that made the layer, then the
    metadata-only steps that followed it (the bottom layer also carries any
    metadata steps recorded before it).
    """

    index: int
    diff_id: str
    files: LayerFiles
    steps: tuple[HistoryStep, ...] = ()

    @property
    def size(self) -> int:
        return self.files.size

    @property
    def entries(self) -> tuple[FileEntry, ...]:
        return self.files.entries


class ChangeKind(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Change:
    """A path a layer changes relative to the stack below it.

    ``size`` is the bytes the layer now holds there (added, modified) or the
    bytes that disappear (removed); ``previous_size`` is what the stack below
    held (0 when added).  A directory's ``size`` is rolled up over the changes
    beneath it in the same layer: added and modified files for an added or
    modified directory (``previous_size`` 0), removed files for a removed one
    (``previous_size`` the same).
    """

    path: str
    kind: ChangeKind
    entry_kind: EntryKind
    size: int
    previous_size: int = 0


_new = object.__new__
_set_path, _set_kind, _set_entry_kind, _set_size, _set_previous = (
    Change.__dict__[name].__set__ for name in ("path", "kind", "entry_kind", "size",
                                                "previous_size"))
if [f.name for f in fields(Change)] != ["path", "kind", "entry_kind", "size", "previous_size"]:
    raise AssertionError("_change() sets Change's fields by name: update it")


def _change(path: str, kind: ChangeKind, entry_kind: EntryKind, size: int,
            previous_size: int = 0) -> Change:
    """``Change(...)`` without the frozen ``__init__``'s ``object.__setattr__`` per field.

    Filling the slots directly is ~1.7x cheaper, and a big layer lists 10^5 changes.
    """
    change = _new(Change)
    _set_path(change, path)
    _set_kind(change, kind)
    _set_entry_kind(change, entry_kind)
    _set_size(change, size)
    _set_previous(change, previous_size)
    return change


@dataclass(frozen=True, slots=True)
class StackedEntry:
    """A path of the stacked filesystem and the layer whose version a container sees."""

    entry: FileEntry
    layer: int

    @property
    def path(self) -> str:
        return self.entry.path

    @property
    def size(self) -> int:
        return self.entry.size

    @property
    def kind(self) -> EntryKind:
        return self.entry.kind


@dataclass(frozen=True, slots=True)
class WastedPath:
    """Bytes at one path that the final filesystem does not show.

    ``layers`` hold the hidden copies; ``hidden_by`` overwrote, deleted or
    (opaque directory) hid them.
    """

    path: str
    size: int
    layers: tuple[int, ...]
    hidden_by: tuple[int, ...]


# -- stacking: pure functions over LayerFiles ---------------------------------------------


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


_by_path = attrgetter("path")
_by_size = attrgetter("size")


def _range_below(paths: Sequence[str], directory: str) -> tuple[int, int]:
    """Where the paths strictly below ``directory`` lie in sorted ``paths``.

    ``p`` is below ``d`` exactly when it starts with ``d + "/"`` (every path
    below the root ``""``), and those paths sort contiguously before ``d + "0"``
    ("0" follows "/"): two bisections instead of a tree of parent links.
    """
    if not directory:
        return bisect_right(paths, ""), len(paths)  # "" itself is no child of the root
    lo = bisect_left(paths, directory + "/")
    return lo, bisect_left(paths, directory + "0", lo)


@dataclass(slots=True)
class _Delta:
    """What one layer did to the stack below it, kept compactly until its changes are asked for.

    Most layers take the bulk path and keep only ``previous`` (the lower size of
    each path they modify) and ``removed``: their :class:`Change` objects are
    built per layer on demand.  A layer the bulk path cannot reproduce exactly
    (a path twice in its tar, a replaced directory with its own entries below
    it listed first, a root entry) keeps the changes the per-entry walk found.
    """

    files: LayerFiles
    previous: dict[str, int]
    removed: list[FileEntry]
    changes: list[Change] | None = None


class _Stack:
    """The visible filesystem while layers are applied bottom to top, overlayfs-style.

    ``layers`` maps each visible path to the layer it comes from, in the order
    the paths appeared; its entry is that layer's, found in ``_maps`` (one dict
    per layer, so putting a layer on top is one bulk update).  No tree of parent
    links is kept (linking every path cost more than all the rest): what a
    whiteout, opaque directory or replaced directory removes is looked up by
    bisecting the path lists of the layers below, sorted once each on first
    need (tar order is nearly sorted already).
    """

    def __init__(self, *, bulk: bool = True) -> None:
        #: False: every layer entry by entry (what the bulk path is tested against).
        self.bulk = bulk
        self.layers: dict[str, int] = {}
        self._maps: list[dict[str, FileEntry]] = []
        self._files: list[LayerFiles] = []
        self._sorted: list[list[str] | None] = []

    def visible(self) -> dict[str, StackedEntry]:
        maps = self._maps
        return {path: StackedEntry(maps[layer][path], layer)
                for path, layer in self.layers.items()}

    def _sorted_paths(self, index: int) -> list[str]:
        paths = self._sorted[index]
        if paths is None:
            paths = self._sorted[index] = sorted([e.path for e in self._files[index].entries])
        return paths

    def _below(self, directories: Sequence[str], upto: int) -> list[tuple[int, list[str]]]:
        """Visible paths strictly below any of ``directories``, from layers ``0..upto``.

        Grouped by the layer whose copy is visible, each path once.
        """
        groups: list[tuple[int, list[str]]] = []
        get = self.layers.get
        for index in range(upto + 1):
            paths = self._sorted_paths(index)
            found: list[str] = []
            ranges = 0
            for directory in directories:
                lo, hi = _range_below(paths, directory)
                if lo < hi:
                    ranges += 1
                    part = paths[lo:hi]
                    # Only where this layer's copy is the visible one.
                    found += compress(part, map(eq, map(get, part), repeat(index)))
            if found:
                if ranges > 1 or len(paths) != len(self._maps[index]):
                    found = list(dict.fromkeys(found))  # nested directories, repeated paths
                groups.append((index, found))
        return groups

    def _pop(self, groups: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
        """Take the grouped paths off the stack; returns them (their entries stay in ``_maps``)."""
        pop = self.layers.pop
        for _index, paths in groups:
            deque(map(pop, paths), 0)  # consumed in C
        return groups

    def _remove_marked(self, index: int, files: LayerFiles) -> list[tuple[int, list[str]]]:
        """Apply the layer's whiteouts and opaque directories to the layers below."""
        if not (files.opaque_dirs or files.whiteouts):
            return []
        layers = self.layers
        groups = self._pop(self._below((*files.opaque_dirs, *files.whiteouts), index - 1))
        return groups + self._pop(
            [(layers[p], [p]) for p in dict.fromkeys(files.whiteouts) if p in layers])

    def apply(self, index: int, files: LayerFiles) -> tuple[_Delta, list[FileEntry], list[int]]:
        """Put layer ``index`` on top: what it changed, and the lower entries it hid (by layer).

        In bulk: a path this layer sets that was visible below is modified
        whether or not a marker of this layer removed it first (its lower copy
        is hidden either way), so the markers need no per-path bookkeeping.
        """
        self._files.append(files)
        self._sorted.append(None)
        layers, maps = self.layers, self._maps
        new = {entry.path: entry for entry in files.entries}
        # Where this layer overwrites a visible path: that path's lower layer.
        overlap = {path: layers[path] for path in new.keys() & layers.keys()}
        # Markers act on the layers below only, so they go first: this layer's own
        # entries under an opaque directory (or at a whited-out path) stay.
        groups = self._remove_marked(index, files)
        if (not self.bulk or len(new) != len(files.entries) or "" in new
                or "" in files.whiteouts):
            return self._apply_each(index, files, groups)
        replaced = [path for path, layer in overlap.items()
                    if maps[layer][path].kind is EntryKind.DIR
                    and new[path].kind is not EntryKind.DIR and path in layers]
        if replaced:
            if not self._replaced_first(index, files, replaced):
                return self._apply_each(index, files, groups)
            groups += self._pop(self._below(replaced, index - 1))
        maps.append(new)
        hidden = [maps[layer][path] for path, layer in overlap.items()]
        holders = list(overlap.values())
        previous = dict(zip(overlap, map(_by_size, hidden), strict=True))
        readded = {path for path in overlap if path not in layers}
        removed: list[FileEntry] = []
        for layer, paths in groups:
            if readded:
                paths = [path for path in paths if path not in readded]
            removed += map(maps[layer].__getitem__, paths)
            holders += repeat(layer, len(paths))
        hidden += removed
        layers.update(zip(new, repeat(index)))
        return _Delta(files, previous, removed), hidden, holders

    def _replaced_first(self, index: int, files: LayerFiles, replaced: list[str]) -> bool:
        """Whether each directory this layer replaces by a non-directory comes before its own
        entries below it in the tar (always, in a real diff): then removing the lower
        subtrees first, in bulk, is what the per-entry walk does."""
        position = {entry.path: i for i, entry in enumerate(files.entries)}
        paths = self._sorted_paths(index)
        for directory in replaced:
            lo, hi = _range_below(paths, directory)
            if any(position[p] < position[directory] for p in paths[lo:hi]):
                return False
        return True

    def _apply_each(self, index: int, files: LayerFiles, groups: list[tuple[int, list[str]]]
                    ) -> tuple[_Delta, list[FileEntry], list[int]]:
        """Entry by entry, in tar order, after the markers: exact for any tar, however odd."""
        layers = self.layers
        maps = self._maps
        own: dict[str, FileEntry] = {}  # this layer's visible entries so far
        maps.append(own)
        deleted: dict[str, FileEntry] = {}
        deleted_from: dict[str, int] = {}

        def take(groups: list[tuple[int, list[str]]]) -> None:
            for layer, paths in groups:
                deleted.update((path, maps[layer][path]) for path in paths)
                deleted_from.update(zip(paths, repeat(layer)))

        take(groups)
        changes: list[Change] = []
        hidden: list[FileEntry] = []
        holders: list[int] = []
        for entry in files.entries:
            path = entry.path
            old_layer = layers.get(path)
            if old_layer == index:
                pass  # the same path twice in one tar: the later one wins, nothing to report
            elif old_layer is not None:
                old = maps[old_layer][path]
                if old.kind is EntryKind.DIR and entry.kind is not EntryKind.DIR:
                    # Whatever is below the replaced directory goes, this layer's included.
                    take(self._pop(self._below((path,), index)))
                hidden.append(old)
                holders.append(old_layer)
                changes.append(Change(path, ChangeKind.MODIFIED, entry.kind, entry.size,
                                      old.size))
            elif (gone := deleted.pop(path, None)) is not None:
                hidden.append(gone)
                holders.append(deleted_from.pop(path))
                changes.append(Change(path, ChangeKind.MODIFIED, entry.kind, entry.size,
                                      gone.size))
            else:
                changes.append(Change(path, ChangeKind.ADDED, entry.kind, entry.size))
            own[path] = entry
            layers[path] = index
        hidden += deleted.values()
        holders += deleted_from.values()
        changes += [Change(gone.path, ChangeKind.REMOVED, gone.kind, gone.size, gone.size)
                    for gone in deleted.values()]
        return _Delta(files, {}, [], changes), hidden, holders


def _roll_up(changes: list[Change]) -> list[Change]:
    """Give each directory change the bytes changed beneath it; sorted by path."""
    written: defaultdict[str, int] = defaultdict(int)
    removed: defaultdict[str, int] = defaultdict(int)
    for change in changes:
        if change.entry_kind is not EntryKind.DIR and change.size:
            totals = removed if change.kind is ChangeKind.REMOVED else written
            totals[_parent(change.path)] += change.size
    _propagate(written)
    _propagate(removed)
    rolled = [
        change if change.entry_kind is not EntryKind.DIR
        else replace(change, size=removed[change.path], previous_size=removed[change.path])
        if change.kind is ChangeKind.REMOVED
        else replace(change, size=written[change.path], previous_size=0)
        for change in changes
    ]
    rolled.sort(key=lambda change: change.path)
    return rolled


def _propagate(totals: defaultdict[str, int]) -> None:
    """Bytes per directory (its own files) → bytes per directory including subdirectories.

    Deepest directories first, so each adds a finished total to its parent once:
    far cheaper than walking every file's ancestors on a 50k-file layer.
    """
    by_depth: defaultdict[int, set[str]] = defaultdict(set)
    for path in totals:
        if path:
            by_depth[path.count("/")].add(path)
    for depth in range(max(by_depth, default=0), 0, -1):
        for path in by_depth.pop(depth, ()):
            parent = _parent(path)
            totals[parent] += totals[path]
            by_depth[depth - 1].add(parent)


def _sorted_with_sums(entries: Iterable[FileEntry]) -> tuple[list[FileEntry], list[str], list[int]]:
    """Entries sorted by path, their paths, and running byte sums of the non-directories."""
    ordered = sorted(entries, key=_by_path)
    sums = list(accumulate((0 if e.kind is EntryKind.DIR else e.size for e in ordered),
                           initial=0))
    return ordered, [e.path for e in ordered], sums


def _changes(delta: _Delta) -> tuple[Change, ...]:
    """One layer's changes, sorted by path, each directory rolled up over the changes below it.

    A directory's total is a difference of running sums over the path-sorted
    entries (its subtree is one contiguous run), not a walk up every file's
    parents; the result is what :func:`_roll_up` gives.
    """
    if delta.changes is not None:
        return tuple(_roll_up(delta.changes))
    previous = delta.previous
    ordered, paths, sums = _sorted_with_sums(delta.files.entries)
    rolled: list[Change] = []
    append = rolled.append
    for entry in ordered:
        path = entry.path
        if entry.kind is EntryKind.DIR:
            lo, hi = _range_below(paths, path)
            append(_change(path, ChangeKind.MODIFIED if path in previous else ChangeKind.ADDED,
                          EntryKind.DIR, sums[hi] - sums[lo], 0))
        elif path in previous:
            append(_change(path, ChangeKind.MODIFIED, entry.kind, entry.size, previous[path]))
        else:
            append(_change(path, ChangeKind.ADDED, entry.kind, entry.size))
    if delta.removed:
        ordered, paths, sums = _sorted_with_sums(delta.removed)
        for entry in ordered:
            size = entry.size
            if entry.kind is EntryKind.DIR:
                lo, hi = _range_below(paths, entry.path)
                size = sums[hi] - sums[lo]
            append(_change(entry.path, ChangeKind.REMOVED, entry.kind, size, size))
        rolled.sort(key=_by_path)  # two sorted runs: one merge
    return tuple(rolled)


#: Wasted paths, their bytes, and row → (holder layers, hider layers); one row per path.
_WasteRows = tuple[list[str], list[int], Callable[[int], tuple[tuple[int, ...], tuple[int, ...]]]]


class _Waste:
    """Every hidden copy with bytes, as parallel lists; :class:`WastedPath` objects only on request.

    An image that deletes a big tree hides tens of thousands of paths while a
    report shows the top few dozen: building and sorting an object per path was
    most of the stacking time.  ``total`` is exact from the sizes alone.
    """

    __slots__ = ("_merged", "hiders", "holders", "paths", "sizes")

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.sizes: list[int] = []
        self.holders: list[int] = []
        self.hiders: list[int] = []
        self._merged: _WasteRows | None = None

    def add(self, hidden: list[FileEntry], holders: list[int], hider: int) -> None:
        sizes = [entry.size for entry in hidden]
        before = len(self.sizes)
        self.sizes += compress(sizes, sizes)  # zero-byte paths waste nothing
        self.paths += compress(map(_by_path, hidden), sizes)
        self.holders += compress(holders, sizes)
        self.hiders += repeat(hider, len(self.sizes) - before)

    @property
    def total(self) -> int:
        return sum(self.sizes)

    def _per_path(self) -> _WasteRows:
        """One row per path: a path hidden in several layers adds up its copies."""
        if self._merged is not None:
            return self._merged
        paths, holders, hiders = self.paths, self.holders, self.hiders
        merged: _WasteRows
        if len(set(paths)) == len(paths):  # the usual case: each copy is its own row
            merged = (paths, self.sizes, lambda row: ((holders[row],), (hiders[row],)))
        else:
            rows: dict[str, tuple[int, set[int], set[int]]] = {}
            for path, size, holder, hider in zip(paths, self.sizes, holders, hiders,
                                                 strict=True):
                row = rows.get(path)
                if row is None:
                    rows[path] = (size, {holder}, {hider})
                else:
                    row[1].add(holder)
                    row[2].add(hider)
                    rows[path] = (row[0] + size, row[1], row[2])
            layers = [(tuple(sorted(row[1])), tuple(sorted(row[2]))) for row in rows.values()]
            merged = (list(rows), [row[0] for row in rows.values()], layers.__getitem__)
        self._merged = merged
        return merged

    def ranked(self, limit: int | None) -> tuple[WastedPath, ...]:
        """The ``[:limit]`` slice of every wasted path, largest first (ties by path)."""
        paths, sizes, layers_of = self._per_path()
        # The paths are unique, so (-size, path) is a total order: the row never decides.
        keys = zip(map(neg, sizes), paths, range(len(paths)), strict=True)
        if limit is None or limit < 0 or limit >= len(paths):
            top = sorted(keys)[:limit]
        else:
            top = nsmallest(limit, keys)
        return tuple(WastedPath(path, -size, *layers_of(row)) for size, path, row in top)


@dataclass(slots=True, eq=False)
class _Stacked:
    """One pass over all layers: what each changed, and the waste."""

    deltas: list[_Delta]
    waste: _Waste


def _stack_all(layers: Iterable[LayerFiles], *, bulk: bool = True) -> _Stacked:
    stack = _Stack(bulk=bulk)
    waste = _Waste()
    deltas: list[_Delta] = []
    for index, files in enumerate(layers):
        delta, hidden, holders = stack.apply(index, files)
        deltas.append(delta)
        waste.add(hidden, holders, index)
    return _Stacked(deltas, waste)


def stack_layers(layers: Iterable[LayerFiles]) -> dict[str, StackedEntry]:
    """The filesystem a container sees when ``layers`` (bottom first) are stacked."""
    stack = _Stack()
    for index, files in enumerate(layers):
        stack.apply(index, files)
    return stack.visible()


def layer_changes(layers: Sequence[LayerFiles]) -> tuple[tuple[Change, ...], ...]:
    """What each layer adds, modifies and removes relative to the stack below it."""
    return tuple(_changes(delta) for delta in _stack_all(layers).deltas)


def find_waste(layers: Sequence[LayerFiles]) -> tuple[WastedPath, ...]:
    """The wasted paths of the whole stack, largest first.

    Wasted = every lower-layer copy the final stack does not show: overwritten,
    deleted, or hidden by an opaque directory.  Zero-byte paths are left out.
    """
    return _stack_all(layers).waste.ranked(None)


def pair_history(
    steps: Sequence[HistoryStep], layer_count: int
) -> tuple[tuple[tuple[HistoryStep, ...], ...], tuple[HistoryStep, ...]]:
    """Give each layer its history steps by the ``empty_layer`` flags alone (never by size).

    Each step that is not ``empty_layer`` makes the next layer; a metadata-only
    step belongs to the layer made before it, and those recorded before the
    first layer belong to the bottom layer.  Returns the steps per layer and
    the steps no layer was left for (history and layers disagree).
    """
    groups: list[list[HistoryStep]] = [[] for _ in range(layer_count)]
    leading: list[HistoryStep] = []
    unpaired: list[HistoryStep] = []
    current = -1
    for step in steps:
        if not step.empty_layer:
            if current + 1 < layer_count:
                current += 1
                if current == 0:
                    groups[0].extend(leading)
                    leading = []
                groups[current].append(step)
            else:
                unpaired.append(step)
        elif current < 0:
            leading.append(step)
        else:
            groups[current].append(step)
    if leading and layer_count:
        groups[0][:0] = leading
    else:
        unpaired[:0] = leading
    return tuple(tuple(group) for group in groups), tuple(unpaired)


@dataclass(frozen=True, slots=True)
class ImageAnalysis:
    """An image's layers, what each changes, and the bytes the final filesystem never shows.

    ``efficiency`` is ``1 - wasted_bytes / total_size``: the share of the bytes
    the layers carry that a container can actually see (1.0 for an image with
    no bytes).  It is *not* dive's Σmin/Σcumulative score: opaque directories
    count, and a file written once and deleted later counts fully.
    """

    name: str
    image_id: str
    layers: tuple[ImageLayer, ...]
    #: The stacking pass over ``layers`` (derived from them, so not compared).
    _stacked: _Stacked = field(repr=False, compare=False)
    #: History steps no layer was left for (they mean history and layers disagree).
    unpaired_steps: tuple[HistoryStep, ...] = ()
    repo_tags: tuple[str, ...] = field(default=())
    _changes: dict[int, tuple[Change, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def changes(self, index: int) -> tuple[Change, ...]:
        """What layer ``index`` adds, modifies and removes, sorted by path.

        Built for one layer on first use, from what the stacking pass kept: a
        headless report never needs them, a window only for the layers shown.
        """
        delta = self._stacked.deltas[index]
        index %= len(self.layers)
        changes = self._changes.get(index)
        if changes is None:
            changes = self._changes[index] = _changes(delta)
        return changes

    @property
    def total_size(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def wasted(self) -> tuple[WastedPath, ...]:
        """Every wasted path, largest first (builds them all: prefer :meth:`wasted_paths`)."""
        return self._stacked.waste.ranked(None)

    @property
    def wasted_bytes(self) -> int:
        return self._stacked.waste.total

    @property
    def efficiency(self) -> float:
        total = self.total_size
        return 1.0 - self.wasted_bytes / total if total else 1.0

    @property
    def history_matches_layers(self) -> bool:
        """Whether the history had exactly one layer-making step per layer."""
        return not self.unpaired_steps and all(layer.step for layer in self.layers)

    @property
    def steps(self) -> tuple[HistoryStep, ...]:
        return tuple(step for layer in self.layers for step in layer.steps) + self.unpaired_steps

    def wasted_paths(self, limit: int | None = 10) -> tuple[WastedPath, ...]:
        """The ``limit`` largest wasted paths (all when None), largest first."""
        return self._stacked.waste.ranked(limit)

    def aggregated(self, upto: int | None = None) -> dict[str, StackedEntry]:
        """The filesystem as a container sees it with layers ``0..upto`` (all when None).

        ``upto`` is inclusive and may count from the top (-1 is the top layer).
        """
        if upto is not None and upto < 0:
            upto += len(self.layers)
        count = len(self.layers) if upto is None else upto + 1
        if not 0 < count <= len(self.layers):
            raise IndexError(f"no layer {upto} in an image of {len(self.layers)} layers")
        return stack_layers(layer.files for layer in self.layers[:count])


def analyze_layers(
    layers: Sequence[LayerFiles],
    *,
    history: Sequence[HistoryStep] = (),
    diff_ids: Sequence[str] = (),
    name: str = "",
    image_id: str = "",
    repo_tags: Sequence[str] = (),
) -> ImageAnalysis:
    """Everything :class:`ImageAnalysis` reports, from layer file lists alone (no I/O)."""
    steps, unpaired = pair_history(history, len(layers))
    return ImageAnalysis(
        name=name,
        image_id=image_id,
        layers=tuple(
            ImageLayer(index, diff_ids[index] if index < len(diff_ids) else "", files,
                       steps[index])
            for index, files in enumerate(layers)
        ),
        _stacked=_stack_all(layers),
        unpaired_steps=unpaired,
        repo_tags=tuple(repo_tags),
    )


# -- a sans-IO tar parser -----------------------------------------------------------------

_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
#: Long names and PAX records larger than this are not a real image's.
_META_LIMIT = 1 << 20
_NO_DATA_TYPES = frozenset(b"123456")  # links, devices, directories, FIFOs: size is not data
_META_TYPES = frozenset(b"LKxg")
_SIGNED_FIELDS = struct.Struct("148b8x356b")
#: name, size, checksum, typeflag, linkname, magic, prefix (mode, ids, times, owner names skipped).
_HEADER = struct.Struct("100s24x12s12x8sB100s6s2x80x155s")


class TarMember(NamedTuple):
    """One member header, with GNU long names and PAX overrides applied.

    A named tuple, not a frozen dataclass: one is made per file of every layer,
    and a tuple is several times cheaper to build.
    """

    name: str
    size: int
    type: str  # the typeflag: "0" file, "1" hard link, "2" symlink, "5" directory, …
    linkname: str


class MemberSink(Protocol):
    """Receives one member's data as it streams past."""

    def write(self, data: memoryview) -> None: ...

    def close(self) -> None: ...


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    """An octal header number, or GNU base-256 (high bit set) for sizes of 8 GiB and more."""
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        return value - 256 ** (len(field) - 1) if field[0] == 0xFF else value
    digits = field.split(b"\0", 1)[0].strip()
    try:
        return int(digits, 8) if digits else 0
    except ValueError:
        raise ProtocolError(f"a tar header has an unreadable number {field!r}") from None


def _byte_sum(block: bytes) -> int:
    """``sum(block)`` of a 512-byte header, five times faster.

    Adler-32's first half is 1 + the byte sum mod 65521; 256 bytes sum to at
    most 65280, so per half it is the exact sum.
    """
    return (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:]) & 0xFFFF) - 2


def _checksum_ok(block: bytes) -> bool:
    """The header checksum, unsigned or signed (as some old tars wrote it)."""
    try:
        stored = _number(block[148:156])
    except ProtocolError:
        return False
    # The checksum field itself counts as eight spaces (8 * 0x20 = 256).
    if stored == _byte_sum(block) - sum(block[148:156]) + 256:
        return True
    signed: int = 256 + sum(_SIGNED_FIELDS.unpack_from(block))
    return stored == signed


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    try:
        while pos < len(data) and data[pos] != 0:
            space = data.index(b" ", pos)
            length = int(data[pos:space])
            if length <= space - pos:
                break
            key, _, value = data[space + 1: pos + length - 1].partition(b"=")
            records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
            pos += length
    except ValueError:
        raise ProtocolError("a tar archive has an unreadable PAX header") from None
    return records


class TarParser:
    """Push parser for a tar stream: feed it bytes split anywhere; it calls back per member.

    ``on_member`` returns a :class:`MemberSink` for the member's data, or None to
    skip it (skipping costs no copy).  Handles ustar prefixes, GNU long names
    (``L``/``K``), PAX (``x``/``g``: path, linkpath, size) and base-256 sizes.
    """

    def __init__(self, on_member: Callable[[TarMember], MemberSink | None]) -> None:
        self._on_member = on_member
        self._header = bytearray()
        self._remaining = 0
        self._padding = 0
        self._next_padding = 0
        #: The padding counted into ``_remaining`` when a skipped member's data and
        #: padding are passed over in one step.
        self._skip_tail = 0
        self._sink: MemberSink | None = None
        self._meta_type: int | None = None
        self._meta = bytearray()
        self._long_name: str | None = None
        self._long_link: str | None = None
        self._pax: dict[str, str] = {}
        self._global_pax: dict[str, str] = {}
        self._seen_header = False
        self.ended = False

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        view = data if isinstance(data, memoryview) else memoryview(data)
        pos, end = 0, len(view)
        while pos < end and not self.ended:
            if self._remaining:
                take = min(self._remaining, end - pos)
                if self._sink is not None:
                    self._sink.write(view[pos:pos + take])
                elif self._meta_type is not None:
                    self._meta += view[pos:pos + take]
                self._remaining -= take
                pos += take
                if not self._remaining:
                    self._end_member()
            elif self._padding:
                take = min(self._padding, end - pos)
                self._padding -= take
                pos += take
            elif not self._header and end - pos >= _BLOCK:
                self._on_header(bytes(view[pos:pos + _BLOCK]))
                pos += _BLOCK
            else:
                take = min(_BLOCK - len(self._header), end - pos)
                self._header += view[pos:pos + take]
                pos += take
                if len(self._header) == _BLOCK:
                    block = bytes(self._header)
                    self._header.clear()
                    self._on_header(block)

    def close(self) -> None:
        """The stream ended: it must not end inside a member."""
        if self._remaining > self._skip_tail or self._header or self._meta_type is not None:
            raise ProtocolError("a tar archive in the image export ended in the middle of a file")

    def _on_header(self, block: bytes) -> None:
        # The hot path of a 50k-file image: one unpack, the helpers inlined for the
        # usual octal fields; anything unusual falls back to the careful helpers.
        name_field, size_field, sum_field, type_flag, link_field, magic, prefix = \
            _HEADER.unpack_from(block)
        try:
            stored = int(sum_field.split(b"\0", 1)[0], 8)
        except ValueError:
            stored = -1
        # The checksum field itself counts as eight spaces (8 * 0x20 = 256).
        if stored != _byte_sum(block) - sum(sum_field) + 256 and not _checksum_ok(block):
            if block == _ZERO_BLOCK:
                self.ended = True
                return
            what = "is corrupt" if self._seen_header else "is not a tar archive"
            raise ProtocolError(f"a tar header in the image export {what}")
        self._seen_header = True
        type_flag = type_flag or 0x30  # "0"
        try:
            size = int(size_field.split(b"\0", 1)[0], 8)
        except ValueError:
            size = _number(size_field)  # base-256, blank, or garbage (raises)
        if type_flag in _META_TYPES:
            if size > _META_LIMIT:
                raise ProtocolError("a tar archive has an implausibly long name or PAX header")
            self._meta_type = type_flag
            self._meta.clear()
            self._start_data(size, None)
            return
        name = name_field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        # POSIX ustar has a name prefix; GNU keeps other fields in those bytes.
        if prefix[0] and magic == b"ustar\x00":
            name = f"{_text(prefix)}/{name}"
        linkname = _text(link_field) if link_field[0] else ""
        if self._long_name is not None or self._long_link is not None or self._pax \
                or self._global_pax:
            name, linkname, size = self._extended(name, linkname, size)
        if type_flag == 0x30 and name.endswith("/"):
            type_flag = 0x35  # pre-POSIX archives mark directories with a slash only
        sink = self._on_member(TarMember(name, size, chr(type_flag), linkname))
        if type_flag in _NO_DATA_TYPES or not size:
            if sink is not None:  # nothing to stream: done at once
                sink.close()
        else:
            self._start_data(size, sink)

    def _extended(self, name: str, linkname: str, size: int) -> tuple[str, str, int]:
        """Apply the GNU long name/link and PAX records that came before this header."""
        pax = {**self._global_pax, **self._pax} if self._global_pax else self._pax
        if self._long_name is not None:
            name = self._long_name
        if self._long_link is not None:
            linkname = self._long_link
        name = pax.get("path", name)
        linkname = pax.get("linkpath", linkname)
        if "size" in pax:
            size = int(pax["size"])
        self._long_name = self._long_link = None
        self._pax = {}
        return name, linkname, size

    def _start_data(self, size: int, sink: MemberSink | None) -> None:
        self._sink = sink
        padding = -size % _BLOCK
        if sink is None and self._meta_type is None:  # skipped: data and padding at once
            self._remaining, self._skip_tail, self._next_padding = size + padding, padding, 0
        else:
            self._remaining, self._next_padding = size, padding
        if not size:
            self._end_member()

    def _end_member(self) -> None:
        if self._sink is not None:
            sink, self._sink = self._sink, None
            sink.close()
        elif self._meta_type is not None:
            meta_type, self._meta_type = self._meta_type, None
            data = bytes(self._meta)
            if meta_type == ord("L"):
                self._long_name = _text(data)
            elif meta_type == ord("K"):
                self._long_link = _text(data)
            elif meta_type == ord("x"):
                self._pax = _pax_records(data)
            else:
                self._global_pax.update(_pax_records(data))
        self._padding = self._next_padding
        self._skip_tail = 0


# -- reading the image export -------------------------------------------------------------

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_KINDS = {"0": EntryKind.FILE, "7": EntryKind.FILE, "1": EntryKind.HARDLINK,
          "2": EntryKind.SYMLINK, "5": EntryKind.DIR}
#: JSON documents (config, manifests) kept whole; a real one is a few kB.
_JSON_LIMIT = 16 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _normalise(name: str) -> str:
    """``./usr//bin/`` → ``usr/bin``; the root itself is ``""``."""
    if not name.startswith((".", "/")) and "/." not in name and "//" not in name:
        return name.rstrip("/")  # the usual case, without normpath's cost
    return posixpath.normpath("/" + name).lstrip("/")


class _LayerIndexer:
    """Parses one layer tar as it streams past, keeping only its headers."""

    def __init__(self) -> None:
        self.entries: list[FileEntry] = []
        self.whiteouts: list[str] = []
        self.opaque_dirs: list[str] = []
        self._parser = TarParser(self._on_member)

    def write(self, data: memoryview) -> None:
        self._parser.feed(data)

    def close(self) -> None:
        self._parser.close()

    def result(self) -> LayerFiles:
        return LayerFiles(tuple(self.entries), tuple(self.whiteouts), tuple(self.opaque_dirs))

    def _on_member(self, member: TarMember) -> None:
        path = _normalise(member.name)
        if not path:
            return
        if _WHITEOUT in path:
            directory, _, base = path.rpartition("/")
            if base.startswith(_WHITEOUT):
                if base == _OPAQUE:
                    self.opaque_dirs.append(directory)
                elif not base.startswith(_OPAQUE[:8]):  # other .wh..wh.* are the storage's own
                    hidden = base[len(_WHITEOUT):]
                    self.whiteouts.append(f"{directory}/{hidden}" if directory else hidden)
                return
        kind = _KINDS.get(member.type, EntryKind.OTHER)
        if kind is EntryKind.FILE:
            self.entries.append(FileEntry(path, member.size, kind))
        elif kind is EntryKind.SYMLINK:
            link = member.linkname
            self.entries.append(FileEntry(path, len(link.encode("utf-8", "surrogateescape")),
                                          kind, link))
        elif kind is EntryKind.HARDLINK:
            self.entries.append(FileEntry(path, 0, kind, _normalise(member.linkname)))
        else:
            self.entries.append(FileEntry(path, 0, kind))


class _GzipLayer:
    """A gzip-compressed layer blob (containerd image store), inflated in bounded steps."""

    def __init__(self) -> None:
        self.indexer = _LayerIndexer()
        self._inflater = zlib.decompressobj(wbits=31)

    def write(self, data: memoryview) -> None:
        pending: bytes | memoryview = data
        while True:
            if self._inflater.eof:  # concatenated gzip members, or zero padding after the last
                pending = self._inflater.unused_data + bytes(pending)
                if not pending.strip(b"\0"):
                    return
                self._inflater = zlib.decompressobj(wbits=31)
            if not pending:
                return
            try:
                # Bounded output: 64 kB of compressed zeros may inflate to a gigabyte.
                out = self._inflater.decompress(pending, 1 << 20)
            except zlib.error as exc:
                raise ProtocolError(f"a gzip layer in the image export is corrupt: {exc}") from exc
            if out:
                self.indexer.write(memoryview(out))
            pending = self._inflater.unconsumed_tail

    def close(self) -> None:
        if not self._inflater.eof:
            self.indexer.write(memoryview(self._inflater.flush()))
        self.indexer.close()


class _Discard:
    def write(self, data: memoryview) -> None:
        pass

    def close(self) -> None:
        pass


class _Sniffer:
    """Decides from a member's first block what it is: a layer tar (plain or gzip), JSON, other."""

    def __init__(self, archive: ImageArchiveReader, path: str, size: int) -> None:
        self._archive = archive
        self._path = path
        self._size = size
        self._head = bytearray()
        self._target: MemberSink | None = None

    def write(self, data: memoryview) -> None:
        if self._target is None:
            self._head += data
            if len(self._head) < _BLOCK:
                return
            self._choose()
            assert self._target is not None
            head = self._head
            self._head = bytearray()
            self._target.write(memoryview(head))
        else:
            self._target.write(data)

    def _choose(self) -> None:
        head = bytes(self._head[:_BLOCK])
        archive, path = self._archive, self._path
        if head.startswith(_GZIP_MAGIC):
            gzip_layer = _GzipLayer()
            archive.layers[path] = gzip_layer.indexer
            self._target = gzip_layer
        elif head.startswith(_ZSTD_MAGIC):
            archive.unsupported[path] = "zstd"
            self._target = _Discard()
        elif len(head) == _BLOCK and (head == _ZERO_BLOCK or _checksum_ok(head)):
            indexer = _LayerIndexer()
            archive.layers[path] = indexer
            self._target = indexer
        elif self._size <= _JSON_LIMIT and ("/" not in path or path.startswith("blobs/")):
            self._target = _Keep(archive, path)
        else:
            self._target = _Discard()

    def close(self) -> None:
        if self._target is None:
            self._choose()
            assert self._target is not None
            self._target.write(memoryview(self._head))
        self._target.close()


class _Keep:
    def __init__(self, archive: ImageArchiveReader, path: str) -> None:
        self._archive = archive
        self._path = path
        self._data = bytearray()

    def write(self, data: memoryview) -> None:
        self._data += data

    def close(self) -> None:
        self._archive.documents[self._path] = bytes(self._data)


@dataclass(frozen=True, slots=True)
class SavedImage:
    """What an image export says once it is read: layers bottom first, config, names."""

    layers: tuple[LayerFiles, ...]
    config: Mapping[str, Any]
    repo_tags: tuple[str, ...] = ()

    @property
    def diff_ids(self) -> tuple[str, ...]:
        rootfs = self.config.get("rootfs") or {}
        return tuple(str(d) for d in rootfs.get("diff_ids") or ())

    @property
    def history(self) -> tuple[HistoryStep, ...]:
        return tuple(HistoryStep.from_config(raw) for raw in self.config.get("history") or ()
                     if isinstance(raw, Mapping))


class ImageArchiveReader:
    """Sans-IO reader of an image export (``docker save`` / ``GET /images/{name}/get``).

    Feed it the bytes in any chunking, then :meth:`close` for the :class:`SavedImage`.
    """

    def __init__(self) -> None:
        self.layers: dict[str, _LayerIndexer] = {}
        self.documents: dict[str, bytes] = {}
        self.unsupported: dict[str, str] = {}
        self._links: dict[str, str] = {}
        self._parser = TarParser(self._on_member)
        self.bytes_read = 0

    def feed(self, data: bytes | memoryview) -> None:
        self.bytes_read += len(data)
        self._parser.feed(data)

    def _on_member(self, member: TarMember) -> MemberSink | None:
        path = _normalise(member.name)
        if member.type == "2":  # Podman and legacy exports symlink layer.tar to the real one
            self._links[path] = _normalise(posixpath.join(posixpath.dirname(path),
                                                          member.linkname))
        elif member.type == "1":
            self._links[path] = _normalise(member.linkname)
        elif member.type in ("0", "7"):
            return _Sniffer(self, path, member.size)
        return None

    def close(self) -> SavedImage:
        self._parser.close()
        if not self._parser.ended and not self.bytes_read:
            raise ProtocolError("the engine sent an empty image export")
        if "manifest.json" in self.documents:
            manifest = self._json("manifest.json")
            if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
                raise ProtocolError("the image export's manifest.json lists no image")
            entry = manifest[0]
            config_path = str(entry.get("Config") or "")
            layer_paths = [str(p) for p in entry.get("Layers") or []]
            repo_tags = tuple(str(t) for t in entry.get("RepoTags") or [])
        elif "index.json" in self.documents:
            config_path, layer_paths = self._from_oci_index()
            repo_tags = ()
        else:
            raise ProtocolError("the image export has neither manifest.json nor index.json")
        config = self._json(config_path)
        if not isinstance(config, dict):
            raise ProtocolError(f"the image config {config_path} is not a JSON object")
        return SavedImage(tuple(self._layer(p) for p in layer_paths), config, repo_tags)

    def _resolve(self, path: str) -> str:
        path = _normalise(path)
        for _ in range(16):
            if path not in self._links:
                return path
            path = self._links[path]
        raise ProtocolError(f"the image export has a symlink loop at {path}")

    def _json(self, path: str) -> Any:
        resolved = self._resolve(path)
        if resolved not in self.documents:
            raise ProtocolError(f"the image export has no {path}")
        try:
            return json.loads(self.documents[resolved])
        except ValueError as exc:
            raise ProtocolError(f"{path} in the image export is not JSON: {exc}") from exc

    def _from_oci_index(self) -> tuple[str, list[str]]:
        """An OCI layout without the Docker compatibility manifest: follow index.json."""
        document = self._json("index.json")
        for _ in range(8):
            manifests = document.get("manifests") if isinstance(document, dict) else None
            if not manifests:
                break
            document = self._json(_blob_path(str(manifests[0].get("digest", ""))))
        if not isinstance(document, dict) or "layers" not in document:
            raise ProtocolError("the image export's index.json leads to no image manifest")
        config = _blob_path(str((document.get("config") or {}).get("digest", "")))
        return config, [_blob_path(str(layer.get("digest", ""))) for layer in document["layers"]]

    def _layer(self, path: str) -> LayerFiles:
        resolved = self._resolve(path)
        if resolved in self.layers:
            return self.layers[resolved].result()
        if resolved in self.unsupported:
            raise ProtocolError(
                f"layer {path} is {self.unsupported[resolved]}-compressed, which Dockyard cannot"
                " read yet"
            )
        if resolved in self.documents:  # too short to sniff (an empty tar of under a block)
            data = self.documents[resolved]
            if not data.strip(b"\0"):
                return LayerFiles()
            indexer = _LayerIndexer()
            indexer.write(memoryview(data))
            indexer.close()
            return indexer.result()
        raise ProtocolError(f"the image export has no layer {path}")


def _blob_path(digest: str) -> str:
    algorithm, _, hex_digest = digest.partition(":")
    return f"blobs/{algorithm}/{hex_digest}"


def read_image_archive(chunks: Iterable[bytes]) -> SavedImage:
    """Read a whole image export from byte chunks (a file, a test's tar)."""
    reader = ImageArchiveReader()
    for chunk in chunks:
        reader.feed(chunk)
    return reader.close()


# -- the engine call ----------------------------------------------------------------------

ProgressCallback = Callable[[int, int], None]
#: Progress is reported at most this often (bytes, seconds): a UI needs no more, and a
#: callback per network read costs real time on a 40k-chunk export.
_PROGRESS_BYTES = 1 << 20
_PROGRESS_SECONDS = 0.05


async def analyze_image(
    client: Engine, name: str, *, progress: ProgressCallback | None = None
) -> ImageAnalysis:
    """Stream the image's export once and analyse its layers; nothing is written to disk.

    ``progress(read, total)`` is called with the bytes read and the image size
    from inspect (the export is a little larger, for tar headers, so ``total``
    grows with ``read`` near the end): on the first chunk, then after every MiB
    or 50 ms, whichever comes first, and once more at the end with ``read ==
    total``.  Cancelling the task closes the connection.  Raises
    :class:`NotFound` for an unknown image.
    """
    details = await client.image(name)  # NotFound before any streaming, and the size
    total = details.size
    reader = ImageArchiveReader()
    reported, reported_at = -_PROGRESS_BYTES, 0.0
    clock = time.monotonic
    # By ID: a tag moved between the inspect and the export must not mix two images.
    async with client.open_body("GET", f"/images/{details.id}/get") as body:
        async for chunk in body:
            reader.feed(chunk)
            if progress is not None:
                read = reader.bytes_read
                if read - reported >= _PROGRESS_BYTES or clock() - reported_at >= \
                        _PROGRESS_SECONDS:
                    reported, reported_at = read, clock()
                    progress(read, max(total, read))
    with no_cyclic_gc():
        saved = reader.close()
    if progress is not None:
        progress(reader.bytes_read, reader.bytes_read)
    with no_cyclic_gc():
        return analyze_layers(
            saved.layers,
            history=saved.history,
            diff_ids=saved.diff_ids,
            name=name,
            image_id=details.id,
            repo_tags=details.repo_tags,
        )


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off for one synchronous stretch (no await inside).

    Stacking a 50k-file image builds some 10^5 objects with no cycles among
    them; the collections their allocation triggers free nothing and took a
    third of the stacking time.  Reference counting frees garbage as usual.
    In a worker thread it also keeps those collections, which hold the GIL,
    from stalling the GUI thread; overlapping uses never leave it off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
