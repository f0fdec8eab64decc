"""Time zone ids as feeds write them, mapped to IANA zones (issue 9, point 8).

    zone("Europe/Paris")                                   # a tzinfo; UTC when unknown
    iana_name("(UTC-05:00) Eastern Time (US & Canada)")    # "America/New_York"
    tzids = feed_tzids(text)   # what to rewrite while decoding, and the TZIDs left unknown

Sources, in order: an IANA name (case-insensitive, a "/vendor/" prefix dropped); a Windows
zone id ("W. Europe Standard Time") through icalendar's WINDOWS_TO_OLSON, generated from
CLDR's windowsZones; an Outlook/Exchange display name ("(UTC+01:00) Brussels, Copenhagen,
Madrid, Paris") through node-ical's table, vendored in ``data/`` (see data/SOURCE.md).
A TZID none of them knows and the feed defines no VTIMEZONE for is *unknown*: the reader
drops it (the time is read as floating, in the feed's or listing's zone) and the feed
reports it; it is never guessed.
"""

from __future__ import annotations

import hashlib
import json
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from functools import cache
from pathlib import Path

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

_DATA = Path(__file__).parent / "data" / "windows_display_names.json"
# A TZID parameter of a date-time property (quoted or not).
_TZID_PARAM = re.compile(
    r'^(?:DTSTART|DTEND|RDATE|EXDATE|RECURRENCE-ID|DUE)[^:\r\n]*?;TZID=("[^"\r\n]*"|[^;:\r\n]*)',
    re.IGNORECASE | re.MULTILINE,
)
_VTIMEZONE_EDGE = re.compile(r"^(BEGIN|END):VTIMEZONE[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_TZID_PROPERTY = re.compile(r"^TZID(?:;[^:\r\n]*)?:([^\r\n]*)", re.IGNORECASE | re.MULTILINE)


@cache
def _iana_names() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


@cache
def _display_names() -> dict[str, str]:
    names = json.loads(_DATA.read_text(encoding="utf-8"))["names"]
    return {_display_key(name): iana for name, iana in names.items()}


def _display_key(name: str) -> str:
    key = " ".join(name.split()).casefold()
    return "(utc" + key[4:] if key.startswith("(gmt") else key


def iana_name(tzid: str | None) -> str | None:
    """The IANA zone a TZID means, or None when no maintained table knows it."""
    name = (tzid or "").strip().strip('"').strip()
    if not name:
        return None
    iana = _iana_names()
    for candidate in (name, name.strip("/"), WINDOWS_TO_OLSON.get(name)):
        if candidate and candidate.lower() in iana:
            return iana[candidate.lower()]
    if name.startswith("/"):  # a "globally unique" TZID: /vendor/.../Europe/Berlin
        parts = name.strip("/").split("/")
        for start in range(1, len(parts)):
            found = iana.get("/".join(parts[start:]).lower())
            if found:
                return found
    return _display_names().get(_display_key(name))


def zone(name: str | None, fallback: tzinfo = UTC) -> tzinfo:
    """The tzinfo for a zone name (IANA, Windows id or display name); ``fallback`` when
    unknown."""
    iana = iana_name(name)
    return zoneinfo.ZoneInfo(iana) if iana else fallback


@dataclass
class FeedTzids:
    """How the reader rewrites a feed's TZIDs: ``rewrite`` maps a TZID to the id to read
    instead (an IANA name, or a feed-specific id for a VTIMEZONE of its own), or to None
    (unknown: read floating); ``unknown`` lists the unknown TZIDs, sorted."""

    rewrite: dict[str, str | None] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


def _vtimezones(text: str) -> list[str]:
    """The text of each VTIMEZONE (one pass: a hostile feed of unclosed BEGINs stays linear)."""
    blocks, start = [], -1
    for match in _VTIMEZONE_EDGE.finditer(text):
        if match[1].upper() == "BEGIN":
            start = match.start()
        elif start >= 0:
            blocks.append(text[start : match.end()])
            start = -1
    return blocks


def feed_tzids(text: str) -> FeedTzids:
    """Scan an unfolded feed for the TZIDs its date-times use and decide each one."""
    defined: dict[str, str] = {}
    for block in _vtimezones(text):
        found = _TZID_PROPERTY.search(block)
        if found:
            tzid = found[1].strip()
            digest = hashlib.blake2b(block.encode("utf-8", "replace"), digest_size=6).hexdigest()
            defined.setdefault(tzid, f"{tzid} ~{digest}")
    result = FeedTzids()
    used = {match[1].strip('"') for match in _TZID_PARAM.finditer(text)}
    for tzid in sorted(used | set(defined)):
        iana = iana_name(tzid)
        if iana:
            if iana != tzid:
                result.rewrite[tzid] = iana
        elif tzid in defined:
            # icalendar caches a VTIMEZONE by its TZID for the whole process: a per-feed id
            # keeps another feed's "Customized Time Zone" from being read with this one.
            result.rewrite[tzid] = defined[tzid]
        else:
            result.rewrite[tzid] = None
            result.unknown.append(tzid)
    return result
