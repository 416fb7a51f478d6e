"""``dockyard analyze`` as a user runs it: a subprocess against a real engine and a known image."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LABEL_KEY, RUN_ID, EngineUnderTest
from tests.engine.test_layers import KNOWN_WASTED, build_known_image
from tests.waits import seconds

REPO = Path(__file__).resolve().parent.parent


def analyze(target: EngineUnderTest, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.analyze", "-H", target.url, *args],
        capture_output=True, text=True, cwd=REPO, timeout=seconds(120), check=False,
    )


@pytest.fixture(scope="module")
def known_tag(docker_engine: EngineUnderTest, workdir: Path) -> Iterator[str]:
    tag = build_known_image(docker_engine, workdir)
    yield tag
    docker_engine.cli("rmi", "-f", tag, check=False)


def document(target: EngineUnderTest, tag: str) -> dict[str, Any]:
    result = analyze(target, tag, "--json")
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_text_report(docker_engine: EngineUnderTest, known_tag: str) -> None:
    result = analyze(docker_engine, known_tag)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    image_id = json.loads(docker_engine.cli("image", "inspect", known_tag))[0]["Id"]
    assert lines[0] == f"Image:        {known_tag}  ({image_id})"
    assert lines[1] == f"Tags:         {known_tag}"
    table = lines[lines.index(f"{'LAYER':>5}  {'SIZE':>10}  INSTRUCTION"):]
    start = table.index("    5    307.2 kB  RUN dd if=/dev/zero of=/huge bs=1024 count=300")
    assert table[start - 1].startswith("    4     51.2 kB  RUN dd if=/dev/zero of=/big bs=1024"
                                       " count=50 && rm /gone")
    assert table[start + 1:start + 5] == [
        "    6     0 Bytes  RUN rm /huge",
        f"                     LABEL {LABEL_KEY}={RUN_ID}",
        '                     CMD ["sh"]',
        "",
    ]
    assert "Wasted bytes: 409,614 bytes (409.6 kB)" in lines
    top = lines[lines.index("Top wasted paths:") + 1:]
    assert top == [
        "       BYTES  IN LAYERS  HIDDEN BY  PATH",
        "     307,200  5          6          huge",
        "     102,400  3          4          big",
        "           5  3          4          e/keep",
        "           5  3          4          gone",
        "           4  3          4          d/sub/a",
    ]


def test_json_numbers_are_the_hand_computed_ones(docker_engine: EngineUnderTest,
                                                 known_tag: str) -> None:
    doc = document(docker_engine, known_tag)
    assert doc["wasted_bytes"] == KNOWN_WASTED == 409614
    sizes = [layer["size"] for layer in doc["layers"]]
    assert sizes[2:] == [102419, 51202, 307200, 0]
    assert doc["total_size"] == sum(sizes)
    assert doc["efficiency"] == 1 - 409614 / doc["total_size"]
    assert doc["history_matches_layers"] is True
    assert [layer["instruction"] for layer in doc["layers"][4:]] == [
        "RUN dd if=/dev/zero of=/huge bs=1024 count=300", "RUN rm /huge"]
    assert [(s["instruction"], s["empty_layer"]) for s in doc["layers"][5]["steps"]] == [
        ("RUN rm /huge", False), (f"LABEL {LABEL_KEY}={RUN_ID}", True), ('CMD ["sh"]', True)]
    assert doc["wasted_paths"] == [
        {"path": "huge", "bytes": 307200, "layers": [4], "hidden_by": [5]},
        {"path": "big", "bytes": 102400, "layers": [2], "hidden_by": [3]},
        {"path": "e/keep", "bytes": 5, "layers": [2], "hidden_by": [3]},
        {"path": "gone", "bytes": 5, "layers": [2], "hidden_by": [3]},
        {"path": "d/sub/a", "bytes": 4, "layers": [2], "hidden_by": [3]},
    ]
    assert "ci" not in doc


def test_ci_thresholds_decide_the_exit_status(docker_engine: EngineUnderTest,
                                              known_tag: str) -> None:
    efficiency = document(docker_engine, known_tag)["efficiency"]
    below, above = f"{efficiency - 0.0001:.6f}", f"{efficiency + 0.0001:.6f}"

    def status(*args: str) -> int:
        return analyze(docker_engine, known_tag, "--ci", *args).returncode

    assert status() == 0
    assert status("--lowest-efficiency", below) == 0
    assert status("--lowest-efficiency", above) == 1
    assert status("--highest-wasted-bytes", "409614") == 0
    assert status("--highest-wasted-bytes", "409613") == 1
    assert status("--lowest-efficiency", below, "--highest-wasted-bytes", "409613") == 1
    # Thresholds without --ci are not checked.
    assert analyze(docker_engine, known_tag, "--highest-wasted-bytes", "1").returncode == 0

    result = analyze(docker_engine, known_tag, "--ci", "--json", "--lowest-efficiency", above,
                     "--highest-wasted-bytes", "409614")
    assert result.returncode == 1
    assert json.loads(result.stdout)["ci"] == {"passed": False, "checks": [
        {"rule": "lowest-efficiency", "threshold": float(above), "actual": efficiency,
         "passed": False},
        {"rule": "highest-wasted-bytes", "threshold": 409614, "actual": 409614, "passed": True},
    ]}
    text = analyze(docker_engine, known_tag, "--ci", "--highest-wasted-bytes", "409613")
    assert text.stdout.splitlines()[-1] == (
        "CI: FAIL highest-wasted-bytes: wasted 409,614 bytes, highest allowed 409,613")


def test_unknown_image_exits_2_with_one_line(docker_engine: EngineUnderTest) -> None:
    name = f"dockyard-test/no-such-image:{RUN_ID}"
    result = analyze(docker_engine, name)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"dockyard analyze: no such image: {name}\n"


def test_unreachable_engine_exits_2_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.analyze", "-H", f"unix://{tmp_path}/none.sock", "x:1"],
        capture_output=True, text=True, cwd=REPO, timeout=seconds(60), check=False,
    )
    assert result.returncode == 2
    assert result.stderr == f"dockyard analyze: no socket at {tmp_path}/none.sock\n"


def test_analyze_never_imports_qt() -> None:
    code = ("import sys, app.analyze;"
            " print(any(m.startswith(('PySide6', 'qasync')) for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=seconds(60), check=True)
    assert result.stdout.strip() == "False"


def test_a_second_analyze_reads_the_layer_cache_and_no_cache_skips_it(
        docker_engine: EngineUnderTest, known_tag: str) -> None:
    """#18: the entry the first run stores is what the second run reports from (proved
    by doctoring it: one more 1 MB file); ``--no-cache`` reads the export instead
    and leaves the cache alone."""
    from dataclasses import replace

    from engine import LayerCache, layer_cache_scope
    from engine._layers.cache import decode, encode
    from engine._layers.model import EntryKind, FileEntry

    real = document(docker_engine, known_tag)
    cache = LayerCache()
    entry = cache.path(layer_cache_scope(docker_engine.endpoint.url), real["id"])
    assert entry.is_file()
    saved = decode(real["id"], entry.read_bytes())
    top = saved.layers[-1]
    extra = FileEntry("doctored", 1_000_000, EntryKind.FILE)
    doctored = replace(saved, layers=(*saved.layers[:-1],
                                      replace(top, entries=(*top.entries, extra))))
    entry.write_bytes(encode(real["id"], doctored))

    from_cache = document(docker_engine, known_tag)
    assert from_cache["total_size"] == real["total_size"] + 1_000_000
    result = analyze(docker_engine, known_tag, "--json", "--no-cache")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total_size"] == real["total_size"]
    assert decode(real["id"], entry.read_bytes()) == doctored  # not rewritten


def test_the_progress_line_tells_the_wait_for_the_export_then_the_bytes(
        capsys: pytest.CaptureFixture[str]) -> None:
    """#18: before the export's first byte the line says the engine is preparing it (and
    for how long), not "0 %"; then it moves with the bytes read."""
    from app.headless import ProgressLine

    line = ProgressLine("reading the image export")
    line.enabled = True  # as on a terminal
    line(0, 2_000_000)
    line(0, 2_000_000)  # the same second: not printed again
    line(1_000_000, 2_000_000)
    line.clear()
    assert capsys.readouterr().err == (
        "\rreading the image export: engine preparing the export… 0 s"
        "\r\033[K\rreading the image export:  50 % of 2.0 MB\r\033[K")
