"""Layer analysis: the tar parser and stacking as pure functions, then real images on both engines.

The real-engine images are built so every answer is known by hand: a file
overwritten, a file deleted, a directory deleted, a directory replaced (the
daemon writes an opaque marker), a large file added then removed, and
metadata-only steps between them.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import random
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine._layers import (
    Change,
    ChangeKind,
    EntryKind,
    FileEntry,
    HistoryStep,
    ImageAnalysis,
    LayerFiles,
    TarMember,
    TarParser,
    WastedPath,
    analyze_image,
    analyze_layers,
    clean_instruction,
    find_waste,
    layer_changes,
    pair_history,
    read_image_archive,
    stack_layers,
)
from engine._layers.archive import ImageArchiveReader, LayerIndexer
from engine._layers.stacking import _Stack, delta_changes, stack_all
from tests.conftest import DOCKER_CLI, LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.waits import seconds

F, D, S = EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK
ADDED, MODIFIED, REMOVED = ChangeKind.ADDED, ChangeKind.MODIFIED, ChangeKind.REMOVED


# -- building tars by hand ------------------------------------------------------------------

Spec = tuple[str, str, int | str]  # (name, "file"|"dir"|"symlink"|"hardlink", size or target)


def make_tar(specs: Sequence[Spec], fmt: int = tarfile.GNU_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for name, kind, arg in specs:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                info.size = int(arg)
                data = io.BytesIO(b"x" * int(arg))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, str(arg)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, str(arg)
            archive.addfile(info, data)
    return buffer.getvalue()


def listing(data: bytes, chunks: Sequence[int] = ()) -> list[tuple[str, int, str, str, bytes]]:
    """What our parser reports (name, size, type, link, data), fed in the given chunk sizes."""
    members: list[tuple[str, int, str, str, bytes]] = []

    class Collect:
        def __init__(self, member: TarMember) -> None:
            self.member = member
            self.data = bytearray()

        def write(self, chunk: memoryview) -> None:
            self.data += chunk

        def close(self) -> None:
            m = self.member
            members.append((m.name.rstrip("/"), m.size, m.type, m.linkname, bytes(self.data)))

    def on_member(member: TarMember) -> Collect:
        return Collect(member)

    parser = TarParser(on_member)
    pos = 0
    for size in chunks:
        parser.feed(data[pos:pos + size])
        pos += size
    parser.feed(data[pos:])
    parser.close()
    return members


def tarfile_listing(data: bytes) -> list[tuple[str, int, str, str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        result = []
        for m in archive.getmembers():
            content = archive.extractfile(m).read() if m.isreg() else b""  # type: ignore[union-attr]
            result.append((m.name, m.size, m.type.decode(), m.linkname, content))
        return result


LONG = "very/" * 30 + "deep-" * 40 + "name.txt"  # 370 characters: needs GNU L or PAX path


# -- the tar parser -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_parser_agrees_with_tarfile(fmt: int) -> None:
    specs: list[Spec] = [
        ("usr/", "dir", 0),
        ("usr/bin/env", "file", 1234),
        ("usr/bin/sh", "symlink", "/bin/busybox"),
        ("usr/bin/hard", "hardlink", "usr/bin/env"),
        ("empty", "file", 0),
        ("exact-block", "file", 512),
    ]
    if fmt != tarfile.USTAR_FORMAT:
        specs += [(LONG, "file", 7), ("link-" + "x" * 120, "symlink", "t/" * 80),
                  ("ünïcode/ファイル", "file", 3)]
    else:
        specs += [("p" * 90 + "/" + "n" * 90, "file", 5)]  # ustar prefix field
    data = make_tar(specs, fmt)
    expected = tarfile_listing(data)
    assert listing(data) == expected
    assert listing(data, [1] * 700 + [511, 3, 1024]) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=1500), max_size=30))
def test_parser_is_indifferent_to_chunk_boundaries(chunks: list[int]) -> None:
    data = make_tar([("a/", "dir", 0), (LONG, "file", 1000), ("b", "file", 3),
                     ("c" * 150, "symlink", "d" * 150)], tarfile.PAX_FORMAT)
    assert listing(data, chunks) == tarfile_listing(data)


def test_parser_reads_base256_sizes() -> None:
    data = bytearray(make_tar([("big", "file", 600)]))
    header = data[:512]
    header[124:136] = b"\x80" + (600).to_bytes(11, "big")  # GNU base-256, as for files ≥ 8 GiB
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    data[:512] = header
    [(name, size, kind, _, content)] = listing(bytes(data))
    assert (name, size, kind, content) == ("big", 600, "0", b"x" * 600)


def test_parser_rejects_garbage_and_truncation() -> None:
    with pytest.raises(engine.ProtocolError, match="not a tar archive"):
        listing(b"{" * 2048)
    data = make_tar([("f", "file", 4000)])
    with pytest.raises(engine.ProtocolError, match="ended in the middle of a file"):
        listing(data[:2000])


# -- stacking, whiteouts, opaque directories (pure) ---------------------------------------


def files(*entries: FileEntry, whiteouts: Sequence[str] = (), opaque: Sequence[str] = ()
          ) -> LayerFiles:
    return LayerFiles(tuple(entries), tuple(whiteouts), tuple(opaque))


def f(path: str, size: int) -> FileEntry:
    return FileEntry(path, size, F)


def d(path: str) -> FileEntry:
    return FileEntry(path, 0, D)


def visible(layers: Sequence[LayerFiles]) -> dict[str, tuple[int, int]]:
    return {path: (e.size, e.layer) for path, e in stack_layers(layers).items()}


def test_opaque_directory_hides_lower_content_but_keeps_its_own() -> None:
    layers = [
        files(d("e"), f("e/keep", 5), d("e/sub"), f("e/sub/deep", 7), f("other", 1)),
        files(d("e"), f("e/new", 2), opaque=["e"]),
    ]
    assert visible(layers) == {"e": (0, 1), "e/new": (2, 1), "other": (1, 0)}
    changes, wasted = layer_changes(layers), find_waste(layers)
    assert changes[1] == (
        Change("e", MODIFIED, D, 2, 0),
        Change("e/keep", REMOVED, F, 5, 5),
        Change("e/new", ADDED, F, 2, 0),
        Change("e/sub", REMOVED, D, 7, 7),
        Change("e/sub/deep", REMOVED, F, 7, 7),
    )
    # dive ignores opaque markers and would call this image 100 % efficient.
    assert wasted == (WastedPath("e/sub/deep", 7, (0,), (1,)), WastedPath("e/keep", 5, (0,), (1,)))


def test_opaque_directory_over_a_path_recreated_in_the_same_layer_is_a_modification() -> None:
    layers = [files(d("e"), f("e/x", 10)), files(d("e"), f("e/x", 3), opaque=["e"])]
    changes, wasted = layer_changes(layers), find_waste(layers)
    assert changes[1] == (Change("e", MODIFIED, D, 3, 0), Change("e/x", MODIFIED, F, 3, 10))
    assert wasted == (WastedPath("e/x", 10, (0,), (1,)),)


def test_whiteout_of_a_directory_removes_everything_under_it_even_without_dir_entries() -> None:
    # The lower layer's tar has no entries for a/ or a/b/: the paths still hang together.
    layers = [files(f("a/b/c", 4), f("a/d", 6), f("ab", 1)), files(whiteouts=["a"])]
    assert visible(layers) == {"ab": (1, 0)}
    changes, wasted = layer_changes(layers), find_waste(layers)
    assert changes[1] == (Change("a/b/c", REMOVED, F, 4, 4), Change("a/d", REMOVED, F, 6, 6))
    assert sum(w.size for w in wasted) == 10


def test_overwrite_delete_and_readd_across_three_layers() -> None:
    layers = [
        files(f("big", 100), f("gone", 5)),
        files(f("big", 50), whiteouts=["gone", "never-existed"]),
        files(f("big", 20), f("gone", 1)),
    ]
    assert visible(layers) == {"big": (20, 2), "gone": (1, 2)}
    changes, wasted = layer_changes(layers), find_waste(layers)
    assert changes[1] == (Change("big", MODIFIED, F, 50, 100), Change("gone", REMOVED, F, 5, 5))
    assert changes[2] == (Change("big", MODIFIED, F, 20, 50), Change("gone", ADDED, F, 1, 0))
    assert wasted == (WastedPath("big", 150, (0, 1), (1, 2)), WastedPath("gone", 5, (0,), (1,)))


def test_a_file_replacing_a_directory_hides_its_content() -> None:
    layers = [files(d("x"), f("x/a", 3)), files(f("x", 9))]
    assert visible(layers) == {"x": (9, 1)}
    changes, wasted = layer_changes(layers), find_waste(layers)
    assert changes[1] == (Change("x", MODIFIED, F, 9, 0), Change("x/a", REMOVED, F, 3, 3))
    assert wasted == (WastedPath("x/a", 3, (0,), (1,)),)


def test_a_replaced_directory_listed_after_entries_below_it_removes_them_too() -> None:
    # Never in a real diff; the per-entry walk keeps the tar order's meaning.
    layers = [files(d("x"), f("x/a", 3)), files(f("x/b", 2), f("x", 9))]
    assert visible(layers) == {"x": (9, 1)}
    assert layer_changes(layers)[1] == (
        Change("x", MODIFIED, F, 9, 0), Change("x/a", REMOVED, F, 3, 3),
        Change("x/b", ADDED, F, 2, 0), Change("x/b", REMOVED, F, 2, 2))
    assert find_waste(layers) == (WastedPath("x/a", 3, (0,), (1,)),
                                  WastedPath("x/b", 2, (1,), (1,)))


def test_a_path_twice_in_one_tar_keeps_the_later_entry_and_reports_the_first() -> None:
    layers = [files(f("a", 5)), files(f("a", 1), f("b", 2), f("a", 3))]
    assert visible(layers) == {"a": (3, 1), "b": (2, 1)}
    assert layer_changes(layers)[1] == (Change("a", MODIFIED, F, 1, 5), Change("b", ADDED, F, 2, 0))
    assert find_waste(layers) == (WastedPath("a", 5, (0,), (1,)),)


def test_wasted_paths_are_ranked_by_size_then_path_and_sliced_like_the_full_list() -> None:
    layers = [files(f("c", 4), f("b", 4), f("a", 1), d("z"), f("z/0", 0)),
              files(whiteouts=["c", "b", "a", "z"])]
    analysis = analyze_layers(layers)
    everything = analysis.wasted_paths(None)
    assert [w.path for w in everything] == ["b", "c", "a"]  # zero-byte z/0 is no waste
    for limit in (0, 1, 2, 3, 4, -1):
        assert analysis.wasted_paths(limit) == everything[:limit]
    assert analysis.wasted_bytes == 9 and analysis.wasted == everything


_PARTS = st.sampled_from(["a", "b", "a-", "a0", "a.b"])
_PATHS = st.lists(_PARTS, min_size=1, max_size=3).map("/".join)
_ENTRIES = st.lists(st.builds(FileEntry, _PATHS, st.integers(0, 5),
                              st.sampled_from([F, F, D, D, S, EntryKind.HARDLINK])),
                    max_size=12)
_LAYERS = st.lists(st.builds(LayerFiles, _ENTRIES.map(tuple),
                             st.lists(_PATHS, max_size=2).map(tuple),
                             st.lists(_PATHS | st.just(""), max_size=1).map(tuple)),
                   min_size=1, max_size=4)


@settings(max_examples=400, deadline=None)
@given(_LAYERS, st.booleans())
def test_the_bulk_stacking_matches_the_entry_by_entry_walk(
        layers: list[LayerFiles], in_path_order: bool) -> None:
    """Whole layers are applied with set operations and bisections; tar order, repeated
    paths and replaced directories must still give what the walk in tar order gives."""
    if in_path_order:  # what real diffs look like: the bulk path proper
        layers = [replace(layer, entries=tuple(sorted({e.path: e for e in layer.entries}.values(),
                                                      key=lambda e: e.path)))
                  for layer in layers]
    bulk, each = stack_all(layers), stack_all(layers, bulk=False)
    assert [delta_changes(delta) for delta in bulk.deltas] == \
        [delta_changes(delta) for delta in each.deltas]
    assert bulk.waste.ranked(None) == each.waste.ranked(None)
    assert bulk.waste.ranked(2) == each.waste.ranked(None)[:2]
    assert bulk.waste.total == each.waste.total
    stacks = _Stack(), _Stack(bulk=False)
    for index, layer in enumerate(layers):
        for stack in stacks:
            stack.apply(index, layer)
        assert list(stacks[0].visible().items()) == list(stacks[1].visible().items())


def test_waste_rolls_up_per_deleted_directory() -> None:
    analysis = analyze_layers([
        files(d("usr"), d("usr/share"), d("usr/share/doc"), d("usr/share/doc/a"),
              f("usr/share/doc/a/x", 100), f("usr/share/doc/a/z", 1), f("usr/share/doc/c", 50),
              f("usr/bin/t", 10), f("usr/share/keep", 7)),
        files(f("usr/bin/t", 20), whiteouts=["usr/share/doc"]),
        files(whiteouts=["usr/share/doc/a"]),  # inside what is already gone: no row of its own
    ])
    rows = analysis.wasted_folders(None)
    assert [(w.path, w.folder, w.files, w.size, w.layers, w.hidden_by) for w in rows] == [
        ("usr/share/doc", True, 3, 151, (0,), (1,)), ("usr/bin/t", False, 1, 10, (0,), (1,))]
    assert sum(w.size for w in rows) == analysis.wasted_bytes
    assert analysis.wasted_folders(1) == rows[:1]


def test_directory_sizes_roll_up_per_layer() -> None:
    layers = [files(d("usr"), d("usr/lib"), f("usr/lib/a", 10), f("usr/lib/b", 20),
                    f("usr/c", 5))]
    changes = layer_changes(layers)
    assert {c.path: c.size for c in changes[0]} == {
        "usr": 35, "usr/lib": 30, "usr/lib/a": 10, "usr/lib/b": 20, "usr/c": 5}


def test_efficiency_is_the_visible_share_of_layer_bytes() -> None:
    analysis = analyze_layers([files(f("a", 300), f("b", 100)), files(f("a", 100))])
    assert analysis.total_size == 500
    assert analysis.wasted_bytes == 300
    assert analysis.efficiency == pytest.approx(0.4)
    assert analyze_layers([files(d("empty"))]).efficiency == 1.0
    assert analysis.aggregated(0) == stack_layers(analysis.layers[0].files for _ in [0])
    assert set(analysis.aggregated(-1)) == {"a", "b"}
    with pytest.raises(IndexError):
        analysis.aggregated(2)


# -- history ------------------------------------------------------------------------------


def step(created_by: str, empty: bool = False) -> HistoryStep:
    return HistoryStep(created_by, empty_layer=empty)


def test_history_pairs_by_empty_layer_flags_never_sizes() -> None:
    history = [step("ENV A=1", True), step("ADD rootfs"), step("CMD x", True), step("RUN rm /f"),
               step("RUN apt-get"), step("LABEL a=b", True), step("CMD y", True)]
    groups, unpaired = pair_history(history, 3)
    assert [[s.created_by for s in g] for g in groups] == [
        ["ENV A=1", "ADD rootfs", "CMD x"], ["RUN rm /f"], ["RUN apt-get", "LABEL a=b", "CMD y"]]
    assert unpaired == ()
    groups, unpaired = pair_history(history, 2)  # history claims more layers than there are
    assert [s.created_by for s in unpaired] == ["RUN apt-get"]
    analysis = analyze_layers([files(), files(), files()], history=history[:2])
    assert analysis.layers[1].step is None and not analysis.history_matches_layers


@pytest.mark.parametrize(("created_by", "empty", "instruction"), [
    ('/bin/sh -c #(nop)  CMD ["sh"]', True, 'CMD ["sh"]'),
    ("/bin/sh -c #(nop) COPY file:73e2b2 in /bin/busybox ", False,
     "COPY file:73e2b2 in /bin/busybox"),
    ("/bin/sh -c apt-get update &&     apt-get install -y x", False,
     "RUN apt-get update && apt-get install -y x"),
    ("|2 A=1 B=two /bin/sh -c make $A", False, "RUN make $A"),
    ("RUN |1 V=2 /bin/sh -c make # buildkit", False, "RUN make"),
    ("RUN /bin/sh -c rm /hi.txt # buildkit", False, "RUN rm /hi.txt"),
    ("COPY hi.txt / # buildkit", False, "COPY hi.txt /"),
    ('CMD ["sh"]', True, 'CMD ["sh"]'),
    ("/bin/busybox --install -s /bin", False, "RUN /bin/busybox --install -s /bin"),
    ("", True, ""),
])
def test_instructions_are_cleaned(created_by: str, empty: bool, instruction: str) -> None:
    assert clean_instruction(created_by, empty_layer=empty) == instruction
    assert HistoryStep(created_by, empty_layer=empty).instruction == instruction


# -- archive layouts ------------------------------------------------------------------------

LOWER = make_tar([("e/", "dir", 0), ("e/keep", "file", 5), ("big", "file", 1000)])
UPPER = make_tar([("e/", "dir", 0), ("e/.wh..wh..opq", "file", 0), ("e/new", "file", 2),
                  ("big", "file", 10), (".wh..wh.plnk", "dir", 0)])


def outer_tar(members: Sequence[tuple[str, bytes | str]]) -> bytes:
    """An export: (path, content) or (path, "->target") for a symlink."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content[2:]
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def config_for(layers: Sequence[bytes]) -> bytes:
    return json.dumps({
        "rootfs": {"type": "layers",
                   "diff_ids": [f"sha256:{hashlib.sha256(t).hexdigest()}" for t in layers]},
        "history": [{"created_by": "/bin/sh -c #(nop) ADD file:x in / "},
                    {"created_by": "/bin/sh -c #(nop)  ENV A=1", "empty_layer": True},
                    {"created_by": "/bin/sh -c rm -rf /e && mkdir /e"}],
    }).encode()


