"""The ``dockyard`` command: the window by default, headless subcommands otherwise.

Qt is imported only when the window is asked for, so ``dockyard doctor`` starts
fast and works without a display.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockyard", description="A desktop manager for Docker and Podman engines."
    )
    parser.add_argument(
        "-H", "--host", metavar="URL",
        help="engine address (unix:///path, tcp://host:port or ssh://[user@]host[:port][/socket]);"
             " default: as the docker CLI",
    )
    entry = parser.add_mutually_exclusive_group()
    entry.add_argument(
        "--install-desktop-entry", action="store_true",
        help="add Dockyard to the desktop's application menu (for pip/pipx installs)",
    )
    entry.add_argument(
        "--uninstall-desktop-entry", action="store_true",
        help="remove what --install-desktop-entry added",
    )
    # Open the window and exit 0 once it has painted: the packaged bundle's smoke test.
    entry.add_argument("--smoke-test", action="store_true", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    doctor = commands.add_parser(
        "doctor", help="say which engine Dockyard would use and why, without opening a window"
    )
    doctor.add_argument("--json", action="store_true", help="print a JSON document")
    doctor.add_argument("--all", action="store_true", dest="doctor_all",
                        help="probe every known engine (contexts, Podman connections,"
                             " default sockets) and say how each was found")
    doctor.add_argument("-H", "--host", metavar="URL", dest="doctor_host",
                        help="engine address, as for the window")
    doctor.add_argument("--timeout", metavar="SECONDS", type=_seconds, default=None,
                        help="give up on an engine that has not finished answering within"
                             " this many seconds (default: 30 for the handshake, 60 a call)")
    from app.analyze import add_arguments as add_analyze_arguments
    from app.compose_cmd import add_arguments as add_compose_arguments
    from app.context_cmd import add_arguments as add_context_arguments
    from app.df_cmd import add_arguments as add_df_arguments
    from app.diff_cmd import add_arguments as add_diff_arguments
    from app.registry_cmd import add_arguments as add_registry_arguments

    analyze = commands.add_parser(
        "analyze", help="show an image's layers, wasted bytes and efficiency, without a window"
    )
    add_analyze_arguments(analyze)

    context = commands.add_parser(
        "context",
        help="list what a build of DIR would send after .dockerignore, without building",
    )
    add_context_arguments(context)

    df = commands.add_parser(
        "df", help="show disk usage per kind (images, containers, volumes, build cache)"
    )
    add_df_arguments(df)

    diff = commands.add_parser(
        "diff", help="show how two images differ: layers, history, config and files"
    )
    add_diff_arguments(diff)
    compose = commands.add_parser(
        "compose", help="list Compose projects from their labels (compose ls [--json])",
    )
    add_compose_arguments(compose)
    registry = commands.add_parser(
        "registry", help="list a registry's repositories, or a repository's tags with digest,"
                         " size, platforms and created time")
    add_registry_arguments(registry)
    return parser


def _seconds(text: str) -> float:
    """A positive number of seconds, or argparse's one-line usage error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1000000 seconds: {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.command == "compose":  # one line, as compose's other bad input
            print(f"dockyard compose: unrecognized arguments: {' '.join(extra)}",
                  file=sys.stderr)
            return 2
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        return _desktop_entry(install=args.install_desktop_entry)
    if args.smoke_test:
        return _smoke_test(args.host)
    if args.command == "doctor":
        from app.doctor import run_doctor, run_doctor_all

        if args.doctor_all:
            if args.doctor_host or args.host:
                print("dockyard doctor: --all probes every known engine; leave out --host",
                      file=sys.stderr)
                return 2
            return run_doctor_all(as_json=args.json, timeout=args.timeout)
        return run_doctor(args.doctor_host or args.host, as_json=args.json,
                          timeout=args.timeout)
    if args.command == "analyze":
        from app.analyze import run_analyze

        return run_analyze(
            args.image, args.analyze_host or args.host, as_json=args.json, ci=args.ci,
            use_cache=not args.no_cache,
            lowest_efficiency=args.lowest_efficiency,
            highest_wasted_bytes=args.highest_wasted_bytes,
        )
    if args.command == "context":
        from app.context_cmd import run_context

        return run_context(args.directory, args.dockerfile, as_json=args.json)
    if args.command == "df":
        from app.df_cmd import run_df

        return run_df(args.df_host or args.host, verbose=args.verbose, as_json=args.json)
    if args.command == "diff":
        from app.diff_cmd import run_diff

        return run_diff(args.first, args.second, args.diff_host or args.host,
                        as_json=args.json)
    if args.command == "compose":
        from app.compose_cmd import run as run_compose

        return run_compose(args, args.host)
    if args.command == "registry":
        from app.registry_cmd import run_registry

        return run_registry(args.target, args.registry_host or args.host, as_json=args.json)
    from app.gui import run_gui

    return run_gui(args.host, sys.argv[:1])


def _desktop_entry(*, install: bool) -> int:
    from app import desktop_entry

    try:
        paths = desktop_entry.install() if install else desktop_entry.uninstall()
    except desktop_entry.DesktopEntryError as exc:
        print(f"dockyard: {exc}", file=sys.stderr)
        return 1
    verb = "wrote" if install else "removed"
    for path in paths:
        print(f"{verb} {path}")
    if not install and not paths:
        print("no desktop entry was installed")
    return 0


def _smoke_test(host: str | None) -> int:
    """Run the window until its first paint, then close it: exit 0 if that all worked."""
    import asyncio

    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QMainWindow

    from app.gui import run_gui

    app = QApplication(sys.argv[:1])

    class CloseOnFirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and isinstance(watched, QMainWindow):
                app.removeEventFilter(self)
                # Through asyncio, so run_gui's own wait for the last window is in place.
                asyncio.get_event_loop().call_soon(watched.close)
            return False

    from app.icons import glyphs_drawn

    if not glyphs_drawn():
        print("smoke test: the icon font is missing (app/icons.py)", file=sys.stderr)
        return 1
    closer = CloseOnFirstPaint(app)
    app.installEventFilter(closer)
    code = run_gui(host, sys.argv[:1])
    print("smoke test: the window opened and closed")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
