"""The fetcher keeps one connection per (host, pinned address) across fetches, 304s,
redirects and error pages, and still checks the address on every request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from syncing.fetcher import PermanentFetchError, fetch
from syncing.serving import serving

BODY = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" * 50
ETAG = '"v1"'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self) -> None:
        if self.path == "/old.ics":
            self._reply(301, b"moved\n", {"Location": "/feed.ics"})
        elif self.path == "/gone.ics":
            self._reply(404, b"no such calendar\n")
        elif self.headers.get("If-None-Match") == ETAG:
            self._reply(304, b"", {"ETag": ETAG})
        else:
            self._reply(200, BODY, {"ETag": ETAG})

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class CountingServer(ThreadingHTTPServer):
    """Counts the TCP connections it accepts."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.accepted = 0

    def get_request(self):
        request = super().get_request()
        self.accepted += 1
        return request


@contextmanager
def counting_server() -> Iterator[CountingServer]:
    with serving(CountingServer()) as server:
        yield server


def _get(url: str, **kwargs):
    return fetch(url, allow_loopback=True, rate_limit="10000/second", retries=0, **kwargs)


def test_fetches_304s_redirects_and_errors_share_one_connection():
    with counting_server() as server:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        for _ in range(10):
            assert _get(f"{base}/feed.ics").body == BODY
            assert _get(f"{base}/feed.ics", etag=ETAG).not_modified
            moved = _get(f"{base}/old.ics", etag=ETAG)
            assert moved.status == 304 and moved.redirects
            with pytest.raises(PermanentFetchError) as error:
                _get(f"{base}/gone.ics")
            assert error.value.reason == "http_404"
        assert server.accepted == 1


def test_a_warm_pool_does_not_skip_the_address_check():
    with counting_server() as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/feed.ics"
        assert _get(url).status == 200
        with pytest.raises(PermanentFetchError) as error:
            fetch(url, rate_limit="10000/second", retries=0, allow_private=False)
        assert error.value.reason == "blocked_address"
        assert server.accepted == 1
