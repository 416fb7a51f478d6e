"""Pure functions that turn engine dataclasses into the words and numbers a row shows.

No Qt here: the table models call these, and tests can check them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import humanize

from engine import Container, Image, format_ports


def human_size(size: int) -> str:
    """Sizes as the docker CLI prints them (decimal units: 1 MB = 1000 kB)."""
    if size < 0:
        return "—"
    return str(humanize.naturalsize(size, format="%.1f"))


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
    return format_ports(container.ports)


def container_image(container: Container) -> str:
    """Image name as the user gave it; a bare ID is shortened."""
    image = container.image
    if image.startswith("sha256:"):
        return image.removeprefix("sha256:")[:12]
    return image


@dataclass(frozen=True, slots=True)
class ImageRow:
    """An image plus what the images table adds to it: how many containers use it."""

    image: Image
    used_by: int

    @property
    def id(self) -> str:
        return self.image.id


def image_rows(images: list[Image], containers: list[Container]) -> list[ImageRow]:
    usage: dict[str, int] = {}
    for container in containers:
        usage[container.image_id] = usage.get(container.image_id, 0) + 1
    return [ImageRow(image, usage.get(image.id, 0)) for image in images]


def image_repository(image: Image) -> str:
    name = image.display_name
    repo, _, tag = name.rpartition(":")
    if "/" in tag:  # a registry port, not a tag
        return name
    return repo or name


def image_tag(image: Image) -> str:
    """The first tag, and how many more the image has (all of them are in the tooltip)."""
    name = image.display_name
    repo, _, tag = name.rpartition(":")
    tag = tag if repo and "/" not in tag else "<none>"
    more = len(image.repo_tags) - 1
    return f"{tag} (+{more})" if more > 0 else tag


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """ "1 file", "2 files", "20,415 paths": no "(s)" left for the reader to sort out."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def used_by_text(count: int) -> str:
    return counted(count, "container") if count > 0 else "unused"

