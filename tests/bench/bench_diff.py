"""Image diff of two big images that differ in one layer vs ``docker save`` of both.

Builds (classic builder) a base of busybox plus a copy of this machine's
/usr/share (about 700 MB, 47k files), then two images over it that differ in
their top layer only: A writes /version; B writes another /version, deletes
/usr/share/man, rewrites a few files and adds a 16 MiB file.  Then, alternating,
median of ``--repeats``:

- save: ``docker save A > /dev/null; docker save B > /dev/null`` (the floor the
  issue names), and ``docker save A B > /dev/null`` (one export: the shared
  layers once, which is what the diff reads);
- ours: ``dockyard diff A B --json > /dev/null`` as a user runs it (a fresh
  process: start-up, one export streamed, every file hashed, stacked, compared,
  printed); its peak RSS from ``wait4``.

Then the event-loop stall probe (#17 review: the diff hashed every file on the
event loop, which a window runs on its GUI thread): :func:`engine.diff_images`
in this process while a probe coroutine sleeps 5 ms in a loop and records how
late it wakes; once as shipped (export parsed and hashed in a worker thread)
and once with that work forced back onto the loop, for contrast.  Goal: no
stall > 50 ms.

    .venv/bin/python tests/bench/bench_diff.py [--repeats 3] [--keep] [--images A,B]
    .venv/bin/python tests/bench/bench_diff.py --stalls-only --images A,B
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench._common import CLASSIC, LABEL, RUN, busybox_image, docker, load

T = TypeVar("T")
BASE = f"dockyard-bench/diff-base:{RUN}"
FIRST = f"dockyard-bench/diff-a:{RUN}"
SECOND = f"dockyard-bench/diff-b:{RUN}"
REPO = Path(__file__).resolve().parents[2]


def build(workdir: Path, busybox: str) -> None:
    context = workdir / "context"
    context.mkdir()
    # Hard links: no data copied, and the CLI still sends every byte.
    subprocess.run(["cp", "-al", "/usr/share", str(context / "share")], check=True)
    (context / "Dockerfile").write_text(
        f"FROM {busybox}\nCOPY share /usr/share\nLABEL {LABEL}\n")
    start = time.perf_counter()
    docker("build", "-q", "-t", BASE, str(context), env=CLASSIC)
    for tag, run in (
        (FIRST, "echo one > /version"),
        (SECOND, "echo two > /version && rm -rf /usr/share/man"
                 " && for f in $(find /usr/share/doc -type f | head -200); do"
                 " echo changed >> $f; done"
                 " && dd if=/dev/zero of=/usr/share/blob bs=1048576 count=16 2>/dev/null"),
    ):
        top = workdir / tag.rsplit("/", 1)[1].replace(":", "-")
        top.mkdir()
        (top / "Dockerfile").write_text(f"FROM {BASE}\nRUN {run}\n")
        docker("build", "-q", "-t", tag, str(top), env=CLASSIC)
    print(f"built {BASE}, {FIRST}, {SECOND} in {time.perf_counter() - start:.0f} s")


def timed(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one command, stdout to /dev/null."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        process = subprocess.Popen(argv, stdout=devnull, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}")
    return (time.perf_counter() - start, usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024)


def measure(repeats: int) -> None:
    print(f"before: {load()}")
    summary = subprocess.run(
        [sys.executable, "-m", "app.diff_cmd", FIRST, SECOND], capture_output=True, text=True,
        cwd=REPO, check=True).stdout
    print("\n".join(line for line in summary.splitlines()
                    if line.startswith(("Layers:", "Files:"))))
    saves, both, ours, cpus, rss = [], [], [], [], []
    for _ in range(repeats):
        saves.append(timed(["docker", "save", FIRST])[0] + timed(["docker", "save", SECOND])[0])
        both.append(timed(["docker", "save", FIRST, SECOND])[0])
        wall, cpu, peak = timed([sys.executable, "-m", "app.diff_cmd", FIRST, SECOND, "--json"])
        ours.append(wall)
        cpus.append(cpu)
        rss.append(peak)
    save, one, own = (statistics.median(s) for s in (saves, both, ours))
    print(f"after: {load()}")
    print(f"docker save A; docker save B : {save * 1000:7.0f} ms  (samples"
          f" {', '.join(f'{s * 1000:.0f}' for s in saves)})")
    print(f"docker save A B (one export) : {one * 1000:7.0f} ms")
    print(f"dockyard diff A B --json     : {own * 1000:7.0f} ms, CPU {statistics.median(cpus):.1f}"
          f" s  (samples {', '.join(f'{s * 1000:.0f}' for s in ours)})")
    paired = [o / s for o, s in zip(ours, saves, strict=True)]
    print(f"ratio diff / (save A + save B) = {own / save:.2f}   (goal <= 1.3); per round"
          f" {', '.join(f'{r:.2f}' for r in paired)}")
    print(f"ratio diff / save A B          = {own / one:.2f}")
    print(f"peak RSS of dockyard diff      = {max(rss):.0f} MiB   (goal < 300)")


async def _probe(lags: list[tuple[float, float, float]], stop: asyncio.Event) -> None:
    """How late a 5 ms sleep wakes, again and again: the loop's stalls, as a window feels
    them (machine load included), each with the CPU time the loop's own thread spent
    in that interval (the work done on the loop: load-independent) and when it ended."""
    while not stop.is_set():
        start, cpu = time.perf_counter(), time.thread_time()
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        lags.append((now - start - 0.005, time.thread_time() - cpu, now))


class _FeedOnTheLoop:
    """``asyncio`` as the diff module sees it, with the export's batches parsed and hashed
    on the loop (collector on) as before the worker thread; the comparison at the end
    still goes to a thread, as it did then."""

    def __init__(self, feed: Callable[..., None]) -> None:
        self._feed = feed

    def __getattr__(self, name: str) -> object:
        return getattr(asyncio, name)

    async def to_thread(self, function: Callable[..., T], *args: object) -> T:
        if function is self._feed:
            reader, batch = args
            was = gc.isenabled()
            gc.enable()  # as it was: the collector on while the loop fed the reader
            try:
                reader.feed(memoryview(batch))  # type: ignore[attr-defined, arg-type]
            finally:
                if not was:
                    gc.disable()
            return None  # type: ignore[return-value]
        return await asyncio.to_thread(function, *args)


async def _diff_with_probe(on_loop: bool | None
                           ) -> tuple[float, float, list[tuple[float, float, float]]]:
    """Seconds of the diff, when its export ended (from its start), and the probe's lags."""
    import engine
    from engine._layers import diff as diff_module

    client, _ = await engine.discover()
    lags: list[tuple[float, float, float]] = []
    if on_loop is None:  # the probe alone for 10 s: the machine's own noise
        stop = asyncio.Event()
        probe = asyncio.ensure_future(_probe(lags, stop))
        await asyncio.sleep(10)
        stop.set()
        await probe
        await client.aclose()
        return 10.0, 10.0, lags
    stop = asyncio.Event()
    names = vars(diff_module)
    saved = names["asyncio"]
    if on_loop:
        names["asyncio"] = _FeedOnTheLoop(diff_module._feed)
    streamed = [0.0]

    def progress(read: int, total: int) -> None:
        streamed[0] = time.perf_counter()

    try:
        async with client:
            probe = asyncio.ensure_future(_probe(lags, stop))
            start = time.perf_counter()
            await engine.diff_images(client, FIRST, SECOND, progress=progress)
            took = time.perf_counter() - start
            stop.set()
            await probe
    finally:
        names["asyncio"] = saved
    return took, streamed[0] - start, [(lag, cpu, at - start) for lag, cpu, at in lags]


