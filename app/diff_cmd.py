"""``dockyard diff IMAGE1 IMAGE2``: how two images differ, without opening a window.

Shared layers and where the images part, the history steps that differ, config
changes, and every file added, removed or modified in the final filesystems
with size deltas rolled up per directory, biggest changes first.  Modified means
a different kind, size, content (SHA-256), link target, mode or owner — not a
new mtime.  Changes read from IMAGE1 to IMAGE2.  Exit 0 with the differences
(whether or not there are any), 2 on any error with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import engine
from app.headless import CommandFailed, ProgressLine, run_engine_work
from app.presentation import change_detail, human_size, printable, signed_size

if TYPE_CHECKING:  # app.cli imports every command's arguments; the engine loads on use
    from engine import ConfigChange, FileState, ImageDiff

#: How many directories the text report lists (the JSON lists them all).
TOP_DIRECTORIES = 20
INSTRUCTION_WIDTH = 96
#: By engine.ChangeKind, a StrEnum: its values spelt out, so importing this loads no engine.
_MARKS = {"added": "A", "removed": "D", "modified": "M"}


def _cut(text: str, width: int = INSTRUCTION_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _state_document(state: FileState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {"type": str(state.kind), "size": state.size, "mode": f"{state.mode:04o}",
            "uid": state.uid, "gid": state.gid, "link": state.link or None,
            "sha256": state.digest or None}


def _config_text(change: ConfigChange) -> str:
    what = f"{change.field} {change.key}" if change.key else change.field
    if change.field == "port":
        return f"{what}: {'no longer exposed' if change.after is None else 'exposed'}"
    if change.before is None:
        return f"{what}: added {change.after}"
    if change.after is None:
        return f"{what}: removed (was {change.before})"
    return f"{what}: {change.before} → {change.after}"


def diff_document(diff: ImageDiff, engine_description: str) -> dict[str, Any]:
    """Everything the JSON output holds (sizes in bytes)."""
    def side(which: engine.ImageSide) -> dict[str, Any]:
        return {"image": which.name, "id": which.image_id, "repo_tags": list(which.repo_tags),
                "size": which.size,
                "layers": [{"index": layer.index, "diff_id": layer.diff_id, "size": layer.size,
                            "files": layer.files, "instruction": layer.instruction}
                           for layer in which.layers]}

    return {
        "engine": engine_description,
        "first": side(diff.first),
        "second": side(diff.second),
        "identical": diff.identical,
        "shared_layers": diff.shared_layers,
        "size_delta": diff.size_delta,
        "history": {
            "shared_steps": diff.shared_steps,
            "only_first": [step.instruction for step in diff.first_steps],
            "only_second": [step.instruction for step in diff.second_steps],
        },
        "config_changes": [{"field": c.field, "key": c.key, "before": c.before,
                            "after": c.after} for c in diff.config_changes],
        "summary": {kind.value: len(diff.of_kind(kind)) for kind in engine.ChangeKind},
        "files": [{"path": f.path, "change": f.kind.value, "delta": f.delta,
                   "differences": list(f.differences), "before": _state_document(f.before),
                   "after": _state_document(f.after)} for f in diff.files],
        "directories": [{"path": d.path, "delta": d.delta, "added_bytes": d.added_bytes,
                         "removed_bytes": d.removed_bytes, "changes": d.changes}
                        for d in diff.directories],
    }


def format_diff(diff: ImageDiff, engine_description: str) -> str:
    first, second = diff.first, diff.second
    lines = [
        f"First:   {first.name}  ({first.image_id})",
        f"Second:  {second.name}  ({second.image_id})",
        f"Engine:  {engine_description}",
        "",
    ]
    if diff.identical:
        lines.append("The images are identical.")
        return "\n".join(lines)
    shared = diff.shared_layers
    lines.append(f"Layers: {shared} shared, then {len(first.layers) - shared} only in the first,"
                 f" {len(second.layers) - shared} only in the second")
    for mark, layers in (("=", first.layers[:shared]), ("-", first.layers[shared:]),
                         ("+", second.layers[shared:])):
        for layer in layers:
            lines.append(f"  {mark} {layer.index + 1:>3}  {human_size(layer.size):>10}  "
                         f"{_cut(printable(layer.instruction or '<no history>'))}")
    if diff.first_steps or diff.second_steps:
        lines += ["", f"History: {diff.shared_steps} steps shared, then:"]
        lines += [f"  - {_cut(printable(s.instruction))}" for s in diff.first_steps]
        lines += [f"  + {_cut(printable(s.instruction))}" for s in diff.second_steps]
    lines += ["", "Config changes:" if diff.config_changes else "Config changes: none"]
    lines += [f"  {printable(_config_text(c))}" for c in diff.config_changes]
    kinds = engine.ChangeKind
    counts = {kind: len(diff.of_kind(kind)) for kind in kinds}
    lines += ["", f"Files: {counts[kinds.ADDED]} added, {counts[kinds.REMOVED]} removed,"
                  f" {counts[kinds.MODIFIED]} modified; {signed_size(diff.size_delta)}"
                  f" ({human_size(first.size)} → {human_size(second.size)})"]
    if diff.directories:
        lines += ["", "Directories (biggest change first):",
                  f"  {'DELTA':>12}  {'ADDED':>10}  {'REMOVED':>10}  {'PATHS':>6}  DIRECTORY"]
        for directory in diff.directories[:TOP_DIRECTORIES]:
            lines.append(f"  {signed_size(directory.delta):>12}  "
                         f"{human_size(directory.added_bytes):>10}  "
                         f"{human_size(directory.removed_bytes):>10}  {directory.changes:>6}  "
                         f"/{printable(directory.path)}/")
        if len(diff.directories) > TOP_DIRECTORIES:
            lines.append(f"  … and {len(diff.directories) - TOP_DIRECTORIES} more (--json lists"
                         " all)")
    if diff.files:
        lines += ["", "Changes (biggest first):"]
        for change in diff.files:
            detail = change_detail(change) if change.kind is kinds.MODIFIED else ""
            link = ""
            if change.after is not None and change.after.link and change.kind is kinds.ADDED:
                link = f" -> {printable(change.after.link)}"
            lines.append(f"  {_MARKS[change.kind]} {signed_size(change.delta):>12}  "
                         f"/{printable(change.path)}{link}"
                         + (f"  ({detail})" if detail else ""))
    return "\n".join(lines)


async def _diff(first: str, second: str, host: str | None, progress: ProgressLine
                ) -> tuple[ImageDiff, str]:
    client, _ = await engine.discover(host)
    async with client:
        for name in (first, second):  # which one is unknown, in the user's words
            try:
                await client.image(name)
            except engine.NotFound:
                raise CommandFailed(f"no such image: {name}") from None
        diff = await engine.diff_images(client, first, second, progress=progress)
        return diff, client.description


def run_diff(first: str, second: str, host: str | None, *, as_json: bool) -> int:
    progress = ProgressLine("reading both images")
    for name in (first, second):
        if not name.strip():
            print("dockyard diff: an image name is empty", file=sys.stderr)
            return 2
    try:
        # NotFound: removed between the check and the export.
        diff, description = run_engine_work(_diff(first, second, host, progress),
                                            progress=progress,
                                            not_found=f"no such image: {first} or {second}")
    except CommandFailed as failed:
        return failed.exit("diff")
    if as_json:
        print(json.dumps(diff_document(diff, description), indent=2))
    else:
        print(format_diff(diff, description))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The diff options, shared by ``dockyard diff`` and ``python -m app.diff_cmd``."""
    parser.add_argument("first", metavar="IMAGE1", help="image name, tag or ID (the 'before')")
    parser.add_argument("second", metavar="IMAGE2", help="image name, tag or ID (the 'after')")
    parser.add_argument("--json", action="store_true", help="print a JSON document")
    parser.add_argument("-H", "--host", metavar="URL", dest="diff_host",
                        help="engine address (unix:///path or tcp://host:port)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dockyard diff",
                                     description="Show how two images differ.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_diff(args.first, args.second, args.diff_host, as_json=args.json)


if __name__ == "__main__":
    raise SystemExit(main())
