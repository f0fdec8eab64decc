"""Synthetic iCal feeds in the styles of Airbnb, VRBO, Booking.com and Google.

    body = generate_feed(42, style="airbnb", events=100, version=3, today=date(2025, 7, 1))

Deterministic: the same arguments give the same bytes. ``version`` n > 0 changes a subset of
the events (about one in ten: a shorter stay, or a reservation turned into a block and back)
and stamps them with a later DTSTAMP, so version n always differs from version n - 1.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

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


def _stays(feed_id: int, count: int, version: int, today: date) -> list[_Stay]:
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
    if version > 0 and stays:
        changer = random.Random(f"feedfarm:{feed_id}:v{version}")
        for stay in changer.sample(stays, max(1, len(stays) // 10)):
            if (stay.end - stay.start).days > 1 and changer.random() < 0.6:
                stay.end -= timedelta(days=1)
            else:
                stay.reserved = not stay.reserved
            stay.changed_in = version
    return stays


def _stamp(today: date, stay: _Stay) -> str:
    base = datetime.combine(today, datetime.min.time(), tzinfo=UTC) - timedelta(hours=6)
    return (base + timedelta(minutes=stay.changed_in)).strftime("%Y%m%dT%H%M%SZ")


def _d(value: date) -> str:
    return value.strftime("%Y%m%d")


def _airbnb(feed_id: int, stays: list[_Stay], today: date) -> list[str]:
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
    return [*lines, "END:VCALENDAR"]


def _vrbo(feed_id: int, stays: list[_Stay], today: date) -> list[str]:
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//HomeAway.com, Inc.//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
    ]
    for stay in stays:
        h = _hex(feed_id, stay.index)
        if stay.reserved:
            rng = random.Random(f"guest:{feed_id}:{stay.index}")
            guest = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_INITIALS)}"
            summary = f"Reserved - {guest}"
        else:
            summary = "Blocked"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}",
            f"DTSTAMP:{_stamp(today, stay)}",
            f"DTSTART;VALUE=DATE:{_d(stay.start)}",
            f"DTEND;VALUE=DATE:{_d(stay.end)}",
            f"SUMMARY:{summary}",
            "END:VEVENT",
        ]
    return [*lines, "END:VCALENDAR"]


def _booking(feed_id: int, stays: list[_Stay], today: date) -> list[str]:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//admin.booking.com//h2ical//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for stay in stays:
        dash = "\u2013" if stay.index % 3 == 2 else "-"  # Booking.com sends both dashes
        lines += [
            "BEGIN:VEVENT",
            f"DTSTART;VALUE=DATE:{_d(stay.start)}",
            f"DTEND;VALUE=DATE:{_d(stay.end)}",
            f"UID:{_hex(feed_id, stay.index)}@booking.com",
            f"SUMMARY:CLOSED {dash} Not available",
            f"DTSTAMP:{_stamp(today, stay)}",
            "END:VEVENT",
        ]
    return [*lines, "END:VCALENDAR"]


def _google(feed_id: int, stays: list[_Stay], today: date) -> list[str]:
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:Rental {feed_id}",
        "X-WR-TIMEZONE:Europe/Paris",
        *_PARIS_VTIMEZONE,
    ]
    # The weekly cleaning block: the first Saturday on or after 30 days ago, 11:00-14:00.
    first = today - timedelta(days=30)
    first += timedelta(days=(5 - first.weekday()) % 7)
    created = datetime.combine(today, datetime.min.time(), tzinfo=UTC) - timedelta(days=60)
    created_s = created.strftime("%Y%m%dT%H%M%SZ")
    lines += [
        "BEGIN:VEVENT",
        f"DTSTART;TZID=Europe/Paris:{_d(first)}T110000",
        f"DTEND;TZID=Europe/Paris:{_d(first)}T140000",
        "RRULE:FREQ=WEEKLY;BYDAY=SA",
        f"DTSTAMP:{created_s}",
        f"UID:{_hex('clean', feed_id, length=26)}@google.com",
        f"CREATED:{created_s}",
        "DESCRIPTION:Turnover cleaning",
        f"LAST-MODIFIED:{created_s}",
        "LOCATION:",
        "SEQUENCE:0",
        "STATUS:CONFIRMED",
        "SUMMARY:Cleaning",
        "TRANSP:OPAQUE",
        "END:VEVENT",
    ]
    for stay in stays[:-1] if stays else []:
        family = random.Random(f"family:{feed_id}:{stay.index}").choice(_GUEST_FAMILIES)
        summary = f"{family} family stay" if stay.reserved else "Owner use"
        stamp = _stamp(today, stay)
        lines += [
            "BEGIN:VEVENT",
            f"DTSTART;TZID=Europe/Paris:{_d(stay.start)}T160000",
            f"DTEND;TZID=Europe/Paris:{_d(stay.end)}T110000",
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
    return [*lines, "END:VCALENDAR"]


_WRITERS = {"airbnb": _airbnb, "vrbo": _vrbo, "booking": _booking, "google": _google}


def generate_feed(
    feed_id: int,
    *,
    style: str | None = None,
    events: int = 20,
    version: int = 0,
    today: date | None = None,
) -> bytes:
    """The feed body (CRLF, folded, UTF-8) of ``feed_id`` at ``version``, ``events`` VEVENTs.

    ``style`` is one of STYLES (default: by ``feed_id % 4``). Google feeds hold one weekly
    RRULE cleaning block among their ``events``. Raises ValueError for an unknown style.
    """
    style = style or default_style(feed_id)
    if style not in _WRITERS:
        raise ValueError(f"unknown style {style!r}; one of {', '.join(STYLES)}")
    today = today or datetime.now(UTC).date()
    stays = _stays(feed_id, max(0, events), version, today)
    lines = _WRITERS[style](feed_id, stays, today)
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
