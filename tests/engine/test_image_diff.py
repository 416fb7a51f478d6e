"""The image diff's pure parts, on hand-made exports (no engine): modes and owners from
tar headers, content digests, hard links, whiteouts, opaque directories, mtime-only copies.

The engine-backed answers (Docker and Podman) are in tests/test_diff.py.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from engine._errors import ProtocolError
from engine._layers.archive import ImageArchiveReader
from engine._layers.diff import ImageDiff, _DiffIndexer, _pick, compare_images
from engine._layers.model import ChangeKind
from engine._layers.tar import TarMember, TarParser
from engine._models import ImageDetails


@dataclass
class M:
    """One member of a hand-made layer tar."""

    name: str
    data: bytes | None = None  # a regular file's content
    kind: bytes = tarfile.REGTYPE
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 1_000_000


def layer_tar(members: Sequence[M], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.type, info.linkname, info.mode = m.kind, m.link, m.mode
            info.uid, info.gid, info.mtime = m.uid, m.gid, m.mtime
            info.size = len(m.data) if m.data is not None else 0
            archive.addfile(info, io.BytesIO(m.data) if m.data is not None else None)
    return buffer.getvalue()


def export(images: Sequence[tuple[str, Sequence[str], dict[str, object]]],
           layers: dict[str, bytes]) -> bytes:
    """A legacy ``docker save`` of several images: ``<id>/layer.tar``, configs, manifest last."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

        for name, data in layers.items():
            add(f"{name}/layer.tar", data)
        for config_id, _, config in images:
            add(f"{config_id}.json", json.dumps(config).encode())
        add("manifest.json", json.dumps([
            {"Config": f"{config_id}.json", "RepoTags": None,
             "Layers": [f"{name}/layer.tar" for name in names]}
            for config_id, names, _ in images]).encode())
    return buffer.getvalue()


def config(diff_ids: Sequence[str], env: Sequence[str] = (), **extra: object) -> dict[str, object]:
    return {"os": "linux", "architecture": "amd64", "config": {"Env": list(env), **extra},
            "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
            "history": [{"created_by": f"step {d}"} for d in diff_ids]}


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_parser_details_agree_with_tarfile(fmt: int) -> None:
    uid = 3_000_000 if fmt == tarfile.PAX_FORMAT else 1234  # PAX: beyond the 7 octal digits
    data = layer_tar([M("a", b"x", mode=0o4755, uid=uid, gid=42), M("d/", kind=tarfile.DIRTYPE,
                      mode=0o1777, uid=7, gid=8), M("l", kind=tarfile.SYMTYPE, link="a",
                                                    mode=0o777)], fmt)
    seen: list[TarMember] = []

    def collect(member: TarMember) -> None:
        seen.append(member)

    parser = TarParser(collect, details=True)
    parser.feed(data)
    parser.close()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        expected = [(m.name.rstrip("/"), m.mode, m.uid, m.gid) for m in archive.getmembers()]
    assert [(m.name.rstrip("/"), m.mode, m.uid, m.gid) for m in seen] == expected
    assert expected[0] == ("a", 0o4755, uid, 42)
    seen.clear()
    parser = TarParser(collect)
    parser.feed(data)
    assert [(m.mode, m.uid) for m in seen] == [(0, 0)] * 3  # the analysis does not pay


def _diff(first_layers: Sequence[str], second_layers: Sequence[str], layers: dict[str, bytes],
          first_config: dict[str, object] | None = None,
          second_config: dict[str, object] | None = None,
          chunk: int = 1000) -> ImageDiff:
    """Layers are named ``NAME/layer.tar`` in the export, diff ID ``sha256:NAME``."""
    first_config = first_config or config([f"sha256:{n}" for n in first_layers])
    second_config = second_config or config([f"sha256:{n}" for n in second_layers])
    data = export([("aa", first_layers, first_config), ("bb", second_layers, second_config)],
                  layers)
    reader = ImageArchiveReader(_DiffIndexer)
    for pos in range(0, len(data), chunk):  # odd chunks: sinks see data split anywhere
        reader.feed(data[pos:pos + chunk])
    first, second = reader.close_all()
    return compare_images(first, second, first_name="a", second_name="b")


