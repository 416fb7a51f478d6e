"""in_thread: a cancel waits for the worker thread (no descriptor closed under a write)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from engine._threads import in_thread
from tests.waits import seconds

pytestmark = pytest.mark.anyio


async def test_a_cancel_returns_only_after_the_thread_ended() -> None:
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []

    def slow_write() -> int:
        started.set()
        release.wait(seconds(10))
        ended.append("written")
        return 1

    task = asyncio.ensure_future(in_thread(slow_write))
    await asyncio.to_thread(started.wait, seconds(10))
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()  # still waiting for the write: the file stays open meanwhile
    release.set()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the cancel was lost")
    assert ended == ["written"]


async def test_results_and_errors_pass_through() -> None:
    assert await in_thread(sum, [1, 2, 3]) == 6
    try:
        await in_thread(int, "x")
    except ValueError as exc:
        assert "invalid literal" in str(exc)
    else:
        raise AssertionError("no error")
