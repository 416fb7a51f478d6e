"""List load with many containers: the raw API call and `docker ps -a` vs our model.

Creates N labelled containers (not started), then measures in one run:
- raw: GET /containers/json?all=1 read with httpx (the floor);
- cli: `docker ps -a` of the same list;
- ours: Engine.containers() decoding into dataclasses, and the table model
  filled from empty (insert) and refreshed with one container changed (diff).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import subprocess
import time
import uuid

import httpx
from PySide6.QtWidgets import QApplication

import engine
from app.pages.containers import containers_model

LABEL = f"dockyard.bench={uuid.uuid4().hex[:8]}"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def measure(count: int, image: str, repeats: int) -> None:
    client, _ = await engine.discover()
    key, value = LABEL.split("=")
    try:
        await asyncio.gather(*(
            client.create_container(image, command=["true"], labels={key: value})
            for _ in range(count)
        ))
        raw_samples, ours_samples, cli_samples = [], [], []
        http = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(
            uds=client.endpoint.socket_path), base_url="http://docker")
        for _ in range(repeats):
            start = time.perf_counter()
            response = await http.get(f"/v{client.api_version}/containers/json",
                                      params={"all": 1})
            response.read()
            raw_samples.append(time.perf_counter() - start)
            start = time.perf_counter()
            containers = await client.containers()
            ours_samples.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run(["docker", "ps", "-a"], capture_output=True, check=True)
            cli_samples.append(time.perf_counter() - start)
        await http.aclose()

        app = QApplication.instance() or QApplication([])
        fill, diff = [], []
        for _ in range(repeats):
            model = containers_model()
            start = time.perf_counter()
            model.set_items(containers)
            fill.append(time.perf_counter() - start)
            changed = [*containers[1:], dataclasses.replace(
                containers[0], state="running", status="Up 1 second")]
            start = time.perf_counter()
            model.set_items(changed)
            diff.append(time.perf_counter() - start)
        del app
        total = len(containers)
        raw, ours, cli = median_ms(raw_samples), median_ms(ours_samples), median_ms(cli_samples)
        print(f"containers listed:                        {total}")
        print(f"raw GET /containers/json read:            {raw:8.1f} ms")
        print(f"Engine.containers() (+ dataclasses):      {ours:8.1f} ms   ratio {ours / raw:.2f}")
        print(f"docker ps -a:                             {cli:8.1f} ms   ratio {cli / raw:.2f}")
        print(f"model filled from empty:                  {median_ms(fill):8.1f} ms")
        print(f"model refreshed, one row changed (diff):  {median_ms(diff):8.1f} ms")
        print(f"list + fill vs raw read:                  ratio "
              f"{(ours + median_ms(fill)) / raw:.2f}")
    finally:
        ids = [c.id for c in await client.containers(filters={"label": [LABEL]})]
        await asyncio.gather(*(client.remove_container(i, force=True) for i in ids))
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=500)
    parser.add_argument("--image", default="dockyard-test/busybox:latest",
                        help="a local image to create the containers from")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.containers, args.image, args.repeats))


if __name__ == "__main__":
    main()
