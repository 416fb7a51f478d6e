"""Builds and pulls through our bindings, against the real engines and a loopback registry.

The registry is Debian's ``docker-registry`` (distribution v2) serving on 127.0.0.1,
which Docker treats as an insecure registry it may use over plain HTTP.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

import engine
from engine._build import (
    BuildComplete,
    BuildDecoder,
    BuildEvent,
    BuildFailed,
    BuildOutput,
    BuildStep,
    BuildVertex,
    InvalidReference,
    LayerState,
    PullFailed,
    PullFailure,
    PullProgress,
    build,
    decode_buildkit_status,
    parse_reference,
    pull,
    registry_auth,
)
from engine._context import iter_context_tar, walk_context
from engine._decoders import JSONStreamDecoder
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, EngineUnderTest, unique_name
from tests.waits import poll_until, seconds

pytestmark = pytest.mark.anyio
TEST_LABELS = {LABEL_KEY: RUN_ID}


@pytest.fixture
def tags(any_engine: EngineUnderTest) -> Iterator[list[str]]:
    """Tags a test builds; removed (with their untagged parents) afterwards."""
    made: list[str] = []
    yield made
    if made:
        any_engine.cli("rmi", "-f", *made, check=False)


def context(tmp_path: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "ctx"
    root.mkdir()
    (root / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    return root


async def collect(events: AsyncIterator[BuildEvent]) -> list[BuildEvent]:
    return [event async for event in events]


_INTERMEDIATE = re.compile(r"^ ---> ([0-9a-f]{12})$", re.MULTILINE)


@pytest.fixture
def failed_build(any_engine: EngineUnderTest) -> Iterator[list[BuildEvent]]:
    """Events of a build that fails; the classic builder's step images are removed after.

    A failed classic build keeps the images of the steps that succeeded (as cache);
    nothing tags them, so they are found in the output (" ---> 1234abcd5678").
    """
    events: list[BuildEvent] = []
    yield events
    base = any_engine.cli("image", "inspect", "--format", "{{.Id}}", any_engine.image)
    ids = [i for i in _INTERMEDIATE.findall(output_text(events))
           if not base.removeprefix("sha256:").startswith(i)]
    for image_id in reversed(ids):
        any_engine.cli("rmi", image_id, check=False)  # still used as cache elsewhere: kept


def output_text(events: list[BuildEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, BuildOutput))


# -- builds ---------------------------------------------------------------------------------


@pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])
async def test_build_tags_an_image_whose_id_the_cli_agrees_on(
    any_engine: EngineUnderTest, tags: list[str], tmp_path: Path, buildkit: bool
) -> None:
    if buildkit and any_engine.kind == "podman":
        pytest.skip("Podman ignores version=2 and always builds with Buildah")
    tag = f"{unique_name('build')}:1"
    hello = f"hello from the context of {tag}"  # new content each time: no cached RUN
    root = context(tmp_path, f"FROM {any_engine.image}\nCOPY hello.txt /hello.txt\n"
                             "RUN cat /hello.txt\n", {"hello.txt": hello + "\n"})
    tags.append(tag)
    async with await any_engine.open() as client:
        events = await collect(build(client, walk_context(root), tags=[tag],
                                     labels=TEST_LABELS, buildkit=buildkit))
        image = await client.image(tag)
    complete = events[-1]
    assert isinstance(complete, BuildComplete)
    assert any_engine.cli("image", "inspect", "--format", "{{.Id}}", tag) == complete.image_id
    assert image.id == complete.image_id
    assert hello in output_text(events)
    if buildkit:
        vertices = {e.name: e for e in events if isinstance(e, BuildVertex)}
        run = vertices["[3/3] RUN cat /hello.txt"]
        assert run.state == "done" and run.line == 3 and run.duration is not None
        assert vertices["[2/3] COPY hello.txt /hello.txt"].line == 2
    else:
        steps = [e for e in events if isinstance(e, BuildStep)]
        assert [(s.number, s.total, s.line) for s in steps[:3]] == [(1, 4, 1), (2, 4, 2),
                                                                   (3, 4, 3)]
        assert steps[2].instruction == "RUN cat /hello.txt"


async def test_classic_build_marks_cached_steps_and_says_where_the_cache_ended(
    any_engine: EngineUnderTest, tmp_path: Path
) -> None:
    """Two classic builds of one context; before the second, a file step 3 copies changes."""
    root = context(tmp_path, f"FROM {any_engine.image}\nRUN echo {unique_name()} > /f\n"
                             "COPY data.txt /data.txt\nRUN cat /data.txt\n",
                   {"data.txt": "one\n"})
    tag = f"{unique_name('cache')}:1"
    try:
        async with await any_engine.open() as client:
            first = await collect(build(client, walk_context(root), tags=[tag],
                                        labels=TEST_LABELS, buildkit=False))
            (root / "data.txt").write_text("two\n")
            second = await collect(build(client, walk_context(root), tags=[tag],
                                         labels=TEST_LABELS, buildkit=False))
    finally:
        any_engine.cli("rmi", "-f", tag, check=False)

    def cached_steps(events: list[BuildEvent]) -> list[int]:
        return [e.number for e in events if isinstance(e, BuildStep) and e.cached]

    assert cached_steps(first) == []
    # A "Step N/M" line's own line end is no output line of its own.
    assert not [after for before, after in pairwise(first)
                if isinstance(before, BuildStep) and isinstance(after, BuildOutput)
                and not after.text.strip()]
    assert cached_steps(second) == [2]
    done = second[-1]
    assert isinstance(done, BuildComplete) and done.cache is not None
    steps = max(e.total for e in second if isinstance(e, BuildStep)) - 1  # FROM never cached
    assert (done.cache.cached, done.cache.steps) == (1, steps)
    assert (done.cache.first_miss_step, done.cache.first_miss_line,
            done.cache.first_miss) == (3, 3, "COPY data.txt /data.txt")
    assert done.cache.summary == (f"1 of {steps} steps from the cache; the first to miss it"
                                  " was step 3 (line 3: COPY data.txt /data.txt)")
    start = first[-1]
    assert isinstance(start, BuildComplete) and start.cache is not None
    assert (start.cache.cached, start.cache.first_miss_step) == (0, 2)


async def test_buildkit_reports_cached_vertices(
    docker_engine: EngineUnderTest, tmp_path: Path
) -> None:
    root = context(tmp_path, f"FROM {docker_engine.image}\nRUN echo {RUN_ID} > /f\n")
    tag = f"{unique_name('cache')}:1"
    try:
        async with await docker_engine.open() as client:
            await collect(build(client, walk_context(root), tags=[tag], labels=TEST_LABELS,
                                buildkit=True))
            events = await collect(build(client, walk_context(root), tags=[tag],
                                         labels=TEST_LABELS, buildkit=True))
        final = {e.name: e for e in events if isinstance(e, BuildVertex)}
        assert final[f"[2/2] RUN echo {RUN_ID} > /f"].state == "cached"
        done = events[-1]
        assert isinstance(done, BuildComplete) and done.cache is not None
        assert done.cache.summary == "1 of 1 step from the cache"
    finally:
        docker_engine.cli("rmi", "-f", tag, check=False)


@pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])
async def test_build_args_and_target(
    any_engine: EngineUnderTest, tags: list[str], tmp_path: Path, buildkit: bool
) -> None:
    if buildkit and any_engine.kind == "podman":
        pytest.skip("Podman ignores version=2")
    root = context(tmp_path, (
        f"FROM {any_engine.image} AS first\n"
        "ARG GREETING=default\n"
        "RUN echo \"$GREETING\" > /greeting\n"
        f"FROM {any_engine.image} AS second\n"
        "RUN echo second > /second\n"
    ))
    tag = f"{unique_name('args')}:1"
    tags.append(tag)
    async with await any_engine.open() as client:
        await collect(build(client, walk_context(root), tags=[tag], labels=TEST_LABELS,
                            buildargs={"GREETING": "hi there"}, target="first",
                            buildkit=buildkit))
    assert any_engine.cli("run", "--rm", "--label", LABEL, tag, "cat", "/greeting") == "hi there"
    assert any_engine.cli("run", "--rm", "--label", LABEL, tag, "ls", "/", check=True).split(
        ).count("second") == 0


@pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])
async def test_failing_run_points_at_its_line(
    any_engine: EngineUnderTest, tmp_path: Path, buildkit: bool, failed_build: list[BuildEvent]
) -> None:
    if buildkit and any_engine.kind == "podman":
        pytest.skip("Podman ignores version=2")
    root = context(tmp_path, (
        f"FROM {any_engine.image}\n"
        "# set things up\n"
        "ENV A=1\n"
        "WORKDIR /w\n"
        "RUN echo about to fail && \\\n"
        "    exit 7\n"
        "RUN echo never\n"
    ))
    events = failed_build
    async with await any_engine.open() as client:
        with pytest.raises(BuildFailed) as failed:
            async for event in build(client, walk_context(root), labels=TEST_LABELS,
                                     buildkit=buildkit):
                events.append(event)
    error = failed.value
    assert error.line == 5
    assert error.instruction is not None and "exit 7" in error.instruction
    assert "about to fail" in output_text(events)
    if any_engine.kind == "podman":
        assert "exit status 7" in error.message
    elif buildkit:
        assert error.message.endswith("exit code: 7")
        assert error.vertex is not None
    else:
        assert error.message.endswith("returned a non-zero code: 7")
        assert error.step == 4
    assert str(error).endswith(f"(Dockerfile line 5: {error.instruction})")


@pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])
async def test_copy_of_a_missing_file(
    any_engine: EngineUnderTest, tmp_path: Path, buildkit: bool, failed_build: list[BuildEvent]
) -> None:
    if buildkit and any_engine.kind == "podman":
        pytest.skip("Podman ignores version=2")
    root = context(tmp_path, f"FROM {any_engine.image}\nCOPY missing.txt /m\n",
                   {".dockerignore": "secret\n"})
    async with await any_engine.open() as client:
        with pytest.raises(BuildFailed) as failed:
            async for event in build(client, walk_context(root), labels=TEST_LABELS,
                                     buildkit=buildkit):
                failed_build.append(event)
    assert failed.value.line == 2
    assert "missing.txt" in failed.value.message
    assert failed.value.instruction == "COPY missing.txt /m"


async def test_dockerfile_outside_the_context(
    any_engine: EngineUnderTest, tags: list[str], tmp_path: Path
) -> None:
    root = context(tmp_path, "FROM scratch\n", {"a.txt": "a"})
    (root / "Dockerfile").unlink()
    outside = tmp_path / "build.Dockerfile"
    outside.write_text(f"FROM {any_engine.image}\nCOPY . /ctx\nRUN ls -a /ctx\n")
    listing = walk_context(root, str(outside))
    tag = f"{unique_name('outside')}:1"
    tags.append(tag)
    async with await any_engine.open() as client:
        events = await collect(build(client, listing, tags=[tag], labels=TEST_LABELS))
    assert isinstance(events[-1], BuildComplete)
    arrived = any_engine.cli("run", "--rm", "--label", LABEL, tag, "find", "/ctx", "-mindepth", "1")
    # the CLI's way: the made-up .dockerignore names itself and the random Dockerfile name,
    # so the daemon (Buildah too) strips both before COPY sees the context
    assert arrived.split() == ["/ctx/a.txt"]
    assert sorted(listing.paths()) == sorted([".dockerignore", listing.dockerfile, "a.txt"])


async def test_a_dockerfile_the_dockerignore_names_never_reaches_a_copy(
    any_engine: EngineUnderTest, tags: list[str], tmp_path: Path
) -> None:
    # Sent so the daemon can read it, stripped before COPY: the classic builder does that,
    # BuildKit fed a tar does not, so on Docker 23+ `build` picks the classic builder here.
    root = context(tmp_path, f"FROM {any_engine.image}\nCOPY . /ctx\n",
                   {"a.txt": "a", ".dockerignore": "Dockerfile\n.dockerignore\n"})
    listing = walk_context(root)
    assert sorted(listing.daemon_strips) == [".dockerignore", "Dockerfile"]
    tag = f"{unique_name('ignored')}:1"
    tags.append(tag)
    async with await any_engine.open() as client:
        events = await collect(build(client, listing, tags=[tag], labels=TEST_LABELS))
    assert isinstance(events[-1], BuildComplete)
    arrived = any_engine.cli("run", "--rm", "--label", LABEL, tag, "find", "/ctx", "-mindepth", "1")
    assert arrived.split() == ["/ctx/a.txt"]


async def test_missing_dockerfile_is_refused_before_the_stream(
    any_engine: EngineUnderTest, tmp_path: Path
) -> None:
    root = context(tmp_path, "FROM scratch\n")
    listing = walk_context(root, "Nope.Dockerfile")
    assert listing.warnings == ("no Dockerfile at Nope.Dockerfile: the daemon will refuse"
                                " the build",)
    async with await any_engine.open() as client:
        buildkit = (await client.ping()).get("builder-version") == "2"
        with pytest.raises(engine.EngineError) as refused:
            await collect(build(client, listing))
    if any_engine.kind == "docker" and not buildkit:
        # the classic builder (Docker 20.10's default) refuses with an HTTP error
        assert isinstance(refused.value, engine.APIError)
        assert refused.value.status == 500
        assert refused.value.message == "Cannot locate specified Dockerfile: Nope.Dockerfile"
    elif any_engine.kind == "docker":
        # BuildKit (Docker 23+'s default) answers 200 and fails in the stream
        assert isinstance(refused.value, BuildFailed)
        assert refused.value.message == ("failed to read dockerfile: open Nope.Dockerfile:"
                                         " no such file or directory")
        assert refused.value.line is None and refused.value.instruction is None
    else:
        # Podman answers 200 and reports it inside the stream
        assert isinstance(refused.value, BuildFailed)
        assert refused.value.message.endswith("/Nope.Dockerfile: no such file or directory")
        assert refused.value.line is None


async def test_cancelling_a_build_stops_it_on_the_daemon(
    docker_engine: EngineUnderTest, tmp_path: Path
) -> None:
    token = unique_name("cancel")
    root = context(tmp_path, f"FROM {docker_engine.image}\nRUN echo {token} && sleep 120\n")
    container = ""
    async with await docker_engine.open() as client:
        events = build(client, walk_context(root), labels=TEST_LABELS, buildkit=False)
        async for event in events:
            if isinstance(event, BuildOutput):
                running_in = re.match(r" ---> Running in ([0-9a-f]{12})", event.text)
                container = running_in.group(1) if running_in else container
                if token in event.text:
                    break
        assert container, "no build container was reported"
        await events.aclose()
    # Without the cancel the step would sleep for two minutes.
    poll_until(lambda: not docker_engine.cli("ps", "-aq", "--filter", f"id={container}"), 30,
               what="the build container outlived the cancelled build", interval=0.2)


async def test_buildkit_trace_decodes_from_real_bytes_split_anywhere(
    docker_engine: EngineUnderTest, tmp_path: Path
) -> None:
    """Capture a real BuildKit stream, then decode it split at every byte boundary."""
    root = context(tmp_path, f"FROM {docker_engine.image}\nRUN echo {RUN_ID}-out; exit 2\n")
    async with await docker_engine.open() as client:
        # Not client.request: the build fails, and the stream must be read as it came.
        response = await client.transport.request(
            "POST", client.api_path("/build"), params={"version": "2", "forcerm": "1"},
            content=b"".join(iter_context_tar(walk_context(root))),
            headers={"Content-Type": "application/x-tar"}, timeout=seconds(120))
    raw = response.content
    assert b"moby.buildkit.trace" in raw

    def decode(chunks: list[bytes]) -> tuple[list[BuildEvent], BuildFailed | None]:
        decoder, stream, events = BuildDecoder(root.joinpath("Dockerfile").read_text()), \
            JSONStreamDecoder(), []
        try:
            for chunk in chunks:
                for message in stream.feed(chunk):
                    events += decoder.feed(message)
        except BuildFailed as exc:
            return events, exc
        return events, None

    whole, error = decode([raw])
    assert error is not None and error.line == 2 and error.message.endswith("exit code: 2")
    assert f"{RUN_ID}-out\n" in output_text(whole)
    for cut in range(0, len(raw), max(1, len(raw) // 97)):
        events, again = decode([raw[:cut], raw[cut:]])
        assert events == whole and again is not None and again.line == 2


def test_protobuf_decoder_on_handmade_status() -> None:
    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    def varint(value: int) -> bytes:
        out = b""
        while value > 0x7F:
            out += bytes([value & 0x7F | 0x80])
            value >>= 7
        return out + bytes([value])

    timestamp = bytes([1 << 3]) + varint(1_700_000_000) + bytes([2 << 3]) + varint(5_000_000)
    vertex = field(1, b"sha256:aa") + field(3, b"[1/1] RUN x") + bytes([4 << 3, 1]) \
        + field(5, timestamp) + field(7, b"boom")
    log = field(1, b"sha256:aa") + bytes([3 << 3, 2]) + field(4, b"line\n")
    [v, out] = decode_buildkit_status(field(1, vertex) + field(3, log))
    assert isinstance(v, BuildVertex) and isinstance(out, BuildOutput)
    assert (v.digest, v.name, v.cached, v.error, v.started.timestamp() if v.started else None) \
        == ("sha256:aa", "[1/1] RUN x", True, "boom", 1_700_000_000.005)
    assert v.state == "failed"
    assert (out.text, out.vertex, out.stream) == ("line\n", "sha256:aa", 2)
    with pytest.raises(engine.ProtocolError):
        decode_buildkit_status(field(1, vertex)[:-3])


# -- references -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "normalized", "familiar"), [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("user/app", "docker.io/user/app:latest", "user/app:latest"),
    ("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
    ("ghcr.io/o/r:tag", "ghcr.io/o/r:tag", "ghcr.io/o/r:tag"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest", "127.0.0.1:5000/a/b:latest"),
    ("name@sha256:" + "a" * 64, "docker.io/library/name@sha256:" + "a" * 64,
     "name@sha256:" + "a" * 64),
    ("r.example.com/x:1@sha256:" + "b" * 64, "r.example.com/x:1@sha256:" + "b" * 64,
     "r.example.com/x:1@sha256:" + "b" * 64),
    ("Registry.Example.com/x", "Registry.Example.com/x:latest",
     "Registry.Example.com/x:latest"),  # a host name may have capitals
])
def test_parse_reference(text: str, normalized: str, familiar: str) -> None:
    ref = parse_reference(text)
    assert ref.normalized == normalized
    assert ref.familiar == familiar


@pytest.mark.parametrize(("text", "words"), [
    ("", "empty"),
    ("Busybox", "lowercase"),
    ("UPPER/case", "lowercase"),  # the CLI sends it as registry "UPPER"; the daemon refuses
    ("busy box", "not a valid image reference"),
    ("a" * 64, "image ID"),
    ("x:", "not a valid"),
    ("x@sha256:abc", "not a valid"),
    ("-x", "not a valid"),
])
def test_invalid_references(text: str, words: str) -> None:
    with pytest.raises(InvalidReference, match=words):
        parse_reference(text)


# -- the loopback registry ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registry:
    address: str  # "127.0.0.1:PORT"
    image: str  # a pushed image only the registry has: address/dockyard/pulled:RUN_ID


def _start_registry(root: Path, htpasswd: Path | None = None, host: str = "127.0.0.1",
                    *, auth_config: str = "", tls: tuple[Path, Path] | None = None,
                    data: Path | None = None, log_level: str = "error"
                    ) -> tuple[subprocess.Popen[bytes], str]:
    """``auth_config``: a YAML ``auth:`` block of its own (e.g. token auth);
    ``tls``: (certificate, key) to serve https instead of http; ``data``: the storage
    of another registry to serve too (default: ``root/data``); ``log_level`` "info"
    logs each request (root/registry.log)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    port = _free_port()
    auth = (f"auth:\n  htpasswd:\n    realm: dockyard\n    path: {htpasswd}\n"
            if htpasswd else auth_config)
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"log:\n  level: {log_level}\n"
        f"storage:\n  filesystem:\n    rootdirectory: {data or root / 'data'}\n"
        f"http:\n  addr: {host}:{port}\n"
        + (f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n" if tls else "") + auth
    )
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)

    def answers() -> bool:
        try:
            urllib.request.urlopen(f"http://{host}:{port}/v2/", timeout=seconds(1))
        except urllib.error.HTTPError:
            return True  # 401 with auth: it is up
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"docker-registry exited: {(root / 'registry.log').read_text()}")
            return False
        return True

    try:
        poll_until(answers, 20, what="docker-registry did not start")
    except AssertionError as exc:
        process.kill()
        pytest.fail(f"{exc}: {(root / 'registry.log').read_text()}")
    return process, f"{host}:{port}"


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(seconds(10))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def registry(docker_engine: EngineUnderTest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Registry]:
    """A registry holding an image with a layer nobody has locally (so it must download)."""
    root = tmp_path_factory.mktemp("registry")
    process, address = _start_registry(root)
    image = f"{address}/dockyard/pulled:{RUN_ID}"
    build_dir = root / "image"
    build_dir.mkdir()
    (build_dir / "Dockerfile").write_text(
        f"FROM {docker_engine.image}\nRUN head -c 3000000 /dev/urandom > /blob\n")
    try:
        docker_engine.cli("build", "-q", "--label", LABEL, "-t", image, str(build_dir))
        docker_engine.cli("push", image)
        docker_engine.cli("rmi", image)
        yield Registry(address, image)
    finally:
        docker_engine.cli("rmi", "-f", image, check=False)
        _stop(process)


