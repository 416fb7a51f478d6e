"""The Disk usage page populated vs the raw ``GET /system/df``, with many volumes and images.

Creates N labelled volumes (each with a few bytes, so the daemon measures
something) and M labelled images (``POST /commit`` of one container, a label
apiece: each is an image of its own), then measures in one run, alternating:

- raw: ``GET /system/df`` read with httpx (the floor);
- page: ``DiskPage.refresh()`` until its ``refreshed`` signal — the same df
  through the session, decoded, summed, and the cards and tables filled —
  on the qasync loop, offscreen, with a 5 ms timer recording event-loop stalls;
  twice: *warm*, as the page reads again after an event (items whose JSON did
  not change since the last df are reused, not made again), and *cold*, as on
  its first show (nothing remembered).

Stalls are reported three ways: over the whole refresh (mostly the daemon
measuring, while the page only waits); *while it fills* (from the df's body
arriving to the page filled and painted once); and, as the floor this machine
sets, over an idle stretch as long as the refresh with nothing to do (a loaded
machine preempts the process now and then, whatever it runs).  The process
freezes its start-up heap as the app does (``gc.freeze()`` in app/gui.py).

Everything created is removed afterwards (label ``dockyard.bench=<run>``).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/bench_disk.py --volumes 500 --images 500
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time

import httpx
from _common import (
    LABEL,
    LABEL_KEY,
    LABELS,
    RUN,
    StallMeter,
    busybox_image,
    docker,
    load,
    median,
    ms,
)
from PySide6.QtWidgets import QApplication

import engine
import engine._system
from app.event_loop import make_event_loop
from app.pages.disk import DiskPage
from app.session import EngineSession


async def populate(client: engine.Engine, image: str, volumes: int, images: int) -> None:
    """Labelled volumes with data, and images committed from one labelled container."""
    started = time.perf_counter()
    gate = asyncio.Semaphore(8)

    async def volume(i: int) -> None:
        async with gate:
            await engine.create_volume(client, f"dockyard-bench-{RUN}-{i}", labels=LABELS)

    await asyncio.gather(*(volume(i) for i in range(volumes)))
    # One container writes into the first 50 volumes, so sizes are not all zero.
    mounts = [f"dockyard-bench-{RUN}-{i}:/v{i}" for i in range(min(volumes, 50))]
    if mounts:
        args = [a for m in mounts for a in ("-v", m)]
        docker("run", "--rm", "--label", LABEL, *args, image, "sh", "-c",
               "for d in /v*; do head -c 4096 /dev/zero > $d/data; done")
    print(f"{volumes} volumes in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    base = docker("create", "--label", LABEL, image, "true")
    try:
        async def commit(i: int) -> None:
            async with gate:
                await client.request("POST", "/commit", params={
                    "container": base, "repo": f"dockyard-bench/disk-{RUN}", "tag": str(i),
                    "changes": f'LABEL {LABEL_KEY}="{RUN}" dockyard.bench.n="{i}"'},
                    timeout=120.0)

        await asyncio.gather(*(commit(i) for i in range(images)))
    finally:
        docker("rm", "-f", base)
    print(f"{images} images in {time.perf_counter() - started:.1f} s")


def gaps_after(meter: StallMeter, start: float, since: float) -> tuple[float, float]:
    """The longest gap that ended after ``since`` (the meter started at ``start``), and the
    most CPU time the loop's own thread spent in one gap then (its own work, unpreempted)."""
    at, longest, busiest = start, 0.0, 0.0
    for gap, cpu in zip(meter.gaps, meter.cpu_gaps, strict=True):
        at += gap
        if at > since:
            longest = max(longest, min(gap, at - since))
            busiest = max(busiest, cpu)
    return longest, busiest


def clean_up(images: int) -> None:
    tags = [f"dockyard-bench/disk-{RUN}:{i}" for i in range(images)]
    for start in range(0, len(tags), 100):
        try:
            docker("rmi", *tags[start:start + 100])
        except RuntimeError as exc:
            print(f"(cleanup) {exc}")
    names = docker("volume", "ls", "-q", "--filter", f"label={LABEL}").split()
    for start in range(0, len(names), 100):
        docker("volume", "rm", *names[start:start + 100])


