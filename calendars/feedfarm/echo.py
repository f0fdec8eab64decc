"""A channel that imports our export, as Booking.com and VRBO do: the farm fetches a listing's
export URL and re-publishes its all-day events as the channel's own blocks.

    source = EchoSource()
    blocks = source.blocks("http://127.0.0.1:8000/calendars/<token>.ics?for=booking")

This is the realistic path for the demo: the farm really polls Syncbeat's export, so the
export records the fetch for that variant (``Listing.export_state``) and the import can tell
our own echo from a real block. Each read of the channel's feed is one poll of our export,
and the feed publishes what the *previous* poll returned: a real channel polls on its own
schedule, so its copies always come from a fetch our export recorded before we read them
(the first read of a feed holds no copies yet, as with a channel just given the link).

Only URLs on 127.0.0.1/localhost are fetched (the farm is no proxy to the internet).
Conditional requests (If-None-Match) keep polling cheap; when a fetch fails (the web process
is down, an expired link's 404) the blocks last read are kept, as a channel keeps what it
imported until its next good read.

Channels import days: an all-day event is copied as it is, a timed one (an owner's
16:00-11:00 stay) as the dates it runs over in UTC, from its start's date to its end's (the
check-out day; the next day for an evening event), as Booking.com does. (Our export leaves
out the timed events that hold no night, such as cleanings, which a channel would otherwise
copy as a closed turnover day.)
"""

from __future__ import annotations

import threading
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import icalendar

from calendars.feedfarm.generate import EchoBlock

ECHO_HOSTS = ("127.0.0.1", "localhost")
FETCH_TIMEOUT = 5.0
MAX_EXPORT_BYTES = 5 * 1024 * 1024


def check_echo_url(url: str) -> None:
    """Raise ValueError unless ``url`` is an http URL on 127.0.0.1 or localhost."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ECHO_HOSTS:
        raise ValueError("echo URLs must be http://127.0.0.1 or http://localhost")


def parse_export(body: bytes) -> tuple[EchoBlock, ...]:
    """The VEVENTs of an exported calendar as the days a channel would close, sorted.
    Raises ValueError when the body is not iCalendar."""
    calendar = icalendar.Calendar.from_ical(body)
    blocks = []
    for event in calendar.walk("VEVENT"):
        start = _day(event.decoded("DTSTART", None))
        end = _day(event.decoded("DTEND", None))
        if start is None or end is None:
            continue
        if end <= start:  # a timed event within one day: that day's night
            end = start + timedelta(days=1)
        blocks.append(EchoBlock(str(event.get("UID", "")), start, end))
    return tuple(sorted(blocks, key=lambda b: (b.start, b.end, b.source_uid)))


def _day(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    return value if isinstance(value, date) else None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error here: the farm fetches 127.0.0.1 and nothing else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class EchoSource:
    """The export URLs the farm's channels import, with what each last returned."""

    def __init__(self, *, timeout: float = FETCH_TIMEOUT):
        self.timeout = timeout
        self._lock = threading.Lock()
        # url -> (etag, blocks, epoch second the blocks last changed)
        self._known: dict[str, tuple[str, tuple[EchoBlock, ...], float]] = {}
        self.fetches = 0

    def blocks(self, url: str) -> tuple[tuple[EchoBlock, ...], float]:
        """(the blocks the export at ``url`` held at the previous poll, when they last
        changed), then polls it again for the next read. Raises ValueError for a URL off
        127.0.0.1 (check_echo_url)."""
        check_echo_url(url)
        with self._lock:
            published = self._known.get(url, ("", (), 0.0))
        self._poll(url, published)
        return published[1], published[2]

    def _poll(self, url: str, previous: tuple[str, tuple[EchoBlock, ...], float]) -> None:
        etag, known, changed = previous
        headers = {"If-None-Match": etag} if etag else {}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - checked above
        self.fetches += 1
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_EXPORT_BYTES)
                new_etag = response.headers.get("ETag", "")
            blocks = parse_export(body)
        except (OSError, ValueError):
            # 304 (an HTTPError to urllib: unchanged), an error status, a connection
            # refused, not a calendar: keep what was read last time.
            with self._lock:
                self._known.setdefault(url, previous)
            return
        if blocks != known:
            changed = float(int(time.time()))
        with self._lock:
            self._known[url] = (new_etag, blocks, changed)
