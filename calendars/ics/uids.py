"""Which uid each imported event gets (issue 9, point 5).

    fit_uid(uid)                    # at most UID_MAX characters, distinct for distinct uids
    choose_copies(uid, copies)      # the events to keep among VEVENTs sharing one UID

Copies of one UID: the highest (SEQUENCE, DTSTAMP) wins. Copies tied on both are kept when
their dates differ (Airbnb repeats a UID for two stays): the first in the file keeps the
UID, each other gets ``<uid>#dup-<digest of its dates>``, the same on every import. Tied
copies with the same dates are one event: the last in the file wins.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime

from calendars.ics.model import ParsedEvent

UID_MAX = 512  # calendars.models.Event.uid
_UID_KEEP = 480


def fit_uid(uid: str) -> str:
    """``uid`` when it fits the column (UID_MAX); else its first 480 characters, "#" and a
    digest of the whole: two long UIDs sharing a prefix never merge, and one UID gives the
    same form on every import."""
    if len(uid) <= UID_MAX:
        return uid
    digest = _digest(uid, 12)
    return f"{uid[:_UID_KEEP]}#{digest}"


def _digest(text: str, size: int) -> str:
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=size).hexdigest()


Rank = tuple[int, datetime]  # (SEQUENCE, DTSTAMP)


def choose_copies(uid: str, copies: list[tuple[Rank, ParsedEvent]]) -> list[ParsedEvent]:
    """The events to import for one UID's copies (in file order; see the module)."""
    top = max(rank for rank, _ in copies)
    by_dates: dict[tuple, ParsedEvent] = {}
    for rank, event in copies:
        if rank == top:
            by_dates[(event.start, event.end, event.all_day)] = event  # keeps first position
    chosen = []
    for index, (dates, event) in enumerate(by_dates.items()):
        if index == 0:
            new_uid = uid
        else:
            new_uid = f"{uid}#dup-{_digest('|'.join(str(value) for value in dates), 6)}"
        new_uid = fit_uid(new_uid)
        chosen.append(event if event.uid == new_uid else dataclasses.replace(event, uid=new_uid))
    return chosen
