"""Just enough of moby/buildkit's StatusResponse protobuf to read ``moby.buildkit.trace``.

A tiny varint reader, no protobuf dependency.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine._errors import ProtocolError

if TYPE_CHECKING:
    pass
from engine._build.events import BuildOutput, BuildVertex, BuildVertexProgress


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtocolError("truncated varint in a BuildKit status message")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtocolError("overlong varint in a BuildKit status message")


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints/fixed, bytes for length-delimited."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ProtocolError("truncated field in a BuildKit status message")
            value, pos = data[pos:pos + size], pos + size
        elif wire == 1:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise ProtocolError(f"unsupported protobuf wire type {wire} in a BuildKit message")
        out.append((number, value))
    return out


def _timestamp(data: bytes) -> datetime:
    seconds = nanos = 0
    for number, value in _fields(data):
        if number == 1 and isinstance(value, int):
            seconds = value
        elif number == 2 and isinstance(value, int):
            nanos = value
    return datetime.fromtimestamp(seconds + nanos / 1e9, tz=UTC)


def _text(value: int | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def decode_buildkit_status(payload: bytes) -> list[BuildVertex | BuildVertexProgress | BuildOutput]:
    """One ``StatusResponse``: vertexes (1), statuses (2), logs (3), in that order."""
    events: list[BuildVertex | BuildVertexProgress | BuildOutput] = []
    for number, value in _fields(payload):
        if not isinstance(value, bytes):
            continue
        if number == 1:
            vertex: dict[str, Any] = {"digest": "", "name": ""}
            for fno, fval in _fields(value):
                if fno == 1:
                    vertex["digest"] = _text(fval)
                elif fno == 3:
                    vertex["name"] = _text(fval)
                elif fno == 4:
                    vertex["cached"] = bool(fval)
                elif fno == 5 and isinstance(fval, bytes):
                    vertex["started"] = _timestamp(fval)
                elif fno == 6 and isinstance(fval, bytes):
                    vertex["completed"] = _timestamp(fval)
                elif fno == 7:
                    vertex["error"] = _text(fval)
            events.append(BuildVertex(**vertex))
        elif number == 2:
            status: dict[str, Any] = {"vertex": "", "id": "", "name": "", "current": 0, "total": 0}
            for fno, fval in _fields(value):
                if fno == 1:
                    status["id"] = _text(fval)
                elif fno == 2:
                    status["vertex"] = _text(fval)
                elif fno == 3:
                    status["name"] = _text(fval)
                elif fno == 4 and isinstance(fval, int):
                    status["current"] = fval
                elif fno == 5 and isinstance(fval, int):
                    status["total"] = fval
            events.append(BuildVertexProgress(**status))
        elif number == 3:
            digest, stream, message = "", 1, b""
            for fno, fval in _fields(value):
                if fno == 1:
                    digest = _text(fval)
                elif fno == 3 and isinstance(fval, int):
                    stream = fval
                elif fno == 4 and isinstance(fval, bytes):
                    message = fval
            events.append(BuildOutput(message.decode("utf-8", "replace"), digest, stream))
    return events