async def test_pull_reports_per_layer_progress(
    docker_engine: EngineUnderTest, registry: Registry
) -> None:
    assert docker_engine.cli("images", "-q", registry.image) == ""
    async with await docker_engine.open() as client:
        seen = [p async for p in pull(client, registry.image)]
        image = await client.image(registry.image)
    assert image.id == docker_engine.cli("image", "inspect", "--format", "{{.Id}}",
                                         registry.image)
    layers = seen[-1].layers
    assert len(layers) == 3  # busybox's two (already here) and the random blob
    assert {layer.state for layer in layers} == {LayerState.DONE}
    already = [layer.id for layer in layers if layer.already_present]
    assert len(already) == 2
    assert already == [p.layer.id for p in seen if p.layer and p.status == "Already exists"]
    [blob] = [layer for layer in layers if layer.id not in already]
    assert blob.total > 3_000_000 and blob.current == blob.total
    states = {p.layer.state for p in seen if p.layer is not None}
    assert {LayerState.WAITING, LayerState.DOWNLOADING, LayerState.EXTRACTING,
            LayerState.DONE} <= states
    downloading = [p.layer for p in seen if p.layer and p.layer.state is LayerState.DOWNLOADING]
    assert all(0 < d.current <= d.total for d in downloading)
    assert [p.status for p in seen if p.status.startswith("Status:")] == [
        f"Status: Downloaded newer image for {registry.image}"]
    assert seen[-1].fraction == 1.0 and seen[-1].layers_done == 3
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions)  # the overall bar never goes back
    # pulling again: everything is already there
    async with await docker_engine.open() as client:
        again = [p async for p in pull(client, registry.image)]
    assert again[-1].status == f"Status: Image is up to date for {registry.image}"


