"""The Registries page in the real window, against a real loopback registry."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from pytestqt.qtbot import QtBot

import engine
from app.main_window import MainWindow
from app.pages.registries import RegistriesPage, TagRow, browse_address
from tests.app.conftest import await_in_qt, wait_connected
from tests.app.test_pull_build import open_window
from tests.conftest import EngineUnderTest
from tests.credential_helper import CredentialHelper
from tests.engine.test_build import _free_port, _start_registry, _stop
from tests.engine.test_registry import (  # noqa: F401  (fixtures)
    PASSWORD,
    LoopbackRegistry,
    _put_manifest,
    _upload_blob,
    basic_registry,
    docker_home,
    loopback,
    push_index,
)
from tests.fault_proxy import FaultProxy, raw_body
from tests.waits import seconds, wait_ms

SEARCH_ANSWER = Path(__file__).resolve().parent.parent / "data" / "docker_hub_search_busybox.json"


def _rows(page: RegistriesPage) -> dict[str, TagRow]:
    return {row.tag: row for row in page.tags.items()}


def test_browse_a_registry_and_pull_a_tag(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    loopback: LoopbackRegistry,  # noqa: F811
) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    page = window.registries_page
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    page.address.setText(f"{loopback.address}/dockyard/alpha")
    with qtbot.waitSignal(page.loaded, timeout=wait_ms(60),
                          check_params_cb=lambda what: what.endswith("/dockyard/alpha")):
        page.browse_button.click()
    names = {r.name for r in page.repositories.items()}
    assert {"dockyard/alpha", "dockyard/beta"} <= names
    assert page.chosen_repository() == "dockyard/alpha"
    rows = _rows(page)
    assert set(rows) == {"v1", "v2"}
    for pushed in loopback.pushed[:2]:
        row = page.tags_table.model().index(
            [page.tags_table.model().index(r, 0).data() for r in range(2)].index(pushed.tag), 1)
        assert row.data() == pushed.digest[7:19]  # what a user reads in the Digest column
        info = rows[pushed.tag].info
        assert info is not None and info.digest == pushed.digest
        assert info.platforms == (pushed.platform,)
    assert page.status.text() == "2 tags in dockyard/alpha."
    assert not page.pull_button.isEnabled()

    # Another repository, then pull its tag through the engine, with the usual activity.
    beta = loopback.pushed[2]
    docker_engine.cli("rmi", beta.reference)
    with qtbot.waitSignal(page.loaded, timeout=wait_ms(60)):
        page._open_repository("dockyard/beta")
    page.tags_table.selectRow(0)
    assert page.pull_button.isEnabled()
    page.pull_button.click()
    [activity] = window.activity.activities()
    qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(60))
    assert activity.succeeded, activity.status.text()
    assert docker_engine.cli("image", "inspect", "--format", "{{index .RepoDigests 0}}",
                             beta.reference) == beta.repo_digest


@pytest.mark.parametrize("typed", ["unreachable", "bad"])
def test_failures_are_one_line_on_the_page(qtbot: QtBot, make_session,
                                           docker_engine: EngineUnderTest, typed: str) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    page = window.registries_page
    messages: list[str] = []
    window.session.message.connect(lambda _level, text: messages.append(text))
    address = f"127.0.0.1:{_free_port()}"
    page.address.setText(address if typed == "unreachable" else "http://x")
    page.browse_button.click()
    if typed == "bad":
        assert page.status.text() == "Give a registry address without a scheme: 'http://x'."
        assert messages == []
        return
    qtbot.waitUntil(lambda: bool(messages), timeout=wait_ms(30))
    assert messages == [f"Could not browse {address}: cannot reach {address}: connection refused"]
    assert page.status.text() == f"Cannot reach {address}: connection refused."
    assert page.repositories.rowCount() == 0


def test_log_in_save_it_in_the_credential_store_and_log_out(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    basic_registry: str, docker_home: Path,  # noqa: F811
) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    page = window.registries_page
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    messages: list[str] = []
    window.session.message.connect(lambda _level, text: messages.append(text))
    page.address.setText(basic_registry)
    page.browse_button.click()
    qtbot.waitUntil(lambda: page.login_button.isVisible(), timeout=wait_ms(30))
    assert page.status.text() == f"{basic_registry} needs a login (docker login {basic_registry})."

    page.login_button.click()
    dialog = page.login_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.save.text() == \
        "Save as docker login does (in the credential helper docker-credential-dyreg)"
    dialog.username.setText("ann")
    dialog.password.setText(PASSWORD)
    dialog.save.setChecked(True)
    with qtbot.waitSignal(page.loaded, timeout=wait_ms(30)):
        dialog.accept()
    assert [r.name for r in page.repositories.items()] == ["dockyard/private"]
    assert not page.login_button.isVisible()
    qtbot.waitUntil(lambda: any(m.startswith("Saved") for m in messages), timeout=wait_ms(10))
    assert "Saved the login in the credential helper docker-credential-dyreg" in messages
    helper = CredentialHelper("dyreg", docker_home.parent.parent / "bin" / "dyreg-logins.json")
    assert helper.logins() == {basic_registry: {"Username": "ann", "Secret": PASSWORD}}
    assert PASSWORD not in (docker_home / "config.json").read_text()
    assert not any(PASSWORD in m for m in messages)

    page.logout_button.click()
    qtbot.waitUntil(lambda: any(m.startswith("Removed") for m in messages),
                    timeout=wait_ms(10))
    assert f"Removed the login for {basic_registry} from the credential helper" \
        " docker-credential-dyreg" in messages
    assert helper.logins() == {}
    assert json.loads((docker_home / "config.json").read_text()) == {
        "credsStore": "dyreg", "auths": {}}
    page.browse_button.click()  # the login typed on the page is forgotten too
    qtbot.waitUntil(lambda: page.login_button.isVisible(), timeout=wait_ms(30))


# -- only the tags in view are read ---------------------------------------------------------


async def _many_tags(loopback: LoopbackRegistry, repository: str, count: int) -> None:  # noqa: F811
    """``count`` tags of one image (t00…), and "a-broken" whose config is not JSON."""
    source = loopback.pushed[0]
    base = f"http://{loopback.address}"
    async with httpx.AsyncClient(timeout=seconds(30)) as http:
        got = await http.get(f"{base}/v2/{source.repository}/manifests/{source.digest}",
                             headers={"Accept": engine.MANIFEST_ACCEPT})
        manifest = got.json()
        for blob in (manifest["config"], *manifest["layers"]):
            data = (await http.get(f"{base}/v2/{source.repository}/blobs/{blob['digest']}")
                    ).content
            await _upload_blob(http, base, repository, data)
        media_type = got.headers["content-type"]
        await asyncio.gather(*(_put_manifest(http, base, repository, f"t{n:02}", got.content,
                                             media_type) for n in range(count)))
        garbage = b"not an image config"
        broken = {**manifest, "config": {**manifest["config"], "size": len(garbage),
                                         "digest": await _upload_blob(http, base, repository,
                                                                      garbage)}}
        await _put_manifest(http, base, repository, "a-broken", json.dumps(broken).encode(),
                            media_type)


def _read_tags(page: RegistriesPage) -> set[str]:
    return {r.tag for r in page.tags.items() if r.info is not None or r.error}


def test_only_the_tags_in_view_are_read_each_row_as_it_arrives(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    loopback: LoopbackRegistry, tmp_path: Path, request: pytest.FixtureRequest,  # noqa: F811
) -> None:
    """Docker Hub counts each manifest GET as a pull: a repository of 61 tags opened in a
    window that shows some twenty reads those twenty, then the ones scrolled to; a tag
    that cannot be read says so in its own row."""
    count = 60
    await_in_qt(qtbot, _many_tags(loopback, "dockyard/many", count))
    # The same storage served by a registry that logs each request: the manifest GETs.
    process, address = _start_registry(tmp_path, data=loopback.root / "data",
                                       log_level="info")
    request.addfinalizer(lambda: _stop(process))

    def manifest_gets() -> list[str]:
        """The tags whose manifest was asked for, once per GET (the access log)."""
        return re.findall(r'"GET /v2/dockyard/many/manifests/(\S+) HTTP',
                          (tmp_path / "registry.log").read_text())

    window = open_window(qtbot, make_session, docker_engine)
    window.resize(1100, 640)
    page = window.registries_page
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    page.address.setText(f"{address}/dockyard/many")
    with qtbot.waitSignal(page.loaded, timeout=wait_ms(60),
                          check_params_cb=lambda what: what.endswith("/dockyard/many")):
        page.browse_button.click()
    assert page.tags.rowCount() == count + 1
    # (the status line may rewrap and the view grow a row: whatever is in view gets read)
    qtbot.waitUntil(lambda: set(page.visible_tags()) <= _read_tags(page), timeout=wait_ms(30))
    in_view = page.visible_tags()
    assert 5 <= len(in_view) < count // 2
    assert _read_tags(page) == set(in_view)
    table = page.tags_table.model()
    shown = {table.index(r, 0).data(): table.index(r, 1).data() for r in range(table.rowCount())}
    assert shown["a-broken"] == ("Could not read: The registry sent an image config that is"
                                 " not valid JSON")
    assert shown["t00"] == loopback.pushed[0].digest[7:19]
    assert shown[f"t{count - 1:02}"] == "…"  # not read: out of view
    # (the registry logs a request just after answering it: a moment to catch up)
    qtbot.waitUntil(lambda: len(manifest_gets()) >= len(in_view), timeout=wait_ms(10))
    assert sorted(manifest_gets()) == sorted(in_view)  # each tag in view once, no other
    assert page.status.text() == f"{count + 1} tags in dockyard/many. 1 could not be read" \
        " (see the row)."

    with qtbot.waitSignal(page.loaded, timeout=wait_ms(60)):
        page.tags_table.scrollToBottom()
    qtbot.waitUntil(lambda: set(page.visible_tags()) <= _read_tags(page), timeout=wait_ms(30))
    rows = {r.tag: r for r in page.tags.items()}
    assert rows[f"t{count - 1:02}"].info is not None
    assert set(page.visible_tags()) <= _read_tags(page)
    assert len(_read_tags(page)) < count  # the middle was never in view: never read
    read = _read_tags(page)
    qtbot.waitUntil(lambda: len(manifest_gets()) >= len(read), timeout=wait_ms(10))
    assert sorted(manifest_gets()) == sorted(read)  # still once each: 61 would be all


# -- a plain engine error while reading ----------------------------------------------------


class _NotARegistry(BaseHTTPRequestHandler):
    """Answers every GET with an HTML page, as a web server mistaken for a registry does."""

    def do_GET(self) -> None:
        body = b"<html><body>It works!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def not_a_registry() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotARegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_engine_error_while_reading_is_shown_not_waited_on(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, not_a_registry: str,
) -> None:
    window = open_window(qtbot, make_session, docker_engine)
    page = window.registries_page
    messages: list[str] = []
    window.session.message.connect(lambda _level, text: messages.append(text))
    page.address.setText(not_a_registry)
    page.browse_button.click()
    assert page.status.text() == f"Reading the catalog of {not_a_registry}…"
    qtbot.waitUntil(lambda: bool(messages), timeout=wait_ms(30))
    assert page.status.text() == "The registry's answer for the catalog is not JSON."
    assert messages == [f"Could not browse {not_a_registry}: the registry's answer for the"
                        " catalog is not JSON"]


# -- a login typed on the page is used by its Pull ---------------------------------------------


def test_a_login_typed_on_the_page_is_used_by_its_pull(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    basic_registry: str, docker_home: Path,  # noqa: F811
) -> None:
    """Nothing saved (an empty credential store): the pull works only with the login typed
    on the page, sent as X-Registry-Auth; the password reaches no message."""
    window = open_window(qtbot, make_session, docker_engine)
    page = window.registries_page
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    messages: list[str] = []
    window.session.message.connect(lambda _level, text: messages.append(text))
    page.address.setText(f"{basic_registry}/dockyard/private")
    page.browse_button.click()
    qtbot.waitUntil(lambda: page.login_button.isVisible(), timeout=wait_ms(30))
    page.login_button.click()
    dialog = page.login_dialog
    assert dialog is not None
    dialog.username.setText("ann")
    dialog.password.setText(PASSWORD)
    assert not dialog.save.isChecked()
    with qtbot.waitSignal(page.loaded, timeout=wait_ms(60),
                          check_params_cb=lambda what: what.endswith("/dockyard/private")):
        dialog.accept()
    [row] = page.tags.items()
    reference = f"{basic_registry}/dockyard/private:{row.tag}"
    page.tags_table.selectRow(0)
    try:
        page.pull_button.click()
        [activity] = window.activity.activities()
        qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(60))
        assert activity.succeeded, activity.status.text()
        assert activity.status.text() == f"Pulled {reference}."
        assert docker_engine.cli("image", "inspect", "--format", "{{.Id}}", reference)
        assert CredentialHelper("dyreg", docker_home.parent.parent / "bin" /
                                "dyreg-logins.json").logins() == {}  # nothing was saved
        assert not any(PASSWORD in m for m in messages)
    finally:
        docker_engine.cli("rmi", reference, check=False)


# -- a platform of a multi-platform tag -------------------------------------------------------


def test_pull_another_platform_of_a_multi_platform_tag(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
    loopback: LoopbackRegistry,  # noqa: F811
) -> None:
    """The platforms come from the index the page read; pulling linux/arm64/v8 on an amd64
    engine gives an image whose Architecture is arm64 (the engine cannot run it, only keep
    it), with the usual per-layer progress."""
    pushed = await_in_qt(qtbot, push_index(loopback, "dockyard/platforms", "multi"))
    window = open_window(qtbot, make_session, docker_engine)
    page = window.registries_page
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    page.address.setText(f"{loopback.address}/dockyard/platforms")
    with qtbot.waitSignal(page.loaded, timeout=wait_ms(60),
                          check_params_cb=lambda what: what.endswith("/dockyard/platforms")):
        page.browse_button.click()
    assert page.platform.isHidden()  # no tag chosen: nothing to pick from
    reference = f"{loopback.address}/dockyard/platforms:multi"
    table = page.tags_table.model()
    tags = [table.index(r, 0).data() for r in range(table.rowCount())]
    assert tags == ["arm", "multi"]  # "arm": the arm64 image alone, pushed by push_index
    page.tags_table.selectRow(0)
    assert page.platform.isHidden()  # one platform: nothing to pick
    page.tags_table.selectRow(1)
    assert page.platform.isVisible()
    choices = [page.platform.itemText(i) for i in range(page.platform.count())]
    assert choices == ["Engine's platform", "linux/amd64", "linux/arm64/v8"]
    page.platform.setCurrentText("linux/arm64/v8")
    docker_engine.cli("rmi", reference, check=False)
    try:
        page.pull_button.click()
        [activity] = window.activity.activities()
        assert activity.title.text() == f"<b>Pull {reference} (linux/arm64/v8)</b>"
        qtbot.waitUntil(lambda: activity.done, timeout=wait_ms(90))
        assert activity.succeeded, activity.status.text()
        inspected = json.loads(docker_engine.cli("image", "inspect", reference))[0]
        assert (inspected["Os"], inspected["Architecture"], inspected.get("Variant")) == \
            ("linux", "arm64", "v8")
        assert f"{loopback.address}/dockyard/platforms@{pushed.digest}" in \
            inspected["RepoDigests"]
        layers: list[object] = pushed.amd_manifest["layers"]  # type: ignore[assignment]
        assert len(activity.log.toPlainText().splitlines()) == len(layers)  # one per layer
    finally:
        docker_engine.cli("rmi", reference, check=False)


# -- search ------------------------------------------------------------------------------------


def test_search_results_from_a_recorded_docker_hub_answer(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest, tmp_path: Path,
) -> None:
    """Docker Hub cannot be reached here: the engine's /images/search answer is a recording
    (tests/data/README.md), put in front of the real engine by the fault proxy.  Both the
    Registries page and the pull box show it."""
    with FaultProxy(docker_engine.endpoint.socket_path or "", tmp_path / "proxy.sock") as proxy:
        proxy.fault = raw_body(r"/images/search$", SEARCH_ANSWER.read_bytes())
        session = make_session(proxy.url)
        window = MainWindow(session)
        qtbot.addWidget(window)
        window.show()
        session.start()
        wait_connected(qtbot, session)
        page = window.registries_page
        window.sidebar.setCurrentRow(window.pages.indexOf(page))
        page.search_box.setText("busybox")
        with qtbot.waitSignal(page.loaded, timeout=wait_ms(30)):
            page.search_button.click()
        table = page.results_table.model()
        rows = [[table.index(r, c).data() for c in range(4)] for r in range(table.rowCount())]
        assert len(rows) == 10
        assert rows[0] == ["busybox", "316", "Official", "Busybox base image."]
        assert rows[1] == ["progrium/busybox", "50", "", ""]  # most stars first
        assert page.status.text() == "10 images found for busybox."
        assert page.tags_button.isVisible() and not page.pull_button.isEnabled()
        page.results_table.selectRow(0)
        assert page.pull_button.isEnabled() and page.platform.isHidden()
        with qtbot.waitSignal(page.pull_requested, timeout=wait_ms(5)) as pulled:
            page.pull_button.click()
        assert pulled.args[0].reference == "busybox"

        # The pull box's search asks the same engine; a result picked fills the box.
        images = window.images_page
        window.sidebar.setCurrentRow(window.pages.indexOf(images))
        images.pull_box.setText("busybox")
        images.search_button.click()
        menu = images.search_results
        qtbot.waitUntil(lambda: len(menu.actions()) == 10, timeout=wait_ms(30))
        assert menu.actions()[0].text() == "busybox (official)  ★316  Busybox base image."
        menu.actions()[2].trigger()
        assert images.pull_box.text() == "radial/busyboxplus"
        menu.close()
    assert browse_address("busybox") == "docker.io/busybox"
    assert browse_address("quay.io/team/app") == "quay.io/team/app"  # Podman's names


def test_an_unreachable_search_is_one_clear_line(
    qtbot: QtBot, make_session, any_engine: EngineUnderTest,
) -> None:
    """The engines here cannot reach any registry: the search says so in one line on the
    page and in the message area (from the pull box too), no traceback.  Podman searches
    only the registries its registries.conf lists for a plain name (none here): it is told
    to name one, and a named one is unreachable as Docker Hub is for Docker."""
    window = open_window(qtbot, make_session, any_engine)
    page = window.registries_page
    window.sidebar.setCurrentRow(window.pages.indexOf(page))
    messages: list[str] = []
    window.session.message.connect(  # the engines are shared: only the search's own
        lambda _level, text: messages.append(text) if text.startswith("Could not search")
        else None)

    def search(term: str) -> str:
        before = len(messages)
        page.search_box.setText(term)
        page.search_button.click()
        qtbot.waitUntil(lambda: len(messages) > before, timeout=wait_ms(90))
        [message] = messages[before:]
        reason = message.removeprefix(f"Could not search for {term}: ")
        assert page.status.text() == reason[:1].upper() + reason[1:] + "."
        assert "\n" not in message and "Traceback" not in message
        assert page.results.rowCount() == 0
        return reason

    offline = "the engine cannot reach the registry to search (offline?): "
    if any_engine.kind == "podman":
        assert search("busybox") == (
            "Podman has no registries to search for a name without one"
            " (unqualified-search-registries in registries.conf): search for"
            " docker.io/busybox or quay.io/busybox")
        term = "docker.io/busybox"
        assert search(term).startswith(offline + "couldn't search registry \"docker.io\":")
    else:
        term = "busybox"
        assert search(term).startswith(offline + "Get \"https://index.docker.io/v1/search?")
    shown, count = messages[-1], len(messages)

    images = window.images_page
    window.sidebar.setCurrentRow(window.pages.indexOf(images))
    images.pull_box.setText(term)
    images.search_button.click()
    qtbot.waitUntil(lambda: len(messages) > count, timeout=wait_ms(90))
    assert messages[-1] == shown
    qtbot.waitUntil(images.search_button.isEnabled, timeout=wait_ms(5))


def test_without_an_engine_the_page_says_so_instead_of_reading_forever(
    qtbot: QtBot, make_session, docker_engine: EngineUnderTest,
) -> None:
    session = make_session(docker_engine.url)  # never started: not connected
    page = RegistriesPage(session)
    qtbot.addWidget(page)
    messages: list[str] = []
    session.message.connect(lambda _level, text: messages.append(text))
    page.address.setText("127.0.0.1:5000")
    page.browse_button.click()
    assert page.status.text() == "Not connected to an engine."
    page.search_box.setText("busybox")
    page.search_button.click()
    assert page.status.text() == "Not connected to an engine."
    assert messages == ["Could not browse 127.0.0.1:5000: not connected to an engine",
                        "Could not search for busybox: not connected to an engine"]
