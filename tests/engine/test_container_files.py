"""A container's files through the archive API, against Docker and Podman.

What the bindings report is compared with the docker CLI on the same engine:
``docker diff`` for the changes, ``docker cp`` for copies in and out.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import engine
from tests.conftest import EngineUnderTest
from tests.waits import seconds

pytestmark = pytest.mark.anyio

#: A container that writes, changes and deletes files, then stops.
SCRIPT = (
    "mkdir -p /data/deep && printf hello > /data/hello.txt && "  # 5
    "head -c 3000 /dev/zero > /data/deep/zeros && "  # 3000
    "chmod 640 /data/hello.txt && ln -s hello.txt /data/link && "
    "echo changed >> /etc/hostname.txt && "
    "rm /bin/vi && "
    "printf 'caf\\351\\n' > /data/latin1.txt && "
    "printf 'a\\000b' > /data/binary.bin"
)


def run_and_stop(target: EngineUnderTest, *args: str) -> tuple[str, str]:
    """A container of the test image that ran :data:`SCRIPT` and exited."""
    container_id, name = target.create(*args, target.image, "sh", "-c", SCRIPT)
    target.cli("start", "-a", name, timeout=seconds(60))
    return container_id, name


async def listing(client: engine.Engine, container_id: str, path: str = "/"
                  ) -> tuple[dict[str, engine.ContainerFile], dict[str, int]]:
    entries: dict[str, engine.ContainerFile] = {}
    sizes: dict[str, int] = {}
    async for batch in engine.list_tree(client, container_id, path, chunk=4096):
        entries.update((e.path, e) for e in batch.entries)
        if batch.sizes is not None:
            sizes = dict(batch.sizes)
    return entries, sizes


async def test_listing_a_stopped_container(any_engine: EngineUnderTest) -> None:
    container_id, _name = run_and_stop(any_engine)
    async with await any_engine.open() as client:
        entries, sizes = await listing(client, container_id)
        hello = entries["/data/hello.txt"]
        assert (hello.kind, hello.size, hello.mode) == (engine.FileKind.FILE, 5, 0o640)
        assert hello.mtime > 0 and (hello.uid, hello.gid) == (0, 0)
        assert entries["/data/link"].kind is engine.FileKind.SYMLINK
        assert entries["/data/link"].link_target == "hello.txt"
        assert entries["/data/deep"].is_dir
        assert entries["/bin/busybox"].size == os.path.getsize("/bin/busybox")
        assert "/bin/vi" not in entries
        assert sizes["/data/deep"] == 3000
        assert sizes["/data"] == 3000 + 5 + 5 + 3
        # A subfolder read alone: the same entries under it, the same sizes.
        sub, sub_sizes = await listing(client, container_id, "/data")
        assert set(sub) == {p for p in entries if p.startswith("/data/")}
        assert sub_sizes["/data"] == sizes["/data"]
        with pytest.raises(engine.NotFound):
            await listing(client, container_id, "/no/such/folder")


async def test_changes_match_docker_diff(any_engine: EngineUnderTest) -> None:
    container_id, name = run_and_stop(any_engine)
    letters = {engine.ChangeKind.ADDED: "A", engine.ChangeKind.MODIFIED: "C",
               engine.ChangeKind.REMOVED: "D"}
    async with await any_engine.open() as client:
        changes = await engine.container_changes(client, container_id)
    cli = set(any_engine.cli("diff", name).splitlines())
    assert {f"{letters[c.kind]} {c.path}" for c in changes} == cli
    by_path = {c.path: c for c in changes}
    assert by_path["/bin/vi"].kind is engine.ChangeKind.REMOVED
    assert by_path["/data/hello.txt"].size == 5
    assert by_path["/data"].is_dir and by_path["/data"].kind is engine.ChangeKind.ADDED


async def test_open_a_file_head_and_its_encoding(any_engine: EngineUnderTest) -> None:
    container_id, _name = run_and_stop(any_engine)
    async with await any_engine.open() as client:
        data, size = await engine.read_file_head(client, container_id, "/data/link", 100)
        assert (data, size) == (b"hello", 5)  # the link is followed
        data, size = await engine.read_file_head(client, container_id, "/data/deep/zeros", 10)
        assert (data, size) == (bytes(10), 3000)
        latin, _ = await engine.read_file_head(client, container_id, "/data/latin1.txt", 100)
        assert engine.decode_text(latin) == engine.DecodedText("café\n", "Windows-1252")
        binary, _ = await engine.read_file_head(client, container_id, "/data/binary.bin", 100)
        assert engine.decode_text(binary).binary
        with pytest.raises(engine.APIError, match="folder"):
            await engine.read_file_head(client, container_id, "/data", 100)


async def test_copy_in_and_out_round_trip_against_docker_cp(
        any_engine: EngineUnderTest, tmp_path: Path) -> None:
    container_id, name = run_and_stop(any_engine)
    local = tmp_path / "local"
    (local / "tree" / "sub").mkdir(parents=True)
    payload = os.urandom(300_000)
    (local / "tree" / "sub" / "random.bin").write_bytes(payload)
    (local / "single.txt").write_bytes(b"one file\n")
    async with await any_engine.open() as client:
        sent = await engine.copy_into(client, container_id, "/data",
                                      [local / "tree", local / "single.txt"])
        assert sent > 300_000
        # Out with docker cp: byte for byte what went in.
        out = tmp_path / "cli-out"
        out.mkdir()
        any_engine.cli("cp", f"{name}:/data/tree", str(out))
        assert (out / "tree" / "sub" / "random.bin").read_bytes() == payload
        any_engine.cli("cp", f"{name}:/data/single.txt", str(out / "single.txt"))
        assert (out / "single.txt").read_bytes() == b"one file\n"

        # In with docker cp, out with ours.
        other = os.urandom(70_000)
        (tmp_path / "other.bin").write_bytes(other)
        any_engine.cli("cp", str(tmp_path / "other.bin"), f"{name}:/data/other.bin")
        saved = await engine.save_container_path(client, container_id, "/data/other.bin",
                                                 tmp_path / "saved.bin")
        assert saved.read_bytes() == other
        folder = await engine.save_container_path(client, container_id, "/data",
                                                  tmp_path / "saved-data")
        assert (folder / "tree" / "sub" / "random.bin").read_bytes() == payload
        assert (folder / "hello.txt").read_bytes() == b"hello"
        assert os.readlink(folder / "link") == "hello.txt"


async def test_refusals_are_the_daemons_words(any_engine: EngineUnderTest,
                                              tmp_path: Path) -> None:
    container_id, _name = any_engine.create("--read-only", any_engine.image, "true")
    (tmp_path / "f.txt").write_text("x")
    async with await any_engine.open() as client:
        with pytest.raises(engine.APIError) as refused:
            await engine.copy_into(client, container_id, "/", [tmp_path / "f.txt"])
        assert "read-only" in str(refused.value)
        writable, _ = any_engine.create(any_engine.image, "true")
        with pytest.raises(engine.APIError) as missing:
            await engine.copy_into(client, writable, "/no/such/dir", [tmp_path / "f.txt"])
        assert "/no/such/dir" in str(missing.value) or "no such" in str(missing.value).lower()
