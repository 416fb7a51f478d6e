"""``GET /images/search``: registry search through the engine, offline said as such.
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
        detail = exc.message
        if any(marker in detail.lower() for marker in _OFFLINE_MARKERS):
            raise SearchFailed(
                f"the engine cannot reach the registry to search (offline?): {detail}"
            ) from exc
        raise SearchFailed(f"the search failed: {detail}") from exc
    answer = decode_json(response.content, "/images/search") or []
    return parse_each(answer, SearchResult.from_api, "the search results")
