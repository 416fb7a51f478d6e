"""``dockyard compose ls [--json]``: the engine's Compose projects, without a window.

Shares :func:`engine.compose_projects` with the Apps page, so the projects and
counts are the ones the window shows.  The text output has the columns of
``docker compose ls -a`` (NAME, STATUS as "exited(1), running(2)", CONFIG FILES)
plus the page's "2 of 3 running"; like the page (and unlike ``docker compose
ls`` without ``-a``) stopped projects are listed too, and ``--running`` leaves
them out.  Config files are printed as the labels hold them, which for
docker-compose 1.x is relative to the working directory (``--json`` gives both).
Exit 2 on any error (no engine, bad address, bad arguments), with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import engine
from app.headless import CommandFailed, run_engine_work

if TYPE_CHECKING:  # app.cli imports every command's arguments; the engine loads on use
    from engine import ComposeProject


def project_document(project: ComposeProject) -> dict[str, Any]:
    """One project of ``--json``."""
    return {
        "name": project.name,
        "status": project.status,
        "state": project.state,
        "running": project.running,
        "total": project.total,
        "states": project.state_counts,
        "config_files": list(project.config_files),
        "config_paths": list(project.config_paths),
        "working_dir": project.working_dir,
        "services": [{
            "name": s.name, "image": s.image, "replicas": len(s.replicas),
            "running": s.running, "ports": [str(p) for p in s.ports],
            "health": s.health or None,
        } for s in project.services],
        "volumes": [v.name for v in project.volumes],
        "networks": [n.name for n in project.networks],
    }


def format_ls(projects: Sequence[ComposeProject]) -> str:
    rows = [["NAME", "STATUS", "RUNNING", "CONFIG FILES"]] + [
        [p.name, p.status, f"{p.running} of {p.total}", ",".join(p.config_files)]
        for p in projects]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows)


async def _read(host: str | None) -> list[ComposeProject]:
    client, _ = await engine.discover(host)
    async with client:
        return await engine.compose_projects(client)


def run_compose_ls(host: str | None, *, as_json: bool, running_only: bool = False) -> int:
    try:
        projects = run_engine_work(_read(host))
    except CommandFailed as failed:
        return failed.exit("compose ls")
    if running_only:
        projects = [p for p in projects if p.running]
    if as_json:
        print(json.dumps([project_document(p) for p in projects], indent=2))
    else:
        print(format_ls(projects))
    return 0


class _OneLineParser(argparse.ArgumentParser):
    """Bad input is one line on stderr and exit 2, not argparse's usage block."""

    def error(self, message: str) -> Any:
        _one_line(self.prog, message)


def _one_line(prog: str, message: str) -> Any:
    print(f"{prog}: {message}", file=sys.stderr)
    raise SystemExit(2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommands of ``dockyard compose`` (and ``python -m app.compose_cmd``)."""
    # Bad input is one line and exit 2, as every other headless error is.
    setattr(parser, "error", partial(_one_line, parser.prog))  # noqa: B010
    commands = parser.add_subparsers(dest="compose_command", metavar="COMMAND",
                                     parser_class=_OneLineParser)
    ls = commands.add_parser("ls", help="list Compose projects (name, state counts, files)")
    ls.add_argument("--json", action="store_true", help="print a JSON document")
    ls.add_argument("--running", action="store_true",
                    help="only projects with a running container (docker compose ls without -a)")
    ls.add_argument("-H", "--host", metavar="URL", dest="compose_host",
                    help="engine address (unix:///path or tcp://host:port)")


def run(args: argparse.Namespace, host: str | None) -> int:
    if args.compose_command != "ls":
        print("dockyard compose: say what to do: ls", file=sys.stderr)
        return 2
    return run_compose_ls(args.compose_host or host, as_json=args.json,
                          running_only=args.running)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _OneLineParser(prog="dockyard compose", description="Compose projects.")
    add_arguments(parser)
    return run(parser.parse_args(argv), None)


if __name__ == "__main__":
    raise SystemExit(main())