def assert_known_answers(export: bytes) -> None:
    rng = random.Random(7)
    chunks, pos = [], 0
    while pos < len(export):
        size = rng.randint(1, 9000)
        chunks.append(export[pos:pos + size])
        pos += size
    saved = read_image_archive(chunks)
    analysis = analyze_layers(saved.layers, history=saved.history, diff_ids=saved.diff_ids)
    assert [layer.diff_id for layer in analysis.layers] == [
        f"sha256:{hashlib.sha256(t).hexdigest()}" for t in (LOWER, UPPER)]
    assert analysis.layers[1].files.opaque_dirs == ("e",)
    assert analysis.wasted_bytes == 1005
    assert [[s.instruction for s in layer.steps] for layer in analysis.layers] == [
        ["ADD file:x in /", "ENV A=1"], ["RUN rm -rf /e && mkdir /e"]]
    assert {p: e.size for p, e in analysis.aggregated().items()} == {"e": 0, "e/new": 2, "big": 10}


def test_legacy_layout_with_a_symlinked_layer_before_its_target() -> None:
    config = config_for([LOWER, UPPER])
    export = outer_tar([
        ("aaa/", b""), ("aaa/layer.tar", "->../zzz/layer.tar"), ("aaa/VERSION", b"1.0"),
        ("bbb/layer.tar", UPPER), ("cfg.json", config), ("zzz/layer.tar", LOWER),
        ("manifest.json", json.dumps([{"Config": "cfg.json", "RepoTags": ["x:1"],
                                       "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]).encode()),
    ])
    assert_known_answers(export)


def test_podman_docker_archive_layout() -> None:
    lower, upper = (hashlib.sha256(t).hexdigest() for t in (LOWER, UPPER))
    export = outer_tar([
        (f"{lower}.tar", LOWER), (f"{upper}.tar", UPPER),
        ("c0ffee.json", config_for([LOWER, UPPER])),
        ("id1/layer.tar", f"->../{lower}.tar"), ("id2/layer.tar", f"->../{upper}.tar"),
        ("manifest.json", json.dumps([{"Config": "c0ffee.json",
                                       "Layers": [f"{lower}.tar", f"{upper}.tar"]}]).encode()),
    ])
    assert_known_answers(export)


def zstd_frames(data: bytes) -> bytes:
    """``data`` as two zstd frames, as a streaming compressor may write them."""
    half = len(data) // 2
    compressor = zstandard.ZstdCompressor(level=3)
    return compressor.compress(data[:half]) + compressor.compress(data[half:])


def oci_export(*, compat_manifest: bool, compress: str = "",
               layers: Sequence[bytes] = (LOWER, UPPER)) -> bytes:
    """An OCI-layout export (Docker 25+), its layer blobs plain, gzip or zstd, built by hand:
    Docker 20.10 cannot write zstd layers."""
    blobs: list[tuple[str, bytes]] = []

    def blob(content: bytes) -> str:
        digest = hashlib.sha256(content).hexdigest()
        blobs.append((f"blobs/sha256/{digest}", content))
        return f"sha256:{digest}"

    packed = {"": lambda t: t, "gzip": gzip.compress, "zstd": zstd_frames}[compress]
    layer_digests = [blob(packed(t)) for t in layers]
    config_digest = blob(config_for(list(layers)))
    manifest_digest = blob(json.dumps({
        "schemaVersion": 2, "config": {"digest": config_digest},
        "layers": [{"digest": digest} for digest in layer_digests]}).encode())
    members: list[tuple[str, bytes | str]] = [("blobs/", b""), ("blobs/sha256/", b""), *blobs]
    members += [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                ("index.json", json.dumps({"manifests": [{"digest": manifest_digest}]}).encode())]
    if compat_manifest:
        members.append(("manifest.json", json.dumps([{
            "Config": f"blobs/sha256/{config_digest[7:]}",
            "Layers": [f"blobs/sha256/{d[7:]}" for d in layer_digests]}]).encode()))
    return outer_tar(members)


@pytest.mark.parametrize("compress", ["", "gzip", "zstd"], ids=["plain", "gzip", "zstd"])
@pytest.mark.parametrize("compat_manifest", [True, False], ids=["manifest.json", "index.json"])
def test_oci_layout(compat_manifest: bool, compress: str) -> None:
    assert_known_answers(oci_export(compat_manifest=compat_manifest, compress=compress))


def test_zstd_layers_are_read_file_by_file() -> None:
    """A zstd layer's files and sizes are the ones in the tar it was made from, as Python's
    tarfile lists them; 3 MB of zeros (a few kB compressed) come through in bounded pieces."""
    buffer = io.BytesIO()
    rng = random.Random(14)
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in (("etc/hostname", b"dockyard\n"),
                              ("usr/lib/zeros.bin", bytes(3_000_000)),
                              ("usr/lib/random.bin", rng.randbytes(70_000)),
                              ("usr/share/empty", b""),
                              ("usr/share/\u00e9t\u00e9.txt", "é".encode() * 300)):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        directory = tarfile.TarInfo("var/cache")
        directory.type = tarfile.DIRTYPE
        archive.addfile(directory)
        link = tarfile.TarInfo("usr/bin/zeros")
        link.type, link.linkname = tarfile.SYMTYPE, "../lib/zeros.bin"
        archive.addfile(link)
    layer = buffer.getvalue()
    with tarfile.open(fileobj=io.BytesIO(layer)) as archive:
        expected = {(m.name, m.size if m.isfile() else len(m.linkname) if m.issym() else 0)
                    for m in archive.getmembers()}
    export = oci_export(compat_manifest=False, compress="zstd", layers=[layer])
    assert len(export) < len(layer) // 10  # the layer went in compressed
    pieces: list[int] = []

    class Recording(LayerIndexer):
        def write(self, data: memoryview) -> None:
            pieces.append(len(data))
            super().write(data)

    reader = ImageArchiveReader(Recording)
    for pos in range(0, len(export), 4093):
        reader.feed(export[pos:pos + 4093])
    [files] = reader.close().layers
    assert sum(pieces) == len(layer) and max(pieces) <= 1 << 20
    assert {(e.path, e.size) for e in files.entries} == expected
    assert {e.path: e.kind for e in files.entries}["usr/bin/zeros"] is EntryKind.SYMLINK
    assert {e.path: e.link for e in files.entries}["usr/bin/zeros"] == "../lib/zeros.bin"


def test_a_corrupt_zstd_layer_is_said_plainly() -> None:
    # With a checksum, as ``zstd`` writes by default: a changed byte cannot pass unseen.
    broken = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(LOWER))
    broken[-10] ^= 0xFF
    export = outer_tar([
        ("blobs/sha256/aa", bytes(broken)), ("cfg.json", config_for([LOWER])),
        ("manifest.json", b'[{"Config": "cfg.json", "Layers": ["blobs/sha256/aa"]}]')])
    with pytest.raises(engine.ProtocolError, match="a zstd layer in the image export is corrupt"):
        read_image_archive([export])


# -- real engines ---------------------------------------------------------------------------

#: Layers the known image adds on top of the test base image (2 layers), bottom first.
KNOWN_DOCKERFILE = """\
FROM {base}
RUN mkdir -p /d/sub /e /keep && dd if=/dev/zero of=/big bs=1024 count=100 && echo keep > /e/keep \
&& echo abc > /d/sub/a && echo gone > /gone && echo stay > /keep/stay
ENV FOO=bar
RUN dd if=/dev/zero of=/big bs=1024 count=50 && rm /gone && rm -rf /d/sub && rm -rf /e \
&& mkdir /e && echo n > /e/new
RUN dd if=/dev/zero of=/huge bs=1024 count=300
RUN rm /huge
LABEL {label_key}={run_id}
CMD ["sh"]
"""
#: The instructions of the layers the known image adds, each with its metadata steps.
KNOWN_STEPS = [
    ["RUN mkdir -p /d/sub /e /keep && dd if=/dev/zero of=/big bs=1024 count=100"
     " && echo keep > /e/keep && echo abc > /d/sub/a && echo gone > /gone"
     " && echo stay > /keep/stay", "ENV FOO=bar"],
    ["RUN dd if=/dev/zero of=/big bs=1024 count=50 && rm /gone && rm -rf /d/sub"
     " && rm -rf /e && mkdir /e && echo n > /e/new"],
    ["RUN dd if=/dev/zero of=/huge bs=1024 count=300"],
    ["RUN rm /huge", f"LABEL {LABEL_KEY}={RUN_ID}", 'CMD ["sh"]'],
]
#: huge (deleted), big (overwritten), e/keep (opaque directory), gone, d/sub/a (deleted).
KNOWN_WASTED = 307200 + 102400 + 5 + 5 + 4
#: Buildah leaves its mount points (and empty /etc/hosts etc.) in every RUN layer.
PODMAN_STUBS = ("dev", "etc", "proc", "run", "sys")


def build_known_image(target: EngineUnderTest, workdir: Path) -> str:
    context = workdir / unique_name("layers")
    context.mkdir()
    (context / "Dockerfile").write_text(KNOWN_DOCKERFILE.format(
        base=target.image, label_key=LABEL_KEY, run_id=RUN_ID))
    tag = f"dockyard-test/layers:{unique_name('t')[len('dockyard-test-'):]}"
    target.cli("build", "-q", "-t", tag, str(context), timeout=seconds(600))
    return tag


def ours(path: str, kind: str) -> bool:
    """Paths the Dockerfile wrote (Podman's RUN layers also carry its mount point stubs)."""
    return kind == "docker" or path.split("/", 1)[0] not in PODMAN_STUBS


# The engine is asked for by name, which the fixture-based marking cannot see.
@pytest.fixture(scope="module", params=[pytest.param(kind, marks=pytest.mark.engine)
                                        for kind in ("docker", "podman", "docker26")])
def known(request: pytest.FixtureRequest, workdir: Path
          ) -> Iterator[tuple[EngineUnderTest, str, ImageAnalysis, list[tuple[int, int]]]]:
    target: EngineUnderTest = request.getfixturevalue(f"{request.param}_engine")
    tag = build_known_image(target, workdir)
    calls: list[tuple[int, int]] = []

    async def run() -> ImageAnalysis:
        async with await target.open() as client:
            return await analyze_image(client, tag, progress=lambda r, t: calls.append((r, t)))

    try:
        yield target, tag, asyncio.run(run()), calls
    finally:
        target.cli("rmi", "-f", tag, check=False)


def test_known_image_layers_and_history(known: tuple[EngineUnderTest, str, ImageAnalysis,
                                                     list[tuple[int, int]]]) -> None:
    target, tag, analysis, _ = known
    inspect = json.loads(target.cli("image", "inspect", tag))[0]
    assert analysis.image_id == inspect["Id"]
    assert [layer.diff_id for layer in analysis.layers] == inspect["RootFS"]["Layers"]
    assert len(analysis.layers) == 6
    assert len(analysis.steps) == 11  # 4 base rows (2 metadata) + 7 rows (3 metadata)
    assert analysis.history_matches_layers
    base = target.image
    assert [layer.diff_id for layer in analysis.layers[:2]] == json.loads(
        target.cli("image", "inspect", base))[0]["RootFS"]["Layers"]
    assert [s.empty_layer for s in analysis.layers[1].steps] == [False, True, True]
    assert [[s.instruction for s in layer.steps] for layer in analysis.layers[2:]] == KNOWN_STEPS
    busybox = next(e for e in analysis.layers[0].entries if e.path == "bin/busybox")
    assert analysis.layers[0].size == busybox.size
    assert [layer.size for layer in analysis.layers[2:]] == [102419, 51202, 307200, 0]
    if target.kind == "docker":
        # Docker's own per-layer Size (history rows that made a layer) agrees with ours.
        rows = target.cli("history", "--no-trunc", "--human=false", "--format", "{{.Size}}",
                          tag).split()[::-1]
        made_layer = [int(size) for size, s in zip(rows, analysis.steps, strict=True)
                      if not s.empty_layer]
        assert made_layer == [layer.size for layer in analysis.layers]


def test_known_image_changes_and_waste(known: tuple[EngineUnderTest, str, ImageAnalysis,
                                                    list[tuple[int, int]]]) -> None:
    target, _, analysis, _ = known

    def marks(index: int) -> list[tuple[str, str, int, int]]:
        return [(c.path, c.kind.value, c.size, c.previous_size) for c in analysis.changes(index)
                if ours(c.path, target.kind)]

    assert marks(2) == [
        ("big", "added", 102400, 0), ("d", "added", 4, 0), ("d/sub", "added", 4, 0),
        ("d/sub/a", "added", 4, 0), ("e", "added", 5, 0), ("e/keep", "added", 5, 0),
        ("gone", "added", 5, 0), ("keep", "added", 5, 0), ("keep/stay", "added", 5, 0)]
    assert marks(3) == [
        ("big", "modified", 51200, 102400), ("d", "modified", 0, 0),
        ("d/sub", "removed", 4, 4), ("d/sub/a", "removed", 4, 4),
        ("e", "modified", 2, 0), ("e/keep", "removed", 5, 5), ("e/new", "added", 2, 0),
        ("gone", "removed", 5, 5)]
    assert marks(4) == [("huge", "added", 307200, 0)]
    assert marks(5) == [("huge", "removed", 307200, 307200)]
    # The daemon wrote the replaced directory as an opaque marker, the deleted ones as whiteouts.
    assert analysis.layers[3].files.opaque_dirs == ("e",)
    assert sorted(analysis.layers[3].files.whiteouts) == ["d/sub", "gone"]
    assert analysis.layers[5].files.whiteouts == ("huge",)

    assert analysis.wasted_bytes == KNOWN_WASTED
    assert analysis.wasted_paths(3) == (
        WastedPath("huge", 307200, (4,), (5,)), WastedPath("big", 102400, (2,), (3,)),
        WastedPath("e/keep", 5, (2,), (3,)))
    assert [w.path for w in analysis.wasted_paths(None)] == ["huge", "big", "e/keep", "gone",
                                                             "d/sub/a"]
    assert [(w.path, w.folder, w.files, w.size) for w in analysis.wasted_folders(None)] == [
        ("huge", False, 1, 307200), ("big", False, 1, 102400), ("e", True, 1, 5),
        ("gone", False, 1, 5), ("d/sub", True, 1, 4)]
    assert analysis.efficiency == 1 - KNOWN_WASTED / analysis.total_size
    assert analysis.total_size == sum(layer.size for layer in analysis.layers)


def test_known_image_aggregated_tree(known: tuple[EngineUnderTest, str, ImageAnalysis,
                                                  list[tuple[int, int]]]) -> None:
    target, _, analysis, _ = known

    def tree(upto: int | None) -> dict[str, tuple[str, int, int]]:
        return {path: (e.kind.value, e.size, e.layer)
                for path, e in analysis.aggregated(upto).items()
                if path.split("/", 1)[0] != "bin" and ours(path, target.kind)}

    assert tree(None) == {
        "big": ("file", 51200, 3), "d": ("dir", 0, 3), "e": ("dir", 0, 3),
        "e/new": ("file", 2, 3), "keep": ("dir", 0, 2), "keep/stay": ("file", 5, 2)}
    assert tree(2) == {
        "big": ("file", 102400, 2), "d": ("dir", 0, 2), "d/sub": ("dir", 0, 2),
        "d/sub/a": ("file", 4, 2), "e": ("dir", 0, 2), "e/keep": ("file", 5, 2),
        "gone": ("file", 5, 2), "keep": ("dir", 0, 2), "keep/stay": ("file", 5, 2)}
    assert tree(4)["huge"] == ("file", 307200, 4)
    symlinks = [e for e in analysis.aggregated(1).values() if e.kind is S]
    assert symlinks and all(e.entry.link == "/bin/busybox" and e.size == 12 for e in symlinks)
    assert analysis.layers[1].size == 12 * len(symlinks)


def test_progress_counts_every_byte_of_the_export(
        known: tuple[EngineUnderTest, str, ImageAnalysis, list[tuple[int, int]]]) -> None:
    target, tag, analysis, calls = known
    assert DOCKER_CLI
    env = {"DOCKER_CONFIG": str(target.cli_config), "PATH": "/usr/bin:/bin"}
    # By ID, as analyze_image asks for it (a tag would add a ``repositories`` member).
    saved = subprocess.run([DOCKER_CLI, "--host", target.url, "save", analysis.image_id],
                           capture_output=True, env=env, check=True, timeout=seconds(120)).stdout
    inspect_size = json.loads(target.cli("image", "inspect", tag))[0]["Size"]
    assert calls[0][1] == max(inspect_size, calls[0][0])
    assert [r for r, _ in calls] == sorted(r for r, _ in calls)
    assert all(read <= total for read, total in calls)
    assert calls[-1] == (len(saved), len(saved))
    # The CLI's export reads back to the same analysis as the streamed one.
    from_cli = read_image_archive([saved])
    assert tuple(layer.files for layer in analysis.layers) == from_cli.layers


@pytest.mark.anyio
async def test_unknown_image_is_not_found(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        with pytest.raises(engine.NotFound):
            await analyze_image(client, f"dockyard-test/no-such-image:{RUN_ID}")


@pytest.mark.anyio
async def test_cancelling_stops_the_export_and_leaves_the_client_usable(
        docker_engine: EngineUnderTest) -> None:
    started = asyncio.Event()
    cancelled_at: list[int] = []

    def first_bytes_arrived(read: int, total: int) -> None:
        cancelled_at.append(read)
        if read:  # read == 0: the engine is still preparing the export
            started.set()

    async with await docker_engine.open() as client:
        task = asyncio.ensure_future(
            analyze_image(client, docker_engine.image, progress=first_bytes_arrived))
        await asyncio.wait_for(started.wait(), seconds(30))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        complete: list[int] = []
        analysis = await analyze_image(client, docker_engine.image,
                                       progress=lambda read, _: complete.append(read))
        assert len(analysis.layers) == 2
        assert cancelled_at[-1] < complete[-1]  # the export was abandoned, not read to the end


@pytest.mark.anyio
async def test_analysis_leaves_the_cyclic_collector_as_it_found_it(
        docker_engine: EngineUnderTest) -> None:
    import gc

    async with await docker_engine.open() as client:
        assert gc.isenabled()
        await analyze_image(client, docker_engine.image)
        assert gc.isenabled()
        gc.disable()
        try:
            await analyze_image(client, docker_engine.image)
            assert not gc.isenabled()
        finally:
            gc.enable()


# -- hard links, against an independent reading of `docker save` ---------------------------

HARDLINK_DOCKERFILE = """\
FROM {base}
RUN dd if=/dev/zero of=/a bs=1024 count=40 && ln /a /b \
&& dd if=/dev/zero of=/c bs=1024 count=20 && ln /c /d \
&& dd if=/dev/zero of=/e bs=1024 count=10 && ln /e /f \
&& dd if=/dev/zero of=/g bs=1024 count=5 && ln /g /h
RUN rm /a && chmod 600 /c && rm /e /f && rm /h
LABEL {label_key}={run_id}
"""


def saved_waste(saved: bytes) -> tuple[int, dict[str, int]]:
    """Wasted bytes and visible file sizes, from a ``docker save`` with Python's tarfile.

    Written independently of the engine package: each layer's regular file and the
    hard links to it share one set of bytes, and those bytes are wasted only when no
    name of that layer still shows them in the final filesystem.
    """
    with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        layer_tars = [outer.extractfile(name).read()  # type: ignore[union-attr]
                      for name in manifest[0]["Layers"]]
    visible: dict[str, tuple[int, tarfile.TarInfo]] = {}
    carriers: list[dict[str, str]] = []  # per layer: name -> the name holding its bytes
    sizes: list[dict[str, int]] = []     # per layer: bytes per carrier
    for index, data in enumerate(layer_tars):
        carrier: dict[str, str] = {}
        size: dict[str, int] = {}
        with tarfile.open(fileobj=io.BytesIO(data)) as layer:
            members = layer.getmembers()
        for member in members:
            path = member.name.removeprefix("./").rstrip("/")
            base = path.rpartition("/")[2]
            parent = path.rpartition("/")[0]
            if base == ".wh..wh..opq":
                for other in [p for p in visible if p.startswith(parent + "/")
                              and visible[p][0] < index]:
                    del visible[other]
            elif base.startswith(".wh."):
                gone = (parent + "/" if parent else "") + base[4:]
                for other in [p for p in visible if p == gone or p.startswith(gone + "/")]:
                    del visible[other]
        for member in members:
            path = member.name.removeprefix("./").rstrip("/")
            if path.rpartition("/")[2].startswith(".wh."):
                continue
            if member.isfile():
                carrier[path], size[path] = path, member.size
            elif member.islnk():
                carrier[path] = carrier[member.linkname.removeprefix("./")]
            visible[path] = (index, member)
        carriers.append(carrier)
        sizes.append(size)
    seen = {(index, carriers[index][path]) for path, (index, _) in visible.items()
            if path in carriers[index]}
    wasted = sum(size for index, per_layer in enumerate(sizes)
                 for path, size in per_layer.items() if (index, path) not in seen)
    shown = {path: sizes[index][carriers[index][path]] for path, (index, _) in visible.items()
             if path in carriers[index]}
    return wasted, shown


def test_hard_links_keep_their_bytes_visible(docker_engine: EngineUnderTest,
                                             workdir: Path) -> None:
    context = workdir / unique_name("hardlinks")
    context.mkdir()
    (context / "Dockerfile").write_text(HARDLINK_DOCKERFILE.format(
        base=docker_engine.image, label_key=LABEL_KEY, run_id=RUN_ID))
    tag = f"dockyard-test/hardlinks:{unique_name('t')[len('dockyard-test-'):]}"
    docker_engine.cli("build", "-q", "-t", tag, str(context), timeout=seconds(600))
    try:
        async def run() -> ImageAnalysis:
            async with await docker_engine.open() as client:
                return await analyze_image(client, tag)

        analysis = asyncio.run(run())
        assert DOCKER_CLI
        env = {"DOCKER_CONFIG": str(docker_engine.cli_config), "PATH": "/usr/bin:/bin"}
        saved = subprocess.run([DOCKER_CLI, "--host", docker_engine.url, "save", tag],
                               capture_output=True, env=env, check=True,
                               timeout=seconds(120)).stdout
        wasted, shown = saved_waste(saved)
        # By hand: only e and f lost every name; a (deleted) and c (copied up by chmod)
        # still reach their bytes through b and d, and h's deletion leaves g.
        assert wasted == 10240
        assert analysis.wasted_bytes == wasted
        assert [w.path for w in analysis.wasted_paths(None)] == ["e"]
        tree = analysis.aggregated()
        for path in ("b", "c", "d", "g"):
            assert tree[path].size == shown[path], path
        assert (tree["b"].size, tree["c"].size, tree["d"].size) == (40960, 20480, 20480)
        assert "a" not in tree and "h" not in tree
    finally:
        docker_engine.cli("rmi", "-f", tag, check=False)


def loadable_oci_export(layer: bytes, reference: str) -> bytes:
    """An OCI-layout archive ``docker load`` takes, with one zstd layer and the media types,
    sizes and diff_ids a containerd image store checks (unlike :func:`oci_export`)."""
    def digest(content: bytes) -> str:
        return f"sha256:{hashlib.sha256(content).hexdigest()}"

    blob = zstandard.ZstdCompressor(write_checksum=True).compress(layer)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
        "config": {"Labels": {LABEL_KEY: RUN_ID}},
        "history": [{"created_by": "COPY zstd.txt zeros.bin /"}]}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
                    "digest": digest(blob), "size": len(blob)}]}).encode()
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": digest(manifest), "size": len(manifest),
                       "annotations": {"io.containerd.image.name": f"docker.io/{reference}",
                                       "org.opencontainers.image.ref.name":
                                           reference.rsplit(":", 1)[1]}}]}).encode()
    return outer_tar([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index),
                      *((f"blobs/sha256/{digest(c)[7:]}", c) for c in (blob, config, manifest))])


