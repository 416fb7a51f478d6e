"""The engine's edge against hostile answers, through a fault proxy in front of a real engine.

Every answer is checked against the shape the code expects (a ProtocolError
with a one-line reason otherwise), and every exchange has a total deadline as
well as httpx's per-read one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine
from engine._client import Engine
from engine._endpoint import parse_host
from tests.conftest import EngineUnderTest
from tests.fault_proxy import (
    DEEP_ARRAYS,
    HTML_ERROR_PAGE,
    MALFORMED_LISTS,
    MALFORMED_OBJECTS,
    Fault,
    FaultProxy,
    raw_body,
)

pytestmark = pytest.mark.anyio

#: A bound for the test itself, far above the deadlines under test.
GUARD_SECONDS = 60


@pytest.fixture
def proxy(any_engine: EngineUnderTest, tmp_path: Path) -> Iterator[FaultProxy]:
    with FaultProxy(any_engine.endpoint.socket_path or "", tmp_path / "proxy.sock") as relay:
        yield relay


def endpoint(proxy: FaultProxy) -> engine.Endpoint:
    return parse_host(proxy.url, "fault proxy")


@pytest.mark.parametrize("name", sorted(MALFORMED_OBJECTS))
async def test_handshake_rejects_malformed_version(proxy: FaultProxy, name: str) -> None:
    proxy.fault = raw_body(r"/version$", MALFORMED_OBJECTS[name])
    with pytest.raises(engine.ProtocolError) as caught:
        await Engine.open(endpoint(proxy))
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200, message
    assert "/version" in message or "version report" in message


@pytest.mark.parametrize("name", sorted(MALFORMED_LISTS))
async def test_lists_of_the_wrong_shape(
    proxy: FaultProxy, any_engine: EngineUnderTest, name: str,
) -> None:
    container_id, _name = any_engine.create(any_engine.image, "true")
    async with await Engine.open(endpoint(proxy)) as client:
        proxy.fault = raw_body(r"/(containers|images)/json$", MALFORMED_LISTS[name])
        with pytest.raises(engine.ProtocolError, match=r"^the engine"):
            await client.containers()
        with pytest.raises(engine.ProtocolError, match=r"^the engine"):
            await client.images()
        proxy.fault = None
        assert container_id in {c.id for c in await client.containers()}


@pytest.mark.parametrize("body", [b"[]", b"null", b'"x"', b'{"Containers": {"a": 1}}'])
async def test_info_of_the_wrong_shape(proxy: FaultProxy, body: bytes) -> None:
    async with await Engine.open(endpoint(proxy)) as client:
        proxy.fault = raw_body(r"/info$", body)
        with pytest.raises(engine.ProtocolError, match="system report"):
            await client.info()


async def test_html_error_page_is_one_line_with_details(proxy: FaultProxy) -> None:
    async with await Engine.open(endpoint(proxy)) as client:
        proxy.fault = raw_body(r"/info$", HTML_ERROR_PAGE, status=500, content_type="text/html")
        with pytest.raises(engine.ServerError) as caught:
            await client.info()
    assert str(caught.value) == "500 Internal Server Error"
    assert caught.value.details == HTML_ERROR_PAGE.decode().strip()


async def test_trickled_handshake_meets_its_deadline(proxy: FaultProxy) -> None:
    proxy.fault = Fault(r"/version$", "trickle", interval=0.3)
    with pytest.raises(engine.EngineUnreachable, match="did not finish answering the handshake"):
        await asyncio.wait_for(Engine.open(endpoint(proxy), deadline=1.5), GUARD_SECONDS)


async def test_trickled_call_meets_its_deadline(proxy: FaultProxy) -> None:
    async with await Engine.open(endpoint(proxy), deadline=1.5) as client:
        proxy.fault = Fault(r"/containers/json$", "trickle", interval=0.3)
        with pytest.raises(engine.EngineUnreachable, match=r"GET /containers/json within 1\.5 s"):
            await asyncio.wait_for(client.containers(), GUARD_SECONDS)
        proxy.fault = None
        await client.containers()  # the client is still usable


async def test_stream_whose_headers_trickle_meets_its_deadline(proxy: FaultProxy) -> None:
    async with await Engine.open(endpoint(proxy), deadline=1.5) as client:
        proxy.fault = Fault(r"/events$", "trickle", interval=0.3)

        async def first_event() -> None:
            async for _event in client.events():
                return

        with pytest.raises(engine.EngineUnreachable, match=r"/events within 1\.5 s"):
            await asyncio.wait_for(first_event(), GUARD_SECONDS)


async def test_hung_call_meets_its_deadline(proxy: FaultProxy) -> None:
    async with await Engine.open(endpoint(proxy), deadline=1.5) as client:
        proxy.fault = Fault(r"/info$", "hang")
        with pytest.raises(engine.EngineUnreachable, match="did not finish answering"):
            await asyncio.wait_for(client.info(), GUARD_SECONDS)


@pytest.mark.parametrize("body", [b"[]", b"{}", b'{"Id": 7}', b"null", DEEP_ARRAYS],
                         ids=["list", "no-id", "number-id", "null", "deep-arrays"])
async def test_create_answers_without_an_id(
    proxy: FaultProxy, any_engine: EngineUnderTest, body: bytes,
) -> None:
    """Creating a container or an exec reads the new ID: a wrong answer is a ProtocolError.

    The fault replaces only the engine's answer; nothing is created on it.
    """
    container_id, _name = any_engine.create(any_engine.image, "sleep", "300")
    async with await Engine.open(endpoint(proxy)) as client:
        proxy.fault = raw_body(r"/containers/create$", body, status=201)
        with pytest.raises(engine.ProtocolError, match="created container"):
            await client.create_container(any_engine.image)
        with pytest.raises(engine.ProtocolError, match="created container"):
            await engine.run_container(client, engine.RunSpec(image=any_engine.image))
        proxy.fault = raw_body(r"/exec$", body, status=201)
        with pytest.raises(engine.ProtocolError, match="created exec"):
            await engine.exec_create(client, container_id, ["true"], tty=False, stdin=False)


async def test_search_and_exec_state_of_the_wrong_shape(proxy: FaultProxy) -> None:
    async with await Engine.open(endpoint(proxy)) as client:
        proxy.fault = raw_body(r"/images/search$", b"[1]")
        with pytest.raises(engine.ProtocolError, match="where a search result was expected"):
            await engine.search_images(client, "busybox")
        proxy.fault = raw_body(r"/exec/[^/]+/json$", b'"running"')
        with pytest.raises(engine.ProtocolError, match="where an exec's state was expected"):
            await engine.exec_inspect(client, "abc")


async def test_garbled_events_are_skipped(proxy: FaultProxy) -> None:
    """One event of the wrong shape is skipped; the ones around it still arrive."""
    stream = (b'[1]\n"text"\n{"Type": "container", "Action": "start", "timeNano": {"a": 1}}\n'
              b'{"Type": "image", "Action": "pull", "Actor": {"ID": "busybox"},'
              b' "timeNano": 1700000000000000000}\n')
    async with await Engine.open(endpoint(proxy)) as client:
        proxy.fault = raw_body(r"/events$", stream)
        events = [event async for event in client.events()]
    assert [(e.type, e.action, e.actor_id) for e in events] == [("image", "pull", "busybox")]


async def test_deeply_nested_stream_value_is_a_protocol_error(proxy: FaultProxy) -> None:
    async with await Engine.open(endpoint(proxy)) as client:
        proxy.fault = raw_body(r"/events$", DEEP_ARRAYS)
        with pytest.raises(engine.ProtocolError, match="nested too deeply"):
            async for _event in client.events():
                pass


async def test_a_recorded_docker_hub_search_answer_is_parsed(proxy: FaultProxy) -> None:
    """Docker Hub cannot be reached here: its answer is a recording (tests/data/README.md)."""
    recorded = Path(__file__).resolve().parent.parent / "data" / "docker_hub_search_busybox.json"
    async with await Engine.open(endpoint(proxy)) as client:
        proxy.fault = raw_body(r"/images/search$", recorded.read_bytes())
        results = await engine.search_images(client, "busybox")
    assert len(results) == 10
    assert results[0] == engine.SearchResult("busybox", "Busybox base image.", 316, True)
    assert results[1] == engine.SearchResult("progrium/busybox", "", 50, False)
    assert [r.official for r in results].count(True) == 1
