"""Events that ended long ago leave the hot table for calendars.ArchivedEvent.

Nothing that runs often reads them: the import covers events overlapping the last 30 days
and the next two years (calendars.ics.window), conflict and echo detection and the export
look at events that ended at most 30 days ago. So an event that ended more than
``CALENDAR_ARCHIVE_AFTER_DAYS`` (default 183, at least 31) ago is copied to the archive and
deleted, in batches of ``ARCHIVE_BATCH``, each in its own transaction: the events table and
its indexes stay the size of the bookings that matter, whatever the history.

Idempotent and safe twice at once: each batch locks its events with FOR UPDATE SKIP LOCKED
(two runs take different events), the archive's ``event_id`` is unique (a copy written
twice is written once), and an event is deleted in the transaction that archived it.
Conflicts of an archived event (about nights long past) go with it; an echo that pointed at
it is archived too, as an echo (it holds the same nights). SQLite has no row locks: its one
writer at a time does the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from calendars.models import ArchivedEvent, Conflict, Event, Feed, Listing, Source

logger = logging.getLogger(__name__)

ARCHIVE_BATCH = 2000
_COLUMNS = (
    "pk",
    "feed_id",
    "feed__listing_id",
    "feed__name",
    "feed__source",
    "uid",
    "start",
    "end",
    "all_day",
    "summary",
    "status",
    "kind",
    "kind_override",
    "echo_of_id",
    "first_seen",
    "cancelled_at",
)


@dataclass(frozen=True)
class ArchiveReport:
    archived: int
    batches: int
    cutoff: datetime


def archive_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=settings.CALENDAR_ARCHIVE_AFTER_DAYS)


def archive_ended_events(
    now: datetime | None = None, *, batch: int = ARCHIVE_BATCH, max_batches: int | None = None
) -> ArchiveReport:
    """Move the events that ended before the cutoff to the archive, ``batch`` at a time
    (at most ``max_batches`` batches when given; the next run goes on)."""
    now = now or timezone.now()
    cutoff = archive_cutoff(now)
    archived = batches = 0
    while max_batches is None or batches < max_batches:
        moved = _archive_batch(cutoff, now, batch)
        if not moved:
            break
        archived += moved
        batches += 1
        if moved < batch:
            break
    if archived:
        logger.info("archived %d event(s) that ended before %s", archived, cutoff)
    return ArchiveReport(archived=archived, batches=batches, cutoff=cutoff)


def _archive_batch(cutoff: datetime, now: datetime, batch: int) -> int:
    """One transaction: lock up to ``batch`` ended events (skipping those another run
    holds), copy them, delete them. Returns how many were moved."""
    with transaction.atomic():
        locked = (
            Event.objects.select_for_update(skip_locked=True, of=("self",))
            # start <= end: the (start, end) index narrows the scan to old events.
            .filter(start__lt=cutoff, end__lt=cutoff)
            .order_by()
        )
        if connection.vendor != "postgresql":
            rows = list(locked.values_list(*_COLUMNS)[:batch])
            labels = dict(Source.choices)
            ArchivedEvent.objects.bulk_create(
                [_archived(row, labels, now) for row in rows], ignore_conflicts=True
            )
            # Their conflicts go too; an echo still in the table stops pointing at them.
            Event.objects.filter(pk__in=[row[0] for row in rows]).delete()
            return len(rows)
        pks = list(locked.values_list("pk", flat=True)[:batch])
        if pks:
            Conflict.objects.filter(Q(event_a_id__in=pks) | Q(event_b_id__in=pks)).delete()
            Event.objects.filter(echo_of_id__in=pks).exclude(pk__in=pks).update(echo_of=None)
            _move(pks, now)
        return len(pks)


def _move(pks: list[int], now: datetime) -> None:
    """PostgreSQL: delete the events and write their archive rows in one statement (the
    rows never travel to Python)."""
    values, labels = zip(*Source.choices, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH gone AS (DELETE FROM {Event._meta.db_table} WHERE id = ANY(%s) RETURNING *)
            INSERT INTO {ArchivedEvent._meta.db_table} (event_id, listing_id, feed_id,
                feed_label, uid, start, "end", all_day, summary, status, kind, echo,
                first_seen, cancelled_at, archived_at)
            SELECT g.id, f.listing_id, g.feed_id, COALESCE(NULLIF(f.name, ''), m.label, f.source),
                g.uid, g.start, g."end", g.all_day, g.summary, g.status,
                COALESCE(NULLIF(g.kind_override, ''), g.kind), g.echo_of_id IS NOT NULL,
                g.first_seen, g.cancelled_at, %s
            FROM gone g JOIN {Feed._meta.db_table} f ON f.id = g.feed_id
            LEFT JOIN unnest(%s::text[], %s::text[]) AS m(value, label) ON m.value = f.source
            ON CONFLICT (event_id) DO NOTHING
            """,  # noqa: S608 - table names from model metadata, values are parameters
            [pks, now, list(values), [str(label) for label in labels]],
        )


def _archived(row: tuple, labels: dict, now: datetime) -> ArchivedEvent:
    pk, feed_id, listing_id, feed_name, source, uid, start, end = row[:8]
    all_day, summary, status, kind, kind_override, echo_of_id, first_seen, cancelled_at = row[8:]
    return ArchivedEvent(
        event_id=pk,
        listing_id=listing_id,
        feed_id=feed_id,
        feed_label=feed_name or labels.get(source, source),
        uid=uid,
        start=start,
        end=end,
        all_day=all_day,
        summary=summary,
        status=status,
        kind=kind_override or kind,
        echo=echo_of_id is not None,
        first_seen=first_seen,
        cancelled_at=cancelled_at,
        archived_at=now,
    )


def archive_summary(listing: Listing) -> dict:
    """The listing's archived history in figures: how many events, the first start and
    the last end (None when nothing is archived)."""
    return ArchivedEvent.objects.filter(listing=listing).aggregate(
        count=Count("pk"), first=Min("start"), last=Max("end")
    )
