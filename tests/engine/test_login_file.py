"""Saving a registry login: the password never sits in a file another user may read.

Pure file-system tests (no engine): the login is written the way ``docker
login`` writes it without a credential helper.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import save_login


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common 022 umask, under which a plainly created file is world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


class ModeWatch:
    """Records the mode of every file in ``folder`` at each audit event while active.

    Audit events fire before each open, chmod and rename: a file that is
    tightened only after it was written is caught with its loose mode.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.active = False
        self.modes: dict[str, set[int]] = {}
        self._inside = False
        sys.addaudithook(self._hook)  # cannot be removed: it goes quiet instead

    def _hook(self, event: str, _args: tuple[object, ...]) -> None:
        if not self.active or self._inside:
            return
        self._inside = True
        try:
            if self.folder.is_dir():
                for entry in os.scandir(self.folder):
                    mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
                    self.modes.setdefault(entry.name, set()).add(mode)
        except OSError:
            pass
        finally:
            self._inside = False


def test_saved_login_file_and_folder_modes(tmp_path: Path, usual_umask: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = tmp_path / "home" / ".docker"
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    watch = ModeWatch(config_dir)
    watch.active = True
    try:
        path = save_login("registry.example:5000", "ann", "s3cret")
    finally:
        watch.active = False
    assert path == config_dir / "config.json"
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(config_dir) == ["config.json"]  # no temporary file left behind
    loose = {name: sorted(oct(m) for m in modes) for name, modes in watch.modes.items()
             if any(m & 0o077 for m in modes)}
    assert loose == {}, f"readable by others while being written: {loose}"
    saved = json.loads(path.read_text())
    auth = saved["auths"]["registry.example:5000"]["auth"]
    assert base64.b64decode(auth).decode() == "ann:s3cret"


def test_an_existing_config_keeps_its_keys_and_folder_mode(
    tmp_path: Path, usual_umask: None,
) -> None:
    config_dir = tmp_path / "cfg"
    config_dir.mkdir(mode=0o755)
    (config_dir / "config.json").write_text(json.dumps({"credsStore": "", "auths": {
        "other.example": {"auth": "eDp5"}}, "detachKeys": "ctrl-x"}))
    watch = ModeWatch(config_dir)
    watch.active = True
    try:
        save_login("docker.io", "bob", "pw", config_dir=config_dir)
    finally:
        watch.active = False
    # The old file was the user's (0644); the temporary one never was readable by others.
    assert all(not m & 0o077 for name, modes in watch.modes.items() if name != "config.json"
               for m in modes), watch.modes
    saved = json.loads((config_dir / "config.json").read_text())
    assert saved["detachKeys"] == "ctrl-x"
    assert set(saved["auths"]) == {"other.example", "https://index.docker.io/v1/"}
    assert stat.S_IMODE((config_dir / "config.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o755  # the user's own choice stays
