"""The feed farm's HTTP server: N synthetic feeds on 127.0.0.1, some changing each round.

Routes (feed ids run from 1 to N):
    GET  /feeds/<id>.ics[?style=vrbo&events=100&fault=...]   a feed (ETag, Last-Modified, 304)
         &doubles=1             that many future stays land in the next lane (double bookings)
         &tz=America/Denver     a Google feed's zone (default Europe/Paris)
         &cleaning_for=101:1,102  a Google feed also cleans on those feeds' checkout days
                                (id:doubles when that feed was asked for doubles)
         &echo=<export URL>     the channel imports that Syncbeat export (127.0.0.1 only) and
                                re-publishes its all-day events as its own blocks (echo.py)
    GET  /fault/<fault>/feeds/<id>.ics                        the same fault, in the path
    GET  /control/state          {"round": r, "feeds": N, ...}
    POST /control/advance        next round now (benchmarks), returns the state
Faults: slow (``seconds``, default 5, at most 120), 500, 503, 429 (Retry-After, default 30),
404, 410, truncated (body cut in half, honest Content-Length), reset (full Content-Length,
half the body, connection closed), html (a login page with 200), empty (200, no body).

Each round, exactly ``round(change_fraction * N)`` feeds get a new version; a round lasts
``change_every`` seconds, or until ``advance()`` when that is None. Bodies are cached in an
LRU bounded by bytes, so memory stays flat however many feeds are served.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import zoneinfo
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from calendars.feedfarm.echo import EchoSource, check_echo_url
from calendars.feedfarm.generate import STYLES, checkout_days, default_style, generate_feed
from syncing.serving import serving as serve_in_thread

LOCAL_HOSTS = ("127.0.0.1", "localhost")
MAX_EVENTS = 20_000
MAX_SLOW_SECONDS = 120.0
FAULTS = ("slow", "500", "503", "429", "404", "410", "truncated", "reset", "html", "empty")

LOGIN_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Log in - Channel Manager</title></head>
<body><main><h1>Your session has expired</h1>
<form action="/login" method="post"><label>Email <input name="email" type="email"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Log in</button></form></main></body></html>
"""


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    last_modified: float  # epoch seconds, whole


