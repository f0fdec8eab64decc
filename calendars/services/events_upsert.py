"""Writing one feed's parsed events: upsert keyed on (feed, uid), cancel the missing ones.

Cheap for the common case: the feed's current rows are read in one query as (uid,
fingerprint) pairs (no timestamps to decode) and compared in Python; only new or changed
rows are written, in one bulk upsert. The rows the import left as they were are not
written at all: ``Event.in_feed`` changes only for the rows that left the body or came back
(a changed import of 100 events used to rewrite the ~94 unchanged ones to bump a timestamp).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import NamedTuple

from django.db.models import Q

from calendars.formatting import format_instant
from calendars.models import Event, EventStatus, Feed
from calendars.services.events_bulk import BATCH_ROWS, bulk_upsert, new_row
from calendars.services.import_guard import (
    KEPT_ENDED,
    KEPT_NOT_COVERED,
    NOT_ENDED_MARGIN,
    CancelScope,
)

SUMMARY_MAX = 500
DESCRIPTION_MAX = 2000
UID_MAX = 512
# Event.sequence is a 32-bit column: a larger SEQUENCE (some feeds write a timestamp in
# milliseconds) failed the whole upsert on PostgreSQL.
SEQUENCE_MAX = 2**31 - 1
# What makes an event's content; first_seen/in_feed/last_seen/changed_at are bookkeeping.
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
UPSERT_UPDATE_FIELDS = [
    *CONTENT_FIELDS,
    "fingerprint",
    "raw_hash",
    "changed_at",
    "in_feed",
    "last_seen",
    "cancelled_at",
]


class BookingEvent(NamedTuple):
    """A webhook event about one row: "booking.added" | "booking.changed" |
    "booking.cancelled", and the row's fields its ``payload`` shows. Kept as this tuple
    until it is sent: the payload dicts and their ISO dates of a new 5,000-event feed held
    ~4 MB to the end of its import, for an owner who most often has no webhook at all."""

    event_type: str
    pk: int
    uid: str
    start: datetime
    end: datetime
    all_day: bool
    summary: str
    status: str
    kind: str

    def payload(self) -> dict:
        return event_payload(*self[1:])


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
    # Of ``unchanged``: events whose VEVENT was not even decoded (its text had not changed).
    not_decoded: int = 0
    # What integrators hear about (webhooks), in the order it happened.
    booking_events: list[BookingEvent] = field(default_factory=list)
    # Rows that took a new UID with the same dates (UID churn) instead of create + cancel.
    renamed: int = 0
    # Missing rows not cancelled, by reason (import_guard.KEPT_*), and their keys.
    kept: dict[str, int] = field(default_factory=dict)
    kept_pks: list[int] = field(default_factory=list)
    cancelled_pks: list[int] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.cancelled


def as_instant(value: date | datetime) -> datetime:
    """A UTC instant: dates become midnight UTC (how all-day events are stored)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def event_content(parsed, *, kind: str = "") -> tuple:
    """The stored content fields of a parsed event, in CONTENT_FIELDS order; ``kind``, when
    set (the feed's event kind), replaces the kind read from the channel's wording."""
    status = parsed.status
    return (
        as_instant(parsed.start),
        as_instant(parsed.end),
        bool(parsed.all_day),
        _no_nul(parsed.summary)[:SUMMARY_MAX],
        _no_nul(parsed.description)[:DESCRIPTION_MAX],
        status,
        bool(parsed.blocking) and status != EventStatus.CANCELLED,
        kind or parsed.kind,
        min(int(parsed.sequence or 0), SEQUENCE_MAX),
    )


def _no_nul(text: str | None) -> str:
    """``text`` without NUL characters: PostgreSQL's text columns refuse them (the whole
    import would fail, every time), SQLite keeps them."""
    return (text or "").replace("\x00", "")


def fingerprint(content: tuple) -> str:
    return hashlib.blake2b(repr(content).encode(), digest_size=16).hexdigest()


def _day_or_instant(value: datetime, all_day: bool) -> str:
    return value.date().isoformat() if all_day else format_instant(value)


def event_payload(
    pk: int,
    uid: str,
    start: datetime,
    end: datetime,
    all_day: bool,
    summary: str,
    status: str,
    kind: str,
) -> dict:
    """An event as webhooks carry it: the API's fields, YYYY-MM-DD dates for all-day events
    (end exclusive) and ISO 8601 UTC instants ("...Z") otherwise."""
    return {
        "id": pk,
        "uid": uid,
        "start": _day_or_instant(start, all_day),
        "end": _day_or_instant(end, all_day),
        "all_day": all_day,
        "summary": summary,
        "status": status,
        "kind": kind,
    }


