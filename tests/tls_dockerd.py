"""A second dockerd of our own, on tcp://127.0.0.1:<port> with TLS (``--tlsverify``).

The certificates are made here with ``openssl``: a CA, a server certificate for
``IP:127.0.0.1``, a client certificate, and for the failure tests an unrelated
second CA, an expired client certificate and an expired server one (for a relay).
Each client set is a directory in the ``DOCKER_CERT_PATH`` layout (``ca.pem``,
``cert.pem``, ``key.pem``).

The daemon has its own data root, exec root (so its own containerd), pid file,
unix socket and bridge: ``ip link add … type bridge`` with an address, then
``-b BRIDGE --iptables=false --ip-masq=false`` -- never ``--bridge=none``, which
deletes the host's ``docker0`` and breaks the main engine.  :meth:`TLSDockerd.stop`
kills it and removes the bridge and the directories.  Shared by
tests/engine/test_tls.py, tests/test_doctor.py and tests/bench/bench_tls.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from engine import Endpoint
from engine._endpoint import endpoint_for
from tests.waits import seconds

DOCKERD = shutil.which("dockerd")
OPENSSL = shutil.which("openssl")
IP = shutil.which("ip")


def require_tls_dockerd(in_ci: bool) -> None:
    """Skip (fail in CI) where a second dockerd cannot be started here."""
    import pytest

    missing = [name for name, path in (("dockerd", DOCKERD), ("openssl", OPENSSL),
                                       ("ip (iproute2)", IP)) if path is None]
    why = (f"{', '.join(missing)} not installed; the TLS engine tests start a dockerd of their own"
           if missing else
           "a second dockerd (and its bridge) must be started as root" if os.geteuid() != 0
           else "")
    if why:
        if in_ci:
            pytest.fail(why)
        pytest.skip(why)


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run([OPENSSL or "openssl", *args], cwd=cwd, capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {result.stderr.strip()}")


def _ca(root: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA (EC P-256, a day long); returns (certificate, key)."""
    cert, key = root / f"{name}.pem", root / f"{name}-key.pem"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key.name, "-out", cert.name, "-days", "1",
             "-subj", f"/CN=dockyard test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=root)
    return cert, key


def _issue(root: Path, name: str, ca: tuple[Path, Path], extensions: str, days: int = 1
           ) -> tuple[Path, Path]:
    """A certificate signed by ``ca``; ``days`` < 0 makes one that has already expired."""
    cert, key = root / f"{name}.pem", root / f"{name}-key.pem"
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key.name, "-out", f"{name}.csr", "-subj", f"/CN=dockyard test {name}",
             cwd=root)
    (root / f"{name}.ext").write_text(extensions + "\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca[0]), "-CAkey", str(ca[1]),
             "-CAcreateserial", "-days", str(days), "-extfile", f"{name}.ext",
             "-out", cert.name, cwd=root)
    return cert, key


def _cert_dir(path: Path, ca: Path, cert: Path, key: Path) -> Path:
    """A DOCKER_CERT_PATH directory: ca.pem (to check the server), cert.pem, key.pem."""
    path.mkdir()
    for source, name in ((ca, "ca.pem"), (cert, "cert.pem"), (key, "key.pem")):
        shutil.copy(source, path / name)
    return path


@dataclass
class Certificates:
    """What the harness made; the ``*_dir`` are DOCKER_CERT_PATH directories."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_dir: Path  # the right CA and a valid client certificate
    wrong_ca_dir: Path  # the client certificate, but an unrelated CA to check the server with
    expired_dir: Path  # the right CA, but a client certificate that has expired
    #: For a relay standing in for an engine whose certificate expired (dockerd itself
    #: serves the valid one).
    expired_server: tuple[Path, Path]


def make_certificates(root: Path) -> Certificates:
    root.mkdir(parents=True, exist_ok=True)
    ca = _ca(root, "ca")
    other_ca = _ca(root, "other-ca")
    server = _issue(root, "server", ca, "subjectAltName=IP:127.0.0.1\n"
                    "extendedKeyUsage=serverAuth")
    client = _issue(root, "client", ca, "extendedKeyUsage=clientAuth")
    expired = _issue(root, "expired-client", ca, "extendedKeyUsage=clientAuth", days=-1)
    expired_server = _issue(root, "expired-server", ca, "subjectAltName=IP:127.0.0.1\n"
                            "extendedKeyUsage=serverAuth", days=-1)
    return Certificates(
        ca=ca[0], server_cert=server[0], server_key=server[1],
        client_dir=_cert_dir(root / "client", ca[0], *client),
        wrong_ca_dir=_cert_dir(root / "wrong-ca", other_ca[0], *client),
        expired_dir=_cert_dir(root / "expired", ca[0], *expired),
        expired_server=expired_server,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run([IP or "ip", *args], check=check, capture_output=True)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.240.0.0/12 that no interface here uses (other helpers make bridges too)."""
    used = subprocess.run([IP or "ip", "-4", "-o", "addr"], capture_output=True, text=True,
                          check=True).stdout
    taken = {ipaddress.ip_interface(word).network for line in used.splitlines()
             for i, word in enumerate(line.split()) if line.split()[i - 1] == "inet"}
    for _ in range(100):
        net = ipaddress.IPv4Network(f"10.{random.randint(240, 254)}.{random.randint(0, 255)}.0/24")
        if not any(net.overlaps(other) for other in taken):
            return net
    raise AssertionError("no free /24 for the TLS dockerd's bridge")


