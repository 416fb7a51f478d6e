"""Docker Engine 26 (Debian trixie's ``docker.io``) for the test matrix, beside the machine's own.

Most users run Docker 25 or newer: builds default to BuildKit, ``docker save`` writes
the OCI layout.  Debian stable ships 20.10, so this module brings a newer engine along:

- **The root file system** is made once with ``debootstrap --variant=minbase
  --include=docker.io,ca-certificates,iptables trixie`` (about two minutes) and kept in
  ``/var/cache/dockyard-test/trixie-<ISO year>w<ISO week>`` (``DOCKYARD_TEST_CACHE``
  moves it), so it is renewed weekly and every other run reuses it; a file lock keeps two
  runs from building it at once, and older weeks are removed.
  ``DOCKYARD_DOCKER26_ROOTFS`` names a ready tree instead.
- **dockerd runs in a mount namespace of its own**, with trixie as its root by
  ``pivot_root`` (``unshare --mount --propagation private``).  A ``chroot`` is not enough:
  processes that dockerd's runc execs into a container then saw the chroot's files, not
  the container's (an exec of ``bash`` succeeded in a busybox container).  Inside, the
  tree is a bind mount onto itself (pivot_root needs a mount point), with ``/proc``,
  ``/sys``, ``/dev`` and a fresh ``/run``; ``/tmp`` is bound at the same path (not
  recursively: other engines' mounts stay out) so the bind-mount sources the tests make
  there (``tmp_path``, the session workdir) are the same files for both sides.
- **Its state lives under the test's directory** (data root, exec root, the socket the
  tests connect to): nothing is written into the cached tree that matters, and every
  mount dockerd makes stays inside the namespace, which goes when dockerd does.
- **Its own bridge**: ``ip link add … type bridge`` with a free /24, then ``-b BRIDGE
  --iptables=false`` (BuildKit's ``RUN`` needs a network).  Never ``--bridge=none``,
  which deletes the host's ``docker0`` and breaks the machine's engine.

Needs root, ``debootstrap`` (or a cached tree), ``unshare`` and ``ip``;
:func:`require_docker26` skips with the reason otherwise (fails in CI).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.tls_dockerd import _free_subnet, _pings
from tests.waits import seconds

DEBOOTSTRAP = shutil.which("debootstrap") or next(
    (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if os.path.exists(p)), None)
UNSHARE = shutil.which("unshare")
IP = shutil.which("ip") or next(
    (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if os.path.exists(p)), None)
PACKAGES = "docker.io,ca-certificates,iptables"
SUITE = "trixie"


def cache_dir() -> Path:
    return Path(os.environ.get("DOCKYARD_TEST_CACHE") or "/var/cache/dockyard-test")


def _week_key(today: datetime.date | None = None) -> str:
    year, week, _ = (today or datetime.date.today()).isocalendar()
    return f"{SUITE}-{year}w{week:02d}"


def require_docker26(in_ci: bool) -> None:
    """Skip (fail in CI) where Docker 26 cannot be brought up here."""
    import pytest

    ready = os.environ.get("DOCKYARD_DOCKER26_ROOTFS") or (
        (cache_dir() / _week_key()).is_dir() and str(cache_dir() / _week_key()))
    why = ("Docker 26 runs as root (mount namespace, bridge)" if os.geteuid() != 0
           else "unshare (util-linux) is needed" if UNSHARE is None
           else "ip (iproute2) is needed" if IP is None
           else "debootstrap is needed to make Docker 26's root (apt-get install debootstrap)"
           if DEBOOTSTRAP is None and not ready
           else "")
    if why:
        if in_ci:
            pytest.fail(why)
        pytest.skip(why)


def rootfs() -> Path:
    """This week's trixie tree with docker.io, made when missing (under a lock)."""
    given = os.environ.get("DOCKYARD_DOCKER26_ROOTFS")
    if given:
        return Path(given)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / _week_key()
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_dir():
            return target
        assert DEBOOTSTRAP is not None, "debootstrap is needed (apt-get install debootstrap)"
        partial = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache))
        result = subprocess.run(
            [DEBOOTSTRAP, "--variant=minbase", f"--include={PACKAGES}", SUITE, str(partial),
             *filter(None, [os.environ.get("DOCKYARD_DEBIAN_MIRROR")])],
            capture_output=True, text=True, check=False, timeout=seconds(600))
        if result.returncode != 0 or not (partial / "usr/sbin/dockerd").exists():
            shutil.rmtree(partial, ignore_errors=True)
            raise AssertionError("debootstrap of Docker 26's root failed: "
                                 + (result.stdout + result.stderr)[-3000:])
        partial.rename(target)
        # Last week's trees: nobody starts one any more (a run still using it keeps its
        # open files; the next week's runs never see it).
        for old in cache.glob(f"{SUITE}-*"):
            if old != target and old.is_dir() and old.name < _week_key(
                    datetime.date.today() - datetime.timedelta(days=8)):
                shutil.rmtree(old, ignore_errors=True)
        return target


