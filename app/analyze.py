"""``dockyard analyze IMAGE``: layers, wasted bytes and efficiency, without opening a window.

Shares :func:`engine.discover` and the layer analysis with the window, so the
numbers are the ones the image page shows.  With ``--ci`` the thresholds are
checked, like ``dive --ci``: exit 1 when one fails, 0 when all pass (no
threshold given: nothing to fail).  Thresholds are only checked with ``--ci``.
Exit 2 on any error (unknown image, no engine), with one line on stderr.

The file index of an analysed image is remembered in the layer cache
(``$XDG_CACHE_HOME/dockyard/layers``, shared with the window): analysing the
same image again reads no export.  ``--no-cache`` neither reads nor stores it.

Efficiency is ``1 - wasted / total`` over the layers' file bytes (see
:class:`engine._layers.ImageAnalysis`); ``--lowest-efficiency`` takes a
fraction (0.9 = 90 %).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import engine
from app.headless import CommandFailed, ProgressLine, run_engine_work
from app.presentation import human_size

if TYPE_CHECKING:  # app.cli imports every command's arguments; the engine loads on use
    from engine import ImageAnalysis, ImageLayer

#: How many wasted paths the text and JSON reports list.
TOP_WASTED = 10
#: Instructions longer than this are cut in the text table (the JSON keeps them whole).
INSTRUCTION_WIDTH = 96


def _printable(text: str) -> str:
    """Tar names may hold bytes that are not UTF-8; never let printing them fail."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _cut(text: str, width: int = INSTRUCTION_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _layer_list(layers: Sequence[int]) -> str:
    """Layer numbers as the window shows them: from 1, bottom first, as build steps count."""
    return ",".join(str(index + 1) for index in layers)


def ci_checks(
    analysis: ImageAnalysis, lowest_efficiency: float | None, highest_wasted_bytes: int | None
) -> list[dict[str, Any]]:
    """One record per threshold given: rule, threshold, actual value, passed."""
    checks: list[dict[str, Any]] = []
    if lowest_efficiency is not None:
        checks.append({"rule": "lowest-efficiency", "threshold": lowest_efficiency,
                       "actual": analysis.efficiency,
                       "passed": analysis.efficiency >= lowest_efficiency})
    if highest_wasted_bytes is not None:
        checks.append({"rule": "highest-wasted-bytes", "threshold": highest_wasted_bytes,
                       "actual": analysis.wasted_bytes,
                       "passed": analysis.wasted_bytes <= highest_wasted_bytes})
    return checks


def _step_document(layer: ImageLayer) -> list[dict[str, Any]]:
    return [{
        "instruction": step.instruction,
        "created_by": step.created_by,
        "created": step.created.isoformat() if step.created else None,
        "comment": step.comment,
        "empty_layer": step.empty_layer,
    } for step in layer.steps]


def analysis_document(analysis: ImageAnalysis, engine_description: str) -> dict[str, Any]:
    """Everything the JSON output holds (sizes in bytes, efficiency as a fraction)."""
    return {
        "image": analysis.name,
        "id": analysis.image_id,
        "repo_tags": list(analysis.repo_tags),
        "engine": engine_description,
        "total_size": analysis.total_size,
        "wasted_bytes": analysis.wasted_bytes,
        "efficiency": analysis.efficiency,
        "history_matches_layers": analysis.history_matches_layers,
        "layers": [{
            "index": layer.index,
            "diff_id": layer.diff_id,
            "size": layer.size,
            "files": len(layer.entries),
            "instruction": layer.instruction,
            "steps": _step_document(layer),
        } for layer in analysis.layers],
        "wasted_paths": [{
            "path": wasted.path,
            "bytes": wasted.size,
            "layers": list(wasted.layers),
            "hidden_by": list(wasted.hidden_by),
        } for wasted in analysis.wasted_paths(TOP_WASTED)],
    }


