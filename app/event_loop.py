"""The asyncio loop on Qt's event loop (qasync), set up the way asyncio's own loops are.

qasync's loop never installs asyncio's async-generator hooks, so an async
generator abandoned mid-iteration (a stream the user stopped following, an
httpx response iterator left by an exception) is finalised synchronously by the
garbage collector, outside any task: its cleanup fails with "async generator
ignored GeneratorExit" and the connection is not returned cleanly.  With the
hooks installed, finalisation is scheduled on the loop as asyncio intends.
"""

from __future__ import annotations

import asyncio
import sys

import qasync
from PySide6.QtWidgets import QApplication


def make_event_loop(app: QApplication, *, already_running: bool = False) -> qasync.QEventLoop:
    loop = qasync.QEventLoop(app, already_running=already_running)
    asyncio.set_event_loop(loop)
    base = asyncio.BaseEventLoop
    sys.set_asyncgen_hooks(
        firstiter=base._asyncgen_firstiter_hook.__get__(loop),  # type: ignore[attr-defined]
        finalizer=base._asyncgen_finalizer_hook.__get__(loop),  # type: ignore[attr-defined]
    )
    return loop
