"""Section functions: ``fn(ctx) -> str | None``. None (or an empty string) leaves the
section out; an exception leaves it out too (``compose`` logs it), never the briefing."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.apps import apps
from django.utils.module_loading import import_string

from alarms.services.script.context import ScriptContext

# The market app may expose this selector: fn(owner, since: datetime) -> list of
# (product name, change in percent as Decimal), biggest moves first.
MARKET_MOVES_SELECTOR = "market.selectors.moved_products_for_briefing"
MAX_LISTED = 5


def first_name(owner) -> str:
    name = (getattr(owner, "first_name", "") or "").strip()
    if name:
        return name
    local_part = (getattr(owner, "email", "") or getattr(owner, "username", "")).split("@")[0]
    return local_part.split(".")[0].split("_")[0].capitalize()


def greeting(ctx: ScriptContext) -> str:
    hour = ctx.local.hour
    if hour < 4:
        word = "Hello"
    elif hour < 12:
        word = "Good morning"
    elif hour < 18:
        word = "Good afternoon"
    else:
        word = "Good evening"
    name = first_name(ctx.owner)
    return f"{word}, {name}." if name else f"{word}."


def date_line(ctx: ScriptContext) -> str:
    local = ctx.local
    return f"It is {local:%A}, {local.day} {local:%B} {local.year}, {local:%H:%M}."


def _spoken_list(names: list[str]) -> str:
    names = names[:MAX_LISTED]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _local_date(moment: datetime, all_day: bool, zone: ZoneInfo):
    # All-day events are stored as midnight UTC of their dates (calendars.models.Event).
    return moment.date() if all_day else moment.astimezone(zone).date()


def calendar(ctx: ScriptContext) -> str | None:
    """Today's check-ins and check-outs across the owner's listings (calendars app)."""
    event_model = apps.get_model("calendars", "Event")
    listing_model = apps.get_model("calendars", "Listing")
    if not listing_model.objects.filter(owner=ctx.owner).exists():
        return None
    day = ctx.local.date()
    window_start = datetime.combine(day - timedelta(days=1), time(), UTC)
    window_end = datetime.combine(day + timedelta(days=2), time(), UTC)
    events = (
        event_model.objects.filter(feed__listing__owner=ctx.owner, kind="reservation")
        .exclude(status="cancelled")
        .filter(start__lt=window_end, end__gt=window_start)
        .values_list("feed__listing__name", "feed__listing__timezone", "start", "end", "all_day")
    )
    arriving: list[str] = []
    leaving: list[str] = []
    for listing, zone_name, start, end, all_day in events:
        zone = ZoneInfo(zone_name or ctx.alarm.timezone)
        if _local_date(start, all_day, zone) == day and listing not in arriving:
            arriving.append(listing)
        if _local_date(end, all_day, zone) == day and listing not in leaving:
            leaving.append(listing)
    if not arriving and not leaving:
        return "No check-ins or check-outs today."
    parts = []
    if arriving:
        parts.append(f"Check-ins today: {_spoken_list(arriving)}.")
    if leaving:
        parts.append(f"Check-outs today: {_spoken_list(leaving)}.")
    return " ".join(parts)


def market(ctx: ScriptContext) -> str | None:
    """Watched products whose price moved since yesterday (market app, when it offers it)."""
    try:
        moved = import_string(MARKET_MOVES_SELECTOR)
    except ImportError:
        return None
    rows = list(moved(ctx.owner, ctx.ring_at - timedelta(days=1)))[:MAX_LISTED]
    if not rows:
        return None
    spoken = []
    for name, change in rows:
        change = Decimal(change).quantize(Decimal("0.1"))
        direction = "up" if change >= 0 else "down"
        spoken.append(f"{name} {direction} {abs(change)} percent")
    return "Your watched products moved: " + "; ".join(spoken) + "."


def note(ctx: ScriptContext) -> str | None:
    text = ctx.alarm.note
    return f"Your note: {text}" if text else None


# Order of the script; names match Alarm.options["sections"] switches.
SECTIONS = (
    ("greeting", greeting),
    ("date", date_line),
    ("calendar", calendar),
    ("market", market),
    ("note", note),
)
