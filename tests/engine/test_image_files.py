"""Images and filesystems as tar files, on both engines: save, load, import, export.

A save is compared with ``docker save`` of the same image (the image IDs the two
archives name); a load must bring back the tag and the same image ID; an
import/export round trip must give back a file's exact bytes.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

import engine
from tests.conftest import LABEL, RUN_ID, EngineUnderTest, unique_name

pytestmark = pytest.mark.anyio


def _archive_ids(path: Path) -> list[str]:
    """The image IDs a docker-archive names (manifest.json's Config: <id>.json or blobs/…)."""
    with tarfile.open(path) as archive:
        member = archive.extractfile("manifest.json")
        assert member is not None
        manifest = json.load(member)
    ids = []
    for entry in manifest:
        config = entry["Config"].removeprefix("blobs/sha256/").removesuffix(".json")
        ids.append("sha256:" + config)
    return ids


async def _drain(stream: object) -> list[engine.Transfer]:
    return [item async for item in stream]  # type: ignore[attr-defined]


async def test_save_and_load_round_trip_as_docker_save(any_engine: EngineUnderTest,
                                                       tmp_path: Path) -> None:
    tag = f"dockyard-test/saved-{any_engine.kind}:{RUN_ID}"
    any_engine.cli("tag", any_engine.image, tag)
    try:
        image_id = any_engine.cli("image", "inspect", "--format", "{{.Id}}", tag)
        ours, theirs = tmp_path / "ours.tar", tmp_path / "theirs.tar"
        async with await any_engine.open() as client:
            saved = await _drain(engine.save_images(client, [tag], ours))
            any_engine.cli("save", "-o", str(theirs), tag)
            assert _archive_ids(ours) == _archive_ids(theirs) == [image_id]
            assert saved[-1].done == ours.stat().st_size
            assert saved[-1].fraction == 1.0
            assert not (tmp_path / "ours.tar.part").exists()
            any_engine.cli("rmi", tag)
            loaded = await _drain(engine.load_images(client, ours))
        assert loaded[-1].images == (any_engine.qualified(tag),)
        assert loaded[-1].done == ours.stat().st_size
        assert any_engine.cli("image", "inspect", "--format", "{{.Id}}", tag) == image_id
    finally:
        any_engine.cli("rmi", tag, check=False)


async def test_save_several_gzipped_and_load_them_back(any_engine: EngineUnderTest,
                                                       tmp_path: Path) -> None:
    tags = [f"dockyard-test/gz-{n}-{any_engine.kind}:{RUN_ID}" for n in (1, 2)]
    for tag in tags:
        any_engine.cli("tag", any_engine.image, tag)
    try:
        target = tmp_path / "both.tar.gz"
        async with await any_engine.open() as client:
            await _drain(engine.save_images(client, tags, target))
            assert engine.is_gzip(target)
            with gzip.open(target) as unzipped, \
                    tarfile.open(fileobj=io.BytesIO(unzipped.read())) as inner:
                assert inner.getmember("manifest.json")
            for tag in tags:
                any_engine.cli("rmi", tag)
            loaded = await _drain(engine.load_images(client, target))
        assert sorted(loaded[-1].images) == sorted(any_engine.qualified(t) for t in tags)
    finally:
        any_engine.cli("rmi", *tags, check=False)


async def test_a_cancelled_save_leaves_no_file(docker_engine: EngineUnderTest,
                                               tmp_path: Path) -> None:
    target = tmp_path / "cancelled.tar"
    async with await docker_engine.open() as client:
        stream = engine.save_images(client, [docker_engine.image], target)
        first = await anext(stream)
        assert first.done > 0
        await stream.aclose()
    assert sorted(os.listdir(tmp_path)) == []


async def test_loading_what_is_not_an_image_archive(any_engine: EngineUnderTest,
                                                    tmp_path: Path) -> None:
    source = tmp_path / "notes.tar"
    with tarfile.open(source, "w") as archive:
        data = b"just a file\n"
        info = tarfile.TarInfo("notes.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    async with await any_engine.open() as client:
        with pytest.raises(engine.ArchiveError) as failed:
            await _drain(engine.load_images(client, source))
        assert str(failed.value).startswith("loading notes.tar failed")
        assert "\n" not in str(failed.value)
        with pytest.raises(engine.ArchiveError, match="cannot read"):
            await _drain(engine.load_images(client, tmp_path / "missing.tar"))


async def test_save_of_a_missing_image_and_to_a_folder_that_is_not_there(
    docker_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    async with await docker_engine.open() as client:
        with pytest.raises(engine.NotFound):
            await _drain(engine.save_images(client, [unique_name("nothing")],
                                            tmp_path / "x.tar"))
        with pytest.raises(engine.ArchiveError, match=r"^cannot write"):
            await _drain(engine.save_images(client, [docker_engine.image],
                                            tmp_path / "no" / "x.tar"))


async def test_import_and_export_round_trip_a_file_s_bytes(any_engine: EngineUnderTest,
                                                            tmp_path: Path) -> None:
    payload = os.urandom(300_000) + RUN_ID.encode()
    rootfs = tmp_path / "rootfs.tar.gz"
    with tarfile.open(rootfs, "w:gz") as archive:
        directory = tarfile.TarInfo("data")
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o755
        archive.addfile(directory)
        info = tarfile.TarInfo("data/payload.bin")
        info.size = len(payload)
        info.mode = 0o640
        archive.addfile(info, io.BytesIO(payload))
    repository = f"dockyard-test/imported-{any_engine.kind}"
    name = unique_name("export")
    async with await any_engine.open() as client:
        imported = await _drain(engine.import_image(
            client, rootfs, repository, RUN_ID, changes=[f"LABEL {LABEL}", 'CMD ["none"]']))
        image_id = imported[-1].images[0]
        try:
            details = await client.image(f"{repository}:{RUN_ID}")
            assert details.id == image_id
            container_id = await client.create_container(
                f"{repository}:{RUN_ID}", name=name, labels={LABEL.split("=")[0]: RUN_ID})
            exported = tmp_path / "exported.tar"
            progress = await _drain(engine.export_container(client, container_id, exported))
            assert progress[-1].done == exported.stat().st_size
            with tarfile.open(exported) as archive:
                member = archive.extractfile("data/payload.bin")
                assert member is not None and member.read() == payload
                assert archive.getmember("data/payload.bin").mode & 0o777 == 0o640
        finally:
            any_engine.cli("rm", "-f", name, check=False)
            any_engine.cli("rmi", "-f", f"{repository}:{RUN_ID}", check=False)
