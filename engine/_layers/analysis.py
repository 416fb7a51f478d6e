"""An image's analysis from its layers and history: pairing steps to layers, efficiency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engine._layers.model import (
    Change,
    HistoryStep,
    ImageLayer,
    LayerFiles,
    StackedEntry,
    WastedPath,
)
from engine._layers.stacking import Stacked, delta_changes, stack_all, stack_layers


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
    _stacked: Stacked = field(repr=False, compare=False)
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
            changes = self._changes[index] = delta_changes(delta)
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

    def step_sizes(self) -> tuple[int, ...] | None:
        """Each history step's size, oldest first, counted as the layers are counted.

        Docker's ``/images/{id}/history`` gives a step the sum of its layer's file
        sizes, which is how :attr:`ImageLayer.size` counts; Podman's gives the layer
        tar's length (headers and padding included: 104,960 for a 100,000-byte file),
        so the same step showed two sizes.  These sizes agree with the layers on every
        engine: the layer's size for the step that made it, 0 for metadata steps.
        None when history and layers do not pair up (then nothing can be matched).
        """
        if not self.history_matches_layers:
            return None
        return tuple(0 if step.empty_layer else layer.size
                     for layer in self.layers for step in layer.steps)

    def wasted_paths(self, limit: int | None = 10) -> tuple[WastedPath, ...]:
        """The ``limit`` largest wasted paths (all when None), largest first."""
        return self._stacked.waste.ranked(limit)

    def wasted_folders(self, limit: int | None = 50) -> tuple[WastedPath, ...]:
        """The wasted paths with each deleted or replaced directory rolled up into one row.

        ``rm -rf /usr/share/doc`` wastes every file that was below it: one row
        (``folder``, the count in ``files``) says so better than hundreds.  A path
        goes to the topmost of its directories that a whiteout or opaque marker of
        the layer hiding it names; other paths keep their own rows.  Largest first.
        """
        markers = {index: set(layer.files.whiteouts) | set(layer.files.opaque_dirs)
                   for index, layer in enumerate(self.layers)
                   if layer.files.whiteouts or layer.files.opaque_dirs}
        rows: dict[tuple[str, bool], tuple[int, int, set[int], set[int]]] = {}
        for wasted in self._stacked.waste.ranked(None):
            key = (wasted.path, False)
            for hider in wasted.hidden_by:
                marked = markers.get(hider)
                if not marked:
                    continue
                parts = wasted.path.split("/")
                folder = next((d for d in ("/".join(parts[:n]) for n in range(1, len(parts)))
                               if d in marked), None)
                if folder is not None:
                    key = (folder, True)
                    break
            size, files, layers, hiders = rows.get(key, (0, 0, set(), set()))
            layers.update(wasted.layers)
            hiders.update(wasted.hidden_by)
            rows[key] = (size + wasted.size, files + 1, layers, hiders)
        ranked = sorted(rows.items(), key=lambda row: (-row[1][0], row[0]))
        return tuple(WastedPath(path, size, tuple(sorted(layers)), tuple(sorted(hiders)),
                                folder, files)
                     for (path, folder), (size, files, layers, hiders) in ranked[:limit])

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
        _stacked=stack_all(layers),
        unpaired_steps=unpaired,
        repo_tags=tuple(repo_tags),
    )
