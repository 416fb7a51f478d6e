"""The layer outline drawn from the history alone, before the export is read."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import (
    HistoryEntry,
    ImageAnalysis,
    LayerOutline,
    StepKind,
    analyze_image,
    outline_layers,
    step_kind,
)
from tests.conftest import LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.waits import seconds


@pytest.mark.parametrize(("created_by", "kind"), [
    # the classic builder and buildah
    ('/bin/sh -c #(nop)  CMD ["sh"]', StepKind.METADATA),
    ("/bin/sh -c #(nop)  ENV A=1", StepKind.METADATA),
    ("/bin/sh -c #(nop) ADD file:73e2b2 in / ", StepKind.LAYER),
    ("/bin/sh -c #(nop) COPY dir:ab12 in /app ", StepKind.LAYER),
    ("/bin/sh -c #(nop) WORKDIR /app", StepKind.EITHER),
    ("/bin/sh -c make && make install", StepKind.LAYER),
    ("|2 A=1 B=2 /bin/sh -c make", StepKind.LAYER),
    ('/bin/sh -c ["/bin/busybox", "--install"]', StepKind.LAYER),
    ("/bin/busybox --install -s /bin", StepKind.LAYER),  # an exec-form RUN
    # BuildKit
    ('CMD ["sh"]', StepKind.METADATA),
    ("EXPOSE map[80/tcp:{}]", StepKind.METADATA),
    ("RUN |1 V=2 /bin/sh -c make # buildkit", StepKind.LAYER),
    ("COPY . /src # buildkit", StepKind.LAYER),
    ("ADD alpine-minirootfs.tar.gz / # buildkit", StepKind.LAYER),
    ("WORKDIR /src", StepKind.EITHER),
    # docker commit / import
    ("", StepKind.LAYER),
    ("nginx -g daemon off;", StepKind.LAYER),
])
def test_step_kind_from_the_instruction_text(created_by: str, kind: StepKind) -> None:
    assert step_kind(created_by) is kind


def entry(created_by: str, size: int = 0) -> HistoryEntry:
    return HistoryEntry(None, datetime(2026, 1, 1, tzinfo=UTC), created_by, (), size, "")


def newest_first(*rows: HistoryEntry) -> list[HistoryEntry]:
    return list(reversed(rows))


def test_workdir_counts_as_a_layer_only_when_the_layer_count_says_so() -> None:
    rows = newest_first(entry("/bin/sh -c #(nop) ADD file:x in /", 10),
                        entry("/bin/sh -c #(nop) WORKDIR /app"),
                        entry("/bin/sh -c #(nop)  ENV A=1"),
                        entry("/bin/sh -c make", 5))
    two = outline_layers(rows, ["sha256:a", "sha256:b"])
    assert two is not None
    assert [(o.instruction, o.size) for o in two] == [("ADD file:x in /", 10), ("RUN make", 5)]
    assert [s.instruction for s in two[0].metadata_steps] == ["WORKDIR /app", "ENV A=1"]
    three = outline_layers(rows, ["sha256:a", "sha256:b", "sha256:c"])
    assert three is not None
    assert [o.instruction for o in three] == ["ADD file:x in /", "WORKDIR /app", "RUN make"]
    assert [o.diff_id for o in three] == ["sha256:a", "sha256:b", "sha256:c"]
    # The history cannot account for four layers: no guess at all.
    assert outline_layers(rows, ["a", "b", "c", "d"]) is None
    assert outline_layers(rows, ["a"]) is None


def test_two_workdirs_and_one_spare_layer_is_ambiguous() -> None:
    rows = newest_first(entry("/bin/sh -c #(nop) ADD file:x in /"),
                        entry("/bin/sh -c #(nop) WORKDIR /a"),
                        entry("/bin/sh -c #(nop) WORKDIR /b"))
    assert outline_layers(rows, ["a", "b"]) is None  # which WORKDIR made it?
    assert outline_layers(rows, ["a"]) is not None
    assert outline_layers(rows, ["a", "b", "c"]) is not None


def test_outline_agrees_with_the_export_on_a_real_image(
    any_engine: EngineUnderTest, tmp_path: Path
) -> None:
    context = tmp_path / "outline"
    context.mkdir()
    (context / "note.txt").write_text("hello\n")
    (context / "Dockerfile").write_text(
        f"FROM {any_engine.image}\n"
        "WORKDIR /app\n"
        "ENV A=1\n"
        "RUN echo hi > x\n"
        "COPY note.txt /app/note.txt\n"
        "WORKDIR /app/sub\n"
        f"LABEL {LABEL_KEY}={RUN_ID}\n"
        'CMD ["sh"]\n')
    tag = f"dockyard-test/{unique_name('outline')}:1"
    any_engine.cli("build", "-q", "-t", tag, str(context), timeout=seconds(300))

    async def both() -> tuple[tuple[LayerOutline, ...] | None, ImageAnalysis]:
        async with await any_engine.open() as client:
            history = await client.image_history(tag)
            outline = outline_layers(history, (await client.image(tag)).layers)
            return outline, await analyze_image(client, tag)

    try:
        outline, analysis = asyncio.run(both())
        assert outline is not None
        exact = analysis.layers
        assert [o.diff_id for o in outline] == [layer.diff_id for layer in exact]
        assert [[s.instruction for s in o.steps] for o in outline] == [
            [s.instruction for s in layer.steps] for layer in exact]
        assert [s.empty_layer for o in outline for s in o.steps] == [
            s.empty_layer for layer in exact for s in layer.steps]
        # Docker makes a layer for each WORKDIR, buildah none: the outline followed suit.
        workdirs = [o for o in outline if o.instruction.startswith("WORKDIR")]
        assert len(workdirs) == (2 if any_engine.kind == "docker" else 0)
    finally:
        any_engine.cli("rmi", "-f", tag, check=False)
