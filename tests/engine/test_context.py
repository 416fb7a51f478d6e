"""The build context: .dockerignore rules, the walk, the tar stream and Dockerfile parsing.

Rule tables and property tests are pure; the comparison tests build the same trees
with the docker CLI (classic builder, as ``EngineUnderTest.cli`` sets
``DOCKER_BUILDKIT=0``) and list what really arrived in the image.
"""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine._context import (
    ContextEntry,
    ContextError,
    EntryKind,
    PatternError,
    PatternMatcher,
    _pax_header,
    _ustar_header,
    context_tar,
    go_clean,
    iter_context_tar,
    parse_dockerfile,
    read_ignore_patterns,
    walk_context,
)
from tests.conftest import LABEL, EngineUnderTest, unique_name

Tree = dict[str, str | None]  # path -> content; None makes a directory; "->x" a symlink to x


def make_tree(root: Path, tree: Tree) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
        elif content.startswith("->"):
            os.symlink(content[2:], path)
        else:
            path.write_text(content)
    return root


def excluded(patterns: str, path: str) -> bool:
    return PatternMatcher(read_ignore_patterns(patterns)).matches(path)


# -- rule 1: reading the file ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "patterns"), [
    ("\ufeffa\nb\n", ["a", "b"]),  # BOM stripped
    ("# comment\n#also\nx\n", ["x"]),  # comments
    ("  # not a comment\n", ["# not a comment"]),  # '#' only at column 0, before trimming
    ("\n\n   \t\n", []),  # blanks
    ("  spaced  \r\n", ["spaced"]),  # trim, CRLF
    ("/abs/path\n", ["abs/path"]),  # leading / dropped
    ("a/./b/../c//\n", ["a/c"]),  # filepath.Clean
    ("! keep \n", ["!keep"]),  # exception, trimmed after the !
    ("!/abs\n", ["!abs"]),
    ("../up\n", ["../up"]),
    ("/\n", ["/"]),
])
def test_ignore_file_lines(text: str, patterns: list[str]) -> None:
    assert read_ignore_patterns(text) == patterns


@pytest.mark.parametrize(("path", "expected"), [
    ("", "."), ("a//b/", "a/b"), ("/../a", "/a"), ("../../a", "../../a"), ("a/../..", ".."),
    ("//x", "/x"), ("./", "."),
])
def test_go_clean(path: str, expected: str) -> None:
    assert go_clean(path) == expected


# -- rules 2-4: matching ------------------------------------------------------------------------


@pytest.mark.parametrize(("patterns", "path", "expected"), [
    # 2: anchored at the root, no implicit **/
    ("*.log", "a.log", True),
    ("*.log", "sub/b.log", False),
    ("sub", "sub/deep/file", True),
    ("deep", "sub/deep", False),
    # 3: * and ? never match /
    ("a*", "abc", True),
    ("a*", "a/b", True),  # ...but "a" itself is a parent that matches
    ("*/b", "x/b", True),
    ("*/b", "x/y/b", False),
    ("a?c", "abc", True),
    ("a?c", "a/c", False),
    # 3: classes and escapes
    ("[ab].md", "a.md", True),
    ("[ab].md", "c.md", False),
    ("[a-c]x", "bx", True),
    ("[^a]x", "bx", True),
    ("[^a]x", "ax", False),
    ("x\\*y", "x*y", True),
    ("x\\*y", "xzy", False),
    ("a.b", "axb", False),  # regexp specials are literal
    ("(a)+", "(a)+", True),
    # 3: ** is any number of directories, including none
    ("**/deep/*.log", "sub/deep/c.log", True),
    ("**/deep/*.log", "deep/c.log", True),
    ("**/*.txt", "a.txt", True),
    ("**/*.txt", "x/y/z.txt", True),
    ("a/**/z", "a/z", True),
    ("a/**/z", "a/b/c/z", True),
    ("a/**/z", "z", False),
    ("**", "anything/at/all", True),
    ("a/**", "a/b", True),
    ("**/node_modules", "node_modules", True),
    ("**/node_modules", "x/node_modules/y", True),
    # patternmatcher quirks kept: "**foo" is a suffix test, "a**" a prefix test
    ("**foo", "barfoo", True),
    ("a**", "abc/d", True),
    # 4: a parent matching excludes; the last match wins
    ("dir\n!dir/keep", "dir/keep", False),
    ("dir\n!dir/keep", "dir/other", True),
    ("dir\n!dir/keep", "dir/keep/inner", False),
    ("*.md\n!README.md", "README.md", False),
    ("*.md\n!README.md\nREADME.md", "README.md", True),
    ("!a\na", "a", True),
    ("a\n!a", "a/b", False),
    # 1 again: comments and cleaning take effect in matching
    ("#x", "#x", False),
    ("#x\nx", "x", True),
    ("/x/../y", "y", True),
])
def test_matching_rules(patterns: str, path: str, expected: bool) -> None:
    assert excluded(patterns, path) is expected


