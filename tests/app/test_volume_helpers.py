"""Dockyard's volume helpers as the window treats them, against real engines: never listed
among the user's containers (nor counted), and a crashed run's leftovers swept at connect."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.pages.containers import ContainersPage
from app.resources import CONTAINERS
from app.session import EngineSession
from tests.app.conftest import wait_connected
from tests.conftest import LABEL, EngineUnderTest

WAIT = 30_000
HELPER = f"{engine.HELPER_LABEL}={engine.HELPER_KIND}"


def ours(target: EngineUnderTest) -> set[str]:
    return {i[:12] for i in target.cli("ps", "-aq", "--filter", f"label={LABEL}").split()}


def test_helpers_are_not_listed_or_counted_and_stale_ones_are_swept_at_connect(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest,
) -> None:
    helper_id, helper = any_engine.create("--label", HELPER, "--label",
                                          f"{engine.HELPER_OWNER_LABEL}=crashed-run",
                                          any_engine.image, "true")
    plain_id, plain = any_engine.create(any_engine.image, "true")
    session: EngineSession = make_session(any_engine.url)
    window = MainWindow(session)
    qtbot.addWidget(window)
    # The default age (a day) cannot pass in a test: this window's sweep takes any age.
    window.helper_sweeper.older_than = 0.0
    swept: list[list[str]] = []
    window.helper_sweeper.swept.connect(swept.append)
    page = window.page(ContainersPage)
    page.search.setText("dockyard-test")  # the test's own containers only
    session.start()
    wait_connected(qtbot, session)
    qtbot.waitUntil(lambda: page.model.row_of(plain_id) is not None, timeout=WAIT)
    names = {c.name for c in session.items(CONTAINERS)}
    assert plain in names and helper not in names  # hidden, whether swept yet or not
    assert page.model.row_of(helper_id) is None
    assert not any(helper in str(page.proxy.index(r, 0).data())
                   for r in range(page.proxy.rowCount()))
    qtbot.waitUntil(lambda: bool(swept), timeout=WAIT)
    # One made while the window follows the engine (its events) is not listed either.
    late_id, late = any_engine.create("--label", HELPER, any_engine.image, "true")
    after_id, _after = any_engine.create(any_engine.image, "true")
    qtbot.waitUntil(lambda: page.model.row_of(after_id) is not None, timeout=WAIT)
    assert page.model.row_of(late_id) is None
    assert late not in {c.name for c in session.items(CONTAINERS)}
    assert [s[:12] for s in swept[0]] == [helper_id[:12]]
    assert ours(any_engine) & {helper_id[:12], plain_id[:12]} == {plain_id[:12]}
    assert late_id[:12] in ours(any_engine)  # made after the sweep: left alone
    assert window.helper_sweeper.labels == (LABEL,)  # tests never sweep others' helpers
