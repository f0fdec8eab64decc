"""Synthetic iCal feeds in the styles of Airbnb, VRBO, Booking.com and Google.

    body = generate_feed(42, style="airbnb", events=100, version=3, today=date(2025, 7, 1))

Deterministic: the same arguments give the same bytes. ``version`` n > 0 changes a subset of
the events (about one in ten: a shorter stay, or a reservation turned into a block and back)
and stamps them with a later DTSTAMP, so version n always differs from version n - 1.

Like the real thing:
- a Google (owner's) calendar holds a cleaning, 11:00-14:00 in its zone, on every checkout
  day: of its own stays and of the channels' stays it is told about (``turnovers``), plus a
  weekly recurring garden maintenance;
- a channel that imports our export re-publishes its all-day events as its own blocks,
  under its own UIDs (``echoes``: Booking.com "CLOSED - Not available", VRBO "Blocked",
  Airbnb "Airbnb (Not available)"); see calendars.feedfarm.echo.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import icalendar

STYLES = ("airbnb", "vrbo", "booking", "google")

_FIRST_NAMES = ("Jane", "Tom", "Ana", "Luca", "Mei", "Omar", "Sofia", "Ólafur", "Chloé", "Raj")
_LAST_INITIALS = "ABCDEFGHJKLMNPRSTW"
_GUEST_FAMILIES = ("Martin", "Garcia", "Smith", "Rossi", "Novak", "Dubois", "Kowalski")

_PARIS_VTIMEZONE = (
    "BEGIN:VTIMEZONE",
    "TZID:Europe/Paris",
    "X-LIC-LOCATION:Europe/Paris",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "TZNAME:CEST",
    "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "TZNAME:CET",
    "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
)


@dataclass
class _Stay:
    index: int
    start: date
    end: date
    reserved: bool
    changed_in: int = 0  # the version that last touched it (0: never)


def default_style(feed_id: int) -> str:
    """The style a feed gets when none is asked for: by ``feed_id % 4``."""
    return STYLES[feed_id % len(STYLES)]


def _hex(*parts: object, length: int = 32) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:length]


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 3.1), never inside a UTF-8 character."""
    if len(line.encode()) <= 75:
        return line
    pieces, current, size, limit = [], [], 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, 74  # continuation lines start with a space
        current.append(char)
        size += width
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


# Feeds book in "lanes" of weeks: a feed takes only the weeks whose index % LANES is its id
# % LANES, so feeds with neighbouring ids (a listing's channels) rarely collide, as channels
# that import each other block the dates booked elsewhere. Now and then a stay lands in the
# next lane: the double booking Syncbeat exists to catch.
LANES = 4
DOUBLE_BOOKING_RATE = 0.02


