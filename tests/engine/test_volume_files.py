"""A volume's files against real engines: browse, save out, back up, restore, clone.

What the bindings read is compared with what a container of the test image
sees of the same volume (``find``, ``tar``), run by the docker CLI.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import os
import tarfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import engine
from engine._endpoint import parse_host
from tests.conftest import LABEL, EngineUnderTest, unique_name
from tests.disk_helpers import LABELS, disk_engine  # noqa: F401
from tests.fault_proxy import FaultProxy, raw_body

pytestmark = pytest.mark.anyio

#: Known contents: sizes chosen so every folder's total is distinct.
FILL = (
    "mkdir -p /v/docs/deep/er /v/empty /v/bin && "
    "printf hello > /v/docs/hello.txt && "  # 5
    "head -c 3000 /dev/zero > /v/docs/deep/zeros && "  # 3000
    "head -c 70000 /dev/urandom > /v/docs/deep/er/random.bin && "  # 70000
    "printf '#!/bin/sh\\necho hi\\n' > /v/bin/run.sh && chmod 750 /v/bin/run.sh && "  # 18
    "chmod 640 /v/docs/hello.txt && chmod 711 /v/docs/deep && "
    "ln -s docs/hello.txt /v/link && "
    "printf 'x' > '/v/name with spaces'"  # 1
)


def fill(target: EngineUnderTest, volume: str, script: str = FILL) -> None:
    target.cli("run", "--rm", "--label", LABEL, "-v", f"{volume}:/v", target.image,
               "sh", "-c", script)


def cli_find(target: EngineUnderTest, volume: str) -> set[str]:
    """What ``docker run --rm -v VOL:/v busybox find /v`` shows, relative to /v."""
    out = target.cli("run", "--rm", "--label", LABEL, "-v", f"{volume}:/v", target.image,
                     "find", "/v")
    return {line.removeprefix("/v").lstrip("/") for line in out.splitlines()}


def cli_tar(target: EngineUnderTest, volume: str) -> dict[str, tuple[str, int, bytes, str]]:
    """Every member of the volume as a container's ``tar`` sees it: type, mode, bytes, link."""
    # Bytes through the CLI's stdout are read as text: base64 them.
    raw = target.cli("run", "--rm", "--label", LABEL, "-v", f"{volume}:/v", target.image,
                     "sh", "-c", "tar cf - -C /v . | base64")
    return members(base64.b64decode(raw))


def members(data: bytes) -> dict[str, tuple[str, int, bytes, str]]:
    found: dict[str, tuple[str, int, bytes, str]] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            name = member.name.removeprefix("./").rstrip("/")
            content = archive.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            found["" if name == "." else name] = (
                member.type.decode(), member.mode & 0o7777, content, member.linkname)
    return found


@pytest.fixture
def volume(disk_engine: EngineUnderTest) -> Iterator[str]:  # noqa: F811
    name = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, name)
    fill(disk_engine, name)
    yield name


def our_helpers(target: EngineUnderTest) -> list[str]:
    return target.cli("ps", "-aq", "--filter", f"label={LABEL}", "--filter",
                      f"label={engine.HELPER_LABEL}={engine.HELPER_KIND}").split()


async def test_tree_equals_find_with_sizes(disk_engine: EngineUnderTest,  # noqa: F811
                                           volume: str) -> None:
    async with await disk_engine.open() as client:
        async with engine.volume_helper(client, volume, image=disk_engine.image,
                                        labels=LABELS) as helper:
            assert len(our_helpers(disk_engine)) == 1
            tree = await helper.tree()
            assert set(tree.entries) == cli_find(disk_engine, volume)
            by_path = tree.entries
            assert by_path["docs/hello.txt"].size == 5
            assert by_path["docs/deep/er/random.bin"].size == 70000
            assert by_path["docs/deep/er"].size == 70000
            assert by_path["docs/deep"].size == 73000
            assert by_path["docs"].size == 73005
            assert by_path["bin"].size == 18
            assert by_path["empty"].size == 0 and by_path["empty"].is_dir
            assert by_path["link"].kind is engine.VolumeEntryKind.SYMLINK
            assert by_path["link"].link_target == "docs/hello.txt"
            assert tree.size == 73005 + 18 + 1
            assert [e.name for e in tree.children("")] == [
                "bin", "docs", "empty", "link", "name with spaces"]
            assert [e.name for e in tree.children("docs")] == ["deep", "hello.txt"]

            # A subfolder read on its own: the same entries under it, the same sizes.
            sub = await helper.tree("docs/deep")
            assert set(sub.entries) == {p for p in tree.entries if p.startswith("docs/deep")}
            assert sub.size == 73000 and sub.entries["docs/deep/zeros"].size == 3000

            stat = await helper.stat("bin/run.sh")
            assert (stat.name, stat.size, stat.mode, stat.kind) == (
                "run.sh", 18, 0o750, engine.VolumeEntryKind.FILE)
            assert (await helper.stat("docs")).kind is engine.VolumeEntryKind.DIRECTORY
            with pytest.raises(engine.NotFound):
                await helper.stat("no/such/file")
        assert our_helpers(disk_engine) == []


