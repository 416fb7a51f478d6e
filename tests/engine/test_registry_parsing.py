"""The distribution API's headers and manifests as pure functions (no registry needed).

A registry (or a proxy in front of one) can send anything: every malformed body
ends in a one-line ProtocolError, never a KeyError or TypeError deep inside.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import ProtocolError, parse_challenge, parse_config, parse_manifest
from engine._registry.manifests import sha256_digest

DOCKER = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DIGEST = "sha256:" + "a" * 64


def test_an_oci_index_without_media_type_in_the_body() -> None:
    body = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": DOCKER, "digest": DIGEST, "size": 10,
         "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}}]}).encode()
    manifest = parse_manifest(body, OCI_INDEX + "; charset=utf-8")
    assert manifest.is_index and manifest.media_type == OCI_INDEX
    assert manifest.digest == sha256_digest(body)
    assert [m.platform for m in manifest.manifests] == ["linux/arm/v7"]


@pytest.mark.parametrize(("body", "says"), [
    (b"<html>502 Bad Gateway</html>", "not valid JSON"),
    (b"[]", "a list where a manifest was expected"),
    (json.dumps({"mediaType": "application/x-unknown"}).encode(), "kind not read here"),
    (json.dumps({"mediaType": DOCKER, "config": {"size": 1}, "layers": []}).encode(),
     "an image config without a digest"),
    (json.dumps({"mediaType": DOCKER, "config": {"digest": DIGEST, "size": "1"},
                 "layers": []}).encode(), "without a size"),
    (json.dumps({"mediaType": DOCKER, "config": {"digest": DIGEST, "size": 1},
                 "layers": None}).encode(), "without a list of layers"),
    (json.dumps({"mediaType": OCI_INDEX, "manifests": {}}).encode(), "without a list"),
    (b"[" * 100000, "not valid JSON"),
])
def test_malformed_manifests_are_one_line_protocol_errors(body: bytes, says: str) -> None:
    with pytest.raises(ProtocolError, match=says) as failed:
        parse_manifest(body, DOCKER)
    assert "\n" not in str(failed.value)


def test_a_config_s_created_time_and_platform() -> None:
    config = parse_config(json.dumps({"created": "2024-01-02T03:04:05.123456789Z",
                                      "os": "linux", "architecture": "amd64"}).encode())
    assert (config.created, config.platform) == ("2024-01-02T03:04:05.123456789Z",
                                                 "linux/amd64")
    with pytest.raises(ProtocolError):
        parse_config(b"null")


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
_value = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@given(st.dictionaries(_token, _value, max_size=5))
def test_any_quoted_parameters_read_back(params: dict[str, str]) -> None:
    """Values with commas, quotes, backslashes and spaces survive quoting (RFC 7235)."""
    quoted = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in params.items())
    challenge = parse_challenge(f"Bearer {quoted}")
    assert challenge is not None and challenge.scheme == "bearer"
    assert challenge.params == params


@given(st.text(max_size=200))
def test_any_header_is_read_without_an_exception(header: str) -> None:
    parse_challenge(header)


def test_docker_hub_official_images_live_under_library() -> None:
    from engine._registry.client import api_repository

    assert api_repository("docker.io", "busybox") == "library/busybox"
    assert api_repository("docker.io", "team/app") == "team/app"
    assert api_repository("127.0.0.1:5000", "busybox") == "busybox"
