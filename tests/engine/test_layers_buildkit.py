"""The known image of test_layers, built by BuildKit (through our own build call, since
this machine has no buildx): the same files, waste and pairing as the classic build.

BuildKit writes its history differently (``RUN /bin/sh -c … # buildkit`` with a
``buildkit.dockerfile.v0`` comment, metadata steps as bare instructions), and
that is what this checks the cleaning and the pairing against.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import BuildComplete, analyze_image, build, outline_layers, walk_context
from tests.conftest import LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.engine.test_layers import KNOWN_DOCKERFILE, KNOWN_STEPS, KNOWN_WASTED

pytestmark = pytest.mark.anyio


async def test_buildkit_built_image_has_the_same_waste_and_pairing(
    docker_engine: EngineUnderTest, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(KNOWN_DOCKERFILE.format(
        base=docker_engine.image, label_key=LABEL_KEY, run_id=RUN_ID))
    tag = f"dockyard-test/{unique_name('bk-layers')}:1"
    try:
        async with await docker_engine.open() as client:
            events = [event async for event in build(client, walk_context(tmp_path),
                                                     tags=[tag], labels={LABEL_KEY: RUN_ID},
                                                     buildkit=True)]
            assert isinstance(events[-1], BuildComplete)
            history = await client.image_history(tag)
            outline = outline_layers(history, (await client.image(tag)).layers)
            analysis = await analyze_image(client, tag)
        assert all(e.comment == "buildkit.dockerfile.v0" for e in history[:7])
        assert len(analysis.layers) == 6 and analysis.history_matches_layers
        ours = analysis.layers[2:]
        assert [[s.instruction for s in layer.steps] for layer in ours] == KNOWN_STEPS
        assert analysis.wasted_bytes == KNOWN_WASTED
        assert [w.path for w in analysis.wasted_paths(None)] == [
            "huge", "big", "e/keep", "gone", "d/sub/a"]
        assert analysis.layers[3].files.opaque_dirs == ("e",)
        assert outline is not None
        assert [[(s.instruction, s.empty_layer) for s in o.steps] for o in outline] == [
            [(s.instruction, s.empty_layer) for s in layer.steps] for layer in analysis.layers]
    finally:
        docker_engine.cli("rmi", "-f", tag, check=False)