def _stays(feed_id: int, count: int, version: int, today: date, doubles: int = 0) -> list[_Stay]:
    """The feed's stays. ``doubles``: that many of its future reservations move onto the
    start of the next feed's (``feed_id + 1``, the next lane) future stays, on top of the
    random DOUBLE_BOOKING_RATE: the demo's deliberate double bookings."""
    rng = random.Random(f"feedfarm:{feed_id}")
    week0 = today - timedelta(days=today.weekday() + 42)
    week = feed_id % LANES
    stays: list[_Stay] = []
    while len(stays) < count:
        week_start = week0 + timedelta(weeks=week)
        week_end = week_start + timedelta(days=7)
        cursor = week_start + timedelta(days=rng.randint(0, 2))
        while len(stays) < count and (week_end - cursor).days >= 1:
            nights = rng.randint(1, min(4, (week_end - cursor).days))
            start = cursor
            if rng.random() < DOUBLE_BOOKING_RATE:
                start += timedelta(weeks=1)  # into the neighbour's lane
            stays.append(
                _Stay(len(stays), start, start + timedelta(days=nights), rng.random() < 0.7)
            )
            cursor += timedelta(days=nights + rng.randint(0, 2))
        week += LANES
    if doubles > 0:
        _double_book(stays, _stays(feed_id + 1, count, 0, today), today, doubles)
    if version > 0 and stays:
        changer = random.Random(f"feedfarm:{feed_id}:v{version}")
        for stay in changer.sample(stays, max(1, len(stays) // 10)):
            if (stay.end - stay.start).days > 1 and changer.random() < 0.6:
                stay.end -= timedelta(days=1)
            else:
                stay.reserved = not stay.reserved
            stay.changed_in = version
    return stays


def _double_book(stays: list[_Stay], neighbour: list[_Stay], today: date, doubles: int) -> None:
    """Move ``doubles`` future reservations of ``stays`` onto the first nights of as many
    future stays of ``neighbour`` (a version never moves a start, so they stay double)."""
    mine = [stay for stay in stays if stay.reserved and stay.start > today]
    theirs = [stay for stay in neighbour if stay.start > today]
    for stay, target in zip(mine[:doubles], theirs, strict=False):
        nights = stay.end - stay.start
        stay.start, stay.end = target.start, target.start + nights


def _stamp(today: date, stay: _Stay) -> str:
    base = datetime.combine(today, datetime.min.time(), tzinfo=UTC) - timedelta(hours=6)
    return (base + timedelta(minutes=stay.changed_in)).strftime("%Y%m%dT%H%M%SZ")


def _d(value: date) -> str:
    return value.strftime("%Y%m%d")


@dataclass(frozen=True)
class EchoBlock:
    """An all-day event of our export, as a channel that imports it keeps it."""

    source_uid: str
    start: date
    end: date


@dataclass(frozen=True)
class _Extras:
    echoes: tuple[EchoBlock, ...] = ()
    turnovers: tuple[date, ...] = ()  # other channels' checkout days (Google: cleanings)
    tz: str = "Europe/Paris"


def _base_stamp(today: date) -> str:
    base = datetime.combine(today, datetime.min.time(), tzinfo=UTC) - timedelta(hours=6)
    return base.strftime("%Y%m%dT%H%M%SZ")


def _airbnb(feed_id: int, stays: list[_Stay], today: date, extras: _Extras) -> list[str]:
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID;X-RICAL-TZSOURCE=TZINFO:-//Airbnb Inc//Hosting Calendar 0.8.8//EN",
        "CALSCALE:GREGORIAN",
        "VERSION:2.0",
    ]
    for stay in stays:
        prefix = "1418fb94e984" if stay.reserved else "7f662ec65913"
        lines += [
            "BEGIN:VEVENT",
            f"DTEND;VALUE=DATE:{_d(stay.end)}",
            f"DTSTART;VALUE=DATE:{_d(stay.start)}",
            f"UID:{prefix}-{_hex(feed_id, stay.index)}@airbnb.com",
        ]
        if stay.reserved:
            code = "HM" + _hex("code", feed_id, stay.index, length=8).upper()
            phone = int(_hex("phone", feed_id, stay.index, length=6), 16) % 10000
            lines.append(
                "DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/"
                f"details/{code}\\nPhone Number (Last 4 Digits): {phone:04d}"
            )
            lines.append("SUMMARY:Reserved")
        else:
            lines.append("SUMMARY:Airbnb (Not available)")
        lines += [f"DTSTAMP:{_stamp(today, stay)}", "END:VEVENT"]
    for echo in extras.echoes:
        lines += [
            "BEGIN:VEVENT",
            f"DTEND;VALUE=DATE:{_d(echo.end)}",
            f"DTSTART;VALUE=DATE:{_d(echo.start)}",
            f"UID:7f662ec65913-{_hex('echo', feed_id, echo.source_uid)}@airbnb.com",
            "SUMMARY:Airbnb (Not available)",
            f"DTSTAMP:{_base_stamp(today)}",
            "END:VEVENT",
        ]
    return [*lines, "END:VCALENDAR"]


def _vrbo_uid(*parts: object) -> str:
    h = _hex(*parts)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _vrbo(feed_id: int, stays: list[_Stay], today: date, extras: _Extras) -> list[str]:
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//HomeAway.com, Inc.//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
    ]
    spans = []
    for stay in stays:
        if stay.reserved:
            rng = random.Random(f"guest:{feed_id}:{stay.index}")
            guest = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_INITIALS)}"
            summary = f"Reserved - {guest}"
        else:
            summary = "Blocked"
        uid = _vrbo_uid(feed_id, stay.index)
        spans.append((uid, _stamp(today, stay), stay.start, stay.end, summary))
    for echo in extras.echoes:  # VRBO calls every imported block "Blocked"
        uid = _vrbo_uid("echo", feed_id, echo.source_uid)
        spans.append((uid, _base_stamp(today), echo.start, echo.end, "Blocked"))
    for uid, stamp, start, end, summary in spans:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{_d(start)}",
            f"DTEND;VALUE=DATE:{_d(end)}",
            f"SUMMARY:{summary}",
            "END:VEVENT",
        ]
    return [*lines, "END:VCALENDAR"]