async def test_helper_is_never_started_and_mounts_read_only(
        disk_engine: EngineUnderTest, volume: str) -> None:  # noqa: F811
    async with await disk_engine.open() as client:
        async with engine.volume_helper(client, volume, image=disk_engine.image,
                                        labels=LABELS) as helper:
            details = await client.container(helper.id)
            assert details.state.status == "created"
            [mount] = [m for m in details.mounts if m.name == volume]
            assert mount.destination == "/volume" and mount.read_only
            before = cli_find(disk_engine, volume)
            # Read-only: no writes through it (Podman's archive API would write anyway).
            with pytest.raises(engine.APIError, match="read-only"):
                await helper.put_tar(_one_chunk(_tar_of({"new.txt": b"x"})))
            assert cli_find(disk_engine, volume) == before
        assert our_helpers(disk_engine) == []
        with pytest.raises(engine.NotFound):  # no helper (and no volume) made for a typo
            async with engine.volume_helper(client, unique_name("missing"),
                                            image=disk_engine.image, labels=LABELS):
                pass
        assert our_helpers(disk_engine) == []


async def test_save_a_file_and_a_folder_out(disk_engine: EngineUnderTest,  # noqa: F811
                                           volume: str, tmp_path: Path) -> None:
    expected = cli_tar(disk_engine, volume)
    async with await disk_engine.open() as client:
        saved = await engine.export_path(client, volume, "docs/deep/er/random.bin",
                                         tmp_path / "copy.bin", image=disk_engine.image,
                                         labels=LABELS)
        assert saved.read_bytes() == expected["docs/deep/er/random.bin"][2]
        folder = await engine.export_path(client, volume, "docs", tmp_path / "docs-out",
                                          image=disk_engine.image, labels=LABELS)
        assert (folder / "hello.txt").read_bytes() == b"hello"
        assert (folder / "hello.txt").stat().st_mode & 0o777 == 0o640
        assert (folder / "deep" / "zeros").read_bytes() == bytes(3000)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.bin", "docs-out"]
        with pytest.raises(engine.NotFound):
            await engine.export_path(client, volume, "nope", tmp_path / "nope",
                                     image=disk_engine.image, labels=LABELS)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.bin", "docs-out"]
    assert our_helpers(disk_engine) == []


async def test_saving_a_folder_keeps_links_skips_fifos_and_never_replaces_a_folder(
        disk_engine: EngineUnderTest, tmp_path: Path) -> None:  # noqa: F811
    """Review of #13: an absolute symlink (common in volumes) failed the save with a
    traceback, and saving over an existing folder removed the user's folder."""
    name = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, name)
    try:
        disk_engine.cli("run", "--rm", "--label", LABEL, "-v", f"{name}:/v", disk_engine.image,
                        "sh", "-c", "mkdir /v/app && echo hi > /v/app/f"
                        " && ln -s /srv/app/v2 /v/app/current && ln -s f /v/app/alias"
                        " && mkfifo /v/app/pipe")
        async with await disk_engine.open() as client:
            saved = await engine.export_path(client, name, "app", tmp_path / "app",
                                             image=disk_engine.image, labels=LABELS)
            assert (saved / "f").read_bytes() == b"hi\n"
            assert os.readlink(saved / "current") == "/srv/app/v2"
            assert (saved / "alias").read_bytes() == b"hi\n"
            assert sorted(os.listdir(saved)) == ["alias", "current", "f"]  # no FIFO
            mine = tmp_path / "mine"
            mine.mkdir()
            (mine / "keep.txt").write_text("mine")
            with pytest.raises(FileExistsError):
                await engine.export_path(client, name, "app", mine,
                                         image=disk_engine.image, labels=LABELS)
            assert sorted(os.listdir(mine)) == ["keep.txt"]
            assert (mine / "keep.txt").read_text() == "mine"
        assert our_helpers(disk_engine) == []
    finally:
        disk_engine.cli("volume", "rm", name, check=False)


