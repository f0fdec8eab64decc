"""Double bookings: two events of one listing, from different feeds, that hold one night.

Nights are read in the listing's zone (calendars.services.nights): a cleaning from 10:00 to
13:00 holds none, a checkout on the day of the next check-in shares none. Only real double
bookings count: two reservations, or a reservation and a block (an owner stay counts as a
block) from another feed. Two blocks are not (channels block each other's dates on
purpose), maintenance never is, and an echo of our own export (``Event.echo_of``) is not
a booking at all.

Detection sweeps the events' runs of nights sorted by their first night (O(n log n)), then
diffs against the open Conflict rows: new pairs open a conflict once, pairs that stopped
sharing a night (moved, cancelled, re-kinded) are resolved. A conflict the owner dismissed
stays dismissed while both events keep the dates they had then; if either moves, it is
resolved and the pair, still double-booked, opens again as a new alert.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calendars.formatting import format_instant
from calendars.models import Conflict, Event, EventKind, EventStatus, Feed, Listing
from calendars.services.nights import NEAR, StayWindow, held_nights, nights_span
from calendars.services.notify import notify_new_conflicts
from syncing.webhooks.services import emit_many

# Events that ended before this many days ago no longer matter (the export's window too).
WINDOW_DAYS = 30
# Up to this many changed events, read the events near each; past it, their bounds.
SPAN_CLAUSES = 25
# Kinds that take a night from sale; maintenance does not.
_BLOCKING_KINDS = {EventKind.BLOCK, EventKind.OWNER_STAY}
_EVENT_COLUMNS = ("pk", "feed_id", "start", "end", "all_day", "kind", "kind_override")


@dataclass(frozen=True)
class ConflictChanges:
    opened: int
    resolved: int
    # ("conflict.opened" | "conflict.resolved", payload) for webhooks.
    webhook_events: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.opened or self.resolved)


@dataclass(frozen=True)
class NightRun:
    """One event as detection sees it: its feed, effective kind and nights [first, stop)."""

    pk: int
    feed_id: int
    kind: str
    first: date
    stop: date


def double_booked(kind_a: str, kind_b: str) -> bool:
    """Two reservations, or a reservation and a block or owner stay."""
    if kind_a == EventKind.RESERVATION:
        return kind_b == EventKind.RESERVATION or kind_b in _BLOCKING_KINDS
    return kind_b == EventKind.RESERVATION and kind_a in _BLOCKING_KINDS


def night_pairs(runs: list[NightRun]) -> dict[tuple[int, int], tuple[date, date]]:
    """Pairs (smaller pk, larger pk) of runs from different feeds that share a night and
    are a double booking by kind; each with its shared nights ``(first, stop)``."""
    pairs: dict[tuple[int, int], tuple[date, date]] = {}
    active: list[NightRun] = []
    for run in sorted(runs, key=lambda r: (r.first, r.stop, r.pk)):
        active = [a for a in active if a.stop > run.first]
        for other in active:
            if other.feed_id != run.feed_id and double_booked(run.kind, other.kind):
                key = (min(run.pk, other.pk), max(run.pk, other.pk))
                pairs[key] = (max(run.first, other.first), min(run.stop, other.stop))
        active.append(run)
    return pairs


def dates_digest(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> str:
    """A digest of two events' spans (event_a's first): what a dismissal holds on to."""
    text = "|".join(format_instant(value) for value in (*a, *b))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass
class _Events:
    """The events detection read: their runs of nights and their stored spans."""

    runs: list[NightRun] = field(default_factory=list)
    spans: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)


def _read_events(rows, feed_kinds: dict[int, str], window: StayWindow) -> _Events:
    read = _Events()
    for pk, feed_id, start, end, all_day, kind, override in rows:
        read.spans[pk] = (start, end)
        nights = held_nights(start, end, all_day, window)
        if nights is not None:
            effective = override or feed_kinds.get(feed_id) or kind
            read.runs.append(NightRun(pk, feed_id, effective, nights[0], nights[1]))
    return read


_LATEST = datetime.max.replace(tzinfo=UTC)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _near(spans: list[tuple[datetime, datetime]]) -> Q | None:
    """Events whose nights may meet one of ``spans`` (padded: a night's window lies up to a
    day and a half from the UTC date of its instants)."""
    spans = [(start, end) for start, end in spans if end > start]
    if len(spans) > SPAN_CLAUSES:  # many changes (a new feed): one bounding span
        spans = [(min(s for s, _e in spans), max(e for _s, e in spans))]
    near: Q | None = None
    for start, end in spans:
        # Saturated: a block "until 9999-12-31" plus NEAR overflowed, failing every import.
        high = end + NEAR if end < _LATEST - NEAR else _LATEST
        low = start - NEAR if start > _EARLIEST + NEAR else _EARLIEST
        clause = Q(start__lt=high, end__gt=low)
        near = clause if near is None else near | clause
    return near


def _current_pairs(
    listing: Listing, now: datetime, changed: set[int] | None
) -> tuple[dict, dict[int, tuple[datetime, datetime]]]:
    """The double-booked pairs (all, or those involving ``changed``) and the events' spans."""
    feed_kinds = dict(Feed.objects.filter(listing=listing).values_list("pk", "event_kind"))
    # The listing's feed ids first: with them PostgreSQL reads the events through the feed
    # index; a join on the listing can make it scan the whole event table.
    events_qs = Event.objects.filter(
        feed_id__in=list(feed_kinds),
        blocking=True,
        echo_of__isnull=True,
        end__gt=now - timedelta(days=WINDOW_DAYS),
    ).exclude(status=EventStatus.CANCELLED)
    window = StayWindow.of(listing)
    if changed is None or len(changed) > SPAN_CLAUSES:
        # Many changes (a new feed): their bounding span is most of the listing anyway, so
        # the listing is read at once, without a query for the changed events' spans.
        read = _read_events(events_qs.values_list(*_EVENT_COLUMNS), feed_kinds, window)
        return _involving(night_pairs(read.runs), changed), read.spans
    spans = list(events_qs.filter(pk__in=changed).values_list("start", "end"))
    near = _near(spans)
    if near is None:
        return {}, {}
    read = _read_events(events_qs.filter(near).values_list(*_EVENT_COLUMNS), feed_kinds, window)
    return _involving(night_pairs(read.runs), changed), read.spans


