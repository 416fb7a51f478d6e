"""Text from containers is untrusted: parsing and painting it can never raise.

Logs, shell output, inspect documents, names and labels are whatever a container
(or whoever built its image) chose to write.  Every decoder and widget that shows
such text is fed hostile bytes here — colour sequences with numbers too long for
``int`` (Python refuses to convert more than 4,300 digits), NULs, invalid UTF-8,
sequences cut short, huge lines — and must neither raise (pytest-qt fails a test
on an exception inside a paint event) nor do more work than the input's size
allows.  Work is bounded by counting it (runs made, bytes sent to pyte's parser,
drains needed), never by the wall clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytestqt.qtbot import QtBot

import engine
from app.pages.container_detail import ShellTab
from app.session import EngineSession
from app.widgets.ansi import ansi_runs, strip_ansi
from app.widgets.inspect_view import InspectView
from app.widgets.log_view import STDERR, STDOUT, LogView
from app.widgets.terminal import ForgivingStream, TerminalScreen, TerminalWidget
from app.widgets.terminal_fast import drain
from tests.app.test_container_detail import open_page, screen_text, select, type_line
from tests.conftest import EngineUnderTest
from tests.waits import wait_ms

#: ``printf '\033[%05000dm' 1``: one colour sequence past Python's int-conversion limit.
HUGE_SGR = b"\x1b[" + b"%05000d" % 1 + b"m"


# -- the sequence of issue #20 -----------------------------------------------------------


def test_a_colour_number_of_5000_digits_is_parsed_as_its_value() -> None:
    text = HUGE_SGR.decode() + "bold" + "\x1b[" + "9" * 5000 + "mnot a colour"
    runs = ansi_runs(text)
    assert [(run.text, run.style.bold) for run in runs] == [("bold", True),
                                                           ("not a colour", True)]
    assert strip_ansi(text) == "boldnot a colour"


def test_a_log_line_with_a_huge_colour_number_paints(qtbot: QtBot) -> None:
    view = LogView()
    qtbot.addWidget(view)
    view.resize(600, 300)
    view.show()
    view.add_lines(bytes([STDOUT, STDOUT]), [HUGE_SGR + b"after", b"next"], [None, None])
    view.flush()
    view.list.viewport().repaint()  # an exception in paint() fails the test
    view.timestamps.setChecked(True)
    view.list.viewport().repaint()
    assert [entry.plain for entry in view.model.entries] == ["after", "next"]
    assert view.model.entries[0].runs[0].style.bold


def test_a_shell_printing_a_huge_colour_number_goes_on(qtbot: QtBot) -> None:
    terminal = TerminalWidget()
    qtbot.addWidget(terminal)
    terminal.resize(terminal.cell_width * 40, terminal.cell_height * 10)
    terminal.show()
    terminal.feed(b"before" + HUGE_SGR + b"after\r\n")  # a large piece: the drain path
    while terminal.busy():
        terminal._drain()
    terminal.feed(b"x" + HUGE_SGR[:4] + b"\r\n")  # a small one is parsed at once...
    terminal.feed(HUGE_SGR[4:] + b"y\r\n")  # ...and the rest in the next piece
    while terminal.busy():
        terminal._drain()
    terminal.repaint()
    lines = [line.rstrip() for line in terminal.display_lines()]
    assert lines[0] == "beforeafter"
    assert "y" in lines[1] or lines[2] == "y"


# -- hostile bytes everywhere -----------------------------------------------------------

PIECES = [
    HUGE_SGR, b"\x1b[" + b"9" * 4400 + b"m", b"\x1b[38;5;" + b"1" * 5000 + b"m",
    b"\x1b[38;2;" + b"7" * 4500 + b";1;1m", b"\x1b[" + b"1;" * 3000 + b"m",
    b"\x1b[" + b"5" * 5000 + b"A", b"\x1b[" + b"2" * 5000 + b";" + b"3" * 5000 + b"H",
    b"\x1b[?" + b"1" * 5000 + b"h", b"\x1b]0;" + b"t" * 5000, b"\x1b]0;title\x07",
    b"\x1bP" + b"q" * 100, b"\x1b[", b"\x1b", b"\x1b[31", b"\x1b[38;5m", b"\x1b[38;2;1m",
    b"\x00", b"\x00" * 50, b"\xff\xfe", b"\xc3", b"\xe4\xb8", b"\xc2\x9b" + b"9" * 5000 + b"m",
    b"\xed\xa0\x80", b"\x1b[1;31a", b"\x1b[?4m", b"\x1b[>4;2m", b"\x1b[38:5:1m",
    b"\x1b[\xd9\xa3m", b"\r", b"\n", b"\r\n", b"\t", b"\x08", b"\x07", b"\x7f",
    b"\x1b[?1049h", b"\x1b[?1049l", b"\x1b[2;4r", b"\x1b[4h", b"\x1b(0", b"\x1b%@",
    b"\x1b[99999999999999999999999S", b"\x1b[99999999999999999999999T",
    b"\x1b[0;" + b"8" * 5000 + b"r", b"\x1b#8", b"\x1bc", "中\u0301\U0001f600".encode(),
    b"plain words ", b"\x1b[1mbold\x1b[0m",
]


def hostile() -> st.SearchStrategy[bytes]:
    """Hostile pieces, random bytes, and now and then a huge line, joined."""
    huge = st.sampled_from([b"x" * 20_000, b"\x1b[31m" * 3000, b"\xff" * 10_000])
    piece = st.one_of(st.sampled_from(PIECES), st.sampled_from(PIECES), st.binary(max_size=64),
                      huge)
    return st.lists(piece, max_size=24).map(b"".join)


HOSTILE = settings(max_examples=40, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow,
                                          HealthCheck.function_scoped_fixture,
                                          HealthCheck.data_too_large])


@HOSTILE
@given(hostile())
def test_the_ansi_parser_takes_any_text(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    runs = ansi_runs(text)
    # Work bounded by the input: no more runs than characters, no text invented.
    assert len(runs) <= len(text) + 1
    assert sum(len(run.text) for run in runs) <= len(text)
    assert len(strip_ansi(text)) <= len(text)


@pytest.fixture
def log_view(qtbot: QtBot) -> Iterator[LogView]:
    view = LogView(cap=64)
    qtbot.addWidget(view)
    view.resize(500, 300)
    view.show()
    yield view


@HOSTILE
@given(lines=st.lists(hostile(), min_size=1, max_size=6),
       stamp=st.one_of(st.none(), st.binary(max_size=40),
                       st.just(b"2026-11-28T17:45:51." + b"9" * 5000 + b"Z")))
def test_the_log_view_paints_any_line(log_view: LogView, lines: list[bytes],
                                      stamp: bytes | None) -> None:
    log_view.clear()
    log_view.add_lines(bytes([STDOUT, STDERR] * 3)[:len(lines)], lines, [stamp] * len(lines))
    log_view.flush()
    for entry in log_view.model.entries:
        assert len(entry.runs) <= len(entry.text) + 1
        assert len(entry.plain) <= len(entry.text)
        assert entry.timestamp is None or isinstance(entry.timestamp, datetime)
    for timestamps, wrap in ((False, False), (True, False), (True, True)):
        log_view.timestamps.setChecked(timestamps)
        log_view.wrap.setChecked(wrap)
        log_view.list.viewport().repaint()
    log_view.search.setText("\x1b")
    log_view._run_search()
    log_view.list.viewport().repaint()
    log_view.search.setText("")
    log_view.wrap.setChecked(False)


class CountingStream(ForgivingStream):
    """Counts the characters pyte's parser is handed one by one (its slow path)."""

    sent = 0

    def _send_to_parser(self, data: str) -> bool | None:
        CountingStream.sent += len(data)
        return super()._send_to_parser(data)  # type: ignore[no-any-return]