def _figures(lags: list[float]) -> str:
    if not lags:
        return "no wakes"
    lags = sorted(lags)
    over = sum(1 for lag in lags if lag > 0.050)
    return (f"worst {lags[-1] * 1000:5.0f} ms, p99 {lags[int(len(lags) * 0.99)] * 1000:4.0f} ms,"
            f" {over} over 50 ms of {len(lags)}")


def stalls() -> None:
    """The probe's figures while the export streams and while the comparison runs."""
    print(f"stall probe, load: {load()}")
    print("  wall: how late the probe woke (load included); loop CPU: the loop thread's own"
          " work in that interval")
    _, _, idle = asyncio.run(_diff_with_probe(None))
    print(f"  the probe alone, 10 s: wall {_figures([lag for lag, _, _ in idle])}")
    for on_loop in (False, True):
        took, streamed, lags = asyncio.run(_diff_with_probe(on_loop))
        what = "fed on the event loop (before)" if on_loop else "fed in a worker thread"
        print(f"  {what}: diff {took:5.1f} s, the export read in {streamed:5.1f} s")
        for phase, streaming in (("the export streams", True), ("comparing", False)):
            part = [(w, c) for w, c, at in lags if (at <= streamed) == streaming]
            print(f"    while {phase:<18}: wall {_figures([w for w, _ in part])}")
            print(f"    {'':<24}  loop CPU {_figures([c for _, c in part])}")
    print(f"  load after: {load()}.  Goal: no stall over 50 ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the built images afterwards")
    parser.add_argument("--images", metavar="A,B", help="measure these two existing images"
                        " instead of building them (they are not removed)")
    parser.add_argument("--stalls-only", action="store_true",
                        help="only the event-loop stall probe (with --images: no build)")
    args = parser.parse_args()
    global FIRST, SECOND
    if args.images:
        FIRST, SECOND = args.images.split(",", 1)
        if not args.stalls_only:
            measure(args.repeats)
        stalls()
        return 0
    busybox, built = busybox_image(None)
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    try:
        build(workdir, busybox)
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.stalls_only:
            measure(args.repeats)
        stalls()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep:
            subprocess.run(["docker", "rmi", SECOND, FIRST, BASE, *([busybox] if built else [])],
                           stdout=subprocess.DEVNULL, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
