"""The engine restarted 20 times under an open window (issue 18's figure).

Runs tests/app/test_engine_restarts.py with ``DOCKYARD_RESTARTS`` (default 20; the
test alone does 3, to stay short in CI): a private dockerd (``--live-restore``, as
root) restarted while the Containers and Images pages, a followed log and a shell are
open.  The test prints, per restart, how long after the engine answered again the
window was connected (goal ≤ 2 s), and fails if a list differs from the CLI's or a
log line was lost or shown twice.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=20)
    args = parser.parse_args()
    env = {**os.environ, "DOCKYARD_RESTARTS": str(args.restarts),
           "QT_QPA_PLATFORM": "offscreen"}
    print(f"start   [{load()}]", flush=True)
    result = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
         "tests/app/test_engine_restarts.py"], cwd=ROOT, env=env, check=False,
        capture_output=True, text=True)
    times = [float(line.split()[4]) for line in result.stdout.splitlines()
             if line.startswith("restart ") and "connected again" in line]
    for line in result.stdout.splitlines():
        if line.startswith("restart "):
            print(line)
    if times:
        ordered = sorted(times)
        print(f"{len(times)} restarts: connected again after the engine answered in median"
              f" {ordered[len(ordered) // 2]:.0f} ms, max {ordered[-1]:.0f} ms (goal ≤ 2000 ms)"
              f"   [{load()}]")
    print("lists equal to the CLI's after each restart, no log line lost or doubled:"
          f" {'yes' if result.returncode == 0 else 'NO'}")
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-2000:])
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
