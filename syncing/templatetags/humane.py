"""{% load humane %}: times and counts in words (see syncing.humane)."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format

from syncing import humane

register = template.Library()


@register.filter
def ago(value) -> str:
    """{{ feed.last_success_at|ago }}: "just now", "3 minutes ago", "in 5 minutes"."""
    return humane.ago(value)


@register.filter
def until(value) -> str:
    """{{ feed.next_sync_at|until }}: "in 5 minutes", "any moment now"."""
    return humane.until(value)


@register.filter
def lasting(value) -> str:
    """{{ since|lasting }}: "for 2 hours"."""
    return humane.lasting(value)


@register.filter
def count(value, word: str) -> str:
    """{{ n|count:"failure" }} is "1 failure" or "2 failures"; {{ n|count:"entry,entries" }}."""
    one, _, many = str(word).partition(",")
    return humane.plural(int(value or 0), one, many or None)


@register.filter
def when(value) -> str:
    """One date format everywhere: "Tue 1 Dec 2026, 14:05" in the current time zone
    ({% timezone %} sets it), "Tue 1 Dec 2026" for a date."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return date_format(value, "D j M Y")
    value = humane.as_datetime(value)
    if value is None:
        return ""
    return date_format(timezone.localtime(value), "D j M Y, H:i")


@register.inclusion_tag("_when.html")
def stamp(value, style: str = "ago"):
    """<time datetime=... title="Tue 1 Dec 2026, 14:05">3 minutes ago</time>."""
    value = humane.as_datetime(value)
    text = {"ago": humane.ago, "until": humane.until}[style](value) if value else ""
    return {"value": value, "text": text, "full": when(value)}
