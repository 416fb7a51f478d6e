"""Push, save and load: ``engine.push`` / ``save_images`` / ``load_images`` vs the docker CLI.

Builds a busybox image with a ``--mb`` MB random layer (classic builder,
labelled), then, alternating which goes first, median of ``--repeats``:

- push: to a loopback ``docker-registry`` started afresh (empty storage) for every
  sample, so every push uploads every layer: ``docker push`` vs ``engine.push``
  iterated to the end (every PushProgress decoded);
- save: ``docker save -o FILE`` vs ``engine.save_images(client, [REF], FILE)``;
- load: the image removed first each time; ``docker load -i FILE`` vs
  ``engine.load_images(client, FILE)`` (the same docker-save file).

    .venv/bin/python tests/bench/bench_transfer.py [--mb 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import CLASSIC, LABEL, busybox_image, docker, load, median, ms
from bench_pull import start_registry

import engine

#: CPU seconds (user + system) each side spent, by what was measured: the client's
#: own cost (the daemon's work is the same for both and is not counted).
CPU: dict[str, list[float]] = {}


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str]) -> float:
    before = _cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        subprocess.run(command, stdout=devnull, check=True)
    elapsed = time.perf_counter() - start
    CPU.setdefault(" ".join(command[:2]), []).append(_cpu(resource.RUSAGE_CHILDREN) - before)
    return elapsed


def ours(what: str, run: Callable[[], float]) -> float:
    before = _cpu(resource.RUSAGE_SELF)
    elapsed = run()
    CPU.setdefault(what, []).append(_cpu(resource.RUSAGE_SELF) - before)
    return elapsed


async def _our_push(reference: str) -> tuple[float, str]:
    client, _ = await engine.discover()
    async with client:
        start = time.perf_counter()
        digest = ""
        async for progress in engine.push(client, reference):
            digest = progress.digest or digest
        return time.perf_counter() - start, digest


async def _our_save(reference: str, target: Path) -> float:
    client, _ = await engine.discover()
    async with client:
        start = time.perf_counter()
        async for _ in engine.save_images(client, [reference], target):
            pass
        return time.perf_counter() - start


async def _our_load(source: Path) -> float:
    client, _ = await engine.discover()
    async with client:
        start = time.perf_counter()
        async for _ in engine.load_images(client, source):
            pass
        return time.perf_counter() - start


def alternate(repeats: int, cli: Callable[[], float], ours: Callable[[], float]
              ) -> tuple[list[float], list[float]]:
    clis: list[float] = []
    owns: list[float] = []
    for n in range(repeats):
        if n % 2:
            owns.append(ours())
            clis.append(cli())
        else:
            clis.append(cli())
            owns.append(ours())
    return clis, owns


def report(what: str, floor: str, clis: list[float], owns: list[float]) -> None:
    cli, own = median(clis), median(owns)
    cpu_cli = median(CPU.get(" ".join(floor.split()[:2]), [0.0]))
    cpu_own = median(CPU.get(what, [0.0]))
    print(f"{floor:<22}: {cli * 1000:7.0f} ms   (samples {ms(clis)}); client CPU"
          f" {cpu_cli * 1000:.0f} ms")
    print(f"{what:<22}: {own * 1000:7.0f} ms   (samples {ms(owns)}); client CPU"
          f" {cpu_own * 1000:.0f} ms")
    print(f"ratio {what} / {floor} = {own / cli:.3f}   (goal <= 1.05)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="size of the random layer")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image", help="a local busybox image to build on (not removed)")
    parser.add_argument("--only", default="push,save,load",
                        help="which to measure (load needs save)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    root = Path(tempfile.mkdtemp(prefix="dockyard-bench-transfer-"))
    base, built = busybox_image(args.image)
    image = f"dockyard-bench/transfer:{LABEL.split('=')[1]}"
    pushed: list[str] = []
    try:
        context = root / "image"
        context.mkdir()
        (context / "Dockerfile").write_text(
            f"FROM {base}\nRUN head -c {args.mb * 1_000_000} /dev/urandom > /blob\n")
        docker("build", "-q", "--label", LABEL, "-t", image, str(context), env=CLASSIC)
        print(load())
        print(f"image {image}: busybox + {args.mb} MB random layer")

        def fresh_target() -> tuple[subprocess.Popen[bytes], str]:
            storage = Path(tempfile.mkdtemp(dir=root, prefix="registry-"))
            process, address = start_registry(storage)
            reference = f"{address}/dockyard-bench/push:{LABEL.split('=')[1]}"
            docker("tag", image, reference)
            pushed.append(reference)
            return process, reference

        def stop(process: subprocess.Popen[bytes]) -> None:
            process.terminate()
            process.wait(10)

        digests: list[str] = []

        def cli_push() -> float:
            process, reference = fresh_target()
            try:
                return timed(["docker", "push", reference])
            finally:
                stop(process)

        def our_push() -> float:
            process, reference = fresh_target()
            try:
                result: list[str] = []

                def run() -> float:
                    elapsed, digest = asyncio.run(_our_push(reference))
                    result.append(digest)
                    return elapsed

                elapsed = ours("engine.push", run)
                digest = result[0]
                digests.append(digest)
                return elapsed
            finally:
                stop(process)

        if "push" in only:
            report("engine.push", "docker push", *alternate(args.repeats, cli_push, our_push))
            print(f"  (pushed digest {digests[-1][:19]}…)")

        cli_file, our_file = root / "cli.tar", root / "ours.tar"
        report("engine.save_images", "docker save -o", *alternate(
            args.repeats,
            lambda: timed(["docker", "save", "-o", str(cli_file), image]),
            lambda: ours("engine.save_images", lambda: asyncio.run(_our_save(image, our_file)))))
        print(f"  (file sizes: cli {cli_file.stat().st_size:,} B,"
              f" ours {our_file.stat().st_size:,} B)")

        def cli_load() -> float:
            docker("rmi", image)
            return timed(["docker", "load", "-i", str(cli_file)])

        def our_load() -> float:
            docker("rmi", image)
            return ours("engine.load_images", lambda: asyncio.run(_our_load(cli_file)))

        if "load" in only:
            report("engine.load_images", "docker load -i", *alternate(args.repeats, cli_load,
                                                                       our_load))
    finally:
        for reference in pushed:
            subprocess.run(["docker", "rmi", reference], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
        if built:
            docker("rmi", "-f", base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
