"""The address guard: private, loopback and metadata addresses are refused before connecting.

Every test here records each socket connect; anything not on loopback is refused by the
recorder itself, so a guard regression fails loudly instead of sending traffic out.
"""

from __future__ import annotations

import socket

import pytest

from syncing.fetcher import PermanentFetchError, fetch
from syncing.ratelimit import reset_limiter
from tests.support.http import Reply, local_server

LOOPBACK = ("127.0.0.1", "::1")


@pytest.fixture(autouse=True)
def private_urls_refused(settings):
    settings.ALLOW_PRIVATE_URLS = False
    reset_limiter()
    yield settings
    reset_limiter()


@pytest.fixture(autouse=True)
def connects(monkeypatch):
    """Every address a socket connects to; connecting outside loopback is an error."""
    seen: list[str] = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        seen.append(host)
        if host not in LOOPBACK:
            raise AssertionError(f"test tried to connect to {host}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def assert_blocked(url: str, **kwargs) -> PermanentFetchError:
    with pytest.raises(PermanentFetchError) as caught:
        fetch(url, retries=2, deadline=5, **kwargs)
    assert caught.value.reason == "blocked_address", caught.value.message
    assert "refuses private address" in caught.value.message
    return caught.value


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://192.168.1.1/admin",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "https://10.0.0.1/",
        "webcal://192.168.1.1/cal.ics",
    ],
)
def test_private_addresses_are_refused_without_connecting(url, connects):
    assert_blocked(url)
    assert connects == []


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "127.1", "2130706433", "0x7f000001", "[::1]"],
)
def test_loopback_is_refused_even_with_a_server_listening(host, connects):
    with local_server({"*": Reply(200, b"secret admin page")}) as server:
        port = server.server_address[1]
        assert_blocked(f"http://{host}:{port}/")
    assert server.requests == []
    assert connects == []


def test_allow_private_setting_lifts_the_check(settings):
    settings.ALLOW_PRIVATE_URLS = True
    with local_server({"/ok": Reply(200, b"ok")}) as server:
        assert fetch(server.url + "/ok").body == b"ok"


def test_allow_private_per_call_lifts_the_check():
    with local_server({"/ok": Reply(200, b"ok")}) as server:
        assert fetch(server.url + "/ok", allow_private=True).body == b"ok"


def test_allow_loopback_lets_loopback_through_but_not_private_ranges(connects):
    with local_server({"/ok": Reply(200, b"ok")}) as server:
        assert fetch(server.url + "/ok", allow_loopback=True).body == b"ok"
    assert_blocked("http://10.0.0.1/", allow_loopback=True)
    assert_blocked("http://169.254.169.254/", allow_loopback=True)
    assert set(connects) == {"127.0.0.1"}


@pytest.mark.parametrize(
    "target",
    ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data", "http://[::ffff:10.1.2.3]/"],
)
def test_redirect_to_a_private_address_is_refused(target, connects):
    # The first hop is allowed (loopback mode); the redirect is checked again and refused.
    with local_server({"/feed": Reply(302, b"", {"Location": target})}) as server:
        error = assert_blocked(server.url + "/feed", allow_loopback=True)
    assert [s.path for s in server.requests] == ["/feed"]
    assert set(connects) == {"127.0.0.1"}
    assert error.retries == 0


# IPv6 forms that carry a private or loopback IPv4 address inside them (issue 11).
EMBEDDED_IPV4 = [
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[::7f00:1]/",  # the same, in hex
    "http://[::10.0.0.1]/",
    "http://[::ffff:0:7f00:1]/",  # IPv4-translated
    "http://[::ffff:0:a9fe:a9fe]/",  # translated 169.254.169.254
    "http://[::ffff:7f00:1]/",  # IPv4-mapped, hex spelling
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[64:ff9b::10.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[2002:c0a8:101::1]/",  # 6to4 of 192.168.1.1
    "http://[2002:a9fe:a9fe::]/",
]


@pytest.mark.parametrize("url", EMBEDDED_IPV4)
def test_ipv6_forms_embedding_a_private_ipv4_are_refused(url, connects):
    assert_blocked(url)
    assert connects == []


@pytest.mark.parametrize("url", EMBEDDED_IPV4)
def test_embedded_loopback_is_refused_even_in_loopback_mode(url, connects):
    # allow_loopback lets 127.0.0.1 and ::1 through as themselves, never wrapped in IPv6.
    assert_blocked(url, allow_loopback=True)
    assert connects == []


def test_a_name_resolving_to_an_embedded_form_is_refused(monkeypatch, connects):
    # The check runs on the address requests-hardened resolved and pins, not on the URL.
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "rebind.example":
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:0:7f00:1", 80, 0, 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert_blocked("http://rebind.example/feed")
    assert connects == []


def test_redirect_to_an_embedded_form_is_refused(connects):
    with local_server({"/feed": Reply(302, b"", {"Location": "http://[::127.0.0.1]/"})}) as s:
        assert_blocked(s.url + "/feed", allow_loopback=True)
    assert [r.path for r in s.requests] == ["/feed"]
    assert set(connects) == {"127.0.0.1"}


def test_embedded_check_passes_public_addresses():
    from syncing.fetching.addresses import is_refused

    assert not is_refused("93.184.216.34", allow_loopback=False)
    assert not is_refused("[2606:2800:220:1:248:1893:25c8:1946]", allow_loopback=False)
    assert is_refused("[2002:5db8:d822::]", allow_loopback=False)  # 6to4 is refused whole
    assert not is_refused("127.0.0.1", allow_loopback=True)
    assert not is_refused("[::1]", allow_loopback=True)