class ExistingRow(NamedTuple):
    """An Event row of the feed as the upsert reads it (no timestamps but cancelled_at)."""

    pk: int
    uid: str
    fingerprint: str
    status: str
    cancelled_at: datetime | None
    raw_hash: str
    in_feed: bool


# The columns of an existing row the upsert reads, in this order.
EXISTING_COLUMNS = ExistingRow._fields


def existing_rows(feed: Feed) -> list[ExistingRow]:
    """The feed's Event rows as ExistingRows."""
    make = ExistingRow._make
    return [make(row) for row in Event.objects.filter(feed=feed).values_list(*EXISTING_COLUMNS)]


def known_hashes(feed: Feed) -> dict[str, str]:
    """uid -> raw hash of the feed's live (non-cancelled) events that have one: the blocks
    parse_feed may leave undecoded (a query of two columns, read before the parse; the
    upsert reads ``existing_rows`` after it)."""
    live = Event.objects.filter(feed=feed).exclude(status=EventStatus.CANCELLED)
    return dict(live.exclude(raw_hash="").values_list("uid", "raw_hash").order_by())


def upsert_feed_events(
    feed: Feed,
    parsed_events: Iterable,
    *,
    now: datetime,
    scope: CancelScope | None = None,
    cancel_missing: bool = True,
    unchanged_uids: Iterable[str] = (),
    raw_hashes: Mapping[str, str] | None = None,
    event_kind: str = "",
    previous_import_at: datetime | None = None,
) -> UpsertCounts:
    """Make the feed's Event rows match ``parsed_events``; call inside a transaction.

    New UIDs are created, changed ones updated (a cancelled one that reappears is
    un-cancelled). A new UID with exactly the dates of a live event that left the feed in the
    same import is that event under a new UID (UID churn): the row is renamed, keeping its
    primary key (and so its conflicts). When ``cancel_missing``, rows whose UID is gone are
    marked cancelled (kept, never deleted) if ``scope`` allows (see import_guard; by default
    only events that have not ended). ``unchanged_uids`` are events the parser did not
    decode because their VEVENT text had not changed: present and unchanged.
    ``raw_hashes`` (uid -> raw VEVENT hash) are stored on the rows;
    ``event_kind``, when set, is every event's kind. Missing rows kept (see import_guard)
    are counted by reason when the previous import still held them (``Event.in_feed``) or
    they have not ended, so stays the channel dropped long ago are not read (nor counted)
    again. A row that leaves the body gets ``previous_import_at`` (the last import that
    held it) as its ``last_seen``. Returns what changed, with the webhook events to emit.
    """
    counts = UpsertCounts()
    if scope is None:
        scope = CancelScope(now=now, today=now.date())
    existing: dict[str, ExistingRow] = {row.uid: row for row in existing_rows(feed)}
    seen = _count_unchanged(existing, unchanged_uids, counts)
    incoming = _incoming(parsed_events, seen, counts, event_kind)
    cancelled = EventStatus.CANCELLED
    gone = {row.pk for uid, row in existing.items() if uid not in seen and row.status != cancelled}
    missing = _missing_rows(gone, now)
    if missing and any(uid not in existing for uid, _content in incoming):
        gone -= _adopt_churned(incoming, existing, missing, scope, counts)
    _write(feed, incoming, existing, raw_hashes or {}, now, counts)
    if missing:
        _cancel_missing(missing, scope if cancel_missing else None, now, counts)
    counts.kept_pks = sorted(gone.difference(counts.cancelled_pks))
    _mark_held(existing, seen, counts, now, previous_import_at)
    return counts


def _mark_held(
    existing: dict[str, ExistingRow],
    seen: set[str],
    counts: UpsertCounts,
    now: datetime,
    previous_import_at: datetime | None,
) -> None:
    """Write ``in_feed`` where it changed, and nowhere else: the rows that left the body
    (their ``last_seen`` becomes the previous import, the last that held them, when it is
    known) and those
    that came back without being written (an unchanged stay the channel had dropped, a feed
    held back empty that returns whole). Rows written by this import already carry
    ``in_feed`` and ``last_seen``."""
    written = set(counts.written_uids)
    left, back = [], []
    for uid, row in existing.items():
        if uid not in seen:
            if row.in_feed:
                left.append(row.pk)
        elif not row.in_feed and uid not in written:
            back.append(row.pk)
    if left:
        seen_last = {"last_seen": previous_import_at} if previous_import_at else {}
        Event.objects.filter(pk__in=left).update(in_feed=False, **seen_last)
    if back:
        Event.objects.filter(pk__in=back).update(in_feed=True, last_seen=now)