def format_analysis(analysis: ImageAnalysis, engine_description: str) -> str:
    tags = ", ".join(analysis.repo_tags) or "<untagged>"
    lines = [
        f"Image:        {analysis.name}  ({analysis.image_id})",
        f"Tags:         {tags}",
        f"Engine:       {engine_description}",
        "",
        f"{'LAYER':>5}  {'SIZE':>10}  INSTRUCTION",
    ]
    for layer in analysis.layers:
        instruction = layer.instruction or "<no history>"
        lines.append(f"{layer.index + 1:>5}  {human_size(layer.size):>10}  "
                     f"{_cut(_printable(instruction))}")
        for step in layer.metadata_steps:
            lines.append(f"{'':>5}  {'':>10}    {_cut(_printable(step.instruction))}")
    for step in analysis.unpaired_steps:
        lines.append(f"{'?':>5}  {'':>10}  {_cut(_printable(step.instruction))}")
    lines += [
        "",
        f"Total size:   {analysis.total_size:,} bytes ({human_size(analysis.total_size)})",
        f"Wasted bytes: {analysis.wasted_bytes:,} bytes ({human_size(analysis.wasted_bytes)})",
        f"Efficiency:   {analysis.efficiency * 100:.2f} %",
    ]
    if not analysis.history_matches_layers:
        lines.append("Note:         the image history does not match its layers one to one")
    top = analysis.wasted_paths(TOP_WASTED)
    if top:
        lines += ["", "Top wasted paths:",
                  f"{'BYTES':>12}  {'IN LAYERS':<10} {'HIDDEN BY':<10} PATH"]
        for wasted in top:
            lines.append(f"{wasted.size:>12,}  {_layer_list(wasted.layers):<10} "
                         f"{_layer_list(wasted.hidden_by):<10} {_printable(wasted.path)}")
    return "\n".join(lines)


def format_checks(checks: list[dict[str, Any]]) -> str:
    if not checks:
        return "CI: PASS (no thresholds given)"
    lines = []
    for check in checks:
        mark = "PASS" if check["passed"] else "FAIL"
        if check["rule"] == "lowest-efficiency":
            detail = f"efficiency {check['actual']:.4f}, lowest allowed {check['threshold']:.4f}"
        else:
            detail = f"wasted {check['actual']:,} bytes, highest allowed {check['threshold']:,}"
        lines.append(f"CI: {mark} {check['rule']}: {detail}")
    return "\n".join(lines)


async def _analyze(image: str, host: str | None, progress: ProgressLine, use_cache: bool
                   ) -> tuple[ImageAnalysis, str]:
    client, _ = await engine.discover(host)
    cache = engine.LayerCache() if use_cache else None
    async with client:
        return (await engine.analyze_image(client, image, progress=progress, cache=cache),
                client.description)


def run_analyze(
    image: str,
    host: str | None,
    *,
    as_json: bool,
    ci: bool,
    lowest_efficiency: float | None,
    highest_wasted_bytes: int | None,
    use_cache: bool = True,
) -> int:
    progress = ProgressLine("reading the image export")
    try:
        analysis, description = run_engine_work(_analyze(image, host, progress, use_cache),
                                                progress=progress,
                                                not_found=f"no such image: {image}")
    except CommandFailed as failed:
        return failed.exit("analyze")
    checks = ci_checks(analysis, lowest_efficiency, highest_wasted_bytes) if ci else []
    passed = all(check["passed"] for check in checks)
    if as_json:
        document = analysis_document(analysis, description)
        if ci:
            document["ci"] = {"passed": passed, "checks": checks}
        print(json.dumps(document, indent=2))
    else:
        print(format_analysis(analysis, description))
        if ci:
            print()
            print(format_checks(checks))
    return 0 if passed else 1


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def _byte_count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The analyze options, shared by ``dockyard analyze`` and ``python -m app.analyze``."""
    parser.add_argument("image", metavar="IMAGE", help="image name, tag or ID")
    parser.add_argument("--json", action="store_true", help="print a JSON document")
    parser.add_argument("--ci", action="store_true",
                        help="check the thresholds: exit 1 when one fails, 0 otherwise")
    parser.add_argument("--lowest-efficiency", type=_fraction, metavar="F",
                        help="with --ci: fail below this efficiency (a fraction, e.g. 0.9)")
    parser.add_argument("--highest-wasted-bytes", type=_byte_count, metavar="N",
                        help="with --ci: fail above this many wasted bytes")
    parser.add_argument("--no-cache", action="store_true",
                        help="read the image export even when the layer cache has the image"
                             " (and do not store it there)")
    parser.add_argument("-H", "--host", metavar="URL", dest="analyze_host",
                        help="engine address (unix:///path or tcp://host:port)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dockyard analyze",
        description="Show an image's layers, wasted bytes and efficiency.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_analyze(
        args.image, args.analyze_host, as_json=args.json, ci=args.ci,
        lowest_efficiency=args.lowest_efficiency, highest_wasted_bytes=args.highest_wasted_bytes,
        use_cache=not args.no_cache,
    )


if __name__ == "__main__":
    raise SystemExit(main())
