"""Registry credentials the docker CLI's way: config.json, credential helpers, X-Registry-Auth.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine._errors import EngineError

if TYPE_CHECKING:
    pass
from engine._build.pulling import encode_auth
from engine._build.references import DOCKER_HUB, DOCKER_HUB_AUTH_KEY


def _registry_key(server: str) -> str:
    """'https://index.docker.io/v1/' → 'index.docker.io'; 'http://h:5000/x' → 'h:5000'."""
    host = server.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    return host.split("/", 1)[0].lower()


@dataclass(frozen=True, slots=True)
class _Credentials:
    username: str = ""
    password: str = ""
    identitytoken: str = ""
    serveraddress: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


def _from_helper(helper: str, server: str) -> _Credentials | None:
    program = shutil.which(f"docker-credential-{helper}")
    if program is None:
        raise EngineError(f"the credential helper docker-credential-{helper} is not installed")
    try:
        result = subprocess.run([program, "get"], input=server, capture_output=True, text=True,
                                timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"docker-credential-{helper} failed: {exc}") from None
    if result.returncode != 0:
        if "credentials not found" in (result.stdout + result.stderr).lower():
            return None
        raise EngineError(f"docker-credential-{helper} failed: "
                          f"{(result.stderr or result.stdout).strip()}")
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise EngineError(f"docker-credential-{helper} printed something unreadable") from None
    username, secret = str(data.get("Username") or ""), str(data.get("Secret") or "")
    if username == "<token>":
        return _Credentials(identitytoken=secret, serveraddress=server)
    return _Credentials(username=username, password=secret, serveraddress=server)


def registry_auth(registry: str, config_dir: Path | None = None) -> str | None:
    """The ``X-Registry-Auth`` value for ``registry`` from the docker CLI's config, or None.

    Reads ``config.json`` in ``config_dir`` (default ``$DOCKER_CONFIG`` or
    ``~/.docker``): ``credHelpers[registry]``, then ``credsStore``, then ``auths``
    (whose keys may be URLs; Docker Hub's is ``https://index.docker.io/v1/``).
    Helpers are run as ``docker-credential-NAME get`` with the server on stdin.
    """
    if config_dir is None:
        config_dir = _config_dir()
    try:
        config = json.loads((config_dir / "config.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot read {config_dir / 'config.json'}: {exc}") from None
    server = _auth_server(registry)
    wanted = _registry_key(server)
    auths = config.get("auths") or {}
    key: str | None = next((str(k) for k in auths if _registry_key(k) == wanted), None)
    helpers = config.get("credHelpers") or {}
    helper = next((v for k, v in helpers.items() if _registry_key(k) == wanted), None)
    helper = helper or config.get("credsStore")
    creds: _Credentials | None = None
    if helper:
        creds = _from_helper(str(helper), key or server)
    if creds is None and key is not None:
        entry: Mapping[str, Any] = auths[key] or {}
        username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
        if entry.get("auth"):
            try:
                decoded = base64.b64decode(entry["auth"]).decode()
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise EngineError(f"the saved login for {key} is unreadable") from None
            username, _, password = decoded.partition(":")
        creds = _Credentials(username=username, password=password,
                             identitytoken=str(entry.get("identitytoken") or ""),
                             serveraddress=key)
    if creds is None:
        return None
    body = {"username": creds.username, "password": creds.password,
            "serveraddress": creds.serveraddress}
    if creds.identitytoken:
        body = {"identitytoken": creds.identitytoken, "serveraddress": creds.serveraddress}
    return encode_auth(body)



def _auth_server(registry: str) -> str:
    """The key a login is filed under: Docker Hub's is a URL, others are host[:port]."""
    hub = registry in (DOCKER_HUB, "index.docker.io", "registry-1.docker.io")
    return DOCKER_HUB_AUTH_KEY if hub else registry


def _config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def login_auth(registry: str, username: str, password: str) -> str:
    """The ``X-Registry-Auth`` value for a username and password typed into a login dialog."""
    return encode_auth({"username": username, "password": password,
                        "serveraddress": _auth_server(registry)})


def save_login(registry: str, username: str, password: str,
               config_dir: Path | None = None) -> Path:
    """Store a login in ``config.json`` the way ``docker login`` does without a helper.

    Only called when the user asked for it: the password is saved base64-encoded
    (not encrypted), exactly as the docker CLI does.  Other keys are kept; the
    file is written to a temporary name and renamed, so a crash cannot leave it
    half-written.
    """
    if config_dir is None:
        config_dir = _config_dir()
    path = config_dir / "config.json"
    try:
        config: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        config = {}
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot read {path}: {exc}") from None
    auths = config.setdefault("auths", {})
    secret = base64.b64encode(f"{username}:{password}".encode()).decode()
    auths[_auth_server(registry)] = {"auth": secret}
    _write_private(path, json.dumps(config, indent="\t") + "\n")
    return path


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so no other user can read it at any moment.

    A new directory is made 0700 and the temporary file 0600 from the start (as
    the docker CLI does), not tightened afterwards: in between, another user
    could open the file and keep reading it.  Then it is renamed over ``path``.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f"{path.name}.", suffix=".dockyard-tmp",
                                         dir=path.parent)
    except OSError as exc:
        raise EngineError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise EngineError(f"cannot write {path}: {exc.strerror or exc}") from None
