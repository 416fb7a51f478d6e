"""Headless start-up: ``dockyard analyze`` of a small image vs ``python -c pass`` (and dive).

The issue's goal: ``dockyard analyze`` of a 2 MB image in <= 0.12 s, where its time is
Python's start-up and imports rather than the analysis.  Measured as whole fresh
processes, alternating, median wall and median CPU of ``--runs``:

- floor: ``python -c pass`` (the interpreter alone, with this venv's site-packages);
- ``dockyard analyze IMAGE`` from the layer cache (after one warm-up run), and with
  ``--no-cache`` (reads the export: what dive does every time);
- ``dockyard analyze --help`` and ``dockyard df --json`` (the other headless paths);
- ``dive --ci IMAGE`` when dive is installed (it is not on the CI machine: said so).

The image is the FROM-scratch busybox (about 2 MB) unless ``--image`` names one.

    .venv/bin/python tests/bench/bench_headless.py [--runs 9] [--image NAME]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

from _common import busybox_image, docker, load, timed_process

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--image", help="an existing local image (default: build busybox)")
    args = parser.parse_args()
    image, built = busybox_image(args.image)
    python = sys.executable
    dockyard = [python, "-m", "app"]
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "dockyard analyze --help": [*dockyard, "analyze", "--help"],
        "dockyard df --json": [*dockyard, "df", "--json"],
        "dockyard analyze (cached)": [*dockyard, "analyze", image],
        "dockyard analyze --no-cache": [*dockyard, "analyze", "--no-cache", image],
    }
    dive = shutil.which("dive")
    if dive:
        commands["dive --ci"] = [dive, "--ci", image]
    try:
        print(load())
        print(f"image: {image} ({docker('image', 'inspect', '-f', '{{.Size}}', image)} bytes)")
        for command in commands.values():  # warm the file cache and the layer cache
            timed_process(command, cwd=REPO)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name].append(timed_process(command, cwd=REPO))
        floor_wall, floor_cpu = (statistics.median(s) for s in zip(*samples["python -c pass"],
                                                                     strict=True))
        print(f"{'':30s} {'wall ms':>8} {'CPU ms':>8} {'wall/pass':>10} {'CPU/pass':>9}"
              f"  (median of {args.runs})")
        for name, runs in samples.items():
            wall, cpu = (statistics.median(s) for s in zip(*runs, strict=True))
            print(f"{name:30s} {wall * 1000:8.1f} {cpu * 1000:8.1f} {wall / floor_wall:10.2f}"
                  f" {cpu / floor_cpu:9.2f}")
        if not dive:
            print("dive: not installed here, so no dive figures (the issue measured 0.035 s)")
        else:
            ours = statistics.median(w for w, _ in samples["dockyard analyze --no-cache"])
            theirs = statistics.median(w for w, _ in samples["dive --ci"])
            print(f"ratio analyze --no-cache / dive: {ours / theirs:.2f}")
        print("goal: dockyard analyze of a 2 MB image <= 120 ms (wall, on an idle machine)")
    finally:
        if built:
            docker("rmi", "-f", image)


if __name__ == "__main__":
    main()
