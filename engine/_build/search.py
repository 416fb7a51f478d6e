"""``GET /images/search``: registry search through the engine, offline said as such.

Docker searches Docker Hub (``index.docker.io``) and answers names without a
registry (``busybox``, ``team/app``).  Podman searches the registries in
``unqualified-search-registries`` of its ``registries.conf`` for a plain term, or
the registry a term names (``quay.io/app``), and answers full names
(``docker.io/library/busybox``); with no such registries configured it answers a
plain term with 404 "image not known", said here as what to do instead.  Its
failures come as a multi-line "1 error occurred: * …" list, made one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine._errors import APIError, EngineError
from engine._registry.security import registry_security
from engine._shapes import decode_json, parse_each, validated

if TYPE_CHECKING:
    from engine._client import Engine


@dataclass(frozen=True, slots=True)
class SearchResult:
    name: str
    description: str
    stars: int
    official: bool

    @classmethod
    @validated("a search result")
    def from_api(cls, raw: Mapping[str, Any]) -> SearchResult:
        """Docker's shape (``name``, ``star_count``, ``is_official``) or Podman's: its
        compat endpoint answers libpod's (``Index``, ``Name``, ``Stars``, ``Official``
        "[OK]" or "", ``Automated``, ``Tag``), seen from Podman 4.3."""
        if "Name" in raw and "name" not in raw:
            return cls(
                name=str(raw.get("Name") or ""),
                description=str(raw.get("Description") or ""),
                stars=int(raw.get("Stars") or 0),
                official=str(raw.get("Official") or "").strip() == "[OK]",
            )
        return cls(
            name=str(raw.get("name") or ""),
            description=str(raw.get("description") or ""),
            stars=int(raw.get("star_count") or 0),
            official=bool(raw.get("is_official")),
        )


class SearchFailed(EngineError):
    """The engine could not search its registries (offline, or the registry refused)."""


_OFFLINE_MARKERS = ("no such host", "dial tcp", "network is unreachable", "i/o timeout",
                    "connection refused", "tls handshake timeout")


def _one_line(detail: str) -> str:
    """Podman's "1 error occurred:\\n\\t* couldn't search …\\n\\n" as one line."""
    lines = [line.strip().lstrip("*").strip() for line in detail.splitlines()]
    lines = [line for line in lines if line and not line.endswith("error occurred:")
             and not line.endswith("errors occurred:")]
    return "; ".join(lines) or detail.strip()


def _named_registry(term: str) -> str:
    """The registry a term names (``127.0.0.1:5000/app`` → ``127.0.0.1:5000``), or ""."""
    first, _, rest = term.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else ""


async def search_images(client: Engine, term: str, *, limit: int = 25,
                        tls_verify: bool | None = None) -> list[SearchResult]:
    """Search Docker Hub (Podman: its configured registries, or the one named) through
    the engine.

    The engine, not this machine, reaches the registry, so an offline engine is
    reported as such rather than as an error of ours.  Podman is told
    ``tlsVerify=false`` for a named registry it counts as insecure (its /info), as
    its pull would; ``tls_verify`` decides instead when given.
    """
    term = term.strip()
    if not term:
        return []
    params: dict[str, str | int] = {"term": term, "limit": limit}
    registry = _named_registry(term)
    if client.version.is_podman and registry:
        if tls_verify is None:
            tls_verify = not await (await registry_security(client)).is_insecure(registry)
        if not tls_verify:
            params["tlsVerify"] = "false"
    try:
        response = await client.request("GET", "/images/search", params=params,
                                         timeout=60.0)
    except APIError as exc:
        detail = _one_line(exc.message)
        if client.version.is_podman and exc.status == 404 and "/" not in term:
            raise SearchFailed(
                f"Podman has no registries to search for a name without one"
                f" (unqualified-search-registries in registries.conf): search for"
                f" docker.io/{term} or quay.io/{term}") from exc
        if registry and not client.version.is_podman and "status code 404" in detail:
            raise SearchFailed(
                f"{registry} offers no search (Docker asks its /v1/search, which a"
                f" distribution registry has not): browse it instead") from exc
        if any(marker in detail.lower() for marker in _OFFLINE_MARKERS):
            raise SearchFailed(
                f"the engine cannot reach the registry to search (offline?): {detail}"
            ) from exc
        raise SearchFailed(f"the search failed: {detail}") from exc
    answer = decode_json(response.content, "/images/search") or []
    return parse_each(answer, SearchResult.from_api, "the search results")