@pytest.mark.anyio
async def test_zstd_layers_of_a_real_engine_are_read(
    docker26_containerd_engine: EngineUnderTest, tmp_path: Path
) -> None:
    """Docker 26 with the containerd image store exports a layer as it was stored: an image
    whose layer is zstd (as ``--compression zstd`` builds and some registries hand out) is
    analysed file by file."""
    target = docker26_containerd_engine
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in (("zstd.txt", b"from a zstd layer\n"), ("zeros.bin", bytes(300_000))):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o644
            archive.addfile(info, io.BytesIO(content))
    tag = f"dockyard-test/{unique_name('zstd')}:1"
    source = tmp_path / "zstd-image.tar"
    source.write_bytes(loadable_oci_export(buffer.getvalue(), tag))
    try:
        async with await target.open() as client:
            async for _ in engine.load_images(client, source):
                pass
            analysis = await analyze_image(client, tag)
        # The engine really hands the layer out as zstd (not recompressed, not plain).
        saved = tmp_path / "saved.tar"
        target.cli("save", "-o", str(saved), tag)
        with tarfile.open(saved) as archive:
            magics = {(archive.extractfile(m) or io.BytesIO()).read(4)
                      for m in archive.getmembers() if m.isfile() and m.name.startswith("blobs/")}
        assert b"\x28\xb5\x2f\xfd" in magics
        [layer] = analysis.layers
        assert {(e.path, e.size) for e in layer.entries} == {("zstd.txt", 18),
                                                            ("zeros.bin", 300_000)}
        assert layer.size == 300_018
        assert [s.instruction for s in layer.steps] == ["COPY zstd.txt zeros.bin /"]
    finally:
        target.cli("rmi", "-f", tag, check=False)