def _booking(feed_id: int, stays: list[_Stay], today: date, extras: _Extras) -> list[str]:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//admin.booking.com//h2ical//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    spans = [
        # Booking.com sends both dashes.
        (_hex(feed_id, stay.index), stay.start, stay.end, stay.index % 3 == 2, _stamp(today, stay))
        for stay in stays
    ]
    spans += [
        (_hex("echo", feed_id, echo.source_uid), echo.start, echo.end, False, _base_stamp(today))
        for echo in extras.echoes
    ]
    for uid, start, end, en_dash, stamp in spans:
        dash = "\u2013" if en_dash else "-"
        lines += [
            "BEGIN:VEVENT",
            f"DTSTART;VALUE=DATE:{_d(start)}",
            f"DTEND;VALUE=DATE:{_d(end)}",
            f"UID:{uid}@booking.com",
            f"SUMMARY:CLOSED {dash} Not available",
            f"DTSTAMP:{stamp}",
            "END:VEVENT",
        ]
    return [*lines, "END:VCALENDAR"]


def _vtimezone(tz: str) -> list[str]:
    if tz == "Europe/Paris":
        return list(_PARIS_VTIMEZONE)
    return icalendar.Timezone.from_tzid(tz).to_ical().decode().replace("\r\n ", "").splitlines()


def _google_event(
    uid: str,
    day: date,
    hours: tuple[str, str],
    tz: str,
    summary: str,
    *,
    created: str,
    description: str = "",
    rrule: str = "",
) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"DTSTART;TZID={tz}:{_d(day)}T{hours[0]}",
        f"DTEND;TZID={tz}:{_d(day)}T{hours[1]}",
    ]
    if rrule:
        lines.append(f"RRULE:{rrule}")
    return [
        *lines,
        f"DTSTAMP:{created}",
        f"UID:{uid}@google.com",
        f"CREATED:{created}",
        f"DESCRIPTION:{description}",
        f"LAST-MODIFIED:{created}",
        "LOCATION:",
        "SEQUENCE:0",
        "STATUS:CONFIRMED",
        f"SUMMARY:{summary}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
    ]