def _count_unchanged(
    existing: dict[str, ExistingRow], unchanged_uids: Iterable[str], counts: UpsertCounts
) -> set[str]:
    seen: set[str] = set()
    for uid in unchanged_uids:
        row = existing.get(uid)
        if row is None or row.status == EventStatus.CANCELLED or uid in seen:
            continue  # parse_feed skips only live events' blocks; stay safe
        seen.add(uid)
        counts.events += 1
        counts.unchanged += 1
        counts.not_decoded += 1
    return seen


def stored_uid(uid: str) -> str:
    """The uid a parsed event's row is stored (and its raw hash looked up) under."""
    return _no_nul(uid)[:UID_MAX]


def _incoming(
    parsed_events: Iterable, seen: set[str], counts: UpsertCounts, event_kind: str
) -> list[tuple[str, tuple]]:
    """(uid, content) of each parsed event, first of a uid only; adds them to ``seen``."""
    incoming = []
    for parsed in parsed_events:
        uid = stored_uid(parsed.uid)
        if uid in seen:  # the parser already de-duplicates; stay safe if it did not
            continue
        seen.add(uid)
        counts.events += 1
        incoming.append((uid, event_content(parsed, kind=event_kind)))
    return incoming


class MissingRow(NamedTuple):
    """A live row whose UID the feed no longer holds, as read for UID churn, cancelling and
    its webhook."""

    pk: int
    uid: str
    start: datetime
    end: datetime
    all_day: bool
    summary: str
    kind: str
    in_feed: bool


MISSING_COLUMNS = MissingRow._fields


def _missing_rows(gone: set[int], now: datetime) -> list[MissingRow]:
    """The live rows whose UID the feed no longer holds, leaving out
    those that ended and were already missing at the previous import (one query, and none
    when nothing is missing)."""
    if not gone:
        return []
    recent = Q(end__gt=now - NOT_ENDED_MARGIN) | Q(in_feed=True)
    rows = Event.objects.filter(recent, pk__in=gone).order_by("start", "pk")
    return [MissingRow._make(row) for row in rows.values_list(*MISSING_COLUMNS)]


def _adopt_churned(
    incoming: list[tuple[str, tuple]],
    existing: dict[str, ExistingRow],
    missing: list[MissingRow],
    scope: CancelScope,
    counts: UpsertCounts,
) -> set[int]:
    """Rename missing rows to the new UID that came with exactly their dates (same start,
    end, all-day): the same event, re-published under another UID. Their primary key stays,
    so their conflicts stay open and no "added"/"cancelled" webhook goes out. Returns the
    keys of the rows renamed."""
    by_dates: dict[tuple, list[MissingRow]] = {}
    for row in missing:
        if not scope.protects(row.uid):
            by_dates.setdefault((row.start, row.end, row.all_day), []).append(row)
    adopted: set[int] = set()
    renamed: list[Event] = []
    for uid, content in incoming:
        if uid in existing:
            continue
        rows = by_dates.get((content[0], content[1], content[2]))
        if not rows:
            continue
        row = rows.pop(0)
        renamed.append(Event(pk=row.pk, uid=uid))
        existing[uid] = existing.pop(row.uid)._replace(uid=uid)
        adopted.add(row.pk)
        counts.renamed += 1
    if adopted:
        # One statement (a row at a time cost a round trip and an export bump each). No
        # new UID is any row's UID when it is renamed (``existing`` says so, kept current
        # above), so the feed's unique (feed, uid) holds row by row within the statement.
        Event.objects.bulk_update(renamed, ["uid"], batch_size=BATCH_ROWS)
        missing[:] = [row for row in missing if row.pk not in adopted]
    return adopted


def _write(
    feed: Feed,
    incoming: list[tuple[str, tuple]],
    existing: dict[str, ExistingRow],
    raw_hashes: Mapping[str, str],
    now: datetime,
    counts: UpsertCounts,
) -> None:
    """Create or update the incoming events that are new or changed (bulk upserts of
    BATCH_ROWS rows; the Event instances of one batch at a time are in memory: 5,000 of
    them held ~5 MB at a big feed's import peak)."""
    pending: list[tuple[str, tuple, str, str, ExistingRow | None]] = []
    new_raw: list[Event] = []
    for uid, content in incoming:
        digest = fingerprint(content)
        raw = raw_hashes.get(uid, "")
        row = existing.get(uid)
        if row is not None and row.fingerprint == digest:
            counts.unchanged += 1
            if row.raw_hash != raw:  # same event, other text (a new DTSTAMP, say)
                new_raw.append(Event(pk=row.pk, raw_hash=raw))
            continue
        pending.append((uid, content, digest, raw, row))
        counts.written_uids.append(uid)
        if row is None:
            counts.created += 1
        else:
            counts.updated += 1
            counts.changed_event_ids.append(row.pk)
    for first in range(0, len(pending), BATCH_ROWS):
        batch = [_new_event(feed, now, *item) for item in pending[first : first + BATCH_ROWS]]
        _upsert(batch, existing, counts)
    if new_raw:
        Event.objects.bulk_update(new_raw, ["raw_hash"])


