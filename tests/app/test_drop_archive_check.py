"""Telling an image archive from a build context at drag-enter, reading only its start."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

from app.widgets.drop_overlay import LOOK_LIMIT, is_image_archive


def _tar(path: Path, members: dict[str, bytes], *, zipped: bool = False) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue(), 1) if zipped else buffer.getvalue())
    return path


def test_image_archives_are_known_plain_and_gzipped(tmp_path: Path) -> None:
    saved = {"manifest.json": b"[]", "repositories": b"{}"}
    assert is_image_archive(_tar(tmp_path / "a.tar", saved))
    assert is_image_archive(_tar(tmp_path / "a.tar.gz", saved, zipped=True))
    podman = {"a" * 64 + ".tar": b"layer"}
    assert is_image_archive(_tar(tmp_path / "p.tar", podman))


def test_a_big_build_context_is_not_read_through(tmp_path: Path) -> None:
    """Its first file is bigger than the look allows: the answer is no, without reading
    (or un-gzipping) the whole of it on the GUI thread."""
    big = {"Dockerfile": b"FROM busybox\n", "data.bin": bytes(LOOK_LIMIT * 2),
           "manifest.json": b"[]"}
    assert not is_image_archive(_tar(tmp_path / "ctx.tar", big))
    assert not is_image_archive(_tar(tmp_path / "ctx.tar.gz", big, zipped=True))
    assert not is_image_archive(tmp_path / "missing.tar")
    (tmp_path / "notes.txt").write_text("not a tar")
    assert not is_image_archive(tmp_path / "notes.txt")
