"""Blocking file I/O in worker threads, safe to cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def in_thread(work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in a worker thread, as ``asyncio.to_thread``; but cancelled, it
    still waits for the thread to end.  A caller's ``with open(…)`` closes the file as
    the cancel unwinds: with a read or write still running on it, the next file or
    socket opened anywhere in the process could reuse the descriptor and get the rest
    of the bytes (or give them)."""
    step = asyncio.ensure_future(asyncio.to_thread(work, *args))
    try:
        return await asyncio.shield(step)
    except asyncio.CancelledError:
        await asyncio.wait({step})
        raise
