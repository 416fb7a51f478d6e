"""Stacking an image's layers runs in a worker thread, with the result it had on the loop.

A window runs the engine's coroutines on its GUI thread (qasync): stacking the
57k files of a large image there stalled the window for ~70 ms.  Only the
reading of the export belongs on the event loop.
"""

from __future__ import annotations

import threading

import pytest

from engine._layers import analysis as _analysis
from engine._layers import analyze_image, analyze_layers
from tests.conftest import EngineUnderTest


@pytest.mark.anyio
async def test_an_image_is_stacked_off_the_event_loop_with_the_same_result(
        any_engine: EngineUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    stack_all = _analysis.stack_all

    def spy(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread())
        return stack_all(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_analysis, "stack_all", spy)
    async with await any_engine.open() as client:
        analysis = await analyze_image(client, any_engine.image)
    assert threads and threading.current_thread() not in threads

    # Identical to stacking the same layers here, on the test's own thread.
    here = analyze_layers([layer.files for layer in analysis.layers],
                          history=analysis.steps,
                          diff_ids=[layer.diff_id for layer in analysis.layers],
                          name=analysis.name, image_id=analysis.image_id,
                          repo_tags=analysis.repo_tags)
    assert here.layers == analysis.layers
    assert here.wasted_paths(None) == analysis.wasted_paths(None)
    assert here.wasted_bytes == analysis.wasted_bytes
    for index in range(len(analysis.layers)):
        assert here.changes(index) == analysis.changes(index)
    assert here.aggregated() == analysis.aggregated()
    assert analysis.aggregated()  # the test image has files
