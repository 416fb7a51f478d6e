"""A log line's level (error, warn, info, debug), read from the line as a person would.

No format is assumed: the first of these in a line decides — a ``level=warn`` /
``"level":"error"`` / ``severity: …`` field (logfmt, JSON, most structured
loggers), an upper-case or capitalised level word (``ERROR``, ``[WARN]``,
``Warning:``, Postgres' ``LOG:``), or a lower-case one in brackets or at the
start (nginx's ``[error]``, ``error: …``).  A lower-case
"error" inside a sentence is not a level.  A line with none that starts with
white space (a stack trace's frames, a wrapped message) takes the level of the
line before it from the same source; any other has none.

Bytes in, a small int out: this runs over every line of a log when the level
filter is turned on, so it is one regular expression search per line.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

NONE, ERROR, WARN, INFO, DEBUG = range(5)
#: Level numbers by name, and names by number (0: no level found).
LEVELS = {"error": ERROR, "warn": WARN, "info": INFO, "debug": DEBUG, "other": NONE}
LEVEL_NAMES = ("other", "error", "warn", "info", "debug")

_WORDS = (rb"ERROR|ERR|FATAL|CRITICAL|CRIT|PANIC|EMERG|ALERT|SEVERE|WARNING|WARN|INFO|NOTICE|"
          rb"LOG|DEBUG|TRACE|Error|Fatal|Critical|Panic|Warning|Warn|Info|Notice|Debug|Trace")
_LOWER = rb"error|err|fatal|critical|crit|panic|emerg|alert|warning|warn|info|notice|debug|trace"
#: Where a level may be named.  Each is searched for on its own as plain literals
#: (or a literal first byte), so the search skips ahead in C: an alternation that
#: can start with a common lower-case letter makes SRE stop at nearly every byte.
#: Each hit is then checked by :data:`_LEVEL`.
_UPPER = re.compile(_WORDS)
_LITERALS = (b"level", b"lvl", b"severity", b"[")
_START = re.compile(rb"\n[ \t]*(?:" + _LOWER + rb")\b")
_LEVEL = re.compile(
    rb"(?P<word>" + _WORDS + rb")\b"
    rb"|(?:level|lvl|severity)[\"']?[ \t]*[=:][ \t]*[\"']?(?P<field>[A-Za-z]+)"
    rb"|(?P<lower>" + _LOWER + rb")\b")
_CONTINUED = re.compile(rb"\n[ \t]")
_WORD_CHAR = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_BY_WORD = {
    b"error": ERROR, b"err": ERROR, b"fatal": ERROR, b"critical": ERROR, b"crit": ERROR,
    b"panic": ERROR, b"emerg": ERROR, b"emergency": ERROR, b"alert": ERROR, b"severe": ERROR,
    b"warning": WARN, b"warn": WARN, b"info": INFO, b"information": INFO, b"notice": INFO,
    b"log": INFO, b"debug": DEBUG, b"trace": DEBUG,
}


def _level_at(blob: bytes, position: int, line_start: int) -> int:
    """The level named at ``position`` of ``blob``, or -1 if nothing is named there."""
    match = _LEVEL.match(blob, position)
    if match is None:
        return -1
    if position > line_start and blob[position - 1] in _WORD_CHAR:
        return -1  # glued to a word before it: "XERROR", "loglevel" is fine below
    if match.lastgroup == "lower":
        # Lower case only as "[error]" or first on the line ("error: …").
        end = match.end()
        bracketed = blob[position - 1:position] == b"[" and blob[end:end + 1] == b"]"
        if not bracketed and blob[line_start:position].strip(b" \t"):
            return -1
    return _BY_WORD.get(match.group(match.lastindex or 0).lower(), -1)


def _candidates(blob: bytes) -> list[int]:
    """Where in ``blob`` a level may be named, in order."""
    found = [m.start() for m in _UPPER.finditer(blob)]
    for literal in _LITERALS:
        shift = 1 if literal == b"[" else 0
        position = blob.find(literal)
        while position >= 0:
            found.append(position + shift)
            position = blob.find(literal, position + 1)
    found += [m.end() - 1 - len(m.group().lstrip(b"\n \t"))
              for m in _START.finditer(b"\n" + blob)]
    found.sort()
    return found


def line_level(line: bytes) -> int:
    """The level the line names (:data:`ERROR` … :data:`DEBUG`), or :data:`NONE`."""
    return line_levels([line], b"\0")[0]


def line_levels(lines: Sequence[bytes], sources: bytes | bytearray,
                before: tuple[bytes | bytearray, bytes | bytearray] = (b"", b"")) -> bytearray:
    """Each line's level.  ``sources`` says which source wrote each line, and
    ``before`` is (sources, levels) of the lines before these, for continuations.

    The lines are searched as one blob (a search per line costs ~10 µs of Python
    and regex start-up; the blob's matches are few), and each match is placed on
    its line by bisecting the lines' offsets.
    """
    levels = bytearray(len(lines))
    if not lines:
        return levels
    blob = b"\n".join(lines)
    if blob.count(b"\n") != len(lines) - 1:  # a line added by hand held a newline
        return bytearray(b"".join(bytes(line_levels([line], sources[i:i + 1]))
                                  for i, line in enumerate(lines)))
    starts = [0]
    total = 0
    for line in lines:
        total += len(line) + 1
        starts.append(total)
    decided = bytearray(len(lines))  # 1 once a line's first level word was seen
    for position in _candidates(blob):
        index = bisect_right(starts, position) - 1
        if decided[index]:
            continue
        level = _level_at(blob, position, starts[index])
        if level >= 0:
            levels[index] = level
            decided[index] = 1
    # Continuations take the level of the line before them from the same source.
    continued = [0] if lines[0][:1] in (b" ", b"\t") else []
    continued += [bisect_right(starts, m.end() - 1) - 1 for m in _CONTINUED.finditer(blob)]
    continued = [index for index in continued if not decided[index]]
    if continued:
        all_sources = bytes(before[0]) + bytes(sources)
        all_levels = bytearray(before[1]) + levels
        offset = len(before[0])
        for index in continued:
            here = offset + index
            previous = all_sources.rfind(all_sources[here:here + 1], 0, here)
            if previous >= 0:
                all_levels[here] = levels[index] = all_levels[previous]
    return levels