@pytest.mark.parametrize("pattern", ["[", "a[b", "[]a]", "a\\", "!", "[a-]", "x[\\"])
def test_bad_patterns_are_refused_like_the_cli(pattern: str) -> None:
    with pytest.raises(PatternError):
        PatternMatcher([pattern])


# -- rules 5-7 and the walk --------------------------------------------------------------------

WALK_CASES: list[tuple[str, Tree, str, list[str]]] = [
    ("anchored", {"a.log": "1", "sub/b.log": "2", "sub/deep/c.log": "3", "keep.txt": "4"},
     "*.log\n**/deep/*.log\n",
     [".dockerignore", "Dockerfile", "keep.txt", "sub", "sub/b.log", "sub/deep"]),
    ("pruning", {"a.txt": "1", "sub/b.txt": "2", "sub/c.py": "3"},
     "*\n!**/*.txt\n",
     [".dockerignore", "Dockerfile", "a.txt"]),
    ("pruning-undone", {"a.txt": "1", "sub/b.txt": "2", "sub/c.py": "3"},
     "*\n!**/*.txt\n!sub\n",
     [".dockerignore", "Dockerfile", "a.txt", "sub", "sub/b.txt", "sub/c.py"]),
    ("dir-keep", {"dir/keep": "1", "dir/drop": "2", "dir/sub/x": "3", "other": "4"},
     "dir\n!dir/keep\n",
     [".dockerignore", "Dockerfile", "dir/keep", "other"]),
    ("lines", {"b/keep": "1", "b/drop": "2", "# not a comment": "3", "c": "4"},
     "\ufeff# comment\n  # not a comment\n /a/../b \n\n!b/keep\n",
     [".dockerignore", "Dockerfile", "b/keep", "c"]),
    ("classes", {"file1.txt": "1", "file22.txt": "2", "a.md": "3", "c.md": "4", "x*y": "5",
                 "xzy": "6"},
     "file?.txt\n[ab].md\nx\\*y\n",
     [".dockerignore", "Dockerfile", "c.md", "file22.txt", "xzy"]),
    ("double-star", {"a/z": "1", "a/b/z": "2", "a/b/c/z": "3", "z": "4", "a/keep": "5"},
     "a/**/z\n",
     [".dockerignore", "Dockerfile", "a", "a/b", "a/b/c", "a/keep", "z"]),
    ("build-files-always-sent", {"x": "1", "sub/y": "2"},
     "*\n",
     [".dockerignore", "Dockerfile"]),
    ("symlinks", {"real": "1", "out": "->/etc", "dangling": "->nowhere", "dirlink": "->sub",
                  "sub/f": "2"},
     "",
     [".dockerignore", "Dockerfile", "dangling", "dirlink", "out", "real", "sub", "sub/f"]),
]


def _with_build_files(tree: Tree, ignore: str, dockerfile: str) -> Tree:
    return {**tree, "Dockerfile": dockerfile, ".dockerignore": ignore}


@pytest.mark.parametrize(("name", "tree", "ignore", "expected"), WALK_CASES,
                         ids=[c[0] for c in WALK_CASES])
def test_walk_applies_the_cli_rules(tmp_path: Path, name: str, tree: Tree, ignore: str,
                                    expected: list[str]) -> None:
    root = make_tree(tmp_path / name, _with_build_files(tree, ignore, "FROM scratch\n"))
    listing = walk_context(root)
    assert sorted(listing.paths()) == expected
    assert listing.dockerfile == "Dockerfile"


