"""Parse a channel's iCalendar feed into normalised events (issue 3, "Import: the contract").

    feed = parse_feed(body, default_tz="Europe/Paris", today=date.today())

Pure: bytes in, ParsedFeed out. Raises InvalidCalendar (reason "invalid_ics") when the body
is not iCalendar at all; a single broken VEVENT is skipped and listed in ``feed.skipped``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo

import icalendar
import recurring_ical_events
import x_wr_timezone

from calendars.ics.model import InvalidCalendar, ParsedEvent, ParsedFeed
from calendars.ics.normalize import (
    EVENT_ERRORS,
    SkipEvent,
    event_from_component,
    occurrence_id,
    raw_uid,
    sort_key,
    zone,
)

__all__ = ["InvalidCalendar", "ParsedEvent", "ParsedFeed", "parse_feed"]

WINDOW_BEFORE = timedelta(days=30)
WINDOW_AFTER = timedelta(days=730)
# Never hand icalendar more VEVENTs than this many times the cap: bounds time and memory
# on a hostile or runaway feed (the caller already caps the bytes).
RAW_FACTOR = 4
_UNSUPPORTED_FREQ = {"SECONDLY", "MINUTELY"}

_BEGIN = re.compile(rb"\A\s*BEGIN:VCALENDAR\s*$", re.IGNORECASE | re.MULTILINE)
_END = re.compile(rb"^END:VCALENDAR[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_VEVENT = re.compile(rb"^BEGIN:VEVENT[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


def parse_feed(
    body: bytes,
    *,
    default_tz: str = "UTC",
    today: date | None = None,
    max_events: int = 5000,
    own_domain: str = "syncbeat",
) -> ParsedFeed:
    """Parse ``body`` (an iCalendar feed) into a ParsedFeed.

    ``default_tz`` reads floating times when the feed has no X-WR-TIMEZONE; recurrences are
    expanded within [today - 30 days, today + 2 years]; at most ``max_events`` events and
    occurrences are returned (``truncated`` set when more were there); events whose UID
    host contains ``own_domain`` (our own export coming back) are left out and listed in
    ``skipped`` with reason "own_export". Raises InvalidCalendar when the body is not
    iCalendar (empty, HTML, garbage, cut before END:VCALENDAR).
    """
    calendars = _load(body, max_raw=max(1, max_events) * RAW_FACTOR)
    today = today or datetime.now(UTC).date()
    first = calendars[0]
    feed = ParsedFeed(events=[], skipped=[], calendar_name=_calendar_name(first))

    floating = zone(default_tz)
    plain: dict[str, tuple[tuple, ParsedEvent]] = {}
    series: dict[str, dict[str, tuple[tuple, object]]] = {}
    order = 0
    for calendar in calendars:
        xwr = calendar.get("X-WR-TIMEZONE")
        if xwr:
            floating = zone(str(xwr), floating)
            calendar = _standardise(calendar, floating)
        for component in calendar.walk("VEVENT"):
            order += 1
            uid = raw_uid(component)
            if _is_echo(uid, own_domain):
                feed.skipped.append((uid, "own_export"))
                continue
            rank = (*sort_key(component), order)
            if _is_recurring(component):
                try:
                    rid = component.get("RECURRENCE-ID")
                    key = rid.to_ical().decode() if rid is not None else ""
                except EVENT_ERRORS:
                    feed.skipped.append((uid, "bad_recurrence_id"))
                    continue
                versions = series.setdefault(uid, {})
                if key not in versions or rank > versions[key][0]:
                    versions[key] = (rank, component)
                continue
            try:
                event = event_from_component(component, uid, floating)
            except SkipEvent as skip:
                feed.skipped.append((uid, skip.reason))
                continue
            except EVENT_ERRORS:
                feed.skipped.append((uid, "bad_event"))
                continue
            if uid in plain:
                if rank > plain[uid][0]:
                    plain[uid] = (rank, event)
            elif len(plain) >= max_events:
                feed.truncated = True
            else:
                plain[uid] = (rank, event)

    feed.events = [event for _, event in plain.values()]
    window = (today - WINDOW_BEFORE, today + WINDOW_AFTER)
    for uid, versions in series.items():
        budget = max_events - len(feed.events)
        components = [component for _, component in versions.values()]
        occurrences, truncated = _expand(uid, components, window, floating, budget, feed.skipped)
        feed.events.extend(occurrences)
        feed.truncated = feed.truncated or truncated
    return feed


def _load(body: bytes, *, max_raw: int) -> list:
    """Check the body is a whole iCalendar stream and parse it; raise InvalidCalendar."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body or not body.strip():
        raise InvalidCalendar("empty body")
    body = body.removeprefix(b"\xef\xbb\xbf")
    if not _BEGIN.match(body[:200].lstrip()):
        raise InvalidCalendar("not iCalendar: no BEGIN:VCALENDAR at the start")
    ends = list(_END.finditer(body))
    if not ends:
        raise InvalidCalendar("truncated: no END:VCALENDAR")
    body = body[: ends[-1].end()]
    body = _cap_vevents(body, max_raw)
    text = body.decode("utf-8", errors="replace")
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except EVENT_ERRORS as exc:
        raise InvalidCalendar(f"not iCalendar: {exc}") from None
    calendars = [c for c in calendars if getattr(c, "name", "") == "VCALENDAR"]
    if not calendars:
        raise InvalidCalendar("not iCalendar: no VCALENDAR")
    return calendars


