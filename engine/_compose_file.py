"""A Compose file read before anything runs: its services, volumes, networks and profiles.

Dockyard shows what a dropped ``compose.yaml`` defines before the user brings it
up, so the file is parsed here with a real YAML parser (PyYAML's safe loader:
anchors, merge keys and block strings as Compose itself reads them), then
interpolated as the Compose specification says:

- ``$VAR`` and ``${VAR}``; ``${VAR:-default}`` (unset or empty) and
  ``${VAR-default}`` (unset); ``${VAR:?message}`` / ``${VAR?message}`` (an error
  naming the variable); ``${VAR:+other}`` / ``${VAR+other}``; ``$$`` is a ``$``;
- values come from the environment first, then the project's ``.env`` file (the
  folder of the first file), as ``docker compose`` gives them precedence;
- a variable set nowhere becomes "" and is listed in :attr:`ComposeFile.unset`,
  as Compose warns "The X variable is not set".

Profiles: a service with ``profiles:`` runs only when one of them is enabled
(``COMPOSE_PROFILES`` in the environment or ``.env``, or the user's choice).
``docker-compose.override.yml`` beside a default-named file is merged in, as the
tools do.  This is a reader for showing, not a validator: the Compose tool that
runs the file has the last word, and its errors are shown as it words them.
Every problem here is a :class:`ComposeFileError` with one line to show
("compose.yaml line 7: mapping values are not allowed here").
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from engine._errors import EngineError

#: The names Compose looks for in a folder, in its order of preference.
COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
#: Merged over a default-named file when it sits beside it.
OVERRIDE_NAMES = ("compose.override.yaml", "compose.override.yml",
                  "docker-compose.override.yaml", "docker-compose.override.yml")
#: Bigger than any hand-written Compose file: refuse rather than read a log by mistake.
MAX_FILE_BYTES = 4 << 20

_BRACED = re.compile(r"^(?P<name>[_a-zA-Z][_a-zA-Z0-9]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$",
                     re.DOTALL)
_PROJECT_CHARS = re.compile(r"[^a-z0-9_-]")


class ComposeFileError(EngineError):
    """A Compose file that cannot be read or is not one: the message is one line to show."""


@dataclass(frozen=True, slots=True)
class ComposeFileService:
    """One service as the file defines it (interpolated)."""

    name: str
    image: str = ""
    #: The build context as written ("." or "./web"), "" without ``build:``.
    build: str = ""
    dockerfile: str = ""
    ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    healthcheck: bool = False
    replicas: int = 1
    container_name: str = ""

    @property
    def image_or_build(self) -> str:
        """What a user reads in the Image column: the image, or "build ./web"."""
        if self.build:
            built = f"build {self.build}" + (f" ({self.dockerfile})" if self.dockerfile else "")
            return f"{built} → {self.image}" if self.image else built
        return self.image

    def active(self, profiles: Iterable[str]) -> bool:
        """Runs with these profiles enabled: it has none, or one of them ("*": all)."""
        enabled = set(profiles)
        return not self.profiles or "*" in enabled or bool(enabled & set(self.profiles))


@dataclass(frozen=True, slots=True)
class ComposeFile:
    """A Compose project as its files define it, before anything runs."""

    #: The project name the tools would give it (``name:``, ``COMPOSE_PROJECT_NAME``, folder).
    name: str
    #: Absolute paths of the files read, the main one first (then an override).
    files: tuple[str, ...]
    #: The folder the project runs in: relative paths in the file are relative to it.
    working_dir: str
    services: tuple[ComposeFileService, ...]
    volumes: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    #: The profiles enabled: from ``COMPOSE_PROFILES`` unless chosen (:meth:`with_profiles`).
    enabled_profiles: tuple[str, ...] = ()
    #: Variables the file uses that are set nowhere (each became "").
    unset: tuple[str, ...] = ()
    #: The variables of the project's ``.env`` (environment values not included).
    dotenv: Mapping[str, str] = field(default_factory=dict)

    @property
    def profiles(self) -> tuple[str, ...]:
        """Every profile any service names, sorted."""
        return tuple(sorted({p for s in self.services for p in s.profiles}))

    @property
    def active_services(self) -> tuple[ComposeFileService, ...]:
        return tuple(s for s in self.services if s.active(self.enabled_profiles))

    def service(self, name: str) -> ComposeFileService:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def with_profiles(self, profiles: Iterable[str]) -> ComposeFile:
        """The same project with these profiles enabled (only those the file names)."""
        return replace(self, enabled_profiles=tuple(p for p in self.profiles if p in
                                                    set(profiles)))


def compose_file_in(path: str | os.PathLike[str]) -> Path | None:
    """The Compose file ``path`` is, or the one a folder holds; None if neither.

    A file counts by its name (one of :data:`COMPOSE_FILE_NAMES`, or any
    ``*compose*.y(a)ml``, as ``docker-compose.prod.yml``), never by content: a
    dropped Dockerfile or tar must still go to the build sheet.
    """
    path = Path(path)
    if path.is_dir():
        for name in COMPOSE_FILE_NAMES:
            if (path / name).is_file():
                return path / name
        return None
    name = path.name.lower()
    if path.is_file() and "compose" in name and name.endswith((".yml", ".yaml")):
        return path
    return None


def read_dotenv(path: str | os.PathLike[str]) -> dict[str, str]:
    """``KEY=value`` lines of an ``.env`` file; comments, blanks and ``export`` allowed.

    Quotes: '…' is literal, "…" understands ``\\n`` and ``\\"``; an unquoted value
    ends at `` #``.  A missing file is an empty mapping; a line that is not an
    assignment is a :class:`ComposeFileError` naming its line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeFileError(f"{path.name}: cannot read it: {_reason(exc)}") from None
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[_a-zA-Z][_a-zA-Z0-9.-]*", key):
            raise ComposeFileError(f"{path.name} line {number}: not a KEY=value line: "
                                   f"{raw.strip()[:60]}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace("\\n", "\n").replace('\\"', '"')
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def interpolate(text: str, variables: Mapping[str, str], unset: set[str] | None = None,
                where: str = "") -> str:
    """``text`` with its ``$VAR`` / ``${VAR…}`` forms replaced (see the module's rules).

    Names used but set nowhere are added to ``unset``.  ``${VAR:?msg}`` of an unset
    variable, or a lone ``$`` followed by something that names nothing, is a
    :class:`ComposeFileError` (``where`` says which value).
    """
    def braced(inner: str) -> str:
        form = _BRACED.match(inner)
        if form is None:
            raise ComposeFileError(f"{where or 'a value'}: invalid interpolation "
                                   f"'${{{inner}}}'")
        name, op, arg = form.group("name"), form.group("op"), form.group("arg") or ""
        value = variables.get(name)
        if op is None:
            return lookup(name)
        missing = value is None or (op.startswith(":") and value == "")
        kind = op[-1]
        if kind == "-":
            return interpolate(arg, variables, unset, where) if missing else str(value)
        if kind == "+":
            return "" if missing else interpolate(arg, variables, unset, where)
        if missing:  # "?": required
            why = interpolate(arg, variables, unset, where)
            raise ComposeFileError(f"{where or 'a value'}: required variable {name} is not set"
                                   + (f": {why}" if why else ""))
        return str(value)

    def lookup(name: str) -> str:
        value = variables.get(name)
        if value is None:
            if unset is not None:
                unset.add(name)
            return ""
        return value

    out: list[str] = []
    i = 0
    while (dollar := text.find("$", i)) >= 0:
        out.append(text[i:dollar])
        rest = text[dollar + 1:]
        if rest.startswith("$"):
            out.append("$")
            i = dollar + 2
        elif rest.startswith("{"):
            depth, end = 0, -1
            for j, char in enumerate(rest):  # the matching brace: defaults may nest ${…}
                depth += {"{": 1, "}": -1}.get(char, 0)
                if depth == 0:
                    end = j
                    break
            if end < 0:
                raise ComposeFileError(f"{where or 'a value'}: unclosed '${{' in {text!r}")
            out.append(braced(rest[1:end]))
            i = dollar + 1 + end + 1
        elif match := re.match(r"[_a-zA-Z][_a-zA-Z0-9]*", rest):
            out.append(lookup(match.group()))
            i = dollar + 1 + match.end()
        else:
            raise ComposeFileError(f"{where or 'a value'}: a lone '$' in {text!r}"
                                   " (write $$ for a dollar sign)")
    out.append(text[i:])
    return "".join(out)


def _interpolate_tree(node: Any, variables: Mapping[str, str], unset: set[str], where: str
                      ) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables, unset, where)
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, variables, unset, f"{where}.{key}" if where
                                       else str(key)) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolate_tree(item, variables, unset, where) for item in node]
    return node


