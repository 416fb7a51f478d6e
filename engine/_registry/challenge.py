"""``WWW-Authenticate`` challenges and ``Link`` headers of the distribution API (sans-IO).

A registry answers 401 with ``Basic realm="…"`` or ``Bearer realm="https://auth…",
service="…",scope="repository:x:pull"``: the parameters are comma-separated,
values may be quoted, and a quoted value may itself contain commas (a scope
asking for ``pull,push``).  The catalog and tag lists page with
``Link: </v2/_catalog?last=x&n=100>; rel="next"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)')
_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


@dataclass(frozen=True, slots=True)
class Challenge:
    """One authentication challenge: its scheme (lower case) and parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def parse_challenge(header: str) -> Challenge | None:
    """The challenge in a ``WWW-Authenticate`` header, or None when there is none to read."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            break
        name, value = match.group(1).lower(), match.group(2).strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
        position = match.end()
    return Challenge(scheme.lower(), params)


def next_link(header: str) -> str | None:
    """The ``rel="next"`` target of a ``Link`` header (a path with query), or None."""
    match = _NEXT.search(header or "")
    return match.group(1) if match else None
