"""Tests for the sans-IO stream decoders in :mod:`engine._decoders`.

The decoders must give the same items however the transport cuts the bytes, so most
tests encode known items, split the bytes at every (or arbitrary) offsets and compare.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine._decoders import (
    TIMESTAMP_PREFIX,
    Frame,
    FrameDecoder,
    JSONStreamDecoder,
    LineSplitter,
    LogBatch,
    LogDecoder,
    StreamKind,
    encode_frame,
)
from engine._errors import ProtocolError
from engine._models import parse_timestamp
from engine._shapes import decode_json_in_pieces, finish, paced

# --------------------------------------------------------------------------- helpers


def split_at(data: bytes, points: Iterable[int]) -> list[bytes]:
    """Cut ``data`` at the given offsets (any order, duplicates allowed)."""
    cuts = [0, *sorted(points), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(cuts)]


def two_way_splits(data: bytes) -> Iterable[list[bytes]]:
    """Every way to cut ``data`` into two chunks, including an empty first/last chunk."""
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]


def one_byte_chunks(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def decode_json(chunks: Iterable[bytes]) -> list[Any]:
    decoder = JSONStreamDecoder()
    out: list[Any] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    decoder.close()
    return out


def decode_frames(chunks: Iterable[bytes]) -> list[Frame]:
    decoder = FrameDecoder()
    out: list[Frame] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    decoder.close()
    return out


def split_lines(chunks: Iterable[bytes]) -> tuple[list[bytes], bytes | None]:
    splitter = LineSplitter()
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(splitter.feed(chunk))
    return out, splitter.flush()


# --------------------------------------------------------------------------- strategies

_text = st.text(st.characters(codec="utf-8"), max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=10,
)
json_objects = st.dictionaries(_text, json_values, max_size=4)
# Objects need no separator at all; "" covers Docker's concatenated-objects case.
object_separators = st.sampled_from(["", "\n", "\r\n", " ", "\t\r\n"])
# Bare top-level values (numbers!) need at least one whitespace character between them.
value_separators = st.sampled_from(["\n", "\r\n", " ", "\t", " \n "])


@st.composite
def encoded_objects(draw: st.DrawFn) -> tuple[list[Any], bytes]:
    values = draw(st.lists(json_objects, max_size=5))
    ensure_ascii = draw(st.booleans())  # True exercises \uXXXX escapes, False raw UTF-8
    parts = [json.dumps(v, ensure_ascii=ensure_ascii) + draw(object_separators) for v in values]
    return values, "".join(parts).encode()


@st.composite
def encoded_values(draw: st.DrawFn) -> tuple[list[Any], bytes]:
    values = draw(st.lists(json_values, max_size=5))
    ensure_ascii = draw(st.booleans())
    parts = [json.dumps(v, ensure_ascii=ensure_ascii) + draw(value_separators) for v in values]
    return values, "".join(parts).encode()


def split_points(draw: st.DataObject, size: int) -> list[int]:
    return draw.draw(st.lists(st.integers(0, size), max_size=12), label="split points")


# --------------------------------------------------------------------------- JSON samples

BUILD_STREAM = (
    b'{"stream":"Step 1/2 : FROM scratch\\n"}\r\n'
    b'{"stream":" ---\\u003e \\n"}\r\n'
    b'{"aux":{"ID":"sha256:abc"}}\r\n'
    b'{"stream":"Successfully built abc\\n"}\r\n'
)
BUILD_VALUES = [
    {"stream": "Step 1/2 : FROM scratch\n"},
    {"stream": " ---> \n"},
    {"aux": {"ID": "sha256:abc"}},
    {"stream": "Successfully built abc\n"},
]

PULL_STREAM = (
    b'{"status":"Pulling from library/alpine","id":"latest"}\n'
    b'{"status":"Downloading","progressDetail":{"current":1048576,"total":3348000},'
    b'"progress":"[===\\u003e   ] 1.049MB/3.348MB","id":"009eae2ed4aa"}\n'
    b'{"status":"Pull complete","progressDetail":{},"id":"009eae2ed4aa"}\n'
    b'{"errorDetail":{"code":1,"message":"boom"},"error":"boom"}\n'
)
PULL_VALUES = [
    {"status": "Pulling from library/alpine", "id": "latest"},
    {
        "status": "Downloading",
        "progressDetail": {"current": 1048576, "total": 3348000},
        "progress": "[===>   ] 1.049MB/3.348MB",
        "id": "009eae2ed4aa",
    },
    {"status": "Pull complete", "progressDetail": {}, "id": "009eae2ed4aa"},
    {"errorDetail": {"code": 1, "message": "boom"}, "error": "boom"},
]

# Raw multi-byte UTF-8 (2-, 3- and 4-byte characters), escapes and a surrogate pair,
# and objects glued together without any separator.
UNICODE_STREAM = (
    '{"stream":"héllo ☃ 🐳"}{"stream":"\\u00e9\\ud83d\\udc33","n":-12.5e-3}'
    '{"t":true,"f":false,"z":null,"a":[1,2.0,-0,1E+2]}\n'
).encode()
UNICODE_VALUES = [
    {"stream": "héllo ☃ 🐳"},
    {"stream": "é🐳", "n": -12.5e-3},
    {"t": True, "f": False, "z": None, "a": [1, 2.0, 0, 100.0]},
]

JSON_SAMPLES = [
    pytest.param(BUILD_STREAM, BUILD_VALUES, id="build"),
    pytest.param(PULL_STREAM, PULL_VALUES, id="pull"),
    pytest.param(UNICODE_STREAM, UNICODE_VALUES, id="unicode"),
]


# --------------------------------------------------------------------------- JSON tests


@pytest.mark.parametrize(("blob", "expected"), JSON_SAMPLES)
def test_json_sample_whole(blob: bytes, expected: list[Any]) -> None:
    assert decode_json([blob]) == expected


@pytest.mark.parametrize(("blob", "expected"), JSON_SAMPLES)
def test_json_sample_split_at_every_offset(blob: bytes, expected: list[Any]) -> None:
    for chunks in two_way_splits(blob):
        assert decode_json(chunks) == expected, chunks


@pytest.mark.parametrize(("blob", "expected"), JSON_SAMPLES)
def test_json_sample_one_byte_at_a_time(blob: bytes, expected: list[Any]) -> None:
    assert decode_json(one_byte_chunks(blob)) == expected


def test_json_values_are_returned_as_soon_as_complete() -> None:
    decoder = JSONStreamDecoder()
    assert decoder.feed(b'{"a": 1}\r\n{"b": ') == [{"a": 1}]
    assert decoder.feed(b'"x') == []
    assert decoder.feed(b'y"}{"c"') == [{"b": "xy"}]
    assert decoder.feed(b":[]}") == [{"c": []}]
    decoder.close()


@pytest.mark.parametrize(
    "chunks",
    [
        [b'{"a": tr', b"ue}"],
        [b'{"a": nu', b"ll}"],
        [b'{"a": -', b"1}"],
        [b'{"a": 1.', b"5}"],
        [b'{"a": 1e', b"2}"],
        [b'{"a": 1e-', b"2}"],
        [b'{"a": "\\u', b'00e9"}'],
        [b'{"a": "\\u00', b'e9"}'],
        [b'{"a": "\\ud83d', b'\\udc33"}'],
        [b'{"a": "\\ud83d\\ud', b'c33"}'],
        [b'{"a": "x\\', b'"y"}'],
        [b'{"a": "\xc3', b'\xa9"}'],
        [b'{"a": "\xf0\x9f', b'\x90\xb3"}'],
    ],
)
def test_json_incomplete_tokens_wait_for_more(chunks: list[bytes]) -> None:
    decoder = JSONStreamDecoder()
    assert decoder.feed(chunks[0]) == []
    [value] = decoder.feed(chunks[1])
    assert value == json.loads(b"".join(chunks))
    decoder.close()


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"12", b"3\n"], [123]),
        ([b"1", b"2", b"3", b" 4\n"], [123, 4]),
        ([b"-", b"1.", b"5e", b"-3 "], [-1.5e-3]),
        ([b"0.5", b"E+1\n"], [5.0]),
        ([b"7", b"\r\n"], [7]),
        ([b'1 "a"', b"[2]"], [1, "a", [2]]),
        ([b"tr", b"ue", b"nul", b"l\n"], [True, None]),
    ],
)
def test_json_top_level_number_waits_until_it_cannot_grow(
    chunks: list[bytes], expected: list[Any]
) -> None:
    assert decode_json(chunks) == expected


def test_json_top_level_number_is_held_back_at_end_of_buffer() -> None:
    decoder = JSONStreamDecoder()
    assert decoder.feed(b"12") == []
    assert decoder.feed(b"3") == []
    assert decoder.feed(b"\n") == [123]


@pytest.mark.parametrize(
    "blob",
    [
        b"not json\n",
        b"garbage{",
        b"}",
        b'{"a": 1 x}',
        b'{"a": tru }',
        b'{"a":1,}',
        b"[1.]",
        b'{"a": "\\x"}',
        b'{"a": "\\u12x4"}',
        b'{"a": "line\nbreak"}',
        b"\x0b{}",
    ],
)
def test_json_garbage_raises(blob: bytes) -> None:
    decoder = JSONStreamDecoder()
    with pytest.raises(ProtocolError):
        decoder.feed(blob)


def test_json_values_before_garbage_are_delivered_then_it_raises() -> None:
    decoder = JSONStreamDecoder()
    assert decoder.feed(b'{"a": 1}\nnot json\n') == [{"a": 1}]
    with pytest.raises(ProtocolError):
        decoder.feed(b"")
    with pytest.raises(ProtocolError):
        decoder.feed(b'{"b": 2}\n')


@pytest.mark.parametrize(
    "blob",
    [
        b'{"a": 1',
        b'{"a": "x',
        b'{"a": "\xc3',  # truncated inside a UTF-8 character
        b'{"a": 1}\n{',
        b"[",
        b"12",  # a bare number is only final once something follows it
    ],
)
def test_json_close_raises_on_truncated_stream(blob: bytes) -> None:
    decoder = JSONStreamDecoder()
    decoder.feed(blob)
    with pytest.raises(ProtocolError):
        decoder.close()


def test_json_close_accepts_trailing_whitespace_and_empty_stream() -> None:
    decoder = JSONStreamDecoder()
    assert decoder.feed(b'{"a": 1}\r\n \t\n') == [{"a": 1}]
    decoder.close()
    JSONStreamDecoder().close()


def test_json_invalid_utf8_is_replaced_not_fatal() -> None:
    assert decode_json([b'{"a": "\xff\xfe"}\n']) == [{"a": "\ufffd\ufffd"}]


def test_json_large_value_in_small_chunks() -> None:
    big = {"stream": "x" * (1 << 20), "aux": {"ID": "é" * 1000}}
    blob = json.dumps(big, ensure_ascii=False).encode() + b"\r\n" + b'{"done": true}'
    chunks = [blob[i : i + 4096] for i in range(0, len(blob), 4096)]
    assert decode_json(chunks) == [big, {"done": True}]


@given(encoded_objects(), st.data())
def test_json_objects_roundtrip_arbitrary_splits(
    sample: tuple[list[Any], bytes], data: st.DataObject
) -> None:
    values, blob = sample
    assert decode_json(split_at(blob, split_points(data, len(blob)))) == values


@settings(max_examples=40)
@given(encoded_objects())
def test_json_objects_roundtrip_every_two_way_split(sample: tuple[list[Any], bytes]) -> None:
    values, blob = sample
    for chunks in two_way_splits(blob):
        assert decode_json(chunks) == values


@given(encoded_values(), st.data())
def test_json_any_values_roundtrip_arbitrary_splits(
    sample: tuple[list[Any], bytes], data: st.DataObject
) -> None:
    values, blob = sample
    assert decode_json(split_at(blob, split_points(data, len(blob)))) == values


@settings(max_examples=40)
@given(encoded_values())
def test_json_any_values_roundtrip_one_byte_at_a_time(sample: tuple[list[Any], bytes]) -> None:
    values, blob = sample
    assert decode_json(one_byte_chunks(blob)) == values


# --------------------------------------------------------------------------- frames

FRAME_ITEMS = [
    (StreamKind.STDOUT, b"hello\n"),
    (StreamKind.STDERR, "héllo ☃\n".encode()),
    (StreamKind.STDOUT, b""),  # zero-length: skipped by the decoder
    (StreamKind.STDOUT, bytes(range(256))),
    (StreamKind.SYSTEMERR, b"error from daemon"),
]
FRAME_STREAM = b"".join(encode_frame(kind, data) for kind, data in FRAME_ITEMS)
FRAME_EXPECTED = [Frame(kind, data) for kind, data in FRAME_ITEMS if data]


def test_encode_frame_exact_bytes() -> None:
    assert encode_frame(StreamKind.STDERR, b"hi") == b"\x02\x00\x00\x00\x00\x00\x00\x02hi"
    assert encode_frame(StreamKind.STDOUT, b"x" * 258) == b"\x01\0\0\0\0\0\x01\x02" + b"x" * 258


def test_frames_whole() -> None:
    frames = decode_frames([FRAME_STREAM])
    assert frames == FRAME_EXPECTED
    assert [type(f.kind) for f in frames] == [StreamKind] * len(frames)


def test_frames_split_at_every_offset() -> None:
    for chunks in two_way_splits(FRAME_STREAM):
        assert decode_frames(chunks) == FRAME_EXPECTED, chunks


def test_frames_one_byte_at_a_time() -> None:
    assert decode_frames(one_byte_chunks(FRAME_STREAM)) == FRAME_EXPECTED


def test_frames_stdin_and_systemerr_are_returned() -> None:
    blob = encode_frame(StreamKind.STDIN, b"in") + encode_frame(StreamKind.SYSTEMERR, b"oops")
    assert decode_frames([blob]) == [
        Frame(StreamKind.STDIN, b"in"),
        Frame(StreamKind.SYSTEMERR, b"oops"),
    ]


def test_frame_1mb_in_4kb_chunks() -> None:
    payload = bytes(i * 7 % 251 for i in range(1 << 20))
    blob = encode_frame(StreamKind.STDOUT, payload) + encode_frame(StreamKind.STDERR, b"tail")
    decoder = FrameDecoder()
    frames: list[Frame] = []
    for i in range(0, len(blob), 4096):
        frames.extend(decoder.feed(blob[i : i + 4096]))
    decoder.close()
    assert len(frames) == 2
    assert frames[0].kind is StreamKind.STDOUT
    assert frames[0].data == payload
    assert frames[1] == Frame(StreamKind.STDERR, b"tail")


@pytest.mark.parametrize(
    "blob",
    [
        b"\x07\x00\x00\x00\x00\x00\x00\x01x",  # unknown stream type
        b"\x04\x00\x00\x00\x00\x00\x00\x00",
        b"\x01\x00\x01\x00\x00\x00\x00\x01x",  # nonzero padding
        b"\x01\x00\x00\xff\x00\x00\x00\x01x",
        b"hello world\r\n",  # a TTY stream mistaken for a multiplexed one
    ],
)
def test_frame_garbage_header_raises(blob: bytes) -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(blob)


def test_frames_before_garbage_are_delivered_then_it_raises() -> None:
    decoder = FrameDecoder()
    blob = encode_frame(StreamKind.STDOUT, b"ok") + b"\x07\x00\x00\x00\x00\x00\x00\x01x"
    assert decoder.feed(blob) == [Frame(StreamKind.STDOUT, b"ok")]
    with pytest.raises(ProtocolError):
        decoder.feed(b"")


@pytest.mark.parametrize(
    "blob",
    [
        b"\x01\x00\x00",  # partial header
        b"\x01\x00\x00\x00\x00\x00\x00\x05abc",  # partial payload
        encode_frame(StreamKind.STDOUT, b"done") + b"\x02",
    ],
)
def test_frame_close_raises_on_truncated_stream(blob: bytes) -> None:
    decoder = FrameDecoder()
    decoder.feed(blob)
    with pytest.raises(ProtocolError):
        decoder.close()


def test_frame_close_accepts_complete_stream() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(StreamKind.STDOUT, b"x")) == [Frame(StreamKind.STDOUT, b"x")]
    decoder.close()
    FrameDecoder().close()


frame_items = st.lists(
    st.tuples(st.sampled_from([StreamKind.STDOUT, StreamKind.STDERR]), st.binary(max_size=64)),
    max_size=8,
)


@given(frame_items, st.data())
def test_frames_roundtrip_arbitrary_splits(
    items: list[tuple[StreamKind, bytes]], data: st.DataObject
) -> None:
    blob = b"".join(encode_frame(kind, payload) for kind, payload in items)
    expected = [Frame(kind, payload) for kind, payload in items if payload]
    assert decode_frames(split_at(blob, split_points(data, len(blob)))) == expected


@settings(max_examples=40)
@given(frame_items)
def test_frames_roundtrip_every_two_way_split(items: list[tuple[StreamKind, bytes]]) -> None:
    blob = b"".join(encode_frame(kind, payload) for kind, payload in items)
    expected = [Frame(kind, payload) for kind, payload in items if payload]
    for chunks in two_way_splits(blob):
        assert decode_frames(chunks) == expected


# --------------------------------------------------------------------------- lines

LINE_STREAM = b"first\r\nsecond\n\n\r\nthird\r\r\n2024-01-01T00:00:00.000000000Z h\xc3\xa9\nlast"
LINE_EXPECTED = [
    b"first",
    b"second",
    b"",
    b"",
    b"third\r",
    "2024-01-01T00:00:00.000000000Z hé".encode(),
]


def test_lines_whole() -> None:
    assert split_lines([LINE_STREAM]) == (LINE_EXPECTED, b"last")


def test_lines_split_at_every_offset() -> None:
    for chunks in two_way_splits(LINE_STREAM):
        assert split_lines(chunks) == (LINE_EXPECTED, b"last"), chunks


def test_lines_one_byte_at_a_time() -> None:
    assert split_lines(one_byte_chunks(LINE_STREAM)) == (LINE_EXPECTED, b"last")


def test_lines_partial_line_is_buffered() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"") == []
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\r") == []
    assert splitter.feed(b"\nde") == [b"abc"]
    assert splitter.feed(b"f\n") == [b"def"]
    assert splitter.flush() is None
    assert splitter.feed(b"g") == []
    assert splitter.flush() == b"g"
    assert splitter.flush() is None


def test_lines_1mb_line_in_4kb_chunks() -> None:
    line = bytes(i * 7 % 251 for i in range(1 << 20)).replace(b"\n", b"n")
    blob = line + b"\r\nnext\n"
    splitter = LineSplitter()
    lines: list[bytes] = []
    for i in range(0, len(blob), 4096):
        lines.extend(splitter.feed(blob[i : i + 4096]))
    assert lines == [line, b"next"]
    assert splitter.flush() is None


line_items = st.lists(
    st.tuples(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), st.booleans()),
    max_size=10,
)


def _encode_lines(
    items: Sequence[tuple[bytes, bool]], tail: bytes
) -> tuple[bytes, list[bytes], bytes | None]:
    """Join lines with LF or CRLF; the splitter strips one CR before each LF."""
    blob = b"".join(line + (b"\r\n" if crlf else b"\n") for line, crlf in items) + tail
    expected = [line if crlf else line.removesuffix(b"\r") for line, crlf in items]
    return blob, expected, tail or None


@given(line_items, st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")), st.data())
def test_lines_roundtrip_arbitrary_splits(
    items: list[tuple[bytes, bool]], tail: bytes, data: st.DataObject
) -> None:
    blob, expected, rest = _encode_lines(items, tail)
    assert split_lines(split_at(blob, split_points(data, len(blob)))) == (expected, rest)


@settings(max_examples=40)
@given(line_items)
def test_lines_roundtrip_every_two_way_split(items: list[tuple[bytes, bool]]) -> None:
    blob, expected, _ = _encode_lines(items, b"")
    for chunks in two_way_splits(blob):
        assert split_lines(chunks) == (expected, None)


# --------------------------------------------------------------------------- log lines in bulk

# (stream, line, stamp): what LogDecoder yields, one tuple per line.
LogItem = tuple[int, bytes, bytes | None]


def _cut(data: bytes) -> tuple[bytes | None, bytes]:
    found = TIMESTAMP_PREFIX.match(data)
    return (None, data) if found is None else (found.group(1), data[found.end() :])


def reference_lines(blob: bytes, *, multiplexed: bool, timestamps: bool) -> list[LogItem]:
    """The per-line algorithm LogDecoder replaces: frames, then a splitter per stream."""
    if multiplexed:
        chunks = [(f.kind, f.data) for f in decode_frames([blob])]
    else:
        chunks = [(StreamKind.STDOUT, blob)]
    splitters = {kind: LineSplitter() for kind in StreamKind}
    first: dict[int, bytes | None] = dict.fromkeys(StreamKind)
    pending: dict[int, bool] = dict.fromkeys(StreamKind, False)
    out: list[LogItem] = []
    for kind, data in chunks:
        splitter = splitters[kind]
        if not timestamps:
            out += [(kind, line, None) for line in splitter.feed(data)]
        elif not multiplexed:
            out += [(kind, *reversed(_cut(line))) for line in splitter.feed(data)]  # type: ignore[misc]
        else:
            stamp, payload = _cut(data)
            if not pending[kind]:
                first[kind] = stamp
            for line in splitter.feed(payload):
                out.append((kind, line, first[kind]))
                first[kind] = stamp
            if payload:
                pending[kind] = not payload.endswith(b"\n")
    for kind, splitter in splitters.items():
        rest = splitter.flush()
        if rest is None:
            continue
        if timestamps and not multiplexed:
            stamp, rest = _cut(rest)
            out.append((kind, rest, stamp))
        else:
            out.append((kind, rest, first[kind]))
    return out


def items(batch: LogBatch) -> list[LogItem]:
    return list(zip(batch.streams, batch.lines, batch.stamps, strict=True))


def decode_log(chunks: Iterable[bytes], *, multiplexed: bool,
               timestamps: bool = False) -> list[LogItem]:
    decoder = LogDecoder(multiplexed=multiplexed, timestamps=timestamps)
    out: list[LogItem] = []
    for chunk in chunks:
        out += items(decoder.feed(chunk))
    return out + items(decoder.close())


STAMP = b"2026-11-28T17:45:51.030521839Z "
PODMAN_STAMP = b"2026-11-28T17:45:53Z "
LOG_FRAMES = [
    (StreamKind.STDOUT, STAMP + b"out 1\n"),
    (StreamKind.STDERR, STAMP + b"err 1\r\n"),
    (StreamKind.STDOUT, STAMP + b"\x1b[31mred\x1b[0m part"),  # a partial message...
    (StreamKind.STDERR, PODMAN_STAMP + b"bad \xff\xfe utf8\n"),
    (StreamKind.STDOUT, PODMAN_STAMP + b"ial\n"),  # ...ended by the next stdout frame
    (StreamKind.STDOUT, STAMP + b"two\nlines\n"),
    (StreamKind.STDOUT, STAMP + b"\r\n"),
    (StreamKind.STDOUT, b"no stamp\n"),
    (StreamKind.STDOUT, STAMP),
    (StreamKind.STDERR, STAMP + b"cut\rnot an ending\n"),
    (StreamKind.STDOUT, STAMP + b"out last"),
]
LOG_BLOB = b"".join(encode_frame(kind, data) for kind, data in LOG_FRAMES)


@pytest.mark.parametrize("timestamps", [False, True])
def test_log_lines_match_the_per_line_reference_at_every_split(timestamps: bool) -> None:
    expected = reference_lines(LOG_BLOB, multiplexed=True, timestamps=timestamps)
    assert decode_log([LOG_BLOB], multiplexed=True, timestamps=timestamps) == expected
    for chunks in two_way_splits(LOG_BLOB):
        assert decode_log(chunks, multiplexed=True, timestamps=timestamps) == expected, chunks
    assert decode_log(one_byte_chunks(LOG_BLOB), multiplexed=True,
                      timestamps=timestamps) == expected


def test_log_lines_with_timestamps_are_what_a_user_expects() -> None:
    assert decode_log([LOG_BLOB], multiplexed=True, timestamps=True) == [
        (1, b"out 1", STAMP[:-1]),
        (2, b"err 1", STAMP[:-1]),
        (2, b"bad \xff\xfe utf8", PODMAN_STAMP[:-1]),
        (1, b"\x1b[31mred\x1b[0m partial", STAMP[:-1]),  # the stamp of its first part
        (1, b"two", STAMP[:-1]),
        (1, b"lines", STAMP[:-1]),
        (1, b"", STAMP[:-1]),
        (1, b"no stamp", None),
        (2, b"cut\rnot an ending", STAMP[:-1]),
        (1, b"out last", STAMP[:-1]),
    ]


TTY_BLOB = (STAMP + b"out 1\r\n" + STAMP + b"\x1b[1mbold\r\n" + b"x" * 5000 + b"\r\r\n"
            + PODMAN_STAMP + b"a\nb\r\n" + STAMP + b"last")


@pytest.mark.parametrize("timestamps", [False, True])
def test_tty_log_lines_match_the_per_line_reference_at_every_split(timestamps: bool) -> None:
    expected = reference_lines(TTY_BLOB, multiplexed=False, timestamps=timestamps)
    assert expected[-1] == ((1, b"last", STAMP[:-1]) if timestamps else (1, STAMP + b"last", None))
    for chunks in two_way_splits(TTY_BLOB):
        assert decode_log(chunks, multiplexed=False, timestamps=timestamps) == expected


def test_log_1mb_line_in_partial_frames_and_4kb_reads() -> None:
    line = bytes(i * 7 % 251 for i in range(1 << 20)).replace(b"\n", b"n")
    parts = [line[i : i + 16384] for i in range(0, len(line), 16384)]
    frames = [encode_frame(StreamKind.STDOUT, STAMP + part) for part in parts]
    frames.append(encode_frame(StreamKind.STDOUT, STAMP + b"\n"))
    frames.append(encode_frame(StreamKind.STDERR, PODMAN_STAMP + b"next\n"))
    blob = b"".join(frames)
    reads = [blob[i : i + 4096] for i in range(0, len(blob), 4096)]
    assert decode_log(reads, multiplexed=True, timestamps=True) == [
        (1, line, STAMP[:-1]), (2, b"next", PODMAN_STAMP[:-1])]
    one_frame = encode_frame(StreamKind.STDERR, line + b"\r\n")
    reads = [one_frame[i : i + 4096] for i in range(0, len(one_frame), 4096)]
    assert decode_log(reads, multiplexed=True) == [(2, line, None)]


def test_log_system_error_frame_stops_decoding() -> None:
    decoder = LogDecoder(multiplexed=True)
    blob = (encode_frame(StreamKind.STDOUT, b"before\n")
            + encode_frame(StreamKind.SYSTEMERR, b" boom \n")
            + encode_frame(StreamKind.STDOUT, b"after\n"))
    assert items(decoder.feed(blob)) == [(1, b"before", None)]
    assert decoder.system_error == "boom"
    assert items(decoder.feed(encode_frame(StreamKind.STDOUT, b"more\n"))) == []


def test_log_lines_before_a_garbage_header_are_delivered_then_it_raises() -> None:
    decoder = LogDecoder(multiplexed=True)
    blob = encode_frame(StreamKind.STDOUT, b"ok\n") + b"hello world\r\n"
    assert items(decoder.feed(blob)) == [(1, b"ok", None)]
    with pytest.raises(ProtocolError, match="TTY"):
        decoder.feed(b"")
    with pytest.raises(ProtocolError):
        LogDecoder(multiplexed=True).feed(b"hello world\r\n")


def test_log_close_raises_inside_a_frame_and_flush_does_not() -> None:
    decoder = LogDecoder(multiplexed=True)
    blob = encode_frame(StreamKind.STDERR, b"whole\nhalf")
    assert items(decoder.feed(blob + encode_frame(StreamKind.STDOUT, b"cut short")[:12])) == [
        (2, b"whole", None)]
    with pytest.raises(ProtocolError, match="inside a frame"):
        decoder.close()
    decoder = LogDecoder(multiplexed=True)
    decoder.feed(blob + b"\x01\x00")
    assert items(decoder.flush()) == [(2, b"half", None)]


log_frames = st.lists(
    st.tuples(
        st.sampled_from([StreamKind.STDOUT, StreamKind.STDERR]),
        st.sampled_from([b"", STAMP, PODMAN_STAMP]),
        st.lists(st.sampled_from([b"a", b"\xff", b"\x1b[0m", b"\n", b"\r", b"\r\n", b" "]),
                 max_size=8).map(b"".join),
    ),
    max_size=12,
)


@given(log_frames, st.booleans(), st.data())
def test_log_lines_roundtrip_arbitrary_splits(
    frames: list[tuple[StreamKind, bytes, bytes]], timestamps: bool, data: st.DataObject
) -> None:
    blob = b"".join(encode_frame(kind, stamp + body) for kind, stamp, body in frames)
    expected = reference_lines(blob, multiplexed=True, timestamps=timestamps)
    chunks = split_at(blob, split_points(data, len(blob)))
    assert decode_log(chunks, multiplexed=True, timestamps=timestamps) == expected
    raw = b"".join(stamp + body for _, stamp, body in frames)
    expected = reference_lines(raw, multiplexed=False, timestamps=timestamps)
    chunks = split_at(raw, split_points(data, len(raw)))
    assert decode_log(chunks, multiplexed=False, timestamps=timestamps) == expected


def _fake_frames() -> bytes:
    # Payloads that look like a run of one-line frames to a pattern but are not: the
    # size fields decide (a message holding a frame-like line, a multi-line message).
    inner = encode_frame(StreamKind.STDERR, STAMP + b"not a frame\n")
    return b"".join([
        encode_frame(StreamKind.STDOUT, STAMP + b"one\n"),
        encode_frame(StreamKind.STDOUT, STAMP + b"two\n"),
        encode_frame(StreamKind.STDOUT, STAMP + b"x\n" + inner),
        encode_frame(StreamKind.STDERR, STAMP + b"a\nb\n"),
        encode_frame(StreamKind.STDOUT, STAMP + b"crlf\r\n"),
        encode_frame(StreamKind.STDOUT, STAMP + b"three\n"),
    ])


@pytest.mark.parametrize("timestamps", [False, True])
def test_log_frames_that_only_look_like_whole_lines(timestamps: bool) -> None:
    blob = _fake_frames()
    expected = reference_lines(blob, multiplexed=True, timestamps=timestamps)
    assert ((1, b"x", STAMP[:-1]) if timestamps else (1, STAMP + b"x", None)) in expected
    for chunks in two_way_splits(blob):
        assert decode_log(chunks, multiplexed=True, timestamps=timestamps) == expected


# -- a whole answer decoded in steps (engine._shapes.decode_json_in_pieces) --------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30)


@given(value=JSON_VALUES, indent=st.sampled_from([None, 0, 2]),
       separators=st.sampled_from([(",", ":"), (", ", ": "), (" ,\t", " :\n")]))
@settings(max_examples=300, deadline=None)
def test_decoding_in_steps_gives_what_json_loads_gives(
        value: Any, indent: int | None, separators: tuple[str, str]) -> None:
    blob = (" \n" + json.dumps(value, indent=indent, separators=separators) + "\r\n").encode()
    assert finish(decode_json_in_pieces(blob, "a test")) == json.loads(blob)


@given(value=JSON_VALUES, cut=st.integers(min_value=0))
@settings(max_examples=300, deadline=None)
def test_a_broken_answer_decoded_in_steps_fails_as_a_whole_one_does(value: Any, cut: int) -> None:
    """Cut short, or with a byte in the way: ProtocolError whenever json.loads refuses."""
    blob = json.dumps({"Images": [value, value], "n": value}).encode()
    check_broken(blob, cut)
    check_broken(json.dumps([value, {"Path": value}, value]).encode(), cut)  # as /changes


def check_broken(blob: bytes, cut: int) -> None:
    for broken in (blob[:cut % len(blob)], blob[:cut % len(blob)] + b"}" + blob[cut % len(blob):]):
        try:
            expected = json.loads(broken)
        except ValueError:
            with pytest.raises(ProtocolError, match="is not valid JSON"):
                finish(decode_json_in_pieces(broken, "a test"))
        else:
            assert finish(decode_json_in_pieces(broken, "a test")) == expected


@pytest.mark.anyio
async def test_paced_decoding_hands_the_loop_back() -> None:
    """A long decode lets other callbacks run while it goes on (the window's timers)."""
    blob = json.dumps({"Images": [{"Id": str(i), "Size": i} for i in range(20000)]}).encode()
    ticks = 0
    running = True

    async def ticker() -> None:
        nonlocal ticks
        while running:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    value = await paced(decode_json_in_pieces(blob, "a test"), budget=0.001)
    running = False
    await task
    assert value == json.loads(blob)
    assert ticks > 3

    # A top-level array (/changes) in steps too.
    blob = json.dumps([{"Path": f"/p{i}", "Kind": 1} for i in range(20000)]).encode()
    ticks, running = 0, True
    task = asyncio.ensure_future(ticker())
    value = await paced(decode_json_in_pieces(blob, "a test"), budget=0.001)
    running = False
    await task
    assert value == json.loads(blob)
    assert ticks > 3

def test_elements_are_made_as_decoded_and_only_changed_ones_made_again() -> None:
    """A df read again: unchanged images are the very objects of the last read; the one
    that changed is made anew; the memo keeps only what the latest read had."""
    def df(sizes: list[int]) -> bytes:
        return json.dumps({"LayersSize": 1, "Images": [
            {"Id": f"sha256:{n}", "Size": size, "RepoTags": [f"app:{n}"]}
            for n, size in enumerate(sizes)], "Volumes": None}).encode()

    elements = {"Images": engine.ImageUsage.from_api}
    memo: dict[tuple[str, str], Any] = {}
    first = finish(decode_json_in_pieces(df([10, 20, 30]), "df", elements=elements, memo=memo))
    assert [i.size for i in first["Images"]] == [10, 20, 30]
    assert first["Volumes"] is None and first["LayersSize"] == 1
    second = finish(decode_json_in_pieces(df([10, 25]), "df", elements=elements, memo=memo))
    assert second["Images"][0] is first["Images"][0]
    assert second["Images"][1] is not first["Images"][1]
    assert second["Images"][1].size == 25
    assert len(memo) == 2
    fresh = finish(decode_json_in_pieces(df([10, 25]), "df", elements=elements))
    assert fresh["Images"] == second["Images"]


def test_a_bad_element_is_refused_as_the_list_decoder_refuses_it() -> None:
    blob = json.dumps({"Images": [{"Size": 1}]}).encode()
    with pytest.raises(ProtocolError, match="without an ID"):
        finish(decode_json_in_pieces(blob, "df", elements={"Images": engine.ImageUsage.from_api},
                                     memo={}))


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-30T10:11:12.123456789Z", datetime(2026, 11, 30, 10, 11, 12, 123456, UTC)),
    ("2026-11-30T10:11:12Z", datetime(2026, 11, 30, 10, 11, 12, tzinfo=UTC)),
    ("2026-11-30T10:11:12", datetime(2026, 11, 30, 10, 11, 12, tzinfo=UTC)),
    ("2026-11-30T10:11:12.5+02:00",
     datetime(2026, 11, 30, 10, 11, 12, 500000, timezone(timedelta(hours=2)))),
    ("0001-01-01T00:00:00Z", None), ("0001-01-01T00:00:00.000000000Z", None),
    ("2026-11-30", None), ("yesterday", None), ("", None), (None, None),
    (1796423998, datetime.fromtimestamp(1796423998, UTC)), (0, None),
])
def test_timestamps_as_daemons_write_them(text: Any, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected
