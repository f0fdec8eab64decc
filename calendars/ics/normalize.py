"""Turn one VEVENT (an icalendar component) into a ParsedEvent, or say why it cannot be.

Rules (issue 3, "Import: the contract"): all-day events keep dates with an exclusive end
(no DTEND: DURATION, else one day); timed events become UTC instants (TZID honoured, Windows
names included, floating times read in the feed's or listing's zone; no DTEND: DURATION, else
zero length); STATUS maps to confirmed/pending/cancelled; TRANSP:TRANSPARENT does not block.

DURATION (issue 9, RFC 5545 3.3.6): weeks and days are nominal, added to the wall-clock time
in the event's zone (P1D across a DST change is 23 or 25 hours); hours, minutes and seconds
are exact. Recurring occurrences get the same treatment (their end is recomputed from the
series' DURATION text, which the reader keeps in RAW_DURATION).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta, tzinfo

from calendars.ics.classify import classify
from calendars.ics.model import ParsedEvent
from calendars.ics.reader import RAW_DURATION
from calendars.ics.zones import zone

__all__ = ["SkipEvent", "add_duration", "event_from_component", "occurrence_id", "zone"]

MAX_SUMMARY = 255
MAX_DESCRIPTION = 2000
_DURATION = re.compile(
    r"\s*([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?\s*\Z", re.I
)

# What a broken VEVENT can raise while we read it: icalendar and recurring-ical-events
# errors are ValueErrors; the rest come from odd values (dates out of range, wrong types).
EVENT_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError)

_STATUS = {"CANCELLED": "cancelled", "TENTATIVE": "pending"}


class SkipEvent(Exception):  # noqa: N818 - a control-flow signal, not an error report
    """This VEVENT cannot be imported; ``reason`` says why in one word."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def to_utc(value: datetime, floating: tzinfo) -> datetime:
    """An aware UTC datetime; a floating (naive) time is read in ``floating``."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=floating)
    return value.astimezone(UTC).replace(microsecond=0)


def occurrence_id(original_start: date | datetime, floating: tzinfo) -> str:
    """YYYYMMDD for a date, YYYYMMDDTHHMMSSZ (UTC) for a time: the occurrence's identity."""
    if isinstance(original_start, datetime):
        return to_utc(original_start, floating).strftime("%Y%m%dT%H%M%SZ")
    return original_start.strftime("%Y%m%d")


def _value(component, name: str):
    """The Python value of a date-ish property, or None; raises on a broken value."""
    prop = component.get(name)
    if prop is None:
        return None
    return prop.dt


def _text(component, name: str, limit: int) -> str:
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):  # the same property repeated: keep the first
        value = value[0]
    return str(value).strip()[:limit]


def _span(component, floating: tzinfo) -> tuple[date | datetime, date | datetime, bool]:
    try:
        start = _value(component, "DTSTART")
    except EVENT_ERRORS:
        raise SkipEvent("bad_dtstart") from None
    if start is None:
        raise SkipEvent("missing_dtstart")
    if not isinstance(start, date):  # a bare TIME or a PERIOD is no start of an event
        raise SkipEvent("bad_dtstart")
    try:
        end = _value(component, "DTEND")
    except EVENT_ERRORS:
        raise SkipEvent("bad_dtend") from None
    duration = None
    if end is None:
        try:
            duration = _value(component, "DURATION")
        except EVENT_ERRORS:
            raise SkipEvent("bad_duration") from None
        if duration is not None and not isinstance(duration, timedelta):
            raise SkipEvent("bad_duration")
    if end is not None and not isinstance(end, date):
        raise SkipEvent("bad_dtend")

    if not isinstance(start, datetime):  # all day
        if end is None:
            days = 1
            if duration is not None:
                days = duration.days + (1 if duration.seconds else 0)
            if days < 0:
                raise SkipEvent("end_before_start")
            end = start + timedelta(days=max(days, 1))
        elif isinstance(end, datetime):  # DTEND given as a time: the day it falls on, rounded up
            end_day = end.date()
            end = end_day + timedelta(days=1) if end.time() != datetime.min.time() else end_day
        if end < start:
            raise SkipEvent("end_before_start")
        if end == start:  # DTEND = DTSTART: some exporters mean "that one day"
            end = start + timedelta(days=1)
        return start, end, True

    start_utc = to_utc(start, floating)
    raw = component.get(RAW_DURATION)
    if raw is not None:  # no DTEND in the source VEVENT: DURATION decides, even for occurrences
        end_utc = add_duration(start, str(raw), floating)
    elif end is None:
        end_utc = start_utc + (duration or timedelta(0))
    elif isinstance(end, datetime):
        # A DTEND with an unknown TZID comes back floating: read it in DTSTART's zone.
        end_zone = start.tzinfo if start.tzinfo is not None else floating
        end_utc = to_utc(end, end_zone)
    else:  # a DATE end on a timed start: midnight of that day in the start's zone
        end_utc = to_utc(datetime.combine(end, datetime.min.time()), start.tzinfo or floating)
    if end_utc < start_utc:
        raise SkipEvent("end_before_start")
    return start_utc, end_utc, False


