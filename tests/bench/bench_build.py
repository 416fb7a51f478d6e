"""Build of a ~200 MB, ~20k-file context: engine.build(walk_context(...)) vs docker build.

Generates a context under /tmp (``--files`` small files of 1-7 kB in nested
directories, plus ``--big`` files of 10 MB; random bytes) with the Dockerfile
``FROM <busybox>`` / ``COPY . /ctx``.  Then, alternating (and alternating who goes
first, each after a ``sync``), median of ``--repeats``, both with ``--no-cache`` on
the classic builder of the same daemon, both labelled, the image removed after each
build:

- cli:  ``DOCKER_BUILDKIT=0 docker build --no-cache``; also the time until it prints
  ``Step 1/`` (the daemon has the whole context: the "Sending build context" phase);
- ours: ``walk_context`` + ``engine.build(..., nocache=True, buildkit=False)`` to
  ``BuildComplete``; also the time to the first ``BuildStep`` (same phase);
- ``walk_context`` alone (the listing the build sheet shows before building).

    .venv/bin/python tests/bench/bench_build.py [--repeats 4] [--context DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _common import CLASSIC, LABEL, LABELS, RUN, busybox_image, docker, load, median, ms

import engine
from engine._build import BuildComplete, BuildStep, build
from engine._context import walk_context


def make_context(root: Path, files: int, big: int, base: str) -> tuple[int, int]:
    rng = random.Random(1)
    pool = os.urandom(8 << 20)
    total = count = 0
    for index in range(files):
        folder = root / f"d{index % 50:02d}" / f"s{index % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.randint(1000, 7000)
        offset = rng.randint(0, len(pool) - size)
        (folder / f"f{index:05d}.bin").write_bytes(pool[offset:offset + size])
        total += size
        count += 1
    (root / "big").mkdir()
    for index in range(big):
        data = os.urandom(10_000_000)
        (root / "big" / f"blob{index}.bin").write_bytes(data)
        total += len(data)
        count += 1
    (root / "Dockerfile").write_text(f"FROM {base}\nCOPY . /ctx\n")
    return count + 1, total


def cli_build(root: Path, tag: str) -> tuple[float, float]:
    """(total seconds, seconds to the "Step 1/" line)."""
    start = time.perf_counter()
    first_step = 0.0
    process = subprocess.Popen(
        ["docker", "build", "--no-cache", "--label", LABEL, "-t", tag, str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=CLASSIC, bufsize=0)
    assert process.stdout is not None
    seen = b""
    while chunk := process.stdout.read(4096):
        if not first_step:
            seen = (seen + chunk)[-4096:]
            if b"Step 1/" in seen:
                first_step = time.perf_counter() - start
    if process.wait() != 0:
        raise RuntimeError(f"docker build failed: {seen.decode(errors='replace')}")
    return time.perf_counter() - start, first_step


async def our_build(root: Path, tag: str) -> tuple[float, float, float]:
    """(total seconds including walk_context, seconds to the first step, walk seconds)."""
    client, _ = await engine.discover()
    async with client:
        start = time.perf_counter()
        listing = await asyncio.to_thread(walk_context, root)
        walked = time.perf_counter() - start
        first_step = 0.0
        complete = None
        async for event in build(client, listing, tags=[tag], labels=LABELS, nocache=True,
                                 buildkit=False):
            if isinstance(event, BuildStep) and not first_step:
                first_step = time.perf_counter() - start
            if isinstance(event, BuildComplete):
                complete = event
        assert complete is not None
        return time.perf_counter() - start, first_step, walked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000, help="small files")
    parser.add_argument("--big", type=int, default=12, help="10 MB files")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--image", help="a local busybox image to build FROM (not removed)")
    parser.add_argument("--context", help="reuse this generated context directory")
    args = parser.parse_args()
    base, built = busybox_image(args.image)
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-bench-build-"))
    tag = f"dockyard-bench/build:{RUN}"
    try:
        if args.context:
            root = Path(args.context)
            count = sum(len(f) for _, _, f in os.walk(root))
            size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        else:
            root = workdir / "ctx"
            root.mkdir()
            started = time.perf_counter()
            count, size = make_context(root, args.files, args.big, base)
            print(f"generated the context in {time.perf_counter() - started:.1f} s")
        (root / "Dockerfile").write_text(f"FROM {base}\nCOPY . /ctx\n")
        walks = []
        for _ in range(3):
            started = time.perf_counter()
            listing = walk_context(root)
            walks.append(time.perf_counter() - started)
        clis, cli_sends, ours, our_sends, our_walks = [], [], [], [], []

        def run_cli() -> None:
            os.sync()  # the last build's 200 MB of dirty pages are not this one's to write
            total, send = cli_build(root, tag)
            clis.append(total)
            cli_sends.append(send)
            docker("rmi", tag)

        def run_ours() -> None:
            os.sync()
            total, send, walked = asyncio.run(our_build(root, tag))
            ours.append(total)
            our_sends.append(send)
            our_walks.append(walked)
            docker("rmi", tag)

        for round_ in range(args.repeats):
            # Alternate who goes first: this disk slows down over a run, which would
            # otherwise always count against whoever goes second.
            for run in (run_cli, run_ours) if round_ % 2 == 0 else (run_ours, run_cli):
                run()
        cli, own = median(clis), median(ours)
        print(load())
        print(f"context: {count:,} files, {size / 1e6:.0f} MB; walk_context lists"
              f" {len(listing.entries):,} entries")
        print(f"walk_context alone                : {median(walks) * 1000:7.0f} ms"
              f"   (samples {ms(walks)})")
        print(f"docker build (classic, no cache)  : {cli * 1000:7.0f} ms   (samples {ms(clis)})")
        print(f"  to 'Step 1/' (context sent)     : {median(cli_sends) * 1000:7.0f} ms"
              f"   (samples {ms(cli_sends)})")
        print(f"walk_context + engine.build       : {own * 1000:7.0f} ms   (samples {ms(ours)})")
        print(f"  to the first BuildStep          : {median(our_sends) * 1000:7.0f} ms"
              f"   (samples {ms(our_sends)}; walk in it: {ms(our_walks)})")
        pairs = [o / c for o, c in zip(ours, clis, strict=True)]
        print(f"ratio engine.build / docker build = {own / cli:.3f}   (goal <= 1.05;"
              f" per round {', '.join(f'{r:.2f}' for r in pairs)}, median {median(pairs):.3f})")
        print(f"ratio context sent, ours / cli    = {median(our_sends) / median(cli_sends):.3f}")
        print(f"ratio walk_context / cli send     = {median(walks) / median(cli_sends):.3f}")
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
        shutil.rmtree(workdir, ignore_errors=True)
        if built:
            docker("rmi", "-f", base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