def _google(feed_id: int, stays: list[_Stay], today: date, extras: _Extras) -> list[str]:
    tz = extras.tz
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:Rental {feed_id}",
        f"X-WR-TIMEZONE:{tz}",
        *_vtimezone(tz),
    ]
    created = datetime.combine(today, datetime.min.time(), tzinfo=UTC) - timedelta(days=60)
    created_s = created.strftime("%Y%m%dT%H%M%SZ")
    # The gardener comes every Monday from 30 days ago, 11:30-13:00 (between check-out and
    # check-in: it holds no night).
    first = today - timedelta(days=30)
    first += timedelta(days=(0 - first.weekday()) % 7)
    lines += _google_event(
        _hex("garden", feed_id, length=26), first, ("113000", "130000"), tz,
        "Garden maintenance", created=created_s, rrule="FREQ=WEEKLY;BYDAY=MO",
    )  # fmt: skip
    published = stays[:-1] if stays else []
    for stay in published:
        family = random.Random(f"family:{feed_id}:{stay.index}").choice(_GUEST_FAMILIES)
        summary = f"{family} family stay" if stay.reserved else "Owner use"
        stamp = _stamp(today, stay)
        lines += [
            "BEGIN:VEVENT",
            f"DTSTART;TZID={tz}:{_d(stay.start)}T160000",
            f"DTEND;TZID={tz}:{_d(stay.end)}T110000",
            f"DTSTAMP:{stamp}",
            f"UID:{_hex(feed_id, stay.index, length=26)}@google.com",
            f"CREATED:{created_s}",
            "DESCRIPTION:",
            f"LAST-MODIFIED:{stamp}",
            "LOCATION:",
            f"SEQUENCE:{stay.changed_in}",
            "STATUS:CONFIRMED",
            f"SUMMARY:{summary}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    # The cleaner's slot on every checkout day, the owner's stays' and the channels'.
    for day in sorted({stay.end for stay in published} | set(extras.turnovers)):
        lines += _google_event(
            _hex("clean", feed_id, day, length=26), day, ("110000", "140000"), tz, "Cleaning",
            created=created_s, description="Turnover cleaning",
        )  # fmt: skip
    return [*lines, "END:VCALENDAR"]


_WRITERS = {"airbnb": _airbnb, "vrbo": _vrbo, "booking": _booking, "google": _google}


def checkout_days(
    feed_id: int, *, events: int, version: int = 0, today: date, doubles: int = 0
) -> list[date]:
    """The checkout days of ``feed_id``'s stays (a sibling channel's, for a Google feed's
    cleanings)."""
    return sorted({stay.end for stay in _stays(feed_id, max(0, events), version, today, doubles)})


def published_stays(
    feed_id: int,
    *,
    style: str | None = None,
    events: int = 20,
    version: int = 0,
    today: date,
    doubles: int = 0,
) -> list[tuple[date, date, str]]:
    """What the feed publishes as (first night, checkout day, kind as a host reads it:
    "reservation", "block" or "owner_stay"), without cleanings or echoes: the ground truth
    double bookings are decided from."""
    style = style or default_style(feed_id)
    stays = _stays(feed_id, max(0, events), version, today, doubles)
    if style == "google":
        return [(s.start, s.end, "block" if s.reserved else "owner_stay") for s in stays[:-1]]
    if style == "booking":
        return [(s.start, s.end, "block") for s in stays]
    return [(s.start, s.end, "reservation" if s.reserved else "block") for s in stays]


def generate_feed(
    feed_id: int,
    *,
    style: str | None = None,
    events: int = 20,
    version: int = 0,
    today: date | None = None,
    doubles: int = 0,
    tz: str = "Europe/Paris",
    turnovers: Iterable[date] = (),
    echoes: Iterable[EchoBlock] = (),
) -> bytes:
    """The feed body (CRLF, folded, UTF-8) of ``feed_id`` at ``version``, ``events`` stays.

    ``style`` is one of STYLES (default: by ``feed_id % 4``). ``doubles``: that many future
    stays land in the next lane (deliberate double bookings). Google feeds are written in
    ``tz`` and add a cleaning on each checkout day (their own and ``turnovers``) and a weekly
    recurring garden maintenance. Other styles re-publish ``echoes`` as their own blocks.
    Raises ValueError for an unknown style.
    """
    style = style or default_style(feed_id)
    if style not in _WRITERS:
        raise ValueError(f"unknown style {style!r}; one of {', '.join(STYLES)}")
    today = today or datetime.now(UTC).date()
    stays = _stays(feed_id, max(0, events), version, today, doubles)
    extras = _Extras(echoes=tuple(echoes), turnovers=tuple(turnovers), tz=tz)
    lines = _WRITERS[style](feed_id, stays, today, extras)
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