def add_duration(start: datetime, raw: str, floating: tzinfo) -> datetime:
    """``start`` plus the DURATION text ``raw``, in UTC: weeks and days on the wall clock of
    the start's zone (``floating`` for a floating start), then hours, minutes and seconds
    exactly. Raises SkipEvent("bad_duration") when ``raw`` is no duration."""
    match = _DURATION.match(raw)
    if match is None or not any(match.groups()[1:]):
        raise SkipEvent("bad_duration")
    weeks, days, hours, minutes, seconds = (int(group or 0) for group in match.groups()[1:])
    sign = -1 if match[1] == "-" else 1
    local = start if start.tzinfo is not None else start.replace(tzinfo=floating)
    try:
        wall = local + timedelta(days=sign * (weeks * 7 + days))  # aware + timedelta: wall clock
        exact = timedelta(seconds=sign * (hours * 3600 + minutes * 60 + seconds))
        return (wall.astimezone(UTC) + exact).replace(microsecond=0)
    except OverflowError:
        raise SkipEvent("bad_duration") from None


def _sequence(component) -> int:
    try:
        return max(0, int(str(component.get("SEQUENCE", 0)).strip() or 0))
    except EVENT_ERRORS:
        return 0


def _dtstamp(component) -> datetime | None:
    try:
        value = _value(component, "DTSTAMP")
    except EVENT_ERRORS:
        return None
    if isinstance(value, datetime):
        return to_utc(value, UTC)
    return None


def raw_uid(component) -> str:
    """The VEVENT's UID; a stable stand-in (hash of its dates and summary) when it has none."""
    uid = component.get("UID")
    if isinstance(uid, list):
        uid = uid[0]
    uid = str(uid).strip() if uid is not None else ""
    if uid:
        return uid
    seed = "|".join(
        str(component.get(name, "")) for name in ("DTSTART", "DTEND", "DURATION", "SUMMARY")
    )
    return "nouid-" + hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest()[:24]


def sort_key(component) -> tuple[int, datetime]:
    """(SEQUENCE, DTSTAMP) to choose between two copies of one UID: the larger wins."""
    return _sequence(component), _dtstamp(component) or datetime.min.replace(tzinfo=UTC)


def event_from_component(component, uid: str, floating: tzinfo) -> ParsedEvent:
    """Normalise one VEVENT (or one expanded occurrence). Raises SkipEvent with a reason."""
    start, end, all_day = _span(component, floating)
    summary = _text(component, "SUMMARY", MAX_SUMMARY)
    description = _text(component, "DESCRIPTION", MAX_DESCRIPTION)
    status = _STATUS.get(_text(component, "STATUS", 40).upper(), "confirmed")
    transparent = _text(component, "TRANSP", 40).upper() == "TRANSPARENT"
    return ParsedEvent(
        uid=uid,
        start=start,
        end=end,
        all_day=all_day,
        summary=summary,
        description=description,
        status=status,
        blocking=status != "cancelled" and not transparent,
        kind=classify(summary, description),
        sequence=_sequence(component),
        dtstamp=_dtstamp(component),
    )
