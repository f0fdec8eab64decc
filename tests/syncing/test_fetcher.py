"""The fetcher against real local servers: validators, caps, deadlines, retries, redirects."""

from __future__ import annotations

import gzip
import hashlib
import logging
import socket
import time
from email.utils import formatdate

import pytest

from syncing.fetcher import (
    FetchError,
    FetchResult,
    PermanentFetchError,
    TransientFetchError,
    fetch,
    normalize_url,
    parse_retry_after,
)
from syncing.ratelimit import reset_limiter
from syncing.results import PermanentSyncError, TransientSyncError
from tests.support.http import Reply, local_server

CALENDAR = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


@pytest.fixture(autouse=True)
def fresh_limiter(allow_private_urls):
    reset_limiter()
    yield
    reset_limiter()


def sequence(*replies: Reply):
    """A route answering with each reply in turn, then repeating the last."""
    replies_left = list(replies)

    def route(_seen):
        return replies_left.pop(0) if len(replies_left) > 1 else replies_left[0]

    return route


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- success and validators --------------------------------------------------------------
def test_200_returns_body_headers_and_validators():
    reply = Reply(
        200,
        CALENDAR,
        {
            "Content-Type": "text/calendar; charset=utf-8",
            "ETag": '"v1"',
            "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT",
        },
    )
    with local_server({"/cal.ics": reply}) as server:
        result = fetch(server.url + "/cal.ics")

    assert isinstance(result, FetchResult)
    assert result.status == 200
    assert result.body == CALENDAR
    assert result.text.startswith("BEGIN:VCALENDAR")
    assert result.content_type == "text/calendar"
    assert result.headers["etag"] == '"v1"'  # lower-case keys
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert result.content_hash == hashlib.sha256(CALENDAR).hexdigest()
    assert result.not_modified is False
    assert result.bytes_read == len(CALENDAR)
    assert result.retries == 0
    assert result.final_url == server.url + "/cal.ics"
    seen = server.requests[0]
    assert seen.headers["user-agent"].startswith("Syncbeat")
    assert "if-none-match" not in seen.headers


def test_json_post_with_params_and_headers():
    with local_server(
        {"/api": Reply(200, b'{"ok": true}', {"Content-Type": "application/json"})}
    ) as server:
        result = fetch(
            server.url + "/api",
            "POST",
            params={"q": "jordan"},
            json={"size": 10},
            headers={"X-Client": "syncbeat"},
        )
    assert result.json() == {"ok": True}
    seen = server.requests[0]
    assert seen.method == "POST"
    assert seen.path == "/api?q=jordan"
    assert seen.body == b'{"size": 10}'
    assert seen.headers["x-client"] == "syncbeat"


def test_304_via_if_none_match_keeps_old_validators():
    def route(seen):
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(200, CALENDAR, {"ETag": '"v1"'})

    old_hash = hashlib.sha256(CALENDAR).hexdigest()
    with local_server({"/cal.ics": route}) as server:
        result = fetch(
            server.url + "/cal.ics",
            etag='"v1"',
            last_modified="Wed, 01 Jan 2025 00:00:00 GMT",
            previous_hash=old_hash,
        )
    assert result.status == 304
    assert result.not_modified is True
    assert result.body == b""
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert result.content_hash == old_hash
    seen = server.requests[0].headers
    assert seen["if-none-match"] == '"v1"'
    assert seen["if-modified-since"] == "Wed, 01 Jan 2025 00:00:00 GMT"


def test_200_with_unchanged_hash_is_not_modified():
    with local_server({"/cal.ics": Reply(200, CALENDAR)}) as server:
        unchanged = fetch(
            server.url + "/cal.ics", previous_hash=hashlib.sha256(CALENDAR).hexdigest()
        )
        changed = fetch(server.url + "/cal.ics", previous_hash="0" * 64)
    assert unchanged.status == 200 and unchanged.not_modified is True
    assert changed.not_modified is False


def test_gzip_body_is_decompressed_and_counted():
    packed = gzip.compress(CALENDAR * 100)
    reply = Reply(200, packed, {"Content-Encoding": "gzip"})
    with local_server({"/cal.ics": reply}) as server:
        result = fetch(server.url + "/cal.ics")
    assert result.body == CALENDAR * 100
    assert result.bytes_read == len(CALENDAR) * 100


