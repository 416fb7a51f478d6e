"""One ``GET /system/df`` at a time, from the whole window.

Docker refuses a second disk-usage read while one runs ("a disk usage operation
is already running"), and each read makes the daemon measure every layer and
volume again.  The Disk page and the Clean up sheet both read through
:func:`read_disk_usage`: reads from this window queue behind one lock, and a
read refused because another program's df is running waits and asks again.
"""

from __future__ import annotations

import asyncio

import engine

_lock = asyncio.Lock()
#: How often, and how far apart, a read refused as "already running" is asked again.
BUSY_ATTEMPTS = 40
BUSY_RETRY_SECONDS = 0.5


def _busy(exc: engine.APIError) -> bool:
    return "already running" in str(exc)


async def read_disk_usage(client: engine.Engine) -> engine.DiskUsage:
    """:func:`engine.disk_usage`, never two at once from this process."""
    async with _lock:
        for _ in range(BUSY_ATTEMPTS - 1):
            try:
                return await engine.disk_usage(client)
            except engine.APIError as exc:
                if not _busy(exc):
                    raise
            await asyncio.sleep(BUSY_RETRY_SECONDS)
        return await engine.disk_usage(client)