class FeedFarm:
    """Which version each feed is at, and its rendered body (cached, LRU by bytes)."""

    def __init__(
        self,
        feeds: int,
        *,
        events: int = 100,
        change_fraction: float = 0.1,
        change_every: float | None = None,
        today: date | None = None,
        cache_bytes: int = 64 * 1024 * 1024,
    ):
        if feeds < 1:
            raise ValueError("feeds must be at least 1")
        if not 0.0 <= change_fraction <= 1.0:
            raise ValueError("change_fraction must be within 0..1")
        self.feeds = feeds
        self.events = events
        self.change_fraction = change_fraction
        self.change_every = change_every if change_every and change_every > 0 else None
        self.today = today or datetime.now(UTC).date()
        self.started = float(int(time.time()))
        self.cache_bytes = cache_bytes
        self._manual_rounds = 0
        self._round_times: dict[int, float] = {0: self.started}
        self._cache: OrderedDict[tuple, Rendered] = OrderedDict()
        self._cached_bytes = 0
        self._lock = threading.Lock()
        primes = (1_000_003, 999_983, 1_000_033)
        self._multiplier = next(p for p in primes if math.gcd(p, feeds) == 1)
        self.echo_source = EchoSource()

    # Rounds and versions ------------------------------------------------------------------
    @property
    def changing_per_round(self) -> int:
        share = round(self.change_fraction * self.feeds)
        return max(share, 1) if self.change_fraction > 0 else 0

    def current_round(self) -> int:
        timed = int((time.time() - self.started) // self.change_every) if self.change_every else 0
        current = self._manual_rounds + timed
        if current not in self._round_times:
            with self._lock:
                self._round_times.setdefault(current, float(int(time.time())))
        return current

    def advance(self, rounds: int = 1) -> int:
        """Start the next round now; returns the new round number."""
        with self._lock:
            self._manual_rounds += rounds
        return self.current_round()

    def changes_in(self, feed_id: int, round_no: int) -> bool:
        """Whether ``feed_id`` gets a new version in round ``round_no`` (exact fraction)."""
        if round_no < 1:
            return False
        position = (feed_id * self._multiplier + round_no * 7919) % self.feeds
        return position < self.changing_per_round

    def version_of(self, feed_id: int, round_no: int | None = None) -> int:
        """The last round (up to ``round_no``) in which the feed changed; 0 for never."""
        round_no = self.current_round() if round_no is None else round_no
        if self.changing_per_round == 0:
            return 0
        for candidate in range(round_no, max(0, round_no - 10_000), -1):
            if self.changes_in(feed_id, candidate):
                return candidate
        return 0

    def _round_time(self, round_no: int) -> float:
        if round_no in self._round_times:
            return self._round_times[round_no]
        return self.started + round_no * (self.change_every or 0)

    # Bodies -------------------------------------------------------------------------------
    def render(
        self,
        feed_id: int,
        *,
        style: str | None = None,
        events: int | None = None,
        doubles: int = 0,
        tz: str = "Europe/Paris",
        cleaning_for: tuple[tuple[int, int], ...] = (),
        echo_url: str | None = None,
    ):
        """The feed's current body with its ETag and Last-Modified (cached). ``echo_url`` is
        fetched first (EchoSource); raises ValueError for one off 127.0.0.1."""
        style = style or default_style(feed_id)
        events = self.events if events is None else events
        version = self.version_of(feed_id)
        turnovers, changed = self._turnovers(cleaning_for, events)
        changed = max(changed, self._round_time(version))
        echoes: tuple = ()
        if echo_url:
            echoes, echoed_at = self.echo_source.blocks(echo_url)
            changed = max(changed, echoed_at)
        key = (feed_id, style, events, version, doubles, tz, tuple(sorted(set(turnovers))), echoes)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        body = generate_feed(
            feed_id,
            style=style,
            events=events,
            version=version,
            today=self.today,
            doubles=doubles,
            tz=tz,
            turnovers=turnovers,
            echoes=echoes,
        )
        rendered = Rendered(
            body=body,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            last_modified=float(int(changed)),
        )
        with self._lock:
            if key not in self._cache:
                self._cache[key] = rendered
                self._cached_bytes += len(body)
            while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._cached_bytes -= len(old.body)
        return rendered

    def _turnovers(self, siblings: tuple[tuple[int, int], ...], events: int):
        """The siblings' checkout days, and when the last of their versions came out."""
        days: list[date] = []
        changed = 0.0
        for sibling, doubles in siblings:
            version = self.version_of(sibling)
            changed = max(changed, self._round_time(version))
            days += checkout_days(
                sibling, events=events, version=version, today=self.today, doubles=doubles
            )
        return days, changed

    def state(self) -> dict:
        return {
            "round": self.current_round(),
            "feeds": self.feeds,
            "events": self.events,
            "change_fraction": self.change_fraction,
            "changing_per_round": self.changing_per_round,
            "change_every": self.change_every,
            "cached_feeds": len(self._cache),
            "cached_bytes": self._cached_bytes,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY on every accepted socket: headers and body go out in two writes, and with
    # Nagle on, the body waits for the client's delayed ACK of the headers (~40 ms on Linux)
    # on every kept-alive response after the first.
    disable_nagle_algorithm = True
    server: FeedFarmServer

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 65536))
        if urlsplit(self.path).path == "/control/advance":
            self.server.farm.advance()
            self._reply(200, json.dumps(self.server.farm.state()).encode(), "application/json")
        else:
            self._reply(404, b"not found\n", "text/plain")

    # ------------------------------------------------------------------------------------
    def _reply(self, status, body=b"", content_type="text/plain", headers=None, head=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _fault_replied(self, fault: str, query: dict[str, str], *, head: bool) -> bool:
        """Answer a fault that replies instead of the feed (True); "slow" just waits."""
        if fault == "slow":
            time.sleep(min(_float(query.get("seconds"), 5.0), MAX_SLOW_SECONDS))
            return False
        if fault in ("500", "503"):
            headers = {"Retry-After": query.get("retry_after", "30")} if fault == "503" else {}
            self._reply(int(fault), b"Internal error\n", headers=headers, head=head)
        elif fault == "429":
            retry_after = query.get("retry_after", "30")
            self._reply(429, b"Too many requests\n", headers={"Retry-After": retry_after})
        elif fault in ("404", "410"):
            self._reply(int(fault), b"Calendar not found\n", head=head)
        elif fault == "html":
            self._reply(200, LOGIN_PAGE, "text/html; charset=utf-8", head=head)
        elif fault == "empty":
            self._reply(200, b"", "text/calendar; charset=utf-8", head=head)
        elif fault and fault not in FAULTS:
            self._reply(400, b"unknown fault\n", head=head)
        else:
            return False
        return True

    def _serve(self, *, head: bool) -> None:
        farm = self.server.farm
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        fault = query.get("fault", "")
        if len(parts) >= 2 and parts[0] == "fault":
            fault, parts = parts[1], parts[2:]
        if parts == ["control", "state"]:
            return self._reply(200, json.dumps(farm.state()).encode(), "application/json")
        feed_id = _feed_id(parts)
        if feed_id is None or not 1 <= feed_id <= farm.feeds:
            return self._reply(404, b"no such feed\n", head=head)
        try:
            options = _render_options(query, farm.feeds)
        except ValueError as exc:
            return self._reply(400, f"{exc}\n".encode(), head=head)
        if self._fault_replied(fault, query, head=head):
            return None
        rendered = farm.render(feed_id, **options)
        headers = {
            "ETag": rendered.etag,
            "Last-Modified": formatdate(rendered.last_modified, usegmt=True),
            "Cache-Control": "max-age=0, private, must-revalidate",
        }
        if fault not in ("truncated", "reset") and _not_modified(self.headers, rendered):
            self.send_response(304)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            return None
        body = rendered.body
        content_type = "text/calendar; charset=utf-8"
        if fault == "truncated":
            return self._reply(200, body[: len(body) // 2], content_type, headers, head=head)
        if fault == "reset":
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return None
        return self._reply(200, body, content_type, headers, head=head)


def _feed_id(parts: list[str]) -> int | None:
    if len(parts) != 2 or parts[0] != "feeds" or not parts[1].endswith(".ics"):
        return None
    stem = parts[1][: -len(".ics")]
    return int(stem) if stem.isdigit() else None


def _render_options(query: dict[str, str], feeds: int) -> dict:
    """style, events, doubles, tz, cleaning_for and echo_url from the query. Raises
    ValueError (its message is the 400's body)."""
    options: dict = {}
    if query.get("style"):
        if query["style"] not in STYLES:
            raise ValueError("unknown style")
        options["style"] = query["style"]
    if "events" in query:
        try:
            options["events"] = min(int(query["events"]), MAX_EVENTS)
        except ValueError:
            raise ValueError("bad events")
    if "doubles" in query:
        options["doubles"] = max(0, min(int(query["doubles"]), 10))
    if "tz" in query:
        try:
            zoneinfo.ZoneInfo(query["tz"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown tz")
        options["tz"] = query["tz"]
    if query.get("cleaning_for"):
        siblings = []
        for part in query["cleaning_for"].split(","):
            sibling, _, doubles = part.partition(":")
            siblings.append((int(sibling), max(0, min(int(doubles or 0), 10))))
        if not all(1 <= sibling <= feeds for sibling, _ in siblings):
            raise ValueError("cleaning_for: no such feed")
        options["cleaning_for"] = tuple(siblings)
    if query.get("echo"):
        check_echo_url(query["echo"])
        options["echo_url"] = query["echo"]
    return options


def _float(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def _not_modified(headers, rendered: Rendered) -> bool:
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or rendered.etag in tags
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        return rendered.last_modified <= since
    return False


class FeedFarmServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address, farm: FeedFarm, *, verbose: bool = False):
        self.farm = farm
        self.verbose = verbose
        super().__init__(address, _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up early (a fetcher at its byte cap) is not an error here."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def make_server(
    port: int = 0,
    feeds: int = 100,
    *,
    host: str = "127.0.0.1",
    verbose: bool = False,
    **farm_options,
) -> FeedFarmServer:
    """A bound (not yet serving) feed farm server; call ``serve_forever()`` in a thread.

    ``farm_options`` go to FeedFarm (events, change_fraction, change_every, today,
    cache_bytes). Raises ValueError for a host other than 127.0.0.1/localhost.
    """
    if host not in LOCAL_HOSTS:
        raise ValueError(f"the feed farm only listens on 127.0.0.1, not {host!r}")
    return FeedFarmServer(("127.0.0.1", port), FeedFarm(feeds, **farm_options), verbose=verbose)


@contextmanager
def serving(feeds: int = 100, **options) -> Iterator[FeedFarmServer]:
    """Run a feed farm on 127.0.0.1 (a free port) in a thread for the with-block."""
    with serve_in_thread(make_server(0, feeds, **options), name="feedfarm") as server:
        yield server
