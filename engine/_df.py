"""The one reader of ``GET /system/df``, which daemons refuse for reasons that pass.

Docker 20.10 refuses a second disk-usage read while one runs ("a disk usage
operation is already running", 409), whoever asked first: a ``docker system df``
in a terminal is enough.  Podman measures every container and image in turn and
fails the whole read when one of them is removed meanwhile ("no such container",
"image not known", "locating item named manifest … file does not exist").  Both succeed when asked
again a moment later, so every df read goes through :func:`read_system_df`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from engine._client import Engine
from engine._errors import APIError, Conflict, NotFound
from engine._transport import Params, Response

T = TypeVar("T")

#: How long a read refused as "already running" keeps being asked again.
BUSY_SECONDS = 120.0
#: How many times a read that lost an item while measuring is asked again.
VANISHED_ATTEMPTS = 5
_FIRST_DELAY = 0.1
_LONGEST_DELAY = 1.0


def _busy(exc: APIError) -> bool:
    return isinstance(exc, Conflict) or "already running" in str(exc)


#: Podman's words when something it was measuring was removed meanwhile.
_VANISHED_WORDS = ("does not exist", "not known", "no such")


def _vanished(exc: APIError) -> bool:
    return isinstance(exc, NotFound) or any(w in str(exc).lower() for w in _VANISHED_WORDS)


async def read_system_df(client: Engine, params: Params | None = None) -> Response:
    """``GET /system/df``, asked again while another df runs or an item vanished mid-read."""
    loop = asyncio.get_running_loop()
    busy_until = loop.time() + BUSY_SECONDS
    vanished = 0
    delay = _FIRST_DELAY
    while True:
        try:
            return await client.request("GET", "/system/df", params=params, timeout=600.0)
        except APIError as exc:
            if _busy(exc) and loop.time() < busy_until:
                pass
            elif _vanished(exc) and vanished < VANISHED_ATTEMPTS:
                vanished += 1
            else:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, _LONGEST_DELAY)


async def retry_vanished(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, asked again (a few times) while Podman fails it because an item it was
    reading was removed meanwhile ("image not known" from ``/images/json?all=1``)."""
    delay = _FIRST_DELAY
    for attempt in range(VANISHED_ATTEMPTS + 1):
        try:
            return await call()
        except APIError as exc:
            if not _vanished(exc) or attempt == VANISHED_ATTEMPTS:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, _LONGEST_DELAY)
    raise AssertionError("unreachable")
