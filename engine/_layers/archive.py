"""Reading an image export (``docker save``'s tar) as it streams past, layouts of all kinds.

Legacy Docker, OCI (plain, gzip or zstd blobs) and Podman's docker-archive; every
layer tar inside is parsed for its headers only.
"""

from __future__ import annotations

import json
import posixpath
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any, cast

from engine._errors import ProtocolError
from engine._layers.model import EntryKind, FileEntry, HistoryStep, LayerFiles
from engine._layers.tar import BLOCK, ZERO_BLOCK, MemberSink, TarMember, TarParser, checksum_ok

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
TAR_KINDS = {"0": EntryKind.FILE, "7": EntryKind.FILE, "1": EntryKind.HARDLINK,
          "2": EntryKind.SYMLINK, "5": EntryKind.DIR}
#: JSON documents (config, manifests) kept whole; a real one is a few kB.
_JSON_LIMIT = 16 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def normalise_path(name: str) -> str:
    """``./usr//bin/`` → ``usr/bin``; the root itself is ``""``."""
    if not name.startswith((".", "/")) and "/." not in name and "//" not in name:
        return name.rstrip("/")  # the usual case, without normpath's cost
    return posixpath.normpath("/" + name).lstrip("/")


class LayerIndexer:
    """Parses one layer tar as it streams past, keeping only its headers.

    Subclasses (the image diff's) may set ``details`` for modes and owners and
    return a sink from :meth:`on_member` to see a member's data.
    """

    details = False

    def __init__(self) -> None:
        self.entries: list[FileEntry] = []
        self.whiteouts: list[str] = []
        self.opaque_dirs: list[str] = []
        self._parser = TarParser(self.on_member, details=self.details)

    def write(self, data: memoryview) -> None:
        self._parser.feed(data)

    def close(self) -> None:
        self._parser.close()

    def result(self) -> LayerFiles:
        return LayerFiles(tuple(self.entries), tuple(self.whiteouts), tuple(self.opaque_dirs))

    def on_member(self, member: TarMember) -> MemberSink | None:
        path = normalise_path(member.name)
        if not path:
            return None
        if _WHITEOUT in path:
            directory, _, base = path.rpartition("/")
            if base.startswith(_WHITEOUT):
                if base == _OPAQUE:
                    self.opaque_dirs.append(directory)
                elif not base.startswith(_OPAQUE[:8]):  # other .wh..wh.* are the storage's own
                    hidden = base[len(_WHITEOUT):]
                    self.whiteouts.append(f"{directory}/{hidden}" if directory else hidden)
                return None
        kind = TAR_KINDS.get(member.type, EntryKind.OTHER)
        if kind is EntryKind.FILE:
            self.entries.append(FileEntry(path, member.size, kind))
        elif kind is EntryKind.SYMLINK:
            link = member.linkname
            self.entries.append(FileEntry(path, len(link.encode("utf-8", "surrogateescape")),
                                          kind, link))
        elif kind is EntryKind.HARDLINK:
            self.entries.append(FileEntry(path, 0, kind, normalise_path(member.linkname)))
        else:
            self.entries.append(FileEntry(path, 0, kind))
        return None


LayerIndexerFactory = Callable[[], LayerIndexer]


class _GzipLayer:
    """A gzip-compressed layer blob (containerd image store), inflated in bounded steps."""

    def __init__(self, indexer: LayerIndexer) -> None:
        self.indexer = indexer
        self._inflater = zlib.decompressobj(wbits=31)

    def write(self, data: memoryview) -> None:
        pending: bytes | memoryview = data
        while True:
            if self._inflater.eof:  # concatenated gzip members, or zero padding after the last
                pending = self._inflater.unused_data + bytes(pending)
                if not pending.strip(b"\0"):
                    return
                self._inflater = zlib.decompressobj(wbits=31)
            if not pending:
                return
            try:
                # Bounded output: 64 kB of compressed zeros may inflate to a gigabyte.
                out = self._inflater.decompress(pending, 1 << 20)
            except zlib.error as exc:
                raise ProtocolError(f"a gzip layer in the image export is corrupt: {exc}") from exc
            if out:
                self.indexer.write(memoryview(out))
            pending = self._inflater.unconsumed_tail

    def close(self) -> None:
        if not self._inflater.eof:
            self.indexer.write(memoryview(self._inflater.flush()))
        self.indexer.close()


