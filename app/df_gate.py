"""One ``GET /system/df`` at a time, from the whole window.

Docker refuses a second disk-usage read while one runs ("a disk usage operation
is already running"), and each read makes the daemon measure every layer and
volume again.  The Disk page and the Clean up sheet both read through
:func:`read_disk_usage`: reads from this window queue behind one lock, and a
read refused because another program's df is running waits and asks again.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import engine

_lock = asyncio.Lock()
#: How often, and how far apart, a read refused as "already running" is asked again.
BUSY_ATTEMPTS = 100
BUSY_RETRY_SECONDS = 0.2


def _busy(exc: engine.APIError) -> bool:
    """Another df runs (Docker), or an item went away while it was measured (Podman's
    "no such container"): a moment later the same read succeeds."""
    return "already running" in str(exc) or isinstance(exc, engine.NotFound)


def _decode(body: bytes, build_cache_supported: bool) -> engine.DiskUsage:
    try:
        data: Any = json.loads(body)
    except ValueError as exc:
        raise engine.ProtocolError(f"unreadable answer from /system/df: {exc}") from exc
    return engine.DiskUsage.from_api(data, build_cache_supported=build_cache_supported)


async def _read(client: engine.Engine) -> engine.DiskUsage:
    """:func:`engine.disk_usage`, decoded in a worker thread: with 500 images and 500
    volumes the JSON and its dataclasses take tens of ms the window must not stall."""
    response = await client.request("GET", "/system/df", timeout=600.0)
    return await asyncio.to_thread(_decode, response.content, not client.version.is_podman)


async def read_disk_usage(client: engine.Engine) -> engine.DiskUsage:
    """The engine's disk usage, never two reads at once from this process."""
    async with _lock:
        for _ in range(BUSY_ATTEMPTS - 1):
            try:
                return await _read(client)
            except engine.APIError as exc:
                if not _busy(exc):
                    raise
            await asyncio.sleep(BUSY_RETRY_SECONDS)
        return await _read(client)
