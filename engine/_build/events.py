"""What a build stream says, as typed events: steps, output, BuildKit vertices, the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from engine._errors import EngineError

if TYPE_CHECKING:
    pass


@dataclass(frozen=True, slots=True)
class BuildStep:
    """A classic-builder step began: ``Step 2/5 : RUN make``."""

    number: int
    total: int
    instruction: str
    line: int | None = None  # in the Dockerfile, when it could be worked out
    #: Sent a second time with True when the builder says the step came from its layer
    #: cache (" ---> Using cache"): what BuildKit reports as a "cached" vertex.
    cached: bool = False


@dataclass(frozen=True, slots=True)
class BuildOutput:
    """Text the build printed (classic ``stream``, or a BuildKit vertex log)."""

    text: str
    vertex: str | None = None  # BuildKit: the digest of the vertex that printed it
    stream: int = 1  # 1 stdout, 2 stderr (BuildKit only)


@dataclass(frozen=True, slots=True)
class BuildVertex:
    """The state of one BuildKit vertex ("[2/3] RUN make"), sent each time it changes."""

    digest: str
    name: str
    started: datetime | None = None
    completed: datetime | None = None
    cached: bool = False
    error: str = ""
    line: int | None = None

    @property
    def state(self) -> str:
        """'cached', 'failed', 'done', 'running' or 'waiting' — the log's status column."""
        if self.error:
            return "failed"
        if self.cached:
            return "cached"
        if self.completed:
            return "done"
        return "running" if self.started else "waiting"

    @property
    def duration(self) -> float | None:
        if self.started and self.completed:
            return (self.completed - self.started).total_seconds()
        return None


@dataclass(frozen=True, slots=True)
class BuildVertexProgress:
    """BuildKit progress inside a vertex, e.g. "transferring context" 2 kB of 5 kB."""

    vertex: str
    id: str
    name: str
    current: int
    total: int


@dataclass(frozen=True, slots=True)
class BuildCacheUse:
    """How much of a build the layer cache answered, and where it first did not.

    Counts the steps that can come from the cache (a ``FROM`` never does).  The
    cache holds until one step's inputs change: that step and every one after it
    run again, so ``first_miss`` is why a build took as long as it did.
    """

    cached: int
    steps: int
    #: The first step that ran instead of coming from the cache, e.g. "COPY app.py /app".
    first_miss: str = ""
    first_miss_step: int | None = None  # classic "Step N/M"; BuildKit "[N/M]"
    first_miss_line: int | None = None  # in the Dockerfile, when known

    @property
    def summary(self) -> str:
        """``2 of 4 steps from the cache; step 3 (line 3: COPY app.py /app) ran first``."""
        text = f"{self.cached} of {self.steps} step{'s' if self.steps != 1 else ''} " \
               "from the cache"
        if self.first_miss:
            where = f"step {self.first_miss_step}" if self.first_miss_step else "step"
            line = f"line {self.first_miss_line}: " if self.first_miss_line else ""
            text += f"; the first to miss it was {where} ({line}{self.first_miss})"
        return text


@dataclass(frozen=True, slots=True)
class BuildComplete:
    image_id: str
    #: What the layer cache answered (None when the stream named no steps).
    cache: BuildCacheUse | None = None


BuildEvent = BuildStep | BuildOutput | BuildVertex | BuildVertexProgress | BuildComplete


class BuildFailed(EngineError):
    """The build ran and failed (HTTP 200, ``errorDetail`` in the stream).

    ``step``/``instruction``/``line`` locate the failing instruction when known
    (classic: the last "Step N/M"; BuildKit: the vertex carrying the error).
    """

    def __init__(self, message: str, *, step: int | None = None, instruction: str | None = None,
                 line: int | None = None, vertex: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.step = step
        self.instruction = instruction
        self.line = line
        self.vertex = vertex

    def __str__(self) -> str:
        where = f" (Dockerfile line {self.line}: {self.instruction})" if self.line else ""
        return f"{self.message}{where}"
