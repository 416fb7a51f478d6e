"""The layer cache: an image analysed once is read back without an export, on every engine.

What a user relies on: re-opening an image's files asks the engine for no export
and shows the very same analysis; a torn or damaged entry is never believed
(the export is read again and the entry rewritten); the cache stays within its
bound, dropping the least recently used first; an image removed from the
engine leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine import Engine, LayerCache, SavedImage, layer_cache_scope
from engine._layers import ImageAnalysis, analyze_image
from engine._layers.cache import decode, default_directory, encode
from engine._layers.model import EntryKind, FileEntry, LayerFiles
from tests.conftest import LABEL, EngineUnderTest, unique_name
from tests.waits import seconds


def count_exports(client: Engine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of every bulk body (the export) the client opens, the real call made."""
    opened: list[str] = []
    real = client.open_body

    def spy(method: str, path: str, **kwargs: Any) -> Any:
        opened.append(path)
        return real(method, path, **kwargs)

    monkeypatch.setattr(client, "open_body", spy)
    return opened


def same_analysis(a: ImageAnalysis, b: ImageAnalysis) -> None:
    assert a.layers == b.layers
    assert a.image_id == b.image_id and a.repo_tags == b.repo_tags
    assert a.wasted_paths(None) == b.wasted_paths(None)
    assert a.wasted_bytes == b.wasted_bytes
    assert a.unpaired_steps == b.unpaired_steps
    for index in range(len(a.layers)):
        assert a.changes(index) == b.changes(index)
    assert a.aggregated() == b.aggregated()


def entry_path(client: Engine, image_id: str) -> Path:
    return LayerCache().path(layer_cache_scope(client.endpoint.url), image_id)


