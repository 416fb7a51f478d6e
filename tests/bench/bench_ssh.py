"""List load over ssh:// (a real sshd on 127.0.0.1, tests/sshd.py) vs over the local socket.

Creates N labelled containers (not started) on the engine at /var/run/docker.sock,
starts an OpenSSH server of its own in front of it (as root, like the tests), and
measures in one run, alternating, median of ``--repeats``:

- connect: ``Engine.open`` (ssh: TCP, key exchange, auth, then the API handshake);
- containers: ``Engine.containers()`` of all N (+ whatever else is there);
- images: ``Engine.images()``;
- export: the export of an image with a ``--blob-mb`` MB random layer, read through
  ``Engine.open_body`` (MB/s): what layer analysis reads.

Ratios are ssh / local.  The containers and the sshd are removed afterwards.

    .venv/bin/python tests/bench/bench_ssh.py [--containers 300] [--repeats 7] [--blob-mb 64]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.sshd

from _common import CLASSIC, LABEL, LABEL_KEY, LABELS, RUN, busybox_image, docker, load, median

import engine
from tests.sshd import start_sshd


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


async def export_bytes(client: engine.Engine, image: str) -> int:
    total = 0
    async with client.open_body("GET", f"/images/{image}/get") as body:
        async for chunk in body:
            total += len(chunk)
    return total


def blob_image(base: str, megabytes: int, root: Path) -> str:
    """An image of ``base`` plus one layer of random bytes (removed by the caller)."""
    context = root / "blob"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {base}\nRUN head -c {megabytes * 1000000} /dev/urandom > /blob\n"
        f'LABEL {LABEL_KEY}="{RUN}"\n')
    tag = f"dockyard-bench/blob:{RUN}"
    docker("build", "-q", "-t", tag, str(context), env=CLASSIC)
    return tag


async def measure(count: int, image: str, export: str, repeats: int, root: Path) -> None:
    local_endpoint = engine.resolve("unix:///var/run/docker.sock").endpoints[0]
    server = start_sshd(root)
    ssh_endpoint = server.endpoint()
    setup = await engine.Engine.open(local_endpoint)
    try:
        await asyncio.gather(*(setup.create_container(image, command=["true"], labels=LABELS)
                               for _ in range(count)))
        samples: dict[str, dict[str, list[float]]] = {
            kind: {"connect": [], "containers": [], "images": [], "export": []}
            for kind in ("local", "ssh")}
        listed = 0
        size = 0
        for _ in range(repeats):
            for kind, endpoint in (("local", local_endpoint), ("ssh", ssh_endpoint)):
                start = time.perf_counter()
                client = await engine.Engine.open(endpoint)
                samples[kind]["connect"].append(time.perf_counter() - start)
                async with client:
                    samples[kind]["containers"].append(await timed(client.containers))
                    samples[kind]["images"].append(await timed(client.images))
                    listed = len(await client.containers())
                    start = time.perf_counter()
                    size = await export_bytes(client, export)
                    samples[kind]["export"].append(time.perf_counter() - start)
        print(f"{load()}; {listed} containers listed, export of {export}: {size / 1e6:.1f} MB;"
              f" median of {repeats}")
        print(f"{'':12} {'local':>10} {'ssh':>10} {'ssh/local':>10}")
        for what in ("connect", "containers", "images"):
            local, ssh = median(samples["local"][what]), median(samples["ssh"][what])
            print(f"{what:12} {local * 1000:8.1f}ms {ssh * 1000:8.1f}ms {ssh / local:10.2f}")
        local, ssh = median(samples["local"]["export"]), median(samples["ssh"]["export"])
        print(f"{'export':12} {size / local / 1e6:6.0f}MB/s {size / ssh / 1e6:6.0f}MB/s"
              f" {ssh / local:10.2f}")
    finally:
        ids = [c.id for c in await setup.containers(filters={"label": [LABEL]})]
        await asyncio.gather(*(setup.remove_container(i, force=True) for i in ids))
        await setup.aclose()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=300)
    parser.add_argument("--image", help="a local image (default: a busybox built for the run)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--blob-mb", type=int, default=64, help="the exported image's layer")
    args = parser.parse_args()
    image, built = busybox_image(args.image)
    export = ""
    try:
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-sshd-") as root:
            export = blob_image(image, args.blob_mb, Path(root))
            asyncio.run(measure(args.containers, image, export, args.repeats, Path(root)))
    finally:
        if export:
            docker("rmi", "-f", export)
        if built:
            docker("rmi", "-f", image)


if __name__ == "__main__":
    main()
