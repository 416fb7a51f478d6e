"""Which registries may be spoken to over plain http: the engine's own rule.

Docker treats a registry as insecure (tries https, then falls back to http,
and accepts any certificate) when ``/info``'s ``RegistryConfig.IndexConfigs``
marks it ``Secure: false`` (``--insecure-registry host:port``), or when its
address — an IP, or what its host name resolves to — is inside one of
``InsecureRegistryCIDRs`` (``127.0.0.0/8`` by default).  With no engine to ask,
Docker's default applies.  Podman answers the same ``/info`` fields from
``registries.conf``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine._errors import EngineError

if TYPE_CHECKING:
    from engine._client import Engine

DEFAULT_INSECURE_CIDRS = ("127.0.0.0/8",)
#: Docker Hub's registry names and the host its API lives on.
DOCKER_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io")
DOCKER_HUB_HOST = "registry-1.docker.io"


def split_host(registry: str) -> tuple[str, int | None]:
    """``"[::1]:5000"`` → ``("::1", 5000)``; ``"reg.example"`` → ``("reg.example", None)``."""
    if registry.startswith("["):
        host, _, rest = registry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = registry.rpartition(":") if registry.count(":") == 1 \
            else (registry, "", "")
    return host.lower(), int(port) if port.isdigit() else None


@dataclass(frozen=True, slots=True)
class RegistrySecurity:
    """The engine's insecure-registry settings (see the module docstring)."""

    insecure_cidrs: tuple[str, ...] = DEFAULT_INSECURE_CIDRS
    secure: Mapping[str, bool] | None = None  # IndexConfigs: name → Secure

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> RegistrySecurity:
        config = info.get("RegistryConfig")
        if not isinstance(config, Mapping):
            return cls()
        cidrs = config.get("InsecureRegistryCIDRs")
        indexes = config.get("IndexConfigs")
        return cls(
            tuple(str(c) for c in cidrs) if isinstance(cidrs, list) else (),
            {str(name): bool(entry.get("Secure", True)) for name, entry in indexes.items()
             if isinstance(entry, Mapping)} if isinstance(indexes, Mapping) else {},
        )

    def _in_cidrs(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        for cidr in self.insecure_cidrs:
            try:
                if ip in ipaddress.ip_network(cidr, strict=False):
                    return True
            except ValueError:
                continue
        return False

    async def is_insecure(self, registry: str) -> bool:
        """True when the engine would use ``registry`` over plain http."""
        if registry in DOCKER_HUB_NAMES:
            return False
        if self.secure and registry in self.secure:
            return not self.secure[registry]
        host, _ = split_host(registry)
        if self._in_cidrs(host):
            return True
        try:
            ipaddress.ip_address(host)
            return False  # an IP outside every range
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None,
                                                                 type=socket.SOCK_STREAM)
        except OSError:
            return False  # unresolvable: the connection will say so
        return any(self._in_cidrs(str(info[4][0])) for info in infos)


async def registry_security(client: Engine | None) -> RegistrySecurity:
    """The engine's insecure-registry settings from ``/info``; Docker's default without one."""
    if client is None:
        return RegistrySecurity()
    try:
        info = await client.get_json("/info")
    except EngineError:
        return RegistrySecurity()
    return RegistrySecurity.from_info(info) if isinstance(info, Mapping) else RegistrySecurity()
