"""Build the one iCalendar feed we publish per listing (issue 3, "Export").

Deterministic: the same events give the same bytes (so the ETag is stable); nothing reads the
clock. Timed events are written in UTC, all-day events as VALUE=DATE with an exclusive DTEND.
Text (the calendar's name, summaries) is cleaned of control characters first: RFC 5545 TEXT
allows none but HTAB, and a CR in a listing's name made icalendar refuse the whole feed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import icalendar

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# C0 controls (CR, LF, NUL, ...; HTAB too, for a one-line name) and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class ExportEvent(Protocol):
    export_uid: str
    start: date | datetime
    end: date | datetime
    all_day: bool
    summary: str
    dtstamp: datetime | None


def _utc(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time(), tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC, microsecond=0)
    return value.astimezone(UTC).replace(microsecond=0)


def _day(value: date | datetime) -> date:
    return value.astimezone(UTC).date() if isinstance(value, datetime) else value


def clean_text(value: str) -> str:
    """``value`` on one line: each run of control characters becomes one space, trimmed."""
    return " ".join(_CONTROL.sub(" ", value or "").split())


def _uid(export_uid: str, domain: str) -> str:
    export_uid = str(export_uid).strip()
    return export_uid if "@" in export_uid else f"{export_uid}@{domain}"


def _sort_key(event: ExportEvent) -> tuple[datetime, str]:
    return _utc(event.start), str(event.export_uid)


def build_calendar(
    *,
    name: str,
    events: Iterable[ExportEvent],
    domain: str,
    prodid: str = "-//Syncbeat//Calendar export//EN",
    now: datetime | None = None,
) -> bytes:
    """Return a VCALENDAR (bytes, CRLF, folded) holding ``events`` as busy VEVENTs.

    Each event needs ``export_uid`` (``@domain`` appended when it has no "@"), ``start``,
    ``end``, ``all_day``, ``summary`` and ``dtstamp`` (None: ``now`` if given, else the
    Unix epoch, so output never depends on the clock). Events are written sorted by start
    then uid. Raises nothing for odd spans: an all-day end not after its start becomes one day;
    a timed event whose end is not after its start is left out: it holds no time, and some
    channels read a zero-length event as the whole day taken (or refuse the feed).
    Control characters in ``name`` and summaries are replaced by spaces (``clean_text``).
    """
    calendar = icalendar.Calendar()
    calendar.add("PRODID", prodid)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-WR-CALNAME", clean_text(name))
    fallback_stamp = _utc(now) if now is not None else EPOCH
    for item in sorted(events, key=_sort_key):
        if item.all_day:
            start, end = _day(item.start), _day(item.end)
            if end <= start:
                end = start + timedelta(days=1)
        else:
            start, end = _utc(item.start), _utc(item.end)
            if end <= start:
                continue
        event = icalendar.Event()
        event.add("UID", _uid(item.export_uid, domain))
        event.add("DTSTAMP", _utc(item.dtstamp) if item.dtstamp else fallback_stamp)
        event.add("DTSTART", start)
        event.add("DTEND", end)
        event.add("SUMMARY", clean_text(item.summary) or "Unavailable")
        event.add("TRANSP", "OPAQUE")
        event.add("STATUS", "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
