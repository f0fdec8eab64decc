"""Writing one feed's parsed events: upsert keyed on (feed, uid), cancel the missing ones.

Cheap for the common case: the feed's current rows are read in one query as (uid,
fingerprint) pairs (no timestamps to decode) and compared in Python; only new or changed
rows are written, in one bulk upsert; the rest get their ``last_seen`` bumped in one UPDATE.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from calendars.models import Event, EventStatus, Feed

SUMMARY_MAX = 500
DESCRIPTION_MAX = 2000
UID_MAX = 512
# What makes an event's content; first_seen/last_seen/changed_at are bookkeeping.
CONTENT_FIELDS = (
    "start",
    "end",
    "all_day",
    "summary",
    "description",
    "status",
    "blocking",
    "kind",
    "sequence",
)
UPSERT_UPDATE_FIELDS = [*CONTENT_FIELDS, "fingerprint", "changed_at", "last_seen", "cancelled_at"]


@dataclass
class UpsertCounts:
    events: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    cancelled: int = 0
    # Events whose blocking span may have changed: new, updated, cancelled.
    changed_event_ids: list[int] = field(default_factory=list)
    written_uids: list[str] = field(default_factory=list)
    ids_complete: bool = True

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.cancelled


def as_instant(value: date | datetime) -> datetime:
    """A UTC instant: dates become midnight UTC (how all-day events are stored)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def event_content(parsed) -> tuple:
    """The stored content fields of a parsed event, in CONTENT_FIELDS order."""
    status = parsed.status
    return (
        as_instant(parsed.start),
        as_instant(parsed.end),
        bool(parsed.all_day),
        (parsed.summary or "")[:SUMMARY_MAX],
        (parsed.description or "")[:DESCRIPTION_MAX],
        status,
        bool(parsed.blocking) and status != EventStatus.CANCELLED,
        parsed.kind,
        int(parsed.sequence or 0),
    )


def fingerprint(content: tuple) -> str:
    return hashlib.blake2b(repr(content).encode(), digest_size=16).hexdigest()


def upsert_feed_events(
    feed: Feed, parsed_events: Iterable, *, now: datetime, cancel_missing: bool = True
) -> UpsertCounts:
    """Make the feed's Event rows match ``parsed_events``; call inside a transaction.

    New UIDs are created, changed ones updated (a cancelled one that reappears is
    un-cancelled), and, when ``cancel_missing``, rows whose UID is gone from the feed are
    marked cancelled (kept, never deleted). Returns what changed.
    """
    counts = UpsertCounts()
    existing: dict[str, tuple] = {
        uid: (pk, digest, status, cancelled_at)
        for pk, uid, digest, status, cancelled_at in Event.objects.filter(feed=feed).values_list(
            "pk", "uid", "fingerprint", "status", "cancelled_at"
        )
    }
    to_write: list[Event] = []
    seen: set[str] = set()
    for parsed in parsed_events:
        uid = parsed.uid[:UID_MAX]
        if uid in seen:  # the parser already de-duplicates; stay safe if it did not
            continue
        seen.add(uid)
        counts.events += 1
        content = event_content(parsed)
        digest = fingerprint(content)
        row = existing.get(uid)
        if row is not None and row[1] == digest:
            counts.unchanged += 1
            continue
        cancelled_at = None
        if content[5] == EventStatus.CANCELLED:
            cancelled_at = row[3] if row is not None and row[3] else now
        to_write.append(
            Event(
                feed=feed,
                uid=uid,
                fingerprint=digest,
                first_seen=now,
                last_seen=now,
                changed_at=now,
                cancelled_at=cancelled_at,
                **dict(zip(CONTENT_FIELDS, content, strict=True)),
            )
        )
        counts.written_uids.append(uid)
        if row is None:
            counts.created += 1
        else:
            counts.updated += 1
            counts.changed_event_ids.append(row[0])
    if to_write:
        written = Event.objects.bulk_create(
            to_write,
            update_conflicts=True,
            unique_fields=["feed", "uid"],
            update_fields=UPSERT_UPDATE_FIELDS,
        )
        new_pks = [e.pk for e in written if e.uid not in existing]
        if None in new_pks:  # a backend that cannot return upserted keys
            counts.ids_complete = False
        counts.changed_event_ids.extend(pk for pk in new_pks if pk is not None)
    if cancel_missing:
        gone = [
            row[0]
            for uid, row in existing.items()
            if uid not in seen and row[2] != EventStatus.CANCELLED
        ]
        if gone:
            # The fingerprint goes too, so that the event coming back is written again.
            counts.cancelled = Event.objects.filter(pk__in=gone).update(
                status=EventStatus.CANCELLED,
                blocking=False,
                cancelled_at=now,
                changed_at=now,
                fingerprint="",
            )
            counts.changed_event_ids.extend(gone)
    if counts.unchanged:
        # Rows just written already carry ``now``; this touches the unchanged ones only.
        Event.objects.filter(feed=feed, last_seen__lt=now).exclude(
            status=EventStatus.CANCELLED
        ).update(last_seen=now)
    return counts
