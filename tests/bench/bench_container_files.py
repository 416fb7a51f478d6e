"""The Files tab listing a 100k-entry container folder vs the raw ``GET …/archive`` read.

Makes one labelled container (created, never started) of the busybox image and
copies a folder ``/big`` of N small files into it, then measures in one run,
alternating:

- raw: ``GET /containers/{id}/archive?path=/.`` read to the end with httpx (the
  floor: the archive API has no one-level listing, a folder's read is its subtree);
- tab: the Files tab reading the container's root, with ``/big`` opened as soon as
  its row appears, until all N entries of ``/big`` are in the model (its first page of
  rows shown, the rest a "… more" row away, and searchable) — on the qasync
  loop, offscreen, with a 5 ms timer recording event-loop stalls (goal: max < 50 ms;
  the main thread's CPU time in each gap tells our stalls from time the OS gave to
  other work on a loaded machine);
- then re-sorting the 100k entries by size and back by name (the same stall meter).

The load average is printed beside the figures.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/bench_container_files.py --files 100000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import subprocess
import tarfile
import time

import httpx
from _common import LABEL, busybox_image, docker, load, median, ms, rss_mib
from bench_follow import CPUStallMeter
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication

import engine
from app.event_loop import make_event_loop
from app.models.container_files import PAGE
from app.pages.container_files import ContainerFilesTab
from app.session import EngineSession


def big_tar(files: int) -> bytes:
    """A tar of ``big/`` holding ``files`` files of 8 bytes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as archive:
        folder = tarfile.TarInfo("big")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(folder)
        data = b"01234567"
        for i in range(files):
            info = tarfile.TarInfo(f"big/file-{i:06d}.txt")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


async def measure(args: argparse.Namespace, image: str) -> None:
    client, _ = await engine.discover()
    container_id = docker("create", "--label", LABEL, image, "true")
    try:
        started = time.perf_counter()
        subprocess.run(["docker", "cp", "-", f"{container_id}:/"], input=big_tar(args.files),
                       check=True, capture_output=True)
        print(f"/big with {args.files} files copied in {time.perf_counter() - started:.1f} s")
        [container] = await client.containers(all=True, filters={"id": [container_id]})
        http = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(
            uds=client.endpoint.socket_path), base_url="http://docker", timeout=600.0)
        session = EngineSession()
        tab = ContainerFilesTab(session)
        tab.resize(1200, 720)
        session.start()
        while not session.connected:
            await asyncio.sleep(0.05)
        tab.show()
        gc.freeze()  # as the app does once its window is up (app.gui)
        model = tab.model
        raw_samples, tab_samples, first_rows, stalls = [], [], [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            size = 0
            async with http.stream(
                    "GET", f"/v{client.api_version}/containers/{container_id}/archive",
                    params={"path": "/."}, headers={"Accept-Encoding": "identity"}) as response:
                async for chunk in response.aiter_raw():
                    size += len(chunk)
            raw_samples.append(time.perf_counter() - start)

            done = asyncio.Event()
            first: list[float] = []

            def big() -> QModelIndex:
                return model.index_of_path("/big")

            def check(*_args: object, first: list[float] = first,
                      done: asyncio.Event = done) -> None:
                index = big()
                if index.isValid() and not tab.view.isExpanded(index):
                    tab.view.expand(index)
                if index.isValid() and model.rowCount(index) and not first:
                    first.append(time.perf_counter())
                if "/" in model.complete and model.settled_now() and index.isValid() \
                        and len(model.known.get("/big", ())) == args.files \
                        and model.rowCount(index) == min(args.files, PAGE) + (args.files > PAGE):
                    done.set()

            model.rowsInserted.connect(check)
            model.settled.connect(check)
            meter = CPUStallMeter()
            meter.start()
            start = time.perf_counter()
            tab.show_container(None)
            tab.show_container(container)
            await asyncio.wait_for(done.wait(), 600)
            tab_samples.append(time.perf_counter() - start)
            first_rows.append(first[0] - start if first else float("nan"))
            meter.stop()
            stalls.append(meter)
            print(f"  objects frozen after listing {len(tab_samples)}: {gc.get_freeze_count():,}")
            model.rowsInserted.disconnect(check)
            model.settled.disconnect(check)
        rows = model.rowCount(model.index_of_path("/big"))
        known = len(model.known.get("/big", ()))
        listing_load = load()

        # Re-sorting the 100k entries by size, largest first, and back by name.
        sorts, sort_stalls = [], []
        for column, order in ((1, Qt.SortOrder.DescendingOrder),
                              (0, Qt.SortOrder.AscendingOrder)):
            sorted_event = asyncio.Event()
            model.settled.connect(sorted_event.set)
            meter = CPUStallMeter()
            meter.start()
            start = time.perf_counter()
            tab.view.sortByColumn(column, order)
            if not model.settled_now():
                await asyncio.wait_for(sorted_event.wait(), 600)
            sorts.append(time.perf_counter() - start)
            meter.stop()
            sort_stalls.append(meter)
            model.settled.disconnect(sorted_event.set)
        sort_load = load()
        await http.aclose()
        await session.aclose()
        raw, ours = median(raw_samples), median(tab_samples)
        print(f"listing: {listing_load}")
        print(f"tar of the container's root:    {size / 1e6:.1f} MB;"
              f" entries of /big: {known}, rows shown: {rows}")
        print(f"raw GET …/archive?path=/. read: {raw * 1000:8.1f} ms   ({ms(raw_samples)})")
        print(f"Files tab, all of /big in:      {ours * 1000:8.1f} ms   ({ms(tab_samples)})")
        print(f"first rows of /big shown after: {median(first_rows) * 1000:8.1f} ms"
              f"   ({ms(first_rows)})")
        print(f"tab / raw:                      ratio {ours / raw:.2f}")
        worst = max(stalls, key=lambda m: m.max)
        print(f"event loop while listing (worst run): {worst.summary()}")
        print(f"  {worst.cpu_summary()}")
        print(f"re-sort of /big by size, then by name: "
              f"{', '.join(f'{t * 1000:.0f} ms' for t in sorts)}   ({sort_load})")
        worst = max(sort_stalls, key=lambda m: m.max)
        print(f"event loop while sorting (worst): {worst.summary()}")
        print(f"  {worst.cpu_summary()}")
        print(f"RSS after: {rss_mib():.0f} MiB; objects frozen: {gc.get_freeze_count():,}"
              f" (the start-up heap only: the tab freezes nothing; growth is a leak)")
    finally:
        await client.aclose()
        docker("rm", "-f", container_id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
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