async def measure(args: argparse.Namespace, image: str) -> None:
    client, _ = await engine.discover()
    try:
        await populate(client, image, args.volumes, args.images)
        http = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(
            uds=client.endpoint.socket_path), base_url="http://docker", timeout=600.0)
        session = EngineSession()
        page = DiskPage(session)
        page.resize(1200, 800)
        page.show()
        gc.freeze()  # as the app does once its window is up
        done = asyncio.Event()
        page.refreshed.connect(done.set)
        # When the df's body has arrived (the page's own work starts there).
        arrived: list[float] = []
        read_df = engine._system.read_system_df  # type: ignore[attr-defined]

        async def timed_read(*args, **kwargs):  # type: ignore[no-untyped-def]
            response = await read_df(*args, **kwargs)
            arrived.append(time.perf_counter())
            return response

        engine._system.read_system_df = timed_read  # type: ignore[attr-defined]
        session.start()
        await asyncio.wait_for(done.wait(), 600)  # the first read (connect, show)
        # Only the refreshes measured here: the shared daemon's events (other programs'
        # containers and images) would start reads of their own, whose "refreshed" a
        # measured read could be mistaken for.
        session.eventReceived.disconnect(page._on_event)
        page._timer.stop()
        raw_samples, stalls, idle = [], [], []
        # Warm: the df read again, as the page does after an event (the items that did not
        # change are reused: engine._system._df_memo); cold: its first read, memo empty.
        page_samples: dict[str, list[float]] = {"warm": [], "cold": []}
        own: dict[str, list[float]] = {"warm": [], "cold": []}  # body arrived to filled
        filling: list[tuple[float, float]] = []
        counts = ""

        async def page_refresh(kind: str) -> None:
            # No read of the page's own in flight, nor its result still to be delivered.
            while page.reading or page._timer.isActive():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            if kind == "cold":
                engine._system._df_memo.clear()  # type: ignore[attr-defined]
            done.clear()
            meter = StallMeter()
            meter.start()
            start = time.perf_counter()
            arrived.clear()
            page.refresh()
            await asyncio.wait_for(done.wait(), 600)
            end = time.perf_counter()
            page_samples[kind].append(end - start)
            await asyncio.sleep(0.05)  # the paint that follows
            meter.stop()
            stalls.append(meter)
            filling.append(gaps_after(meter, start, arrived[-1] if arrived else start))
            own[kind].append(end - (arrived[-1] if arrived else start))
            quiet = StallMeter()
            quiet.start()
            await asyncio.sleep(end - start)
            quiet.stop()
            idle.append(quiet.max)

        for _ in range(args.repeats):
            start = time.perf_counter()
            response = await http.get(f"/v{client.api_version}/system/df")
            response.read()
            raw_samples.append(time.perf_counter() - start)
            await page_refresh("warm")
            await page_refresh("cold")
            usage = page.usage
            assert usage is not None
            counts = (f"{len(usage.images)} images, {len(usage.containers)} containers,"
                      f" {len(usage.volumes)} volumes, {len(usage.build_cache)} cache records")
        await http.aclose()
        await session.aclose()
        raw = median(raw_samples)
        print(load())
        print(f"df lists:                       {counts}")
        print(f"raw GET /system/df read:        {raw * 1000:8.1f} ms   ({ms(raw_samples)})")
        for kind, what in (("warm", "read again (as after an event)"),
                           ("cold", "first read (nothing remembered)")):
            ours = median(page_samples[kind])
            pairwise = median([p / r for p, r in zip(page_samples[kind], raw_samples,
                                                     strict=True)])
            print(f"Disk page populated, {what}: {ours * 1000:8.1f} ms"
                  f"   ({ms(page_samples[kind])})")
            print(f"  page's own part (body arrived to filled): {median(own[kind]) * 1000:6.1f} ms"
                  f"   ({ms(own[kind])})")
            print(f"  page / raw: ratio {ours / raw:.2f}   (pairwise, median: {pairwise:.2f})")
        worst = max(stalls, key=lambda m: m.max)
        print(f"event loop, whole refresh (worst run): {worst.summary()}")
        print(f"event loop while it fills, max gap per run: {ms([f[0] for f in filling])} ms"
              f" (body arrived to filled and painted)")
        print(f"  of which the loop's own CPU work, max:    {ms([f[1] for f in filling])} ms"
              f" (the rest: the machine running others)")
        print(f"idle floor, same length, max gap per run:   {ms(idle)} ms")
    finally:
        await client.aclose()
        clean_up(args.images)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=500)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--image", help="a local busybox image (default: build one)")
    args = parser.parse_args()
    image, built = busybox_image(args.image)
    app = QApplication.instance() or QApplication([])
    try:
        loop = make_event_loop(app)  # type: ignore[arg-type]
        with loop:
            loop.run_until_complete(measure(args, image))
    finally:
        if built:
            docker("rmi", "-f", image)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
