"""Pure functions that turn engine dataclasses into the words and numbers a row shows.

No Qt here: the table models call these, and tests can check them directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import humanize

import engine

if TYPE_CHECKING:  # engine's submodules load on first use; headless commands need few
    from engine import Container, FileDiff, Image, Network, NetworkEndpoint, Volume


def human_size(size: int) -> str:
    """Sizes as the docker CLI prints them (decimal units: 1 MB = 1000 kB)."""
    if size < 0:
        return "—"
    return str(humanize.naturalsize(size, format="%.1f"))


_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _scaled(size: float, base: float, units: tuple[str, ...]) -> tuple[float, str]:
    index = 0
    while size >= base and index < len(units) - 1:
        size /= base
        index += 1
    return size, units[index]


def cli_memory_size(size: float) -> str:
    """Memory as ``docker stats`` prints it (go-units ``BytesSize``: binary, 4 digits)."""
    value, unit = _scaled(size, 1024.0, _BINARY_UNITS)
    return f"{value:.4g}{unit}"


def cli_io_size(size: float) -> str:
    """Network and block I/O as ``docker stats`` prints them (decimal, 3 digits)."""
    value, unit = _scaled(size, 1000.0, _DECIMAL_UNITS)
    return f"{value:.3g}{unit}"


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "—"
    now = now or datetime.now(tz=UTC)
    return str(humanize.naturaltime(now - moment))


def container_state(container: Container) -> str:
    """The state word a user scans for: 'running', 'exited (137)', 'paused', 'unhealthy'…"""
    state = container.state or "unknown"
    if state == "exited" and container.exit_code is not None:
        return f"exited ({container.exit_code})"
    if state == "running":
        if "(unhealthy)" in container.status:
            return "running (unhealthy)"
        if "(healthy)" in container.status:
            return "running (healthy)"
    return state


def container_tone(container: Container) -> str:
    """How a state should look: 'good', 'busy', 'bad' or 'idle'."""
    state = container_state(container)
    if state == "running (unhealthy)" or state == "dead":
        return "bad"
    if state.startswith("running"):
        return "good"
    if state in ("paused", "restarting", "removing"):
        return "busy"
    if state.startswith("exited") and container.exit_code not in (None, 0):
        return "bad"
    return "idle"


def container_ports(container: Container) -> str:
    return engine.format_ports(container.ports)


def short_reference(reference: str) -> str:
    """A reference as the docker CLI shows it: ``busybox:latest``, not Podman's
    ``docker.io/library/busybox:latest``; other registries keep their name.

    Only for showing: actions send the engine the reference it gave.
    """
    if not reference.startswith(("docker.io/", "index.docker.io/")):
        return reference
    try:
        return engine.parse_reference(reference).familiar
    except engine.InvalidReference:
        return reference


def browser_urls(container: Container) -> list[str]:
    """Where a browser reaches each published TCP port: ``http://127.0.0.1:PORT``.

    A port published on every address (0.0.0.0 / ::) is reached on loopback;
    one bound to a specific address on that address.  Docker lists a port once
    per address family; each URL appears once, in port order.
    """
    return [url for url, _text in port_links(container)]


def port_links(container: Container) -> list[tuple[str, str]]:
    """Each published TCP port as (URL a browser opens, words for the link):
    ``("http://127.0.0.1:8080", "localhost:8080 → 80")``; see :func:`browser_urls`.
    None for a container that is not running: Podman still lists a stopped container's
    ports, but nothing answers there."""
    links: list[tuple[str, str]] = []
    if container.state != "running":
        return links
    seen: set[str] = set()
    for port in sorted(container.ports, key=lambda p: (p.public or 0, p.ip or "")):
        if port.public is None or port.type != "tcp":
            continue
        ip = port.ip or ""
        if ip in ("", "0.0.0.0", "::"):
            host, shown = "127.0.0.1", "localhost"
        elif ":" in ip:
            host = shown = f"[{ip}]"
        else:
            host = shown = ip
        url = f"http://{host}:{port.public}"
        if url not in seen:
            seen.add(url)
            links.append((url, f"{shown}:{port.public} → {port.private}"))
    return links


def uptime_text(state: str, started: datetime | None, finished: datetime | None,
                created: datetime | None = None, now: datetime | None = None) -> str:
    """How long a container has been up, or since when it is not: "Up 5 minutes",
    "Exited 2 hours ago", "Created a minute ago" (recomputed as the clock ticks)."""
    now = now or datetime.now(tz=UTC)
    if state in ("running", "paused", "restarting") and started is not None:
        up = f"Up {humanize.naturaldelta(now - started)}"
        return f"{up}, paused" if state == "paused" else up
    if state in ("exited", "dead") and finished is not None:
        return f"{state.capitalize()} {relative_time(finished, now)}"
    if created is not None:
        return f"Created {relative_time(created, now)}"
    return ""


def container_image(container: Container) -> str:
    """Image name as the docker CLI shows it; a bare ID is shortened."""
    image = container.image
    if image.startswith("sha256:"):
        return image.removeprefix("sha256:")[:12]
    return short_reference(image)


@dataclass(frozen=True, slots=True)
class ImageRow:
    """One tag of an image (or an untagged image) plus how many containers use the image.

    An image with two tags is two rows, so no name hides behind a "(+1)".
    """

    image: Image
    used_by: int
    tag: str | None = None

    @property
    def key(self) -> str:
        """The tag, or the image ID for an untagged image: what the table keys rows by."""
        return self.tag or self.image.id

    @property
    def name(self) -> str:
        """What this row stands for, as the engine takes it: the tag, else the image's name."""
        return self.tag or self.image.display_name

    @property
    def reference(self) -> str:
        """What to send the engine for this row: the tag, else the image ID."""
        return self.tag or self.image.id

    @property
    def shown(self) -> str:
        """The name as the docker CLI shows it (``busybox:latest``), for messages."""
        return short_reference(self.name)


