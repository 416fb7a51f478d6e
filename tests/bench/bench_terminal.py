"""``cat`` of a 20 MB text file in the terminal widget vs ``docker exec CONTAINER cat FILE``.

A labelled busybox container (``sleep``) gets a ~20 MB text file (``seq`` + ``sed``,
~60-byte lines).  Then, alternating, median of ``--repeats``:

- cli:  ``docker exec CONTAINER cat FILE > /dev/null`` (the floor the issue names),
  and ``docker exec -t`` (a TTY, as the terminal has) for reference;
- read: the same exec as ShellTab makes it (``exec_create(tty=True, stdin=True,
  TERM, console_size)`` + ``exec_start``), output read to the end and dropped;
- ours: the same, every chunk passed to ``TerminalWidget.feed`` as ShellTab does
  (widget shown offscreen, qasync loop), until the output ends and the last
  coalesced repaint ran.  The time inside ``feed``, inside the drains that parse what
  ``feed`` queued and inside ``paintEvent`` is summed, and event-loop stalls are
  recorded (goal < 50 ms).

With ``--color`` every line starts with a bold colour (one of seven, ``ESC[01;3Nm``)
around its number and a reset (``ESC[0m``) before the rest, as ``ls --color`` or a
coloured log prints, so the terminal's SGR handling is measured too.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/bench_terminal.py [--mb 20] [--color]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import time
from typing import Any

from _common import (
    LABELS,
    StallMeter,
    busybox_image,
    docker,
    load,
    median,
    ms,
    remove_labelled,
)
from PySide6.QtWidgets import QApplication

import engine
from app.event_loop import make_event_loop
from app.widgets.terminal import TerminalWidget

FILE = "/big.txt"
LINE = " the quick brown fox jumps over the lazy dog again"


def cli_cat(container_id: str, tty: bool) -> float:
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        subprocess.run(["docker", "exec", *(["-t"] if tty else []), container_id, "cat", FILE],
                       stdout=devnull, stderr=devnull, check=True)
    return time.perf_counter() - start


class Timed(TerminalWidget):
    """The widget, with the time spent parsing (feed) and painting summed."""

    def __init__(self) -> None:
        super().__init__()
        self.feed_time = 0.0
        self.drain_time = 0.0
        self.drains = 0
        self.paint_time = 0.0
        self.paints = 0
        # name -> (wall, CPU of this thread) of the slowest call: wall much above CPU
        # means the process was waiting for a CPU (a loaded machine), not working.
        self.longest = {"feed": (0.0, 0.0), "drain": (0.0, 0.0), "paint": (0.0, 0.0)}

    def _note(self, name: str, wall: float, cpu: float) -> None:
        if wall > self.longest[name][0]:
            self.longest[name] = (wall, cpu)

    def feed(self, data: bytes) -> None:
        start, cpu = time.perf_counter(), time.thread_time()
        super().feed(data)
        took = time.perf_counter() - start
        self.feed_time += took
        self._note("feed", took, time.thread_time() - cpu)

    def _drain(self) -> None:
        start, cpu = time.perf_counter(), time.thread_time()
        super()._drain()
        took = time.perf_counter() - start
        self.drain_time += took
        self.drains += 1
        self._note("drain", took, time.thread_time() - cpu)

    def paintEvent(self, event: Any) -> None:
        start, cpu = time.perf_counter(), time.thread_time()
        super().paintEvent(event)
        took = time.perf_counter() - start
        self.paint_time += took
        self.paints += 1
        self._note("paint", took, time.thread_time() - cpu)


class GcMeter:
    """Pauses of the cyclic garbage collector, per generation (they stall the loop too)."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._start)

    def summary(self) -> str:
        return ", ".join(f"gen{gen} {len(p)}x max {max(p, default=0) * 1000:.1f} ms"
                         for gen, p in self.pauses.items())


async def exec_cat(client: engine.Engine, container_id: str, terminal: TerminalWidget | None,
                   limit: float = 1e9) -> tuple[float, int, bool]:
    """(seconds, bytes read, finished): gives up after ``limit`` seconds."""
    rows, cols = (terminal.rows, terminal.columns) if terminal else (24, 80)
    start = time.perf_counter()
    exec_id = await engine.exec_create(client, container_id, ["cat", FILE], tty=True, stdin=True,
                                       env=["TERM=xterm-256color"], console_size=(rows, cols))
    total = 0
    async with await engine.exec_start(client, exec_id, tty=True,
                                       console_size=(rows, cols)) as running:
        while (chunk := await running.read()) is not None:
            total += len(chunk.data)
            if terminal is not None:
                terminal.feed(chunk.data)
            if time.perf_counter() - start > limit:
                return time.perf_counter() - start, total, False
    if terminal is not None:
        # Parsing what is still pending and the last coalesced repaint (FRAME_MS after
        # the last feed) are part of the job.
        while terminal.busy() or terminal._repaint.isActive():
            await asyncio.sleep(0.001)
        await asyncio.sleep(0)
    return time.perf_counter() - start, total, True