def test_symlinks_are_listed_not_followed(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "c", {"Dockerfile": "FROM scratch\n", "out": "->/etc",
                                      "dirlink": "->sub", "sub/f": "abc"})
    entries = {e.path: e for e in walk_context(root).entries}
    assert (entries["out"].kind, entries["out"].link, entries["out"].size) == (
        EntryKind.SYMLINK, "/etc", 0)
    assert entries["dirlink"].kind is EntryKind.SYMLINK
    assert "dirlink/f" not in entries and "out/passwd" not in entries
    assert entries["sub/f"].size == 3


def test_dockerfile_in_a_subdirectory_survives_its_exclusion(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "c", {"docker/Dockerfile": "FROM scratch\n", "docker/x": "1",
                                      ".dockerignore": "docker\n"})
    listing = walk_context(root, "docker/Dockerfile")
    assert sorted(listing.paths()) == [".dockerignore", "docker/Dockerfile"]
    assert listing.patterns == ("docker", "!docker/Dockerfile")
    assert listing.dockerfile == "docker/Dockerfile"


def test_ignore_text_overrides_the_file_and_sizes_add_up(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "c", {"Dockerfile": "FROM scratch\n", "big/a": "x" * 300,
                                      "big/deeper/b": "y" * 200, "small": "z",
                                      ".dockerignore": "big\n"})
    listing = walk_context(root, ignore_text="small\n")
    assert listing.total_size == 13 + 300 + 200 + len("big\n")
    assert listing.file_count == 4
    assert [(e.path, e.size) for e in listing.largest_files(2)] == [("big/a", 300),
                                                                     ("big/deeper/b", 200)]
    assert listing.largest_dirs() == [("big", 500), ("big/deeper", 200)]


def test_warnings(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "c", {"Dockerfile": "FROM scratch\n", ".git/HEAD": "ref",
                                      "web/node_modules/x/index.js": "1",
                                      ".env": "TOKEN=1", ".env.example": "TOKEN=",
                                      "certs/server.key": "k", "keys.txt": "not a key"})
    with open(root / "huge.bin", "wb") as handle:  # sparse: 101 MiB costs no disk
        handle.truncate(101 * 1024 * 1024)
    listing = walk_context(root)
    assert listing.warnings == (
        ".git/ is sent (3 B); add it to .dockerignore?",
        "web/node_modules/ is sent (1 B); add it to .dockerignore?",
        "huge.bin is 105.9 MB",
        ".env, certs/server.key may hold secrets and will be sent; add to .dockerignore?",
    )
    assert walk_context(root, ignore_text=".git\n**/node_modules\nhuge.bin\n.env\n*/*.key\n"
                        ).warnings == ()


def test_missing_dockerfile_and_context_are_reported(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "c", {"a": "1"})
    assert walk_context(root).warnings == (
        "no Dockerfile at Dockerfile: the daemon will refuse the build",)
    with pytest.raises(ContextError):
        walk_context(tmp_path / "nope")
    with pytest.raises(PatternError):
        walk_context(root, ignore_text="[\n")


def test_dockerfile_outside_the_context(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "c", {"a": "1", ".dockerignore": "b\n"})
    outside = tmp_path / "Dockerfile.dev"
    outside.write_text("FROM scratch\nCOPY a /a\n")
    listing = walk_context(root, str(outside))
    name = listing.dockerfile
    assert name.startswith(".dockerfile.") and len(name) == len(".dockerfile.") + 20
    entries = {e.path: e for e in listing.entries}
    assert entries[name].data == outside.read_bytes()
    assert entries[name].mode == 0o600
    assert entries[".dockerignore"].data == f"b\n\n{name}\n".encode()
    assert listing.dockerfile_text() == "FROM scratch\nCOPY a /a\n"
    # no .dockerignore in the context: one is made up, naming itself and the Dockerfile
    bare = make_tree(tmp_path / "bare", {"a": "1"})
    entries = {e.path: e for e in walk_context(bare, str(outside)).entries}
    name = next(p for p in entries if p.startswith(".dockerfile."))
    assert entries[".dockerignore"].data == f".dockerignore\n{name}\n".encode()


