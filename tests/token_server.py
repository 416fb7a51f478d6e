"""A tiny bearer-token issuer for ``docker-registry``'s ``auth: token`` (a real JWT flow).

It signs ES256 JWTs with a key whose self-signed certificate the registry trusts
(``rootcertbundle``) and names in each token's ``x5c`` header, as a real token
service does.  Users log in with Basic auth at ``GET /token?service=…&scope=…``
or exchange an identity token with ``POST /token`` (``grant_type=refresh_token``);
an anonymous request gets a token with no access.  It records each request's
scope and who asked, so a test can check tokens are fetched once per scope.
``cryptography`` is already installed here (asyncssh needs it).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

ISSUER = "dockyard-test-issuer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Issued:
    scopes: list[str]
    user: str  # "" for anonymous
    granted: bool
    token: str = ""


@dataclass
class TokenServer:
    service: str
    users: dict[str, str]
    identity_tokens: dict[str, str] = field(default_factory=dict)  # token → user
    issued: list[Issued] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = dt.datetime.now(dt.UTC)
        self._cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                      .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
                      .not_valid_before(now - dt.timedelta(hours=1))
                      .not_valid_after(now + dt.timedelta(days=1))
                      .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                     critical=True)
                      .sign(self._key, hashes.SHA256()))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def write_cert(self, path: Path) -> Path:
        path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        return path

    def registry_auth(self, cert: Path) -> str:
        """The registry's YAML ``auth:`` block pointing at this server."""
        return (f"auth:\n  token:\n    realm: {self.realm}\n    service: {self.service}\n"
                f"    issuer: {ISSUER}\n    rootcertbundle: {cert}\n")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, scopes: list[str], user: str) -> str:
        """A signed JWT granting ``user`` (any known user gets what it asks) the scopes."""
        access = []
        for scope in scopes if user else ():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256",
                  "x5c": [base64.b64encode(self._cert.public_bytes(
                      serialization.Encoding.DER)).decode()]}
        claims = {"iss": ISSUER, "sub": user, "aud": self.service, "exp": now + 300,
                  "nbf": now - 60, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self._key.sign(signing_input.encode(),
                                                   ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: a test reads `issued` instead

            def _answer(self, scopes: list[str], user: str | None) -> None:
                if user is None:
                    server.issued.append(Issued(scopes, "?", False))
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                token = server.token(scopes, user)
                server.issued.append(Issued(scopes, user, True, token))
                body = json.dumps({"token": token, "access_token": token,
                                   "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                header = self.headers.get("Authorization", "")
                user: str | None = ""
                if header.startswith("Basic "):
                    name, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    user = name if server.users.get(name) == password else None
                self._answer(query.get("scope", []), user)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                refresh = form.get("refresh_token", [""])[0]
                user = server.identity_tokens.get(refresh) \
                    if form.get("grant_type") == ["refresh_token"] else None
                self._answer(form.get("scope", []), user)

        return Handler
