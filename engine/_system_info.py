"""What an engine is made of: ``GET /version``'s components and ``GET /info``, as one record.

Docker reports its parts as ``/version`` Components (Engine, containerd, runc,
docker-init); Podman as Podman Engine, Conmon and "OCI Runtime (NAME)", whose
versions are the tools' own multi-line ``--version`` output.  An engine older
than the Components field (before API 1.35) still names containerd's and runc's
commits in ``/info``; those fill in.  Kept apart from ``_models`` so that the
Engine page and ``dockyard doctor`` share one reading of both documents.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine._shapes import checked

if TYPE_CHECKING:
    from engine._client import Engine

__all__ = ["ChainLink", "Component", "EngineOverview", "engine_overview"]

_VERSION_RE = re.compile(r"\d+(?:\.\d+)+[^\s,]*")


@dataclass(frozen=True, slots=True)
class Component:
    """One part of the engine as ``/version`` names it, e.g. ("containerd", "1.6.20")."""

    name: str
    version: str
    details: Mapping[str, str]

    @property
    def short_version(self) -> str:
        """The version number alone ("2.1.6" of "conmon version 2.1.6, commit: unknown")."""
        first = self.version.strip().splitlines()[0] if self.version.strip() else ""
        if re.match(r"v?\d", first):
            return first
        found = _VERSION_RE.search(first)
        return found.group(0) if found else first

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Component:
        details = raw.get("Details")
        return cls(
            name=str(raw.get("Name") or ""),
            version=str(raw.get("Version") or ""),
            details={str(k): str(v) for k, v in details.items()}
            if isinstance(details, Mapping) else {},
        )


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One process in the chain that starts a container (dockerd → containerd → shim → runc)."""

    process: str
    version: str
    role: str


def _str_list(value: object) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return ()
    return tuple(str(v) for v in value if v is not None)


def _security_name(option: str) -> str:
    """``name=seccomp,profile=default`` → ``seccomp``; old engines send just ``seccomp``."""
    for part in option.split(","):
        key, eq, value = part.partition("=")
        if eq and key == "name":
            return value
    return option


