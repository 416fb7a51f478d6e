"""A sans-IO tar parser: headers only (path, size, type), fed in any split.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import NamedTuple, Protocol

from engine._errors import ProtocolError

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
#: Long names and PAX records larger than this are not a real image's.
_META_LIMIT = 1 << 20
_NO_DATA_TYPES = frozenset(b"123456")  # links, devices, directories, FIFOs: size is not data
_META_TYPES = frozenset(b"LKxg")
_SIGNED_FIELDS = struct.Struct("148b8x356b")
#: name, size, checksum, typeflag, linkname, magic, prefix (mode, ids, times, owner names skipped).
_HEADER = struct.Struct("100s24x12s12x8sB100s6s2x80x155s")


class TarMember(NamedTuple):
    """One member header, with GNU long names and PAX overrides applied.

    A named tuple, not a frozen dataclass: one is made per file of every layer,
    and a tuple is several times cheaper to build.
    """

    name: str
    size: int
    type: str  # the typeflag: "0" file, "1" hard link, "2" symlink, "5" directory, …
    linkname: str
    #: Permission bits and owner: only filled in by a parser made with ``details=True``
    #: (the image diff compares them; the layer analysis does not pay for them).
    mode: int = 0
    uid: int = 0
    gid: int = 0
    #: Modification time, seconds since the epoch (``details=True`` only; PAX ``mtime`` wins).
    mtime: int = 0


class MemberSink(Protocol):
    """Receives one member's data as it streams past."""

    def write(self, data: memoryview) -> None: ...

    def close(self) -> None: ...


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    """An octal header number, or GNU base-256 (high bit set) for sizes of 8 GiB and more."""
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        return value - 256 ** (len(field) - 1) if field[0] == 0xFF else value
    digits = field.split(b"\0", 1)[0].strip()
    try:
        return int(digits, 8) if digits else 0
    except ValueError:
        raise ProtocolError(f"a tar header has an unreadable number {field!r}") from None


def _byte_sum(block: bytes) -> int:
    """``sum(block)`` of a 512-byte header, five times faster.

    Adler-32's first half is 1 + the byte sum mod 65521; 256 bytes sum to at
    most 65280, so per half it is the exact sum.
    """
    return (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:]) & 0xFFFF) - 2


def checksum_ok(block: bytes) -> bool:
    """The header checksum, unsigned or signed (as some old tars wrote it)."""
    try:
        stored = _number(block[148:156])
    except ProtocolError:
        return False
    # The checksum field itself counts as eight spaces (8 * 0x20 = 256).
    if stored == _byte_sum(block) - sum(block[148:156]) + 256:
        return True
    signed: int = 256 + sum(_SIGNED_FIELDS.unpack_from(block))
    return stored == signed


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    try:
        while pos < len(data) and data[pos] != 0:
            space = data.index(b" ", pos)
            length = int(data[pos:space])
            if length <= space - pos:
                break
            key, _, value = data[space + 1: pos + length - 1].partition(b"=")
            records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
            pos += length
    except ValueError:
        raise ProtocolError("a tar archive has an unreadable PAX header") from None
    return records


