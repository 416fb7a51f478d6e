"""The layer tree of an image before its export has been read.

The exact pairing of history rows and layers needs the image config's
``empty_layer`` flags, which only arrive with the export (the config sits
anywhere in the tar, often after the layers).  The history endpoint answers
at once, and each row says which Dockerfile instruction made it: RUN, COPY
and ADD make a layer, CMD/ENV/LABEL… do not, and WORKDIR depends on the
builder.  That guess is only used when it accounts for exactly as many layers
as the image's RootFS has; otherwise there is no outline and the tree waits
for the export.  Sizes never decide anything here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from engine._layers.analysis import pair_history
from engine._layers.model import DOCKERFILE_KEYWORDS, SHELL_PREFIXES, HistoryStep, LayerSteps
from engine._models import HistoryEntry


class StepKind(Enum):
    LAYER = "layer"
    METADATA = "metadata"
    #: WORKDIR: BuildKit and the classic builder make a layer for it, buildah may not.
    EITHER = "either"


_MAKES_LAYER = frozenset({"RUN", "COPY", "ADD"})


def step_kind(created_by: str) -> StepKind:
    """Whether a history row's instruction makes a filesystem layer, from its text alone."""
    text = " ".join(created_by.split())
    if text.endswith("# buildkit"):
        text = text[: -len("# buildkit")].rstrip()
    keyword = text.split(" ", 1)[0]
    if keyword not in DOCKERFILE_KEYWORDS:  # the classic builder's and buildah's forms
        for prefix in SHELL_PREFIXES:
            if text.startswith(prefix):
                text = text[len(prefix):]
                break
        if not text.startswith("#(nop)"):
            return StepKind.LAYER  # a RUN (build args or not), a `docker commit`, an import
        words = text[len("#(nop)"):].split(maxsplit=1)
        keyword = words[0] if words else ""
    if keyword in _MAKES_LAYER:
        return StepKind.LAYER
    if keyword == "WORKDIR":
        return StepKind.EITHER
    return StepKind.METADATA if keyword in DOCKERFILE_KEYWORDS else StepKind.LAYER


@dataclass(frozen=True, slots=True)
class LayerOutline(LayerSteps):
    """A layer as the history describes it: its steps and the size the history gives."""

    index: int
    diff_id: str
    size: int
    steps: tuple[HistoryStep, ...] = ()


def outline_layers(
    history: Sequence[HistoryEntry], diff_ids: Sequence[str]
) -> tuple[LayerOutline, ...] | None:
    """The layers bottom first with their steps, or None when the history is ambiguous.

    ``history`` is newest first, as ``/images/{name}/history`` sends it.
    """
    entries = list(reversed(history))
    kinds = [step_kind(entry.created_by) for entry in entries]
    certain = kinds.count(StepKind.LAYER)
    either = kinds.count(StepKind.EITHER)
    if certain == len(diff_ids):
        workdir_makes_layer = False
    elif certain + either == len(diff_ids) and either:
        workdir_makes_layer = True
    else:
        return None
    steps = [
        HistoryStep(
            created_by=entry.created_by, created=entry.created, comment=entry.comment,
            empty_layer=kind is StepKind.METADATA
            or (kind is StepKind.EITHER and not workdir_makes_layer),
        )
        for entry, kind in zip(entries, kinds, strict=True)
    ]
    groups, unpaired = pair_history(steps, len(diff_ids))
    if unpaired:
        return None
    sizes = [entry.size for entry, step in zip(entries, steps, strict=True) if not step.empty_layer]
    return tuple(
        LayerOutline(index, diff_id, size, group)
        for index, (diff_id, size, group) in enumerate(zip(diff_ids, sizes, groups, strict=True))
    )