# -- the tar stream ------------------------------------------------------------------------------


def _tar_members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {m.name: m for m in archive.getmembers()}


def test_tar_keeps_modes_links_and_dirs_with_root_owner(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "c", {"Dockerfile": "FROM scratch\n", "bin/tool": "#!/bin/sh\n",
                                      "link": "->bin/tool", "empty": None, "data": "d" * 5000})
    (root / "bin/tool").chmod(0o4755)
    os.link(root / "data", root / "data2")
    listing = walk_context(root)
    chunks = list(iter_context_tar(listing, chunk_size=1024))
    assert all(len(c) < 1024 + 5000 + 2048 for c in chunks) and len(chunks) > 1
    data = b"".join(chunks)
    members = _tar_members(data)
    assert list(members) == listing.paths() == [
        "Dockerfile", "bin", "bin/tool", "data", "data2", "empty", "link"]
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(0, 0, "", "")}
    assert members["bin/tool"].mode == 0o4755
    assert members["bin"].isdir() and members["empty"].isdir()
    assert members["link"].issym() and members["link"].linkname == "bin/tool"
    assert members["data2"].islnk() and members["data2"].linkname == "data"
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        extracted = archive.extractfile("data")
        assert extracted is not None and extracted.read() == b"d" * 5000


_KINDS = st.sampled_from(list(EntryKind))
_NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\x00/"), min_size=1,
                 max_size=40)


@settings(max_examples=400)
@given(
    parts=st.lists(_NAMES, min_size=1, max_size=6), kind=_KINDS,
    size=st.one_of(st.integers(0, 10_000), st.integers(8**11 - 2, 8**12)),
    mode=st.integers(0, 0o7777), mtime=st.one_of(st.integers(0, 2**34), st.just(-1)),
    link=st.one_of(st.just(""), _NAMES),
    device=st.tuples(st.integers(0, 4095), st.integers(0, 2**20 - 1)),  # Linux's ranges
)
def test_direct_headers_are_byte_for_byte_tarfiles(
    parts: list[str], kind: EntryKind, size: int, mode: int, mtime: int, link: str,
    device: tuple[int, int],
) -> None:
    """The hand-built ustar header is what tarfile writes, or it steps aside for tarfile."""
    entry = ContextEntry("/".join(parts), kind, size if kind is EntryKind.FILE else 0, mode,
                         mtime, link, device)
    direct = _ustar_header(entry)
    reference = _pax_header(entry)
    if direct is None:  # only for what needs PAX records or a field tarfile would overflow
        assert len(reference) > 512
    else:
        assert direct == reference


@pytest.mark.anyio
async def test_async_tar_equals_the_sync_one(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "c", {"Dockerfile": "FROM scratch\n", "a/b": "x" * 70000})
    listing = walk_context(root)
    chunks = [chunk async for chunk in context_tar(listing, chunk_size=4096)]
    assert b"".join(chunks) == b"".join(iter_context_tar(listing))
    assert len(chunks) > 10


@pytest.mark.anyio
async def test_stopping_the_async_tar_early_closes_the_file(tmp_path: Path) -> None:
    """A cancelled build stops reading at once and leaves no file open behind it."""
    root = make_tree(tmp_path / "c", {"Dockerfile": "FROM scratch\n", "big": "x" * 5_000_000})
    listing = walk_context(root)
    before = len(os.listdir("/proc/self/fd"))
    stream = context_tar(listing, chunk_size=4096)
    first = await anext(stream)
    assert first.startswith(b"Dockerfile")
    await stream.aclose()  # a step may still be under way in the thread: closed after it
    for _ in range(200):
        if len(os.listdir("/proc/self/fd")) == before:
            break
        await asyncio.sleep(0.01)
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_file_that_shrinks_keeps_the_tar_valid(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "c", {"Dockerfile": "FROM scratch\n", "f": "abcdef"})
    listing = walk_context(root)
    (root / "f").write_text("ab")
    members = _tar_members(b"".join(iter_context_tar(listing)))
    assert members["f"].size == 6


# -- Dockerfile parsing --------------------------------------------------------------------------

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=busybox
ARG VERSION

