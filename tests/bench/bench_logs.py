"""A full log of 200k lines (~12 MB) into the searchable view vs a raw read of ``GET /logs``.

A labelled busybox container prints N lines (about 60 bytes each) to stdout and
exits; then, alternating, median of ``--repeats``:

- raw:  ``GET /containers/{id}/logs?stdout=1&stderr=1`` read to the end with httpx
  (the floor the issue names), and the same with ``timestamps=1`` (what the app asks);
- bulk: the same ``timestamps=1`` body through the engine's own reader (one connection,
  whole reads, de-chunked in bulk: ``Engine.open_body_bytes``) and thrown away:
  the floor of the way the app now reads, before any decoding;
- cli:  ``docker logs ID > /dev/null``;
- ours: what the Logs tab does with "Everything": ``engine.log_batches(timestamps=True)``
  → ``LogView.add_lines`` for each batch → the view's flushes once per tick, until
  the model holds every line (shown offscreen, on the qasync loop of
  ``app.event_loop.make_event_loop``).  Event-loop stalls are recorded meanwhile.

Then a plain-text search over the loaded lines (``LogView._run_search``), and the
same with "Only matches" (the proxy filter).  The view's cap is raised to hold
every line (``--cap``); the app's default is 100k.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/bench_logs.py [--lines 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time

import httpx
from _common import (
    LABELS,
    busybox_image,
    docker,
    load,
    median,
    ms,
    remove_labelled,
    rss_mib,
)
from bench_follow import CPUStallMeter
from PySide6.QtWidgets import QApplication

import engine
from app.event_loop import make_event_loop
from app.widgets.log_view import LogView
from engine._io.container_logs import _PIECE

# ~60 bytes a line: "000123 the quick brown fox jumps over the lazy dog, again\n"
SCRIPT = "seq -w 1 {n} | sed 's/$/ the quick brown fox jumps over the lazy dog again/'"


async def raw_read(client: engine.Engine, container_id: str, timestamps: bool) -> tuple[float,
                                                                                        int]:
    assert client.endpoint.socket_path
    async with httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=client.endpoint.socket_path),
        base_url="http://docker", timeout=None,
    ) as http:
        start = time.perf_counter()
        total = 0
        params = {"stdout": 1, "stderr": 1, "timestamps": int(timestamps)}
        async with http.stream("GET", f"/v{client.api_version}/containers/{container_id}/logs",
                               params=params) as response:
            async for chunk in response.aiter_raw():
                total += len(chunk)
        return time.perf_counter() - start, total


async def bulk_read(client: engine.Engine, container_id: str) -> tuple[float, int]:
    start = time.perf_counter()
    total = 0
    params = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": 0, "tail": "all"}
    async with client.open_body_bytes("GET", f"/containers/{container_id}/logs",
                               params=params, piece=_PIECE) as body:
        async for blob in body:
            total += len(blob)
    return time.perf_counter() - start, total


def cli_logs(container_id: str) -> float:
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        subprocess.run(["docker", "logs", container_id], stdout=devnull, stderr=devnull,
                       check=True)
    return time.perf_counter() - start


async def into_view(client: engine.Engine, container_id: str, lines: int, cap: int,
                    meter: CPUStallMeter) -> tuple[float, LogView]:
    view = LogView(cap=cap)
    view.resize(1000, 700)
    view.show()
    await asyncio.sleep(0.05)  # let it be laid out and painted once
    meter.start()
    start = time.perf_counter()
    # As app/pages/container_detail._stream_logs, then _logs_ended's flush.
    async for batch in engine.log_batches(client, container_id, follow=False, timestamps=True,
                                          tail=None):
        view.add_lines(batch.streams, batch.lines, batch.stamps)
    view.flush()
    elapsed = time.perf_counter() - start
    meter.stop()
    assert view.model.rowCount() == min(lines, cap), view.model.rowCount()
    return elapsed, view


def search(view: LogView, text: str, only_matches: bool) -> tuple[float, int]:
    view.filter.blockSignals(True)
    view.filter.setChecked(only_matches)
    view.filter.blockSignals(False)
    view.search.blockSignals(True)
    view.search.setText(text)
    view.search.blockSignals(False)
    start = time.perf_counter()
    view._run_search()
    elapsed = time.perf_counter() - start
    return elapsed, view.match_count()


async def measure(args: argparse.Namespace, image: str) -> None:
    client, _ = await engine.discover()
    async with client:
        container_id = await client.create_container(
            image, command=["sh", "-c", SCRIPT.format(n=args.lines)], labels=LABELS)
        started = time.perf_counter()
        await client.start_container(container_id)
        docker("wait", container_id)
        print(f"container printed {args.lines} lines in {time.perf_counter() - started:.1f} s")
        raws, raws_ts, bulks, clis, ours, stalls = [], [], [], [], [], []
        size = size_ts = 0
        view = None
        rss_before = rss_mib()
        for _ in range(args.repeats):
            elapsed, size = await raw_read(client, container_id, False)
            raws.append(elapsed)
            elapsed, size_ts = await raw_read(client, container_id, True)
            raws_ts.append(elapsed)
            elapsed, _ = await bulk_read(client, container_id)
            bulks.append(elapsed)
            clis.append(cli_logs(container_id))
            if view is not None:
                view.deleteLater()
                view = None
            meter = CPUStallMeter()
            elapsed, view = await into_view(client, container_id, args.lines, args.cap, meter)
            ours.append(elapsed)
            stalls.append(meter)
        rss_after = rss_mib()
        assert view is not None
        plain = [search(view, "12345", False) for _ in range(3)]
        filtered = [search(view, "12345", True) for _ in range(3)]
        search(view, "", False)
        await client.remove_container(container_id, force=True)

    raw, raw_ts, cli, own = median(raws), median(raws_ts), median(clis), median(ours)
    bulk = median(bulks)
    print(load())
    print(f"log: {args.lines} lines, {size / 1e6:.1f} MB framed ({size_ts / 1e6:.1f} MB with"
          f" timestamps), view cap {args.cap}")
    print(f"raw GET /logs                 : {raw * 1000:7.0f} ms   (samples {ms(raws)})")
    print(f"raw GET /logs?timestamps=1    : {raw_ts * 1000:7.0f} ms   (samples {ms(raws_ts)})")
    print(f"bulk reader, timestamps=1     : {bulk * 1000:7.0f} ms   (samples {ms(bulks)})")
    print(f"docker logs > /dev/null       : {cli * 1000:7.0f} ms   (samples {ms(clis)})")
    print(f"log_batches -> LogView (all in): {own * 1000:6.0f} ms   (samples {ms(ours)})")
    print(f"ratio view / raw GET /logs            = {own / raw:.2f}   (goal <= 1.25)")
    print(f"ratio view / raw GET /logs?timestamps = {own / raw_ts:.2f}")
    print(f"ratio view / bulk reader (timestamps) = {own / bulk:.2f}   (decoding + view on top"
          " of the read)")
    print(f"ratio docker logs / raw GET /logs     = {cli / raw:.2f}")
    print(f"ratio view / docker logs > /dev/null  = {own / cli:.2f}   (issue 18's goal <= 1.0)")
    print(f"event loop while loading (last run): {stalls[-1].summary()}")
    print(f"                                     {stalls[-1].cpu_summary()}")
    print(f"RSS before/after loading: {rss_before:.0f} / {rss_after:.0f} MiB")
    print(f"search '12345' (plain)         : {median([p[0] for p in plain]) * 1000:7.1f} ms,"
          f" {plain[0][1]} matching lines")
    print(f"search '12345' + Only matches  : {median([f[0] for f in filtered]) * 1000:7.1f} ms,"
          f" {filtered[0][1]} matching lines")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--cap", type=int, default=250_000, help="the LogView's line cap")
    parser.add_argument("--repeats", type=int, default=2)
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