def image_rows(images: list[Image], containers: list[Container]) -> list[ImageRow]:
    """One row per tag, one for an untagged image."""
    usage: dict[str, int] = {}
    for container in containers:
        usage[container.image_id] = usage.get(container.image_id, 0) + 1
    return [ImageRow(image, usage.get(image.id, 0), tag)
            for image in images for tag in (image.repo_tags or [None])]


def _split_name(name: str) -> tuple[str, str]:
    repo, _, tag = name.rpartition(":")
    if not repo or "/" in tag:  # no tag, or a registry port
        return name, "<none>"
    return repo, tag


def image_repository(row: ImageRow) -> str:
    """``busybox`` for Podman's ``docker.io/library/busybox`` too (the full name is the
    row's key and what actions send)."""
    return _split_name(short_reference(row.name))[0]


def image_tag(row: ImageRow) -> str:
    """The row's own tag; the image's other tags are rows of their own."""
    return _split_name(short_reference(row.name))[1]


# -- image diff ---------------------------------------------------------------------------


def printable(text: str) -> str:
    """Tar names may hold bytes that are not UTF-8; never let showing them fail."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def signed_size(delta: int) -> str:
    """``+1.2 kB``, ``-300 Bytes``, ``0 Bytes``: the sign says which way it went."""
    if not delta:
        return human_size(0)
    return ("+" if delta > 0 else "-") + human_size(abs(delta))


def change_detail(change: FileDiff) -> str:
    """What made a modified path modified, in the words of ``dockyard diff`` and the
    diff window alike: ``content``, ``mode 0644 → 0755``, ``link a → b``, ``size 5 → 9``…
    ("" for an added or removed path)."""
    before, after = change.before, change.after
    if before is None or after is None:
        return ""
    parts = []
    for difference in change.differences:
        if difference == "mode":
            parts.append(f"mode {before.mode:04o} → {after.mode:04o}")
        elif difference == "owner":
            parts.append(f"owner {before.uid}:{before.gid} → {after.uid}:{after.gid}")
        elif difference == "link":
            parts.append(f"link {printable(before.link)} → {printable(after.link)}")
        elif difference == "kind":
            parts.append(f"{before.kind} → {after.kind}")
        elif difference == "size":
            parts.append(f"size {before.size:,} → {after.size:,}")
        else:
            parts.append(difference)
    return ", ".join(parts)


def repository_of(reference: str) -> str | None:
    """``registry:5000/app`` for ``registry:5000/app:v2``; None for an image ID or digest."""
    if reference.startswith("sha256:") or "@" in reference:
        return None
    return _split_name(reference)[0]


def same_repository_first(reference: str, others: list[str]) -> tuple[list[str], int]:
    """``others`` with the tags of ``reference``'s repository first (in their order), and
    how many those are: comparing v1 with v2 of one image is the usual question."""
    repository = repository_of(reference)
    same = [o for o in others if repository is not None and repository_of(o) == repository]
    return same + [o for o in others if o not in same], len(same)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """ "1 file", "2 files", "20,415 paths": no "(s)" left for the reader to sort out."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def used_by_text(count: int) -> str:
    return counted(count, "container") if count > 0 else "unused"



