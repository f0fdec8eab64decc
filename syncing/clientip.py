"""The client's address, read through the configured trusted proxies.

``settings.TRUSTED_PROXIES`` lists the addresses or networks of the reverse proxies in front
of the web process (empty by default: REMOTE_ADDR is the client). ``X-Forwarded-For`` is
honoured only when the peer is one of them, walking the header from the right past every
trusted hop, so a client cannot choose its own address by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


@lru_cache(maxsize=32)
def _networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _parse(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def is_trusted_proxy(address: str) -> bool:
    ip = _parse(address)
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    return ip is not None and any(ip in net for net in networks)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or from X-Forwarded-For when REMOTE_ADDR is a
    trusted proxy (the right-most address that is not itself a trusted proxy)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if not is_trusted_proxy(remote):
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    client = remote
    for hop in reversed([h for h in hops if h]):
        if _parse(hop) is None:
            break  # garbage from beyond the last trusted proxy: keep the last known hop
        client = str(_parse(hop))
        if not is_trusted_proxy(client):
            break
    return client


def is_unverified_forward(request: HttpRequest) -> bool:
    """True when the request carries a forwarding header from a peer that is not a trusted
    proxy: the peer is probably a proxy we were not told about (on the same host it is
    loopback), so its address says nothing about the client."""
    if is_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
        return False
    return any(request.META.get(h) for h in FORWARDING_HEADERS)
