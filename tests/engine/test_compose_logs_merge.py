"""The merge of a project's histories by the daemon's stamps (no engine)."""

from __future__ import annotations

from engine._compose_logs import ProjectLogCursor, _merge, _Part


def part(source: int, stamps: list[bytes]) -> _Part:
    return _Part(source, bytearray(b"\x01" * len(stamps)),
                 [b"%d:%s" % (source, s) for s in stamps], list(stamps))


def test_docker_stamps_merge_in_time_order_though_their_fractions_are_trimmed() -> None:
    # RFC 3339 nano drops trailing zeros, and the fraction itself when it is zero.
    a = part(0, [b"2024-01-01T00:00:05Z", b"2024-01-01T00:00:05.12Z", b"2024-01-01T00:00:06.1Z"])
    b = part(1, [b"2024-01-01T00:00:05.1Z", b"2024-01-01T00:00:05.12Z",
                 b"2024-01-01T00:00:05.9Z"])
    sources, _streams, lines, _stamps = _merge([a, b])
    assert lines == [b"0:2024-01-01T00:00:05Z", b"1:2024-01-01T00:00:05.1Z",
                     b"0:2024-01-01T00:00:05.12Z", b"1:2024-01-01T00:00:05.12Z",
                     b"1:2024-01-01T00:00:05.9Z", b"0:2024-01-01T00:00:06.1Z"]
    assert sources == bytes([0, 1, 0, 1, 1, 0])  # a tie keeps container order


def test_stamps_with_different_zones_merge_by_their_instants() -> None:
    a = part(0, [b"2024-01-01T02:00:00+02:00", b"2024-01-01T02:00:02+02:00"])
    b = part(1, [b"2024-01-01T00:00:01Z"])
    _sources, _streams, lines, _stamps = _merge([a, b])
    assert [line[:1] for line in lines] == [b"0", b"1", b"0"]


def test_the_cursor_counts_the_lines_at_its_newest_stamp() -> None:
    cursor = ProjectLogCursor()
    assert cursor.source("web") == 0 and cursor.source("db") == 1 and cursor.source("web") == 0
    cursor.passed("c1", [b"t1", b"t2", b"t2"])
    assert (cursor.last["c1"], cursor.at_last["c1"]) == (b"t2", 2)
    cursor.passed("c1", [b"t2"])
    assert cursor.at_last["c1"] == 3
    cursor.passed("c1", [b"t2", b"t3"])
    assert (cursor.last["c1"], cursor.at_last["c1"]) == (b"t3", 1)
