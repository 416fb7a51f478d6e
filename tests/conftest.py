"""The real engines the tests run against, and the resources tests create on them.

Docker: whatever engine the docker CLI would use (``./test.sh`` starts dockerd
when none answers).  Podman: a ``podman system service`` of our own on a
private socket, with ulimits set so containers start on this kind of machine.

Everything a test creates carries the label ``dockyard.test=<run id>`` and is
removed afterwards; nothing else on the engine is touched.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import resource
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import settings

import engine
from engine._endpoint import parse_host
from tests.tls_dockerd import TLSDockerd, require_tls_dockerd, start_tls_dockerd
from tests.waits import SLOWDOWN, poll_until, seconds

# Property tests check what the decoders answer, not how fast: on a loaded 2-CPU
# machine hypothesis's 200 ms per-example deadline failed correct runs.
settings.register_profile("dockyard", deadline=None, print_blob=True)
settings.load_profile("dockyard")

#: Fixtures that start or talk to a real engine: a test using one (directly or through
#: another fixture) is marked ``engine`` and left out of ``--fast``.
ENGINE_FIXTURES = frozenset({"docker_engine", "podman_engine", "any_engine", "tls_dockerd",
                             "swarm_engine", "plain_dockerd", "docker26_engine",
                             "docker26_containerd_engine"})
#: Fixtures that build the PyInstaller bundle: marked ``bundle``.
BUNDLE_FIXTURES = frozenset({"bundle"})
FAST_TIER = "not engine and not bundle"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast", action="store_true",
        help=f"the tier that needs no engine and no bundle (-m '{FAST_TIER}'); a test that "
             "reaches for an engine without being marked fails at once",
    )
    parser.addoption(
        "--docker26-all", action="store_true",
        help="run every any_engine test against Docker 26 too, not only those marked "
             "`docker26` (what CI runs; the whole set takes as long again as Docker's)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("fast"):
        own = config.option.markexpr
        config.option.markexpr = f"({own}) and {FAST_TIER}" if own else FAST_TIER
        # Anything that looks for the machine's engine by itself finds none.
        os.environ["DOCKER_HOST"] = "unix:///nonexistent/dockyard-fast-tier-has-no-engine.sock"


def pytest_report_header(config: pytest.Config) -> str:
    tier = "fast (no engine, no bundle)" if config.getoption("fast") else "full"
    return f"dockyard: {tier} tier, DOCKYARD_TEST_SLOWDOWN={SLOWDOWN:g}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by the fixtures they use, and scale each test's time limit.

    Runs before ``-m`` deselects (pytest's own hook runs last), so ``--fast`` sees
    these marks.
    """
    default_limit = float(config.getoption("timeout", None) or config.getini("timeout") or 0)
    _deselect_docker26_unless_marked(config, items)
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & ENGINE_FIXTURES:
            item.add_marker(pytest.mark.engine)
        if used & BUNDLE_FIXTURES:
            item.add_marker(pytest.mark.bundle)
        marker = item.get_closest_marker("timeout")
        limit = float(marker.args[0]) if marker is not None and marker.args else default_limit
        if limit:
            # Prepended: the closest marker is the one pytest-timeout reads.
            item.add_marker(pytest.mark.timeout(seconds(limit)), append=False)


#: Where every ``any_engine`` test also runs against Docker 26: the engine library, where
#: the API differences between 20.10 and 26 land (about 4 minutes on a loaded CI machine).
DOCKER26_DIRS = (Path(__file__).parent / "engine",)


def _deselect_docker26_unless_marked(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Docker 26 runs tests/engine and the window's tests marked ``docker26`` (builds,
    layers: where the user sees 20.10 and 26 differ); the other window tests only with
    ``--docker26-all``, so CI stays within its time (tests/docker26.py)."""
    if config.getoption("docker26_all"):
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_docker26 = callspec is not None and callspec.params.get("any_engine") == "docker26"
        if (on_docker26 and item.get_closest_marker("docker26") is None
                and not any(item.path.is_relative_to(d) for d in DOCKER26_DIRS)):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _refuse_in_fast_tier(request: pytest.FixtureRequest) -> None:
    """A test that needs an engine but is not marked fails here, at once, in --fast."""
    if request.config.getoption("fast"):
        pytest.fail(f"--fast: this test needs an engine ({request.fixturename}) but is not "
                    "marked `engine`: take an engine fixture as a parameter, or mark it",
                    pytrace=False)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                  ) -> Path:
    """Each test its own empty XDG cache: the layer cache (window and ``dockyard analyze``)
    never reads or writes the user's, and no test is served what another one analysed."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


