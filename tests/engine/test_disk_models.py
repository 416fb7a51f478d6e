"""The volume, network and disk-usage readers on shapes the daemons send (no engine needed).

The payloads are trimmed from real answers of Docker 20.10 and Podman 4.3; the
summary arithmetic is the docker CLI's (20.10), whose output the engine tests
compare against on live engines.
"""

from __future__ import annotations

from typing import Any

import pytest

import engine
from app.df_cmd import reclaimable_text
from app.presentation import cli_size


def test_volume_sizes_unknown_and_anonymous() -> None:
    anon = engine.Volume.from_api({
        "Name": "1c351f176ee225d567afb6efa7357d0b3e474e8d2547b243011da822b24dfb97",
        "Driver": "local", "UsageData": {"Size": -1, "RefCount": -1}, "Labels": None})
    assert anon.size is None and anon.ref_count is None
    assert anon.anonymous and anon.display_name == "1c351f176ee2"
    labelled = engine.Volume.from_api({"Name": "data", "Labels": {engine.ANONYMOUS_LABEL: ""},
                                       "UsageData": {"Size": 5, "RefCount": 0}})
    assert labelled.anonymous and labelled.size == 5 and labelled.ref_count == 0
    named = engine.Volume.from_api({"Name": "db", "Labels": {
        "com.docker.compose.project": "shop"}, "CreatedAt": "2026-12-04T14:39:29Z"})
    assert not named.anonymous and named.compose_project == "shop"
    assert named.size is None and named.created is not None


@pytest.mark.parametrize("raw", [[], "volume", {"Driver": "local"}, None])
def test_volume_wrong_shapes_are_protocol_errors(raw: Any) -> None:
    with pytest.raises(engine.ProtocolError):
        engine.Volume.from_api(raw)


def test_network_from_podman_and_docker_shapes() -> None:
    podman = engine.Network.from_api({
        "Name": "podman", "Id": "2f259bab93aa", "Driver": "bridge", "Scope": "local",
        "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.88.0.0/16",
                                                   "Gateway": "10.88.0.1"}]},
        "Containers": {"94c047acb0f0": {"Name": "web", "EndpointID": "", "MacAddress": "",
                                         "IPv4Address": "", "IPv6Address": ""}},
    })
    assert podman.builtin and podman.subnets == ("10.88.0.0/16",)
    assert podman.gateways == ("10.88.0.1",)
    [endpoint] = podman.containers
    assert endpoint.container_name == "web" and endpoint.ipv4 is None
    docker = engine.Network.from_api({
        "Name": "dknet", "Id": "807846c071a4", "IPAM": {"Config": None},
        "Containers": {"5cb039cc4fe3": {"Name": "dkp", "IPv4Address": "10.231.0.2/24",
                                         "IPv6Address": "fd00::2/64",
                                         "MacAddress": "02:42:0a:e7:00:02"}},
        "Internal": True, "Attachable": True,
    })
    assert not docker.builtin and docker.internal and docker.attachable
    assert docker.ipam == ()
    assert docker.containers[0].ipv4 == "10.231.0.2"
    assert docker.containers[0].ipv6 == "fd00::2"
    with pytest.raises(engine.ProtocolError):
        engine.Network.from_api({"Name": "no-id"})


DF: dict[str, Any] = {
    "LayersSize": 10_000,
    "Images": [
        # used by a container: 4000 unique bytes are not reclaimable
        {"Id": "sha256:aa", "RepoTags": ["app:1"], "Size": 7000, "SharedSize": 3000,
         "Containers": 1, "Created": 1796395059},
        {"Id": "sha256:bb", "RepoTags": ["<none>:<none>"], "Size": 3000, "SharedSize": 3000,
         "Containers": 0},
        {"Id": "sha256:cc", "RepoTags": None, "Size": 100, "SharedSize": -1,
         "Containers": -1},
    ],
    "Containers": [
        {"Id": "c1", "Names": ["/up"], "State": "running", "SizeRw": 50},
        {"Id": "c2", "Names": ["/down"], "State": "exited", "SizeRw": 20},
        {"Id": "c3", "Names": ["/new"], "State": "created"},
    ],
    "Volumes": [
        {"Name": "used", "UsageData": {"Size": 1000, "RefCount": 1}},
        {"Name": "idle", "UsageData": {"Size": 300, "RefCount": 0}},
        {"Name": "unmeasured", "UsageData": {"Size": -1, "RefCount": -1}},
    ],
    "BuildCache": [
        {"ID": "r1", "Type": "regular", "Size": 400, "InUse": True, "Shared": False},
        {"ID": "r2", "Type": "regular", "Size": 200, "InUse": False, "Shared": False,
         "LastUsedAt": "2026-12-04T14:30:38.628526457Z", "Parent": "r1"},
        {"ID": "r3", "Type": "source.local", "Size": 999, "InUse": False, "Shared": True},
    ],
}


def test_summary_is_the_clis_arithmetic() -> None:
    usage = engine.DiskUsage.from_api(DF)
    images, containers, volumes, cache = usage.summary()
    assert images == engine.KindUsage("Images", 3, 1, 10_000, 6_000)
    assert containers == engine.KindUsage("Containers", 3, 1, 70, 20)
    assert volumes == engine.KindUsage("Local Volumes", 3, 1, 1300, 300)
    assert cache == engine.KindUsage("Build Cache", 3, 1, 600, 200)
    assert usage.images[1].dangling and usage.images[1].unique_size == 0
    assert usage.images[2].unique_size is None and usage.images[2].containers is None
    assert usage.build_cache[1].parents == ("r1",)
    assert usage.build_cache[1].last_used is not None
    assert [c.active for c in usage.containers] == [True, False, False]


def test_disk_usage_wrong_shapes() -> None:
    with pytest.raises(engine.ProtocolError):
        engine.DiskUsage.from_api({"Images": {"not": "a list"}})
    with pytest.raises(engine.ProtocolError):
        engine.DiskUsage.from_api({"BuildCache": [{"Size": 1}]})


@pytest.mark.parametrize(("size", "precision", "text"), [
    (0, 4, "0B"), (999, 4, "999B"), (1000, 4, "1kB"), (578_348, 4, "578.3kB"),
    (1_985_472, 4, "1.985MB"), (1_985_472, 3, "1.99MB"), (3072, 3, "3.07kB"),
    (12_345, 4, "12.35kB"), (999_999, 4, "1000kB"), (2 * 10**12, 4, "2TB"),
])
def test_sizes_print_like_go_units(size: int, precision: int, text: str) -> None:
    assert cli_size(size, precision) == text


def test_reclaimable_share() -> None:
    assert reclaimable_text(engine.KindUsage("Images", 1, 0, 1_985_472, 1_985_472)) == \
        "1.985MB (100%)"
    assert reclaimable_text(engine.KindUsage("Containers", 0, 0, 0, 0)) == "0B"
    assert reclaimable_text(engine.KindUsage("Build Cache", 1, 0, 578_348, 578_348)) == \
        "578.3kB"