async def test_backup_restore_round_trip_byte_for_byte(
        disk_engine: EngineUnderTest, volume: str, tmp_path: Path) -> None:  # noqa: F811
    original = cli_tar(disk_engine, volume)
    archive = tmp_path / "backup.tar.gz"
    seen: list[tuple[int, int | None]] = []
    async with await disk_engine.open() as client:
        written = await engine.backup_volume(client, volume, archive, image=disk_engine.image,
                                             labels=LABELS,
                                             progress=lambda d, t: seen.append((d, t)))
        assert written > 73024 and seen[-1][0] == written
        assert archive.stat().st_mode & 0o777 == 0o666 & ~_umask()
        backed_up = members(gzip.decompress(archive.read_bytes()))
        assert backed_up == original

        target = unique_name("vol")
        await engine.create_volume(client, target, labels=LABELS)
        assert await engine.volume_is_empty(client, target, image=disk_engine.image,
                                            labels=LABELS)
        assert not await engine.volume_is_empty(client, volume, image=disk_engine.image,
                                                labels=LABELS)
        await engine.restore_volume(client, target, archive, image=disk_engine.image,
                                    labels=LABELS)
        restored = cli_tar(disk_engine, target)
        assert restored == original
        # Sizes as the engine measures them agree too.
        assert (await engine.volume(client, target, size=True)).size == \
            (await engine.volume(client, volume, size=True)).size
    assert our_helpers(disk_engine) == []


async def test_clone_is_equal(disk_engine: EngineUnderTest, volume: str) -> None:  # noqa: F811
    async with await disk_engine.open() as client:
        target = unique_name("clone")
        cloned = await engine.clone_volume(client, volume, target, image=disk_engine.image,
                                           labels=LABELS)
        assert cloned.name == target
        assert cli_tar(disk_engine, target) == cli_tar(disk_engine, volume)
        with pytest.raises(engine.Conflict):
            await engine.clone_volume(client, volume, target, image=disk_engine.image,
                                      labels=LABELS)
    assert our_helpers(disk_engine) == []


async def test_cancelled_backup_leaves_no_helper_and_no_file(
        disk_engine: EngineUnderTest, tmp_path: Path) -> None:  # noqa: F811
    big = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, big)
    fill(disk_engine, big, "head -c 30000000 /dev/urandom > /v/big")
    archive = tmp_path / "big.tar.gz"
    async with await disk_engine.open() as client:
        started = asyncio.Event()

        def progress(_done: int, _total: int | None) -> None:
            started.set()

        task = asyncio.ensure_future(engine.backup_volume(
            client, big, archive, image=disk_engine.image, labels=LABELS, progress=progress))
        await started.wait()
        assert len(our_helpers(disk_engine)) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert our_helpers(disk_engine) == []
        assert list(tmp_path.iterdir()) == []

        # Cancelled clone: no helper, and no half-made target volume.
        target = unique_name("clone")
        started.clear()
        task = asyncio.ensure_future(engine.clone_volume(
            client, big, target, image=disk_engine.image, labels=LABELS, progress=progress))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert our_helpers(disk_engine) == []
        with pytest.raises(engine.NotFound):
            await engine.volume(client, target)


async def test_restore_of_a_broken_archive_fails_cleanly(
        disk_engine: EngineUnderTest, tmp_path: Path) -> None:  # noqa: F811
    target = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, target)
    not_tar = tmp_path / "notes.tar.gz"
    not_tar.write_bytes(b"these are not the bytes of an archive\n")
    # A real start (so the check before the helper passes), then cut off mid-stream.
    whole = gzip.compress(_tar_of({"a.txt": b"a" * 100, "b.bin": bytes(range(256)) * 4000}))
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    async with await disk_engine.open() as client:
        with pytest.raises(engine.BadArchive, match=r"notes\.tar\.gz is not a \.tar\.gz archive"):
            await engine.restore_volume(client, target, not_tar, image=disk_engine.image,
                                        labels=LABELS)
        with pytest.raises(engine.EngineError) as failed:
            await engine.restore_volume(client, target, cut, image=disk_engine.image,
                                        labels=LABELS)
        assert "\n" not in str(failed.value)
        assert our_helpers(disk_engine) == []