async def test_pull_of_a_missing_tag(docker_engine: EngineUnderTest, registry: Registry) -> None:
    reference = f"{registry.address}/dockyard/pulled:no-such-tag"
    async with await docker_engine.open() as client:
        with pytest.raises(PullFailed) as failed:
            await _drain(pull(client, reference))
    assert failed.value.reason is PullFailure.NOT_FOUND
    assert str(failed.value).startswith(f"{reference} was not found in its registry: ")
    assert "manifest unknown" in failed.value.detail


async def test_pull_from_an_unreachable_registry(docker_engine: EngineUnderTest) -> None:
    reference = f"127.0.0.1:{_free_port()}/nothing/here:1"
    async with await docker_engine.open() as client:
        with pytest.raises(PullFailed) as failed:
            await _drain(pull(client, reference))
    assert failed.value.reason is PullFailure.UNREACHABLE
    assert str(failed.value).startswith(f"the registry of {reference} cannot be reached: ")
    assert "connection refused" in failed.value.detail


def _outside_address() -> str:
    """An address of this machine that is not loopback (engines trust 127.0.0.0/8 over
    plain HTTP, and nothing else)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))  # no packet is sent: only the route is chosen
        except OSError:
            pytest.skip("this machine has no address outside loopback")
        address = str(probe.getsockname()[0])
    if address.startswith("127."):
        pytest.skip("this machine has no address outside loopback")
    return address


async def test_a_plain_http_registry_is_named_insecure_with_how_to_allow_it(
    any_engine: EngineUnderTest, tmp_path: Path
) -> None:
    """Not "cannot be reached": the engine reached it and refused plain HTTP (12.11)."""
    process, address = _start_registry(tmp_path, host=_outside_address())
    reference = f"{address}/dockyard/nothing:{RUN_ID}"
    try:
        async with await any_engine.open() as client:
            with pytest.raises(PullFailed) as failed:
                await _drain(pull(client, reference))
    finally:
        _stop(process)
    assert failed.value.reason is PullFailure.INSECURE
    assert "server gave HTTP response to HTTPS client" in failed.value.detail
    message = str(failed.value)
    assert "\n" not in message
    if any_engine.kind == "docker":
        assert message == (
            f"cannot pull {reference}: {address} is an insecure registry (plain HTTP, no TLS),"
            f" which Docker refuses by default; to allow it, add \"insecure-registries\":"
            f" [\"{address}\"] to /etc/docker/daemon.json and restart Docker")
    else:
        assert message == (
            f"cannot pull {reference}: {address} is an insecure registry (plain HTTP, no TLS),"
            f" which Podman refuses by default; to allow it, add [[registry]] location ="
            f" \"{address}\" insecure = true to /etc/containers/registries.conf"
            " (~/.config/containers/registries.conf for rootless Podman)")


async def _drain(progress: AsyncIterator[PullProgress]) -> None:
    async for _ in progress:
        pass


# -- credentials --------------------------------------------------------------------------------


def _decode_auth(value: str | None) -> dict[str, str]:
    assert value is not None
    return dict(json.loads(base64.urlsafe_b64decode(value)))


def test_registry_auth_from_auths(tmp_path: Path) -> None:
    token = base64.b64encode(b"me:s3cret:with:colons").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
        "http://127.0.0.1:5000": {"auth": token},
        "ghcr.io": {"identitytoken": "tok"},
    }}))
    assert _decode_auth(registry_auth("127.0.0.1:5000", tmp_path)) == {
        "username": "me", "password": "s3cret:with:colons",
        "serveraddress": "http://127.0.0.1:5000"}
    assert _decode_auth(registry_auth("docker.io", tmp_path)) == {
        "username": "hub", "password": "pw", "serveraddress": "https://index.docker.io/v1/"}
    assert _decode_auth(registry_auth("ghcr.io", tmp_path)) == {
        "identitytoken": "tok", "serveraddress": "ghcr.io"}
    assert registry_auth("quay.io", tmp_path) is None
    assert registry_auth("quay.io", tmp_path / "nowhere") is None


def test_registry_auth_from_a_credential_helper(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A real helper program speaking the docker-credential protocol on stdin/stdout."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-dockyardtest"
    helper.write_text(
        "#!/bin/sh\n"
        "[ \"$1\" = get ] || exit 3\n"
        "read server\n"
        "case \"$server\" in\n"
        "  reg.example:5000) printf '{\"ServerURL\":\"%s\",\"Username\":\"u\",\"Secret\":\"p\"}'"
        " \"$server\" ;;\n"
        "  tok.example) printf '{\"Username\":\"<token>\",\"Secret\":\"idt\"}' ;;\n"
        "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
        "esac\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    (tmp_path / "config.json").write_text(json.dumps({
        "credsStore": "dockyardtest", "credHelpers": {"other.example": "missing-helper"}}))
    assert _decode_auth(registry_auth("reg.example:5000", tmp_path)) == {
        "username": "u", "password": "p", "serveraddress": "reg.example:5000"}
    assert _decode_auth(registry_auth("tok.example", tmp_path)) == {
        "identitytoken": "idt", "serveraddress": "tok.example"}
    assert registry_auth("unknown.example", tmp_path) is None
    with pytest.raises(engine.EngineError, match="docker-credential-missing-helper"):
        registry_auth("other.example", tmp_path)


def _htpasswd(path: Path, user: str, password: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

    path.write_text(f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n")


async def test_pull_with_credentials_from_the_cli_config(
    docker_engine: EngineUnderTest, registry: Registry, tmp_path: Path
) -> None:
    """A registry with basic auth: unauthorized without a login, pulled with one."""
    root = tmp_path / "authreg"
    root.mkdir()
    _htpasswd(root / "htpasswd", "dockyard", "pw-" + RUN_ID)
    process, address = _start_registry(root, root / "htpasswd")
    image = f"{address}/dockyard/private:{RUN_ID}"
    config = tmp_path / "docker-config"
    config.mkdir()
    cli = EngineUnderTest("docker", docker_engine.url, config, docker_engine.image)
    (config / "config.json").write_text(json.dumps({"auths": {address: {
        "auth": base64.b64encode(f"dockyard:pw-{RUN_ID}".encode()).decode()}}}))
    try:
        cli.cli("tag", registry.image if docker_engine.cli("images", "-q", registry.image)
                else docker_engine.image, image)
        cli.cli("push", image)
        cli.cli("rmi", image)
        async with await docker_engine.open() as client:
            with pytest.raises(PullFailed) as failed:
                await _drain(pull(client, image))
            assert failed.value.reason is PullFailure.UNAUTHORIZED
            auth = registry_auth(address, config)
            assert auth is not None
            await _drain(pull(client, image, auth=auth))
            assert (await client.image(image)).id
    finally:
        with contextlib.suppress(AssertionError):
            cli.cli("rmi", "-f", image, check=False)
        _stop(process)

