"""Incremental decoders for the engine's streaming responses.

The daemon streams three shapes of body (see engine-api-notes.md, section 3):

* JSON progress and event streams: values separated by ``\\n``, ``\\r\\n`` or nothing.
* Multiplexed stdout/stderr frames (logs, attach, exec when Tty is false).
* Plain text, split into log lines.

Chunk boundaries are not message boundaries, so each decoder keeps the unfinished tail
of what it was fed and hands back only complete items.  They are sans-IO on purpose:
no sockets, no asyncio, no httpx, so the transport can change and the tests can split
the input at every byte.  Input the daemon could never have sent raises
:class:`~engine._errors.ProtocolError`; items decoded before the bad bytes are still
returned, and the error surfaces on the next ``feed``/``close`` call.
"""

from __future__ import annotations

import codecs
import enum
import json
import re
import struct
from dataclasses import dataclass
from typing import Any

from engine._errors import ProtocolError

__all__ = [
    "Frame",
    "FrameDecoder",
    "JSONStreamDecoder",
    "LineSplitter",
    "StreamKind",
    "encode_frame",
]

# JSON allows exactly these four whitespace characters between values.
_JSON_WS = " \t\n\r"
_WS_RUN = re.compile(r"[ \t\n\r]*")
# Every bare word json.loads accepts, so a word cut by a chunk boundary can be recognised.
_LITERALS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")
# What a number can still grow by after json has read "1": "1." "1e" "1e-" "1.5e+".
_NUMBER_TAIL = re.compile(r"\.|[eE][-+]?")
# The rest of a \uXXXX escape that is cut short (json reports it at the "u").
_PARTIAL_UNICODE_ESCAPE = re.compile(r"u[0-9a-fA-F]{0,4}")
_DIGITS = "0123456789"
# For a buffered value that starts with one of these, a new chunk cannot finish it
# unless it contains the matching closer, so we skip re-parsing until one arrives.
_CLOSER = {"{": "}", "[": "]", '"': '"'}
_SNIPPET = 40


def _skip_ws(buf: str, pos: int) -> int:
    """Index of the first non-whitespace character at or after ``pos``."""
    match = _WS_RUN.match(buf, pos)
    assert match is not None  # a run of zero characters always matches
    return match.end()


def _is_incomplete(buf: str, err: json.JSONDecodeError) -> bool:
    """Whether ``err`` means "more bytes needed" rather than "this can never parse".

    ``raw_decode`` raises the same exception for both, so look at where it stopped: at
    the end of the buffer, or on a token that the next chunk may still complete.
    """
    pos = err.pos
    if pos >= len(buf) or err.msg.startswith("Unterminated string"):
        return True
    rest = buf[pos:]
    if err.msg == "Expecting value":
        # A word cut short: "tr", "nul", "-" (of "-1" or "-Infinity").
        return any(word.startswith(rest) for word in _LITERALS)
    if err.msg.startswith("Invalid \\uXXXX escape"):
        return _PARTIAL_UNICODE_ESCAPE.fullmatch(rest) is not None
    if err.msg == "Expecting ',' delimiter":
        # A number inside a container cut after "1." or "1e-".
        return buf[pos - 1] in _DIGITS and _NUMBER_TAIL.fullmatch(rest) is not None
    return False


def _number_may_grow(buf: str, end: int) -> bool:
    """Whether a top-level value that ends at ``end`` could be a cut-off number.

    ``raw_decode("12")`` happily returns 12 although the next chunk may be ``"3\\n"``;
    a top-level number is only final once something that cannot extend it follows.
    """
    if buf[end - 1] not in _DIGITS:  # strings, containers and words end in " } ] or a letter
        return False
    return end == len(buf) or _NUMBER_TAIL.fullmatch(buf, end) is not None


