"""A real ``docker-credential-NAME`` program for tests: keeps logins in a JSON file in tmp.

It speaks the credential-helper protocol the docker CLI speaks (``store`` with
``{ServerURL, Username, Secret}`` on stdin, ``get``/``erase`` with the server on
stdin, ``list``), and records every command line it was started with, so a test
can check that no secret was passed as an argument.  Creating ``FILE.fail``
makes ``store`` fail and repeat the secret on stderr, as a careless helper might.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = '''#!{python}
import json, os, sys
store = {store!r}
with open(store + ".argv", "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
data = json.load(open(store)) if os.path.exists(store) else {{}}
action, raw = sys.argv[1], sys.stdin.read()
if action == "store":
    request = json.loads(raw)
    if os.path.exists(store + ".fail"):
        sys.stderr.write("cannot store " + request["Secret"] + " in the keychain\\n")
        sys.exit(1)
    data[request["ServerURL"]] = {{"Username": request["Username"],
                                   "Secret": request["Secret"]}}
elif action in ("get", "erase"):
    server = raw.strip()
    if server not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    if action == "get":
        print(json.dumps({{"ServerURL": server, **data[server]}}))
    else:
        del data[server]
elif action == "list":
    print(json.dumps({{k: v["Username"] for k, v in data.items()}}))
else:
    sys.exit(3)
with open(store, "w") as out:
    json.dump(data, out)
'''


@dataclass
class CredentialHelper:
    """An installed helper: its NAME (for ``credsStore``) and the file it keeps logins in."""

    name: str
    store: Path

    def logins(self) -> dict[str, dict[str, str]]:
        return json.loads(self.store.read_text()) if self.store.exists() else {}

    def command_lines(self) -> list[list[str]]:
        argv = self.store.with_name(self.store.name + ".argv")
        return [json.loads(line) for line in argv.read_text().splitlines()] if argv.exists() \
            else []

    def fail_stores(self) -> None:
        self.store.with_name(self.store.name + ".fail").touch()


def install_helper(bin_dir: Path, name: str) -> CredentialHelper:
    """Write ``docker-credential-NAME`` into ``bin_dir`` (which the caller puts on PATH)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    store = bin_dir / f"{name}-logins.json"
    program = bin_dir / f"docker-credential-{name}"
    program.write_text(_SCRIPT.format(python=sys.executable, store=str(store)))
    program.chmod(0o755)
    return CredentialHelper(name, store)
