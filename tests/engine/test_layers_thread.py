"""Stacking an image's layers, and hashing a diff's files, run in a worker thread, with the
results they had on the loop.

A window runs the engine's coroutines on its GUI thread (qasync): stacking the
57k files of a large image there stalled the window for ~70 ms.  Only the
reading of the export belongs on the event loop.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from engine._layers import ChangeKind, analyze_image, analyze_layers, diff_images
from engine._layers import analysis as _analysis
from engine._layers import diff as _diff
from tests.conftest import LABEL, RUN_ID, EngineUnderTest, unique_name
from tests.engine.test_layers import ours
from tests.waits import seconds


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


@pytest.mark.anyio
async def test_the_diff_hashes_file_contents_off_the_event_loop(
        any_engine: EngineUnderTest, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """#17: SHA-256 of every file of a multi-GB export on the loop stalled the window for
    seconds; the export is now parsed and hashed in a worker thread, with the digests
    it had before (checked against hashlib here, on a file the test wrote)."""
    context = workdir / unique_name("diff-thread")
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {any_engine.image}\nRUN echo hello > /new.txt\nLABEL {LABEL}\n")
    tag = f"dockyard-test/diff-thread:{context.name.rsplit('-', 1)[-1]}-{RUN_ID}"
    any_engine.cli("build", "-q", "-t", tag, str(context), timeout=seconds(300))
    hashed_on: set[threading.Thread] = set()
    write = _diff._Hasher.write

    def spy(self: object, data: memoryview) -> None:
        hashed_on.add(threading.current_thread())
        write(self, data)  # type: ignore[arg-type]

    monkeypatch.setattr(_diff._Hasher, "write", spy)
    try:
        async with await any_engine.open() as client:
            found = await diff_images(client, any_engine.image, tag)
    finally:
        any_engine.cli("rmi", "-f", tag, check=False)
    assert hashed_on and threading.current_thread() not in hashed_on
    assert [(f.path, f.kind) for f in found.files if ours(f.path, any_engine.kind)] == [
        ("new.txt", ChangeKind.ADDED)]
    added = next(f for f in found.files if f.path == "new.txt").after
    assert added is not None and added.digest == hashlib.sha256(b"hello\n").hexdigest()
    assert found.shared_layers == 2
