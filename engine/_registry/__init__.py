"""Browse a registry over the distribution API: catalog, tags, manifests, configs.

Not through the engine (it has no call for it) but directly over httpx, with the
engine's insecure-registry rule and the docker CLI's saved logins.  One module
per role: :mod:`.challenge` (``WWW-Authenticate`` and ``Link`` headers),
:mod:`.manifests` (manifest and config bodies), :mod:`.security` (http or
https), :mod:`.client` (requests, auth, the listing of tags).
"""

from engine._registry.challenge import Challenge, next_link, parse_challenge
from engine._registry.client import (
    SAVED_LOGIN,
    PlatformImage,
    RegistryClient,
    TagInfo,
    open_registry,
)
from engine._registry.manifests import (
    MANIFEST_ACCEPT,
    Descriptor,
    ImageConfig,
    Manifest,
    parse_config,
    parse_manifest,
    platform_text,
)
from engine._registry.security import RegistrySecurity, registry_security, split_host

__all__ = [
    "MANIFEST_ACCEPT",
    "SAVED_LOGIN",
    "Challenge",
    "Descriptor",
    "ImageConfig",
    "Manifest",
    "PlatformImage",
    "RegistryClient",
    "RegistrySecurity",
    "TagInfo",
    "next_link",
    "open_registry",
    "parse_challenge",
    "parse_config",
    "parse_manifest",
    "platform_text",
    "registry_security",
    "split_host",
]