async def test_helper_image_is_one_the_engine_has(any_engine: EngineUnderTest) -> None:
    async with await any_engine.open() as client:
        picked = await engine.pick_helper_image(client)
        assert picked in {i.id for i in await client.images()}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _tar_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_engine_lost_mid_backup_then_swept_when_back(
        disk_engine: EngineUnderTest, tmp_path: Path) -> None:  # noqa: F811
    """The engine goes mid-backup: a one-line error, no file; the helper its removal could
    not reach is swept by remove_helpers once the engine answers again."""
    big = unique_name("vol")
    disk_engine.cli("volume", "create", "--label", LABEL, big)
    fill(disk_engine, big, "head -c 30000000 /dev/urandom > /v/big")
    archive = tmp_path / "out" / "big.tar.gz"
    archive.parent.mkdir()
    with FaultProxy(disk_engine.endpoint.socket_path or "", tmp_path / "proxy.sock") as relay:
        async with await engine.Engine.open(parse_host(relay.url, "proxy")) as client:
            def progress(_done: int, _total: int | None) -> None:
                if relay.fault is None:  # gone: the transfer cut, nothing else gets through
                    relay.fault = raw_body(".*", b'{"message": "engine gone"}', 503)
                    relay.cut("/archive")

            with pytest.raises(engine.EngineUnreachable) as lost:
                await engine.backup_volume(client, big, archive, image=disk_engine.image,
                                           labels=LABELS, progress=progress)
            assert "\n" not in str(lost.value)
            assert list(archive.parent.iterdir()) == []
            [left] = our_helpers(disk_engine)  # its removal could not reach the engine

            relay.fault = None  # back
            swept = await engine.remove_helpers(client)
            assert [s[:12] for s in swept] == [left[:12]]
            assert our_helpers(disk_engine) == []
            assert await engine.remove_helpers(client) == []


async def test_sweep_removes_stale_helpers_of_any_owner_and_nothing_else(
        any_engine: EngineUnderTest) -> None:
    """A crashed run's helper (another owner, never started) goes once it is old enough;
    a young one, a running one, another kind of ``dockyard.helper`` and a plain
    container stay."""
    helper = [f"{engine.HELPER_LABEL}={engine.HELPER_KIND}"]
    crashed, _ = any_engine.create("--label", helper[0], "--label",
                                   f"{engine.HELPER_OWNER_LABEL}=a-process-that-died",
                                   any_engine.image, "true")
    running, _ = any_engine.create("--label", helper[0], any_engine.image, "sleep", "300")
    any_engine.cli("start", running)
    other_kind, _ = any_engine.create("--label", f"{engine.HELPER_LABEL}=not-ours",
                                      any_engine.image, "true")
    plain, _ = any_engine.create(any_engine.image, "true")
    # This process's own helper may be in use (a long back-up): never swept, however old.
    mine, _ = any_engine.create("--label", helper[0], "--label",
                                f"{engine.HELPER_OWNER_LABEL}={engine.HELPER_OWNER}",
                                any_engine.image, "true")

    def left() -> set[str]:
        return {i[:12] for i in any_engine.cli("ps", "-aq", "--no-trunc", "--filter",
                                               f"label={LABEL}").split()}

    everything = {crashed[:12], running[:12], other_kind[:12], plain[:12], mine[:12]}
    assert everything <= left()
    async with await any_engine.open() as client:
        # Made a moment ago: younger than the default age, so kept.
        assert await engine.sweep_stale_helpers(client, labels=[LABEL]) == []
        assert everything <= left()
        # Two days from now, the default age has passed (the age is the engine's Created).
        later = datetime.now(UTC) + timedelta(days=2)
        swept = await engine.sweep_stale_helpers(client, now=later, labels=[LABEL])
        assert [s[:12] for s in swept] == [crashed[:12]]
        assert left() & everything == everything - {crashed[:12]}
        # With no age at all: still nothing but a stopped helper of this code's kinds.
        assert await engine.sweep_stale_helpers(client, older_than=0, labels=[LABEL]) == []
    assert engine.is_helper({engine.HELPER_LABEL: engine.HELPER_KIND})
    assert not engine.is_helper({engine.HELPER_LABEL: "not-ours"})
    assert not engine.is_helper({})


async def test_a_known_size_spares_measuring_the_whole_engine(
        disk_engine: EngineUnderTest, volume: str, tmp_path: Path) -> None:  # noqa: F811
    """The page knows a volume's size from its list: backing up or cloning with it asks
    no /system/df (a measurement of every image and volume on a big engine)."""
    archive = tmp_path / "backup.tar.gz"
    totals: set[int | None] = set()
    with FaultProxy(disk_engine.endpoint.socket_path or "", tmp_path / "proxy.sock") as relay:
        async with await engine.Engine.open(parse_host(relay.url, "proxy")) as client:
            listed = await engine.volume(client, volume, size=True)
            assert listed.size is not None and listed.size > 0
            measured_before = sum("/system/df" in r for r in relay.requests)
            written = await engine.backup_volume(
                client, volume, archive, image=disk_engine.image, labels=LABELS,
                size=listed.size, progress=lambda _done, total: totals.add(total))
            target = unique_name("clone")
            await engine.clone_volume(client, volume, target, image=disk_engine.image,
                                      labels=LABELS, size=listed.size,
                                      progress=lambda _done, total: totals.add(total))
            assert sum("/system/df" in r for r in relay.requests) == measured_before
    assert written > 0 and totals == {listed.size}
    assert cli_tar(disk_engine, target) == cli_tar(disk_engine, volume)
    assert our_helpers(disk_engine) == []
