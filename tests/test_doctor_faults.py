"""``dockyard doctor`` in front of a hostile daemon: one clear line, never a traceback.

A fault-injecting proxy (tests/fault_proxy.py) sits between doctor and a real
engine; every answer it does not fault is the engine's own.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EngineUnderTest
from tests.fault_proxy import (
    HTML_ERROR_PAGE,
    MALFORMED_LISTS,
    MALFORMED_OBJECTS,
    Fault,
    FaultProxy,
    raw_body,
)
from tests.test_doctor import clean_env, doctor

#: What a user must be told for each malformed /version answer.
VERSION_REASONS = {
    "invalid-json": "the engine's answer to /version is not valid JSON",
    "list": "the engine sent a list where a version report was expected",
    "string": "the engine sent a string where a version report was expected",
    "null": "the engine sent null where a version report was expected",
    "number": "the engine sent a number where a version report was expected",
    "deep-arrays": "the engine's answer to /version is nested too deeply to read",
    "wrong-field-types": "the engine sent a version report with a field of the wrong type",
    "not-utf8": "the engine's answer to /version is not valid JSON",
}

LIST_REASONS = {
    "numbers": "the engine sent a number where a container was expected",
    "string": "the engine sent a string where the list of containers was expected",
    "null": "the engine sent null where the list of containers was expected",
    "object": "the engine sent an object where the list of containers was expected",
    "deep-arrays": "the engine's answer to /containers/json is nested too deeply to read",
    "invalid-json": "the engine's answer to /containers/json is not valid JSON",
    "items-without-id": "the engine sent a container without a 'Id' field",
}


@pytest.fixture
def proxy(any_engine: EngineUnderTest, tmp_path: Path) -> Iterator[FaultProxy]:
    with FaultProxy(any_engine.endpoint.socket_path or "", tmp_path / "proxy.sock") as relay:
        yield relay


def run_doctor(proxy: FaultProxy, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return doctor(clean_env(tmp_path), "--host", proxy.url, *args)


def assert_one_clear_line(result: subprocess.CompletedProcess[str], reason: str) -> None:
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert result.returncode == 1, everything
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("dockyard doctor: "), line
    assert reason in line, line
    assert len(line) < 400, line


def test_sound_proxy_is_transparent(proxy: FaultProxy, tmp_path: Path) -> None:
    result = run_doctor(proxy, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Endpoint:    {proxy.url}" in result.stdout


@pytest.mark.parametrize("name", sorted(MALFORMED_OBJECTS))
def test_malformed_version_answer(proxy: FaultProxy, tmp_path: Path, name: str) -> None:
    proxy.fault = raw_body(r"/version$", MALFORMED_OBJECTS[name])
    result = run_doctor(proxy, tmp_path)
    assert proxy.hits >= 1
    assert_one_clear_line(result, VERSION_REASONS[name])


@pytest.mark.parametrize("name", sorted(MALFORMED_LISTS))
def test_malformed_container_list(proxy: FaultProxy, tmp_path: Path, name: str) -> None:
    proxy.fault = raw_body(r"/containers/json$", MALFORMED_LISTS[name])
    result = run_doctor(proxy, tmp_path)
    assert_one_clear_line(result, "the engine answered the handshake but then failed: "
                          + LIST_REASONS[name])


@pytest.mark.parametrize(("path", "body", "reason"), [
    (r"/images/json$", b"[1, 2, 3]", "the engine sent a number where an image was expected"),
    (r"/images/json$", b"null", "the engine sent null where the list of images was expected"),
    (r"/info$", b"[]", "the engine sent a list where a system report was expected"),
    (r"/info$", b'{"NCPU": "many"}', "the engine sent a system report with a field of the"
                                     " wrong type"),
])
def test_other_answers_of_the_wrong_shape(
    proxy: FaultProxy, tmp_path: Path, path: str, body: bytes, reason: str,
) -> None:
    proxy.fault = raw_body(path, body)
    assert_one_clear_line(run_doctor(proxy, tmp_path), reason)


def test_html_error_page_becomes_its_title(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.fault = raw_body(r"/info$", HTML_ERROR_PAGE, status=500, content_type="text/html")
    result = run_doctor(proxy, tmp_path)
    assert_one_clear_line(result, "failed: 500 Internal Server Error")
    assert "<" not in result.stderr


@pytest.mark.parametrize("fault", [
    Fault(r"/version$", "truncate", b'{"Version": "1'),
    Fault(r"/version$", "reset", after=40),
    Fault(r"/version$", "huge_headers"),
], ids=["truncate", "reset", "huge-headers"])
def test_broken_transfers_of_the_handshake(
    proxy: FaultProxy, tmp_path: Path, fault: Fault,
) -> None:
    proxy.fault = fault
    assert_one_clear_line(run_doctor(proxy, tmp_path), "the connection to ")


@pytest.mark.parametrize("fault", [
    Fault(r"/version$", "hang"),
    Fault(r"/version$", "trickle", interval=0.3),
    Fault(r"/containers/json$", "trickle", interval=0.3),
], ids=["hang", "trickle-handshake", "trickle-list"])
def test_a_slow_daemon_is_given_up_on(proxy: FaultProxy, tmp_path: Path, fault: Fault) -> None:
    """Only total silence was cut off; one byte now and then kept doctor waiting for ever."""
    proxy.fault = fault
    result = run_doctor(proxy, tmp_path, "--timeout", "2")
    assert_one_clear_line(result, "did not finish answering")
    assert "within 2 s" in result.stderr
