"""Live container stats: samples with CPU and memory worked out as ``docker stats`` does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine._client import Engine
from engine._errors import (
    EngineUnreachable,
)
from engine._io.container_logs import container_gone
from engine._models import parse_timestamp


@dataclass(frozen=True, slots=True)
class StatsSample:
    """One stats reading, computed the way ``docker stats`` computes its columns."""

    time: datetime | None
    cpu_percent: float
    memory_used: int
    memory_limit: int
    memory_percent: float
    net_rx: int
    net_tx: int
    block_read: int
    block_write: int
    pids: int


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _cpu_percent(raw: Mapping[str, Any]) -> float:
    """docker/cli ``calculateCPUPercentUnix``: Δcontainer / Δsystem * CPUs * 100."""
    cpu = _map(raw.get("cpu_stats"))
    pre = _map(raw.get("precpu_stats"))
    usage = _map(cpu.get("cpu_usage"))
    cpu_delta = float(_int(usage.get("total_usage"))) - float(
        _int(_map(pre.get("cpu_usage")).get("total_usage"))
    )
    system_delta = float(_int(cpu.get("system_cpu_usage"))) - float(
        _int(pre.get("system_cpu_usage"))
    )
    online = float(_int(cpu.get("online_cpus")))
    if online == 0.0:
        online = float(len(usage.get("percpu_usage") or ()))
    if system_delta > 0.0 and cpu_delta > 0.0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def _memory_used(memory: Mapping[str, Any]) -> int:
    """docker/cli ``calculateMemUsageUnixNoCache``: usage minus inactive page cache.

    cgroup v1 subtracts ``total_inactive_file``, v2 ``inactive_file``; Podman sends
    no ``stats`` at all (or null), leaving the raw usage.  As in the CLI, a v1 value
    that is not below usage falls through to the v2 key.
    """
    usage = _int(memory.get("usage"))
    detail = _map(memory.get("stats"))
    if "total_inactive_file" in detail and _int(detail["total_inactive_file"]) < usage:
        return usage - _int(detail["total_inactive_file"])
    inactive = _int(detail.get("inactive_file"))
    if inactive < usage:
        return usage - inactive
    return usage


def sample_from_stats(raw: Mapping[str, Any]) -> StatsSample:
    """Turn one ``/containers/{id}/stats`` object into the numbers ``docker stats`` shows."""
    memory = _map(raw.get("memory_stats"))
    used = _memory_used(memory)
    limit = _int(memory.get("limit"))
    rx = tx = 0
    for network in _map(raw.get("networks")).values():
        rx += _int(_map(network).get("rx_bytes"))
        tx += _int(_map(network).get("tx_bytes"))
    block_read = block_write = 0
    for entry in _map(raw.get("blkio_stats")).get("io_service_bytes_recursive") or ():
        op = str(_map(entry).get("op") or "")[:1].lower()
        if op == "r":
            block_read += _int(_map(entry).get("value"))
        elif op == "w":
            block_write += _int(_map(entry).get("value"))
    return StatsSample(
        time=parse_timestamp(raw.get("read")),
        cpu_percent=_cpu_percent(raw),
        memory_used=used,
        memory_limit=limit,
        memory_percent=used / limit * 100.0 if limit else 0.0,
        net_rx=rx,
        net_tx=tx,
        block_read=block_read,
        block_write=block_write,
        pids=_int(_map(raw.get("pids_stats")).get("current")),
    )


async def stats(
    client: Engine, container_id: str, *, stream: bool = True, one_shot: bool = False
) -> AsyncIterator[StatsSample]:
    """Live stats: about one sample a second (Docker) or every 5 s (Podman).

    Ends when the container stops (Docker then sends zeroed samples, which are not
    passed on) or is removed.  ``stream=False`` yields one sample: on Docker after
    ~2 s so CPU % is a real delta; on Podman at once, with an empty previous reading.
    ``one_shot`` (only with ``stream=False``) asks Docker to answer at once too,
    at the price of an empty previous reading (the CPU % is then the average over
    the container's life, as ``docker stats`` would compute it from that answer).
    """
    if one_shot and stream:
        raise ValueError("one_shot needs stream=False (both engines answer 400 otherwise)")
    path = f"/containers/{container_id}/stats"
    if not stream:
        params: dict[str, Any] = {"stream": "false"}
        if one_shot:
            params["one-shot"] = "true"  # both engines reject it together with stream=true
        raw = await client.get_json(path, params)
        if isinstance(raw, Mapping) and parse_timestamp(raw.get("read")) is not None:
            yield sample_from_stats(raw)
        return
    try:
        async for raw in client.json_stream(path, {"stream": "true"}):
            if not isinstance(raw, Mapping):
                continue
            if parse_timestamp(raw.get("read")) is None:
                return  # Docker's way of saying the container is not running
            yield sample_from_stats(raw)
    except EngineUnreachable:
        if not await container_gone(client, container_id):
            raise
