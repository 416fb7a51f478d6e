"""What every headless command (``dockyard df``, ``analyze``, ``diff``, ``compose ls``,
``registry``) does alike: run its engine work, turn any failure into one line on
stderr and an exit code (2; 130 for Ctrl+C), and show a progress line on a terminal.

Qt-free, like the commands (import-linter contract "headless commands never import Qt").
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import engine
from app.presentation import human_size

T = TypeVar("T")


class CommandFailed(Exception):
    """A headless command's failure, said in one line; :meth:`exit` prints it."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code

    def exit(self, command: str) -> int:
        """Print ``dockyard COMMAND: message`` on stderr; the exit code."""
        print(f"dockyard {command}: {self}", file=sys.stderr)
        return self.code


class ProgressLine:
    """A self-overwriting progress line on a terminal's stderr; silent when redirected."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.enabled = sys.stderr.isatty()
        self._shown = -1
        self._started = time.monotonic()
        self._waited = -1

    def __call__(self, read: int, total: int) -> None:
        if read == 0 and total:  # nothing yet: the engine is preparing what it will send
            waited = int(time.monotonic() - self._started)
            if self.enabled and waited != self._waited:
                self._waited = waited
                print(f"\r{self.what}: engine preparing the export… {waited} s",
                      end="", file=sys.stderr, flush=True)
            return
        if self._waited >= 0:  # the next line is shorter: clear the waiting words
            self._waited, self._shown = -1, -1
            if self.enabled:
                print("\r\033[K", end="", file=sys.stderr, flush=True)
        percent = read * 100 // total if total else 100
        if self.enabled and percent != self._shown:
            self._shown = percent
            print(f"\r{self.what}: {percent:3d} % of {human_size(total)}",
                  end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self.enabled and (self._shown >= 0 or self._waited >= 0):
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def run_engine_work(work: Coroutine[Any, Any, T], *, progress: ProgressLine | None = None,
                    not_found: str | None = None) -> T:
    """``asyncio.run(work)``; an engine error or Ctrl+C raises :class:`CommandFailed`
    (``not_found``: the words for a 404, e.g. "no such image: x", instead of the
    daemon's, which Docker 20.10 says twice).  The progress line is cleared either way."""
    try:
        return asyncio.run(work)
    except engine.NotFound as exc:
        raise CommandFailed(not_found or _one_line(exc)) from None
    except engine.EngineError as exc:
        raise CommandFailed(_one_line(exc)) from None
    except KeyboardInterrupt:
        raise CommandFailed("interrupted", 130) from None
    finally:
        if progress is not None:
            progress.clear()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