def _involving(pairs: dict, changed: set[int] | None) -> dict:
    """The pairs with at least one event in ``changed`` (all of them for None)."""
    if changed is None:
        return pairs
    return {key: nights for key, nights in pairs.items() if key[0] in changed or key[1] in changed}


def detect_conflicts(
    listing_id: int, *, now: datetime, changed_event_ids: list[int] | None = None
) -> ConflictChanges:
    """Open and resolve the listing's conflicts; call inside the import's transaction.

    With ``changed_event_ids`` (the events an import created, moved, cancelled or
    re-kinded) only the pairs involving those events can have changed: the events near
    one of them and the open conflicts that involve them are read (a handful of rows
    however busy the listing), and pairs between two unchanged events are left as they
    are; with more than SPAN_CLAUSES of them (a new feed) the listing's events and open
    conflicts are read whole and filtered here, one query each instead of two with
    long IN lists. Without it, the whole listing. Raises nothing of its own (database errors
    propagate).
    """
    if changed_event_ids is not None and not changed_event_ids:
        return ConflictChanges(opened=0, resolved=0)
    listing = Listing.objects.only("timezone", "check_in_time", "check_out_time").get(pk=listing_id)
    changed = set(changed_event_ids) if changed_event_ids is not None else None
    pairs, spans = _current_pairs(listing, now, changed)
    window = StayWindow.of(listing)
    open_qs = Conflict.objects.filter(listing_id=listing_id, resolved_at__isnull=True)
    if changed is not None and len(changed) <= SPAN_CLAUSES:
        open_qs = open_qs.filter(Q(event_a_id__in=changed) | Q(event_b_id__in=changed))
    open_rows = {
        (a, b): (pk, start, end, dismissed, digest)
        for pk, a, b, start, end, dismissed, digest in open_qs.values_list(
            "pk",
            "event_a_id",
            "event_b_id",
            "overlap_start",
            "overlap_end",
            "dismissed_at",
            "dismissed_dates",
        )
        if changed is None or a in changed or b in changed  # many changes: filtered here
    }
    gone = [key for key in open_rows if key not in pairs or _moved(open_rows[key], key, spans)]
    events: list[tuple[str, dict]] = []
    resolved = _resolve(listing_id, [open_rows[key] for key in gone], gone, now, events)
    still_open = {key: row for key, row in open_rows.items() if key not in set(gone)}
    new = []
    for key, nights in pairs.items():
        start, end = nights_span(*nights, window)
        current = still_open.get(key)
        if current is None:
            new.append(
                Conflict(
                    listing_id=listing_id,
                    event_a_id=key[0],
                    event_b_id=key[1],
                    overlap_start=start,
                    overlap_end=end,
                    detected_at=now,
                )
            )
        elif (current[1], current[2]) != (start, end):
            Conflict.objects.filter(pk=current[0]).update(overlap_start=start, overlap_end=end)
    if new:
        _open(listing_id, new, now, events)
    return ConflictChanges(opened=len(new), resolved=resolved, webhook_events=events)


