"""Every wait in the tests, from one place, scaled by one factor.

A timeout in a test is an upper bound for something that normally takes a fraction
of it; on a busy machine (CI is a loaded 2-core box) everything takes longer, so
each bound is written as the seconds it needs on an idle machine and multiplied
here by ``DOCKYARD_TEST_SLOWDOWN``.  The factor only decides how long a failing
test waits before it says so; a passing test never waits out its bound.

    qtbot.waitUntil(done, timeout=wait_ms(10))
    await asyncio.wait_for(stream, seconds(30))
    subprocess.run(..., timeout=seconds(60))
    poll_until(lambda: socket.exists(), 30, what="the podman socket")

tests/test_waits.py fails on a bare number given as a wait anywhere in tests/.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def _slowdown() -> float:
    raw = os.environ.get("DOCKYARD_TEST_SLOWDOWN", "").strip()
    if not raw:
        # Unset: a developer's machine is often busy too (builds, a browser, other
        # engines); CI always is, and shares its cores with other jobs.
        return 4.0 if os.environ.get("CI") else 2.0
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"DOCKYARD_TEST_SLOWDOWN={raw!r} is not a number") from None
    if not value > 0:
        raise SystemExit(f"DOCKYARD_TEST_SLOWDOWN={raw!r} must be above 0")
    return value


#: How much slower than an idle machine this run may be.
SLOWDOWN = _slowdown()


def seconds(idle: float) -> float:
    """A bound of ``idle`` seconds on an idle machine, for this run (asyncio, subprocess)."""
    return idle * SLOWDOWN


def wait_ms(idle: float) -> int:
    """The same bound in milliseconds, as pytest-qt's ``timeout=`` takes it."""
    return round(idle * SLOWDOWN * 1000)


def poll_until(condition: Callable[[], bool], idle: float, *, what: str,
               interval: float = 0.05) -> None:
    """Check ``condition`` every ``interval`` s until true; fail after ``seconds(idle)``.

    For waits outside Qt (a socket appearing, a process leaving); Qt tests use
    ``qtbot.waitUntil`` so events keep flowing.
    """
    deadline = time.monotonic() + seconds(idle)
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds(idle):.0f} s "
                                 f"(DOCKYARD_TEST_SLOWDOWN={SLOWDOWN:g})")
        time.sleep(interval)
