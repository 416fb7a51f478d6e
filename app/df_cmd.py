"""``dockyard df [-v] [--json]``: disk usage per kind, like ``docker system df``, without a window.

Shares :func:`engine.disk_usage` with the Disk page, so the numbers are the
ones the window shows.  Totals and reclaimable bytes are computed the way the
docker CLI computes them (see :meth:`engine.DiskUsage.summary`), and the text
output prints sizes the way it does (decimal units, 4 significant digits;
3 for the per-image, per-container and per-record sizes of ``-v``), so the two can be read
side by side.  ``--json`` gives every size in bytes (``null``: not measured).
Exit 2 on any error (no engine, bad address), with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import engine
from app.headless import CommandFailed, run_engine_work
from app.presentation import cli_size

if TYPE_CHECKING:  # app.cli imports every command's arguments; the engine loads on use
    from engine import DiskUsage, KindUsage


def reclaimable_text(row: KindUsage) -> str:
    """"1.2MB (40%)" — the CLI gives the share for every kind but the build cache."""
    text = cli_size(row.reclaimable)
    if row.kind != "Build Cache" and row.size > 0:
        text += f" ({row.reclaimable * 100 // row.size}%)"
    return text


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def df_document(usage: DiskUsage, engine_description: str, *, verbose: bool) -> dict[str, Any]:
    """What ``--json`` prints: a summary per kind, and with ``verbose`` every item (bytes)."""
    document: dict[str, Any] = {
        "engine": engine_description,
        "summary": [{"type": row.kind, "total": row.total, "active": row.active,
                     "size": row.size, "reclaimable": row.reclaimable}
                    for row in usage.summary()],
        "build_cache_supported": usage.build_cache_supported,
    }
    if not verbose:
        return document
    document["images"] = [{
        "id": i.id, "repo_tags": list(i.repo_tags), "created": _when(i.created),
        "size": i.size, "shared_size": i.shared_size, "unique_size": i.unique_size,
        "containers": i.containers,
    } for i in usage.images]
    document["containers"] = [{
        "id": c.id, "name": c.name, "image": c.image, "state": c.state, "status": c.status,
        "created": _when(c.created), "size": c.size_rw, "volumes": list(c.volumes),
    } for c in usage.containers]
    document["volumes"] = [{
        "name": v.name, "driver": v.driver, "links": v.ref_count, "size": v.size,
        "anonymous": v.anonymous,
    } for v in usage.volumes]
    document["build_cache"] = [{
        "id": b.id, "type": b.type, "description": b.description, "size": b.size,
        "shared": b.shared, "in_use": b.in_use, "created": _when(b.created),
        "last_used": _when(b.last_used), "usage_count": b.usage_count,
    } for b in usage.build_cache]
    return document


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows)


def format_df(usage: DiskUsage, *, verbose: bool) -> str:
    """The text report: the CLI's summary table, and with ``verbose`` one table per kind."""
    summary = [["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]] + [
        [row.kind, str(row.total), str(row.active), cli_size(row.size), reclaimable_text(row)]
        for row in usage.summary()]
    parts = [_table(summary)]
    if not usage.build_cache_supported:
        parts.append("(this engine, Podman, keeps no build cache records)")
    if not verbose:
        return "\n".join(parts)

    def size_or_na(value: int | None, precision: int = 4) -> str:
        return "N/A" if value is None else cli_size(value, precision)

    parts.append("\nImages space usage:\n")
    parts.append(_table([["IMAGE", "ID", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]] + [
        [i.name, i.short_id, cli_size(i.size, 3), size_or_na(i.shared_size),
         size_or_na(i.unique_size), "N/A" if i.containers is None else str(i.containers)]
        for i in usage.images]))
    parts.append("\nContainers space usage:\n")
    parts.append(_table([["CONTAINER ID", "IMAGE", "SIZE", "STATUS", "NAMES"]] + [
        [c.short_id, c.image, cli_size(c.size_rw, 3), c.status, c.name]
        for c in usage.containers]))
    parts.append("\nLocal Volumes space usage:\n")
    parts.append(_table([["VOLUME NAME", "LINKS", "SIZE"]] + [
        [v.name, "N/A" if v.ref_count is None else str(v.ref_count), size_or_na(v.size)]
        for v in usage.volumes]))
    cache_total = next(r for r in usage.summary() if r.kind == "Build Cache").size
    parts.append(f"\nBuild cache usage: {cli_size(cache_total)}\n")
    parts.append(_table([["CACHE ID", "CACHE TYPE", "SIZE", "SHARED", "IN USE", "DESCRIPTION"]] + [
        [b.id[:12], b.type, cli_size(b.size, 3), str(b.shared).lower(), str(b.in_use).lower(),
         b.description[:60]]
        for b in usage.build_cache]))
    return "\n".join(parts)


async def _read(host: str | None) -> tuple[DiskUsage, str]:
    client, _ = await engine.discover(host)
    async with client:
        return await engine.disk_usage(client), client.description


def run_df(host: str | None, *, verbose: bool, as_json: bool) -> int:
    try:
        usage, description = run_engine_work(_read(host))
    except CommandFailed as failed:
        return failed.exit("df")
    if as_json:
        print(json.dumps(df_document(usage, description, verbose=verbose), indent=2))
    else:
        print(format_df(usage, verbose=verbose))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The df options, shared by ``dockyard df`` and ``python -m app.df_cmd``."""
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="list every image, container, volume and build cache record")
    parser.add_argument("--json", action="store_true", help="print a JSON document (bytes)")
    parser.add_argument("-H", "--host", metavar="URL", dest="df_host",
                        help="engine address (unix:///path or tcp://host:port)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dockyard df",
                                     description="Show the engine's disk usage.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_df(args.df_host, verbose=args.verbose, as_json=args.json)


if __name__ == "__main__":
    raise SystemExit(main())
