"""Following a log through cuts of its own stream, while the engine stays connected.

The fault proxy (tests/fault_proxy.py) resets the followed log's connection on
demand; the session's other connections (events, lists) are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.session import ConnectionState
from tests.app.test_container_detail import open_page, select, tick_numbers, ticking
from tests.conftest import EngineUnderTest
from tests.fault_proxy import FaultProxy
from tests.waits import wait_ms

#: More cuts than the three in a row that mean "the stream keeps failing".
CUTS = 5


@pytest.fixture
def proxy(any_engine: EngineUnderTest, tmp_path: Path) -> Iterator[FaultProxy]:
    with FaultProxy(any_engine.endpoint.socket_path or "", tmp_path / "proxy.sock") as relay:
        yield relay


def test_following_survives_cuts_far_apart(
    qtbot: QtBot, make_session: Any, any_engine: EngineUnderTest, proxy: FaultProxy,
) -> None:
    """It stopped for good after three cuts however far apart, and said the engine was lost."""
    container_id, name = ticking(any_engine, "0.2")
    page = open_page(qtbot, make_session, any_engine, proxy.url)
    select(qtbot, page, container_id, name)
    logs = page.detail.logs
    statuses: list[str] = []
    for _cut in range(CUTS):
        shown = tick_numbers(page)[-1] if tick_numbers(page) else 0
        # New lines arrived since the last cut, then the stream is cut again.
        qtbot.waitUntil(lambda shown=shown: bool(tick_numbers(page))
                        and tick_numbers(page)[-1] > shown + 1, timeout=wait_ms(20))
        qtbot.waitUntil(lambda: proxy.cut(r"/logs$") > 0, timeout=wait_ms(10))
        qtbot.waitUntil(lambda: logs.status.text() != "", timeout=wait_ms(10))
        statuses.append(logs.status.text())
    after_last_cut = tick_numbers(page)[-1]
    qtbot.waitUntil(lambda: tick_numbers(page)[-1] > after_last_cut + 2, timeout=wait_ms(20))
    assert page.session.status.state is ConnectionState.CONNECTED
    assert all("connection to the engine was lost" not in s.lower() for s in statuses), statuses
    assert all("cut" in s for s in statuses), statuses
    assert logs.follow.isChecked()
    logs.flush()
    numbers = tick_numbers(page)
    assert len(numbers) == len(set(numbers)), "a line was shown twice"
    assert numbers == sorted(numbers)
