"""Distribution API manifests as typed values (sans-IO: bytes in, dataclasses out).

Four kinds are read: Docker's image manifest v2 schema 2 and manifest list, and
OCI's image manifest and image index.  An image's size is what a pull fetches:
its config blob plus its layers (compressed, as the registry stores them).
Attestation manifests that ``docker buildx`` puts into an index (platform
``unknown/unknown``, ``vnd.docker.reference.type: attestation-manifest``) are not
platforms and are left out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine._errors import ProtocolError
from engine._shapes import describe

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
#: What we ask a registry for, indexes first (so a multi-platform tag comes back whole).
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST))


def sha256_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A pointer to a blob or manifest: what it is, its digest and size."""

    media_type: str
    digest: str
    size: int
    platform: str = ""  # "os/arch[/variant]" for an index entry; "" when not given
    attestation: bool = False


@dataclass(frozen=True, slots=True)
class Manifest:
    """One manifest as the registry sent it: its digest, kind and what it points to.

    For an image, ``config`` and ``layers``; for an index (manifest list),
    ``manifests`` (one per platform).
    """

    digest: str
    media_type: str
    size: int  # bytes of the manifest itself
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def image_size(self) -> int:
        """Config plus layers: what a pull of this image fetches (0 for an index)."""
        return (self.config.size if self.config else 0) + sum(d.size for d in self.layers)


def platform_text(platform: Any) -> str:
    """``{"os": "linux", "architecture": "arm64", "variant": "v8"}`` → ``linux/arm64/v8``."""
    if not isinstance(platform, Mapping):
        return ""
    parts = [str(platform.get("os") or ""), str(platform.get("architecture") or "")]
    if platform.get("variant"):
        parts.append(str(platform["variant"]))
    return "/".join(parts) if any(parts) else ""


def _descriptor(raw: Any, what: str) -> Descriptor:
    if not isinstance(raw, Mapping):
        raise ProtocolError(f"the registry sent {describe(raw)} where {what} was expected")
    digest, size = raw.get("digest"), raw.get("size")
    if not isinstance(digest, str) or not digest:
        raise ProtocolError(f"the registry sent {what} without a digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ProtocolError(f"the registry sent {what} without a size")
    annotations = raw.get("annotations")
    attestation = isinstance(annotations, Mapping) and \
        annotations.get("vnd.docker.reference.type") == "attestation-manifest"
    return Descriptor(str(raw.get("mediaType") or ""), digest, size,
                      platform_text(raw.get("platform")), attestation)


def parse_manifest(body: bytes, content_type: str, digest: str = "") -> Manifest:
    """A manifest from the bytes of ``GET /v2/NAME/manifests/REF`` and its Content-Type.

    ``digest`` is the ``Docker-Content-Digest`` header when the registry sent one;
    otherwise the sha256 of the bytes (which is what a digest is).  The media type
    comes from the body's ``mediaType`` when present (OCI makes it optional), else
    from the header.
    """
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):
        raise ProtocolError("the registry sent a manifest that is not valid JSON") from None
    if not isinstance(raw, Mapping):
        raise ProtocolError(f"the registry sent {describe(raw)} where a manifest was expected")
    media_type = str(raw.get("mediaType") or content_type.split(";")[0].strip())
    if not media_type:  # an OCI body without either: tell by its shape
        media_type = OCI_INDEX if "manifests" in raw else OCI_MANIFEST
    if media_type not in IMAGE_TYPES + INDEX_TYPES:
        raise ProtocolError(f"the registry sent a manifest of a kind not read here ({media_type})")
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    manifests: tuple[Descriptor, ...] = ()
    if media_type in INDEX_TYPES:
        entries = raw.get("manifests")
        if not isinstance(entries, list):
            raise ProtocolError("the registry sent an index without a list of manifests")
        manifests = tuple(_descriptor(e, "an index entry") for e in entries)
    else:
        config = _descriptor(raw.get("config"), "an image config")
        entries = raw.get("layers")
        if not isinstance(entries, list):
            raise ProtocolError("the registry sent an image manifest without a list of layers")
        layers = tuple(_descriptor(e, "a layer") for e in entries)
    return Manifest(digest or sha256_digest(body), media_type, len(body), config, layers,
                    manifests)


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What a tag's image config says that a listing shows: when it was made, for what."""

    created: str  # RFC 3339 as written; parsed by the caller
    platform: str


def parse_config(body: bytes) -> ImageConfig:

    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):
        raise ProtocolError("the registry sent an image config that is not valid JSON") from None
    if not isinstance(raw, Mapping):
        raise ProtocolError(f"the registry sent {describe(raw)} where an image config was"
                            " expected")
    return ImageConfig(str(raw.get("created") or ""), platform_text(raw))
