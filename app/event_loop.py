"""The asyncio loop on Qt's event loop (qasync), set up the way asyncio's own loops are.

qasync's loop never installs asyncio's async-generator hooks, so an async
generator abandoned mid-iteration (a stream the user stopped following, an
httpx response iterator left by an exception) is finalised synchronously by the
garbage collector, outside any task: its cleanup fails with "async generator
ignored GeneratorExit" and the connection is not returned cleanly.  With the
hooks installed, finalisation is scheduled on the loop as asyncio intends.

qasync's ``run_until_complete`` also delivers Qt's pending events once more after the
loop stopped, with no running loop set: a request still in flight when the window
closed then stepped outside the loop and died with "no running event loop" (a
traceback on stderr at every quit).  :class:`_EventLoop` delivers them as the
running loop.

qasync also runs a descriptor's callback a moment after Qt's notifier fired.
anyio's ``connect_unix`` waits for a busy socket with ``add_writer(sock,
future.set_result, None)``; cancelled in that moment (a switch to another
engine cancels every call of the old one), the future is done when the late
callback runs, and qasync logged ``InvalidStateError`` with a traceback.  A
future's own setter is therefore skipped once the future is done.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication


def _unless_done(callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback``, or for a future's ``set_result``/``set_exception`` one that does
    nothing once that future is done (cancelled meanwhile)."""
    future = getattr(callback, "__self__", None)
    if not isinstance(future, asyncio.Future) or getattr(callback, "__name__", "") not in (
            "set_result", "set_exception"):
        return callback

    def settle(*args: Any) -> None:
        if not future.done():
            callback(*args)

    return settle


class _EventLoop(qasync.QEventLoop):  # type: ignore[misc]
    """qasync's loop, delivering Qt's last events as the running loop, and whose late
    descriptor callbacks never settle a done future (see the module's docstring)."""

    def __init__(self, app: QApplication, *, already_running: bool = False) -> None:
        super().__init__(app, already_running=already_running)
        self._qt_app = app

    def run_until_complete(self, future: Any) -> Any:
        if self.is_running():
            raise RuntimeError("Event loop already running")
        task = asyncio.ensure_future(future, loop=self)

        def stop(_done: object) -> None:
            self.stop()

        task.add_done_callback(stop)
        try:
            self.run_forever()
        finally:
            task.remove_done_callback(stop)
        # What Qt still holds (task steps, closing connections) runs as on the loop.
        asyncio.events._set_running_loop(self)
        try:
            self._qt_app.eventDispatcher().processEvents(
                QEventLoop.ProcessEventsFlag.AllEvents)
        finally:
            asyncio.events._set_running_loop(None)
        if not task.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return task.result()

    def _add_reader(self, fd: Any, callback: Callable[..., Any], *args: Any) -> Any:
        return super()._add_reader(fd, _unless_done(callback), *args)

    def _add_writer(self, fd: Any, callback: Callable[..., Any], *args: Any) -> Any:
        return super()._add_writer(fd, _unless_done(callback), *args)


def make_event_loop(app: QApplication, *, already_running: bool = False) -> qasync.QEventLoop:
    loop = _EventLoop(app, already_running=already_running)
    asyncio.set_event_loop(loop)
    base = asyncio.BaseEventLoop
    sys.set_asyncgen_hooks(
        firstiter=base._asyncgen_firstiter_hook.__get__(loop),  # type: ignore[attr-defined]
        finalizer=base._asyncgen_finalizer_hook.__get__(loop),  # type: ignore[attr-defined]
    )
    return loop