def _merge(base: Any, over: Any) -> Any:
    """An override file over the main one: mappings merge key by key, lists add up
    (ports, volumes), anything else is replaced — as Compose merges most keys."""
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(over, list):
        return base + [item for item in over if item not in base]
    return over


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _load_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping; any failure as one line naming the file (and line)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ComposeFileError(f"{path.name}: {path.stat().st_size} bytes is too big "
                                   "for a Compose file")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeFileError(f"{path.name}: cannot read it: {_reason(exc)}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "not valid YAML"
        raise ComposeFileError(f"{path.name}{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ComposeFileError(f"{path.name}: not valid YAML: "
                               f"{str(exc).splitlines()[0]}") from None
    if data is None:
        raise ComposeFileError(f"{path.name} is empty")
    if not isinstance(data, dict):
        raise ComposeFileError(f"{path.name}: not a Compose file (the top level is a "
                               f"{type(data).__name__}, not a mapping)")
    return data


def _strings(value: Any, what: str) -> tuple[str, ...]:
    """A list of names, or a mapping whose keys are the names (``depends_on``, ``networks``)."""
    if value is None:
        return ()
    if isinstance(value, dict):
        return tuple(str(k) for k in value)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        return (value,)
    raise ComposeFileError(f"{what}: expected a list, got {type(value).__name__}")


def _port(value: Any) -> str:
    if isinstance(value, dict):  # long syntax
        published = value.get("published")
        target = value.get("target", "")
        text = f"{published}:{target}" if published not in (None, "") else str(target)
        protocol = value.get("protocol")
        return f"{text}/{protocol}" if protocol and protocol != "tcp" else text
    return str(value)


def _volume(value: Any) -> str:
    if isinstance(value, dict):
        source, target = value.get("source", ""), value.get("target", "")
        text = f"{source}:{target}" if source else str(target)
        return f"{text}:ro" if value.get("read_only") else text
    return str(value)


def _service(name: str, spec: Any, origin: str) -> ComposeFileService:
    where = f"{origin}: service {name}"
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise ComposeFileError(f"{where} is a {type(spec).__name__}, not a mapping")
    image = spec.get("image")
    build = spec.get("build")
    if build is None and not image:
        raise ComposeFileError(f"{where} has neither an image nor a build")
    context, dockerfile = "", ""
    if isinstance(build, dict):
        context = str(build.get("context", "."))
        dockerfile = str(build.get("dockerfile", "") or "")
    elif build is not None:
        context = str(build)
    health = spec.get("healthcheck")
    healthcheck = isinstance(health, dict) and not health.get("disable") and \
        health.get("test") not in (None, ["NONE"], "NONE")
    deploy: dict[str, Any] = spec["deploy"] if isinstance(spec.get("deploy"), dict) else {}
    replicas: Any = deploy.get("replicas", spec.get("scale", 1))
    try:
        count = int(replicas)
    except (TypeError, ValueError):
        raise ComposeFileError(f"{where}: replicas {replicas!r} is not a number") from None
    for key in ("ports", "volumes"):
        if spec.get(key) is not None and not isinstance(spec[key], list):
            raise ComposeFileError(f"{where}: {key} must be a list")
    return ComposeFileService(
        name=name,
        image=str(image or ""),
        build=context,
        dockerfile=dockerfile,
        ports=tuple(_port(p) for p in spec.get("ports") or ()),
        volumes=tuple(_volume(v) for v in spec.get("volumes") or ()),
        networks=_strings(spec.get("networks"), f"{where}: networks"),
        profiles=_strings(spec.get("profiles"), f"{where}: profiles"),
        depends_on=_strings(spec.get("depends_on"), f"{where}: depends_on"),
        healthcheck=bool(healthcheck),
        replicas=count,
        container_name=str(spec.get("container_name") or ""),
    )


def project_name_from(text: str) -> str:
    """A folder's name as a project name, as the tools normalise it: lower case,
    letters, digits, ``-`` and ``_`` only."""
    return _PROJECT_CHARS.sub("", text.lower()).lstrip("-_")


def _split_profiles(text: str) -> tuple[str, ...]:
    return tuple(p for p in (part.strip() for part in text.split(",")) if p)


def load_compose_file(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    profiles: Sequence[str] | None = None,
    extra_files: Sequence[str | os.PathLike[str]] = (),
) -> ComposeFile:
    """Read the Compose file at ``path`` (or the one its folder holds).

    ``environ`` defaults to this process's environment; ``profiles`` (None: from
    ``COMPOSE_PROFILES``) are those enabled.  ``extra_files`` are merged over the
    main file in order (``-f a -f b``); without them an override file beside a
    default-named main file is merged, as the tools do.  Raises
    :class:`ComposeFileError` with one line for the user.
    """
    given = Path(path)
    main = compose_file_in(given)
    if main is None:
        if given.is_dir():
            raise ComposeFileError(f"{given.name or given}/ holds no Compose file (looked for "
                                   f"{', '.join(COMPOSE_FILE_NAMES)})")
        if not given.exists():
            raise ComposeFileError(f"{given} does not exist")
        main = given  # any name, if the user says it is one
    main = main.resolve()
    folder = main.parent
    files = [main]
    if extra_files:
        files += [Path(f) if Path(f).is_absolute() else folder / f for f in extra_files]
    elif main.name in COMPOSE_FILE_NAMES:
        files += [folder / name for name in OVERRIDE_NAMES if (folder / name).is_file()][:1]
    dotenv = read_dotenv(folder / ".env")
    variables = {**dotenv, **(os.environ if environ is None else environ)}
    unset: set[str] = set()
    merged: dict[str, Any] = {}
    for file in files:
        data = _load_yaml(file)
        merged = _merge(merged, _interpolate_tree(data, variables, unset, file.name))
    origin = main.name
    services = merged.get("services")
    if services is None:
        raise ComposeFileError(f"{origin} defines no services (no 'services:' section)")
    if not isinstance(services, dict):
        raise ComposeFileError(f"{origin}: 'services' must be a mapping of names to services")
    parsed = tuple(_service(str(name), spec, origin) for name, spec in services.items())
    for service in parsed:
        unknown = [d for d in service.depends_on if d not in services]
        if unknown:
            raise ComposeFileError(f"{origin}: service {service.name} depends on undefined "
                                   f"service {', '.join(unknown)}")
    top = {key: merged.get(key) for key in ("volumes", "networks")}
    for key, value in top.items():
        if value is not None and not isinstance(value, dict):
            raise ComposeFileError(f"{origin}: top-level '{key}' must be a mapping")
    name = str(merged.get("name") or variables.get("COMPOSE_PROJECT_NAME") or
               project_name_from(folder.name)) or "default"
    if name != project_name_from(name):
        raise ComposeFileError(f"{origin}: project name {name!r} must be lower-case letters,"
                               " digits, '-' and '_'")
    enabled = (tuple(profiles) if profiles is not None
               else _split_profiles(variables.get("COMPOSE_PROFILES", "")))
    found = ComposeFile(
        name=name,
        files=tuple(str(f) for f in files),
        working_dir=str(folder),
        services=parsed,
        volumes=tuple(str(v) for v in top["volumes"] or {}),
        networks=tuple(str(n) for n in top["networks"] or {}),
        unset=tuple(sorted(unset)),
        dotenv=dotenv,
    )
    return found.with_profiles(enabled) if "*" not in enabled else replace(
        found, enabled_profiles=found.profiles)


__all__ = [
    "COMPOSE_FILE_NAMES",
    "ComposeFile",
    "ComposeFileError",
    "ComposeFileService",
    "compose_file_in",
    "interpolate",
    "load_compose_file",
    "project_name_from",
    "read_dotenv",
]