# -- volumes and networks ------------------------------------------------------------------


def optional_size(size: int | None) -> str:
    """A size the engine may not have measured: "—" then, never a made-up 0."""
    return "—" if size is None else human_size(size)


def labels_text(labels: Mapping[str, str]) -> str:
    """``k=v, k2=v2``, sorted, without the Compose labels (the Compose column says those)."""
    return ", ".join(f"{k}={v}" if v else k for k, v in sorted(labels.items())
                     if not k.startswith("com.docker.compose."))


@dataclass(frozen=True, slots=True)
class VolumeRow:
    """A volume plus the names of the containers (any state) whose mounts name it."""

    volume: Volume
    users: tuple[str, ...]
    #: The users' container IDs, in the order of :attr:`users`.
    user_ids: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.volume.name


def volume_rows(volumes: list[Volume], containers: list[Container]) -> list[VolumeRow]:
    users: dict[str, list[tuple[str, str]]] = {}
    for container in containers:
        for mount in container.mounts:
            if mount.type == "volume" and mount.name:
                users.setdefault(mount.name, []).append(
                    (container.name or container.short_id, container.id))
    rows = []
    for volume in volumes:
        named = sorted(users.get(volume.name, ()))
        rows.append(VolumeRow(volume, tuple(n for n, _ in named), tuple(i for _, i in named)))
    return rows


def volume_name(volume: Volume) -> str:
    """Anonymous volumes marked and shortened, as image IDs are."""
    return f"{volume.display_name} (anonymous)" if volume.anonymous else volume.name


def network_name(network: Network) -> str:
    return f"{network.name} (built-in)" if network.builtin else network.name


def network_flags(network: Network) -> str:
    flags = [word for word, on in (("internal", network.internal),
                                   ("attachable", network.attachable),
                                   ("IPv6", network.ipv6)) if on]
    return ", ".join(flags)


def endpoint_text(endpoint: NetworkEndpoint) -> str:
    """``web 172.18.0.2 fd00::2 (aliases: db, cache)``: what one attached container has."""
    parts = [endpoint.container_name or endpoint.container_id[:12]]
    parts += [a for a in (endpoint.ipv4, endpoint.ipv6) if a]
    # Docker adds the container's short ID (and name) as aliases on user networks: noise.
    aliases = [a for a in endpoint.aliases
               if a != endpoint.container_name and not (
                   len(a) >= 12 and endpoint.container_id.startswith(a))]
    if aliases:
        parts.append(f"(aliases: {', '.join(aliases)})")
    return " ".join(parts)


def network_containers(network: Network) -> str:
    return "; ".join(endpoint_text(e) for e in sorted(
        network.containers, key=lambda e: e.container_name))