def test_the_cache_lives_in_the_xdg_cache_directory(private_cache: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_directory() == private_cache / "dockyard" / "layers"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the spec: absolute only
    assert default_directory() == Path.home() / ".cache" / "dockyard" / "layers"


@pytest.mark.anyio
async def test_a_second_open_is_served_from_the_cache_without_an_export(
        any_engine: EngineUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = LayerCache()
    async with await any_engine.open() as client:
        exports = count_exports(client, monkeypatch)
        first = await analyze_image(client, any_engine.image, cache=cache)
        assert len(exports) == 1
        assert entry_path(client, first.image_id).is_file()
        calls: list[tuple[int, int]] = []
        second = await analyze_image(client, any_engine.image, cache=cache,
                                     progress=lambda read, total: calls.append((read, total)))
        assert len(exports) == 1  # no second export
        without = await analyze_image(client, any_engine.image)  # no cache: read again
        assert len(exports) == 2
    same_analysis(second, first)
    same_analysis(second, without)
    # Done at once; how fast is bench_layer_cache's to say, not a test's on a busy machine.
    assert calls and calls[-1][0] == calls[-1][1]


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda data: b"",
    "torn in half": lambda data: data[: len(data) // 2],
    "a flipped byte": lambda data: data[:-10] + bytes([data[-10] ^ 0x40]) + data[-9:],
    "not ours": lambda data: b"garbage" * 100,
    "an older format": lambda data: data[:8] + b"\x00\x00" + data[10:],
}


@pytest.mark.anyio
async def test_a_corrupt_entry_is_ignored_and_rebuilt(
        docker_engine: EngineUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = LayerCache()
    async with await docker_engine.open() as client:
        exports = count_exports(client, monkeypatch)
        good = await analyze_image(client, docker_engine.image, cache=cache)
        path = entry_path(client, good.image_id)
        sound = path.read_bytes()
        for name, corrupt in CORRUPTIONS.items():
            path.write_bytes(corrupt(sound))
            before = len(exports)
            again = await analyze_image(client, docker_engine.image, cache=cache)
            assert len(exports) == before + 1, f"{name}: the damaged entry was believed"
            same_analysis(again, good)
            assert decode(good.image_id, path.read_bytes()).layers == \
                tuple(layer.files for layer in good.layers), f"{name}: not rebuilt"


def test_an_entry_of_another_image_is_not_believed(tmp_path: Path) -> None:
    """A file renamed (or copied) to another image's name never passes for that image."""
    cache = LayerCache(tmp_path)
    cache.store("s", "sha256:" + "a" * 64, saved_image(3))
    os.replace(cache.path("s", "sha256:" + "a" * 64), cache.path("s", "sha256:" + "b" * 64))
    assert cache.load("s", "sha256:" + "b" * 64) is None
    assert not cache.path("s", "sha256:" + "b" * 64).exists()


def test_a_write_that_fails_midway_leaves_no_entry(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cache = LayerCache(tmp_path)
    image_id = "sha256:" + "c" * 64

    def crash(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    assert not cache.store("s", image_id, saved_image(100))
    monkeypatch.undo()
    assert cache.load("s", image_id) is None
    assert list((tmp_path / "s").iterdir()) == []  # nor half a file under any name


def saved_image(files: int, seed: str = "") -> SavedImage:
    entries = tuple(FileEntry(f"usr/share/{seed}{n:06}", n * 37, EntryKind.FILE)
                    for n in range(files))
    links = (FileEntry("bin/sh", 7, EntryKind.SYMLINK, "busybox"),
             FileEntry("bin/ash", 0, EntryKind.HARDLINK, "bin/busybox"),
             FileEntry("usr", 0, EntryKind.DIR))
    return SavedImage((LayerFiles(links + entries), LayerFiles((), ("usr/share/x",), ("etc",))),
                      {"rootfs": {"diff_ids": ["sha256:1", "sha256:2"]}, "history": []},
                      ("a:b",), "c.json")


def test_what_is_stored_is_what_is_loaded(tmp_path: Path) -> None:
    saved = saved_image(50)
    cache = LayerCache(tmp_path)
    assert cache.store("s", "sha256:" + "d" * 64, saved)
    assert cache.load("s", "sha256:" + "d" * 64) == saved
    assert decode("sha256:" + "d" * 64, encode("sha256:" + "d" * 64, saved)) == saved


def test_the_bound_is_respected_least_recently_used_first(tmp_path: Path) -> None:
    one = len(encode("sha256:" + "0" * 64, saved_image(2000)))
    cache = LayerCache(tmp_path, limit=int(one * 3.5))
    ids = [f"sha256:{n:064x}" for n in range(6)]
    for age, image_id in enumerate(ids[:3]):
        assert cache.store("engine-a" if age % 2 else "engine-b", image_id, saved_image(2000))
        path = cache.path("engine-a" if age % 2 else "engine-b", image_id)
        os.utime(path, (1000 + age, 1000 + age))  # stored long ago, oldest first
    assert cache.load("engine-b", ids[0]) is not None  # used now: the most recent
    for age, image_id in enumerate(ids[3:], start=3):
        cache.store("engine-a", image_id, saved_image(2000))
        assert cache.size() <= cache.limit
        os.utime(cache.path("engine-a", image_id), (1000 + age, 1000 + age))
    kept = {path.name for path, _size, _used in cache.entries()}
    assert kept == {name.partition(":")[2] + ".idx" for name in (ids[0], ids[4], ids[5])}

    # One entry larger than the whole bound is not kept either.
    small = LayerCache(tmp_path / "small", limit=one // 2)
    assert not small.store("s", ids[0], saved_image(2000))
    assert small.size() == 0


@pytest.mark.anyio
async def test_a_removed_image_leaves_no_entry(docker_engine: EngineUnderTest,
                                               workdir: Path) -> None:
    context = workdir / unique_name("cache")
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {docker_engine.image}\nLABEL {LABEL}\nLABEL unique={context.name}\n")
    tag = f"dockyard-test/cached:{context.name[len('dockyard-test-'):]}"
    docker_engine.cli("build", "-q", "-t", tag, str(context), timeout=seconds(300))
    cache = LayerCache()
    try:
        async with await docker_engine.open() as client:
            ours = await analyze_image(client, tag, cache=cache)
            shared = await analyze_image(client, docker_engine.image, cache=cache)
            scope = layer_cache_scope(client.endpoint.url)
            # Another engine's entry for the same image: that engine still has it.
            elsewhere = cache.path("another-engine", ours.image_id)
            elsewhere.parent.mkdir(parents=True)
            elsewhere.write_bytes(cache.path(scope, ours.image_id).read_bytes())
            docker_engine.cli("rmi", tag)
            present = [image.id for image in await client.images()]
    finally:
        docker_engine.cli("rmi", "-f", tag, check=False)
    assert ours.image_id not in present
    assert cache.prune(scope, present) >= 1
    assert not cache.path(scope, ours.image_id).exists()
    assert cache.path(scope, shared.image_id).exists()  # still on the engine: kept
    assert elsewhere.exists()
    assert cache.remove(scope, shared.image_id)
    assert not cache.path(scope, shared.image_id).exists()
