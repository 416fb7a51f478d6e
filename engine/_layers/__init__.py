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
- OCI (Docker 25+): ``blobs/sha256/<hex>`` (plain, or gzip or zstd with the
  containerd store) plus a compatibility ``manifest.json``,
  or ``index.json`` alone;
- Podman's docker-archive: ``<diffid>.tar`` at the root plus legacy directories
  whose ``layer.tar`` is a symlink.

One module per role: :mod:`.model` (the values), :mod:`.tar` (a sans-IO tar
parser), :mod:`.archive` (the export's layouts), :mod:`.stacking` (whiteouts,
opaque directories, each layer's changes, wasted bytes: pure functions over
:class:`LayerFiles`, testable without an engine), :mod:`.analysis` (history
paired to layers, efficiency), :mod:`.outline` (the tree before the export is
read), :mod:`.export` (the engine call), :mod:`.cache` (analysed exports remembered
on disk) and :mod:`.diff` (two images compared).

Sizes follow ``docker history``: a regular file counts its content bytes, a
symlink the length of its target (what ``lstat`` reports), directories, hard
links (their bytes are counted once, at the file they link to), devices and
whiteout markers count 0.  With that rule a layer's :attr:`LayerFiles.size`
equals the ``Size`` Docker's history reports for it.

Hard links: a name deleted or copied up above hides that name only.  The bytes
a layer stores once for several names are wasted only when none of those names
is visible at the end, and a visible link shows the size of those bytes.
"""

import importlib
from typing import TYPE_CHECKING

# Each name loads its submodule on first use (PEP 562), as engine's own names do: the
# Files tab needs the tar parser, not the whole analysis, diff and cache machinery
# (issue 18: start-up).  Type checkers read the imports below.
if TYPE_CHECKING:
    from engine._layers.analysis import ImageAnalysis, analyze_layers, pair_history
    from engine._layers.archive import ImageArchiveReader, SavedImage, read_image_archive
    from engine._layers.cache import LayerCache
    from engine._layers.cache import scope_of as layer_cache_scope
    from engine._layers.diff import (
        ConfigChange,
        DiffLayer,
        DirectoryDelta,
        FileDiff,
        FileState,
        ImageDiff,
        ImageSide,
        compare_images,
        diff_images,
    )
    from engine._layers.export import ProgressCallback, analyze_image, no_cyclic_gc
    from engine._layers.model import (
        Change,
        ChangeKind,
        EntryKind,
        FileEntry,
        HistoryStep,
        ImageLayer,
        LayerFiles,
        LayerSteps,
        StackedEntry,
        WastedPath,
        clean_instruction,
    )
    from engine._layers.outline import LayerOutline, StepKind, outline_layers, step_kind
    from engine._layers.stacking import find_waste, layer_changes, stack_layers
    from engine._layers.tar import TarMember, TarParser

#: Public name -> (submodule, its name there).
_WHERE: dict[str, tuple[str, str]] = {
    "Change": ("model", "Change"),
    "ChangeKind": ("model", "ChangeKind"),
    "ConfigChange": ("diff", "ConfigChange"),
    "DiffLayer": ("diff", "DiffLayer"),
    "DirectoryDelta": ("diff", "DirectoryDelta"),
    "EntryKind": ("model", "EntryKind"),
    "FileDiff": ("diff", "FileDiff"),
    "FileEntry": ("model", "FileEntry"),
    "FileState": ("diff", "FileState"),
    "HistoryStep": ("model", "HistoryStep"),
    "ImageAnalysis": ("analysis", "ImageAnalysis"),
    "ImageArchiveReader": ("archive", "ImageArchiveReader"),
    "ImageDiff": ("diff", "ImageDiff"),
    "ImageLayer": ("model", "ImageLayer"),
    "ImageSide": ("diff", "ImageSide"),
    "LayerCache": ("cache", "LayerCache"),
    "LayerFiles": ("model", "LayerFiles"),
    "LayerOutline": ("outline", "LayerOutline"),
    "LayerSteps": ("model", "LayerSteps"),
    "ProgressCallback": ("export", "ProgressCallback"),
    "SavedImage": ("archive", "SavedImage"),
    "StackedEntry": ("model", "StackedEntry"),
    "StepKind": ("outline", "StepKind"),
    "TarMember": ("tar", "TarMember"),
    "TarParser": ("tar", "TarParser"),
    "WastedPath": ("model", "WastedPath"),
    "analyze_image": ("export", "analyze_image"),
    "analyze_layers": ("analysis", "analyze_layers"),
    "clean_instruction": ("model", "clean_instruction"),
    "compare_images": ("diff", "compare_images"),
    "diff_images": ("diff", "diff_images"),
    "find_waste": ("stacking", "find_waste"),
    "layer_cache_scope": ("cache", "scope_of"),
    "layer_changes": ("stacking", "layer_changes"),
    "no_cyclic_gc": ("export", "no_cyclic_gc"),
    "outline_layers": ("outline", "outline_layers"),
    "pair_history": ("analysis", "pair_history"),
    "read_image_archive": ("archive", "read_image_archive"),
    "stack_layers": ("stacking", "stack_layers"),
    "step_kind": ("outline", "step_kind"),
}


def __getattr__(name: str) -> object:
    try:
        module, attribute = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'engine._layers' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"engine._layers.{module}"), attribute)
    globals()[name] = value
    return value


__all__ = [
    "Change",
    "ChangeKind",
    "ConfigChange",
    "DiffLayer",
    "DirectoryDelta",
    "EntryKind",
    "FileDiff",
    "FileEntry",
    "FileState",
    "HistoryStep",
    "ImageAnalysis",
    "ImageArchiveReader",
    "ImageDiff",
    "ImageLayer",
    "ImageSide",
    "LayerCache",
    "LayerFiles",
    "LayerOutline",
    "LayerSteps",
    "ProgressCallback",
    "SavedImage",
    "StackedEntry",
    "StepKind",
    "TarMember",
    "TarParser",
    "WastedPath",
    "analyze_image",
    "analyze_layers",
    "clean_instruction",
    "compare_images",
    "diff_images",
    "find_waste",
    "layer_cache_scope",
    "layer_changes",
    "no_cyclic_gc",
    "outline_layers",
    "pair_history",
    "read_image_archive",
    "stack_layers",
    "step_kind",
]