@dataclass(frozen=True, slots=True)
class EngineOverview:
    """Everything the Engine page and ``doctor`` show about one engine."""

    product: str  # "Docker Engine" or "Podman"
    version: str
    api_version: str
    min_api_version: str
    os: str
    arch: str
    kernel: str
    components: tuple[Component, ...]
    name: str
    operating_system: str
    storage_driver: str
    backing_filesystem: str
    cgroup_driver: str
    cgroup_version: str
    runtimes: tuple[str, ...]
    default_runtime: str
    security_options: tuple[str, ...]
    cpus: int
    memory: int
    root_dir: str
    registry_mirrors: tuple[str, ...]
    insecure_registries: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def is_podman(self) -> bool:
        return self.product == "Podman"

    @property
    def security(self) -> tuple[str, ...]:
        """The security features by name: ``seccomp``, ``apparmor``, ``selinux``, ``rootless``…"""
        return tuple(_security_name(option) for option in self.security_options)

    @property
    def rootless(self) -> bool:
        return "rootless" in self.security

    def component(self, *names: str) -> Component | None:
        """The first component whose name is one of ``names`` or starts with one (any case)."""
        for wanted in names:
            for component in self.components:
                if component.name.lower().startswith(wanted.lower()):
                    return component
        return None

    @property
    def chain(self) -> tuple[ChainLink, ...]:
        """The processes that start a container, with the versions the engine reported."""

        def version_of(*names: str) -> str:
            found = self.component(*names)
            return found.short_version if found else ""

        if self.is_podman:
            runtime = self.component("OCI Runtime")
            runtime_name = self.default_runtime or "runtime"
            if runtime is not None and "(" in runtime.name:
                runtime_name = runtime.name.partition("(")[2].rstrip(")") or runtime_name
            return (
                ChainLink("podman", self.version, "API service"),
                ChainLink("conmon", version_of("Conmon"), "container monitor"),
                ChainLink(runtime_name, runtime.short_version if runtime else "", "OCI runtime"),
            )
        default_runtime = self.default_runtime or "runc"
        containerd = version_of("containerd")
        return (
            ChainLink("dockerd", version_of("Engine") or self.version, "Docker daemon"),
            ChainLink("containerd", containerd, "container supervisor"),
            # The shim ships with containerd and reports no version of its own.
            ChainLink("containerd-shim", f"with containerd {containerd}" if containerd else "",
                      "shim, one per container"),
            ChainLink(default_runtime, version_of(default_runtime), "OCI runtime"),
        )

    @classmethod
    def from_api(cls, version: Mapping[str, Any], info: Mapping[str, Any]) -> EngineOverview:
        components = tuple(
            Component.from_api(c) for c in version.get("Components") or ()
            if isinstance(c, Mapping)
        )
        podman = any(c.name == "Podman Engine" for c in components)
        if not components:
            components = _components_from_info(version, info)
        driver_status = {
            str(pair[0]): str(pair[1]) for pair in info.get("DriverStatus") or ()
            if isinstance(pair, Sequence) and len(pair) == 2
        }
        runtimes = info.get("Runtimes")
        registry = info.get("RegistryConfig")
        registry = registry if isinstance(registry, Mapping) else {}
        return cls(
            product="Podman" if podman else "Docker Engine",
            version=str(version.get("Version") or ""),
            api_version=str(version.get("ApiVersion") or ""),
            min_api_version=str(version.get("MinAPIVersion") or ""),
            os=str(version.get("Os") or ""),
            arch=str(version.get("Arch") or ""),
            kernel=str(version.get("KernelVersion") or info.get("KernelVersion") or ""),
            components=components,
            name=str(info.get("Name") or ""),
            operating_system=str(info.get("OperatingSystem") or ""),
            storage_driver=str(info.get("Driver") or ""),
            backing_filesystem=driver_status.get("Backing Filesystem", ""),
            cgroup_driver=str(info.get("CgroupDriver") or ""),
            cgroup_version=str(info.get("CgroupVersion") or ""),
            runtimes=tuple(sorted(str(k) for k in runtimes))
            if isinstance(runtimes, Mapping) else (),
            default_runtime=str(info.get("DefaultRuntime") or ""),
            security_options=_str_list(info.get("SecurityOptions")),
            cpus=int(info.get("NCPU") or 0),
            memory=int(info.get("MemTotal") or 0),
            root_dir=str(info.get("DockerRootDir") or ""),
            registry_mirrors=_str_list(registry.get("Mirrors")),
            insecure_registries=_str_list(registry.get("InsecureRegistryCIDRs")),
            warnings=_str_list(info.get("Warnings")),
        )


def _components_from_info(
    version: Mapping[str, Any], info: Mapping[str, Any]
) -> tuple[Component, ...]:
    """Components for engines that predate the field: the engine, and the commits /info names."""
    out = [Component("Engine", str(version.get("Version") or ""), {})]
    for name, key in (("containerd", "ContainerdCommit"), ("runc", "RuncCommit"),
                      ("docker-init", "InitCommit")):
        commit = info.get(key)
        if isinstance(commit, Mapping) and commit.get("ID"):
            out.append(Component(name, str(commit["ID"]), {"GitCommit": str(commit["ID"])}))
    return tuple(out)


async def engine_overview(client: Engine) -> EngineOverview:
    """Read ``/version`` and ``/info`` together and describe the engine (two calls, at once)."""
    version, info = await asyncio.gather(client.get_json("/version"), client.get_json("/info"))
    # A field of the wrong type ("NCPU": "many") is a ProtocolError, as for every answer.
    read = checked(functools.partial(
        EngineOverview.from_api, version if isinstance(version, Mapping) else {}),
        "a system report")
    return read(info if isinstance(info, Mapping) else {})