#: Run by ``unshare --mount --propagation private`` as ``sh -c SCRIPT sh ROOTFS NEWROOT
#: SHARED -- dockerd args…``: the host's sh sets the mounts up, pivots, then execs trixie's
#: dockerd (``exec`` keeps the pid, so the harness's SIGTERM and PDEATHSIG reach it).
_SCRIPT = r"""
set -eu
rootfs=$1; new=$2; shared=$3; shift 4
mount --bind "$rootfs" "$new"
mount -t proc proc "$new/proc"
mount --rbind /sys "$new/sys"
mount --rbind /dev "$new/dev"
mount -t tmpfs -o mode=755 tmpfs "$new/run"
mkdir -p "$new$shared"
mount --bind "$shared" "$new$shared"
cd "$new"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umount -l /.oldroot
exec dockerd "$@"
"""


@dataclass
class Docker26:
    """A running Docker 26; ``url`` is its socket under ``root``."""

    root: Path
    bridge: str
    process: subprocess.Popen[bytes]

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def log(self) -> str:
        try:
            return (self.root / "dockerd.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM dockerd (containerd and the namespace with its mounts go with it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(seconds(30))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(seconds(10))
        subprocess.run([IP or "ip", "link", "delete", self.bridge], capture_output=True,
                       check=False)
        # Shims outlive dockerd for a moment; their mounts were in the namespace only.
        for _ in range(50):
            shutil.rmtree(self.root, ignore_errors=True)
            if not self.root.exists():
                break
            time.sleep(0.1)


def start_docker26(root: Path, config: Mapping[str, object] | None = None) -> Docker26:
    """Start Docker 26 with everything of its own under ``root`` (which must be under the
    temporary directory, which it shares); ``config`` is its daemon.json (e.g. ``{"features":
    {"containerd-snapshotter": True}}`` for the containerd image store)."""
    tree = rootfs()
    root.mkdir(parents=True, exist_ok=True)
    shared = Path(tempfile.gettempdir()).resolve()
    assert root.resolve().is_relative_to(shared), f"{root} must be under {shared}"
    bridge = f"dy26{random.getrandbits(32):08x}"  # at most 15 characters
    net = _free_subnet()
    ip = IP or "ip"
    subprocess.run([ip, "link", "add", bridge, "type", "bridge"], check=True,
                   capture_output=True)
    try:
        subprocess.run([ip, "addr", "add", f"{next(net.hosts())}/{net.prefixlen}", "dev",
                        bridge], check=True, capture_output=True)
        subprocess.run([ip, "link", "set", bridge, "up"], check=True, capture_output=True)
        # Never the machine's /etc/docker/daemon.json.
        (root / "daemon.json").write_text(json.dumps(dict(config or {})))
        newroot = root / "newroot"
        newroot.mkdir()
        log = (root / "dockerd.log").open("ab")
        process = subprocess.Popen(
            [UNSHARE or "unshare", "--mount", "--propagation", "private", "--",
             "/bin/sh", "-c", _SCRIPT, "sh", str(tree), str(newroot), str(shared), "--",
             "--config-file", str(root / "daemon.json"),
             "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
             "--pidfile", str(root / "dockerd.pid"), "-H", f"unix://{root / 'docker.sock'}",
             "-b", bridge, "--iptables=false", "--ip-masq=false", "--ip-forward=false",
             "--shutdown-timeout", "1"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        log.close()
        server = Docker26(root, bridge, process)
        deadline = time.monotonic() + seconds(60)
        while process.poll() is None and time.monotonic() < deadline:
            if _pings(server.socket):
                return server
            time.sleep(0.1)
        log_text = server.log
        server.stop()
        raise AssertionError("Docker 26 did not start: " + log_text)
    except BaseException:
        subprocess.run([ip, "link", "delete", bridge], capture_output=True, check=False)
        raise


@contextlib.contextmanager
def docker26(root: Path, config: Mapping[str, object] | None = None) -> Iterator[Docker26]:
    server = start_docker26(root, config)
    try:
        yield server
    finally:
        server.stop()


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test run dies (an abort skips every teardown)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
