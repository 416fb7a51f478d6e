"""Which engine addresses send the API in the clear over a network (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine


@pytest.mark.parametrize(("url", "warned"), [
    ("tcp://192.0.2.10:2375", True),
    ("tcp://10.0.0.5:2375", True),
    ("tcp://build-server:2375", True),
    ("tcp://[2001:db8::1]:2375", True),
    ("tcp://127.0.0.1:2375", False),
    ("tcp://127.12.0.1:2375", False),
    ("tcp://localhost:2375", False),
    ("tcp://LOCALHOST:2375", False),
    ("tcp://docker.localhost:2375", False),
    ("tcp://[::1]:2375", False),
    ("tcp://0.0.0.0:2375", False),  # a client reaches this machine there
    ("tcp://:2375", False),  # the docker CLI's "this machine"
    ("ssh://me@build-server", False),
    ("unix:///var/run/docker.sock", False),
])
def test_plain_tcp_is_warned_about_unless_it_stays_on_this_machine(url: str, warned: bool
                                                                    ) -> None:
    endpoint = engine.endpoint_for(url, "test")
    warning = engine.plain_tcp_warning(endpoint)
    assert bool(warning) is warned
    if warned:
        assert warning.startswith(f"{endpoint.url} is plain tcp without TLS: anyone on the"
                                  " network to ")
        assert "Use TLS" in warning


def test_tls_is_not_warned_about(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("a CA\n")
    endpoint = engine.endpoint_for("tcp://192.0.2.10:2376", "test", ca_cert=ca)
    assert endpoint.tls is not None
    assert engine.plain_tcp_warning(endpoint) == ""