def test_files_compared_by_content_mode_owner_and_link_never_by_mtime() -> None:
    base = layer_tar([
        M("etc/", kind=tarfile.DIRTYPE, mode=0o755),
        M("etc/same", b"12345"), M("etc/content", b"abcde"), M("etc/mode", b"m"),
        M("etc/owner", b"o"), M("etc/link", kind=tarfile.SYMTYPE, link="same"),
        M("etc/gone", b"gone!"), M("opq/", kind=tarfile.DIRTYPE), M("opq/old", b"old"),
        M("opq/kept", b"kept"), M("thing", b"file")])
    top_a = layer_tar([M("a-only", b"aaaa")])
    top_b = layer_tar([
        M("etc/", kind=tarfile.DIRTYPE, mode=0o755, mtime=2_000_000),  # mtime only
        M("etc/same", b"12345", mtime=2_000_000),                       # mtime only
        M("etc/content", b"edcba"), M("etc/mode", b"m", mode=0o600),
        M("etc/owner", b"o", uid=1000, gid=1000),
        M("etc/link", kind=tarfile.SYMTYPE, link="mode"),
        M("etc/.wh.gone"),
        M("opq/", kind=tarfile.DIRTYPE), M("opq/.wh..wh..opq"), M("opq/kept", b"kept"),
        M("thing/", kind=tarfile.DIRTYPE), M("thing/inside", b"12"),
        M("new", b"0123456789"), M("hard", kind=tarfile.LNKTYPE, link="new"),
    ])
    diff = _diff(["base", "a"], ["base", "b"],
                 {"base": base, "a": top_a, "b": top_b},
                 second_config=config(["sha256:base", "sha256:b"], env=["X=1"], User="app"))
    assert diff.shared_layers == 1
    assert diff.shared_steps == 1
    found = {f.path: (f.kind.value, f.delta, f.differences) for f in diff.files}
    assert found == {
        "a-only": ("removed", -4, ()),
        "etc/gone": ("removed", -5, ()),
        "opq/old": ("removed", -3, ()),
        "etc/content": ("modified", 0, ("content",)),
        "etc/mode": ("modified", 0, ("mode",)),
        "etc/owner": ("modified", 0, ("owner",)),
        "etc/link": ("modified", 0, ("link",)),
        "thing": ("modified", -4, ("kind",)),
        "thing/inside": ("added", 2, ()),
        "new": ("added", 10, ()),
        "hard": ("added", 10, ()),  # a hard link is the file whose bytes it shares
    }
    hard = next(f for f in diff.files if f.path == "hard")
    new = next(f for f in diff.files if f.path == "new")
    assert hard.after is not None and new.after is not None
    assert hard.after.digest == new.after.digest != ""
    assert [f.path for f in diff.files][:3] == ["hard", "new", "etc/gone"]
    assert diff.size_delta == 10 + 10 + 2 - 4 - 5 - 3 - 4
    assert [(d.path, d.delta, d.changes) for d in diff.directories] == [
        ("etc", -5, 5), ("opq", -3, 1), ("thing", 2, 1)]
    assert [(c.field, c.key, c.before, c.after) for c in diff.config_changes] == [
        ("user", "", None, "app"), ("env", "X", None, "1")]
    assert diff.second.layers[1].size == 10 + 2 + 5 + 1 + 1 + 4 + 5 + 4  # the link counts once


def test_the_same_image_twice_shows_nothing() -> None:
    base = layer_tar([M("f", b"data")])
    diff = _diff(["base"], ["base"], {"base": base})
    assert diff.identical
    assert diff.files == () and diff.directories == ()
    assert diff.first.size == diff.second.size == 4
    assert diff.config_changes == ()
    assert diff.of_kind(ChangeKind.ADDED) == ()


def test_images_of_one_export_are_told_apart_when_the_config_is_not_named_by_the_id() -> None:
    """The containerd store's image ID is a manifest digest, not the config's: two images
    on the same layers are then told apart by their config values."""
    base = layer_tar([M("f", b"data")])
    data = export([("c1", ["base"], config(["sha256:base"], Labels={"v": "1"})),
                   ("c2", ["base"], config(["sha256:base"], Labels={"v": "2"}))],
                  {"base": base})
    reader = ImageArchiveReader(_DiffIndexer)
    reader.feed(data)
    saved = reader.close_all()

    def details(image_id: str, label: str) -> ImageDetails:
        return ImageDetails.from_api({"Id": image_id, "RootFS": {"Layers": ["sha256:base"]},
                                      "Config": {"Labels": {"v": label}}})

    assert _pick(saved, details("sha256:m2", "2")) is saved[1]
    assert _pick(saved, details("sha256:m1", "1")) is saved[0]
    assert _pick(saved, details("sha256:c2", "1")) is saved[1]  # the config's name wins
    with pytest.raises(ProtocolError):
        _pick(saved, details("sha256:m3", "3"))