class _ZstdLayer:
    """A zstd-compressed layer blob (containerd image store, ``--compression zstd`` builds).

    ``zstandard``'s stream writer hands the tar on in pieces of at most a megabyte,
    however well it compressed, and reads frame after frame.
    """

    def __init__(self, indexer: LayerIndexer) -> None:
        import zstandard

        self.indexer = indexer
        self._error = zstandard.ZstdError
        self._writer = zstandard.ZstdDecompressor().stream_writer(
            cast(IO[bytes], _IndexerSink(indexer)), write_size=1 << 20, closefd=False)

    def write(self, data: memoryview) -> None:
        try:
            self._writer.write(data)
        except self._error as exc:
            raise ProtocolError(f"a zstd layer in the image export is corrupt: {exc}") from exc

    def close(self) -> None:
        try:
            self._writer.flush()  # type: ignore[no-untyped-call]  # untyped in its stub
        except self._error as exc:
            raise ProtocolError(f"a zstd layer in the image export is corrupt: {exc}") from exc
        self.indexer.close()


class _IndexerSink:
    """The file-like end ``zstandard`` writes the decompressed tar to."""

    def __init__(self, indexer: LayerIndexer) -> None:
        self._indexer = indexer

    def write(self, data: bytes) -> int:
        self._indexer.write(memoryview(data))
        return len(data)


class _Discard:
    def write(self, data: memoryview) -> None:
        pass

    def close(self) -> None:
        pass


class _Sniffer:
    """Decides from a member's first block what it is: a layer tar (plain or gzip), JSON, other."""

    def __init__(self, archive: ImageArchiveReader, path: str, size: int) -> None:
        self._archive = archive
        self._path = path
        self._size = size
        self._head = bytearray()
        self._target: MemberSink | None = None

    def write(self, data: memoryview) -> None:
        if self._target is None:
            self._head += data
            if len(self._head) < BLOCK:
                return
            self._choose()
            assert self._target is not None
            head = self._head
            self._head = bytearray()
            self._target.write(memoryview(head))
        else:
            self._target.write(data)

    def _choose(self) -> None:
        head = bytes(self._head[:BLOCK])
        archive, path = self._archive, self._path
        if head.startswith(_GZIP_MAGIC):
            gzip_layer = _GzipLayer(archive.new_indexer())
            archive.layers[path] = gzip_layer.indexer
            self._target = gzip_layer
        elif head.startswith(_ZSTD_MAGIC):
            zstd_layer = _ZstdLayer(archive.new_indexer())
            archive.layers[path] = zstd_layer.indexer
            self._target = zstd_layer
        elif len(head) == BLOCK and (head == ZERO_BLOCK or checksum_ok(head)):
            indexer = archive.new_indexer()
            archive.layers[path] = indexer
            self._target = indexer
        elif self._size <= _JSON_LIMIT and ("/" not in path or path.startswith("blobs/")):
            self._target = _Keep(archive, path)
        else:
            self._target = _Discard()

    def close(self) -> None:
        if self._target is None:
            self._choose()
            assert self._target is not None
            self._target.write(memoryview(self._head))
        self._target.close()


class _Keep:
    def __init__(self, archive: ImageArchiveReader, path: str) -> None:
        self._archive = archive
        self._path = path
        self._data = bytearray()

    def write(self, data: memoryview) -> None:
        self._data += data

    def close(self) -> None:
        self._archive.documents[self._path] = bytes(self._data)


@dataclass(frozen=True, slots=True)
class SavedImage:
    """What an image export says once it is read: layers bottom first, config, names."""

    layers: tuple[LayerFiles, ...]
    config: Mapping[str, Any]
    repo_tags: tuple[str, ...] = ()
    #: Where the config is in the export (``<hex>.json``, ``blobs/sha256/<hex>``).
    config_path: str = ""

    @property
    def diff_ids(self) -> tuple[str, ...]:
        rootfs = self.config.get("rootfs") or {}
        return tuple(str(d) for d in rootfs.get("diff_ids") or ())

    @property
    def history(self) -> tuple[HistoryStep, ...]:
        return tuple(HistoryStep.from_config(raw) for raw in self.config.get("history") or ()
                     if isinstance(raw, Mapping))