class JSONStreamDecoder:
    """Decode a byte stream of JSON values into Python objects as they complete.

    Used for pull/push/build progress, events and stats.  Values may be separated by
    whitespace or simply concatenated, and chunks may split them anywhere, even inside
    a multi-byte UTF-8 character.  A top-level bare number is delivered only once a
    character that cannot continue it follows (Docker only ever sends objects).
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._json = json.JSONDecoder()
        self._buf = ""  # starts at a value (or is empty): leading whitespace is dropped
        self._pending: list[str] = []  # text held back while _closer has not been seen
        self._closer: str | None = None

    def feed(self, data: bytes) -> list[Any]:
        """Add ``data`` and return every JSON value completed by it, in order."""
        text = self._utf8.decode(data)
        if self._closer is not None and self._closer not in text:
            # The buffered value cannot have been finished by this chunk; re-parsing a
            # large value on every chunk would be quadratic.
            self._pending.append(text)
            return []
        if self._pending:
            self._pending.append(text)
            text = "".join(self._pending)
            self._pending.clear()
        buf = self._buf + text
        self._closer = None
        values: list[Any] = []
        idx = _skip_ws(buf, 0)
        while idx < len(buf):
            try:
                value, end = self._json.raw_decode(buf, idx)
            except json.JSONDecodeError as err:
                if _is_incomplete(buf, err):
                    self._closer = _CLOSER.get(buf[idx])
                    break
                if values:
                    break  # hand over what we have; the next call raises
                raise ProtocolError(
                    f"invalid JSON in stream at {buf[idx : idx + _SNIPPET]!r}: {err.msg}"
                ) from err
            if _number_may_grow(buf, end):
                break
            values.append(value)
            idx = _skip_ws(buf, end)
        self._buf = buf[idx:]
        return values

    def close(self) -> None:
        """Mark the end of the stream; raise if it stopped in the middle of a value."""
        rest = self._buf + "".join(self._pending) + self._utf8.decode(b"", final=True)
        self._buf = ""
        self._pending.clear()
        self._closer = None
        rest = rest.strip(_JSON_WS)
        if rest:
            raise ProtocolError(f"JSON stream ended inside a value: {rest[:_SNIPPET]!r}")


class StreamKind(enum.IntEnum):
    """Which stream a multiplexed frame belongs to: the first byte of its header."""

    STDIN = 0
    STDOUT = 1
    STDERR = 2
    SYSTEMERR = 3  # an error from the daemon itself; the caller should raise it


@dataclass(frozen=True, slots=True)
class Frame:
    """One payload of a multiplexed stream.  Frames are not lines."""

    kind: StreamKind
    data: bytes


# [stream type, 0, 0, 0, payload size as big-endian uint32]
_HEADER = struct.Struct(">B3sI")
_HEADER_PAD = b"\x00\x00\x00"


def encode_frame(kind: StreamKind, data: bytes) -> bytes:
    """Build one multiplexed frame the way the daemon does (for tests and fakes)."""
    return _HEADER.pack(kind, _HEADER_PAD, len(data)) + data


class FrameDecoder:
    """Split a multiplexed stdout/stderr stream into :class:`Frame` objects.

    Only valid when the container (or the exec start body) has Tty false; with a TTY
    the stream is raw bytes.  A header with an unknown type or nonzero padding usually
    means the stream was not multiplexed at all, and raises ``ProtocolError``.
    """

    def __init__(self) -> None:
        # One growing bytearray plus a single front trim per feed() keeps a large frame
        # that arrives in small chunks linear, not quadratic.
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data`` and return every frame completed by it; empty frames are dropped."""
        buf = self._buf
        buf += data
        frames: list[Frame] = []
        pos = 0
        size_of_buf = len(buf)
        while size_of_buf - pos >= _HEADER.size:
            kind, pad, size = _HEADER.unpack_from(buf, pos)
            if kind > StreamKind.SYSTEMERR or pad != _HEADER_PAD:
                if frames:
                    break  # hand over what we have; the next call raises
                header = bytes(buf[pos : pos + _HEADER.size])
                raise ProtocolError(
                    f"invalid multiplexed stream header {header!r} "
                    "(is the stream from a TTY and so not multiplexed?)"
                )
            end = pos + _HEADER.size + size
            if end > size_of_buf:
                break
            if size:
                frames.append(Frame(StreamKind(kind), bytes(buf[pos + _HEADER.size : end])))
            pos = end
        if pos:
            del buf[:pos]  # CPython trims a bytearray's front without moving the rest
        return frames

    def close(self) -> None:
        """Mark the end of the stream; raise if it stopped inside a frame."""
        left = len(self._buf)
        self._buf.clear()
        if left:
            raise ProtocolError(f"multiplexed stream ended inside a frame ({left} bytes left)")


class LineSplitter:
    """Split a byte stream into lines ending in ``\\n`` (or ``\\r\\n``), for log output."""

    def __init__(self) -> None:
        # Chunks of the unfinished last line; none contains b"\n".  Joined once, when the
        # line ends, so a very long line costs linear time.
        self._partial: list[bytes] = []

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return the lines it completes, without their line ending."""
        last = data.rfind(b"\n")
        if last < 0:
            if data:
                self._partial.append(data)
            return []
        self._partial.append(data[:last])
        lines = b"".join(self._partial).split(b"\n")
        self._partial.clear()
        if last + 1 < len(data):
            self._partial.append(data[last + 1 :])
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]

    def flush(self) -> bytes | None:
        """Return the unterminated last line, if any, and forget it."""
        if not self._partial:
            return None
        rest = b"".join(self._partial)
        self._partial.clear()
        return rest
