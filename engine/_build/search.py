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


async def search_images(client: Engine, term: str, *, limit: int = 25) -> list[SearchResult]:
    """Search Docker Hub (Podman: its configured registries) through the engine.

    The engine, not this machine, reaches the registry, so an offline engine is
    reported as such rather than as an error of ours.
    """
    if not term.strip():
        return []
    try:
        response = await client.request("GET", "/images/search",
                                         params={"term": term.strip(), "limit": limit},
                                         timeout=60.0)
    except APIError as exc:
        detail = _one_line(exc.message)
        if client.version.is_podman and exc.status == 404 and "/" not in term:
            raise SearchFailed(
                f"Podman has no registries to search for a name without one"
                f" (unqualified-search-registries in registries.conf): search for"
                f" docker.io/{term.strip()} or quay.io/{term.strip()}") from exc
        if any(marker in detail.lower() for marker in _OFFLINE_MARKERS):
            raise SearchFailed(
                f"the engine cannot reach the registry to search (offline?): {detail}"
            ) from exc
        raise SearchFailed(f"the search failed: {detail}") from exc
    answer = decode_json(response.content, "/images/search") or []
    return parse_each(answer, SearchResult.from_api, "the search results")
