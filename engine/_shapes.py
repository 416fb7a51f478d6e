"""The engine's edge: a daemon's answer is checked against the shape the code expects.

A broken daemon, a proxy in front of one, or something that is not a daemon at
all can answer anything: invalid JSON, a list where an object belongs, ``null``,
arrays nested deeper than Python's recursion limit, a 5 kB HTML page.  Nothing
past this module sees such an answer: each helper either returns the value in
the expected shape or raises :class:`ProtocolError` with a one-line reason that
names what was expected.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from engine._errors import ProtocolError

T = TypeVar("T")
C = TypeVar("C")

def describe(value: Any) -> str:
    """What a JSON value is, in words (``a list``, ``null``), for a one-line reason."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def decode_json(body: bytes, what: str) -> Any:
    """Parse a whole JSON answer; anything unreadable is a :class:`ProtocolError`.

    ``json.loads`` raises ``RecursionError`` (not ``ValueError``) for deeply
    nested arrays and ``UnicodeDecodeError`` for bytes that are not UTF-8; both
    are the daemon's fault, not ours.
    """
    try:
        return json.loads(body)
    except RecursionError:
        raise ProtocolError(f"the engine's answer to {what} is nested too deeply to read") \
            from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ProtocolError(f"the engine's answer to {what} is not valid JSON ({reason})") \
            from None


_SPACE = re.compile(r"[ \t\n\r]*")


#: Made values of array elements, by (member, the element's exact JSON text).
ElementMemo = dict[tuple[str, str], Any]


def decode_json_in_pieces(body: bytes, what: str, *,
                          elements: Mapping[str, Callable[[Any], Any]] | None = None,
                          memo: ElementMemo | None = None) -> Generator[None, None, Any]:
    """:func:`decode_json` in steps, for a large answer decoded beside a window.

    ``json.loads`` is one C call that holds the GIL from the first byte to the last:
    decoding a 0.5 MB ``/system/df`` that way freezes a window's event loop for tens
    of ms, and a worker thread does not help (it holds the same GIL).  This generator
    decodes the top-level object's members, and each element of a member that is an
    array (or of a top-level array), one at a time (``raw_decode``), yielding between
    them; drive it with :func:`paced` on the event loop (or :func:`finish` anywhere).
    Same value, same errors as :func:`decode_json` (UTF-8 only, as daemons send).

    ``elements`` makes each element of the named top-level arrays into its value as it
    is decoded (a dataclass's ``from_api``).  With a ``memo``, an element whose exact
    text was made by the previous decode given that memo is not made again: a large
    answer read again after an event (a df) is mostly the same items.  The memo then
    holds what this decode made or reused, nothing older.
    """
    used: ElementMemo = {}
    try:
        text = body.decode("utf-8")
        found = yield from _object_in_pieces(text, json.JSONDecoder().raw_decode,
                                             _Makers(elements or {}, memo, used))
    except RecursionError:
        raise ProtocolError(f"the engine's answer to {what} is nested too deeply to read") \
            from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, and ours below
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ProtocolError(f"the engine's answer to {what} is not valid JSON ({reason})") \
            from None
    if memo is not None:
        memo.clear()
        memo.update(used)
    return found


@dataclass(frozen=True, slots=True)
class _Makers:
    """What :func:`decode_json_in_pieces` makes of array elements, and its memo."""

    elements: Mapping[str, Callable[[Any], Any]]
    memo: ElementMemo | None
    used: ElementMemo

    def make(self, member: str, value: Any, text: str, start: int, end: int) -> Any:
        make = self.elements[member]
        if self.memo is None:
            return make(value)
        key = (member, text[start:end])
        made = self.memo.get(key)
        if made is None:
            made = make(value)
        self.used[key] = made
        return made


#: How long :func:`paced` works before it lets the event loop run (timers, input, paint).
PACE_SECONDS = 0.004


async def paced(steps: Generator[None, None, T], budget: float = PACE_SECONDS) -> T:
    """Run a generator of steps on the event loop, handing the loop back every ``budget``
    seconds, so a long decode never stalls it for longer than that (plus one step)."""
    started = time.perf_counter()
    try:
        while True:
            next(steps)
            if time.perf_counter() - started > budget:
                await asyncio.sleep(0)
                started = time.perf_counter()
    except StopIteration as done:
        result: T = done.value
        return result


def finish(steps: Generator[None, None, T]) -> T:
    """Run a generator of steps to its end at once (no event loop to share with)."""
    try:
        while True:
            next(steps)
    except StopIteration as done:
        result: T = done.value
        return result


_RawDecode = Callable[[str, int], tuple[Any, int]]


