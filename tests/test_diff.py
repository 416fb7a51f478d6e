"""``dockyard diff`` as a user runs it: a subprocess against Docker and Podman and two images
built from one base with differences known by hand.

The images (``mid`` is their common parent, so the shared prefix is certain):

- base: the test busybox image (2 layers);
- mid:  ``RUN`` writing /data/{same.txt "hello", removed.txt "gone", mode.sh 0644,
  kept.txt, link -> same.txt}; ``ENV APP_MODE=one``        (layer 3, shared);
- A:    ``RUN`` writing /data/a-only.txt "only in a" (9 B); ``LABEL dockyard.diff=one``;
- B:    ``RUN`` rewriting same.txt as "jello" (same 5 bytes), removing removed.txt,
  ``chmod 755`` mode.sh, retargeting link to kept.txt (same 8-byte target length),
  adding added.txt "brand new!" (10 B); ``ENV APP_MODE=two``; ``LABEL dockyard.diff=two``.

From A to B: added data/added.txt (+10); removed data/removed.txt (-4) and
data/a-only.txt (-9); modified data/same.txt (content), data/mode.sh (mode),
data/link (link), each 0 bytes.  Net -3 bytes, all under /data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID, EngineUnderTest, unique_name
from tests.waits import seconds

REPO = Path(__file__).resolve().parent.parent

MID = """\
FROM {base}
RUN mkdir /data && printf hello > /data/same.txt && printf gone > /data/removed.txt \\
 && printf 'echo x' > /data/mode.sh && chmod 644 /data/mode.sh \\
 && printf keep > /data/kept.txt && ln -s same.txt /data/link
ENV APP_MODE=one
"""
FIRST = """\
FROM {mid}
RUN printf 'only in a' > /data/a-only.txt
LABEL dockyard.diff=one
"""
SECOND = """\
FROM {mid}
RUN printf jello > /data/same.txt && rm /data/removed.txt && chmod 755 /data/mode.sh \\
 && ln -sfn kept.txt /data/link && printf 'brand new!' > /data/added.txt
