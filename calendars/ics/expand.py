"""Recurring series: the occurrences of one UID inside the import window.

    occurrences = expand_series(uid, components, window, floating, skipped)

Each occurrence's uid is ``<UID>#<original start>`` (YYYYMMDD for dates, YYYYMMDDTHHMMSSZ in
UTC for times; see normalize.occurrence_id), fitted to the uid column (uids.fit_uid).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo

import icalendar
import recurring_ical_events

from calendars.ics.model import ParsedEvent
from calendars.ics.normalize import EVENT_ERRORS, SkipEvent, event_from_component, occurrence_id
from calendars.ics.uids import fit_uid

_UNSUPPORTED_FREQ = {"SECONDLY", "MINUTELY"}
_RECURRENCE = ("RRULE", "RDATE", "RECURRENCE-ID")
# Asked of recurring-ical-events around the window: the caller keeps what overlaps it.
_MARGIN = timedelta(days=2)


def is_recurring(component) -> bool:
    return any(name in component for name in _RECURRENCE)


def series_key(component) -> str | None:
    """The RECURRENCE-ID as text ("" for the series itself); None when it is unreadable."""
    try:
        rid = component.get("RECURRENCE-ID")
        return rid.to_ical().decode() if rid is not None else ""
    except EVENT_ERRORS:
        return None


def _unsupported_rule(components) -> bool:
    for component in components:
        rules = component.get("RRULE")
        for rule in rules if isinstance(rules, list) else [rules]:
            if rule is not None and any(
                str(freq).upper() in _UNSUPPORTED_FREQ for freq in rule.get("FREQ", [])
            ):
                return True
    return False


def expand_series(
    uid: str,
    components: list,
    window: tuple[datetime, datetime],
    floating: tzinfo,
    skipped: list[tuple[str, str]],
) -> Iterator[ParsedEvent]:
    """Occurrences of one recurring UID around the window (a couple of days' margin: the
    caller keeps what overlaps it). A series that cannot be expanded is skipped whole
    ("bad_recurrence", "unsupported_rrule"); an occurrence that cannot be read is skipped
    with its own uid."""
    try:
        unsupported = _unsupported_rule(components)
    except EVENT_ERRORS:
        unsupported = None
    if unsupported is not False:
        skipped.append((fit_uid(uid), "unsupported_rrule" if unsupported else "bad_recurrence"))
        return
    calendar = icalendar.Calendar()
    for component in components:
        calendar.add_component(component)
    try:
        # between() is bounded by the window (at most ~17,500 hourly occurrences in 2 years);
        # after() on an endless rule can spin in dateutil long past the window.
        occurrences = recurring_ical_events.of(calendar).between(
            window[0] - _MARGIN, window[1] + _MARGIN
        )
        events = list(_occurrences(uid, occurrences, floating, skipped))
    except EVENT_ERRORS:
        skipped.append((fit_uid(uid), "bad_recurrence"))
        return
    yield from events


def _occurrences(uid: str, occurrences, floating: tzinfo, skipped: list) -> Iterator[ParsedEvent]:
    for occurrence in occurrences:
        rid = occurrence.get("RECURRENCE-ID")
        original = rid.dt if rid is not None else occurrence["DTSTART"].dt
        occurrence_uid = fit_uid(f"{uid}#{occurrence_id(original, floating)}")
        try:
            yield event_from_component(occurrence, occurrence_uid, floating)
        except SkipEvent as skip:
            skipped.append((occurrence_uid, skip.reason))
