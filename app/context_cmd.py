"""``dockyard context DIR [-f DOCKERFILE] [--json]``: what a build of DIR would send.

Lists the files left after .dockerignore (the docker CLI's classic rules, the same
code the build sheet's context inspector uses), their sizes and the total, plus
warnings, without talking to an engine.  Exit status 0, or 2 when the context
cannot be read (missing directory, bad .dockerignore pattern).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import engine

if TYPE_CHECKING:  # app.cli imports every command's arguments; the engine loads on use
    from engine import ContextListing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options, shared by ``dockyard context`` and ``python -m app.context_cmd``."""
    parser.add_argument("directory", metavar="DIR", help="the build context directory")
    parser.add_argument(
        "-f", "--file", metavar="DOCKERFILE", dest="dockerfile",
        help="the Dockerfile, relative to the current directory as with docker build"
             " (default: DIR/Dockerfile)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON document")


def listing_report(listing: ContextListing) -> dict[str, Any]:
    """Everything the command prints, as plain data (the JSON output is exactly this)."""
    return {
        "context": str(listing.root),
        "dockerfile": listing.dockerfile,
        "files": [
            {"path": e.path, "size": e.size, "type": str(e.kind)}
            | ({"target": e.link} if e.link else {})
            for e in listing.entries
        ],
        "file_count": listing.file_count,
        "total_size": listing.total_size,
        "largest_files": [{"path": e.path, "size": e.size} for e in listing.largest_files(5)],
        "largest_dirs": [{"path": d, "size": s} for d, s in listing.largest_dirs(5)],
        "warnings": list(listing.warnings),
    }


def format_listing(listing: ContextListing) -> str:
    lines: list[str] = []
    width = max((len(str(e.size)) for e in listing.entries), default=1)
    for entry in listing.entries:
        if entry.kind is engine.ContextEntryKind.FILE:
            lines.append(f"{entry.size:>{width}}  {entry.path}")
        elif entry.kind is engine.ContextEntryKind.DIR:
            lines.append(f"{'':>{width}}  {entry.path}/")
        elif entry.kind in (engine.ContextEntryKind.SYMLINK, engine.ContextEntryKind.HARDLINK):
            lines.append(f"{'':>{width}}  {entry.path} -> {entry.link}")
        else:
            lines.append(f"{'':>{width}}  {entry.path} ({entry.kind})")
    lines.append(f"Total: {listing.total_size} bytes in {listing.file_count} files")
    if listing.dockerfile.startswith(".dockerfile."):
        lines.append(f"Dockerfile (outside the context) sent as {listing.dockerfile}")
    lines += [f"warning: {w}" for w in listing.warnings]
    return "\n".join(lines)


def run_context(directory: str, dockerfile: str | None, *, as_json: bool = False) -> int:
    try:
        # Like docker build -f: relative to the current directory, not to DIR.
        name = os.path.abspath(dockerfile) if dockerfile else "Dockerfile"
        listing = engine.walk_context(Path(directory), name)
    except engine.ContextError as exc:
        print(f"dockyard context: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(listing_report(listing), indent=2))
    else:
        print(format_listing(listing))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dockyard context",
        description="List what a build of DIR would send to the engine, after .dockerignore.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_context(args.directory, args.dockerfile, as_json=args.json)


if __name__ == "__main__":
    raise SystemExit(main())
