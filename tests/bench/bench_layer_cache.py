"""Re-opening an image's layer files: first open (the export) vs an open from the layer cache.

Builds the image of bench_analyze.py (busybox + a copy of this machine's
/usr/share: about 700 MB, 50k files) unless ``--image`` names one, then, with a
private cache directory, median of ``--repeats``:

- first open: :func:`engine.analyze_image` with an empty cache (export streamed,
  parsed, stacked, and the entry written);
- cached open: the same call again (inspect, entry read and checked, stacked;
  no export), and that plus listing the top layer's files as the window's
  Layers tab does (:func:`app.pages.image_layers.list_files`): what a user
  waits for when they select the image again.  Goal: < 200 ms;
- the entry's parts: read + digest + rebuild, and the stacking;
- the on-disk format, measured on this image's file lists: ours (pickle 5 of
  column tuples) vs pickling the entry dataclasses vs JSON.

    .venv/bin/python tests/bench/bench_layer_cache.py [--repeats 5] [--image REF] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import engine
from app.pages.image_layers import LayerView, list_files
from engine._layers import analyze_image, analyze_layers, no_cyclic_gc
from engine._layers.cache import decode, encode
from tests.bench import bench_analyze


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


async def measure(image: str, repeats: int, directory: Path) -> None:
    cache = engine.LayerCache(directory)
    client, _ = await engine.discover()
    async with client:
        scope = engine.layer_cache_scope(client.endpoint.url)
        image_id = (await client.image(image)).id
        firsts, cached, cached_cpu, reopen, first_byte = [], [], [], [], []
        analysis = None
        for _ in range(repeats):
            cache.remove(scope, image_id)
            asked = time.perf_counter()
            seen: list[float] = []

            def progress(read: int, total: int, seen: list[float] = seen,
                         asked: float = asked) -> None:
                if read and not seen:
                    seen.append(time.perf_counter() - asked)

            start = time.perf_counter()
            analysis = await analyze_image(client, image, cache=cache, progress=progress)
            firsts.append(time.perf_counter() - start)
            first_byte.extend(seen[:1])
            for _ in range(3):
                start, cpu = time.perf_counter(), time.process_time()
                again = await analyze_image(client, image, cache=cache)
                cached.append(time.perf_counter() - start)
                cached_cpu.append(time.process_time() - cpu)  # every thread of the process
                start = time.perf_counter()
                again = await analyze_image(client, image, cache=cache)
                files = await asyncio.to_thread(list_files, again, LayerView.CHANGES,
                                                len(again.layers) - 1)
                reopen.append(time.perf_counter() - start)
        assert analysis is not None
        entry = cache.path(scope, image_id)
        data = entry.read_bytes()

    reads, stacks = [], []
    for _ in range(repeats * 3):  # CPU time: this runs in one thread
        start = time.process_time()
        with no_cyclic_gc():
            saved = decode(image_id, entry.read_bytes())
        middle = time.process_time()
        with no_cyclic_gc():
            analyze_layers(saved.layers, history=saved.history, diff_ids=saved.diff_ids)
        reads.append(middle - start)
        stacks.append(time.process_time() - middle)

    entries = sum(len(layer.entries) for layer in analysis.layers)
    print(f"image: {image}: {len(analysis.layers)} layers, {entries} entries,"
          f" {analysis.total_size / 2**20:.0f} MiB of files")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"first open (export, store)    : {_ms(_median(firsts))}   "
          f"(samples {', '.join(f'{s * 1000:.0f}' for s in firsts)});"
          f" first byte of the export after {_ms(_median(first_byte)).strip()}")
    print(f"cached open (analyze_image)   : {_ms(_median(cached))}   "
          f"(min {_ms(min(cached)).strip()}, max {_ms(max(cached)).strip()});"
          f" CPU {_ms(_median(cached_cpu)).strip()}: the wall time on an idle machine")
    print(f"cached re-open + top layer's files listed: {_ms(_median(reopen))}   "
          f"(max {_ms(max(reopen)).strip()}; goal < 200 ms)   [{files.count} paths]")
    print(f"ratio first / cached open     : {_median(firsts) / _median(cached):.0f}x")
    print(f"  CPU: entry read + digest + rebuild {_ms(_median(reads)).strip()};"
          f" stacking {_ms(_median(stacks)).strip()}")
    print(f"  entry on disk: {len(data) / 2**20:.2f} MiB"
          f" ({len(data) / max(entries, 1):.0f} bytes per file entry)")
    formats(image_id, saved, repeats * 3)


def formats(image_id: str, saved: engine.SavedImage, repeats: int) -> None:
    """The candidate formats on this image's lists: size, write and read time (median)."""
    def timed(action: object) -> float:
        samples = []
        for _ in range(repeats):
            start = time.process_time()
            with no_cyclic_gc():
                action()  # type: ignore[operator]
            samples.append(time.process_time() - start)
        return _median(samples)

    ours = encode(image_id, saved)
    objects = pickle.dumps(saved, protocol=5)
    as_json = json.dumps([[[e.path, e.size, str(e.kind), e.link] for e in layer.entries]
                          for layer in saved.layers]).encode()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print("format (this image's lists, CPU)     size     write      read")
    for name, data, write, read in (
        ("pickle 5, column tuples (ours)", ours, lambda: encode(image_id, saved),
         lambda: decode(image_id, ours)),
        ("pickle 5, the dataclasses", objects, lambda: pickle.dumps(saved, protocol=5),
         lambda: pickle.loads(objects)),
        ("JSON, entries as lists (no rebuild)", as_json, lambda: json.dumps(
            [[[e.path, e.size, str(e.kind), e.link] for e in layer.entries]
             for layer in saved.layers]), lambda: json.loads(as_json)),
    ):
        print(f"  {name:<36} {len(data) / 2**20:5.2f} MiB {_ms(timed(write))} {_ms(timed(read))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--image", help="an existing image instead of building one")
    parser.add_argument("--keep", action="store_true", help="keep the built image")
    args = parser.parse_args()
    image = args.image or bench_analyze.TAG
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    try:
        if not args.image:
            bench_analyze.build(workdir)
        asyncio.run(measure(image, args.repeats, workdir / "cache"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.image and not args.keep:
            subprocess.run(["docker", "rmi", "-f", image], check=False,
                           stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
