"""Incremental decoders for the engine's streaming responses.

The daemon streams three shapes of body (see engine-api-notes.md, section 3):

* JSON progress and event streams: values separated by ``\\n``, ``\\r\\n`` or nothing.
* Multiplexed stdout/stderr frames (logs, attach, exec when Tty is false).
* Plain text, split into log lines.

:class:`LogDecoder` does the last two at once for a whole logs body and in bulk: one
call per read turns every frame and line in it into a :class:`LogBatch`, so the
per-line cost is a few bytes operations done in C, not a Python object per line.

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
import operator
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
    "LogBatch",
    "LogDecoder",
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
            except RecursionError:  # arrays nested past the interpreter's limit
                raise ProtocolError("a value in the stream is nested too deeply to read") \
                    from None
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


#: The ``timestamps=1`` prefix: RFC 3339 (Docker: nanoseconds, Podman: whole seconds)
#: and the space the daemon puts after it.
_STAMP = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)"
TIMESTAMP_PREFIX = re.compile(rb"(" + _STAMP + rb") ")
_LF = b"\n"
_CRLF = b"\r\n"
_CR = 13


@dataclass(frozen=True, slots=True)
class LogBatch:
    """Lines decoded from one read of a logs stream, in the order the daemon sent them.

    Parallel sequences rather than an object per line: a busy container writes tens of
    thousands of lines a second, and a Python object per line cost more than reading
    the log itself (issue #4).  ``streams[i]`` is the :class:`StreamKind` value of
    ``lines[i]``; ``stamps[i]`` the RFC 3339 text of its ``timestamps=1`` prefix, left
    unparsed (a view parses only the rows it shows), or ``None``.
    """

    streams: bytes
    lines: list[bytes]
    stamps: list[bytes | None]

    def __len__(self) -> int:
        return len(self.lines)


def _split_lines(blob: bytes) -> list[bytes]:
    """``blob`` ends in ``\\n``: its lines without LF or CRLF (one CR before each LF)."""
    if b"\r" in blob:
        # Every CRLF in the blob ends a line, so dropping its CR first is exact.
        blob = blob.replace(_CRLF, _LF)
    lines = blob.split(_LF)
    lines.pop()  # the empty piece after the last LF
    return lines


class LogDecoder:
    """Split a whole logs body into lines per stream, a read at a time.

    ``multiplexed`` is the container's ``not Config.Tty``; a TTY body is one raw stream,
    reported as STDOUT.  Lines end in ``\\n`` or ``\\r\\n`` (the ending is dropped, the
    rest is byte-exact); each stream has its own unfinished line, so interleaved
    frames never mix.  With ``timestamps`` the daemon's prefix is cut off and kept:
    in a multiplexed stream each frame is one message with its own prefix, so a long
    line stored as partial messages keeps the prefix of its first part and the later
    prefixes are dropped; a TTY stream has no frames, so only the prefix at the start
    of each line is taken.  A system-error frame stops decoding and is left in
    :attr:`system_error` for the caller to raise.
    """

    def __init__(self, *, multiplexed: bool, timestamps: bool = False) -> None:
        self._multiplexed = multiplexed
        self._timestamps = timestamps
        # The start of a frame that has not fully arrived, in pieces, and how many bytes
        # it needs before it is worth looking at again (a 1 MiB frame read 64 KiB at a
        # time is joined once, not once per read).
        self._rest: list[bytes] = []
        self._rest_size = 0
        self._need = 0
        # Per stream kind: the pieces of its unfinished line, and that line's prefix.
        self._pieces: list[list[bytes]] = [[] for _ in StreamKind]
        self._stamp: list[bytes | None] = [None for _ in StreamKind]
        self._error: ProtocolError | None = None
        self.system_error: str | None = None

    def feed(self, data: bytes) -> LogBatch:
        """Add ``data`` and return every line it completes, in order."""
        if self._error is not None:
            raise self._error
        streams = bytearray()
        lines: list[bytes] = []
        stamps: list[bytes | None] = []
        if self.system_error is not None:
            pass  # the daemon gave up; what follows is not log output
        elif self._multiplexed:
            self._feed_frames(data, streams, lines, stamps)
        else:
            self._feed_raw(data, streams, lines, stamps)
        return LogBatch(bytes(streams), lines, stamps)

    def close(self) -> LogBatch:
        """Mark the end: return the unterminated last line of each stream.

        Raises :class:`ProtocolError` if the body stopped inside a frame.
        """
        if self._error is not None:
            raise self._error
        if self._rest_size:
            left = self._rest_size
            self._rest.clear()
            self._rest_size = 0
            raise ProtocolError(f"multiplexed stream ended inside a frame ({left} bytes left)")
        return self.flush()

    def flush(self) -> LogBatch:
        """Return the unterminated last line of each stream (as is) and forget it."""
        streams = bytearray()
        lines: list[bytes] = []
        stamps: list[bytes | None] = []
        for kind, pieces in enumerate(self._pieces):
            if not pieces:
                continue
            line = b"".join(pieces)
            pieces.clear()
            stamp = self._stamp[kind]
            if not self._multiplexed and self._timestamps:
                stamp, line = _cut_stamp(line)
            streams.append(kind)
            lines.append(line)
            stamps.append(stamp)
        return LogBatch(bytes(streams), lines, stamps)

    def _feed_raw(self, data: bytes, streams: bytearray, lines: list[bytes],
                  stamps: list[bytes | None]) -> None:
        pieces = self._pieces[StreamKind.STDOUT]
        last = data.rfind(_LF)
        if last < 0:
            if data:
                pieces.append(data)
            return
        if pieces:
            pieces.append(data[: last + 1])
            blob = b"".join(pieces)
            pieces.clear()
        else:
            blob = data[: last + 1]
        if last + 1 < len(data):
            pieces.append(data[last + 1 :])
        found = _split_lines(blob)
        streams += bytes((StreamKind.STDOUT,)) * len(found)
        if not self._timestamps:
            lines += found
            stamps += [None] * len(found)
            return
        match = TIMESTAMP_PREFIX.match
        for line in found:
            m = match(line)
            if m is None:
                lines.append(line)
                stamps.append(None)
            else:
                lines.append(line[m.end() :])
                stamps.append(m.group(1))

    def _feed_frames(self, data: bytes, streams: bytearray, lines: list[bytes],
                     stamps: list[bytes | None]) -> None:
        if self._rest:
            self._rest.append(data)
            self._rest_size += len(data)
            if self._rest_size < self._need:
                return
            data = b"".join(self._rest)
            self._rest.clear()
            self._rest_size = 0
        size_of_data = len(data)
        unpack = _HEADER.unpack_from
        find = data.find
        match = TIMESTAMP_PREFIX.match if self._timestamps else None
        all_pieces = self._pieces
        pos = 0
        if not all_pieces[StreamKind.STDOUT] and not all_pieces[StreamKind.STDERR]:
            pos = self._whole_line_frames(data, streams, lines, stamps)
        while size_of_data - pos >= _HEADER.size:
            kind, pad, size = unpack(data, pos)
            if kind > StreamKind.SYSTEMERR or pad != _HEADER_PAD:
                error = ProtocolError(
                    f"invalid multiplexed stream header {data[pos : pos + _HEADER.size]!r} "
                    "(is the stream from a TTY and so not multiplexed?)"
                )
                if not lines:
                    raise error
                self._error = error  # hand over what we have; the next call raises
                pos = size_of_data
                break
            start = pos + _HEADER.size
            end = start + size
            if end > size_of_data:
                break
            pos = end
            if not size:
                continue
            if kind == StreamKind.SYSTEMERR:
                text = data[start:end].decode("utf-8", "replace").strip()
                self.system_error = text or "the engine reported an error"
                pos = size_of_data
                break
            stamp = None
            if match is not None and (found := match(data, start, end)) is not None:
                stamp = found.group(1)
                start = found.end()
            newline = find(_LF, start, end)
            if newline == end - 1 and not all_pieces[kind]:
                # The common case: one frame, one whole line.
                streams.append(kind)
                if newline > start and data[newline - 1] == _CR:
                    lines.append(data[start : newline - 1])
                else:
                    lines.append(data[start:newline])
                stamps.append(stamp)
                continue
            pieces = all_pieces[kind]
            if newline < 0:
                if start < end:
                    if not pieces:
                        self._stamp[kind] = stamp
                    pieces.append(data[start:end])
                continue
            last = data.rfind(_LF, start, end)
            first_stamp = self._stamp[kind] if pieces else stamp
            if pieces:
                pieces.append(data[start : last + 1])
                blob = b"".join(pieces)
                pieces.clear()
            else:
                blob = data[start : last + 1]
            found_lines = _split_lines(blob)
            streams += bytes((kind,)) * len(found_lines)
            lines += found_lines
            stamps.append(first_stamp)
            stamps += [stamp] * (len(found_lines) - 1)
            if last + 1 < end:
                pieces.append(data[last + 1 : end])
                self._stamp[kind] = stamp
        if pos < size_of_data:
            rest = data[pos:]
            self._rest.append(rest)
            self._rest_size = len(rest)
            self._need = (_HEADER.size if len(rest) < _HEADER.size
                          else _HEADER.size + unpack(rest, 0)[2])


    def _whole_line_frames(self, data: bytes, streams: bytearray, lines: list[bytes],
                           stamps: list[bytes | None]) -> int:
        """Take the run of one-line frames at the start of ``data`` in a few C loops.

        The usual stream (a frame per message, a message per line) is matched by one
        regular expression; each frame's size field is then checked against what was
        matched, so the run is exactly what walking the headers would find.  Returns
        where the run ends: the frame-by-frame loop takes it from there.
        """
        run_pattern, frame_pattern = (_STAMPED_RUN, _STAMPED_FRAME) if self._timestamps else (
            _PLAIN_RUN, _PLAIN_FRAME)
        run = run_pattern.match(data)
        if run is None:
            return 0
        found = frame_pattern.findall(data, 0, run.end())
        if self._timestamps:
            kinds, sizes, stamped, texts = zip(*found, strict=True)
            matched = list(map(operator.add, map(len, stamped), map(len, texts)))
            overhead = 2  # the space after the stamp, the newline
        else:
            kinds, sizes, texts = zip(*found, strict=True)
            stamped = (None,) * len(texts)
            matched = list(map(len, texts))
            overhead = 1
        declared = struct.unpack(f">{len(sizes)}I", b"".join(sizes))
        good = len(declared)
        if list(map(operator.sub, declared, matched)) != [overhead] * good:
            good = next(i for i, (d, m) in enumerate(zip(declared, matched, strict=True))
                        if d - m != overhead)
            if not good:
                return 0
            kinds, stamped, texts = kinds[:good], stamped[:good], texts[:good]
        end = _HEADER.size * good + int(sum(declared[:good]))
        streams += b"".join(kinds)
        if data.find(b"\r\n", 0, end) >= 0:
            lines += [text[:-1] if text.endswith(b"\r") else text for text in texts]
        else:
            lines += texts
        stamps += stamped
        return end


# One-line frames of stdout or stderr: header, (prefix,) text, newline.  The size
# field is matched as any four bytes and checked afterwards.
_FRAME_HEAD = rb"[\x01\x02]\x00\x00\x00...."
_STAMPED_RUN = re.compile(rb"(?:" + _FRAME_HEAD + _STAMP + rb" [^\n]*\n)+", re.DOTALL)
_STAMPED_FRAME = re.compile(
    rb"([\x01\x02])\x00\x00\x00(....)(" + _STAMP + rb") ([^\n]*)\n", re.DOTALL)
_PLAIN_RUN = re.compile(rb"(?:" + _FRAME_HEAD + rb"[^\n]*\n)+", re.DOTALL)
_PLAIN_FRAME = re.compile(rb"([\x01\x02])\x00\x00\x00(....)([^\n]*)\n", re.DOTALL)


def _cut_stamp(line: bytes) -> tuple[bytes | None, bytes]:
    m = TIMESTAMP_PREFIX.match(line)
    return (None, line) if m is None else (m.group(1), line[m.end() :])
