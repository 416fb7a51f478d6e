"""Swarm page: how long from a task's container event to the page's row showing it.

Starts the tests' private one-node swarm dockerd (tests/swarm_dockerd.py; as root;
never the main engine), loads a busybox image into it, opens the Swarm page on it
and scales a service up and down by one task, ``--rounds`` times, with the CLI.
For each change it takes:
- event → row: the first ``start``/``die`` event of the service's task container
  (as the session receives it) to the model row showing the new running count;
- floor: one ``engine.services()`` + ``engine.tasks()`` read (what a refresh costs),
  taken right after, so the coalescing and settle delays show as the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _common import busybox_image, load

import engine
from app.event_loop import make_event_loop
from app.pages.swarm import SwarmPage
from app.session import ConnectionState, EngineSession
from tests.swarm_dockerd import private_swarm


async def until(condition: object, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(0.001)


async def measure(url: str, cli: object, image: str, rounds: int) -> None:
    session = EngineSession(url)
    session.start()
    await until(lambda: session.status.state == ConnectionState.CONNECTED)
    page = SwarmPage(session)
    service_id = cli("service", "create", "--detach", "--name", "bench", "--replicas", "1",  # type: ignore[operator]
                     image, "sleep", "3600")

    def running() -> int:
        row = page.model.row_of(service_id)
        return -1 if row is None else page.model.item_at(row).running

    await until(lambda: running() == 1)
    events: list[float] = []
    session.eventReceived.connect(
        lambda e: events.append(time.perf_counter())
        if e.type == "container" and e.action in ("start", "die")
        and e.attributes.get("com.docker.swarm.service.id") == service_id else None)
    latency, floor = [], []
    for i in range(rounds):
        for count in (2, 1):
            events.clear()
            cli("service", "scale", "--detach", f"bench={count}")  # type: ignore[operator]
            await until(lambda c=count: running() == c and bool(events))
            shown = time.perf_counter()
            latency.append(shown - events[0])
            client = session.client
            assert client is not None
            start = time.perf_counter()
            await engine.services(client)
            await engine.tasks(client)
            floor.append(time.perf_counter() - start)
        print(f"round {i + 1}: event → row {latency[-2] * 1000:.0f} / {latency[-1] * 1000:.0f} ms")
    cli("service", "rm", "bench")  # type: ignore[operator]
    await session.aclose()
    med, base = statistics.median(latency) * 1000, statistics.median(floor) * 1000
    print(f"task container event → row (median of {len(latency)}): {med:.0f} ms;"
          f" one services+tasks read: {base:.0f} ms; ratio {med / base:.1f}")
    print(f"load average: {load()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--image", help="a local busybox image to use (not removed)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    image, built = busybox_image(args.image)
    try:
        with private_swarm() as swarm:
            swarm.load_image(["docker", "save", image])
            loop = make_event_loop(app)  # type: ignore[arg-type]
            with loop:
                loop.run_until_complete(measure(swarm.url, swarm.cli, image, args.rounds))
    finally:
        if built:
            subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
