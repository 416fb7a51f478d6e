"""Layer analysis of a big image vs ``docker save IMAGE > /dev/null`` of the same image.

Builds (classic builder) a busybox image with a copy of this machine's
/usr/share (about 700 MB, 50k files), a layer deleting parts of it, and a
64 MiB file added in one layer and removed in the next; then measures in one
run, alternating, median of ``--repeats``:

- save:  ``docker save IMAGE > /dev/null`` (the floor the issue names);
- httpx: ``GET /images/{id}/get`` read and dropped with httpx (the old transport's floor);
- bulk:  the same read and dropped through ``Engine.open_body`` (our transport's floor);
- ours:  :func:`engine.analyze_image` (stream, parse every layer tar, stack, waste).

CPU seconds are printed beside wall time: on a shared machine the wall-time
ratio moves with the load, the CPU cost does not.  The daemon's own CPU during
``docker save`` is printed when its process is visible: it builds the export
on the fly and is usually the bottleneck, so every CPU second we spend on a busy
machine is taken from it.  Then one more analysis
under tracemalloc for the Python heap peak; the process's peak RSS
(``ru_maxrss``) is printed too.  The image is removed afterwards.

    .venv/bin/python tests/bench/bench_analyze.py [--repeats 3] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx

import engine
from engine._layers import analyze_image

RUN = uuid.uuid4().hex[:8]
TAG = f"dockyard-bench/analyze:{RUN}"  # --image replaces it
DOCKERFILE = f"""\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY share /usr/share
RUN rm -rf /usr/share/doc /usr/share/locale /usr/share/man
RUN dd if=/dev/zero of=/blob bs=1048576 count=64
RUN rm /blob
LABEL dockyard.bench={RUN}
"""


def build(workdir: Path) -> None:
    context = workdir / "context"
    context.mkdir()
    shutil.copy("/bin/busybox", context / "busybox")
    # Hard links: no data copied, and the CLI still sends every byte.
    subprocess.run(["cp", "-al", "/usr/share", str(context / "share")], check=True)
    (context / "Dockerfile").write_text(DOCKERFILE)
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    start = time.perf_counter()
    subprocess.run(["docker", "build", "-q", "-t", TAG, str(context)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    print(f"built {TAG} in {time.perf_counter() - start:.0f} s")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _daemon_cpu() -> float | None:
    """dockerd's CPU seconds so far, when it runs on this machine and we may read it."""
    try:
        pid = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True,
                             check=False).stdout.split()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (IndexError, OSError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def docker_save() -> tuple[float, float, float | None]:
    """Wall and CPU seconds of ``docker save IMAGE > /dev/null``, and the daemon's CPU."""
    start, cpu, daemon = time.perf_counter(), _children_cpu(), _daemon_cpu()
    with open(os.devnull, "wb") as devnull:  # `> /dev/null`, as a shell would
        subprocess.run(["docker", "save", TAG], stdout=devnull, check=True)
    daemon_after = _daemon_cpu()
    daemon_cpu = None if daemon is None or daemon_after is None else daemon_after - daemon
    return time.perf_counter() - start, _children_cpu() - cpu, daemon_cpu


async def raw_read(client: engine.Engine, image_id: str) -> tuple[float, float, int]:
    assert client.endpoint.socket_path
    async with httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=client.endpoint.socket_path),
        base_url="http://docker", timeout=None,
    ) as http:
        start, cpu = time.perf_counter(), time.process_time()
        total = 0
        async with http.stream("GET", f"/v{client.api_version}/images/{image_id}/get") as resp:
            async for chunk in resp.aiter_raw():
                total += len(chunk)
        return time.perf_counter() - start, time.process_time() - cpu, total


async def bulk_read(client: engine.Engine, image_id: str) -> tuple[float, float, float]:
    """Wall and CPU seconds, and when the first byte came (Docker ≤ 24 writes the whole
    export to a temporary directory before it sends anything)."""
    start, cpu = time.perf_counter(), time.process_time()
    first = 0.0
    async with client.open_body("GET", f"/images/{image_id}/get") as body:
        async for _ in body:
            first = first or time.perf_counter() - start
    return time.perf_counter() - start, time.process_time() - cpu, first


