"""Following a container that writes ~50k lines/s for 20 s into the LogView (cap 100k).

A labelled busybox container writes ``--batch`` lines every 0.1 s (``seq`` through
``sed``, ~60 bytes a line) for ``--seconds``, then a last line with the total it
wrote.  The Logs tab's path follows it (``engine.log_batches(follow=True,
timestamps=True)`` → ``LogView.add_lines``, view shown offscreen, qasync loop) while:

- a 5 ms QTimer records the gaps between its ticks (event-loop stalls: goal max < 50 ms),
  and how much CPU the main thread used in each gap: on a loaded machine a long gap
  with little CPU is the OS running something else, not our work holding the loop;
- RSS is sampled every 0.5 s and the model's length is checked against the cap.

Printed: the rate the container really wrote at, the lines received, how long after
the container's last line the view had it (lag), stalls (max, p99, count over 50 ms),
RSS at start / max / end, and the model's length vs the cap.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/bench_follow.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import time

from _common import LABELS, StallMeter, busybox_image, docker, load, remove_labelled, rss_mib
from PySide6.QtWidgets import QApplication

import engine
from app.event_loop import make_event_loop
from app.widgets.log_view import LogView


class CPUStallMeter(StallMeter):
    """A :class:`StallMeter` that also records the main thread's CPU time in each gap.

    A gap is a stall of ours only if the thread was busy for it; on a loaded machine
    (2 CPUs shared with other work) most long gaps are time the OS gave elsewhere.
    """

    def __init__(self) -> None:
        super().__init__()
        self.busy: list[float] = []
        self._cpu = 0.0

    def start(self) -> None:
        self.busy.clear()
        self._cpu = time.thread_time()
        super().start()

    def _tick(self) -> None:
        cpu = time.thread_time()
        self.busy.append(cpu - self._cpu)
        self._cpu = cpu
        super()._tick()

    def cpu_summary(self) -> str:
        worst = max(range(len(self.gaps)), key=self.gaps.__getitem__, default=None)
        in_worst = self.busy[worst] * 1000 if worst is not None else 0.0
        busiest = max(self.busy, default=0.0) * 1000
        busy_stalls = sum(1 for b in self.busy if b > 0.05)
        return (f"CPU in the longest gap {in_worst:.1f} ms; most CPU in one gap"
                f" {busiest:.1f} ms; gaps with > 50 ms of CPU: {busy_stalls}")


SCRIPT = (
    "end=$(( $(date +%s) + {seconds} )); n=0; "
    "while [ $(date +%s) -lt $end ]; do "
    "seq -w 1 {batch} | sed 's/$/ the quick brown fox jumps over the lazy dog again/'; "
    "n=$((n + {batch})); usleep 100000; done; echo TOTAL $n"
)


async def measure(args: argparse.Namespace, image: str) -> None:
    client, _ = await engine.discover()
    async with client:
        view = LogView(cap=args.cap)
        view.resize(1000, 700)
        view.show()
        await asyncio.sleep(0.1)
        container_id = await client.create_container(
            image, command=["sh", "-c", SCRIPT.format(seconds=args.seconds, batch=args.batch)],
            labels=LABELS)
        meter = CPUStallMeter()
        rss: list[float] = [rss_mib()]
        received = 0
        total_written: int | None = None
        last_line_at = 0.0
        max_entries = 0

        async def sample() -> None:
            nonlocal max_entries
            while True:
                await asyncio.sleep(0.5)
                rss.append(rss_mib())
                max_entries = max(max_entries, len(view.model.entries))

        async def follow() -> None:
            nonlocal received, total_written, last_line_at
            async for batch in engine.log_batches(client, container_id, follow=True,
                                                  timestamps=True, tail=None):
                received += len(batch)
                last = batch.lines[-1]
                if last.startswith(b"TOTAL "):
                    total_written = int(last.split()[1])
                    last_line_at = time.perf_counter()
                view.add_lines(batch.streams, batch.lines, batch.stamps)
            view.flush()

        await client.start_container(container_id)
        started = time.perf_counter()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        meter.start()
        sampler = asyncio.ensure_future(sample())
        try:
            await asyncio.wait_for(follow(), timeout=args.seconds + args.grace)
        except TimeoutError:
            print(f"!! still following {args.grace} s after the container should have ended")
        finally:
            meter.stop()
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        finished = time.perf_counter()
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        exited = (await client.container(container_id)).raw.get("State", {}).get("FinishedAt")
        if total_written is None:  # not reached by the follow: ask the CLI for the last line
            last = docker("logs", "--tail", "1", container_id).split()
            total_written = int(last[1]) if last[:1] == ["TOTAL"] else None
        rss.append(rss_mib())
        max_entries = max(max_entries, len(view.model.entries))
        await client.remove_container(container_id, force=True)

    print(load())
    written = total_written or 0
    print(f"container wrote {written:,} lines in {args.seconds} s ="
          f" {written / args.seconds:,.0f} lines/s (asked ~{args.batch * 10:,}/s);"
          f" finished at {exited}")
    print(f"lines received: {received:,} (+1 TOTAL line) in {finished - started:.1f} s"
          f" = {received / (finished - started):,.0f} lines/s")
    if last_line_at:
        print(f"stream ended {finished - last_line_at:.2f} s after the TOTAL line arrived;"
              f" TOTAL line arrived {last_line_at - started:.1f} s after start"
              f" (container ran {args.seconds} s)")
    print(f"event-loop stalls: {meter.summary()}   (goal max < 50 ms)")
    print(f"                   {meter.cpu_summary()}")
    user = cpu_after.ru_utime - cpu_before.ru_utime
    system = cpu_after.ru_stime - cpu_before.ru_stime
    print(f"CPU used by this process while following: {user:.1f} s user + {system:.1f} s"
          f" system = {(user + system) / (finished - started) * 100:.0f}% of one CPU")
    print(f"model entries: max {max_entries:,}, end {len(view.model.entries):,}, cap {args.cap:,},"
          f" dropped {view.model.dropped:,}   (goal <= cap)")
    print(f"RSS start / max / end: {rss[0]:.0f} / {max(rss):.0f} / {rss[-1]:.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=7000,
                        help="lines per 0.1 s (5000 gave ~35k lines/s here: seq, sed, usleep)")
    parser.add_argument("--cap", type=int, default=100_000)
    parser.add_argument("--grace", type=int, default=30,
                        help="how long to keep following after the container should end")
    parser.add_argument("--image", help="a local busybox image to use (not removed)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    image, built = busybox_image(args.image)
    try:
        loop = make_event_loop(app)  # type: ignore[arg-type]
        with loop:
            loop.run_until_complete(measure(args, image))
    finally:
        remove_labelled()
        if built:
            docker("rmi", "-f", image)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
