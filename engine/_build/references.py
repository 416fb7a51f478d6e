"""Image references normalised like the docker CLI (``busybox`` is ``docker.io/library/busybox``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine._errors import EngineError

if TYPE_CHECKING:
    pass


_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_HEX64 = re.compile(r"^[a-f0-9]{64}$")
DOCKER_HUB = "docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"


class InvalidReference(EngineError, ValueError):
    """Text that is not an image reference (said in words a pull box can show)."""


@dataclass(frozen=True, slots=True)
class ImageReference:
    registry: str  # "docker.io", "ghcr.io", "127.0.0.1:5000"
    repository: str  # "library/busybox"
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``docker.io/library/busybox``"""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """``busybox``, ``user/app``, ``ghcr.io/o/r``: how the CLI shows and sends it."""
        if self.registry == DOCKER_HUB:
            return self.repository.removeprefix("library/")
        return self.name

    @property
    def normalized(self) -> str:
        """``docker.io/library/busybox:latest``: the name a pull box shows back."""
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def familiar(self) -> str:
        text = self.familiar_name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def __str__(self) -> str:
        return self.normalized


def parse_reference(text: str) -> ImageReference:
    """Parse and normalise like the CLI (``ParseNormalizedNamed`` + ``TagNameOnly``).

    ``busybox`` → ``docker.io/library/busybox:latest``; a digest-only reference gets
    no tag.  Raises :class:`InvalidReference` with the reason.
    """
    raw = text.strip()
    if not raw:
        raise InvalidReference("an image reference is empty")
    if _HEX64.match(raw):
        raise InvalidReference(
            f"{raw!r} looks like an image ID, not a name; IDs cannot be pulled")
    if len(raw) > 255 + 1 + 128 + 1 + 71 + 64:
        raise InvalidReference("the image reference is too long")
    domain, slash, rest = raw.partition("/")
    if not slash or (not any(c in domain for c in ".:") and domain != "localhost"
                     and domain.lower() == domain):
        domain, rest = DOCKER_HUB, raw
    elif not any(c in domain for c in ".:") and domain != "localhost":
        # The CLI takes "UPPER/case" for registry "UPPER"; the daemon then refuses it
        # ("repository name must be lowercase"): say so before anything is sent.
        raise InvalidReference(f"{raw!r}: repository names must be lowercase")
    match = _REFERENCE.match(f"{domain}/{rest}")
    if match is None:
        if any(c.isupper() for c in rest.split("@")[0].split(":")[0]):
            raise InvalidReference(f"{raw!r}: repository names must be lowercase")
        raise InvalidReference(
            f"{raw!r} is not a valid image reference (expected NAME[:TAG][@DIGEST],"
            " e.g. busybox:1.36 or ghcr.io/owner/app@sha256:…)")
    registry = match.group("domain")
    path = match.group("path")
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if len(f"{registry}/{path}") > 255:
        raise InvalidReference("the repository name is longer than 255 characters")
    tag, digest = match.group("tag"), match.group("digest")
    if tag is None and digest is None:
        tag = "latest"
    return ImageReference(registry, path, tag, digest)
