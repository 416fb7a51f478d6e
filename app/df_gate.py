"""One ``GET /system/df`` at a time, from the whole window.

Docker refuses a second disk-usage read while one runs ("a disk usage operation
is already running"), and each read makes the daemon measure every layer and
volume again.  The Disk page and the Clean up sheet both read through
:func:`read_disk_usage`: reads from this window queue behind one lock (a read
refused because another program's df runs is asked again by the engine).
"""

from __future__ import annotations

import asyncio

import engine

_lock = asyncio.Lock()


async def read_disk_usage(client: engine.Engine) -> engine.DiskUsage:
    """The engine's disk usage, never two reads at once from this process."""
    async with _lock:
        return await engine.disk_usage(client)
