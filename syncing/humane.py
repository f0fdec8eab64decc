"""Times and counts in the words an owner reads: "just now", "3 minutes ago", "in 5 minutes",
"for 2 hours", "1 failure". Never "0 minutes", never "failure(s)".

Used by the owner pages ({% load humane %}) and by the status lines in words.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

# Below this many seconds a time is "now": a minute rounded down to 0 reads as a bug.
NOW_SECONDS = 60


def plural(count: int, one: str, many: str | None = None) -> str:
    """ "1 failure", "2 failures", "0 events" (``many`` for irregular words)."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def span(seconds: float) -> str:
    """A length of time in its largest whole unit: "1 minute", "3 hours", "2 days"
    ("under a minute" below a minute)."""
    seconds = abs(int(seconds))
    if seconds < NOW_SECONDS:
        return "under a minute"
    if seconds < 3600:
        return plural(seconds // 60, "minute")
    if seconds < 2 * 86400:
        return plural(seconds // 3600, "hour")
    return plural(seconds // 86400, "day")


def as_datetime(value: datetime | str | None) -> datetime | None:
    """A datetime, or an ISO 8601 string as stored in JSON ("2026-12-01T10:00:00Z")."""
    if isinstance(value, str):
        value = parse_datetime(value.replace("Z", "+00:00")) if value else None
    return value


def ago(value: datetime | str | None, now: datetime | None = None) -> str:
    """ "just now", "3 minutes ago", "in 5 minutes" (a time that is still ahead), or ""."""
    value = as_datetime(value)
    if value is None:
        return ""
    delta = ((now or timezone.now()) - value).total_seconds()
    if abs(delta) < NOW_SECONDS:
        return "just now"
    return f"{span(delta)} ago" if delta > 0 else f"in {span(delta)}"


def until(value: datetime | str | None, now: datetime | None = None) -> str:
    """ "in 5 minutes", "any moment now" (due, or less than a minute ahead), or ""."""
    value = as_datetime(value)
    if value is None:
        return ""
    delta = (value - (now or timezone.now())).total_seconds()
    return f"in {span(delta)}" if delta >= NOW_SECONDS else "any moment now"


def lasting(value: datetime | str | None, now: datetime | None = None) -> str:
    """How long since ``value``, as a duration: "for 2 hours", "for under a minute"."""
    value = as_datetime(value)
    if value is None:
        return ""
    return f"for {span(((now or timezone.now()) - value).total_seconds())}"


def change_rate_words(per_hour: float | None) -> str:
    """An adaptive item's learnt change rate: "about 3 changes a day", "about 1 change a
    week", "no change seen lately" ("" while not learnt yet)."""
    if per_hour is None:
        return ""
    if per_hour <= 0:
        return "no change seen lately"
    for unit, hours in (("an hour", 1), ("a day", 24), ("a week", 168)):
        count = per_hour * hours
        if count >= 1 or unit == "a week":
            if count < 0.5:
                return "less than one change a week"
            return f"about {plural(round(count), 'change')} {unit}"
    return ""  # unreachable


def polling_words(per_hour: float | None, interval_seconds: float | None) -> str:
    """ "Checked every 4 hours: about 2 changes a day" for an item polled adaptively
    ("" for one on its tier's fixed interval)."""
    if not interval_seconds:
        return ""
    rate = change_rate_words(per_hour)
    every = f"Checked every {span(interval_seconds)}"
    return f"{every}: {rate}" if rate else f"{every} (learning how often it changes)"
