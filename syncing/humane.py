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
