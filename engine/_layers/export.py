"""The engine call: stream an image's export from the engine and analyse it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from engine._client import Engine
from engine._layers.analysis import ImageAnalysis, analyze_layers
from engine._layers.archive import ImageArchiveReader, SavedImage
from engine._layers.cache import LayerCache, scope_of

ProgressCallback = Callable[[int, int], None]
#: Progress is reported at most this often (bytes, seconds): a UI needs no more, and a
#: callback per network read costs real time on a 40k-chunk export.
_PROGRESS_BYTES = 1 << 20
_PROGRESS_SECONDS = 0.05
#: How often "still waiting for the engine" is reported before the export's first byte.
_WAITING_TICK = 0.5


async def analyze_image(
    client: Engine, name: str, *, progress: ProgressCallback | None = None,
    cache: LayerCache | None = None,
) -> ImageAnalysis:
    """Stream the image's export once and analyse its layers; nothing is written to disk
    but the ``cache``'s entry.

    ``progress(read, total)`` is called with the bytes read and the image size
    from inspect (the export is a little larger, for tar headers, so ``total``
    grows with ``read`` near the end): with ``read == 0`` at once and every
    half second while the engine prepares the export (it may take seconds before
    its first byte: a caller can say how long it has waited), on the first
    chunk, then after every MiB or 50 ms, whichever comes first, and once more
    at the end with ``read == total``.  Cancelling the task closes the connection.
    Raises :class:`NotFound` for an unknown image.

    With a ``cache``, an image analysed before (same ID, same engine endpoint)
    is read from it instead of the export (no export request at all), and a
    freshly read export is stored in it.
    """
    details = await client.image(name)  # NotFound before any streaming, and the size
    total = details.size
    scope = scope_of(client.endpoint.url)

    def stack(saved: SavedImage) -> ImageAnalysis:
        with no_cyclic_gc():
            return analyze_layers(
                saved.layers,
                history=saved.history,
                diff_ids=saved.diff_ids,
                name=name,
                image_id=details.id,
                repo_tags=details.repo_tags,
            )

    if cache is not None:
        # In a worker thread, as the stacking below: reading and rebuilding 57k entries
        # takes tens of milliseconds a window must not stall for.
        def remembered() -> ImageAnalysis | None:
            saved = cache.load(scope, details.id)
            return stack(saved) if saved is not None else None

        analysis = await asyncio.to_thread(remembered)
        if analysis is not None:
            if progress is not None:
                progress(total, total)
            return analysis

    reader = ImageArchiveReader()
    reported, reported_at = -_PROGRESS_BYTES, 0.0
    clock = time.monotonic
    waiting = asyncio.create_task(_tick_while_waiting(progress, total)) \
        if progress is not None else None
    try:
        # By ID: a tag moved between the inspect and the export must not mix two images.
        async with client.open_body("GET", f"/images/{details.id}/get") as body:
            async for chunk in body:
                if waiting is not None:
                    waiting.cancel()
                    waiting = None
                reader.feed(chunk)
                if progress is not None:
                    read = reader.bytes_read
                    if read - reported >= _PROGRESS_BYTES or clock() - reported_at >= \
                            _PROGRESS_SECONDS:
                        reported, reported_at = read, clock()
                        progress(read, max(total, read))
    finally:
        if waiting is not None:
            waiting.cancel()
    if progress is not None:
        progress(reader.bytes_read, reader.bytes_read)

    def read_and_stack() -> ImageAnalysis:
        with no_cyclic_gc():
            saved = reader.close()
        if cache is not None:
            cache.store(scope, details.id, saved)
        return stack(saved)

    # In a worker thread: a window runs this on its GUI thread, and stacking the 57k
    # files of a large image took ~70 ms there.
    return await asyncio.to_thread(read_and_stack)


async def _tick_while_waiting(progress: ProgressCallback, total: int) -> None:
    """``progress(0, total)`` now and every half second until cancelled (the first byte)."""
    while True:
        progress(0, total)
        await asyncio.sleep(_WAITING_TICK)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off for one synchronous stretch (no await inside).

    Stacking a 50k-file image builds some 10^5 objects with no cycles among
    them; the collections their allocation triggers free nothing and took a
    third of the stacking time.  Reference counting frees garbage as usual.
    In a worker thread it also keeps those collections, which hold the GIL,
    from stalling the GUI thread; overlapping uses never leave it off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
