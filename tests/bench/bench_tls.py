"""List load over tcp:// with TLS vs over the local socket, of the same daemon.

Starts the harness's second dockerd (tests/tls_dockerd.py: its own certificates, data
root and bridge; as root, like the tests), loads a busybox image (plus one with a
``--blob-mb`` MB random layer) into it from the machine's Docker, creates N containers
(not started) there, and measures in one run, alternating, median of ``--repeats``:

- connect: ``Engine.open`` (TLS: TCP, the handshake with client certificate, then the
  API handshake);
- containers: ``Engine.containers()`` of all N;
- images: ``Engine.images()``;
- export: the blob image's export read through ``Engine.open_body`` (MB/s).

Both columns talk to the same dockerd (its unix socket and its TLS port), so the ratio
is what TLS over loopback TCP costs.  Everything is removed afterwards.

    .venv/bin/python tests/bench/bench_tls.py [--containers 300] [--repeats 7] [--blob-mb 64]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.*

from _common import LABEL, LABELS, busybox_image, docker, load, median
from bench_ssh import blob_image, export_bytes, timed

import engine
from engine._endpoint import parse_host
from tests.tls_dockerd import TLSDockerd, start_tls_dockerd


def copy_image(image: str, server: TLSDockerd) -> None:
    """``docker save`` from the machine's Docker into the TLS dockerd's ``docker load``."""
    save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    subprocess.run(["docker", "-H", server.socket, "load", "-q"], stdin=save.stdout,
                   check=True, capture_output=True)
    if save.wait() != 0:
        raise RuntimeError(f"docker save {image} failed")


async def measure(server: TLSDockerd, count: int, image: str, export: str, repeats: int
                  ) -> None:
    local_endpoint = parse_host(server.socket, "its unix socket")
    tls_endpoint = server.endpoint()
    setup = await engine.Engine.open(local_endpoint)
    try:
        await asyncio.gather(*(setup.create_container(image, command=["true"], labels=LABELS)
                               for _ in range(count)))
        samples: dict[str, dict[str, list[float]]] = {
            kind: {"connect": [], "containers": [], "images": [], "export": []}
            for kind in ("local", "tls")}
        listed = size = 0
        for _ in range(repeats):
            for kind, endpoint in (("local", local_endpoint), ("tls", tls_endpoint)):
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
        print(f"{'':12} {'local':>10} {'tls':>10} {'tls/local':>10}")
        for what in ("connect", "containers", "images"):
            local, tls = median(samples["local"][what]), median(samples["tls"][what])
            print(f"{what:12} {local * 1000:8.1f}ms {tls * 1000:8.1f}ms {tls / local:10.2f}")
        local, tls = median(samples["local"]["export"]), median(samples["tls"]["export"])
        print(f"{'export':12} {size / local / 1e6:6.0f}MB/s {size / tls / 1e6:6.0f}MB/s"
              f" {tls / local:10.2f}")
    finally:
        ids = [c.id for c in await setup.containers(filters={"label": [LABEL]})]
        await asyncio.gather(*(setup.remove_container(i, force=True) for i in ids))
        await setup.aclose()


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
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-tls-") as root:
            export = blob_image(image, args.blob_mb, Path(root))
            server = start_tls_dockerd(Path(root) / "dockerd")
            try:
                copy_image(image, server)
                copy_image(export, server)
                asyncio.run(measure(server, args.containers, image, export, args.repeats))
            finally:
                server.stop()
    finally:
        if export:
            docker("rmi", "-f", export)
        if built:
            docker("rmi", "-f", image)


if __name__ == "__main__":
    main()
