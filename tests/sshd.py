"""A real OpenSSH server of our own on 127.0.0.1, in front of the test dockerd.

Debian's ``openssh-server`` (``./test.sh`` installs it), started with a config,
host key, client key and ``authorized_keys`` made in a temporary directory:
key-only auth, streamlocal forwarding on, nothing of the machine's own sshd setup
or of ``~/.ssh`` used.  Shared by tests/engine/test_ssh.py, tests/test_doctor.py
and tests/bench/bench_ssh.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from engine import Endpoint, SSHOptions
from engine._endpoint import parse_host
from tests.waits import seconds

SSHD = next((p for p in ("/usr/sbin/sshd", "/usr/bin/sshd") if os.path.exists(p)), None)


def require_sshd(in_ci: bool) -> None:
    """Skip (fail in CI) where no sshd can be started: not installed, or not root."""
    import pytest

    why = ("sshd is not installed (apt-get install openssh-server; ./test.sh installs it)"
           if SSHD is None else "sshd must be started as root" if os.geteuid() != 0 else "")
    if why:
        if in_ci:
            pytest.fail(why)
        pytest.skip(why)


def keygen(path: Path, comment: str) -> str:
    """A new ed25519 key pair at ``path``; returns the public key line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                    "-f", str(path)], check=True, capture_output=True)
    return path.with_suffix(".pub").read_text().strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (sshd's per-connection children leave its process group)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@dataclass
class SSHServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    client_key: Path
    host_public: str  # "ssh-ed25519 AAAA…"
    known_hosts: Path  # lists this server's key for [127.0.0.1]:port

    @property
    def url(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return (self.root / "sshd.log").read_text(errors="replace")

    def options(self, *, known_hosts: Path | None = None,
                identity: Path | None = None) -> SSHOptions:
        """Our files only: this known_hosts, this key, an empty ssh config."""
        return SSHOptions(known_hosts or self.known_hosts, (identity or self.client_key,),
                          self.root / "ssh_config")

    def endpoint(self, path: str = "", **options: Path) -> Endpoint:
        return parse_host(self.url + path, "test sshd", ssh=self.options(**options))

    def env(self) -> dict[str, str]:
        """The DOCKYARD_SSH_* variables that make a subprocess use our files."""
        return {"DOCKYARD_SSH_KNOWN_HOSTS": str(self.known_hosts),
                "DOCKYARD_SSH_IDENTITY": str(self.client_key),
                "DOCKYARD_SSH_CONFIG": str(self.root / "ssh_config")}

    def kill(self) -> None:
        """SIGKILL the server and every session under it: connections drop at once."""
        for pid in [self.process.pid, *_descendants(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(seconds(10))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()


def start_sshd(root: Path) -> SSHServer:
    """Start sshd on a free port of 127.0.0.1 with its own config and keys under ``root``."""
    assert SSHD is not None, "sshd is needed (apt-get install openssh-server)"
    root.mkdir(parents=True, exist_ok=True)
    host_public = keygen(root / "host_ed25519", "dockyard test host")
    client_public = keygen(root / "client_ed25519", "dockyard test client")
    (root / "authorized_keys").write_text(client_public + "\n")
    (root / "ssh_config").write_text("")
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    for _ in range(5):
        port = _free_port()
        config = root / "sshd_config"
        config.write_text(
            f"Port {port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {root / 'host_ed25519'}\n"
            f"PidFile {root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\n"
            "UsePAM no\n"
            "StrictModes no\n"
            "AllowStreamLocalForwarding yes\n"
            # Not "no": OpenSSH 9.2 then refuses streamlocal channels too (session.c).
            "AllowTcpForwarding local\n"
            "X11Forwarding no\n"
            "LogLevel VERBOSE\n"
        )
        log = (root / "sshd.log").open("ab")
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + seconds(15)
        while process.poll() is None and time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    known_hosts = root / "known_hosts"
                    known_hosts.write_text(f"[127.0.0.1]:{port} {host_public}\n")
                    kind, key = host_public.split()[:2]
                    return SSHServer(root, port, process, root / "client_ed25519",
                                     f"{kind} {key}", known_hosts)
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        process.wait()
    raise AssertionError("sshd did not start: " +
                         (root / "sshd.log").read_text(errors="replace")[-2000:])
