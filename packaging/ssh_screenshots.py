"""The README's Engines shots: the window on an engine reached over ssh://, and the
"All engines" window.

Starts the demo Podman engine (packaging/demo_engine.sh) and an OpenSSH server of
its own on 127.0.0.1 (tests/sshd.py: its own host key, key-only login as root) in
front of it; the window starts on the machine's Docker, then the ssh engine
``ssh://root@127.0.0.1:PORT/DIR/podman.sock`` is added and switched to.
The other engines this user has (the machine's Docker) are found as usual, so the
All engines window shows both.  Everything it started is stopped afterwards.

    sudo .venv/bin/python packaging/ssh_screenshots.py [OUT] [--themes light]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.sshd

from tests.sshd import start_sshd  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--themes", default="light")
    parser.add_argument("--size", default="1100x680")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dy-ssh-shots-") as tmp:
        demo = Path(tmp) / "demo"
        subprocess.run([str(ROOT / "packaging" / "demo_engine.sh"), "start", str(demo)],
                       check=True)
        sshd = start_sshd(Path(tmp) / "sshd")
        try:
            env = {**os.environ, **sshd.env(), "QT_QPA_PLATFORM": "offscreen"}
            env.pop("DOCKER_HOST", None)
            subprocess.run(
                [sys.executable, str(ROOT / "packaging" / "screenshots.py"), tmp + "/shots",
                 "--switch-to", f"{sshd.url}{demo}/podman.sock", "--pages", "containers",
                 "--themes", args.themes, "--size", args.size, "--all-engines"],
                check=True, env=env)
            for shot in sorted(Path(tmp, "shots").glob("*.png")):
                name = shot.name.replace("containers-", "ssh-engine-")
                target = Path(args.out) / name
                target.write_bytes(shot.read_bytes())
                print(target)
        finally:
            sshd.stop()
            subprocess.run([str(ROOT / "packaging" / "demo_engine.sh"), "stop", str(demo)],
                           check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
