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
from engine._layers.archive import ImageArchiveReader

ProgressCallback = Callable[[int, int], None]
#: Progress is reported at most this often (bytes, seconds): a UI needs no more, and a
#: callback per network read costs real time on a 40k-chunk export.
_PROGRESS_BYTES = 1 << 20
_PROGRESS_SECONDS = 0.05


async def analyze_image(
    client: Engine, name: str, *, progress: ProgressCallback | None = None
) -> ImageAnalysis:
    """Stream the image's export once and analyse its layers; nothing is written to disk.

    ``progress(read, total)`` is called with the bytes read and the image size
    from inspect (the export is a little larger, for tar headers, so ``total``
    grows with ``read`` near the end): on the first chunk, then after every MiB
    or 50 ms, whichever comes first, and once more at the end with ``read ==
    total``.  Cancelling the task closes the connection.  Raises
    :class:`NotFound` for an unknown image.
    """
    details = await client.image(name)  # NotFound before any streaming, and the size
    total = details.size
    reader = ImageArchiveReader()
    reported, reported_at = -_PROGRESS_BYTES, 0.0
    clock = time.monotonic
    # By ID: a tag moved between the inspect and the export must not mix two images.
    async with client.open_body("GET", f"/images/{details.id}/get") as body:
        async for chunk in body:
            reader.feed(chunk)
            if progress is not None:
                read = reader.bytes_read
                if read - reported >= _PROGRESS_BYTES or clock() - reported_at >= \
                        _PROGRESS_SECONDS:
                    reported, reported_at = read, clock()
                    progress(read, max(total, read))
    if progress is not None:
        progress(reader.bytes_read, reader.bytes_read)

    def stack() -> ImageAnalysis:
        with no_cyclic_gc():
            saved = reader.close()
            return analyze_layers(
                saved.layers,
                history=saved.history,
                diff_ids=saved.diff_ids,
                name=name,
                image_id=details.id,
                repo_tags=details.repo_tags,
            )

    # In a worker thread: a window runs this on its GUI thread, and stacking the 57k
    # files of a large image took ~70 ms there.
    return await asyncio.to_thread(stack)


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