@HOSTILE
@given(hostile(), st.lists(st.integers(0, 60_000), max_size=5))
def test_the_terminal_parses_any_output(data: bytes, cuts: list[int]) -> None:
    screen = TerminalScreen(20, 6, lambda _reply: None)
    stream = CountingStream(screen)
    CountingStream.sent = 0
    pending = bytearray()
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        pending += data[start:cut]
        start = max(start, cut)
        drain(screen, stream, pending)
    assert not pending
    # Each byte reaches pyte's parser at most once (a character per byte at most).
    assert CountingStream.sent <= len(data)
    assert len(screen.display) == screen.lines


@settings(HOSTILE, max_examples=25)
@given(data=hostile(), piece=st.integers(256, 65536))
def test_the_terminal_widget_shows_any_output(qtbot: QtBot, data: bytes, piece: int) -> None:
    terminal = TerminalWidget()
    qtbot.addWidget(terminal)
    terminal.resize(terminal.cell_width * 30, terminal.cell_height * 8)
    terminal.show()
    for start in range(0, len(data), piece):
        terminal.feed(data[start:start + piece])
    drains = 0
    while terminal.busy():
        before = len(terminal._pending)
        terminal._drain()
        drains += 1
        assert len(terminal._pending) < before  # every drain makes progress
    assert drains <= len(data)
    terminal.scroll_by(3)
    terminal.repaint()
    terminal.scroll_by(-3)
    terminal.repaint()
    # It still works afterwards: end any string or sequence, back to UTF-8, reset.
    terminal.feed(b"\x18\x1b\\\x1b%G\x1b[?1049l\x1bc\r\nok")
    while terminal.busy():
        terminal._drain()
    assert "ok" in "".join(terminal.display_lines())
    terminal.close()
    terminal.deleteLater()


