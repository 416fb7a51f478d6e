"""``dockyard registry REGISTRY[/REPOSITORY[:TAG]] [--json]``: browse a registry, no window.

With only a registry it lists the repositories in its catalog (as ``crane
catalog``); with a repository, its tags with digest, size, platforms and created
time (as ``crane ls`` / ``regctl tag ls`` and a registry page would show them);
with a tag, only that tag.  It shares :func:`engine.open_registry` with the
window: the login the docker CLI would use (config.json or its credential
helper), plain http only where the engine allows it (its ``insecure-registries``;
Docker's default ``127.0.0.0/8`` when no engine answers).  Sizes in text are
decimal like the docker CLI's; ``--json`` gives bytes and RFC 3339 times.
Exit 2 with one line on bad input, an unreachable registry or a refused login.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import engine
from app.headless import CommandFailed, run_engine_work
from app.presentation import BadTarget, Target, cli_size, parse_target


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def tag_document(info: engine.TagInfo) -> dict[str, Any]:
    """One tag for ``--json``: bytes, RFC 3339 time, each platform's own image."""
    return {
        "tag": info.tag, "digest": info.digest, "media_type": info.media_type,
        "size": info.size, "platforms": list(info.platforms), "created": _when(info.created),
        "images": [{"platform": i.platform, "digest": i.digest, "size": i.size,
                    "created": _when(i.created)} for i in info.images],
    }


def _created_text(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def format_tags(infos: Sequence[engine.TagInfo]) -> str:
    """The text table: TAG DIGEST SIZE PLATFORMS CREATED (short digest, as the CLI shows)."""
    rows = [["TAG", "DIGEST", "SIZE", "PLATFORMS", "CREATED"]] + [
        [i.tag, i.digest.split(":", 1)[-1][:12], cli_size(i.size, 3),
         ",".join(i.platforms) or "-", _created_text(i.created)] for i in infos]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     .rstrip() for row in rows)


async def _open(target: Target, host: str | None) -> engine.RegistryClient:
    """A registry client with the engine's insecure-registry rule, if an engine answers."""
    try:
        client, _ = await engine.discover(host)
    except engine.EndpointError:
        raise
    except engine.EngineError:
        return await engine.open_registry(target.registry)  # Docker's defaults
    async with client:
        return await engine.open_registry(target.registry, client)


async def _read(target: Target, host: str | None) -> dict[str, Any]:
    async with await _open(target, host) as registry:
        document: dict[str, Any] = {"registry": target.registry}
        if not target.repository:
            document["repositories"] = await registry.repositories()
            return document
        document["repository"] = target.repository
        tags = [target.tag] if target.tag else None
        infos = await registry.tag_infos(target.repository, tags)
        document["tags"] = [tag_document(i) for i in infos]
        document["_infos"] = infos
        return document


def run_registry(text: str, host: str | None, *, as_json: bool) -> int:
    try:
        target = parse_target(text)
        document = run_engine_work(_read(target, host))
    except BadTarget as exc:
        return CommandFailed(str(exc)).exit("registry")
    except CommandFailed as failed:
        return failed.exit("registry")
    infos = document.pop("_infos", None)
    if as_json:
        print(json.dumps(document, indent=2))
    elif infos is None:
        print("\n".join(document["repositories"]))
    else:
        print(format_tags(infos))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The registry options, shared by ``dockyard registry`` and ``python -m app.registry_cmd``."""
    parser.add_argument("target", metavar="REGISTRY[/REPOSITORY[:TAG]]",
                        help="e.g. 127.0.0.1:5000 (its repositories) or"
                             " 127.0.0.1:5000/team/app (that repository's tags)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON document (sizes in bytes, RFC 3339 times)")
    parser.add_argument("-H", "--host", metavar="URL", dest="registry_host",
                        help="the engine whose insecure-registries apply (default: as the"
                             " docker CLI)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dockyard registry",
                                     description="List a registry's repositories or tags.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_registry(args.target, args.registry_host, as_json=args.json)


if __name__ == "__main__":
    raise SystemExit(main())