@dataclass
class TLSDockerd:
    root: Path
    port: int
    bridge: str
    process: subprocess.Popen[bytes]
    certs: Certificates

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def socket(self) -> str:
        """Its unix socket: how the tests compare what TLS shows with the same daemon's own."""
        return f"unix://{self.root / 'docker.sock'}"

    @property
    def log(self) -> str:
        return (self.root / "dockerd.log").read_text(errors="replace")

    def env(self, cert_dir: Path | None = None) -> dict[str, str]:
        """DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as a user sets them."""
        return {"DOCKER_HOST": self.url, "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": str(cert_dir or self.certs.client_dir)}

    def endpoint(self, cert_dir: Path | None = None) -> Endpoint:
        """What the window makes of the URL and the three files the user picked."""
        files = cert_dir or self.certs.client_dir
        return endpoint_for(self.url, "test TLS dockerd", ca_cert=files / "ca.pem",
                            client_cert=files / "cert.pem", client_key=files / "key.pem")

    def stop(self) -> None:
        """Kill dockerd (its containerd goes with it), remove the bridge and the files."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(seconds(20))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(seconds(10))
        _ip("link", "delete", self.bridge, check=False)
        # Mounts dockerd may leave under its roots (none without containers; be sure).
        subprocess.run(["umount", "-R", str(self.root / "exec")], capture_output=True,
                       check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start_tls_dockerd(root: Path) -> TLSDockerd:
    """Start dockerd on a free port of 127.0.0.1 with TLS, everything of its own under ``root``."""
    assert DOCKERD is not None, "dockerd is needed (apt-get install docker.io)"
    root.mkdir(parents=True, exist_ok=True)
    certs = make_certificates(root / "certs")
    bridge = f"dyt{random.getrandbits(32):08x}"  # at most 15 characters
    net = _free_subnet()
    _ip("link", "add", bridge, "type", "bridge")
    try:
        _ip("addr", "add", f"{next(net.hosts())}/{net.prefixlen}", "dev", bridge)
        _ip("link", "set", bridge, "up")
        (root / "daemon.json").write_text("{}")  # never the machine's /etc/docker/daemon.json
        for _ in range(3):
            port = _free_port()
            log = (root / "dockerd.log").open("ab")
            process = subprocess.Popen(
                [DOCKERD, "--config-file", str(root / "daemon.json"),
                 "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
                 "--pidfile", str(root / "dockerd.pid"),
                 "-H", f"unix://{root / 'docker.sock'}", "-H", f"tcp://127.0.0.1:{port}",
                 "--tlsverify", "--tlscacert", str(certs.ca),
                 "--tlscert", str(certs.server_cert), "--tlskey", str(certs.server_key),
                 "-b", bridge, "--iptables=false", "--ip-masq=false", "--ip-forward=false"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent)
            log.close()
            server = TLSDockerd(root, port, bridge, process, certs)
            deadline = time.monotonic() + seconds(60)
            while process.poll() is None and time.monotonic() < deadline:
                # Ready when the unix socket answers a ping (the tcp one only after TLS).
                if _pings(root / "docker.sock") and _listening(port):
                    return server
                time.sleep(0.1)
            log_text = server.log
            if process.poll() is None:
                process.kill()
            process.wait()
            if "address already in use" not in log_text:
                raise AssertionError("the TLS dockerd did not start: " + log_text[-3000:])
        raise AssertionError("the TLS dockerd found no free port")
    except BaseException:
        _ip("link", "delete", bridge, check=False)
        raise


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test run dies (an abort skips every teardown)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _pings(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.0 200")
        except OSError:
            return False