def hostile_text() -> st.SearchStrategy[str]:
    return hostile().map(lambda data: data[:5000].decode("utf-8", "surrogateescape"))


@HOSTILE
@given(name=hostile_text(), label=hostile_text(), env=hostile_text(), image=hostile_text())
def test_the_inspect_view_shows_any_document(qtbot: QtBot, name: str, label: str, env: str,
                                             image: str) -> None:
    raw = {
        "Id": "0" * 64, "Name": "/" + name, "Image": image,
        "Created": "2026-11-28T17:45:51." + "9" * 5000 + "Z",
        "Config": {"Image": image, "Env": [env, "A=" + label], "Labels": {label: env},
                   "Cmd": [label, "\x00"], "Entrypoint": None, "Tty": True},
        "State": {"Status": label, "ExitCode": 10 ** 30, "Health": {"Status": env}},
        "HostConfig": {"RestartPolicy": {"Name": label, "MaximumRetryCount": 10 ** 30},
                       "PortBindings": {label: [{"HostIp": env, "HostPort": label}]}},
        "NetworkSettings": {"Networks": {label: {"IPAddress": env}},
                            "Ports": {env: None}},
        "Mounts": [{"Type": label, "Source": env, "Destination": label, "RW": False}],
    }
    details = engine.ContainerDetails.from_api(json.loads(json.dumps(raw)))
    view = InspectView()
    qtbot.addWidget(view)
    view.show_details(details)
    view.summary.repaint()
    view.json.repaint()
    assert view.json.toPlainText()



# -- against a real engine ----------------------------------------------------------------


def test_a_container_logging_a_huge_colour_number_shows_its_logs(
    qtbot: QtBot, make_session: Callable[[str], EngineSession], any_engine: EngineUnderTest
) -> None:
    container_id, name = any_engine.create(
        any_engine.image, "sh", "-c", r"echo before; printf '\033[%05000dm' 1; echo bold;"
        r" printf '\033[0m\033[38;5;%02000dmafter\n' 3")
    # All of it under 8 kB: Podman's API loses the newline before a line conmon split
    # (the CLI shows it), which is not what this test is about.
    any_engine.cli("start", "-a", name)
    page = open_page(qtbot, make_session, any_engine)
    select(qtbot, page, container_id, name)
    logs = page.detail.logs
    qtbot.waitUntil(lambda: bool(logs.model.entries) and logs.model.entries[-1].plain == "after",
                    timeout=wait_ms(10))
    logs.list.viewport().repaint()  # an exception in a paint fails the test
    entries = list(logs.model.entries)
    if any_engine.kind == "podman":
        # The 5 kB sequence is longer than a pipe write is atomic: on a busy machine
        # conmon reads it in pieces, and Podman's logs API then splits or joins lines
        # around it ("before\x1b[…bold" was seen). Not this test's subject: the window
        # painted it without error, and every word arrived in order.
        text = "\n".join(e.plain for e in entries)
        assert text.index("before") < text.index("bold") < text.index("after"), text[:200]
        return
    assert [e.plain for e in entries] == ["before", "bold", "after"]
    assert entries[1].runs[0].style.bold
    assert entries[2].runs[0].style.fg == "#cdcd00"  # colour 3, leading zeros


def test_a_shell_printing_a_huge_colour_number_keeps_working(
    qtbot: QtBot, make_session: Callable[[str], EngineSession], any_engine: EngineUnderTest
) -> None:
    container_id, name = any_engine.create(any_engine.image, "sleep", "300")
    any_engine.cli("start", name)
    page = open_page(qtbot, make_session, any_engine)
    select(qtbot, page, container_id, name)
    qtbot.waitUntil(lambda: page.detail.shell_button.isEnabled(), timeout=wait_ms(10))
    shell: ShellTab | None = page.detail.open_shell()
    assert shell is not None
    qtbot.waitUntil(lambda: screen_text(shell).rstrip().endswith("#"), timeout=wait_ms(15))
    shell.terminal.setFocus()
    type_line(qtbot, shell, r"printf '\033[%05000dm' 1; echo done-$((6 * 7))")
    qtbot.waitUntil(lambda: "\ndone-42\n" in screen_text(shell), timeout=wait_ms(10))
    shell.terminal.repaint()
    type_line(qtbot, shell, "echo still-$((6 * 7))")
    qtbot.waitUntil(lambda: "\nstill-42\n" in screen_text(shell), timeout=wait_ms(10))