async def measure(args: argparse.Namespace, image: str) -> None:
    client, _ = await engine.discover()
    async with client:
        container_id = await client.create_container(image, command=["sleep", "3600"],
                                                     labels=LABELS)
        await client.start_container(container_id)
        if args.color:
            # ESC[01;3Nm + number + ESC[0m + LINE + LF: 7 + 11 bytes of sequences
            lines = args.mb * 1_000_000 // (7 + 11 + len(LINE))
            script = (f"seq -w 1 {lines} | awk '{{printf \"\\033[01;3%dm%s\\033[0m%s\\n\","
                      f" NR % 7 + 1, $0, \"{LINE}\"}}' > {FILE}")
        else:
            lines = args.mb * 1_000_000 // (7 + len(LINE))
            script = f"seq -w 1 {lines} | sed 's/$/{LINE}/' > {FILE}"
        docker("exec", container_id, "sh", "-c", script)
        size = int(docker("exec", container_id, "stat", "-c", "%s", FILE))
        clis, clis_tty, reads, ours, feeds, paints, npaints = [], [], [], [], [], [], []
        drains, ndrains = [], []
        meters = []
        longest: list[str] = []
        collections: list[str] = []
        received = 0
        terminal = None
        for _ in range(args.repeats):
            clis.append(cli_cat(container_id, False))
            clis_tty.append(cli_cat(container_id, True))
            elapsed, received, _ = await exec_cat(client, container_id, None)
            reads.append(elapsed)
            if terminal is not None:
                terminal.deleteLater()
            terminal = Timed()
            terminal.resize(terminal.sizeHint())
            terminal.show()
            await asyncio.sleep(0.1)
            meter = StallMeter()
            collector = GcMeter()
            gc.callbacks.append(collector)
            meter.start()
            elapsed, fed, finished = await exec_cat(client, container_id, terminal, args.limit)
            meter.stop()
            gc.callbacks.remove(collector)
            if not finished:
                print(f"!! gave up after {elapsed:.0f} s with {fed / 1e6:.2f} MB fed;"
                      f" at that rate the whole file would take"
                      f" {elapsed * size / fed:.0f} s (printed as ours)")
                elapsed = elapsed * size / fed
            ours.append(elapsed)
            feeds.append(terminal.feed_time)
            drains.append(terminal.drain_time)
            ndrains.append(terminal.drains)
            paints.append(terminal.paint_time)
            npaints.append(terminal.paints)
            meters.append(meter)
            collections.append(collector.summary())
            longest.append(", ".join(f"{name} {wall * 1000:.1f} ms (CPU {cpu * 1000:.1f})"
                                     for name, (wall, cpu) in terminal.longest.items()))
        assert terminal is not None
        last = [line.rstrip() for line in terminal.display_lines() if line.strip()]
        await client.remove_container(container_id, force=True)

    cli, cli_tty, read, own = median(clis), median(clis_tty), median(reads), median(ours)
    print(load())
    kind = ", coloured" if args.color else ""
    print(f"file: {size / 1e6:.1f} MB ({lines:,} lines{kind}); TTY output read:"
          f" {received / 1e6:.1f} MB;"
          f" terminal {terminal.columns}x{terminal.rows}, last line on screen: {last[-1][:40]!r}")
    print(f"docker exec cat > /dev/null      : {cli * 1000:7.0f} ms   (samples {ms(clis)})")
    print(f"docker exec -t cat > /dev/null   : {cli_tty * 1000:7.0f} ms   (samples {ms(clis_tty)})")
    print(f"exec (TTY) read, dropped         : {read * 1000:7.0f} ms   (samples {ms(reads)})")
    print(f"exec (TTY) into TerminalWidget   : {own * 1000:7.0f} ms   (samples {ms(ours)})")
    print(f"  of which in feed               : {median(feeds) * 1000:7.0f} ms   (samples"
          f" {ms(feeds)})")
    print(f"  of which in drains (parsing)   : {median(drains) * 1000:7.0f} ms in"
          f" {int(median(ndrains))} drains   (samples {ms(drains)})")
    print(f"  of which in paintEvent         : {median(paints) * 1000:7.0f} ms in"
          f" {int(median(npaints))} repaints")
    print(f"throughput: terminal {size / own / 1e6:.1f} MB/s, docker exec cat"
          f" {size / cli / 1e6:.1f} MB/s")
    print(f"ratio terminal / docker exec cat  = {own / cli:.2f}   (goal <= 3)")
    print(f"ratio terminal / exec TTY read    = {own / read:.2f}")
    print(f"ratio docker exec -t / docker exec = {cli_tty / cli:.2f}")
    for number, (meter, slowest, collected) in enumerate(
            zip(meters, longest, collections, strict=True), 1):
        print(f"event-loop stalls, run {number}: {meter.summary()}   (goal max < 50 ms)")
        print(f"  slowest single call: {slowest}; GC: {collected}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--limit", type=float, default=60,
                        help="stop feeding the terminal after this many seconds and"
                             " extrapolate from the bytes fed")
    parser.add_argument("--color", action="store_true",
                        help="colour every line (an SGR colour and a reset, as ls --color)")
    parser.add_argument("--image", help="a local busybox image to use (not removed)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    image, built = busybox_image(args.image)
    try:
        loop = make_event_loop(app)  # type: ignore[arg-type]
        gc.freeze()  # as app/gui.py does once the window exists
        with loop:
            loop.run_until_complete(measure(args, image))
    finally:
        remove_labelled()
        if built:
            docker("rmi", "-f", image)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
