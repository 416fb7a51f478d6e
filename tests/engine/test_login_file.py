"""Saving a registry login where ``docker login`` would, readable by nobody else.

Without a credential helper the login is written into ``config.json`` the way
``docker login`` writes it; with one (``credsStore`` / ``credHelpers``) it goes
through a real helper program the test installs on PATH, and ``config.json``
never holds the secret.  The last test has the docker CLI itself log in and out
against a loopback registry and checks that ours leaves the same files.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine
from engine import remove_login, save_login, saved_credentials
from tests.conftest import DOCKER_CLI, EngineUnderTest
from tests.credential_helper import install_helper
from tests.engine.test_build import _htpasswd, _start_registry, _stop
from tests.waits import seconds


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
        store = save_login("registry.example:5000", "ann", "s3cret")
    finally:
        watch.active = False
    path = store.config_file
    assert store.helper is None
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


# -- credential helpers -------------------------------------------------------------------------

SECRET = "pa55-Wörd:with colon"
ENCODED = base64.b64encode(f"ann:{SECRET}".encode()).decode()


@pytest.fixture
def docker_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and DOCKER_CONFIG in tmp (never the real ~/.docker); the helpers' folder on PATH."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config_dir = tmp_path / "home" / ".docker"
    config_dir.mkdir(parents=True)
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    return config_dir


def _no_secret_in(config_dir: Path, *secrets: str) -> None:
    for entry in config_dir.iterdir():
        text = entry.read_text()
        for secret in secrets:
            assert secret not in text, f"{entry} holds a secret"


def test_a_credential_store_gets_the_login_and_config_json_does_not(
    docker_home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    helper = install_helper(tmp_path / "bin", "dytest")
    (docker_home / "config.json").write_text(json.dumps({
        "credsStore": "dytest", "detachKeys": "ctrl-x",
        "auths": {"other.example": {"auth": "eDp5"}}}))
    store = save_login("registry.example:5000", "ann", SECRET)
    assert (store.helper, store.server) == ("dytest", "registry.example:5000")
    assert str(store) == "the credential helper docker-credential-dytest"
    assert helper.logins() == {"registry.example:5000": {"Username": "ann", "Secret": SECRET}}
    saved = json.loads((docker_home / "config.json").read_text())
    # As the docker CLI leaves it: an empty entry says a login exists, the helper holds it.
    assert saved == {"credsStore": "dytest", "detachKeys": "ctrl-x", "auths": {
        "other.example": {"auth": "eDp5"}, "registry.example:5000": {}}}
    _no_secret_in(docker_home, SECRET, ENCODED)
    assert all(SECRET not in " ".join(argv) for argv in helper.command_lines())
    creds = saved_credentials("registry.example:5000")
    assert creds is not None
    assert (creds.username, creds.password) == ("ann", SECRET)
    assert SECRET not in repr(creds)

    removed = remove_login("registry.example:5000")
    assert removed is not None and removed.helper == "dytest"
    assert helper.logins() == {}
    assert json.loads((docker_home / "config.json").read_text()) == {
        "credsStore": "dytest", "detachKeys": "ctrl-x", "auths": {
            "other.example": {"auth": "eDp5"}}}
    assert saved_credentials("registry.example:5000") is None
    assert remove_login("registry.example:5000") is None  # nothing left to remove
    assert helper.command_lines()[-1] == ["erase"]
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_a_registry_s_own_helper_wins_over_the_store(docker_home: Path, tmp_path: Path) -> None:
    store_helper = install_helper(tmp_path / "bin", "dystore")
    own_helper = install_helper(tmp_path / "bin", "dyown")
    (docker_home / "config.json").write_text(json.dumps({
        "credsStore": "dystore", "credHelpers": {"reg.example": "dyown"}}))
    assert save_login("reg.example", "ann", SECRET).helper == "dyown"
    assert save_login("docker.io", "hubber", "hubpw").helper == "dystore"
    assert own_helper.logins() == {"reg.example": {"Username": "ann", "Secret": SECRET}}
    assert store_helper.logins() == {
        "https://index.docker.io/v1/": {"Username": "hubber", "Secret": "hubpw"}}
    _no_secret_in(docker_home, SECRET, "hubpw")
    remove_login("reg.example")
    assert own_helper.logins() == {}
    assert store_helper.logins() != {}  # the other login stays


def test_without_a_helper_logout_removes_only_that_login(docker_home: Path) -> None:
    (docker_home / "config.json").write_text(json.dumps({"auths": {
        "other.example": {"auth": "eDp5"}}, "psFormat": "{{.ID}}"}))
    store = save_login("127.0.0.1:5000", "ann", SECRET)
    assert store.helper is None
    assert json.loads((docker_home / "config.json").read_text())["auths"]["127.0.0.1:5000"] == {
        "auth": ENCODED}
    assert remove_login("127.0.0.1:5000") == store
    assert json.loads((docker_home / "config.json").read_text()) == {
        "auths": {"other.example": {"auth": "eDp5"}}, "psFormat": "{{.ID}}"}


def test_saving_through_a_helper_replaces_a_plain_text_login(docker_home: Path,
                                                              tmp_path: Path) -> None:
    """A login saved before a store was configured does not stay behind in plain text."""
    helper = install_helper(tmp_path / "bin", "dytest")
    (docker_home / "config.json").write_text(json.dumps({"credsStore": "dytest", "auths": {
        "http://127.0.0.1:5000": {"auth": base64.b64encode(b"old:oldpw").decode()}}}))
    store = save_login("127.0.0.1:5000", "ann", SECRET)
    assert store.server == "http://127.0.0.1:5000"  # the key already there is reused
    assert json.loads((docker_home / "config.json").read_text())["auths"] == {
        "http://127.0.0.1:5000": {}}
    assert helper.logins()["http://127.0.0.1:5000"]["Secret"] == SECRET


def test_a_failing_helper_says_so_without_the_secret(docker_home: Path, tmp_path: Path) -> None:
    helper = install_helper(tmp_path / "bin", "dytest")
    helper.fail_stores()
    before = json.dumps({"credsStore": "dytest"})
    (docker_home / "config.json").write_text(before)
    with pytest.raises(engine.EngineError) as failed:
        save_login("reg.example", "ann", SECRET)
    assert "docker-credential-dytest store failed" in str(failed.value)
    assert SECRET not in str(failed.value)
    assert "\n" not in str(failed.value)
    assert (docker_home / "config.json").read_text() == before  # nothing written


def test_a_missing_helper_is_named(docker_home: Path) -> None:
    (docker_home / "config.json").write_text(json.dumps({"credsStore": "not-installed-here"}))
    with pytest.raises(engine.EngineError, match="docker-credential-not-installed-here is not"):
        save_login("reg.example", "ann", SECRET)
    assert "auths" not in json.loads((docker_home / "config.json").read_text())


@pytest.mark.parametrize("with_helper", [True, False], ids=["credsStore", "config.json"])
def test_login_and_logout_leave_what_the_docker_cli_leaves(
    docker_engine: EngineUnderTest, docker_home: Path, tmp_path: Path, with_helper: bool,
) -> None:
    """``docker login``/``logout`` against a real registry, then ours: the same files."""
    root = tmp_path / "authreg"
    root.mkdir()
    _htpasswd(root / "htpasswd", "ann", SECRET)
    process, address = _start_registry(root, root / "htpasswd")
    helper = install_helper(tmp_path / "bin", "dytest")
    config = {"credsStore": "dytest", "auths": {"other.example": {"auth": "eDp5"}}} \
        if with_helper else {"auths": {"other.example": {"auth": "eDp5"}}}
    (docker_home / "config.json").write_text(json.dumps(config))

    def docker(*args: str, stdin: str = "") -> None:
        assert DOCKER_CLI
        env = {**os.environ, "DOCKER_CONFIG": str(docker_home)}
        env.pop("DOCKER_CONTEXT", None)
        result = subprocess.run([DOCKER_CLI, "--host", docker_engine.url, *args], input=stdin,
                                capture_output=True, text=True, env=env, check=False,
                                timeout=seconds(60))
        assert result.returncode == 0, result.stderr

    def state() -> tuple[object, object]:
        return helper.logins(), json.loads((docker_home / "config.json").read_text())

    try:
        docker("login", "-u", "ann", "--password-stdin", address, stdin=SECRET)
        after_cli_login = state()
        docker("logout", address)
        after_cli_logout = state()
        store = save_login(address, "ann", SECRET)
        assert state() == after_cli_login
        assert (store.helper == "dytest") is with_helper
        if with_helper:
            _no_secret_in(docker_home, SECRET, ENCODED)
        assert remove_login(address) == store
        assert state() == after_cli_logout
    finally:
        _stop(process)