def _new_event(feed: Feed, now: datetime, uid: str, content: tuple, digest: str, raw: str, row):
    """The event row to write for ``content`` (``row``: the feed's row of that uid, if any),
    as ``events_bulk.new_row``."""
    cancelled_at = None
    if content[5] == EventStatus.CANCELLED:
        cancelled_at = row.cancelled_at if row is not None and row.cancelled_at else now
    return new_row(
        feed_id=feed.pk,
        uid=uid,
        fingerprint=digest,
        raw_hash=raw,
        first_seen=now,
        in_feed=True,
        last_seen=now,
        changed_at=now,
        cancelled_at=cancelled_at,
        **dict(zip(CONTENT_FIELDS, content, strict=True)),
    )


def _upsert(to_write: list, existing: dict[str, ExistingRow], counts: UpsertCounts) -> None:
    updated_pks = [existing[e.uid].pk for e in to_write if e.uid in existing]
    before = (
        {
            pk: (start, end, status)
            for pk, start, end, status in Event.objects.filter(pk__in=updated_pks)
            .order_by()
            .values_list("pk", "start", "end", "status")
        }
        if updated_pks
        else {}
    )
    written = bulk_upsert(to_write, UPSERT_UPDATE_FIELDS)
    new_pks = [e.pk for e in written if e.uid not in existing]
    if None in new_pks:  # a backend that cannot return upserted keys
        counts.ids_complete = False
    counts.changed_event_ids.extend(pk for pk in new_pks if pk is not None)
    for event in written:
        row = existing.get(event.uid)
        pk = event.pk if row is None else row.pk
        _booking_event(counts, event, pk, before.get(pk) if row is not None else None)


def _cancel_missing(
    missing: list[MissingRow],
    scope: CancelScope | None,
    now: datetime,
    counts: UpsertCounts,
) -> None:
    """Cancel the missing rows ``scope`` allows (none when it is None); count the rest as
    kept, by reason."""
    gone_rows = []
    for row in missing:
        reason = (
            scope.kept_reason(row.uid, row.start, row.end, row.all_day)
            if scope
            else KEPT_NOT_COVERED
        )
        if reason is None:
            gone_rows.append(row)
        elif reason != KEPT_ENDED or row.in_feed:
            # A past stay is counted once, at the import that no longer found it.
            counts.kept[reason] = counts.kept.get(reason, 0) + 1
    if not gone_rows:
        return
    gone = [row.pk for row in gone_rows]
    counts.cancelled_pks = gone
    # The fingerprint and raw hash go too, so that the event coming back is written (and
    # decoded) again.
    counts.cancelled = Event.objects.filter(pk__in=gone).update(
        status=EventStatus.CANCELLED,
        blocking=False,
        cancelled_at=now,
        changed_at=now,
        fingerprint="",
        raw_hash="",
    )
    counts.changed_event_ids.extend(gone)
    status = EventStatus.CANCELLED
    for pk, uid, start, end, all_day, summary, kind, _in_feed in gone_rows:
        counts.booking_events.append(
            BookingEvent("booking.cancelled", pk, uid, start, end, all_day, summary, status, kind)
        )


def _booking_event(counts: UpsertCounts, event, pk: int | None, before) -> None:
    """Record the webhook event for one written row: added (new and blocking), cancelled
    (now cancelled, was not), changed (start, end or status moved); nothing otherwise."""
    if pk is None:
        return
    cancelled = event.status == EventStatus.CANCELLED
    if before is None:
        if not event.blocking or cancelled:
            return
        event_type = "booking.added"
    elif cancelled and before[2] != EventStatus.CANCELLED:
        event_type = "booking.cancelled"
    elif (before[0], before[1], before[2]) != (event.start, event.end, event.status):
        event_type = "booking.changed"
    else:
        return
    counts.booking_events.append(
        BookingEvent(
            event_type,
            pk,
            event.uid,
            event.start,
            event.end,
            event.all_day,
            event.summary,
            event.status,
            event.kind,
        )
    )