def _moved(row: tuple, key: tuple[int, int], spans: dict) -> bool:
    """A dismissed conflict whose events no longer have the dates they had when dismissed."""
    dismissed, digest = row[3], row[4]
    if dismissed is None or key[0] not in spans or key[1] not in spans:
        return False
    return digest != dates_digest(spans[key[0]], spans[key[1]])


def _resolve(listing_id: int, rows: list, keys: list, now: datetime, events: list) -> int:
    if not rows:
        return 0
    resolved = Conflict.objects.filter(
        pk__in=[row[0] for row in rows], resolved_at__isnull=True
    ).update(resolved_at=now)
    for key, (pk, start, end, _dismissed, _digest) in zip(keys, rows, strict=True):
        events.append(("conflict.resolved", conflict_payload(listing_id, pk, key, start, end)))
    return resolved


def _open(listing_id: int, new: list[Conflict], now: datetime, events: list) -> None:
    # Another import of the same listing may have opened the same pair a moment ago.
    Conflict.objects.bulk_create(new, ignore_conflicts=True)
    # ignore_conflicts returns no keys: read back the pairs this import opened.
    opened_rows = (
        Conflict.objects.filter(
            listing_id=listing_id,
            resolved_at__isnull=True,
            detected_at=now,
            event_a_id__in={c.event_a_id for c in new},
        )
        .order_by("overlap_start", "pk")
        .values_list("pk", "event_a_id", "event_b_id", "overlap_start", "overlap_end")
    )
    wanted = {(c.event_a_id, c.event_b_id) for c in new}
    for pk, a, b, start, end in opened_rows:
        if (a, b) in wanted:
            events.append(("conflict.opened", conflict_payload(listing_id, pk, (a, b), start, end)))


def refresh_conflicts(listing_id: int, changed_event_ids: list[int] | None) -> ConflictChanges:
    """Re-decide the listing's conflicts after an owner's change (an event's or a feed's
    kind, the listing's zone or stay times): the listing row locked like an import does,
    the webhooks queued and, after commit, the email. Joins the caller's transaction."""
    with transaction.atomic():
        Listing.objects.select_for_update().filter(pk=listing_id).order_by().values_list(
            "pk"
        ).first()
        changes = detect_conflicts(
            listing_id, now=timezone.now(), changed_event_ids=changed_event_ids
        )
        if changes.webhook_events:
            owner_id = Listing.objects.filter(pk=listing_id).values_list("owner_id", flat=True)[0]
            emit_many(owner_id, changes.webhook_events)
        if changes.opened:
            transaction.on_commit(lambda: notify_new_conflicts(listing_id), robust=True)
    return changes


def conflict_payload(
    listing_id: int, pk: int, pair: tuple[int, int], start: datetime, end: datetime
) -> dict:
    """A conflict as webhooks carry it: ISO 8601 UTC instants, the two events' ids."""
    return {
        "listing": listing_id,
        "conflict": pk,
        "overlap_start": format_instant(start),
        "overlap_end": format_instant(end),
        "events": [pair[0], pair[1]],
    }
