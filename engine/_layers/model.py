"""What an image's layers hold and change: files, history steps, changes, waste.

Plain frozen values shared by the stacking, the archive reader and the UI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine._models import parse_timestamp


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


DOCKERFILE_KEYWORDS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})
SHELL_PREFIXES = ("/bin/sh -c ", "/bin/bash -c ", "/bin/ash -c ", "cmd /S /C ")
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
    for prefix in SHELL_PREFIXES:
        if text.startswith(prefix):
            text, is_run = text[len(prefix):], True
            break
    if text.startswith("#(nop)"):
        return text[len("#(nop)"):].strip()
    if is_run:
        return f"RUN {text}"
    if text.split(" ", 1)[0] in DOCKERFILE_KEYWORDS or empty_layer or not text:
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
    raise AssertionError("make_change() sets Change's fields by name: update it")


def make_change(path: str, kind: ChangeKind, entry_kind: EntryKind, size: int,
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
    (opaque directory) hid them.  A ``folder`` row (see
    :meth:`engine.ImageAnalysis.wasted_folders`) stands for the ``files`` hidden
    below a directory that a layer deleted or replaced as a whole.
    """

    path: str
    size: int
    layers: tuple[int, ...]
    hidden_by: tuple[int, ...]
    folder: bool = False
    files: int = 1