# --- urls --------------------------------------------------------------------------------
def test_webcal_is_fetched_as_https():
    assert normalize_url("webcal://example.com/a.ics?k=1") == "https://example.com/a.ics?k=1"
    assert normalize_url("WEBCALS://example.com/a.ics") == "https://example.com/a.ics"
    # Against a plain-HTTP server the fetcher speaks TLS: the handshake fails, no HTTP request.
    with (
        local_server({"*": Reply(200, CALENDAR)}) as server,
        pytest.raises(TransientFetchError) as caught,
    ):
        fetch(server.url.replace("http://", "webcal://") + "/a.ics", retries=0)
    assert caught.value.reason == "connection"
    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.ics",
        "file:///etc/passwd",
        "gopher://x/",
        "no scheme at all",
        "http://",
        "http://host:99999/",
        "",
        "javascript:alert(1)",
    ],
)
def test_other_schemes_and_broken_urls_are_bad_url(url):
    with pytest.raises(PermanentFetchError) as caught:
        fetch(url)
    assert caught.value.reason == "bad_url"
    assert isinstance(caught.value, PermanentSyncError)
    assert isinstance(caught.value, FetchError)


# --- caps and time -----------------------------------------------------------------------
def test_declared_body_over_cap_is_too_large():
    with (
        local_server({"/big": Reply(200, b"x" * 10_000)}) as server,
        pytest.raises(PermanentFetchError) as caught,
    ):
        fetch(server.url + "/big", max_bytes=1_000)
    assert caught.value.reason == "too_large"


def test_gzip_bomb_is_cut_at_the_cap():
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000  # small on the wire, Content-Length passes the cap
    with local_server({"/bomb": Reply(200, bomb, {"Content-Encoding": "gzip"})}) as server:
        started = time.monotonic()
        with pytest.raises(PermanentFetchError) as caught:
            fetch(server.url + "/bomb", max_bytes=200_000)
    assert caught.value.reason == "too_large"
    assert caught.value.bytes_read <= 200_000 + 64 * 1024
    assert time.monotonic() - started < 2


def test_read_timeout(settings):
    settings.FETCH_READ_TIMEOUT = 0.3
    with local_server({"/slow": Reply(200, CALENDAR, delay=1.5)}) as server:
        started = time.monotonic()
        with pytest.raises(TransientFetchError) as caught:
            fetch(server.url + "/slow", retries=0)
    assert caught.value.reason == "timeout"
    assert isinstance(caught.value, TransientSyncError)
    assert time.monotonic() - started < 1.2


def test_dripping_server_is_cut_at_the_total_deadline():
    # One byte every 0.2 s never trips the read timeout; the deadline must still hold.
    drip = Reply(200, b"x" * 100, drip_chunk=1, drip_pause=0.2)
    with local_server({"/drip": drip}) as server:
        started = time.monotonic()
        with pytest.raises(TransientFetchError) as caught:
            fetch(server.url + "/drip", deadline=1.0)
    elapsed = time.monotonic() - started
    assert caught.value.reason == "deadline"
    assert 0.9 <= elapsed < 2.0
    assert caught.value.bytes_read > 0


# --- retries -----------------------------------------------------------------------------
def test_429_with_short_retry_after_is_retried():
    route = sequence(Reply(429, b"slow down", {"Retry-After": "1"}), Reply(200, CALENDAR))
    with local_server({"/cal.ics": route}) as server:
        started = time.monotonic()
        result = fetch(server.url + "/cal.ics", rate_key="t-429-short")
    assert result.status == 200
    assert result.retries == 1
    assert len(server.requests) == 2
    assert time.monotonic() - started >= 0.9


def test_429_with_long_retry_after_is_raised_at_once():
    with local_server({"/cal.ics": Reply(429, b"", {"Retry-After": "120"})}) as server:
        started = time.monotonic()
        with pytest.raises(TransientFetchError) as caught:
            fetch(server.url + "/cal.ics", retries=2, rate_key="t-429-long")
    assert caught.value.reason == "http_429"
    assert caught.value.http_status == 429
    assert caught.value.retry_after == 120
    assert len(server.requests) == 1
    assert time.monotonic() - started < 0.5


def test_retry_after_as_http_date():
    in_a_minute = formatdate(time.time() + 60, usegmt=True)
    assert 55 <= parse_retry_after(in_a_minute) <= 61
    assert parse_retry_after("7") == 7
    assert parse_retry_after(formatdate(time.time() - 60, usegmt=True)) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_503_is_retried_then_fails_transient():
    with (
        local_server({"/cal.ics": Reply(503, b"down")}) as server,
        pytest.raises(TransientFetchError) as caught,
    ):
        fetch(server.url + "/cal.ics", retries=2)
    assert caught.value.reason == "http_5xx"
    assert caught.value.http_status == 503
    assert caught.value.retries == 2
    assert len(server.requests) == 3


def test_503_then_200_succeeds():
    route = sequence(Reply(502), Reply(200, CALENDAR))
    with local_server({"/cal.ics": route}) as server:
        result = fetch(server.url + "/cal.ics")
    assert result.status == 200 and result.retries == 1


