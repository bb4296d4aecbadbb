"""Who is posting: the client address, and the optional IP allow-list.

Bandwidth publishes no source ranges for these callbacks (static IPs only through a
support ticket), so the allow-list is off unless configured. Behind a proxy, the client
address comes from ``BW_NOTIFICATIONS_CLIENT_IP_HEADER`` only when that setting says so:
a header any client can send is never trusted by default.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ..conf import app_settings

__all__ = ["client_address", "is_allowed", "normalise_address"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(meta: Mapping[str, Any]) -> str | None:
    """The client's IP address from a request's ``META``, or None when there is no valid one.

    With ``CLIENT_IP_HEADER`` set, the address is the entry ``TRUSTED_PROXY_COUNT`` places
    from the right of that header (the one your nearest trusted proxy wrote); otherwise
    ``REMOTE_ADDR``. Anything that is not an IP address (a socket path, garbage) is None.
    """
    header = app_settings.CLIENT_IP_HEADER
    if header:
        key = "HTTP_" + header.upper().replace("-", "_")
        entries = [entry.strip() for entry in str(meta.get(key, "")).split(",") if entry.strip()]
        count = app_settings.TRUSTED_PROXY_COUNT
        candidate = entries[-count] if 0 < count <= len(entries) else ""
    else:
        candidate = str(meta.get("REMOTE_ADDR") or "")
    return normalise_address(candidate)


def normalise_address(text: str) -> str | None:
    """One IP address as proxies write it, in its plain form; None when it is not one.

    Accepts ``203.0.113.7``, ``203.0.113.7:51234``, ``[2001:db8::1]:443``,
    ``[2001:db8::1]`` and IPv4-mapped IPv6 (``::ffff:203.0.113.7``, which becomes
    ``203.0.113.7`` so that an IPv4 allow-list matches it).
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]  # IPv4 with a port
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def is_allowed(address: str | None, allowed: Sequence[str]) -> bool:
    """True when ``allowed`` is empty, or ``address`` is in one of its networks."""
    if not allowed:
        return True
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in _networks(tuple(allowed)))


def parse_networks(allowed: Sequence[str]) -> list[_Network]:
    """Parse addresses and CIDRs (``203.0.113.7``, ``203.0.113.0/24``, ``2001:db8::/32``).

    Raises ``ValueError`` naming the first entry that is neither.
    """
    networks: list[_Network] = []
    for entry in allowed:
        try:
            network = ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
        networks.append(_unmapped(network))
    return networks


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _unmapped(network: _Network) -> _Network:
    # Addresses are compared in their plain form (normalise_address), so an entry
    # written IPv4-mapped (::ffff:203.0.113.0/120) becomes 203.0.113.0/24.
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None
        return ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
    return network


@lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]) -> list[_Network]:
    return parse_networks(allowed)
