"""The build context: what ``docker build DIR`` would send, decided the way the docker CLI does.

Three pieces, all pure (they read the local filesystem, nothing else):

* :class:`PatternMatcher` — ``.dockerignore`` patterns with moby/patternmatcher's exact
  semantics (anchored at the root, ``*``/``?`` stop at ``/``, ``**`` spans directories,
  ``!`` exceptions, last match wins, a path is excluded when it or a parent matches).
  Quirks are kept on purpose, because the point is to show what the CLI really sends:
  ``**foo`` is a plain suffix test, ``a**`` a plain prefix test, and the walker's
  pruning rule (an excluded directory is entered only when some exception pattern
  *string* starts with ``<dir>/``) is applied in :func:`walk_context`.
* :func:`walk_context` — the classic CLI walk (moby's archive ``TarWithOptions``) giving a
  :class:`ContextListing`: entries in tar order, sizes, the largest files and
  directories, and warnings.  Symlinks are listed as symlinks and never followed.
* :func:`iter_context_tar` / :func:`context_tar` — the listing as a tar stream,
  produced chunk by chunk so a large context never sits in memory.

Plus :func:`parse_dockerfile`, so a build sheet can offer ARGs and stages and a failed
step can be pointed at its Dockerfile line.

BuildKit's own client (``docker buildx``) walks with fsutil instead and has no pruning
quirk; Dockyard sends a tar to the daemon, so the classic rules are the ones that apply.
"""

from __future__ import annotations

import asyncio
import enum
import os
import re
import secrets
import stat
import tarfile
import warnings
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from engine._errors import EngineError

__all__ = [
    "GIANT_CONTEXT",
    "GIANT_FILE",
    "BuildArg",
    "ContextEntry",
    "ContextError",
    "ContextListing",
    "DockerfileInfo",
    "EntryKind",
    "Instruction",
    "PatternError",
    "PatternMatcher",
    "Stage",
    "context_tar",
    "go_clean",
    "iter_context_tar",
    "parse_dockerfile",
    "read_ignore_patterns",
    "walk_context",
]

#: Warn about single files larger than this (they usually belong in a volume or registry).
GIANT_FILE = 100 * 1024 * 1024
#: Warn about contexts larger than this.
GIANT_CONTEXT = 500 * 1024 * 1024
#: Directory names that are usually sent by mistake.
_SUSPECT_DIRS = (".git", "node_modules")
#: File names that usually hold credentials: in a context they end up in the image
#: (or its build cache) at the first ``COPY . …``.
_SECRET_NAMES = re.compile(
    r"\.env(?:\.(?!example$|sample$|template$|dist$)[^/]+)?|id_(?:rsa|dsa|ecdsa|ed25519)"
    r"|\.netrc|\.npmrc|\.pypirc|[^/]+\.(?:pem|key|p12|pfx)")

# Go's unicode.IsSpace, which strings.TrimSpace uses (str.strip() also strips \x1c-\x1f).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
            "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
# Characters regexp-special but not glob-special, escaped by patternmatcher (not "^").
_REGEX_ESCAPE = frozenset(".+()|{}$")


class ContextError(EngineError):
    """The build context cannot be listed or sent (missing directory, bad .dockerignore)."""


