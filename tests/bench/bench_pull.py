"""Pull from a loopback registry: ``engine.pull`` vs ``docker pull`` of the same image.

Starts Debian's ``docker-registry`` on 127.0.0.1 (a free port, storage in a temp
directory; Docker treats loopback registries as insecure, so plain HTTP works),
builds a busybox image with a ``--mb`` MB random layer (classic builder,
labelled), pushes it and removes it locally.  Then, alternating, median of
``--repeats`` (the image is removed before every pull, so each one downloads and
extracts the random layer; the busybox base layer is already present for both):

- cli:  ``docker pull REF`` (quiet output to /dev/null);
- ours: ``engine.pull(client, REF)`` iterated to the end (every PullProgress decoded).

    .venv/bin/python tests/bench/bench_pull.py [--mb 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from _common import CLASSIC, LABEL, busybox_image, docker, load, median, ms

import engine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_registry(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("docker-registry")
    if binary is None:
        raise SystemExit("docker-registry is not installed (apt-get install docker-registry)")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"docker-registry did not start:"
                                 f" {(root / 'registry.log').read_text()}") from None
            time.sleep(0.05)
    return process, f"127.0.0.1:{port}"


def cli_pull(reference: str) -> float:
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        subprocess.run(["docker", "pull", reference], stdout=devnull, check=True)
    return time.perf_counter() - start


async def our_pull(reference: str) -> tuple[float, int, str]:
    client, _ = await engine.discover()
    async with client:
        start = time.perf_counter()
        events = 0
        status = ""
        async for progress in engine.pull(client, reference):
            events += 1
            status = progress.status
        return time.perf_counter() - start, events, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=40, help="size of the random layer")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image", help="a local busybox image to build on (not removed)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dockyard-bench-registry-"))
    base, built = busybox_image(args.image)
    process, address = start_registry(root)
    reference = f"{address}/dockyard-bench/pull:{LABEL.split('=')[1]}"
    try:
        context = root / "image"
        context.mkdir()
        (context / "Dockerfile").write_text(
            f"FROM {base}\nRUN head -c {args.mb * 1_000_000} /dev/urandom > /blob\n")
        docker("build", "-q", "--label", LABEL, "-t", reference, str(context), env=CLASSIC)
        docker("push", reference)
        docker("rmi", reference)
        clis, ours = [], []
        events, status = 0, ""
        for _ in range(args.repeats):
            clis.append(cli_pull(reference))
            docker("rmi", reference)
            elapsed, events, status = asyncio.run(our_pull(reference))
            ours.append(elapsed)
            docker("rmi", reference)
        cli, own = median(clis), median(ours)
        print(load())
        print(f"image {reference}: busybox + {args.mb} MB random layer; ours decoded"
              f" {events} progress events, last: {status!r}")
        print(f"docker pull   : {cli * 1000:7.0f} ms   (samples {ms(clis)})")
        print(f"engine.pull   : {own * 1000:7.0f} ms   (samples {ms(ours)})")
        print(f"ratio engine.pull / docker pull = {own / cli:.3f}   (goal <= 1.05)")
    finally:
        subprocess.run(["docker", "rmi", "-f", reference], capture_output=True, check=False)
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)
        if built:
            docker("rmi", "-f", base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