class TarParser:
    """Push parser for a tar stream: feed it bytes split anywhere; it calls back per member.

    ``on_member`` returns a :class:`MemberSink` for the member's data, or None to
    skip it (skipping costs no copy).  Handles ustar prefixes, GNU long names
    (``L``/``K``), PAX (``x``/``g``: path, linkpath, size, and with ``details``
    uid, gid) and base-256 sizes.  With ``details`` each member also carries its
    mode bits and owner ids.
    """

    def __init__(self, on_member: Callable[[TarMember], MemberSink | None], *,
                 details: bool = False) -> None:
        self._on_member = on_member
        self._details = details
        self._header = bytearray()
        self._remaining = 0
        self._padding = 0
        self._next_padding = 0
        #: The padding counted into ``_remaining`` when a skipped member's data and
        #: padding are passed over in one step.
        self._skip_tail = 0
        self._sink: MemberSink | None = None
        self._meta_type: int | None = None
        self._meta = bytearray()
        self._long_name: str | None = None
        self._long_link: str | None = None
        self._pax: dict[str, str] = {}
        self._global_pax: dict[str, str] = {}
        self._owner_pax: dict[str, str] = {}
        self._seen_header = False
        self.ended = False

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        view = data if isinstance(data, memoryview) else memoryview(data)
        pos, end = 0, len(view)
        while pos < end and not self.ended:
            if self._remaining:
                take = min(self._remaining, end - pos)
                if self._sink is not None:
                    self._sink.write(view[pos:pos + take])
                elif self._meta_type is not None:
                    self._meta += view[pos:pos + take]
                self._remaining -= take
                pos += take
                if not self._remaining:
                    self._end_member()
            elif self._padding:
                take = min(self._padding, end - pos)
                self._padding -= take
                pos += take
            elif not self._header and end - pos >= BLOCK:
                self._on_header(bytes(view[pos:pos + BLOCK]))
                pos += BLOCK
            else:
                take = min(BLOCK - len(self._header), end - pos)
                self._header += view[pos:pos + take]
                pos += take
                if len(self._header) == BLOCK:
                    block = bytes(self._header)
                    self._header.clear()
                    self._on_header(block)

    def close(self) -> None:
        """The stream ended: it must not end inside a member."""
        if self._remaining > self._skip_tail or self._header or self._meta_type is not None:
            raise ProtocolError("a tar archive in the image export ended in the middle of a file")

    def _on_header(self, block: bytes) -> None:
        # The hot path of a 50k-file image: one unpack, the helpers inlined for the
        # usual octal fields; anything unusual falls back to the careful helpers.
        name_field, size_field, sum_field, type_flag, link_field, magic, prefix = \
            _HEADER.unpack_from(block)
        try:
            stored = int(sum_field.split(b"\0", 1)[0], 8)
        except ValueError:
            stored = -1
        # The checksum field itself counts as eight spaces (8 * 0x20 = 256).
        if stored != _byte_sum(block) - sum(sum_field) + 256 and not checksum_ok(block):
            if block == ZERO_BLOCK:
                self.ended = True
                return
            what = "is corrupt" if self._seen_header else "is not a tar archive"
            raise ProtocolError(f"a tar header in the image export {what}")
        self._seen_header = True
        type_flag = type_flag or 0x30  # "0"
        try:
            size = int(size_field.split(b"\0", 1)[0], 8)
        except ValueError:
            size = _number(size_field)  # base-256, blank, or garbage (raises)
        if type_flag in _META_TYPES:
            if size > _META_LIMIT:
                raise ProtocolError("a tar archive has an implausibly long name or PAX header")
            self._meta_type = type_flag
            self._meta.clear()
            self._start_data(size, None)
            return
        name = name_field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        # POSIX ustar has a name prefix; GNU keeps other fields in those bytes.
        if prefix[0] and magic == b"ustar\x00":
            name = f"{_text(prefix)}/{name}"
        linkname = _text(link_field) if link_field[0] else ""
        if self._long_name is not None or self._long_link is not None or self._pax \
                or self._global_pax:
            name, linkname, size = self._extended(name, linkname, size)
        if type_flag == 0x30 and name.endswith("/"):
            type_flag = 0x35  # pre-POSIX archives mark directories with a slash only
        if self._details:
            try:  # the usual octal fields, at once; anything else through the careful path
                mode, uid, gid = (int(block[100:107], 8), int(block[108:115], 8),
                                  int(block[116:123], 8))
            except ValueError:
                mode, uid, gid = _number(block[100:108]), _number(block[108:116]), \
                    _number(block[116:124])
            try:
                mtime = int(block[136:147], 8)
            except ValueError:
                mtime = _number(block[136:148])
            if self._owner_pax:
                uid, gid, mtime = self._owner(uid, gid, mtime)
            member = TarMember(name, size, chr(type_flag), linkname, mode & 0o7777, uid, gid,
                               mtime)
        else:
            member = TarMember(name, size, chr(type_flag), linkname)
        sink = self._on_member(member)
        if type_flag in _NO_DATA_TYPES or not size:
            if sink is not None:  # nothing to stream: done at once
                sink.close()
        else:
            self._start_data(size, sink)

    def _owner(self, uid: int, gid: int, mtime: int) -> tuple[int, int, int]:
        """uid, gid and mtime from the PAX records read with this member, over the header's."""
        pax, self._owner_pax = self._owner_pax, {}
        try:
            return (int(pax.get("uid", uid)), int(pax.get("gid", gid)),
                    int(float(pax.get("mtime", mtime))))
        except ValueError:
            raise ProtocolError("a tar archive has an unreadable PAX uid or gid") from None

    def _extended(self, name: str, linkname: str, size: int) -> tuple[str, str, int]:
        """Apply the GNU long name/link and PAX records that came before this header."""
        pax = {**self._global_pax, **self._pax} if self._global_pax else self._pax
        if self._details and ("uid" in pax or "gid" in pax or "mtime" in pax):
            self._owner_pax = pax
        if self._long_name is not None:
            name = self._long_name
        if self._long_link is not None:
            linkname = self._long_link
        name = pax.get("path", name)
        linkname = pax.get("linkpath", linkname)
        if "size" in pax:
            size = int(pax["size"])
        self._long_name = self._long_link = None
        self._pax = {}
        return name, linkname, size

    def _start_data(self, size: int, sink: MemberSink | None) -> None:
        self._sink = sink
        padding = -size % BLOCK
        if sink is None and self._meta_type is None:  # skipped: data and padding at once
            self._remaining, self._skip_tail, self._next_padding = size + padding, padding, 0
        else:
            self._remaining, self._next_padding = size, padding
        if not size:
            self._end_member()

    def _end_member(self) -> None:
        if self._sink is not None:
            sink, self._sink = self._sink, None
            sink.close()
        elif self._meta_type is not None:
            meta_type, self._meta_type = self._meta_type, None
            data = bytes(self._meta)
            if meta_type == ord("L"):
                self._long_name = _text(data)
            elif meta_type == ord("K"):
                self._long_link = _text(data)
            elif meta_type == ord("x"):
                self._pax = _pax_records(data)
            else:
                self._global_pax.update(_pax_records(data))
        self._padding = self._next_padding
        self._skip_tail = 0