async def measure(repeats: int) -> None:
    load = f"{os.getloadavg()[0]:.1f}"
    client, _ = await engine.discover()
    async with client:
        image_id = (await client.image(TAG)).id
        saves, raws, bulks, ours, firsts = [], [], [], [], []
        save_cpu, daemon_cpu, raw_cpu, bulk_cpu, our_cpu = [], [], [], [], []
        analysis = None
        exported = 0
        for _ in range(repeats):
            elapsed, cpu, daemon = docker_save()
            saves.append(elapsed)
            save_cpu.append(cpu)
            if daemon is not None:
                daemon_cpu.append(daemon)
            elapsed, cpu, exported = await raw_read(client, image_id)
            raws.append(elapsed)
            raw_cpu.append(cpu)
            elapsed, cpu, first = await bulk_read(client, image_id)
            bulks.append(elapsed)
            firsts.append(first)
            bulk_cpu.append(cpu)
            start, cpu = time.perf_counter(), time.process_time()
            analysis = await analyze_image(client, TAG)
            ours.append(time.perf_counter() - start)
            our_cpu.append(time.process_time() - cpu)
        assert analysis is not None
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        tracemalloc.start()
        await analyze_image(client, TAG)
        _, heap_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    files = sum(len(layer.entries) for layer in analysis.layers)
    save, raw, bulk, own = (statistics.median(s) for s in (saves, raws, bulks, ours))
    print(f"image: {len(analysis.layers)} layers, {files} entries,"
          f" {analysis.total_size / 2**20:.1f} MiB of files, export {exported / 2**20:.1f} MiB")
    print(f"wasted: {analysis.wasted_bytes / 2**20:.1f} MiB, efficiency"
          f" {analysis.efficiency * 100:.2f} %")
    print(f"load average before/after: {load} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"docker save > /dev/null : {save * 1000:8.0f} ms, CPU {_median_ms(save_cpu)} ms"
          f"   (samples {_ms(saves)})")
    if daemon_cpu:
        print(f"  dockerd CPU during save : {_median_ms(daemon_cpu)} ms")
    print(f"httpx GET /images/get   : {raw * 1000:8.0f} ms, CPU {_median_ms(raw_cpu)} ms"
          f"   (samples {_ms(raws)})")
    print(f"bulk GET (open_body)    : {bulk * 1000:8.0f} ms, CPU {_median_ms(bulk_cpu)} ms"
          f"   (samples {_ms(bulks)})")
    print(f"  first byte of the export after {_median_ms(firsts)} ms: the daemon's part,"
          " the same for every reader")
    print(f"analyze_image           : {own * 1000:8.0f} ms, CPU {_median_ms(our_cpu)} ms"
          f"   (samples {_ms(ours)})")
    print(f"ratio analyze / docker save = {own / save:.2f}   (goal <= 1.2)")
    # Each round's two runs are minutes apart at most, so their ratio shares the load.
    paired = [o / s for o, s in zip(ours, saves, strict=True)]
    print(f"  per-round ratios {', '.join(f'{r:.2f}' for r in paired)};"
          f" median {statistics.median(paired):.2f}")
    print(f"ratio analyze / httpx read  = {own / raw:.2f}")
    print(f"ratio analyze / bulk read   = {own / bulk:.2f}")
    print(f"peak RSS of this process    = {rss_mib:.0f} MiB   (goal < 300)")
    print(f"Python heap peak (tracemalloc, one analysis) = {heap_peak / 2**20:.0f} MiB")


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f}"


def _ms(samples: list[float]) -> str:
    return ", ".join(f"{s * 1000:.0f}" for s in samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the built image afterwards")
    parser.add_argument("--image", help="measure this existing image instead of building one"
                        " (it is not removed)")
    args = parser.parse_args()
    global TAG
    if args.image:
        TAG = args.image
        asyncio.run(measure(args.repeats))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    try:
        build(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
        asyncio.run(measure(args.repeats))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep:
            subprocess.run(["docker", "rmi", "-f", TAG], stdout=subprocess.DEVNULL, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