def window_title(product: str = "", version: str = "", where: str = "", *,
                 reconnecting: bool = False) -> str:
    """What the window's title says about the engine it shows (issue 12.14): with two
    windows, or Docker and Podman both running, the task bar tells them apart.

    ``where`` is the CLI context's name when the engine was found through one (the
    name users know it by), else its address.  ``"Dockyard — Docker 20.10 ·
    unix:///var/run/docker.sock"``; ``"Dockyard — Podman 4.3 · podman-machine"``.
    """
    if reconnecting:
        return f"Dockyard — reconnecting to {where}"
    if not product:
        return "Dockyard"
    name = "Docker" if product == "Docker Engine" else product
    release = ".".join(version.split("+")[0].split(".")[:2])  # 20.10.24+dfsg1 → 20.10
    engine = f"{name} {release}" if release else name
    return f"Dockyard — {engine} · {where}" if where else f"Dockyard — {engine}"


def engine_entry_text(name: str, state: str, product: str = "", version: str = "", *,
                      current_context: bool = False, unencrypted: bool = False) -> str:
    """One line of the engine switcher: ``"default — Docker 20.10.24"``, or the state
    when nothing answered there (``"tcp://lab:2376 — unreachable"``); ``unencrypted``
    (plain tcp to another machine) adds "no TLS"."""
    if state == "reachable" and product:
        what = f"{'Docker' if product == 'Docker Engine' else product} {version.split('+')[0]}"
    else:
        what = state
    mark = " (current context)" if current_context else ""
    plain = " — no TLS, not private" if unencrypted else ""
    return f"{name}{mark} — {what.strip()}{plain}"


def engine_label(url: str, product: str = "", context: str = "") -> str:
    """An engine in a column of many: what it is and where, short ("Podman · ssh
    me@build:2222", "Docker · /var/run/docker.sock"); the full URL goes in a tooltip."""
    scheme, _, rest = url.partition("://")
    if context:
        where = context
    elif scheme == "ssh":
        where = f"ssh {rest.partition('/')[0]}"
    elif scheme == "unix":
        where = rest
    else:
        where = rest or url
    what = "Docker" if product == "Docker Engine" else product
    return f"{what} · {where}" if what else where


# -- sizes as the docker CLI prints them, registry addresses (shared with headless commands) --

_CLI_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def cli_size(size: float, precision: int = 4) -> str:
    """A size as the docker CLI prints it (go-units ``HumanSizeWithPrecision``)."""
    index = 0
    while size >= 1000.0 and index < len(_CLI_UNITS) - 1:
        size /= 1000.0
        index += 1
    return f"{size:.{precision}g}{_CLI_UNITS[index]}"


_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
                   r"(?::[0-9]{1,5})?$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class BadTarget(ValueError):
    """What was typed is not REGISTRY[/REPOSITORY[:TAG]]; the message says why."""


@dataclass(frozen=True)
class Target:
    registry: str
    repository: str = ""
    tag: str = ""


def parse_target(text: str) -> Target:
    """``127.0.0.1:5000/team/app:v1`` → Target("127.0.0.1:5000", "team/app", "v1")."""
    text = text.strip()
    if "://" in text:
        raise BadTarget(f"give a registry address without a scheme: {text!r}")
    registry, _, rest = text.partition("/")
    if not _HOST.match(registry):
        raise BadTarget(f"not a registry address (host[:port]): {registry!r}")
    repository, tag = rest, ""
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = rest.rpartition(":")
        if not _TAG.match(tag):
            raise BadTarget(f"not a tag: {tag!r}")
    repository = repository.rstrip("/")
    if repository and not _REPOSITORY.match(repository):
        raise BadTarget(f"not a repository name (lower case, '/'-separated): {repository!r}")
    if tag and not repository:
        raise BadTarget(f"a tag needs a repository: {text!r}")
    return Target(registry, repository, tag)


def sentence(text: str) -> str:
    """The daemon's and the engine's messages start in lower case; a status line does not."""
    return text[:1].upper() + text[1:]
