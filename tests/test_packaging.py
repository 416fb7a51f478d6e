"""The desktop entry, AppStream metainfo, icons and the PyInstaller bundle.

The validators are Debian's desktop-file-utils and appstream (``./test.sh``
installs them).  The bundle tests build ``packaging/build_bundle.sh`` into a
temporary directory once per module (about a minute) and run the bundled
``dockyard`` as a user would: ``doctor --json`` against the real engine, and the
window (``--smoke-test``: open, paint once, close) offscreen and, where Xvfb
exists, on X11 through the bundled xcb plugin.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import desktop_entry
from app.desktop_entry import APP_ID, ICON_SIZES
from tests.conftest import EngineUnderTest
from tests.waits import seconds

REPO = Path(__file__).resolve().parent.parent
DESKTOP = REPO / "packaging" / f"{APP_ID}.desktop"
METAINFO = REPO / "packaging" / f"{APP_ID}.metainfo.xml"
SVG = REPO / "resources" / "icons" / f"{APP_ID}.svg"
VENV_DOCKYARD = Path(sys.executable).parent / "dockyard"


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package {package}; ./test.sh installs it)")
    return path


def desktop_keys(path: Path) -> dict[str, str]:
    keys = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            keys[key] = value
    return keys


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def expected_files(home: Path) -> set[Path]:
    hicolor = home / "icons" / "hicolor"
    return {
        home / "applications" / f"{APP_ID}.desktop",
        home / "metainfo" / f"{APP_ID}.metainfo.xml",
        hicolor / "scalable" / "apps" / f"{APP_ID}.svg",
        *(hicolor / f"{n}x{n}" / "apps" / f"{APP_ID}.png" for n in ICON_SIZES),
    }


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def cli(*args: str, env: dict[str, str], exe: Path = VENV_DOCKYARD,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False, cwd=REPO)


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "XDG_"))}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "share"), **extra)
    return env


# -- the files as shipped -------------------------------------------------------------


def test_desktop_file_validates() -> None:
    validate = tool("desktop-file-validate", "desktop-file-utils")
    result = subprocess.run([validate, str(DESKTOP)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == "", "hints and warnings count too"


def test_metainfo_validates() -> None:
    appstreamcli = tool("appstreamcli", "appstream")
    result = subprocess.run([appstreamcli, "validate", "--no-net", str(METAINFO)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # Infos are allowed (appstream 0.16 does not know <developer> yet); warnings are not.
    assert not re.search(r"^[WE]: ", result.stdout, re.MULTILINE), result.stdout


def test_one_id_everywhere() -> None:
    keys = desktop_keys(DESKTOP)
    assert keys["Icon"] == APP_ID
    assert keys["Exec"] == "dockyard"
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == f"{APP_ID}.desktop"
    assert root.findtext("provides/binary") == "dockyard"
    assert f'setDesktopFileName("{APP_ID}")' in (REPO / "app" / "gui.py").read_text()
    assert SVG.is_file()
    pyproject = (REPO / "pyproject.toml").read_text()
    for shipped in (DESKTOP, METAINFO, SVG):
        assert str(shipped.relative_to(REPO)) in pyproject, f"{shipped.name} not in data-files"


def test_icon_svg_renders_at_every_size(tmp_path: Path) -> None:
    written = desktop_entry.render_icons(SVG, tmp_path)
    assert [png_size(p) for p in written] == [(n, n) for n in ICON_SIZES]
    assert written == [tmp_path / f"{n}x{n}" / "apps" / f"{APP_ID}.png" for n in ICON_SIZES]


# -- install / uninstall ---------------------------------------------------------------


def test_install_writes_exactly_the_entry_metainfo_and_icons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    bindir = tmp_path / "my bin"  # a space: Exec must quote it
    bindir.mkdir()
    launcher = bindir / "dockyard"
    launcher.write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "argv", [str(launcher)])
    home = tmp_path / "share"

    written = desktop_entry.install(home)
    assert set(written) == expected_files(home) == files_under(home)
    entry = home / "applications" / f"{APP_ID}.desktop"
    keys = desktop_keys(entry)
    assert keys["Exec"] == f'"{launcher}"'
    assert keys["Icon"] == APP_ID
    assert (home / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg").read_bytes() == SVG.read_bytes()
    assert (home / "metainfo" / f"{APP_ID}.metainfo.xml").read_bytes() == METAINFO.read_bytes()
    for n in ICON_SIZES:
        assert png_size(home / f"icons/hicolor/{n}x{n}/apps/{APP_ID}.png") == (n, n)
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0 and not result.stdout, result.stdout

    # Someone else's files in the same directories survive the uninstall.
    other = home / "applications" / "other.desktop"
    other.write_text("[Desktop Entry]\n")
    other_icon = home / "icons/hicolor/48x48/apps/other.png"
    other_icon.write_bytes(b"x")
    removed = desktop_entry.uninstall(home)
    assert set(removed) == expected_files(home)
    assert files_under(home) == {other, other_icon}
    assert desktop_entry.uninstall(home) == []


def test_install_follows_xdg_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert set(desktop_entry.install()) == expected_files(tmp_path / "xdg")
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the spec: ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert desktop_entry.resolve_data_home() == tmp_path / "home" / ".local" / "share"


def test_exec_quoting() -> None:
    quote = desktop_entry._quote_exec
    assert quote("/usr/bin/dockyard") == "/usr/bin/dockyard"
    assert quote("/opt/my apps/dockyard") == '"/opt/my apps/dockyard"'
    assert quote('/o$d/"q"/dockyard') == '"/o\\$d/\\"q\\"/dockyard"'
    assert quote("/100%/dockyard") == "/100%%/dockyard"


def test_cli_install_and_uninstall(tmp_path: Path) -> None:
    if not VENV_DOCKYARD.is_file():
        pytest.skip(f"no dockyard entry point at {VENV_DOCKYARD} (pip install -e .)")
    env = clean_env(tmp_path)
    home = tmp_path / "share"
    result = cli("--install-desktop-entry", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"wrote {p}" for p in desktop_entry.target_paths(home)]
    assert files_under(home) == expected_files(home)
    assert desktop_keys(home / "applications" / f"{APP_ID}.desktop")["Exec"] == str(VENV_DOCKYARD)

    result = cli("--uninstall-desktop-entry", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"removed {p}" for p in desktop_entry.target_paths(home)]
    assert files_under(home) == set()


def test_cli_install_failure_is_one_line(tmp_path: Path) -> None:
    if not VENV_DOCKYARD.is_file():
        pytest.skip(f"no dockyard entry point at {VENV_DOCKYARD} (pip install -e .)")
    blocker = tmp_path / "share"
    blocker.write_text("a file where the data directory should be")
    result = cli("--install-desktop-entry", env=clean_env(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("dockyard: cannot install the desktop entry:")


# -- the bundle --------------------------------------------------------------------------


@pytest.mark.engine
@pytest.mark.parametrize("reachable", [True, False], ids=["engine", "no-engine"])
def test_window_closes_without_a_traceback(
    docker_engine: EngineUnderTest, tmp_path: Path, reachable: bool,
) -> None:
    """Closing while the first requests are in flight used to print qasync's "no
    running event loop" tracebacks: a quit must leave stderr free of them."""
    host = docker_engine.url if reachable else f"unix://{tmp_path}/nothing-here.sock"
    env = clean_env(tmp_path, QT_QPA_PLATFORM="offscreen")
    result = cli("--smoke-test", "--host", host, env=env, timeout=seconds(60))
    assert result.returncode == 0, result.stderr
    assert "the window opened and closed" in result.stdout
    assert "Traceback" not in result.stderr, result.stderr


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("bundle")
    env = {**os.environ, "DIST": str(out / "dist"), "WORK": str(out / "work"),
           "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(REPO / "packaging" / "build_bundle.sh")], env=env,
                            capture_output=True, text=True, timeout=seconds(1200), check=False)
    if result.returncode != 0:
        pytest.fail(f"the bundle build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    exe = out / "dist" / "dockyard" / "dockyard"
    assert exe.is_file(), result.stdout
    yield exe


@pytest.mark.bundle
@pytest.mark.engine
@pytest.mark.timeout(1500)
def test_bundled_doctor_reports_the_real_engine(
    bundle: Path, docker_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    result = cli("doctor", "--json", "--host", docker_engine.url, exe=bundle,
                 env=clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["endpoint"]["url"] == docker_engine.url
    assert set(report) >= {"ok", "endpoint", "attempts", "engine", "counts"}
    assert report["engine"]["version"] == docker_engine.cli(
        "version", "--format", "{{.Server.Version}}")
    assert report["engine"]["api_version"]
    assert set(report["counts"]) == {"containers", "running", "images"}


@pytest.mark.bundle
@pytest.mark.timeout(1500)
def test_bundled_window_starts_offscreen(bundle: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path, QT_QPA_PLATFORM="offscreen")
    result = cli("--smoke-test", exe=bundle, env=env)
    assert result.returncode == 0, result.stderr
    assert "the window opened and closed" in result.stdout


@pytest.mark.bundle
@pytest.mark.timeout(1500)
def test_bundled_window_starts_on_x11(bundle: Path, tmp_path: Path) -> None:
    xvfb_run = tool("xvfb-run", "xvfb")
    env = clean_env(tmp_path)
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run(
        [xvfb_run, "-a", "-s", "-screen 0 1280x800x24", str(bundle), "--smoke-test"],
        capture_output=True, text=True, env=env, timeout=seconds(120), check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "the window opened and closed" in result.stdout


@pytest.mark.bundle
@pytest.mark.timeout(1500)
def test_bundled_install_uses_the_bundle(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "share"
    result = cli("--install-desktop-entry", exe=bundle, env=clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert files_under(home) == expected_files(home)
    assert desktop_keys(home / "applications" / f"{APP_ID}.desktop")["Exec"] == str(bundle)
    shipped = bundle.parent / "_internal" / "share" / "icons" / "hicolor"
    for n in ICON_SIZES:  # the PNGs rendered at build time are the ones installed
        name = f"{n}x{n}/apps/{APP_ID}.png"
        assert (home / "icons/hicolor" / name).read_bytes() == (shipped / name).read_bytes()
    result = cli("--uninstall-desktop-entry", exe=bundle, env=clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert files_under(home) == set()
