"""A private dockerd of our own (no swarm), for scale benchmarks and engine restarts.

The shared engine (``/var/run/docker.sock``) must never hold a thousand
containers, nor be restarted: this starts a second ``dockerd`` with its own data
root, exec root, pid file, Unix socket and bridge, as tests/swarm_dockerd.py
does (see there why never ``--bridge=none``), without making it a swarm.  It runs
with ``--live-restore``: :meth:`PrivateDockerd.restart` stops and starts the
daemon while its containers keep running, as a package upgrade does on a host.

Needs root (dockerd, ``ip link``); tests call ``tests.swarm_dockerd.require_root``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.swarm_dockerd import DOCKER_CLI, DOCKERD, PrivateSwarm
from tests.waits import poll_until


class PrivateDockerd(PrivateSwarm):
    """One private dockerd (not a swarm); :attr:`url` is its ``unix://`` socket."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.bridge = f"dypd{os.getpid() % 100000}{os.urandom(2).hex()}"[:15]
        self._made_gwbridge = False  # no swarm: the host's gwbridge is never ours
        self._bridge_made = False

    def start(self) -> None:
        """Start the daemon (making its bridge the first time) and wait until it answers."""
        from tests.swarm_dockerd import _ip

        assert DOCKERD
        if not self._bridge_made:
            octet = 1 + int.from_bytes(os.urandom(1), "big") % 250
            _ip("link", "add", self.bridge, "type", "bridge")
            self._bridge_made = True
            _ip("addr", "add", f"10.232.{octet}.1/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [DOCKERD,
             "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "dockerd.pid"),
             "--host", self.url,
             "-b", self.bridge, "--iptables=false", "--ip-masq=false",
             "--live-restore", "--shutdown-timeout", "1",
             "--config-file", str(self._empty_config())],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        poll_until(self.answering, 60, what="the private dockerd's socket", interval=0.05)

    def answering(self) -> bool:
        """Whether the daemon answers ``docker version`` (fails if it exited)."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the private dockerd exited:\n{self.log()}")
        env = {k: v for k, v in os.environ.items()
               if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
        return self.socket.exists() and subprocess.run(
            [DOCKER_CLI or "docker", "--host", self.url, "version"],
            capture_output=True, check=False, env=env).returncode == 0

    def restart(self) -> None:
        """Stop the daemon (live-restore keeps its containers running) and start it again
        on the same data, as an engine upgrade does."""
        self.halt()
        self.start()

    def stop(self) -> None:
        """Remove every container (live-restore leaves them running), then everything."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(Exception):
                ids = self.cli("ps", "-aq", check=False).split()
                if ids:
                    self.cli("rm", "-f", *ids, check=False)
        super().stop()


@contextlib.contextmanager
def private_dockerd() -> Iterator[PrivateDockerd]:
    """A started private dockerd; everything it made is gone afterwards."""
    daemon = PrivateDockerd(Path(tempfile.mkdtemp(prefix="dockyard-dockerd-")))
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


def private_env(daemon: PrivateDockerd) -> dict[str, str]:
    """The environment for a docker CLI (or ``engine.discover``) aimed at ``daemon``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_CONTEXT",)}
    env["DOCKER_HOST"] = daemon.url
    return env


__all__ = ["PrivateDockerd", "private_dockerd", "private_env"]
