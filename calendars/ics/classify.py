"""What an event is to the host, read from the words the channels actually use.

- **reservation**: Airbnb writes ``Reserved`` (lately ``1355078859895588226 Reserved``) with
  a reservation URL in DESCRIPTION; VRBO ``Reserved - Jane D``; OwnerRez ``Booked``.
- **block**: Airbnb ``Airbnb (Not available)``; VRBO ``Blocked``; Booking.com ``CLOSED - Not
  available`` (hyphen or en dash) for both its bookings and its closed dates, so those are
  blocks; ``Unavailable``, ``Closed``, ``Blocked off``.
- **owner stay**: ``Owner stay``, ``Owner block``, ``Owner hold``, ``Blocked: Owner``,
  ``Owner's use`` (VRBO, OwnerRez, Lodgify, Hostaway wording): the owner's own nights,
  counted like a block.
- **maintenance**: ``Cleaning``, ``Maintenance``, ``Turnover``, ``Housekeeping``,
  ``Repairs``... (and a few common non-English words): shown, never a double booking.

Anything else is a block: a channel that does not say is keeping the dates from sale.
"""

from __future__ import annotations

import re

RESERVATION = "reservation"
BLOCK = "block"
OWNER_STAY = "owner_stay"
MAINTENANCE = "maintenance"

_DASHES = "-\u2013\u2014"  # hyphen, en dash, em dash

_BLOCK_SUMMARY = re.compile(
    rf"^\s*(airbnb\s*\(\s*not available\s*\)|not available|blocked(\s+off)?|unavailable"
    rf"|closed\s*[{_DASHES}]?\s*not available|closed(\s+period)?)\s*$",
    re.IGNORECASE,
)
# Airbnb's newer feeds put a number before the word ("1355078859895588226 Reserved").
_RESERVED_SUMMARY = re.compile(rf"^\s*(\d+\s+)?reserved(\s*[{_DASHES}:]\s*.*)?\s*$", re.IGNORECASE)
_OWNER_SUMMARY = re.compile(
    r"\b(owner(s|'s|\u2019s)?(\s+(stay|block|hold|use|booking|reservation|time))?"
    r"|eigenbelegung|eigennutzung|propri[ée]taire)\b",
    re.IGNORECASE,
)
_MAINTENANCE_SUMMARY = re.compile(
    r"\b(clean(ing|er|ers)?|housekeeping|maintenance|turn[\s-]?over|repairs?|inspection"
    r"|nettoyage|m[ée]nage|limpieza|reinigung|pulizi[ae]|wartung|entretien)\b",
    re.IGNORECASE,
)
_BOOKED_SUMMARY = re.compile(r"^\s*(booked|booking|reservation|confirmed booking)\b", re.I)
_RESERVATION_URL = re.compile(
    r"(airbnb\.[a-z.]+/(hosting/)?reservations?/"
    r"|airbnb\.[a-z.]+/\S*reservation"
    r"|(vrbo|homeaway|abritel|fewo-direkt|stayz|bookabach)\.[a-z.]+/\S*(reserv|booking|trip)"
    r"|booking\.com/\S*(reservation|booking)"
    r"|reservation url\s*:)",
    re.IGNORECASE,
)


def classify(summary: str, description: str) -> str:
    """The kind ("reservation", "block", "owner_stay" or "maintenance") of an event, from its
    SUMMARY and DESCRIPTION; "block" when the wording says nothing clearer."""
    summary = summary or ""
    if _BLOCK_SUMMARY.match(summary):
        return BLOCK
    if _RESERVED_SUMMARY.match(summary):
        return RESERVATION
    if _OWNER_SUMMARY.search(summary):
        return OWNER_STAY
    if _MAINTENANCE_SUMMARY.search(summary):
        return MAINTENANCE
    if _BOOKED_SUMMARY.match(summary):
        return RESERVATION
    if description and _RESERVATION_URL.search(description):
        return RESERVATION
    return BLOCK
