"""``syncing.fetching.sessions.send``: what goes on the wire is what requests would send
(URL quoting, query parameters, credentials from the URL as Basic auth), with the URL's
preparation made once per URL."""

from __future__ import annotations

import base64

import pytest

from syncing.fetcher import PermanentFetchError, fetch
from syncing.fetching import sessions
from syncing.ratelimit import reset_limiter
from tests.support.http import Reply, local_server


@pytest.fixture(autouse=True)
def fresh_limiter(allow_private_urls):
    reset_limiter()
    yield
    reset_limiter()


def test_credentials_in_the_url_are_sent_as_basic_auth():
    with local_server({"/cal.ics": Reply(200, b"ok")}) as server:
        url = server.url.replace("http://", "http://user:s%40cret@") + "/cal.ics"
        for _ in range(2):  # the second send takes the prepared URL from the cache
            fetch(url)
    expected = "Basic " + base64.b64encode(b"user:s@cret").decode()
    assert [seen.headers.get("authorization") for seen in server.requests] == [expected] * 2


def test_no_authorization_without_credentials():
    with local_server({"/cal.ics": Reply(200, b"ok")}) as server:
        fetch(server.url + "/cal.ics?owner=a@b")  # an @ in the query is no credential
    assert "authorization" not in server.requests[0].headers


def test_the_url_is_quoted_and_parameters_are_added_as_requests_would():
    with local_server({}) as server:
        fetch_path = "/a b/caf\u00e9.ics?x=1 2"
        with pytest.raises(PermanentFetchError):  # 404 from the empty server
            fetch(server.url + fetch_path)
        with pytest.raises(PermanentFetchError):
            fetch(server.url + "/p.ics", params={"q": "a b", "n": "1"})
    assert server.requests[0].path == "/a%20b/caf%C3%A9.ics?x=1%202"
    assert server.requests[1].path == "/p.ics?q=a+b&n=1"


def test_the_prepared_url_is_cached_per_url_and_refusals_are_not():
    sessions._prepared_url.cache_clear()
    assert sessions._prepared_url("http://example.com/a b") == "http://example.com/a%20b"
    assert sessions._prepared_url("http://example.com/a b") == "http://example.com/a%20b"
    assert sessions._prepared_url.cache_info().hits == 1
    for _ in range(2):
        with pytest.raises(Exception, match="Invalid URL"):
            sessions._prepared_url("http://")
    assert sessions._prepared_url.cache_info().currsize == 1


def test_a_refused_url_is_refused_every_time_and_webcal_is_fetched_as_https():
    for _ in range(2):
        with pytest.raises(PermanentFetchError) as caught:
            fetch("ftp://example.com/cal.ics")
        assert caught.value.reason == "bad_url"
    with local_server({"/cal.ics": Reply(200, b"ok")}) as server:
        # webcal becomes https: the plain-HTTP local server cannot answer it (a connection
        # error, not a bad URL), whichever time it is asked.
        webcal = server.url.replace("http://", "webcal://") + "/cal.ics"
        for _ in range(2):
            with pytest.raises(Exception) as failed:
                fetch(webcal, retries=0)
            assert getattr(failed.value, "reason", "") != "bad_url"
