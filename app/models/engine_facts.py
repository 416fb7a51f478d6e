"""The Engine page's words: what an :class:`engine.EngineOverview` and an event look like.

Pure functions, no Qt, so the page and its tests read the same text.
"""

from __future__ import annotations

from datetime import datetime

import engine

#: The security features every engine is asked about, as users know their names.
_NAMED_SECURITY = (("seccomp", "seccomp"), ("apparmor", "AppArmor"), ("selinux", "SELinux"))


def gib(size: int) -> str:
    """Memory as ``free``/``docker info`` print it (binary units)."""
    return f"{size / 2**30:.1f} GiB" if size > 0 else "—"


def security_text(overview: engine.EngineOverview) -> str:
    """"seccomp on, AppArmor off, SELinux off; rootful" (+ any other option the engine names)."""
    names = overview.security
    parts = [f"{label} {'on' if key in names else 'off'}" for key, label in _NAMED_SECURITY]
    text = ", ".join(parts) + ("; rootless" if overview.rootless else "; rootful")
    known = {key for key, _ in _NAMED_SECURITY} | {"rootless"}
    if extra := [name for name in names if name not in known]:
        text += f" (also: {', '.join(extra)})"
    return text


def runtimes_text(overview: engine.EngineOverview) -> str:
    default = overview.default_runtime
    ordered = sorted(overview.runtimes, key=lambda name: (name != default, name))
    return ", ".join(f"{name} (default)" if name == default else name for name in ordered) or "—"


def overview_facts(overview: engine.EngineOverview) -> list[tuple[str, str, str]]:
    """(key, label, text) for every fact the page lists, in reading order."""
    api = overview.api_version
    if overview.min_api_version:
        api += f" (oldest accepted: {overview.min_api_version})"
    storage = overview.storage_driver or "—"
    if overview.backing_filesystem:
        storage += f" on {overview.backing_filesystem}"
    cgroup = overview.cgroup_driver or "—"
    if overview.cgroup_version:
        cgroup += f", cgroup v{overview.cgroup_version}"
    return [
        ("engine", "Engine", f"{overview.product} {overview.version}"),
        ("api", "API version", api or "—"),
        ("host", "Host", overview.name or "—"),
        ("os", "Operating system", overview.operating_system or "—"),
        ("kernel", "Kernel", f"{overview.kernel} ({overview.os}/{overview.arch})"),
        ("storage", "Storage driver", storage),
        ("cgroup", "Cgroup driver", cgroup),
        ("runtimes", "Runtimes", runtimes_text(overview)),
        ("security", "Security", security_text(overview)),
        ("resources", "CPUs and memory", f"{overview.cpus} CPUs, {gib(overview.memory)}"),
        ("root-dir", "Root directory", overview.root_dir or "—"),
        ("mirrors", "Registry mirrors", ", ".join(overview.registry_mirrors) or "none"),
        ("insecure", "Insecure registries", ", ".join(overview.insecure_registries) or "none"),
    ]


def component_version(component: engine.Component) -> str:
    """The first line of a component's version (Podman's runtime sends its whole --version)."""
    text = component.version.strip()
    return text.splitlines()[0] if text else "—"


#: The details worth a glance, in this order; the rest are in the tooltip.
_KEY_DETAILS = (("GitCommit", "commit"), ("Package", "package"), ("GoVersion", "Go"))


def component_details(component: engine.Component) -> str:
    """"commit 5d6db84, Go go1.19.8": what tells two builds of one version apart."""
    details = component.details
    return ", ".join(f"{label} {details[key]}" for key, label in _KEY_DETAILS if details.get(key))


def component_tooltip(component: engine.Component) -> str:
    """Every detail the engine gave, and the full version text."""
    lines = [component.version.strip()]
    lines += [f"{k}: {v}" for k, v in sorted(component.details.items()) if v]
    return "\n".join(lines)


def event_time(event: engine.Event) -> str:
    """Local wall-clock time with milliseconds: bursts of events are apart by less than 1 s."""
    moment = datetime.fromtimestamp(event.time_nano / 1e9)  # local time, on purpose
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def event_actor(event: engine.Event) -> str:
    """The actor's name when the engine gives one, else its short ID."""
    name = event.attributes.get("name") or ""
    if name:
        return name
    actor = event.actor_id
    return actor[:12] if len(actor) == 64 else actor


def event_action(event: engine.Event) -> str:
    return f"{event.action}: {event.detail}" if event.detail else event.action