RUN_ID = uuid.uuid4().hex[:10]
LABEL_KEY = "dockyard.test"
LABEL = f"{LABEL_KEY}={RUN_ID}"
IN_CI = bool(os.environ.get("CI"))
DOCKER_CLI = shutil.which("docker")
_names = itertools.count(1)


def unique_name(prefix: str = "c") -> str:
    return f"dockyard-test-{prefix}-{RUN_ID}-{next(_names)}"


def _busybox_binary() -> Path:
    """The static busybox from Debian's busybox-static (a dynamic one cannot run FROM scratch)."""
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        path = Path(candidate)
        if path.exists() and b"ld-linux" not in path.read_bytes()[:8192]:
            return path
    pytest.fail("a static busybox is needed (apt-get install busybox-static);"
                " ./test.sh installs it")


@dataclass
class EngineUnderTest:
    """One engine the tests talk to, through our bindings or the docker CLI."""

    kind: str  # "docker" or "podman"
    url: str
    cli_config: Path
    image: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Which of the matrix: "docker" (the machine's, 20.10 on Debian 12), "docker26", "podman".
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.kind

    @property
    def endpoint(self) -> engine.Endpoint:
        return parse_host(self.url, f"test {self.kind}")

    async def open(self) -> engine.Engine:
        return await engine.Engine.open(self.endpoint)

    def qualified(self, reference: str) -> str:
        """The reference as this engine reports it back (Podman adds the registry)."""
        return f"docker.io/{reference}" if self.kind == "podman" else reference

    def cli(self, *args: str, check: bool = True, timeout: float | None = None) -> str:
        """Run the docker CLI against this engine; returns stdout.

        ``timeout``: ``seconds(…)`` from tests.waits; two idle minutes by default.
        """
        assert DOCKER_CLI, "the docker CLI is needed (apt-get install docker.io)"
        env = {**os.environ, "DOCKER_CONFIG": str(self.cli_config), "DOCKER_BUILDKIT": "0",
               **self.extra_env}
        env.pop("DOCKER_CONTEXT", None)
        env.pop("DOCKER_HOST", None)
        result = subprocess.run(
            [DOCKER_CLI, "--host", self.url, *args],
            capture_output=True, text=True, env=env, check=False,
            timeout=seconds(120) if timeout is None else timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def create(self, *args: str, name: str | None = None) -> tuple[str, str]:
        """``docker create`` a labelled container from the test image; returns (id, name)."""
        name = name or unique_name()
        container_id = self.cli("create", "--label", LABEL, "--name", name, *args)
        return container_id.splitlines()[-1], name

    def remove_test_containers(self) -> None:
        ids = self.cli("ps", "-aq", "--filter", f"label={LABEL}", check=False).split()
        if ids:
            self.cli("rm", "-f", "-v", *ids, check=False)
        # Steps of a failed classic build stay behind as untagged images; they inherit
        # the test image's label, so they are ours to remove.
        dangling = self.cli("images", "-q", "--filter", "dangling=true", "--filter",
                            f"label={LABEL}", check=False).split()
        if dangling:
            self.cli("rmi", *dangling, check=False)


def _build_test_image(target: EngineUnderTest, workdir: Path) -> str:
    context = workdir / f"busybox-{target.name}"
    context.mkdir()
    shutil.copy(_busybox_binary(), context / "busybox")
    (context / "Dockerfile").write_text(
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        f'LABEL {LABEL_KEY}="{RUN_ID}"\n'
        'CMD ["sh"]\n'
    )
    tag = f"dockyard-test/busybox:{RUN_ID}"
    target.cli("build", "-q", "-t", tag, str(context), timeout=seconds(300))
    return tag


def _cli_config(root: Path) -> Path:
    config = root / "docker-cli"
    config.mkdir(exist_ok=True)
    (config / "config.json").write_text("{}")
    return config


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dockyard-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _find_docker() -> str | None:
    """The endpoint the docker CLI would use, if a Docker engine (not Podman) answers there."""

    async def probe() -> str | None:
        try:
            client, _ = await engine.discover()
        except engine.EngineError:
            return None
        async with client:
            return None if client.version.is_podman else client.endpoint.url

    # In a thread of its own: a Qt test may already have an event loop running here.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, probe()).result()


@pytest.fixture(scope="session")
def docker_engine(request: pytest.FixtureRequest, workdir: Path
                  ) -> Iterator[EngineUnderTest]:
    _refuse_in_fast_tier(request)
    url = _find_docker()
    if url is None:
        message = "no Docker engine answers; run the tests with ./test.sh, which starts one"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    target = EngineUnderTest("docker", url, _cli_config(workdir))
    target.image = _build_test_image(target, workdir)
    yield target
    target.remove_test_containers()
    target.cli("rmi", "-f", target.image, check=False)


@pytest.fixture(scope="session")
def podman_engine(request: pytest.FixtureRequest, workdir: Path
                  ) -> Iterator[EngineUnderTest]:
    _refuse_in_fast_tier(request)
    podman = shutil.which("podman")
    if podman is None:
        message = "podman is not installed (apt-get install podman); ./test.sh installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    root = workdir / "podman"
    root.mkdir()
    conf = root / "containers.conf"
    # Podman asks for ulimits above what this sandbox allows unless told to keep
    # within ours (``error setting rlimit type 7``), for runs and build steps alike.
    nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 4096)
    conf.write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
    )
    socket = root / "podman.sock"
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    log = (root / "service.log").open("w")
    process = subprocess.Popen(
        [podman, "system", "service", "--time=0", f"unix://{socket}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )

    def listening() -> bool:
        if process.poll() is not None:
            pytest.fail(f"podman system service exited: {(root / 'service.log').read_text()}")
        return socket.exists()

    try:
        poll_until(listening, 30, what="podman system service's socket")
    except AssertionError as exc:
        process.kill()
        pytest.fail(f"{exc}: {(root / 'service.log').read_text()}")
    target = EngineUnderTest("podman", f"unix://{socket}", _cli_config(workdir))
    try:
        target.image = _build_test_image(target, workdir)
        yield target
    finally:
        with contextlib.suppress(Exception):
            target.remove_test_containers()
            target.cli("rmi", "-f", target.image, check=False)
        process.terminate()
        try:
            process.wait(seconds(10))
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def tls_dockerd(request: pytest.FixtureRequest) -> Iterator[TLSDockerd]:
    """A second dockerd of our own on tcp://127.0.0.1:<port> with TLS (tests/tls_dockerd.py);
    it has no images or containers unless a test makes them, and goes at the session's end."""
    _refuse_in_fast_tier(request)
    require_tls_dockerd(IN_CI)
    server = start_tls_dockerd(Path(tempfile.mkdtemp(prefix="dy-tls-")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def docker26_engine(request: pytest.FixtureRequest, workdir: Path
                    ) -> Iterator[EngineUnderTest]:
    """Docker Engine 26 (Debian trixie's) in a mount namespace of its own (tests/docker26.py),
    with the test image built on it; its socket is under the session's workdir."""
    from tests.docker26 import require_docker26, start_docker26

    _refuse_in_fast_tier(request)
    require_docker26(IN_CI)
    server = start_docker26(workdir / "docker26")
    try:
        target = EngineUnderTest("docker", server.url, _cli_config(workdir), name="docker26")
        target.image = _build_test_image(target, workdir)
        yield target
        target.remove_test_containers()
        target.cli("rmi", "-f", target.image, check=False)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def docker26_containerd_engine(request: pytest.FixtureRequest, workdir: Path
                               ) -> Iterator[EngineUnderTest]:
    """Docker 26 with the containerd image store (the default from Docker 29 on): its
    exports keep each layer as stored, zstd included.  No test image: tests load their own."""
    from tests.docker26 import require_docker26, start_docker26

    _refuse_in_fast_tier(request)
    require_docker26(IN_CI)
    server = start_docker26(workdir / "docker26-containerd",
                            {"features": {"containerd-snapshotter": True}})
    try:
        yield EngineUnderTest("docker", server.url, _cli_config(workdir),
                              name="docker26-containerd")
    finally:
        server.stop()


@pytest.fixture(params=["docker", "podman", "docker26"])
def any_engine(request: pytest.FixtureRequest) -> Iterator[EngineUnderTest]:
    """Runs the test once per engine; removes the test's containers afterwards.

    ``docker26`` only for tests marked so (or with ``--docker26-all``): see
    :func:`_deselect_docker26_unless_marked`."""
    target: EngineUnderTest = request.getfixturevalue(f"{request.param}_engine")
    yield target
    target.remove_test_containers()


@dataclass
class SwarmUnderTest(EngineUnderTest):
    """The private one-node swarm (tests/swarm_dockerd.py), with the test image loaded."""

    node_id: str = ""
    #: The same dockerd over TCP with TLS, and what DOCKER_TLS_VERIFY/CERT_PATH to set.
    tls_url: str = ""
    tls_env: dict[str, str] = field(default_factory=dict)

    def remove_test_services(self) -> None:
        ids = self.cli("service", "ls", "-q", "--filter", f"label={LABEL}", check=False).split()
        if ids:
            self.cli("service", "rm", *ids, check=False)


@pytest.fixture(scope="session")
def swarm_dockerd(request: pytest.FixtureRequest, docker_engine: EngineUnderTest
                  ) -> Iterator[SwarmUnderTest]:
    """A private dockerd made a swarm manager; never the developer's own engine."""
    from tests.swarm_dockerd import private_swarm, require_root

    require_root(IN_CI)
    with private_swarm() as swarm:
        target = SwarmUnderTest("docker", swarm.url, docker_engine.cli_config,
                                node_id=swarm.node_id, tls_url=swarm.tls_url,
                                tls_env=swarm.tls_env())
        env = {**os.environ, "DOCKER_CONFIG": str(docker_engine.cli_config)}
        env.pop("DOCKER_CONTEXT", None)
        env.pop("DOCKER_HOST", None)
        assert DOCKER_CLI
        swarm.load_image([DOCKER_CLI, "--host", docker_engine.url, "save", docker_engine.image],
                         env)
        target.image = docker_engine.image
        yield target


@pytest.fixture(scope="session")
def plain_dockerd(request: pytest.FixtureRequest, docker_engine: EngineUnderTest
                  ) -> Iterator[EngineUnderTest]:
    """A private dockerd in NO swarm, for the tests that init one on it (they leave it
    again); never the developer's own engine."""
    from tests.swarm_dockerd import private_swarm, require_root

    _refuse_in_fast_tier(request)
    require_root(IN_CI)
    with private_swarm(init=False) as swarm:
        env = {**os.environ, "DOCKER_CONFIG": str(docker_engine.cli_config)}
        env.pop("DOCKER_CONTEXT", None)
        env.pop("DOCKER_HOST", None)
        assert DOCKER_CLI
        # The test image too: joined to the test swarm as a worker, it runs tasks.
        swarm.load_image([DOCKER_CLI, "--host", docker_engine.url, "save", docker_engine.image],
                         env)
        target = EngineUnderTest("docker", swarm.url, docker_engine.cli_config)
        target.image = docker_engine.image
        yield target


@pytest.fixture
def swarm_engine(request: pytest.FixtureRequest, swarm_dockerd: SwarmUnderTest
                 ) -> Iterator[SwarmUnderTest]:
    """The private swarm for one test; the test's services are removed afterwards."""
    _refuse_in_fast_tier(request)
    yield swarm_dockerd
    swarm_dockerd.remove_test_services()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


