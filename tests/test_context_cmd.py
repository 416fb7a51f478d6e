"""``dockyard context`` as a user runs it: a subprocess on a real directory, no engine needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waits import seconds

REPO = Path(__file__).resolve().parent.parent


def context_cmd(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "app.context_cmd", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=seconds(60), check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY src /src\n")
    (root / "src/main.py").write_text("print('hi')\n")
    (root / "src/big.dat").write_bytes(b"x" * 2048)
    (root / "build.log").write_text("noise\n")
    (root / ".dockerignore").write_text("*.log\n")
    os.symlink("src/main.py", root / "entry")
    return root


def test_lists_what_would_be_sent(project: Path) -> None:
    result = context_cmd(str(project))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "   6  .dockerignore",
        "  27  Dockerfile",
        "      entry -> src/main.py",
        "      src/",
        "2048  src/big.dat",
        "  12  src/main.py",
        "Total: 2093 bytes in 4 files",
    ]
    assert result.stderr == ""


def test_json_output(project: Path) -> None:
    result = context_cmd(str(project), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["files"] == [
        {"path": ".dockerignore", "size": 6, "type": "file"},
        {"path": "Dockerfile", "size": 27, "type": "file"},
        {"path": "entry", "size": 0, "type": "symlink", "target": "src/main.py"},
        {"path": "src", "size": 0, "type": "dir"},
        {"path": "src/big.dat", "size": 2048, "type": "file"},
        {"path": "src/main.py", "size": 12, "type": "file"},
    ]
    assert (report["total_size"], report["file_count"]) == (2093, 4)
    assert report["largest_files"][0] == {"path": "src/big.dat", "size": 2048}
    assert report["largest_dirs"] == [{"path": "src", "size": 2060}]
    assert report["dockerfile"] == "Dockerfile"
    assert report["warnings"] == []


def test_dockerfile_is_relative_to_the_current_directory(project: Path, tmp_path: Path) -> None:
    (tmp_path / "dev.Dockerfile").write_text("FROM scratch\n")
    result = context_cmd(str(project), "-f", "dev.Dockerfile", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    name = report["dockerfile"]
    assert name.startswith(".dockerfile.")
    paths = [f["path"] for f in report["files"]]
    assert paths[-1] == name and paths.count(".dockerignore") == 1
    text = context_cmd(str(project), "-f", "dev.Dockerfile", cwd=tmp_path).stdout
    assert "Dockerfile (outside the context) sent as .dockerfile." in text


def test_warnings_are_printed(project: Path) -> None:
    (project / "node_modules/pkg").mkdir(parents=True)
    (project / "node_modules/pkg/index.js").write_text("x" * 10)
    result = context_cmd(str(project))
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == (
        "warning: node_modules/ is sent (10 B); add it to .dockerignore?")


def test_errors_exit_2(tmp_path: Path, project: Path) -> None:
    missing = context_cmd(str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert missing.stderr == f"dockyard context: the build context {tmp_path / 'nope'}" \
                             " is not a directory\n"
    (project / ".dockerignore").write_text("[oops\n")
    bad = context_cmd(str(project))
    assert bad.returncode == 2
    assert bad.stderr == "dockyard context: syntax error in pattern '[oops'\n"


def test_never_imports_qt() -> None:
    code = ("import sys, app.context_cmd; "
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'qasync'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=seconds(60), check=True)
    assert result.stdout.strip() == "[]"