FROM ${BASE} AS Build
# a comment
ARG GREETING="hello world" TARGET=x
RUN echo one \\
    # a comment inside
    && echo two

RUN <<EOF
echo from heredoc
EOF
FROM --platform=linux/amd64 scratch
COPY --from=build /x /x
"""


def test_parse_dockerfile() -> None:
    info = parse_dockerfile(DOCKERFILE)
    assert [(i.keyword, i.line, i.end_line) for i in info.instructions] == [
        ("ARG", 2, 2), ("ARG", 3, 3), ("FROM", 5, 5), ("ARG", 7, 7), ("RUN", 8, 10),
        ("RUN", 12, 14), ("FROM", 15, 15), ("COPY", 16, 16)]
    assert info.instructions[4].arguments == "echo one && echo two"
    assert [(a.name, a.default, a.stage) for a in info.args] == [
        ("BASE", "busybox", None), ("VERSION", None, None), ("GREETING", "hello world", 0),
        ("TARGET", "x", 0)]
    assert info.arg_names() == ["BASE", "VERSION", "GREETING", "TARGET"]
    assert [(s.index, s.name, s.base, s.line) for s in info.stages] == [
        (0, "build", "${BASE}", 5), (1, None, "scratch", 15)]
    assert info.stage_names() == ["build"]
    assert info.line_of_step(5, "RUN") == 8
    assert info.line_of_step(5, "COPY") is None
    assert info.line_of_step(99) is None


def test_dockerfile_saved_with_a_byte_order_mark(tmp_path: Path) -> None:
    """Editors on Windows save one; its first FROM (and so its stage) used to be lost."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_bytes(b"\xef\xbb\xbfFROM busybox AS base\nARG WHO=me\nRUN echo $WHO\n")
    text = walk_context(tmp_path, str(dockerfile)).dockerfile_text()
    assert text is not None
    info = parse_dockerfile(text)
    assert [(i.keyword, i.line) for i in info.instructions] == [("FROM", 1), ("ARG", 2),
                                                                ("RUN", 3)]
    assert [(s.name, s.base) for s in info.stages] == [("base", "busybox")]
    assert [(a.name, a.stage) for a in info.args] == [("WHO", 0)]
    assert info.line_of_step(1, "FROM") == 1


def test_parse_dockerfile_escape_directive() -> None:
    info = parse_dockerfile("# escape=`\nFROM x\nRUN dir `\n  c:\\\\\nRUN b\n")
    assert info.escape == "`"
    assert [(i.keyword, i.line) for i in info.instructions] == [("FROM", 2), ("RUN", 3),
                                                                ("RUN", 5)]


# -- properties ---------------------------------------------------------------------------------

_segment = st.text(alphabet="abc.", min_size=1, max_size=3).filter(lambda s: s not in (".", ".."))
_path = st.lists(_segment, min_size=1, max_size=4).map("/".join)
_glob_segment = st.text(alphabet="ab.*?", min_size=1, max_size=3).filter(
    lambda s: s not in (".", ".."))
_glob = st.lists(st.one_of(_glob_segment, st.just("**")), min_size=1, max_size=3).map("/".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_path, max_size=4), _path)
def test_literal_patterns_match_only_themselves_and_below(patterns: list[str], path: str) -> None:
    expected = any(path == p or path.startswith(p + "/") for p in patterns)
    assert PatternMatcher(patterns).matches(path) is expected


@settings(max_examples=300, deadline=None)
@given(_glob, _path)
def test_an_exception_of_the_same_pattern_undoes_it(pattern: str, path: str) -> None:
    assert PatternMatcher([pattern, "!" + pattern]).matches(path) is False


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_glob, _glob.map(lambda g: "!" + g)), max_size=4), _path)
def test_matching_is_idempotent(patterns: list[str], path: str) -> None:
    once = PatternMatcher(patterns).matches(path)
    assert PatternMatcher(patterns + patterns).matches(path) is once
    cleaned = read_ignore_patterns("\n".join(patterns))
    assert read_ignore_patterns("\n".join(cleaned)) == cleaned
    assert PatternMatcher(cleaned).matches(path) is once


