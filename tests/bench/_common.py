"""Shared by the benchmarks: the run label, the busybox image, load, RSS, event-loop stalls.

Not a benchmark itself.  Every resource a benchmark creates carries
``dockyard.bench=<RUN>`` and is removed by the benchmark that made it.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

RUN = uuid.uuid4().hex[:8]
LABEL_KEY = "dockyard.bench"
LABEL = f"{LABEL_KEY}={RUN}"
LABELS = {LABEL_KEY: RUN}
CLASSIC = {**os.environ, "DOCKER_BUILDKIT": "0"}


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} (1/5 min) on {os.cpu_count()} CPUs"


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def docker(*args: str, quiet: bool = True, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False,
                            env=env)
    if result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def busybox_image(existing: str | None) -> tuple[str, bool]:
    """(tag, built): ``existing`` as is, or a FROM-scratch busybox image built for this run."""
    if existing:
        return existing, False
    binary = next((p for p in ("/bin/busybox", "/usr/bin/busybox")
                   if Path(p).exists() and b"ld-linux" not in Path(p).read_bytes()[:8192]),
                  None)
    if binary is None:
        raise SystemExit("a static busybox is needed (apt-get install busybox-static)")
    context = Path(tempfile.mkdtemp(prefix="dockyard-bench-bb-"))
    try:
        shutil.copy(binary, context / "busybox")
        (context / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            f'LABEL {LABEL_KEY}="{RUN}"\nCMD ["sh"]\n')
        tag = f"dockyard-bench/busybox:{RUN}"
        docker("build", "-q", "-t", tag, str(context), env=CLASSIC)
        return tag, True
    finally:
        shutil.rmtree(context, ignore_errors=True)


def remove_labelled() -> None:
    """Remove this run's containers (images are removed by whoever built them)."""
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}").split()
    if ids:
        docker("rm", "-f", "-v", *ids)


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def ms(samples: list[float]) -> str:
    return ", ".join(f"{s * 1000:.0f}" for s in samples)


class StallMeter:
    """A QTimer ticking every ``interval_ms``; records the gaps between ticks.

    A gap much longer than the interval is a stall: time the event loop spent in
    one piece of work without getting back to timers (or input, or painting).
    """

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms / 1000
        self.gaps: list[float] = []
        #: The main thread's CPU time in each gap: work of its own; the rest of a gap is
        #: time the machine gave to other processes (preemption on a loaded machine).
        self.cpu_gaps: list[float] = []
        self._last = 0.0
        self._last_cpu = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self.cpu_gaps.clear()
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._tick()

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.gaps.append(now - self._last)
        self.cpu_gaps.append(cpu - self._last_cpu)
        self._last, self._last_cpu = now, cpu

    @property
    def max(self) -> float:
        return max(self.gaps, default=0.0)

    def percentile(self, p: float) -> float:
        if not self.gaps:
            return 0.0
        ordered = sorted(self.gaps)
        return ordered[min(int(len(ordered) * p / 100), len(ordered) - 1)]

    def over(self, seconds: float) -> int:
        return sum(1 for gap in self.gaps if gap > seconds)

    def summary(self) -> str:
        return (f"max {self.max * 1000:.1f} ms, p99 {self.percentile(99) * 1000:.1f} ms,"
                f" p50 {self.percentile(50) * 1000:.1f} ms, ticks {len(self.gaps)},"
                f" gaps > 50 ms: {self.over(0.05)}")


def timed_process(command: list[str], *, cwd: Path | None = None,
                  env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole child process run to its end (output dropped).

    CPU (user + system, from ``RUSAGE_CHILDREN``) is what to compare on a shared
    machine: the wall time moves with the load, the CPU cost hardly does.  The child
    may write bytecode caches (PYTHONDONTWRITEBYTECODE dropped): an installed
    Dockyard has them, and compiling every module on every start is not what a user
    waits for.
    """
    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=cwd, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu
