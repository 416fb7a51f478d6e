"""Registry credentials the docker CLI's way: config.json, credential helpers, X-Registry-Auth.

A login is read and written where ``docker login`` reads and writes it: through
the credential helper configured for the registry (``credHelpers[registry]``,
else ``credsStore``: ``docker-credential-NAME get|store|erase``), and only when
none is configured into ``config.json``'s ``auths`` (base64, not encrypted).
Secrets go to helpers on stdin, never on a command line, and never into an
error message: a helper's own words are redacted before they are repeated.
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
from typing import Any

from engine._build.pulling import encode_auth
from engine._build.references import DOCKER_HUB, DOCKER_HUB_AUTH_KEY
from engine._errors import EngineError


def _registry_key(server: str) -> str:
    """'https://index.docker.io/v1/' → 'index.docker.io'; 'http://h:5000/x' → 'h:5000'."""
    host = server.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    return host.split("/", 1)[0].lower()


@dataclass(frozen=True, slots=True)
class Credentials:
    """A saved login: a user name and password, or an identity token (OAuth refresh token)."""

    username: str = ""
    password: str = field(default="", repr=False)
    identitytoken: str = field(default="", repr=False)
    serveraddress: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.username or self.password or self.identitytoken)


def _redact(text: str, *secrets: str) -> str:
    """``text`` with every non-empty secret replaced, for repeating a helper's own words."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return " ".join(text.split())


def _run_helper(helper: str, action: str, stdin: str, *secrets: str
                ) -> subprocess.CompletedProcess[str]:
    """Run ``docker-credential-HELPER ACTION`` with ``stdin``; errors name the helper only."""
    program = shutil.which(f"docker-credential-{helper}")
    if program is None:
        raise EngineError(f"the credential helper docker-credential-{helper} is not installed")
    try:
        return subprocess.run([program, action], input=stdin, capture_output=True, text=True,
                              timeout=30, check=False)
    except subprocess.TimeoutExpired:
        raise EngineError(f"docker-credential-{helper} {action} did not answer within 30 s"
                          ) from None
    except OSError as exc:
        raise EngineError(f"docker-credential-{helper} {action} failed: "
                          f"{_redact(exc.strerror or str(exc), *secrets)}") from None


def _helper_failure(helper: str, action: str, result: subprocess.CompletedProcess[str],
                    *secrets: str) -> EngineError:
    said = _redact((result.stderr or result.stdout).strip(), *secrets)
    return EngineError(f"docker-credential-{helper} {action} failed"
                       + (f": {said}" if said else f" (exit status {result.returncode})"))


def _from_helper(helper: str, server: str) -> Credentials | None:
    result = _run_helper(helper, "get", server)
    if result.returncode != 0:
        if "credentials not found" in (result.stdout + result.stderr).lower():
            return None
        raise _helper_failure(helper, "get", result)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise EngineError(f"docker-credential-{helper} printed something unreadable") from None
    username, secret = str(data.get("Username") or ""), str(data.get("Secret") or "")
    if username == "<token>":
        return Credentials(identitytoken=secret, serveraddress=server)
    return Credentials(username=username, password=secret, serveraddress=server)


def _read_config(config_dir: Path) -> dict[str, Any]:
    """``config.json`` as a dict: empty if there is none, one-line error if unreadable."""
    path = config_dir / "config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
                          ) from None
    if not isinstance(config, dict):
        raise EngineError(f"cannot read {path}: not a JSON object")
    return config


def _matching_key(mapping: object, wanted: str) -> str | None:
    if not isinstance(mapping, Mapping):
        return None
    return next((str(k) for k in mapping if _registry_key(str(k)) == wanted), None)


@dataclass(frozen=True, slots=True)
class LoginStore:
    """Where a registry's login lives, as the docker CLI decides it.

    ``helper`` is the credential helper's NAME (``docker-credential-NAME``), or
    None when the login goes into ``config_file``'s ``auths`` under ``server``.
    """

    registry: str
    server: str
    config_file: Path
    helper: str | None

    def __str__(self) -> str:
        if self.helper:
            return f"the credential helper docker-credential-{self.helper}"
        return str(self.config_file)


def _store_for(registry: str, config: Mapping[str, Any], config_dir: Path) -> LoginStore:
    server = _auth_server(registry)
    wanted = _registry_key(server)
    key = _matching_key(config.get("auths"), wanted)
    helpers = config.get("credHelpers")
    helper_key = _matching_key(helpers, wanted)
    helper = str(helpers[helper_key]) if helpers and helper_key is not None else ""
    helper = helper or str(config.get("credsStore") or "")
    return LoginStore(registry, key or server, config_dir / "config.json", helper or None)


def login_store(registry: str, config_dir: Path | None = None) -> LoginStore:
    """Where :func:`save_login` would put a login for ``registry`` (to tell the user first)."""
    config_dir = config_dir or _config_dir()
    return _store_for(registry, _read_config(config_dir), config_dir)


def saved_credentials(registry: str, config_dir: Path | None = None) -> Credentials | None:
    """The login the docker CLI would use for ``registry``, or None.

    Reads ``config.json`` in ``config_dir`` (default ``$DOCKER_CONFIG`` or
    ``~/.docker``): ``credHelpers[registry]``, then ``credsStore``, then ``auths``
    (whose keys may be URLs; Docker Hub's is ``https://index.docker.io/v1/``).
    Helpers are run as ``docker-credential-NAME get`` with the server on stdin.
    """
    config_dir = config_dir or _config_dir()
    config = _read_config(config_dir)
    store = _store_for(registry, config, config_dir)
    creds: Credentials | None = None
    if store.helper:
        creds = _from_helper(store.helper, store.server)
    auths = config.get("auths")
    if creds is None and isinstance(auths, Mapping) and store.server in auths:
        entry: Mapping[str, Any] = auths[store.server] or {}
        username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
        if entry.get("auth"):
            try:
                decoded = base64.b64decode(entry["auth"]).decode()
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise EngineError(f"the saved login for {store.server} is unreadable") from None
            username, _, password = decoded.partition(":")
        creds = Credentials(username=username, password=password,
                            identitytoken=str(entry.get("identitytoken") or ""),
                            serveraddress=store.server)
    return creds or None  # an empty entry ({}: the helper holds the secret) is no login


def registry_auth(registry: str, config_dir: Path | None = None) -> str | None:
    """The ``X-Registry-Auth`` value for ``registry`` from the docker CLI's config, or None.

    See :func:`saved_credentials` for where it is looked up.
    """
    creds = saved_credentials(registry, config_dir)
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
               config_dir: Path | None = None) -> LoginStore:
    """Save a login where ``docker login`` would, and say where (see :class:`LoginStore`).

    Only called when the user asked for it.  With a credential helper configured
    for the registry the secret goes to ``docker-credential-NAME store`` on stdin,
    and ``config.json`` only gets an empty ``auths`` entry for the server (as the
    CLI writes it: a plain-text login saved there before is replaced).  Without
    one, the password is saved base64-encoded (not encrypted) in ``auths``, as the
    CLI does.  Other keys are kept; the file is written to a temporary name and
    renamed, so a crash cannot leave it half-written.
    """
    config_dir = config_dir or _config_dir()
    config = _read_config(config_dir)
    store = _store_for(registry, config, config_dir)
    if store.helper:
        request = json.dumps({"ServerURL": store.server, "Username": username,
                              "Secret": password})
        result = _run_helper(store.helper, "store", request, password)
        if result.returncode != 0:
            raise _helper_failure(store.helper, "store", result, password)
        entry: dict[str, str] = {}
    else:
        entry = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
    auths = config.get("auths")
    if not isinstance(auths, dict):
        auths = config["auths"] = {}
    auths[store.server] = entry
    _write_private(store.config_file, json.dumps(config, indent="\t") + "\n")
    return store


def remove_login(registry: str, config_dir: Path | None = None) -> LoginStore | None:
    """Remove the login :func:`save_login` saved for ``registry`` (``docker logout``).

    Erases it from the credential helper when one is configured (``erase`` with
    the server on stdin; "not found" there is not an error) and removes the
    server's ``auths`` entry; every other key and login stays.  Returns where it
    was removed from, or None when there was nothing to remove.
    """
    config_dir = config_dir or _config_dir()
    config = _read_config(config_dir)
    store = _store_for(registry, config, config_dir)
    removed = False
    if store.helper:
        result = _run_helper(store.helper, "erase", store.server)
        said = (result.stdout + result.stderr).lower()
        if result.returncode != 0 and "not found" not in said:
            raise _helper_failure(store.helper, "erase", result)
        removed = result.returncode == 0
    auths = config.get("auths")
    if isinstance(auths, dict) and store.server in auths:
        del auths[store.server]
        _write_private(store.config_file, json.dumps(config, indent="\t") + "\n")
        removed = True
    return store if removed else None


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