@settings(max_examples=60, deadline=None)
@given(st.lists(_path, min_size=1, max_size=8, unique=True), st.lists(_glob, max_size=3))
def test_walk_without_exceptions_sends_what_the_matcher_keeps(
    tmp_path_factory: pytest.TempPathFactory, files: list[str], patterns: list[str]
) -> None:
    root = tmp_path_factory.mktemp("walk")
    tree: Tree = {}
    for rel in files:  # a path that is also a parent of another becomes a directory
        if any(other.startswith(rel + "/") for other in files):
            tree[rel] = None
        else:
            tree[rel] = "x"
    make_tree(root, {**tree, "Dockerfile": "FROM scratch\n"})
    listing = walk_context(root, ignore_text="\n".join(patterns))
    matcher = PatternMatcher(read_ignore_patterns("\n".join(patterns)))
    everything = {p.relative_to(root).as_posix() for p in root.rglob("*")}
    kept = {p for p in everything if not matcher.matches(p)} | {"Dockerfile"}
    assert set(listing.paths()) == kept


# -- against the docker CLI ------------------------------------------------------------------------


def _arrived(engine: EngineUnderTest, context: Path, cleanup: Callable[[str], None]) -> set[str]:
    """Build ``COPY . /ctx`` with the CLI and list what is in /ctx."""
    tag = f"{unique_name('ctx')}:1"
    cleanup(tag)
    engine.cli("build", "-q", "--label", LABEL, "-t", tag, str(context))
    out = engine.cli("run", "--rm", "--label", LABEL, tag, "find", "/ctx", "-mindepth", "1")
    return {line.removeprefix("/ctx/") for line in out.splitlines()}


@pytest.fixture
def image_cleanup(docker_engine: EngineUnderTest) -> Iterator[Callable[[str], None]]:
    tags: list[str] = []
    yield tags.append
    if tags:
        docker_engine.cli("rmi", "-f", *tags, check=False)


@pytest.mark.parametrize(("name", "tree", "ignore", "expected"), WALK_CASES,
                         ids=[c[0] for c in WALK_CASES])
def test_walk_matches_what_the_docker_cli_sends(
    tmp_path: Path, docker_engine: EngineUnderTest, image_cleanup: Callable[[str], None],
    name: str, tree: Tree, ignore: str, expected: list[str],
) -> None:
    dockerfile = f"FROM {docker_engine.image}\nCOPY . /ctx\n"
    root = make_tree(tmp_path / name, _with_build_files(tree, ignore, dockerfile))
    listing = walk_context(root)
    sent = set(listing.paths())
    # COPY creates the parents of what it unpacks even when they were not sent themselves.
    for path in list(sent):
        parts = path.split("/")
        sent |= {"/".join(parts[:i]) for i in range(1, len(parts))}
    # The classic daemon strips Dockerfile and .dockerignore when .dockerignore names them.
    matcher = PatternMatcher(read_ignore_patterns(ignore))
    sent -= {p for p in ("Dockerfile", ".dockerignore") if matcher.matches(p)}
    assert _arrived(docker_engine, root, image_cleanup) == sent


def test_outside_dockerfile_never_arrives(
    tmp_path: Path, docker_engine: EngineUnderTest, image_cleanup: Callable[[str], None],
) -> None:
    root = make_tree(tmp_path / "c", {"a": "1", ".dockerignore": "b\n", "b": "2"})
    outside = tmp_path / "elsewhere.Dockerfile"
    outside.write_text(f"FROM {docker_engine.image}\nCOPY . /ctx\n")
    listing = walk_context(root, str(outside))
    tag = f"{unique_name('ctx')}:1"
    image_cleanup(tag)
    docker_engine.cli("build", "-q", "--label", LABEL, "-t", tag, "-f", str(outside), str(root))
    out = docker_engine.cli("run", "--rm", "--label", LABEL, tag, "find", "/ctx", "-mindepth", "1")
    arrived = {line.removeprefix("/ctx/") for line in out.splitlines()}
    # .dockerignore arrives: the daemon strips it only when it names itself
    assert arrived == {"a", ".dockerignore"}
    # ours: the same files plus the Dockerfile, which the daemon strips
    assert set(listing.paths()) == {"a", ".dockerignore", listing.dockerfile}