class PatternError(ContextError):
    """A .dockerignore pattern the docker CLI would reject too."""


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` on a slash path (``posixpath.normpath`` keeps a leading ``//``)."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(comp)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def _trim(text: str) -> str:
    return text.strip(_GO_SPACE)


def read_ignore_patterns(text: str) -> list[str]:
    """The pattern list of a .dockerignore file (moby/patternmatcher ``ignorefile.ReadAll``).

    A BOM is stripped; a line whose *first* character is ``#`` is a comment (so
    ``  # x`` is a pattern); lines are trimmed, blank ones dropped; ``!`` marks an
    exception; each pattern is cleaned and loses one leading ``/``.
    """
    patterns: list[str] = []
    for number, raw in enumerate(text.split("\n")):
        line = raw[:-1] if raw.endswith("\r") else raw
        if number == 0 and line.startswith("\ufeff"):
            line = line[1:]
        if line.startswith("#"):
            continue
        line = _trim(line)
        if not line:
            continue
        invert = line[0] == "!"
        if invert:
            line = _trim(line[1:])
        if line:
            line = go_clean(line)
            if len(line) > 1 and line[0] == "/":
                line = line[1:]
        patterns.append("!" + line if invert else line)
    return patterns


def _check_glob_syntax(pattern: str) -> None:
    """Raise like Go's ``filepath.Match`` does for a malformed pattern."""
    n = len(pattern)

    def escaped_char(i: int) -> int:
        # getEsc: one (possibly \-escaped) character of a class, which may not end it.
        if i >= n or pattern[i] in "-]":
            raise PatternError(f"syntax error in pattern {pattern!r}")
        if pattern[i] == "\\":
            i += 1
            if i >= n:
                raise PatternError(f"syntax error in pattern {pattern!r}")
        i += 1
        if i >= n:
            raise PatternError(f"syntax error in pattern {pattern!r}")
        return i

    i = 0
    while i < n:
        ch = pattern[i]
        if ch == "[":
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            ranges = 0
            while True:
                if i < n and pattern[i] == "]" and ranges > 0:
                    i += 1
                    break
                i = escaped_char(i)
                if pattern[i] == "-":
                    i = escaped_char(i + 1)
                ranges += 1
        elif ch == "\\":
            i += 2
            if i > n:
                raise PatternError(f"syntax error in pattern {pattern!r}")
        else:
            i += 1


class _Kind(enum.Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEXP = "regexp"


@dataclass(frozen=True, slots=True)
class Pattern:
    """One compiled .dockerignore line."""

    text: str  # cleaned, without the "!"
    exclusion: bool  # a "!" exception: matching paths are sent after all
    kind: _Kind = field(repr=False)
    regex: re.Pattern[str] | None = field(repr=False, default=None)

    @classmethod
    def compile(cls, text: str, exclusion: bool) -> Pattern:
        """Translate a glob the way patternmatcher's ``compile`` does (with "/" separators)."""
        reg = "^"
        kind = _Kind.EXACT
        i, n, token = 0, len(text), 0
        while i < n:
            ch = text[i]
            i += 1
            if ch == "*":
                if i < n and text[i] == "*":
                    i += 1
                    if i < n and text[i] == "/":  # "**/" is "**"
                        i += 1
                    if i >= n:  # "**" at the end: accept everything below
                        if kind is _Kind.EXACT:
                            kind = _Kind.PREFIX
                        else:
                            reg += ".*"
                            kind = _Kind.REGEXP
                    else:
                        reg += "(.*/)?"
                        kind = _Kind.REGEXP
                    if token == 0:
                        kind = _Kind.SUFFIX
                else:
                    reg += "[^/]*"
                    kind = _Kind.REGEXP
            elif ch == "?":
                reg += "[^/]"
                kind = _Kind.REGEXP
            elif ch in _REGEX_ESCAPE:
                reg += "\\" + ch
            elif ch == "\\":
                if i < n:
                    reg += "\\" + text[i]
                    i += 1
                    kind = _Kind.REGEXP
                else:
                    reg += "\\\\"
            elif ch in "[]":
                reg += ch
                kind = _Kind.REGEXP
            else:
                reg += ch
            token += 1
        regex = None
        if kind is _Kind.REGEXP:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)  # "possible nested set"
                    regex = re.compile(reg + "$")
            except re.error as exc:
                raise PatternError(f"bad .dockerignore pattern {text!r}: {exc}") from None
        return cls(text, exclusion, kind, regex)

    def match(self, path: str) -> bool:
        if self.kind is _Kind.EXACT:
            return path == self.text
        if self.kind is _Kind.PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind is _Kind.SUFFIX:
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]  # "**/foo" matches "foo"
        assert self.regex is not None
        return self.regex.fullmatch(path) is not None

    def __str__(self) -> str:
        return self.text


#: Per-pattern "the parent directory matched it", handed from a directory to its entries.
MatchInfo = tuple[bool, ...]


class PatternMatcher:
    """A .dockerignore pattern list (moby/patternmatcher ``New``), compiled once."""

    def __init__(self, patterns: Iterable[str]) -> None:
        compiled: list[Pattern] = []
        for raw in patterns:
            text = _trim(raw)
            if not text:
                continue
            text = go_clean(text)
            exclusion = text[0] == "!"
            if exclusion:
                if len(text) == 1:
                    raise PatternError('illegal exclusion pattern: "!"')
                text = text[1:]
            _check_glob_syntax(text)
            compiled.append(Pattern.compile(text, exclusion))
        self.patterns: tuple[Pattern, ...] = tuple(compiled)
        self.exclusions = any(p.exclusion for p in compiled)

    def matches(self, path: str) -> bool:
        """Whether ``path`` (slash-separated, relative) is excluded: it or a parent matches.

        Patterns apply in order and the last one that matches decides
        (``MatchesOrParentMatches``).
        """
        path = go_clean(path)
        if path == ".":
            return False
        parents = _parent_prefixes(path)
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # only an exception can undo a match, only a pattern can make one
            if pattern.match(path) or any(pattern.match(p) for p in parents):
                matched = not pattern.exclusion
        return matched

    def _matches_one_parent(self, path: str) -> bool:
        """The deprecated ``Matches`` (tests only the parent as deep as the pattern).

        The CLI still uses it to decide whether to re-include the Dockerfile and
        .dockerignore, so it is kept for exactly that.
        """
        path = go_clean(path)
        if path == ".":
            return False
        parent = path.rpartition("/")[0] or "."
        parent_dirs = parent.split("/")
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            match = pattern.match(path)
            if not match and parent != ".":
                depth = pattern.text.count("/") + 1
                if depth <= len(parent_dirs):
                    match = pattern.match("/".join(parent_dirs[:depth]))
            if match:
                matched = not pattern.exclusion
        return matched

    def matches_using_parent(self, path: str, parent: MatchInfo | None) -> tuple[bool, MatchInfo]:
        """``MatchesUsingParentResults``: what the archive walker really calls.

        ``parent`` is the directory's own result (``None`` at the top).  A pattern
        skipped by the last-match-wins shortcut records False for the directory, and
        the children test it afresh against their own path only — a quirk kept as is.
        """
        matched = False
        info = [False] * len(self.patterns)
        parents: list[str] | None = None
        for index, pattern in enumerate(self.patterns):
            match = parent[index] if parent else False
            if not match:
                if pattern.exclusion != matched:
                    continue
                match = pattern.match(path)
                if not match and not parent:
                    if parents is None:
                        parents = _parent_prefixes(path)
                    match = any(pattern.match(p) for p in parents)
            info[index] = match
            if match:
                matched = not pattern.exclusion
        return matched, tuple(info)

    def may_enter(self, directory: str) -> bool:
        """The pruning rule: may an excluded directory still hold an exception?

        Only the pattern *text* is looked at: ``!**/*.txt`` does not keep ``sub/``
        open, ``!sub`` and ``!sub/x`` do (docker/cli#2919).
        """
        if not self.exclusions:
            return False
        prefix = directory + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)


def _parent_prefixes(path: str) -> list[str]:
    """``a/b/c`` → ``["a", "a/b"]``."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


# -- the walk ----------------------------------------------------------------------------


class EntryKind(enum.StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"  # a second name of a file already in the tar
    FIFO = "fifo"
    CHARDEV = "chardev"
    BLOCKDEV = "blockdev"


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """One tar entry.  ``data`` replaces the file's content (the CLI's rewritten files)."""

    path: str  # relative, forward slashes, no trailing slash
    kind: EntryKind
    size: int  # bytes of content sent (0 for everything but files)
    mode: int = 0o644  # permission bits including setuid/setgid/sticky
    mtime: int = 0
    link: str = ""  # symlink target, or the first name of a hard link
    device: tuple[int, int] = (0, 0)
    data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ContextListing:
    """What would be sent for one build, in tar order, and what to say about it."""

    root: Path
    entries: tuple[ContextEntry, ...]
    dockerfile: str  # the name to pass as ``dockerfile=`` (``.dockerfile.<random>`` if outside)
    patterns: tuple[str, ...]  # the exclude list actually applied (with the CLI's additions)
    warnings: tuple[str, ...] = ()
    dockerfile_path: Path | None = None  # the Dockerfile on disk, wherever it is
    #: Sent only for the daemon to read, and named in the sent .dockerignore so that the
    #: classic builder strips them before a COPY sees the context: a Dockerfile from
    #: outside, or a Dockerfile / .dockerignore the user's .dockerignore names.  BuildKit
    #: fed a plain tar (no session) strips nothing, so ``build`` picks the classic builder
    #: for such a listing when the caller leaves the choice to it.
    daemon_strips: tuple[str, ...] = ()

    @property
    def total_size(self) -> int:
        """Bytes of file content sent (the tar adds 512-byte headers and padding)."""
        return sum(e.size for e in self.entries)

    @property
    def file_count(self) -> int:
        return sum(1 for e in self.entries if e.kind is EntryKind.FILE)

    def paths(self) -> list[str]:
        return [e.path for e in self.entries]

    def largest_files(self, count: int = 10) -> list[ContextEntry]:
        files = [e for e in self.entries if e.kind is EntryKind.FILE]
        return sorted(files, key=lambda e: (-e.size, e.path))[:count]

    def directory_sizes(self) -> dict[str, int]:
        """Total content bytes under every directory that holds sent files ('' is the root)."""
        sizes: dict[str, int] = {}
        for entry in self.entries:
            if entry.kind is not EntryKind.FILE:
                continue
            parts = entry.path.split("/")[:-1]
            for depth in range(len(parts) + 1):
                key = "/".join(parts[:depth])
                sizes[key] = sizes.get(key, 0) + entry.size
        return sizes

    def largest_dirs(self, count: int = 10) -> list[tuple[str, int]]:
        sizes = [(d, s) for d, s in self.directory_sizes().items() if d]
        return sorted(sizes, key=lambda item: (-item[1], item[0]))[:count]

    def dockerfile_text(self) -> str | None:
        """The Dockerfile the daemon will read, for step-to-line mapping; None if missing."""
        for entry in self.entries:
            if entry.path == self.dockerfile and entry.data is not None:
                return entry.data.decode("utf-8", "replace")
        if self.dockerfile_path is None:
            return None
        try:
            return self.dockerfile_path.read_text("utf-8", "replace")
        except OSError:
            return None


def _entry_for(abs_path: str, rel: str, st: os.stat_result,
               seen_inodes: dict[tuple[int, int], str]) -> ContextEntry | None:
    mode = st.st_mode
    perm = stat.S_IMODE(mode)
    mtime = int(st.st_mtime)
    if stat.S_ISREG(mode):
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = seen_inodes.get(key)
            if first is not None:
                return ContextEntry(rel, EntryKind.HARDLINK, 0, perm, mtime, link=first)
            seen_inodes[key] = rel
        return ContextEntry(rel, EntryKind.FILE, st.st_size, perm, mtime)
    if stat.S_ISDIR(mode):
        return ContextEntry(rel, EntryKind.DIR, 0, perm, mtime)
    if stat.S_ISLNK(mode):
        return ContextEntry(rel, EntryKind.SYMLINK, 0, perm, mtime, link=os.readlink(abs_path))
    if stat.S_ISFIFO(mode):
        return ContextEntry(rel, EntryKind.FIFO, 0, perm, mtime)
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = EntryKind.CHARDEV if stat.S_ISCHR(mode) else EntryKind.BLOCKDEV
        return ContextEntry(rel, kind, 0, perm, mtime,
                            device=(os.major(st.st_rdev), os.minor(st.st_rdev)))
    return None  # sockets: the CLI skips them too


def _walk(root: Path, matcher: PatternMatcher, problems: list[str]) -> list[ContextEntry]:
    """The archive walker: lexical order, excluded dirs pruned unless an exception may apply."""
    entries: list[ContextEntry] = []
    seen_inodes: dict[tuple[int, int], str] = {}
    # Each frame: (entries of one directory still to visit, its relative path, its MatchInfo)
    stack: list[tuple[Iterator[os.DirEntry[str]], str, MatchInfo | None]] = []

    def open_dir(abs_dir: str, rel_dir: str, info: MatchInfo | None) -> None:
        try:
            with os.scandir(abs_dir) as it:
                children = sorted(it, key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            problems.append(f"cannot read directory {rel_dir or '.'}: {exc.strerror}")
            return
        stack.append((iter(children), rel_dir, info))

    open_dir(str(root), "", None)
    while stack:
        children, rel_dir, info = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        rel = f"{rel_dir}/{child.name}" if rel_dir else child.name
        try:
            st = child.stat(follow_symlinks=False)
        except OSError as exc:
            problems.append(f"cannot stat {rel}: {exc.strerror}")
            continue
        is_dir = stat.S_ISDIR(st.st_mode)
        skip, child_info = matcher.matches_using_parent(rel, info)
        if skip:
            if is_dir and matcher.may_enter(rel):
                open_dir(child.path, rel, child_info)
            continue
        entry = _entry_for(child.path, rel, st, seen_inodes)
        if entry is not None:
            if entry.kind is EntryKind.FILE and not os.access(child.path, os.R_OK):
                problems.append(f"no permission to read {rel}; the CLI refuses such a context")
            entries.append(entry)
        if is_dir:
            open_dir(child.path, rel, child_info)
    return entries


def _warnings(entries: Sequence[ContextEntry], total: int) -> list[str]:
    notes: list[str] = []
    for name in _SUSPECT_DIRS:
        tops = sorted({
            "/".join(parts[: parts.index(name) + 1])
            for e in entries
            if name in (parts := e.path.split("/"))
        })
        for top in tops[:3]:
            size = sum(e.size for e in entries if e.path.startswith(top + "/"))
            notes.append(f"{top}/ is sent ({_human(size)}); add it to .dockerignore?")
    for entry in entries:
        if entry.kind is EntryKind.FILE and entry.size > GIANT_FILE:
            notes.append(f"{entry.path} is {_human(entry.size)}")
    secrets_sent = [e.path for e in entries if e.kind is EntryKind.FILE
                    and _SECRET_NAMES.fullmatch(e.path.rpartition("/")[2])]
    if secrets_sent:
        more = f" and {len(secrets_sent) - 3} more" if len(secrets_sent) > 3 else ""
        notes.append(f"{', '.join(secrets_sent[:3])}{more} may hold secrets and will be sent;"
                     " add to .dockerignore?")
    if total > GIANT_CONTEXT:
        notes.append(f"the context is {_human(total)}; builds will be slow to start")
    return notes


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover


def walk_context(
    root: Path, dockerfile: str = "Dockerfile", ignore_text: str | None = None
) -> ContextListing:
    """List what the docker CLI (classic builder) would send for ``docker build -f DF ROOT``.

    ``dockerfile`` is relative to ``root`` (as the API's ``dockerfile=``) or absolute;
    one outside ``root`` is added the CLI's way, as ``.dockerfile.<random>`` with that
    name appended to the sent ``.dockerignore``.  ``ignore_text`` replaces
    ``root/.dockerignore`` (for previews of an edited file).
    """
    root = Path(root)
    if not root.is_dir():
        raise ContextError(f"the build context {root} is not a directory")
    root = root.resolve()
    if ignore_text is None:
        try:
            ignore_text = (root / ".dockerignore").read_text("utf-8", "replace")
        except FileNotFoundError:
            ignore_text = ""
        except OSError as exc:
            raise ContextError(f"cannot read {root / '.dockerignore'}: {exc.strerror}") from None
    patterns = read_ignore_patterns(ignore_text)

    df_path = Path(dockerfile) if os.path.isabs(dockerfile) else root / dockerfile
    df_abs = Path(os.path.abspath(df_path))
    try:
        rel_df: str | None = df_abs.relative_to(root).as_posix()
    except ValueError:
        rel_df = None  # outside the context
    if rel_df is not None and df_abs.parent.resolve() != (root / rel_df).parent.resolve():
        rel_df = None  # reached through a symlinked directory: the CLI sees it as outside

    # TrimBuildFilesFromExcludes, with the deprecated single-parent Matches as in the CLI.
    strips: list[str] = []
    probe = PatternMatcher(patterns)
    if probe._matches_one_parent(".dockerignore"):
        patterns.append("!.dockerignore")
        strips.append(".dockerignore")
    if rel_df is not None:
        probe = PatternMatcher(patterns)
        if probe._matches_one_parent(rel_df):
            patterns.append("!" + rel_df)
            strips.append(rel_df)

    problems: list[str] = []
    entries = _walk(root, PatternMatcher(patterns), problems)
    sent_name = rel_df or ""
    if rel_df is None:
        try:
            data = df_abs.read_bytes()
        except OSError as exc:
            raise ContextError(f"cannot read the Dockerfile {df_abs}: {exc.strerror}") from None
        sent_name = ".dockerfile." + secrets.token_hex(10)
        entries = _add_outside_dockerfile(entries, sent_name, data, root)
        strips = sorted({*strips, ".dockerignore", sent_name})
    elif not any(e.path == rel_df for e in entries):
        problems.append(f"no Dockerfile at {rel_df}: the daemon will refuse the build")
    total = sum(e.size for e in entries)
    return ContextListing(
        root=root,
        entries=tuple(entries),
        dockerfile=sent_name,
        patterns=tuple(patterns),
        warnings=tuple(problems + _warnings(entries, total)),
        dockerfile_path=df_abs,
        daemon_strips=tuple(strips),
    )


def _add_outside_dockerfile(
    entries: list[ContextEntry], name: str, data: bytes, root: Path
) -> list[ContextEntry]:
    """The CLI's ``AddDockerfileToBuildContext``: add the file, and name it in .dockerignore.

    The daemon strips what .dockerignore names, so the random name never reaches a COPY.
    """
    import time

    now = int(time.time())
    out: list[ContextEntry] = []
    found = False
    for entry in entries:
        if entry.path == ".dockerignore" and entry.kind is EntryKind.FILE:
            found = True
            old = (root / ".dockerignore").read_bytes()
            content = old + f"\n{name}\n".encode()
            entry = ContextEntry(entry.path, entry.kind, len(content), entry.mode,
                                 entry.mtime, data=content)
        out.append(entry)
    out.append(ContextEntry(name, EntryKind.FILE, len(data), 0o600, now, data=data))
    if not found:
        content = f".dockerignore\n{name}\n".encode()
        out.append(ContextEntry(".dockerignore", EntryKind.FILE, len(content), 0o600, 0,
                                data=content))
    return out


# -- the tar stream ----------------------------------------------------------------------

_BLOCK = 512
_TAR_TYPES = {
    EntryKind.FILE: tarfile.REGTYPE,
    EntryKind.DIR: tarfile.DIRTYPE,
    EntryKind.SYMLINK: tarfile.SYMTYPE,
    EntryKind.HARDLINK: tarfile.LNKTYPE,
    EntryKind.FIFO: tarfile.FIFOTYPE,
    EntryKind.CHARDEV: tarfile.CHRTYPE,
    EntryKind.BLOCKDEV: tarfile.BLKTYPE,
}


def _header(entry: ContextEntry) -> bytes:
    return _ustar_header(entry) or _pax_header(entry)


def _pax_header(entry: ContextEntry) -> bytes:
    info = tarfile.TarInfo(entry.path)
    info.type = _TAR_TYPES[entry.kind]
    info.size = entry.size if entry.kind is EntryKind.FILE else 0
    info.mode = entry.mode
    info.mtime = entry.mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.linkname = entry.link
    info.devmajor, info.devminor = entry.device
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


#: Largest value of an 11-digit octal field (size, mtime); beyond it tarfile writes PAX.
_OCTAL11 = 8**11 - 1
_OCTAL7 = 8**7 - 1
_NO_DEVICE = bytes(16)
_UID_GID = b"0000000\x000000000\x00"
_MAGIC_OWNERS = b"ustar\x0000" + bytes(64)  # magic, version, empty uname and gname
_TAIL = bytes(155 + 12)  # prefix (unused: longer names go through PAX) and padding


def _ustar_header(entry: ContextEntry) -> bytes | None:
    """The header tarfile's PAX writer produces when no PAX record is needed, built directly.

    tarfile takes ~60 µs per header (a dict, then field by field); a context of 20k
    files spent more time there than reading the files.  None when the entry needs
    PAX records (non-ASCII or names over 100 bytes, huge sizes): tarfile does those.
    """
    kind = entry.kind
    path = entry.path + "/" if kind is EntryKind.DIR else entry.path
    size = entry.size if kind is EntryKind.FILE else 0
    if (len(path) > 100 or len(entry.link) > 100 or not path.isascii()
            or not entry.link.isascii() or size > _OCTAL11 or not 0 <= entry.mtime <= _OCTAL11):
        return None
    if kind is EntryKind.CHARDEV or kind is EntryKind.BLOCKDEV:
        major, minor = entry.device
        if not (0 <= major <= _OCTAL7 and 0 <= minor <= _OCTAL7):
            return None
        devices = b"%07o\x00%07o\x00" % (major, minor)
    else:
        devices = _NO_DEVICE
    block = b"".join((
        path.encode().ljust(100, b"\x00"), b"%07o\x00" % (entry.mode & 0o7777), _UID_GID,
        b"%011o\x00%011o\x00" % (size, entry.mtime), b"        ", _TAR_TYPES[kind],
        entry.link.encode().ljust(100, b"\x00"), _MAGIC_OWNERS, devices, _TAIL,
    ))
    return b"%s%06o\x00%s" % (block[:148], sum(block), block[155:])


def iter_context_tar(
    listing: ContextListing, chunk_size: int = 1 << 20
) -> Generator[bytes, None, None]:
    """The listing as an uncompressed tar, in chunks of about ``chunk_size`` bytes.

    Entries are written as listed (uid/gid 0, modes kept, symlinks and directories
    as such).  A file that changed size since the walk is cut or zero-padded to the
    listed size so the archive stays valid.
    """
    buf = bytearray()
    root = os.fspath(listing.root)
    for entry in listing.entries:
        buf += _header(entry)
        if entry.kind is not EntryKind.FILE:
            continue
        if entry.data is not None:
            buf += entry.data
        else:
            remaining = entry.size
            try:
                fd = os.open(os.path.join(root, entry.path), os.O_RDONLY)
                try:
                    while remaining > 0:
                        piece = os.read(fd, min(remaining, chunk_size))
                        if not piece:
                            break
                        remaining -= len(piece)
                        buf += piece
                        if len(buf) >= chunk_size:
                            yield bytes(buf)
                            buf.clear()
                finally:
                    os.close(fd)
            except OSError as exc:
                raise ContextError(f"cannot read {entry.path}: {exc.strerror}") from None
            if remaining:
                buf += bytes(remaining)
        pad = -entry.size % _BLOCK
        if pad:
            buf += bytes(pad)
        if len(buf) >= chunk_size:
            yield bytes(buf)
            buf.clear()
    buf += bytes(2 * _BLOCK)
    yield bytes(buf)


async def context_tar(listing: ContextListing, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
    """:func:`iter_context_tar` made in a worker thread, one chunk ahead of the sender.

    The next chunk is read from disk while the last one goes to the daemon, so the
    upload never waits for the disk (nor the disk for the upload): about 2 MiB in memory.
    """
    chunks = iter_context_tar(listing, chunk_size)
    done = object()
    ahead = asyncio.ensure_future(asyncio.to_thread(next, chunks, done))
    try:
        while (chunk := await ahead) is not done:
            assert isinstance(chunk, bytes)
            ahead = asyncio.ensure_future(asyncio.to_thread(next, chunks, done))
            yield chunk
    finally:
        # The thread cannot be stopped inside its step, nor the generator closed while
        # it is: close it once the step is over (a chunk read ahead is dropped).
        ahead.add_done_callback(partial(_close_after, chunks))


def _close_after(chunks: Generator[bytes, None, None], step: asyncio.Future[object]) -> None:
    if not step.cancelled():
        step.exception()  # retrieved: a failure nobody waits for is not an error
    chunks.close()


# -- Dockerfiles -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper case: "RUN"
    arguments: str  # continuation lines joined, comments dropped
    line: int  # 1-based line of the keyword
    end_line: int

    @property
    def text(self) -> str:
        return f"{self.keyword} {self.arguments}".strip()


@dataclass(frozen=True, slots=True)
class BuildArg:
    name: str
    default: str | None
    line: int
    stage: int | None  # None for an ARG before the first FROM (usable in FROM lines)


@dataclass(frozen=True, slots=True)
class Stage:
    index: int
    name: str | None  # FROM x AS name
    base: str
    line: int


@dataclass(frozen=True, slots=True)
class DockerfileInfo:
    instructions: tuple[Instruction, ...]
    args: tuple[BuildArg, ...]
    stages: tuple[Stage, ...]
    escape: str = "\\"

    def arg_names(self) -> list[str]:
        """Every ARG name once, in order: what a build sheet offers as build args."""
        return list(dict.fromkeys(a.name for a in self.args))

    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages if s.name]

    def instructions_of(self, stage: Stage) -> list[Instruction]:
        """The stage's FROM and what follows it up to the next FROM."""
        starts = [s.line for s in self.stages] + [1 << 62]
        end = starts[stage.index + 1]
        return [i for i in self.instructions if stage.line <= i.line < end]

    def line_of_step(self, step: int, keyword: str | None = None) -> int | None:
        """The line of classic-builder step N (steps count every instruction in order)."""
        if not 1 <= step <= len(self.instructions):
            return None
        instruction = self.instructions[step - 1]
        if keyword and instruction.keyword != keyword.upper():
            return None
        return instruction.line


_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([a-zA-Z_][a-zA-Z0-9_]*)\2")
_ARG_ITEM = re.compile(r"([^\s=]+)(?:=(\"[^\"]*\"|'[^']*'|\S*))?")
_FROM = re.compile(r"^(?:--\S+\s+)*(\S+)(?:\s+[aA][sS]\s+(\S+))?\s*$")


def parse_dockerfile(text: str) -> DockerfileInfo:
    """Instructions with their line numbers, ARGs and stages (BuildKit's parser rules).

    Handles parser directives (``# escape=``), comments (a line whose first
    non-blank character is ``#``, also inside continuations), escape-char line
    continuations and heredocs (``RUN <<EOF``).  Not a validator: unknown
    instructions are kept as they are.
    """
    # A Dockerfile saved with a UTF-8 byte-order mark: BuildKit drops it, and so must
    # we, or the first instruction reads as "\ufeffFROM" and its stage is lost.
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    escape = "\\"
    start = 0
    # Parser directives: only at the very top, before any other line.
    while start < len(lines):
        match = _DIRECTIVE.match(lines[start].strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            escape = match.group(2)
        start += 1
    instructions: list[Instruction] = []
    index = start
    total = len(lines)
    while index < total:
        raw = lines[index]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        first = index
        parts: list[str] = []
        current = raw.rstrip()
        while True:
            if current.endswith(escape):
                parts.append(current[: -len(escape)])
                index += 1
                # skip comment and blank lines inside a continuation
                while index < total and (not lines[index].strip()
                                         or lines[index].strip().startswith("#")):
                    index += 1
                if index >= total:
                    break
                current = lines[index].rstrip()
                continue
            parts.append(current)
            break
        logical = " ".join(p.strip() for p in parts).strip()
        keyword, _, arguments = logical.partition(" ")
        keyword = keyword.upper()
        arguments = arguments.strip()
        end = index
        heredocs = _HEREDOC.findall(arguments) if keyword in ("RUN", "COPY", "ADD") else []
        for _dash, _quote, word in heredocs:
            index += 1
            while index < total and lines[index].strip() != word:
                index += 1
            end = index
        instructions.append(Instruction(keyword, arguments, first + 1, min(end, total - 1) + 1))
        index += 1

    stages: list[Stage] = []
    args: list[BuildArg] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            match = _FROM.match(instruction.arguments)
            base, name = (match.group(1), match.group(2)) if match else (instruction.arguments,
                                                                         None)
            stages.append(Stage(len(stages), name.lower() if name else None, base,
                                instruction.line))
        elif instruction.keyword == "ARG":
            for item in _ARG_ITEM.finditer(instruction.arguments):
                value = item.group(2)
                if value is not None and len(value) >= 2 and value[0] == value[-1] \
                        and value[0] in "\"'":
                    value = value[1:-1]
                args.append(BuildArg(item.group(1), value, instruction.line,
                                     len(stages) - 1 if stages else None))
    return DockerfileInfo(tuple(instructions), tuple(args), tuple(stages), escape)
