"""A private dockerd of our own, made a one-node Swarm manager, for the Swarm tests.

The developer's own engine (``/var/run/docker.sock``) is never turned into a
swarm: this module starts a second ``dockerd`` with its own data root, exec
root, pid file and Unix socket under a temporary directory, and its OWN bridge
(``ip link add NAME type bridge`` with an address of its own, then ``-b NAME
--iptables=false --ip-masq=false``).  Never ``--bridge=none``: a dockerd
started with it deletes the host's ``docker0``, which breaks every container of
the main engine.  The swarm listens on 127.0.0.1 at a free port and hands out
overlay subnets from a pool no other engine here uses.

The same dockerd also answers on ``tcp://127.0.0.1:<port>`` with TLS
(``--tlsverify``, certificates made by tests/tls_dockerd.py), and its Unix socket
can be reached through the tests' sshd (``ssh://…/<socket path>``): a manager
reached over TLS or ssh, as the Swarm page's remote tests need.

Swarm creates a ``docker_gwbridge`` link on the host when its first task starts;
teardown deletes it only when it did not exist before this dockerd started.

Needs root (dockerd, ``ip link``); :func:`require_root` skips with the reason
otherwise (fails in CI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.tls_dockerd import Certificates, make_certificates
from tests.waits import poll_until, seconds

DOCKERD = shutil.which("dockerd") or next(
    (p for p in ("/usr/sbin/dockerd", "/usr/bin/dockerd") if os.path.exists(p)), None)
IP = shutil.which("ip") or next(
    (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if os.path.exists(p)), None)
DOCKER_CLI = shutil.which("docker")
GWBRIDGE = "docker_gwbridge"
#: Overlay networks and the gateway bridge of the private swarm come from here (nothing
#: else on a developer's machine or CI uses 10.23x by default).
ADDRESS_POOL = "10.233.0.0/16"
SWARM_POOL = "10.234.0.0/16"
#: For a swarm a test inits on a fresh private dockerd (kept apart from the one above).
FRESH_SWARM_POOL = "10.235.0.0/16"


def require_root(in_ci: bool) -> None:
    """Skip (fail in CI) where a private dockerd cannot be started."""
    import pytest

    why = ("a private swarm dockerd must be started as root (it makes a bridge and"
           " mounts overlays)" if os.geteuid() != 0
           else "dockerd is not installed (apt-get install docker.io)" if DOCKERD is None
           else "the ip command is needed (apt-get install iproute2)" if IP is None
           else "the docker CLI is needed (apt-get install docker.io)" if DOCKER_CLI is None
           else "")
    if why:
        if in_ci:
            pytest.fail(why)
        pytest.skip(why)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (for a swarm's listen address)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _link_exists(name: str) -> bool:
    assert IP
    return subprocess.run([IP, "link", "show", name], capture_output=True,
                          check=False).returncode == 0


def _ip(*args: str) -> None:
    assert IP
    subprocess.run([IP, *args], check=True, capture_output=True, timeout=seconds(10))


class PrivateSwarm:
    """One private dockerd, a swarm manager; :attr:`url` is its ``unix://`` socket."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.url = f"unix://{self.socket}"
        # A name of at most 15 characters (IFNAMSIZ), unique per run.
        self.bridge = f"dysw{os.getpid() % 100000}{os.urandom(2).hex()}"[:15]
        self.log_path = root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._made_gwbridge = not _link_exists(GWBRIDGE)
        self.node_id = ""
        self.tls_port = 0
        self.certs: Certificates | None = None

    @property
    def tls_url(self) -> str:
        """The same dockerd over TCP with TLS (client certificates: :meth:`tls_env`)."""
        return f"tcp://127.0.0.1:{self.tls_port}"

    def tls_env(self) -> dict[str, str]:
        """DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as a user sets them for :attr:`tls_url`."""
        assert self.certs is not None
        return {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(self.certs.client_dir)}

    def cli(self, *args: str, check: bool = True, input: bytes | None = None) -> str:
        """The docker CLI against the private dockerd only (never the main engine)."""
        assert DOCKER_CLI
        env = {k: v for k, v in os.environ.items()
               if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
        result = subprocess.run([DOCKER_CLI, "--host", self.url, *args], input=input,
                                capture_output=True, env=env, check=False,
                                timeout=seconds(120))
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} (private swarm) failed: "
                                 f"{result.stderr.decode(errors='replace').strip()}")
        return result.stdout.decode(errors="replace").strip()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def start(self, *, init: bool = True) -> None:
        """Start dockerd; ``init``: make it a swarm manager (else it stays in no swarm, for
        the tests that init one themselves)."""
        assert DOCKERD
        # Its own bridge with an address of its own: dockerd uses it instead of docker0.
        octet = 1 + int.from_bytes(os.urandom(1), "big") % 250
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"10.231.{octet}.1/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        self.certs = make_certificates(self.root / "certs")
        self.tls_port = free_port()
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [DOCKERD,
             "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "dockerd.pid"),
             "--host", self.url,
             "--host", self.tls_url, "--tlsverify", "--tlscacert", str(self.certs.ca),
             "--tlscert", str(self.certs.server_cert), "--tlskey", str(self.certs.server_key),
             "-b", self.bridge, "--iptables=false", "--ip-masq=false",
             "--default-address-pool", f"base={ADDRESS_POOL},size=24",
             "--shutdown-timeout", "1",
             "--config-file", str(self._empty_config())],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()

        def answering() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the private dockerd exited:\n{self.log()}")
            return self.socket.exists() and subprocess.run(
                [DOCKER_CLI or "docker", "--host", self.url, "version"],
                capture_output=True, check=False).returncode == 0

        poll_until(answering, 60, what="the private dockerd's socket", interval=0.2)
        if not init:
            return
        port = free_port()
        self.cli("swarm", "init", "--advertise-addr", "127.0.0.1",
                 "--listen-addr", f"127.0.0.1:{port}", "--default-addr-pool", SWARM_POOL)
        self.node_id = self.cli("info", "--format", "{{.Swarm.NodeID}}")

    def _empty_config(self) -> Path:
        """A daemon.json of our own: the machine's /etc/docker/daemon.json is not ours."""
        path = self.root / "daemon.json"
        path.write_text("{}")
        return path

    def load_image(self, main_cli_save: list[str], env: dict[str, str] | None = None) -> None:
        """``docker save`` (the given command, against the main engine) | ``docker load`` here."""
        saved = subprocess.run(main_cli_save, capture_output=True, check=True, env=env,
                               timeout=seconds(120)).stdout
        self.cli("load", input=saved)

    def halt(self) -> None:
        """Stop the daemon only: SIGTERM, then its process group killed if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(seconds(30))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(seconds(10))

    def stop(self) -> None:
        """Kill dockerd (and its containerd), delete our links, leave no mount behind."""
        self.halt()
        with contextlib.suppress(Exception):
            _ip("link", "del", self.bridge)
        if self._made_gwbridge and _link_exists(GWBRIDGE):
            with contextlib.suppress(Exception):
                _ip("link", "del", GWBRIDGE)
        self._unmount_below()
        shutil.rmtree(self.root, ignore_errors=True)

    def _unmount_below(self) -> None:
        """Overlay and netns mounts a killed dockerd left under our directory, deepest first."""
        try:
            mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        except OSError:
            return
        prefix = str(self.root) + "/"
        for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True, check=False)


@contextlib.contextmanager
def private_swarm(*, init: bool = True) -> Iterator[PrivateSwarm]:
    """A started one-node swarm (``init`` False: a dockerd in no swarm yet); everything it
    made is gone afterwards."""
    swarm = PrivateSwarm(Path(tempfile.mkdtemp(prefix="dockyard-swarm-")))
    try:
        swarm.start(init=init)
        yield swarm
    finally:
        swarm.stop()
