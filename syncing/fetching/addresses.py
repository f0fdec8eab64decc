"""IPv6 addresses that carry an IPv4 address inside them, checked on top of requests-hardened.

requests-hardened resolves the host, refuses private ranges and pins the connection to the
address it checked. It unwraps IPv4-mapped addresses (``::ffff:10.0.0.1``) but not the other
forms that embed an IPv4 address, which Python does not call private either: IPv4-compatible
(``::127.0.0.1``), IPv4-translated (``::ffff:0:7f00:1``), NAT64 (``64:ff9b::/96``) and 6to4
(``2002::/16``). Depending on the host's stack these reach the embedded IPv4 address, so the
adapter below checks that address as well, on the same resolved address that is connected to.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import requests
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress, _is_ip_in_extra_blocked_ranges
from requests_hardened.ip_filter_adapter import IPFilterAdapter

IPv4_COMPATIBLE = ipaddress.ip_network("::/96")
IPv4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, translated, NAT64,
    6to4, Teredo server/client), or None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in IPv4_COMPATIBLE or ip in IPv4_TRANSLATED or any(ip in net for net in NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_refused(address: str, *, allow_loopback: bool) -> bool:
    """True when ``address`` (a resolved IP, IPv6 possibly in brackets) must not be
    connected to. Loopback passes only as itself (127.0.0.0/8, ::1) when allowed, never
    wrapped in IPv6."""
    ip = ipaddress.ip_address(address.strip("[]"))
    if ip.version == 4:
        if allow_loopback and ip.is_loopback:
            return False
        return _is_bad_ipv4(ip)
    if allow_loopback and ip.is_loopback:
        return False
    inner = embedded_ipv4(ip)
    if inner is not None:
        # Deprecated forms (compatible, translated) are never needed for a public host.
        if ip in IPv4_COMPATIBLE or ip in IPv4_TRANSLATED:
            return True
        return _is_bad_ipv4(inner) or ip.is_private or _is_ip_in_extra_blocked_ranges(ip)
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_link_local
        or ip.is_site_local
        or _is_ip_in_extra_blocked_ranges(ip)
    )


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _is_bad_ipv4(ip: ipaddress.IPv4Address) -> bool:
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_link_local
        or ip.is_reserved
        or _is_ip_in_extra_blocked_ranges(ip)
    )


class EmbeddedIPv4FilterAdapter(IPFilterAdapter):
    """requests-hardened's adapter, plus the embedded-IPv4 check on the pinned address."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        # The pinned address (requests-hardened unwraps IPv4-mapped ones), and the URL's
        # own host when it is an address literal, so no IPv6 spelling of loopback passes.
        for address in (host_params["host"], urlsplit(request.url).hostname or ""):
            if _is_address(address) and is_refused(address, allow_loopback=self._allow_loopback):
                raise InvalidIPAddress(address)
        return host_params, pool_kwargs


def guarded_session(config: Config) -> requests.Session:
    """An HTTPSession whose address filter also refuses embedded private IPv4 addresses."""
    session = HTTPSession(config)
    if config.ip_filter_enable:
        for prefix, https in (("http://", False), ("https://", True)):
            session.mount(
                prefix,
                EmbeddedIPv4FilterAdapter(
                    is_https_proto=https,
                    allow_loopback=config.ip_filter_allow_loopback_ips,
                    tls_sni_support=config.ip_filter_tls_sni_support,
                ),
            )
    return session
