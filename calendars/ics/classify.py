"""Tell a channel's reservation from a block, by the words the channels actually use.

Airbnb writes ``Reserved`` (with a reservation URL in DESCRIPTION) and ``Airbnb (Not
available)``; VRBO ``Reserved - Jane D`` and ``Blocked``; Booking.com ``CLOSED - Not
available`` (hyphen or en dash) for both bookings and closed dates, so those are blocks.
"""

from __future__ import annotations

import re

RESERVATION = "reservation"
BLOCK = "block"

_DASHES = "-\u2013\u2014"  # hyphen, en dash, em dash

_BLOCK_SUMMARY = re.compile(
    rf"^\s*(airbnb\s*\(\s*not available\s*\)|not available|blocked|unavailable"
    rf"|closed\s*[{_DASHES}]?\s*not available|closed)\s*$",
    re.IGNORECASE,
)
_RESERVED_SUMMARY = re.compile(rf"^\s*reserved(\s*[{_DASHES}:]\s*.*)?\s*$", re.IGNORECASE)
_RESERVATION_URL = re.compile(
    r"(airbnb\.[a-z.]+/(hosting/)?reservations?/"
    r"|airbnb\.[a-z.]+/\S*reservation"
    r"|(vrbo|homeaway|abritel|fewo-direkt|stayz|bookabach)\.[a-z.]+/\S*(reserv|booking|trip)"
    r"|booking\.com/\S*(reservation|booking)"
    r"|reservation url\s*:)",
    re.IGNORECASE,
)


def classify(summary: str, description: str) -> str:
    """Return "reservation" or "block" for an event's SUMMARY and DESCRIPTION."""
    if _BLOCK_SUMMARY.match(summary or ""):
        return BLOCK
    if _RESERVED_SUMMARY.match(summary or ""):
        return RESERVATION
    if description and _RESERVATION_URL.search(description):
        return RESERVATION
    return BLOCK
