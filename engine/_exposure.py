"""Whether an engine address sends the engine's API in the clear over a network.

A plain ``tcp://`` engine (no TLS) is a root shell on its host for anyone who can
reach the port or read the traffic; on loopback only this machine can.  The docker
CLI connects without a word; Dockyard connects too, but says so in plain words
(the switcher, the add-engine dialog and ``dockyard doctor`` share this text).
"""

from __future__ import annotations

import ipaddress

from engine._endpoint import Endpoint

__all__ = ["is_loopback_host", "plain_tcp_warning"]


def _host_of(url: str) -> str:
    """The host of a ``tcp://host:port`` URL, without brackets ("" when there is none)."""
    netloc = url.partition("://")[2].partition("/")[0]
    if netloc.startswith("["):
        return netloc[1:].partition("]")[0]
    return netloc.rpartition(":")[0] if ":" in netloc else netloc


def is_loopback_host(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1: traffic that never leaves this machine (so is
    0.0.0.0 or ::, which a client reaches on this machine too)."""
    host = host.strip().rstrip(".").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def plain_tcp_warning(endpoint: Endpoint) -> str:
    """One plain sentence when ``endpoint`` is ``tcp://`` without TLS to another machine;
    "" otherwise (TLS, ssh, a local socket, or loopback)."""
    if endpoint.scheme != "tcp" or endpoint.tls is not None:
        return ""
    host = _host_of(endpoint.url)
    if is_loopback_host(host):
        return ""
    return (f"{endpoint.url} is plain tcp without TLS: anyone on the network to {host} can"
            " read this traffic and drive the engine (which means root on that machine)."
            " Use TLS (port 2376 with certificates) or ssh:// instead.")
