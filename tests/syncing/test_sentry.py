"""Sentry receives no secrets: the envelope our SDK really sends, captured over HTTP by a
local server on 127.0.0.1, holds no header, key, query parameter or password we filter."""

from __future__ import annotations

import gzip

import pytest
import sentry_sdk
from django.http import HttpResponse
from django.urls import path

from syncing.sentry import FILTERED, init_sentry, scrub_event, scrub_text
from tests.support.http import Reply, local_server

SECRETS = {
    "bearer": "sk-live-abcdef123456",
    "cookie": "sessionid=cookie-secret-777",
    "api_key": "apikey-secret-888",
    "nested": "nested-token-999",
    "feed": "feed-secret-q-111",
    "db": "db-password-222",
    "redis": "redis-password-333",
    "sig": "signature-444",
}


def boom(request):
    """A view that fails with secrets in its locals, its message and its request."""
    settings_like = {
        "database": {"password": SECRETS["db"]},
        "providers": [{"token": SECRETS["nested"]}],
    }
    feed_url = f"https://airbnb.example/ical/42.ics?s={SECRETS['sig']}&secret={SECRETS['feed']}"
    broker = f"redis://:{SECRETS['redis']}@cache.internal:6379/0"
    raise RuntimeError(
        f"could not reach postgres://syncbeat:{SECRETS['db']}@db.internal:5432/syncbeat "
        f"while fetching {feed_url} via {broker} ({len(settings_like)})"
    )


urlpatterns = [path("boom/", boom), path("ok/", lambda r: HttpResponse("ok"))]


def envelopes(server) -> list[bytes]:
    bodies = []
    for seen in server.requests:
        body = seen.body
        encoding = seen.headers.get("content-encoding")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":  # sentry-sdk prefers brotli when the package is installed
            body = pytest.importorskip("brotli").decompress(body)
        bodies.append(body)
    return bodies


@pytest.fixture
def sentry_server():
    with local_server({"*": Reply(200, b"{}", {"Content-Type": "application/json"})}) as server:
        host = server.url.split("://", 1)[1]
        init_sentry(f"http://publickey@{host}/1", include_local_variables=True)
        yield server
    sentry_sdk.init(dsn=None)  # inactive again for the other tests


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_a_failing_request_reaches_sentry_without_its_secrets(client, sentry_server):
    with pytest.raises(RuntimeError):
        client.get(
            f"/boom/?page=2&token={SECRETS['nested']}&key={SECRETS['api_key']}",
            HTTP_AUTHORIZATION=f"Bearer {SECRETS['bearer']}",
            HTTP_COOKIE=SECRETS["cookie"],
            HTTP_X_API_KEY=SECRETS["api_key"],
        )
    sentry_sdk.flush(timeout=5)
    bodies = envelopes(sentry_server)
    assert bodies, "the SDK sent nothing to the capture server"
    text = b"\n".join(bodies).decode("utf-8", "replace")
    assert "RuntimeError" in text and "/boom/" in text  # the event arrived, and is useful
    assert "db.internal" in text and "airbnb.example/ical/42.ics" in text
    for name, secret in SECRETS.items():
        assert secret not in text, f"{name} leaked to Sentry"
    assert FILTERED in text


def test_the_hook_filters_nested_keys_headers_and_strings():
    event = {
        "request": {
            "url": "https://api.example.com/v1/x?access_token=abc123&page=1",
            "query_string": "signature=zzz&page=1",
            "headers": {"Authorization": "Basic dXNlcjpwYXNz", "X-Api-Key": "k", "Accept": "*/*"},
            "cookies": {"sessionid": "s"},
            "data": {"form": {"password": "p", "name": "Alice"}},
        },
        "extra": {"config": {"SENTRY_DSN": "https://a@b/1", "api": {"client_secret": "c"}}},
        "breadcrumbs": {
            "values": [{"message": "GET https://x.example/p?key=K1&q=ok", "data": {"auth": "A"}}]
        },
        "exception": {"values": [{"value": "amqp://guest:guestpw@rabbit:5672// refused"}]},
    }
    out = scrub_event(event, {})
    request = out["request"]
    assert request["url"] == f"https://api.example.com/v1/x?access_token={FILTERED}&page=1"
    assert request["query_string"] == f"signature={FILTERED}&page=1"
    assert request["headers"] == {"Authorization": FILTERED, "X-Api-Key": FILTERED, "Accept": "*/*"}
    assert request["cookies"] == FILTERED  # the whole jar
    assert request["data"]["form"] == {"password": FILTERED, "name": "Alice"}
    assert out["extra"]["config"]["SENTRY_DSN"] == FILTERED
    assert out["extra"]["config"]["api"]["client_secret"] == FILTERED
    crumb = out["breadcrumbs"]["values"][0]
    assert crumb["message"] == f"GET https://x.example/p?key={FILTERED}&q=ok"
    assert crumb["data"]["auth"] == FILTERED
    assert (
        out["exception"]["values"][0]["value"] == f"amqp://guest:{FILTERED}@rabbit:5672// refused"
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgres://u:p4ss@h:5432/d", f"postgres://u:{FILTERED}@h:5432/d"),
        ("redis://:pw@h:6379/0", f"redis://:{FILTERED}@h:6379/0"),
        ("https://h/p?a=1&token=t&b=2", f"https://h/p?a=1&token={FILTERED}&b=2"),
        ("https://h/p?sku=DD1391&size=10", "https://h/p?sku=DD1391&size=10"),
        ("Authorization: Bearer abcdef123456", f"Authorization: Bearer {FILTERED}"),
        ("https://h/feed.ics", "https://h/feed.ics"),
        (
            "https://www.airbnb.com/calendar/ical/1.ics?s=abc",
            f"https://www.airbnb.com/calendar/ical/1.ics?s={FILTERED}",
        ),
        ("https://h/x.ics?export=0123456789abcdef0123456789", f"https://h/x.ics?export={FILTERED}"),
    ],
)
def test_strings_keep_what_helps_and_lose_the_secret(text, expected):
    assert scrub_text(text) == expected
