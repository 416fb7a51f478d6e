"""Swarm page: how long from a task's container event to the page's row showing it.

Starts the tests' private one-node swarm dockerd (tests/swarm_dockerd.py; as root;
never the main engine), loads a busybox image into it, opens the Swarm page on it
(over the local socket, or ``--transport tls`` / ``ssh``: its TLS listener, or the
tests' sshd in front of its socket) and scales a service up and down by one task,
``--rounds`` times, with the CLI.  For each change it takes:
- event → row: the first ``start``/``die`` event of the service's task container
  (as the session receives it) to the services row showing the new running count;
- event → task row: the ``start`` event of a new task's container to the Tasks tab
  showing that task (its ID from the event) as running;
- floor: one ``engine.services()`` + ``engine.tasks()`` read (what a refresh costs),
  taken right after, so the coalescing and settle delays show as the difference.
Then a service whose task exits 3 every second (restart on failure): its container's
``die`` event to the Tasks tab showing that task failed with exit code 3.
The load average is printed beside each figure (a busy machine slows every one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _common import busybox_image, load

import engine
from app.event_loop import make_event_loop
from app.pages.swarm import SwarmPage
from app.session import ConnectionState, EngineSession
from tests.sshd import start_sshd
from tests.swarm_dockerd import private_swarm


async def until(condition: object, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(0.001)


def task_row(page: SwarmPage, task_id: str) -> engine.Task | None:
    row = page.tasks_model.row_of(task_id)
    return None if row is None else page.tasks_model.item_at(row)


async def measure(url: str, cli: object, image: str, rounds: int) -> None:
    session = EngineSession(url)
    session.start()
    await until(lambda: session.status.state == ConnectionState.CONNECTED)
    page = SwarmPage(session)
    page.show()
    service_id = cli("service", "create", "--detach", "--name", "bench", "--replicas", "1",  # type: ignore[operator]
                     image, "sleep", "3600")

    def running() -> int:
        row = page.model.row_of(service_id)
        return -1 if row is None else page.model.item_at(row).running

    await until(lambda: running() == 1)
    page.search.setText("bench")
    await until(lambda: page.table.model().rowCount() == 1)
    page.table.selectRow(0)
    events: list[tuple[float, str, str]] = []  # (when, action, task ID)
    session.eventReceived.connect(
        lambda e: events.append((time.perf_counter(), e.action,
                                 e.attributes.get("com.docker.swarm.task.id", "")))
        if e.type == "container" and e.action in ("start", "die")
        and e.attributes.get("com.docker.swarm.service.id") == service_id else None)
    latency, task_latency, floor = [], [], []
    for i in range(rounds):
        for count in (2, 1):
            events.clear()
            cli("service", "scale", "--detach", f"bench={count}")  # type: ignore[operator]
            await until(lambda c=count: running() == c and bool(events))
            shown = time.perf_counter()
            latency.append(shown - events[0][0])
            if count == 2:
                started = next((e for e in events if e[1] == "start"), None)
                if started is None:
                    await until(lambda: any(e[1] == "start" for e in events))
                    started = next(e for e in events if e[1] == "start")
                when, _, task_id = started
                await until(lambda t=task_id: (task := task_row(page, t)) is not None
                            and task.state == "running")
                task_latency.append(time.perf_counter() - when)
            client = session.client
            assert client is not None
            start = time.perf_counter()
            await engine.services(client)
            await engine.tasks(client)
            floor.append(time.perf_counter() - start)
        print(f"round {i + 1}: event → row {latency[-2] * 1000:.0f} / {latency[-1] * 1000:.0f} ms,"
              f" event → task row {task_latency[-1] * 1000:.0f} ms  ({load()})")
    cli("service", "rm", "bench")  # type: ignore[operator]
    up, down = latency[0::2], latency[1::2]
    base = statistics.median(floor) * 1000
    # Scaling down, the service's own event changes the row before the task container's
    # die arrives: that figure is ~0 and says little; scaling up is the one to watch.
    up_ms, down_ms = statistics.median(up) * 1000, statistics.median(down) * 1000
    print(f"scale up: task container start → services row (median of {len(up)}):"
          f" {up_ms:.0f} ms; scale down: {down_ms:.0f} ms; one services+tasks read:"
          f" {base:.0f} ms  ({load()})")
    print(f"task container start → its Tasks row running (median of {len(task_latency)}):"
          f" {statistics.median(task_latency) * 1000:.0f} ms  ({load()})")
    await measure_failures(session, page, cli, image, rounds)
    await session.aclose()
    print(f"load average: {load()}")


async def measure_failures(session: EngineSession, page: SwarmPage, cli: object, image: str,
                           rounds: int) -> None:
    """A task that exits 3: its container's ``die`` to the Tasks row saying failed, exit 3."""
    service_id = cli("service", "create", "--detach", "--name", "benchfail",  # type: ignore[operator]
                     "--restart-condition", "on-failure", "--restart-delay", "1s",
                     image, "sh", "-c", "sleep 1; exit 3")
    await until(lambda: page.model.row_of(service_id) is not None)
    page.search.setText("benchfail")
    await until(lambda: page.table.model().rowCount() == 1)
    page.table.selectRow(0)
    died: list[tuple[float, str]] = []
    session.eventReceived.connect(
        lambda e: died.append((time.perf_counter(),
                               e.attributes.get("com.docker.swarm.task.id", "")))
        if e.type == "container" and e.action == "die"
        and e.attributes.get("com.docker.swarm.service.id") == service_id else None)
    latency = []
    for _ in range(rounds):
        count = len(died)
        await until(lambda c=count: len(died) > c)
        when, task_id = died[count]
        await until(lambda t=task_id: (task := task_row(page, t)) is not None
                    and task.failed and task.exit_code == 3)
        latency.append(time.perf_counter() - when)
        print(f"failed task: die → Tasks row 'failed, exit 3' {latency[-1] * 1000:.0f} ms"
              f"  ({load()})")
    cli("service", "rm", "benchfail")  # type: ignore[operator]
    print(f"task container die → its Tasks row failed with exit code (median of {len(latency)}):"
          f" {statistics.median(latency) * 1000:.0f} ms  ({load()})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--image", help="a local busybox image to use (not removed)")
    parser.add_argument("--transport", choices=("unix", "tls", "ssh"), default="unix",
                        help="reach the manager over its socket, its TLS port, or an sshd")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    image, built = busybox_image(args.image)
    try:
        with private_swarm() as swarm, tempfile.TemporaryDirectory() as scratch:
            swarm.load_image(["docker", "save", image])
            url = swarm.url
            sshd = None
            if args.transport == "tls":
                os.environ.update(swarm.tls_env())
                url = swarm.tls_url
            elif args.transport == "ssh":
                sshd = start_sshd(Path(scratch) / "sshd")
                os.environ.update(sshd.env())
                url = sshd.url + str(swarm.socket)
            print(f"manager at {url}")
            try:
                loop = make_event_loop(app)  # type: ignore[arg-type]
                with loop:
                    loop.run_until_complete(measure(url, swarm.cli, image, args.rounds))
            finally:
                if sshd is not None:
                    sshd.stop()
    finally:
        if built:
            subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