@pytest.mark.parametrize(
    ("status", "reason"),
    [(404, "http_404"), (410, "http_410"), (403, "http_4xx"), (400, "http_4xx")],
)
def test_4xx_is_permanent_and_not_retried(status, reason):
    with (
        local_server({"/cal.ics": Reply(status)}) as server,
        pytest.raises(PermanentFetchError) as caught,
    ):
        fetch(server.url + "/cal.ics", retries=2)
    assert caught.value.reason == reason
    assert caught.value.http_status == status
    assert len(server.requests) == 1


def test_refused_connection_is_transient_connection():
    url = f"http://127.0.0.1:{free_port()}/cal.ics"
    with pytest.raises(TransientFetchError) as caught:
        fetch(url, retries=1)
    assert caught.value.reason == "connection"
    assert caught.value.retries == 1


# --- redirects ---------------------------------------------------------------------------
def redirect(to: str, status: int = 302) -> Reply:
    return Reply(status, b"", {"Location": to})


def test_three_redirects_are_followed():
    routes = {
        "/0": redirect("/1", 301),
        "/1": redirect("/2", 307),
        "/2": redirect("/3", 308),
        "/3": Reply(200, CALENDAR),
    }
    with local_server(routes) as server:
        result = fetch(server.url + "/0")
    assert result.body == CALENDAR
    assert result.final_url == server.url + "/3"
    assert [s.path for s in server.requests] == ["/0", "/1", "/2", "/3"]


def test_a_cookie_set_on_a_hop_follows_its_redirects_but_never_another_fetch():
    routes = {
        "/login": Reply(302, b"", {"Location": "/cal.ics", "Set-Cookie": "visit=abc; Path=/"}),
        "/cal.ics": Reply(200, CALENDAR, {"Set-Cookie": "seen=1; Path=/"}),
    }
    with local_server(routes) as server:
        assert fetch(server.url + "/login").body == CALENDAR
        fetch(server.url + "/cal.ics")  # another feed of the same host, later
    first, hop, later = server.requests
    assert "cookie" not in first.headers
    assert hop.headers["cookie"] == "visit=abc"
    assert "cookie" not in later.headers  # nothing kept between fetches


def test_more_than_three_redirects_is_too_many():
    routes = {f"/{i}": redirect(f"/{i + 1}") for i in range(5)}
    with local_server(routes) as server, pytest.raises(PermanentFetchError) as caught:
        fetch(server.url + "/0")
    assert caught.value.reason == "too_many_redirects"
    assert len(server.requests) == 4  # the first request and three redirects


def test_redirect_to_another_scheme_is_bad_url():
    with (
        local_server({"/0": redirect("file:///etc/passwd")}) as server,
        pytest.raises(PermanentFetchError) as caught,
    ):
        fetch(server.url + "/0")
    assert caught.value.reason == "bad_url"


def test_303_turns_post_into_get_and_credentials_stay_home():
    with local_server({"/done": Reply(200, b"ok")}) as other:
        # Same address, other host name and port: credentials must not follow.
        target = other.url.replace("127.0.0.1", "localhost") + "/done"
        with local_server({"/submit": redirect(target, 303)}) as server:
            result = fetch(
                server.url + "/submit",
                "POST",
                data=b"a=1",
                headers={"Authorization": "Bearer secret-token", "Cookie": "s=1"},
            )
    assert result.body == b"ok"
    assert server.requests[0].headers["authorization"] == "Bearer secret-token"
    hop = other.requests[0]
    assert hop.method == "GET" and hop.body == b""
    assert "authorization" not in hop.headers and "cookie" not in hop.headers


# --- what gets logged --------------------------------------------------------------------
def test_logs_and_messages_hold_no_query_or_credentials(caplog):
    caplog.set_level(logging.DEBUG, logger="syncing")
    with local_server({"/cal.ics": Reply(404)}) as server:
        url = server.url.replace("http://", "http://user:hunter2@") + "/cal.ics?key=s3cret"
        with pytest.raises(PermanentFetchError) as caught:
            fetch(url, headers={"Authorization": "Bearer tok3n"})
    dead = f"http://127.0.0.1:{free_port()}/x?key=s3cret"
    with pytest.raises(TransientFetchError) as refused:
        fetch(dead, retries=0)
    for text in (caplog.text, caught.value.message, refused.value.message, caught.value.url):
        assert "s3cret" not in text and "hunter2" not in text and "tok3n" not in text
    assert "/cal.ics" in caught.value.message


# --- pooling -----------------------------------------------------------------------------
def test_connections_are_pooled_per_thread(monkeypatch):
    connects: list[object] = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        connects.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    with local_server({"/cal.ics": Reply(200, CALENDAR)}) as server:
        for _ in range(3):
            fetch(server.url + "/cal.ics")
    assert len(server.requests) == 3
    assert len(connects) == 1