def _skip(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


def _object_in_pieces(text: str, raw: _RawDecode, makers: _Makers
                      ) -> Generator[None, None, Any]:
    at = _skip(text, 0)
    if text.startswith("[", at):  # a top-level array (``/changes``): element by element
        items, at = yield from _array_in_pieces(text, at, raw, "", makers)
        return _ended(text, at, items)
    if not text.startswith("{", at):
        value, at = raw(text, at)
        return _ended(text, at, value)
    found: dict[str, Any] = {}
    at = _skip(text, at + 1)
    if text.startswith("}", at):
        return _ended(text, at + 1, found)
    while True:
        if not text.startswith('"', at):
            raise ValueError(f"Expecting property name enclosed in double quotes: char {at}")
        key, at = raw(text, at)
        at = _skip(text, at)
        if not text.startswith(":", at):
            raise ValueError(f"Expecting ':' delimiter: char {at}")
        at = _skip(text, at + 1)
        if text.startswith("[", at):
            found[key], at = yield from _array_in_pieces(text, at, raw, key, makers)
        else:
            found[key], at = raw(text, at)
            yield
        at = _skip(text, at)
        if text.startswith(",", at):
            at = _skip(text, at + 1)
        elif text.startswith("}", at):
            return _ended(text, at + 1, found)
        else:
            raise ValueError(f"Expecting ',' delimiter: char {at}")


def _array_in_pieces(text: str, at: int, raw: _RawDecode, member: str, makers: _Makers
                     ) -> Generator[None, None, tuple[list[Any], int]]:
    items: list[Any] = []
    at = _skip(text, at + 1)
    if text.startswith("]", at):
        return items, at + 1
    making = member in makers.elements
    while True:
        start = at
        value, at = raw(text, at)
        if making:
            value = makers.make(member, value, text, start, at)
        items.append(value)
        yield
        at = _skip(text, at)
        if text.startswith(",", at):
            at = _skip(text, at + 1)
        elif text.startswith("]", at):
            return items, at + 1
        else:
            raise ValueError(f"Expecting ',' delimiter: char {at}")


def _ended(text: str, at: int, value: Any) -> Any:
    if _skip(text, at) != len(text):
        raise ValueError(f"Extra data: char {at}")
    return value


def expect_object(value: Any, what: str) -> Mapping[str, Any]:
    """``value`` as a JSON object, or a :class:`ProtocolError` naming ``what`` it should be."""
    if not isinstance(value, Mapping):
        raise ProtocolError(f"the engine sent {describe(value)} where {what} was expected")
    return value


def require_object(value: Any, what: str) -> Mapping[str, Any]:
    """An item of a list as a JSON object, or a ProtocolError quoting what came instead."""
    if type(value) is not dict and not isinstance(value, Mapping):  # dict: the fast path
        raise ProtocolError(f"the engine sent {what} that is not an object: {value!r:.80}")
    return value


def str_map(value: Any) -> Mapping[str, str]:
    """Labels, options and the like: a JSON object of strings, or empty for anything else."""
    if type(value) is not dict and not isinstance(value, Mapping):  # dict: the fast path
        return {}
    return {str(k): str(v) for k, v in value.items()}


def expect_list(value: Any, what: str) -> list[Any]:
    """``value`` as a JSON list (``what`` names the list, e.g. "the list of containers")."""
    if not isinstance(value, list):
        raise ProtocolError(f"the engine sent {describe(value)} where {what} was expected")
    return value


def created_id(body: bytes, what: str) -> str:
    """The ``Id`` of a create answer (``{"Id": "…", "Warnings": […]}``), checked."""
    created = expect_object(decode_json(body, what), what)
    ident = created.get("Id")
    if not isinstance(ident, str) or not ident:
        raise ProtocolError(f"the engine did not say which object it created ({what})")
    return ident


def parse_each(value: Any, parse: Callable[[Any], T], what: str) -> list[T]:
    """A JSON list parsed item by item; a wrong list or a wrong item is a ProtocolError."""
    return [parse(item) for item in expect_list(value, what)]


def checked(parse: Callable[[Any], T], what: str) -> Callable[[Any], T]:
    """``parse`` (a model's ``from_api``) made safe against any value a daemon can send.

    The value must be an object; a field of the wrong type (a dict where a number
    belongs, a number too long to convert, a missing ``Id``) becomes a
    :class:`ProtocolError` naming ``what`` instead of the TypeError, ValueError or
    KeyError it would raise deep in the parser.
    """

    def wrapper(raw: Any) -> T:
        expect_object(raw, what)
        try:
            return parse(raw)
        except ProtocolError:
            raise
        except KeyError as exc:
            raise ProtocolError(f"the engine sent {what} without a {exc.args[0]!r} field") \
                from None
        except (TypeError, ValueError, AttributeError, OverflowError, OSError,
                RecursionError) as exc:
            reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise ProtocolError(f"the engine sent {what} with a field of the wrong type"
                                f" ({reason})") from None

    wrapper.__doc__ = parse.__doc__
    return wrapper


def validated(what: str) -> Callable[[Callable[[C, Mapping[str, Any]], T]],
                                   Callable[[C, Any], T]]:
    """Decorate a model's ``from_api`` (under ``@classmethod``) with :func:`checked`.

    ``what`` names one such object in messages ("a container", "the version").
    """

    def decorate(parse: Callable[[C, Mapping[str, Any]], T]) -> Callable[[C, Any], T]:
        @functools.wraps(parse)
        def wrapper(cls: C, raw: Any) -> T:
            return checked(functools.partial(parse, cls), what)(raw)

        return wrapper

    return decorate