def _cap_vevents(body: bytes, max_raw: int) -> bytes:
    """Cut the body before its (max_raw + 1)th VEVENT, closing the calendar."""
    for count, match in enumerate(_VEVENT.finditer(body), start=1):
        if count > max_raw:
            return body[: match.start()] + b"END:VCALENDAR\r\n"
    return body


def _calendar_name(calendar) -> str:
    for name in ("X-WR-CALNAME", "NAME"):
        value = calendar.get(name)
        if value:
            return str(value if not isinstance(value, list) else value[0]).strip()[:255]
    return ""


def _standardise(calendar, floating: tzinfo):
    """Apply X-WR-TIMEZONE (Google): floating and UTC times become times in that zone."""
    try:
        return x_wr_timezone.to_standard(calendar, timezone=floating)
    except EVENT_ERRORS:
        return calendar  # floating times are still read in that zone below


def _is_echo(uid: str, own_domain: str) -> bool:
    if not own_domain or "@" not in uid:
        return False
    return own_domain.lower() in uid.rpartition("@")[2].lower()


def _is_recurring(component) -> bool:
    return any(name in component for name in ("RRULE", "RDATE", "RECURRENCE-ID"))


def _unsupported_rule(components) -> bool:
    for component in components:
        rules = component.get("RRULE")
        for rule in rules if isinstance(rules, list) else [rules]:
            if rule is not None and any(
                str(freq).upper() in _UNSUPPORTED_FREQ for freq in rule.get("FREQ", [])
            ):
                return True
    return False


def _sort_instant(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time(), tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _expand(
    uid: str,
    components: list,
    window: tuple[date, date],
    floating: tzinfo,
    budget: int,
    skipped: list[tuple[str, str]],
) -> tuple[list[ParsedEvent], bool]:
    """Occurrences of one recurring UID inside the window, each with uid "<UID>#<id>"."""
    try:
        unsupported = _unsupported_rule(components)
    except EVENT_ERRORS:
        skipped.append((uid, "bad_recurrence"))
        return [], False
    if unsupported:
        skipped.append((uid, "unsupported_rrule"))
        return [], False
    calendar = icalendar.Calendar()
    for component in components:
        calendar.add_component(component)
    events: list[ParsedEvent] = []
    try:
        # between() is bounded by the window (at most ~17,500 hourly occurrences in 2 years);
        # after() on an endless rule can spin in dateutil long past the window.
        occurrences = recurring_ical_events.of(calendar).between(window[0], window[1])
        occurrences.sort(key=lambda occurrence: _sort_instant(occurrence["DTSTART"].dt))
        for occurrence in occurrences:
            rid = occurrence.get("RECURRENCE-ID")
            original = rid.dt if rid is not None else occurrence["DTSTART"].dt
            occurrence_uid = f"{uid}#{occurrence_id(original, floating)}"
            try:
                event = event_from_component(occurrence, occurrence_uid, floating)
            except SkipEvent as skip:
                skipped.append((occurrence_uid, skip.reason))
                continue
            if len(events) >= budget:
                return events, True
            events.append(event)
    except EVENT_ERRORS:
        skipped.append((uid, "bad_recurrence"))
        return [], False
    return events, False
