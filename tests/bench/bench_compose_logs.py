"""Merged logs of a 5-service Compose project into the Apps page's log view.

Two measurements, each printed beside its floor, taken in the same run:

``history`` — five labelled busybox containers (one per service, with the
``com.docker.compose.*`` labels a Compose project has) each print ``--lines``
lines (~60 bytes) and exit; then, alternating, median of ``--repeats``:

- raw:  the five ``GET /containers/{id}/logs?stdout=1&stderr=1`` read to the end
  with httpx, all at once (the floor the issue names), and with ``timestamps=1``;
- bulk: the same ``timestamps=1`` bodies through the engine's own reader (de-chunked
  in bulk, ``Engine.open_body_bytes``), thrown away: the floor of how the app reads;
- ours: what the Logs tab does (``app.pages.app_logs.stream_project_logs`` with every
  line, not the page's tail): the five logs read, merged by time, marked by
  service and shown in the ``LogView`` (offscreen, qasync loop), until the model
  holds every line.  Event-loop stalls are recorded meanwhile.

``follow`` — five services each write ``--rate`` lines/s (``--batch`` every 0.1 s)
for ``--seconds``, then a line with the total each wrote; the Logs tab's path
follows them (merged, into the shown view) while a 5 ms QTimer records event-loop
stalls (goal: max < 50 ms) and how much CPU the main thread used in each gap.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/bench_compose_logs.py [history|follow]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import time

import httpx
from _common import LABELS, RUN, busybox_image, docker, load, median, ms, remove_labelled, rss_mib
from bench_follow import CPUStallMeter
from PySide6.QtWidgets import QApplication

import engine
from app.event_loop import make_event_loop
from app.pages.app_logs import ProjectLogView, stream_project_logs
from engine._io.container_logs import _PIECE

SERVICES = ("web", "worker", "cache", "db", "proxy")
# ~60 bytes a line, with a level word in every tenth (as a real service would).
HISTORY = ("seq -w 1 {n} | sed -e 's/$/ the quick brown fox jumps over the lazy dog/'"
           " -e '/0 the/s/$/ WARN slow/'")
FOLLOW = (
    "end=$(( $(date +%s) + {seconds} )); n=0; "
    "while [ $(date +%s) -lt $end ]; do "
    "seq -w 1 {batch} | sed 's/$/ the quick brown fox jumps over the lazy dog again/'; "
    "n=$((n + {batch})); usleep 100000; done; echo TOTAL $n"
)


def project_labels(project: str, service: str) -> dict[str, str]:
    return {**LABELS, engine.COMPOSE_PROJECT_LABEL: project,
            engine.COMPOSE_SERVICE_LABEL: service, engine.COMPOSE_NUMBER_LABEL: "1",
            engine.COMPOSE_WORKDIR_LABEL: "/srv", engine.COMPOSE_FILES_LABEL: "compose.yaml"}


async def make_project(client: engine.Engine, image: str, script: str
                       ) -> tuple[engine.ComposeProject, list[str]]:
    name = f"bench-{RUN}"
    ids = [await client.create_container(image, command=["sh", "-c", script],
                                         labels=project_labels(name, service))
           for service in SERVICES]
    for container_id in ids:
        await client.start_container(container_id)
    return await engine.compose_project(client, name), ids


async def raw_reads(client: engine.Engine, ids: list[str], timestamps: bool
                    ) -> tuple[float, int]:
    assert client.endpoint.socket_path
    async with httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=client.endpoint.socket_path),
        base_url="http://docker", timeout=None,
    ) as http:
        async def one(container_id: str) -> int:
            total = 0
            params = {"stdout": 1, "stderr": 1, "timestamps": int(timestamps)}
            async with http.stream("GET", f"/v{client.api_version}/containers/{container_id}"
                                   "/logs", params=params) as response:
                async for chunk in response.aiter_raw():
                    total += len(chunk)
            return total

        start = time.perf_counter()
        sizes = await asyncio.gather(*(one(i) for i in ids))
        return time.perf_counter() - start, sum(sizes)


async def bulk_reads(client: engine.Engine, ids: list[str]) -> float:
    """The five ``timestamps=1`` bodies through the engine's own reader, thrown away:
    the floor of the way the app reads (one connection each, de-chunked in bulk)."""
    async def one(container_id: str) -> None:
        params = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": 0, "tail": "all"}
        async with client.open_body_bytes("GET", f"/containers/{container_id}/logs",
                                          params=params, piece=_PIECE) as body:
            async for _blob in body:
                pass

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in ids))
    return time.perf_counter() - start


async def into_view(client: engine.Engine, project: engine.ComposeProject, total: int,
                    cap: int, meter: CPUStallMeter) -> tuple[float, ProjectLogView]:
    view = ProjectLogView(cap=cap)
    view.resize(1100, 700)
    view.show()
    await asyncio.sleep(0.05)
    meter.start()
    start = time.perf_counter()
    await stream_project_logs(view, project, client, tail=None)
    view.flush()
    elapsed = time.perf_counter() - start
    meter.stop()
    assert view.model.rowCount() == min(total, cap), view.model.rowCount()
    return elapsed, view


async def history(args: argparse.Namespace, image: str) -> None:
    client, _ = await engine.discover()
    async with client:
        started = time.perf_counter()
        project, ids = await make_project(client, image, HISTORY.format(n=args.lines))
        for container_id in ids:
            docker("wait", container_id)
        project = await engine.compose_project(client, project.name)
        print(f"{len(ids)} services printed {args.lines} lines each in"
              f" {time.perf_counter() - started:.1f} s")
        total = args.lines * len(ids)
        raws, raws_ts, bulks, ours, stalls = [], [], [], [], []
        size = size_ts = 0
        view: ProjectLogView | None = None
        for _ in range(args.repeats):
            elapsed, size = await raw_reads(client, ids, False)
            raws.append(elapsed)
            elapsed, size_ts = await raw_reads(client, ids, True)
            raws_ts.append(elapsed)
            bulks.append(await bulk_reads(client, ids))
            if view is not None:
                view.deleteLater()
            meter = CPUStallMeter()
            elapsed, view = await into_view(client, project, total, args.cap, meter)
            ours.append(elapsed)
            stalls.append(meter)
        assert view is not None
        start = time.perf_counter()
        view.set_levels({"warn"})
        view.flush()
        level_time = time.perf_counter() - start
        shown_warn = view.list.model().rowCount()
        start = time.perf_counter()
        view.set_levels(None)
        view.set_shown_sources({0, 2})
        source_time = time.perf_counter() - start
        shown_two = view.list.model().rowCount()
        for container_id in ids:
            await client.remove_container(container_id, force=True)

    raw, raw_ts, own, bulk = median(raws), median(raws_ts), median(ours), median(bulks)
    print(load())
    print(f"project: {len(ids)} services x {args.lines} lines = {total} lines,"
          f" {size / 1e6:.1f} MB framed ({size_ts / 1e6:.1f} MB with timestamps), cap {args.cap}")
    print(f"raw GET /logs x5 (at once)           : {raw * 1000:7.0f} ms   (samples {ms(raws)})")
    print(f"raw GET /logs?timestamps=1 x5        : {raw_ts * 1000:7.0f} ms   (samples"
          f" {ms(raws_ts)})")
    print(f"bulk reader, timestamps=1 x5         : {bulk * 1000:7.0f} ms   (samples"
          f" {ms(bulks)})")
    print(f"merged -> ProjectLogView (all in)    : {own * 1000:7.0f} ms   (samples {ms(ours)})")
    print(f"ratio merged view / raw GET /logs x5            = {own / raw:.2f}   (goal <= 1.3)")
    print(f"ratio merged view / raw GET /logs?timestamps x5 = {own / raw_ts:.2f}")
    print(f"ratio merged view / bulk reader x5              = {own / bulk:.2f}   (decoding,"
          " merge and view on top of the read)")
    print(f"event loop while loading (last run): {stalls[-1].summary()}")
    print(f"                                     {stalls[-1].cpu_summary()}")
    print(f"level filter 'warn' on {total} lines: {level_time * 1000:.0f} ms,"
          f" {shown_warn} lines shown")
    print(f"service filter (2 of 5) on {total} lines: {source_time * 1000:.0f} ms,"
          f" {shown_two} lines shown")


async def follow(args: argparse.Namespace, image: str) -> None:
    client, _ = await engine.discover()
    async with client:
        view = ProjectLogView(cap=args.cap)
        view.resize(1100, 700)
        view.show()
        await asyncio.sleep(0.1)
        batch = args.rate // 10
        project, ids = await make_project(
            client, image, FOLLOW.format(seconds=args.seconds, batch=batch))
        meter = CPUStallMeter()
        rss: list[float] = [rss_mib()]
        received = 0
        totals: list[int] = []
        original_add = view.add_lines

        def counting(*a: object, **k: object) -> None:
            nonlocal received
            lines = a[1]
            assert isinstance(lines, (list, tuple))
            received += len(lines)
            totals.extend(int(line.split()[1]) for line in lines if line[:6] == b"TOTAL ")
            original_add(*a, **k)  # type: ignore[arg-type]

        view.add_lines = counting  # type: ignore[method-assign]

        async def sample() -> None:
            while True:
                await asyncio.sleep(0.5)
                rss.append(rss_mib())

        started = time.perf_counter()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        meter.start()
        sampler = asyncio.ensure_future(sample())
        try:
            await asyncio.wait_for(stream_project_logs(view, project, client, tail=None),
                                   timeout=args.seconds + args.grace)
        except TimeoutError:
            print(f"!! still following {args.grace} s after the services should have ended")
        finally:
            view.flush()
            meter.stop()
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        finished = time.perf_counter()
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        for container_id in ids:
            await client.remove_container(container_id, force=True)

    print(load())
    written = sum(totals)
    print(f"{len(ids)} services wrote {written:,} lines in {args.seconds} s ="
          f" {written / args.seconds:,.0f} lines/s ({written / args.seconds / len(ids):,.0f}"
          f" each; asked {args.rate:,}/s each); TOTAL lines seen: {len(totals)}")
    print(f"lines received: {received:,} in {finished - started:.1f} s"
          f" (= written + {len(totals)} TOTAL lines: {received == written + len(totals)})")
    print(f"event-loop stalls: {meter.summary()}   (goal max < 50 ms)")
    print(f"                   {meter.cpu_summary()}")
    user = cpu_after.ru_utime - cpu_before.ru_utime
    system = cpu_after.ru_stime - cpu_before.ru_stime
    print(f"CPU used by this process while following: {user:.1f} s user + {system:.1f} s"
          f" system = {(user + system) / (finished - started) * 100:.0f}% of one CPU")
    print(f"model rows: {view.model.rowCount():,}, cap {args.cap:,}, dropped"
          f" {view.model.dropped:,}; RSS start / max / end: {rss[0]:.0f} / {max(rss):.0f} /"
          f" {rss[-1]:.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="both", choices=("history", "follow", "both"))
    parser.add_argument("--lines", type=int, default=40_000, help="lines of each service")
    parser.add_argument("--cap", type=int, default=250_000, help="the view's line cap")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=int, default=10_000, help="lines/s of each service")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--grace", type=int, default=30)
    parser.add_argument("--image", help="a local busybox image to use (not removed)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    image, built = busybox_image(args.image)
    try:
        loop = make_event_loop(app)  # type: ignore[arg-type]
        with loop:
            if args.mode in ("history", "both"):
                loop.run_until_complete(history(args, image))
            if args.mode in ("follow", "both"):
                loop.run_until_complete(follow(args, image))
    finally:
        remove_labelled()
        if built:
            docker("rmi", "-f", image)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