ENV APP_MODE=two
LABEL dockyard.diff=two
"""


def run_diff(target: EngineUnderTest, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.diff_cmd", "-H", target.url, *args],
        capture_output=True, text=True, cwd=REPO, timeout=seconds(120), check=False,
    )


def _build(target: EngineUnderTest, workdir: Path, dockerfile: str) -> str:
    context = workdir / unique_name("diff")
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    tag = f"dockyard-test/diff:{context.name.rsplit('-', 1)[-1]}-{RUN_ID}"
    target.cli("build", "-q", "-t", tag, str(context), timeout=seconds(300))
    return tag


@pytest.fixture
def pair(any_engine: EngineUnderTest, workdir: Path) -> Iterator[tuple[str, str]]:
    """(A, B) on this engine; all three images removed afterwards."""
    tags: list[str] = []
    try:
        tags.append(_build(any_engine, workdir, MID.format(base=any_engine.image)))
        tags.append(_build(any_engine, workdir, FIRST.format(mid=tags[0])))
        tags.append(_build(any_engine, workdir, SECOND.format(mid=tags[0])))
        yield tags[1], tags[2]
    finally:
        if tags:
            any_engine.cli("rmi", *reversed(tags), check=False)


def _document(target: EngineUnderTest, first: str, second: str) -> dict[str, Any]:
    result = run_diff(target, first, second, "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def _inspect(target: EngineUnderTest, tag: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(target.cli("image", "inspect", tag))[0]
    return parsed


def test_json_is_the_hand_computed_answer(any_engine: EngineUnderTest,
                                          pair: tuple[str, str]) -> None:
    first, second = pair
    doc = _document(any_engine, first, second)
    layers_a = _inspect(any_engine, first)["RootFS"]["Layers"]
    layers_b = _inspect(any_engine, second)["RootFS"]["Layers"]
    assert len(layers_a) == len(layers_b) == 4
    assert layers_a[:3] == layers_b[:3] and layers_a[3] != layers_b[3]
    assert doc["shared_layers"] == 3
    assert [layer["diff_id"] for layer in doc["first"]["layers"]] == layers_a
    assert [layer["diff_id"] for layer in doc["second"]["layers"]] == layers_b
    assert doc["first"]["layers"][3]["instruction"] == \
        "RUN printf 'only in a' > /data/a-only.txt"
    assert doc["second"]["layers"][3]["instruction"].startswith("RUN printf jello > ")
    assert doc["identical"] is False
    assert doc["size_delta"] == 10 - 4 - 9

    assert doc["history"]["only_first"] == [
        "RUN printf 'only in a' > /data/a-only.txt", "LABEL dockyard.diff=one"]
    only_second = doc["history"]["only_second"]
    assert [step.split(" ", 1)[0] for step in only_second] == ["RUN", "ENV", "LABEL"]
    assert only_second[1:] == ["ENV APP_MODE=two", "LABEL dockyard.diff=two"]

    assert doc["config_changes"] == [
        {"field": "env", "key": "APP_MODE", "before": "one", "after": "two"},
        {"field": "label", "key": "dockyard.diff", "before": "one", "after": "two"},
    ]

    files = {f["path"]: f for f in doc["files"]}
    assert {path: (f["change"], f["delta"], f["differences"]) for path, f in files.items()} == {
        "data/added.txt": ("added", 10, []),
        "data/removed.txt": ("removed", -4, []),
        "data/a-only.txt": ("removed", -9, []),
        "data/same.txt": ("modified", 0, ["content"]),
        "data/mode.sh": ("modified", 0, ["mode"]),
        "data/link": ("modified", 0, ["link"]),
    }
    # Biggest change first, then by path.
    assert [f["path"] for f in doc["files"]] == [
        "data/added.txt", "data/a-only.txt", "data/removed.txt",
        "data/link", "data/mode.sh", "data/same.txt"]
    assert files["data/mode.sh"]["before"]["mode"] == "0644"
    assert files["data/mode.sh"]["after"]["mode"] == "0755"
    assert files["data/mode.sh"]["before"]["sha256"] == files["data/mode.sh"]["after"]["sha256"]
    assert (files["data/link"]["before"]["link"], files["data/link"]["after"]["link"]) == \
        ("same.txt", "kept.txt")
    assert (files["data/same.txt"]["before"]["size"], files["data/same.txt"]["after"]["size"]) \
        == (5, 5)
    assert files["data/same.txt"]["before"]["sha256"] != files["data/same.txt"]["after"]["sha256"]
    assert files["data/added.txt"]["after"]["type"] == "file"
    assert files["data/added.txt"]["before"] is None
    assert doc["summary"] == {"added": 1, "modified": 3, "removed": 2}
    assert doc["directories"] == [
        {"path": "data", "delta": -3, "added_bytes": 10, "removed_bytes": 13, "changes": 6}]


def test_text_report(any_engine: EngineUnderTest, pair: tuple[str, str]) -> None:
    first, second = pair
    result = run_diff(any_engine, first, second)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    first_id = _inspect(any_engine, first)["Id"]
    assert lines[0] == f"First:   {first}  ({first_id})"
    assert "Layers: 3 shared, then 1 only in the first, 1 only in the second" in lines
    assert "  - LABEL dockyard.diff=one" in lines
    assert "  + ENV APP_MODE=two" in lines
    assert lines[lines.index("Config changes:") + 1:][:2] == [
        "  env APP_MODE: one → two", "  label dockyard.diff: one → two"]
    summary = next(line for line in lines if line.startswith("Files: "))
    assert summary.startswith("Files: 1 added, 2 removed, 3 modified; -3 Bytes (")
    changes = lines[lines.index("Changes (biggest first):") + 1:]
    assert changes == [
        "  A    +10 Bytes  /data/added.txt",
        "  D     -9 Bytes  /data/a-only.txt",
        "  D     -4 Bytes  /data/removed.txt",
        "  M      0 Bytes  /data/link  (link same.txt → kept.txt)",
        "  M      0 Bytes  /data/mode.sh  (mode 0644 → 0755)",
        "  M      0 Bytes  /data/same.txt  (content)",
    ]
    directories = lines[lines.index("Directories (biggest change first):") + 2]
    assert directories.split() == ["-3", "Bytes", "10", "Bytes", "13", "Bytes", "6", "/data/"]


def test_an_image_against_itself_is_identical(any_engine: EngineUnderTest) -> None:
    doc = _document(any_engine, any_engine.image, any_engine.image)
    assert doc["identical"] is True
    assert doc["files"] == doc["config_changes"] == []
    assert doc["shared_layers"] == len(doc["first"]["layers"]) == 2


def test_unknown_image_exits_2_with_one_line(any_engine: EngineUnderTest) -> None:
    name = f"dockyard-test/no-such-image:{RUN_ID}"
    for args in ((any_engine.image, name), (name, any_engine.image)):
        result = run_diff(any_engine, *args)
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr == f"dockyard diff: no such image: {name}\n"


def test_bad_input_exits_2_with_one_line(docker_engine: EngineUnderTest) -> None:
    result = run_diff(docker_engine, docker_engine.image, "")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "dockyard diff: an image name is empty\n"
    result = run_diff(docker_engine, "Not::A/Reference", docker_engine.image)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("dockyard diff: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    missing = run_diff(docker_engine, docker_engine.image)  # argparse: one usage line + error
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_diff_never_imports_qt() -> None:
    code = ("import sys, app.diff_cmd, app.cli;"
            " print(any(m.startswith(('PySide6', 'qasync')) for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=seconds(60), check=True)
    assert result.stdout.strip() == "False"
