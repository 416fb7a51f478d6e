"""Stacking layers: the final filesystem, each layer's changes (diff) and the wasted bytes.

Pure functions over :class:`~engine._layers.model.LayerFiles`: whiteouts, opaque
directories, what a later layer hides (the efficiency's waste), testable without
an engine.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from heapq import nsmallest
from itertools import accumulate, compress, repeat
from operator import attrgetter, eq, neg

from engine._layers.model import (
    Change,
    ChangeKind,
    EntryKind,
    FileEntry,
    LayerFiles,
    StackedEntry,
    WastedPath,
    make_change,
)


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


def _link_data(own: dict[str, FileEntry], link: FileEntry) -> FileEntry | None:
    """The entry of the same layer that holds a hard link's bytes (links to links followed)."""
    seen = {link.path}
    entry = own.get(link.link)
    while entry is not None and entry.kind is EntryKind.HARDLINK and entry.path not in seen:
        seen.add(entry.path)
        entry = own.get(entry.link)
    return entry if entry is not None and entry.kind is not EntryKind.HARDLINK else None


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
        """Every visible path; a hard link shows the bytes of the file it shares them with.

        A layer tar stores those bytes once, at the first name, and the other
        names as 0-byte links to it: when that first name is later deleted or
        copied up, the remaining link is still a file of that size.
        """
        maps = self._maps
        shown = {path: StackedEntry(maps[layer][path], layer)
                 for path, layer in self.layers.items()}
        for path, layer in self.layers.items():
            entry = maps[layer][path]
            if entry.kind is EntryKind.HARDLINK:
                data = _link_data(maps[layer], entry)
                if data is not None:
                    shown[path] = StackedEntry(replace(entry, size=data.size), layer)
        return shown

    def hard_links(self) -> dict[tuple[int, str], list[str]]:
        """(layer, name holding the bytes) → the other names of those bytes in that layer."""
        names: dict[tuple[int, str], list[str]] = {}
        for index, files in enumerate(self._files):
            if not any(entry.kind is EntryKind.HARDLINK for entry in files.entries):
                continue
            own = self._maps[index]
            for entry in files.entries:
                if entry.kind is EntryKind.HARDLINK:
                    data = _link_data(own, entry)
                    if data is not None:
                        names.setdefault((index, data.path), []).append(entry.path)
        return names

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


def delta_changes(delta: _Delta) -> tuple[Change, ...]:
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
            append(make_change(path, ChangeKind.MODIFIED if path in previous else ChangeKind.ADDED,
                          EntryKind.DIR, sums[hi] - sums[lo], 0))
        elif path in previous:
            append(make_change(path, ChangeKind.MODIFIED, entry.kind, entry.size, previous[path]))
        else:
            append(make_change(path, ChangeKind.ADDED, entry.kind, entry.size))
    if delta.removed:
        ordered, paths, sums = _sorted_with_sums(delta.removed)
        for entry in ordered:
            size = entry.size
            if entry.kind is EntryKind.DIR:
                lo, hi = _range_below(paths, entry.path)
                size = sums[hi] - sums[lo]
            append(make_change(entry.path, ChangeKind.REMOVED, entry.kind, size, size))
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

    def keep_reachable(self, links: dict[tuple[int, str], list[str]],
                       visible: dict[str, int]) -> None:
        """Drop the hidden copies whose bytes a hard link of their layer still shows.

        A name deleted (or copied up by a chmod) above hides that name only: the
        bytes it shares with another name of its layer are wasted only when no
        such name is visible in the final filesystem.
        """
        if not links:
            return
        keep = [not any(visible.get(name) == holder for name in links.get((holder, path), ()))
                for path, holder in zip(self.paths, self.holders, strict=True)]
        if all(keep):
            return
        self.paths = list(compress(self.paths, keep))
        self.sizes = list(compress(self.sizes, keep))
        self.holders = list(compress(self.holders, keep))
        self.hiders = list(compress(self.hiders, keep))
        self._merged = None

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
class Stacked:
    """One pass over all layers: what each changed, and the waste."""

    deltas: list[_Delta]
    waste: _Waste


def stack_all(layers: Iterable[LayerFiles], *, bulk: bool = True) -> Stacked:
    stack = _Stack(bulk=bulk)
    waste = _Waste()
    deltas: list[_Delta] = []
    for index, files in enumerate(layers):
        delta, hidden, holders = stack.apply(index, files)
        deltas.append(delta)
        waste.add(hidden, holders, index)
    waste.keep_reachable(stack.hard_links(), stack.layers)
    return Stacked(deltas, waste)


def stack_layers(layers: Iterable[LayerFiles]) -> dict[str, StackedEntry]:
    """The filesystem a container sees when ``layers`` (bottom first) are stacked."""
    stack = _Stack()
    for index, files in enumerate(layers):
        stack.apply(index, files)
    return stack.visible()


def layer_changes(layers: Sequence[LayerFiles]) -> tuple[tuple[Change, ...], ...]:
    """What each layer adds, modifies and removes relative to the stack below it."""
    return tuple(delta_changes(delta) for delta in stack_all(layers).deltas)


def find_waste(layers: Sequence[LayerFiles]) -> tuple[WastedPath, ...]:
    """The wasted paths of the whole stack, largest first.

    Wasted = every lower-layer copy the final stack does not show: overwritten,
    deleted, or hidden by an opaque directory.  Zero-byte paths are left out.
    """
    return stack_all(layers).waste.ranked(None)