class ImageArchiveReader:
    """Sans-IO reader of an image export (``docker save`` / ``GET /images/{name}/get``).

    Feed it the bytes in any chunking, then :meth:`close` for the :class:`SavedImage`
    (or :meth:`close_all` for every image of a multi-image export: layers they
    share are stored, and parsed, once).  ``indexer`` makes the parser of each
    layer tar.
    """

    def __init__(self, indexer: LayerIndexerFactory = LayerIndexer) -> None:
        self.new_indexer = indexer
        self.layers: dict[str, LayerIndexer] = {}
        self.documents: dict[str, bytes] = {}
        self.unsupported: dict[str, str] = {}
        self._links: dict[str, str] = {}
        self._parser = TarParser(self._on_member)
        self.bytes_read = 0

    def feed(self, data: bytes | memoryview) -> None:
        self.bytes_read += len(data)
        self._parser.feed(data)

    def _on_member(self, member: TarMember) -> MemberSink | None:
        path = normalise_path(member.name)
        if member.type == "2":  # Podman and legacy exports symlink layer.tar to the real one
            self._links[path] = normalise_path(posixpath.join(posixpath.dirname(path),
                                                          member.linkname))
        elif member.type == "1":
            self._links[path] = normalise_path(member.linkname)
        elif member.type in ("0", "7"):
            return _Sniffer(self, path, member.size)
        return None

    def close(self) -> SavedImage:
        return self.close_all()[0]

    def close_all(self) -> list[SavedImage]:
        """Every image the export holds, in the manifest's order (at least one)."""
        self._parser.close()
        if not self._parser.ended and not self.bytes_read:
            raise ProtocolError("the engine sent an empty image export")
        images: list[tuple[str, list[str], tuple[str, ...]]] = []
        if "manifest.json" in self.documents:
            manifest = self._json("manifest.json")
            if not isinstance(manifest, list) or not manifest or \
                    not all(isinstance(entry, dict) for entry in manifest):
                raise ProtocolError("the image export's manifest.json lists no image")
            images = [(str(entry.get("Config") or ""),
                       [str(p) for p in entry.get("Layers") or []],
                       tuple(str(t) for t in entry.get("RepoTags") or []))
                      for entry in manifest]
        elif "index.json" in self.documents:
            config_path, layer_paths = self._from_oci_index()
            images = [(config_path, layer_paths, ())]
        else:
            raise ProtocolError("the image export has neither manifest.json nor index.json")
        layers: dict[str, LayerFiles] = {}  # a layer two images share: one LayerFiles
        saved = []
        for config_path, layer_paths, repo_tags in images:
            config = self._json(config_path)
            if not isinstance(config, dict):
                raise ProtocolError(f"the image config {config_path} is not a JSON object")
            files = []
            for path in layer_paths:
                if path not in layers:
                    layers[path] = self._layer(path)
                files.append(layers[path])
            saved.append(SavedImage(tuple(files), config, repo_tags, config_path))
        return saved

    def _resolve(self, path: str) -> str:
        path = normalise_path(path)
        for _ in range(16):
            if path not in self._links:
                return path
            path = self._links[path]
        raise ProtocolError(f"the image export has a symlink loop at {path}")

    def _json(self, path: str) -> Any:
        resolved = self._resolve(path)
        if resolved not in self.documents:
            raise ProtocolError(f"the image export has no {path}")
        try:
            return json.loads(self.documents[resolved])
        except ValueError as exc:
            raise ProtocolError(f"{path} in the image export is not JSON: {exc}") from exc

    def _from_oci_index(self) -> tuple[str, list[str]]:
        """An OCI layout without the Docker compatibility manifest: follow index.json."""
        document = self._json("index.json")
        for _ in range(8):
            manifests = document.get("manifests") if isinstance(document, dict) else None
            if not manifests:
                break
            document = self._json(_blob_path(str(manifests[0].get("digest", ""))))
        if not isinstance(document, dict) or "layers" not in document:
            raise ProtocolError("the image export's index.json leads to no image manifest")
        config = _blob_path(str((document.get("config") or {}).get("digest", "")))
        return config, [_blob_path(str(layer.get("digest", ""))) for layer in document["layers"]]

    def _layer(self, path: str) -> LayerFiles:
        resolved = self._resolve(path)
        if resolved in self.layers:
            return self.layers[resolved].result()
        if resolved in self.unsupported:
            raise ProtocolError(
                f"layer {path} is {self.unsupported[resolved]}-compressed, which Dockyard cannot"
                " read yet"
            )
        if resolved in self.documents:  # too short to sniff (an empty tar of under a block)
            data = self.documents[resolved]
            if not data.strip(b"\0"):
                return LayerFiles()
            indexer = self.new_indexer()
            indexer.write(memoryview(data))
            indexer.close()
            return indexer.result()
        raise ProtocolError(f"the image export has no layer {path}")


def _blob_path(digest: str) -> str:
    algorithm, _, hex_digest = digest.partition(":")
    return f"blobs/{algorithm}/{hex_digest}"


def read_image_archive(chunks: Iterable[bytes]) -> SavedImage:
    """Read a whole image export from byte chunks (a file, a test's tar)."""
    reader = ImageArchiveReader()
    for chunk in chunks:
        reader.feed(chunk)
    return reader.close()
