"""Every wait in tests/ comes from tests/waits.py, so one factor scales them all.

A bare ``timeout=10_000`` is a guess about an idle machine; on a loaded one it is
the flake that throws a whole submission away.  This reads the tests' source and
names each wait that is not scaled.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import waits

TESTS = Path(__file__).resolve().parent
SCALERS = {"wait_ms", "seconds"}
#: pytest-qt's waits must say how long: its default of 5 s is a bare guess too.
#: (await_in_qt and wait_connected default to a scaled bound of their own.)
MUST_SAY = {"waitUntil", "waitSignal", "waitSignals", "waitExposed", "waitActive",
            "waitCallback"}


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _bare_numbers(node: ast.expr) -> bool:
    """A number other than 0 outside wait_ms()/seconds()."""
    if isinstance(node, ast.Call) and _name(node.func) in SCALERS:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
            and not isinstance(node.value, bool):
        return node.value != 0
    return any(_bare_numbers(child) for child in ast.iter_child_nodes(node)
               if isinstance(child, ast.expr))


def unscaled_waits(source: str) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        keywords = {k.arg: k.value for k in node.keywords}
        timeout = keywords.get("timeout")
        if timeout is not None and _bare_numbers(timeout):
            yield node.lineno, f"{name}(timeout={ast.unparse(timeout)})"
        if name in MUST_SAY and timeout is None:
            yield node.lineno, f"{name}(…) without timeout= (pytest-qt's 5 s is a guess too)"
        if name == "wait_for" and len(node.args) >= 2 and _bare_numbers(node.args[1]):
            yield node.lineno, f"wait_for(…, {ast.unparse(node.args[1])})"
        if name == "wait" and node.args and _bare_numbers(node.args[0]):
            yield node.lineno, f"wait({ast.unparse(node.args[0])}): a fixed sleep or a bare bound"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Call) \
                and _name(node.left.func) == "monotonic" and _bare_numbers(node.right):
            yield node.lineno, f"{ast.unparse(node)}: a deadline (use poll_until)"


def test_every_wait_in_the_tests_is_scaled() -> None:
    found = [f"{path.relative_to(TESTS.parent)}:{line}: {what}"
             for path in sorted(TESTS.rglob("*.py")) if "bench" not in path.parts
             for line, what in unscaled_waits(path.read_text())]
    assert found == [], "waits not from tests/waits.py:\n" + "\n".join(found)


@pytest.mark.parametrize("source", [
    "qtbot.waitUntil(done, timeout=10_000)",
    "qtbot.waitUntil(done)",
    "qtbot.waitSignal(sig, timeout=wait_ms(1) + 500)",
    "await asyncio.wait_for(x, 30)",
    "subprocess.run(args, timeout=60)",
    "qtbot.wait(300)",
    "process.wait(10)",
    "deadline = time.monotonic() + 30",
])
def test_a_bare_wait_is_named(source: str) -> None:
    assert list(unscaled_waits(f"async def f():\n    {source}\n"))


@pytest.mark.parametrize("source", [
    "qtbot.waitUntil(done, timeout=wait_ms(10))",
    "await asyncio.wait_for(x, seconds(30))",
    "client.stop_container(cid, timeout=0)",
    "target.cli('build', timeout=seconds(300))",
    "qtbot.waitUntil(done, timeout=timeout)",
])
def test_a_scaled_wait_passes(source: str) -> None:
    assert list(unscaled_waits(f"async def f():\n    {source}\n")) == []


def test_the_factor_scales_every_unit() -> None:
    assert waits.wait_ms(2) == round(2000 * waits.SLOWDOWN)
    assert waits.seconds(2) == 2 * waits.SLOWDOWN
