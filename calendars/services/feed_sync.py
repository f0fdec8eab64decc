"""The calendars.feed kind's sync function: fetch a feed, parse it, write its events.

Slow I/O first (the fetch), then the parse, then every write of one import inside a single
transaction: events upserted, missing ones cancelled, the listing's conflicts brought up to
date. A feed that is not iCalendar changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

from django.db import transaction
from django.utils import timezone

from calendars.ics.parse import (
    FeedText,
    InvalidCalendar,
    ParsedFeed,
    parse_feed,
    text_pieces,
)
from calendars.models import EXPORT_DOMAIN, Event, Feed, Listing
from calendars.services.conflicts import detect_conflicts
from calendars.services.echoes import mark_echoes
from calendars.services.events_upsert import (
    BookingEvent,
    known_hashes,
    stored_uid,
    upsert_feed_events,
)
from calendars.services.export import export_uid
from calendars.services.import_guard import CancelScope, cancel_scope, feed_emptied
from calendars.services.import_summary import build_last_import
from calendars.services.notify import notify_new_conflicts
from syncing.fetcher import fetch
from syncing.heap import release_freed_memory
from syncing.results import PermanentSyncError, SyncContext, SyncResult
from syncing.webhooks.services import emit_many

# UIDs in our export's domain, as a channel passes them through (a UID line is never folded:
# ours are 45 characters).
_OUR_UIDS = re.compile(
    rb"^UID[;:][^\r\n]*?([0-9a-f]{32}@" + re.escape(EXPORT_DOMAIN.encode()) + rb")[ \t]*\r?$",
    re.IGNORECASE | re.MULTILINE,
)
MAX_EVENTS = 5000
# A body this large has its import hand the C heap's freed pages back between its phases
# (syncing.heap.release_freed_memory); a smaller one is not worth the heap walks.
RELEASE_BODY_BYTES = 1024 * 1024
# Reasons for skipped events kept on the attempt (the count is always complete).
SKIPPED_SHOWN = 20
_BOM = b"\xef\xbb\xbf"


def looks_like_icalendar(body: bytes) -> bool:
    """True when the body starts like an iCalendar object (after a BOM and blank lines)."""
    head = body[:64].removeprefix(_BOM).lstrip()
    return head[:15].upper() == b"BEGIN:VCALENDAR"


def check_body(body: bytes, content_type: str) -> None:
    """Raise PermanentSyncError("invalid_ics") unless the body is an iCalendar object.

    Channels serve feeds as text/calendar, text/plain or application/octet-stream (and
    worse); the body decides. An empty body or an HTML page (a login wall, an error page)
    is not a calendar.
    """
    served = content_type or "no content type"
    if not body or body.isspace():  # not body.strip(), which copies the body
        raise PermanentSyncError("invalid_ics", f"The feed is empty (served as {served}).")
    if not looks_like_icalendar(body):
        head = body[:200].lstrip().lower()
        what = (
            "an HTML page" if head.startswith((b"<!doctype", b"<html", b"<")) else "not iCalendar"
        )
        raise PermanentSyncError(
            "invalid_ics", f"The feed URL returned {what} (served as {served}), not a calendar."
        )


def sync_feed(feed: Feed, ctx: SyncContext) -> SyncResult:
    """Import one feed. Raises the fetcher's SyncErrors, and PermanentSyncError("invalid_ics")
    when the body is not iCalendar (the listing's events then stay exactly as they were).

    While a sudden emptying is held back (``feed.empty_since``), the body is read and
    imported whatever it is: the validators remembered are those of the body before the
    empty one, so that body coming back would read as "not modified", leaving the
    suspicion set, and the next empty body would be taken as the confirming second one
    (every future stay cancelled by a feed that was full in between)."""
    suspect = feed.empty_since is not None
    result = fetch(
        feed.url,
        etag=None if suspect else feed.etag or None,
        last_modified=None if suspect else feed.last_modified or None,
        previous_hash=None if suspect else feed.content_hash or None,
    )
    if result.not_modified:
        ctx.remember_validators(
            etag=result.etag or None, last_modified=result.last_modified or None
        )
        return SyncResult(
            outcome="not_modified",
            http_status=result.status,
            bytes=result.bytes_read,
            retries=result.retries,
        )
    check_body(result.body, result.content_type or "")
    listing_tz = _listing_timezone(feed)
    # The raw hashes of the feed's events let the parser leave unchanged VEVENTs undecoded,
    # read when the parse first asks for one (_KnownHashes); the upsert reads the rows after
    # the parse (a 5,000-event feed's ~2 MB of them are not held through it). The engine's
    # lease keeps any other import of this feed from changing them meanwhile.
    release = result.bytes_read >= RELEASE_BODY_BYTES
    parsed = _parse(feed, result, listing_tz, _KnownHashes(feed), release)
    if release:
        release_freed_memory()  # the text, the raw blocks, the last chunk's components
    counts = import_parsed_feed(feed, parsed)
    if release:
        release_freed_memory()  # the rows written, the conflicts' reads
    if not counts.get("held_back"):
        # Held back: the same body must be read again next time to confirm it.
        ctx.remember_validators(
            etag=result.etag or "",
            last_modified=result.last_modified or "",
            content_hash=result.content_hash,
        )
    return SyncResult(
        outcome="ok",
        http_status=result.status,
        bytes=result.bytes_read,
        retries=result.retries,
        items_changed=counts["created"] + counts["updated"] + counts["cancelled"],
        counts=counts,
    )


class _KnownHashes(Mapping):
    """``known_hashes(feed)``, read at the first look-up: a parse that never looks one up (a
    feed over the cap, or whose context changed) does not hold them (5,000 uids and hashes
    are ~1.2 MB)."""

    def __init__(self, feed: Feed):
        self.feed = feed
        self._hashes: dict[str, str] | None = None

    def _read(self) -> dict[str, str]:
        if self._hashes is None:
            self._hashes = known_hashes(self.feed)
        return self._hashes

    def __getitem__(self, uid: str) -> str:
        return self._read()[uid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


def _parse(
    feed: Feed, result, listing_tz: str, known: Mapping[str, str], release: bool = False
) -> ParsedFeed:
    """Parse the fetched body (``result.body``, emptied here: the parse reads the unfolded
    text alone, so the body, as large again, goes once its pieces are unfolded and decoded,
    before they are joined, and the text before the writes). Raises
    PermanentSyncError("invalid_ics") when it is not iCalendar."""
    try:
        own_uids = _own_uids(feed, result.body)
        if release:
            release_freed_memory()  # the fetch's reads
        pieces = text_pieces(result.body)
        result.body = b""
        text = FeedText.join(pieces)
        if release:
            release_freed_memory()  # the body, the pieces
        return parse_feed(
            text,
            default_tz=listing_tz,
            max_events=MAX_EVENTS,
            own_domain=EXPORT_DOMAIN,
            known=known,
            known_context=feed.parse_context_hash,
            own_uids=own_uids,
        )
    except InvalidCalendar as exc:
        raise PermanentSyncError(
            "invalid_ics",
            f"The feed is not a valid calendar: {exc}"[:500],
            bytes_read=result.bytes_read,
        )


def import_parsed_feed(feed: Feed, parsed: ParsedFeed) -> dict:
    """Write a parsed feed's events and the listing's conflicts in one transaction, record
    the import on ``feed.last_import``, and queue the owner's webhook events (one emit_many
    call).

    Missing events are cancelled only as import_guard allows: not an unreadable one, not one
    that has ended, not outside the range the import covered, and nothing when the feed
    suddenly emptied (held back until the next sync sees the same; ``Feed.empty_since``).
    ``parsed.unchanged_uids`` count as present and unchanged. ``parsed.events`` and
    ``parsed.raw_hashes`` are emptied once written. Returns the counts recorded on the
    attempt ("held_back" > 0: the caller should not remember the body as seen).
    """
    now = timezone.now()
    with transaction.atomic():
        # One import per listing at a time: conflict detection must see the other feeds'
        # committed events, and two feeds of a listing may sync at once.
        Listing.objects.select_for_update().filter(pk=feed.listing_id).order_by().values_list(
            "pk"
        ).first()
        scope, held_back = _cancel_scope(feed, parsed, now)
        raw_hashes = _written_hashes(parsed)  # before _taken empties parsed.events
        upserted = upsert_feed_events(
            feed,
            _taken(parsed),
            now=now,
            scope=scope,
            unchanged_uids=parsed.unchanged_uids,
            raw_hashes=raw_hashes,
            event_kind=feed.event_kind,
            previous_import_at=feed.last_import_at,
        )
        # Written: the events and raw hashes (~5 MB for 5,000 events) go before the
        # conflicts are read.
        parsed.events, parsed.raw_hashes = [], {}
        del raw_hashes
        feed.last_import = build_last_import(
            now=now, parsed=parsed, upserted=upserted, held_back=held_back
        )
        feed.parse_context_hash = parsed.context_hash
        Feed.objects.filter(pk=feed.pk).update(
            parse_context_hash=parsed.context_hash,
            last_import=feed.last_import,
            empty_since=feed.empty_since,
        )
        opened, resolved = _conflicts_and_webhooks(feed, upserted, now)
    return _attempt_counts(parsed, upserted, opened, resolved, held_back)


def _written_hashes(parsed: ParsedFeed) -> dict[str, str]:
    """``parsed.raw_hashes`` of ``parsed.events`` alone, all the upsert looks up (it is
    emptied): a feed over the cap holds the hashes and uids of blocks it does not import
    (~2 MB of a dense 10,000-event feed's, through the writes and the conflicts)."""
    hashes, parsed.raw_hashes = parsed.raw_hashes, {}
    written = {}
    for event in parsed.events:
        uid = stored_uid(event.uid)
        digest = hashes.get(uid)
        if digest is not None:
            written[uid] = digest
    return written


def _taken(parsed: ParsedFeed) -> Iterator:
    """``parsed.events`` in order, each let go once read (``parsed.events`` is emptied): the
    upsert keeps what it writes of each, not the 5,000 ParsedEvents as well."""
    events, parsed.events = parsed.events, []
    events.reverse()
    while events:
        yield events.pop()


def _conflicts_and_webhooks(feed: Feed, upserted, now) -> tuple[int, int]:
    """After the upsert, in its transaction: echoes marked, the listing's conflicts brought
    up to date (the owner emailed after commit), the webhook events queued. Returns
    (conflicts opened, conflicts resolved)."""
    opened = resolved = 0
    webhook_events = _WebhookEvents(feed, upserted.booking_events)
    if upserted.changed:
        changed_ids = upserted.changed_event_ids if upserted.ids_complete else None
        # Our own export coming back under the channel's UIDs is no booking.
        mark_echoes(feed, changed_ids)
        changes = detect_conflicts(feed.listing_id, now=now, changed_event_ids=changed_ids)
        opened, resolved = changes.opened, changes.resolved
        webhook_events.others.extend(changes.webhook_events)
        if opened:
            listing_id = feed.listing_id
            transaction.on_commit(lambda: notify_new_conflicts(listing_id), robust=True)
    if webhook_events:
        emit_many(feed.listing.owner_id, webhook_events)
    return opened, resolved


class _WebhookEvents(Sequence):
    """emit_many's (event type, payload) pairs of one import: its booking events, then
    ``others``. A booking event's payload is made each time it is read, so an owner with no
    webhook endpoint (emit_many then reads no payload past its check of the types) never
    has one per written row in memory."""

    def __init__(self, feed: Feed, booking: list[BookingEvent]):
        self.listing_id, self.feed_id, self.booking = feed.listing_id, feed.pk, booking
        self.others: list[tuple[str, dict]] = []

    def __len__(self) -> int:
        return len(self.booking) + len(self.others)

    def __getitem__(self, index: int) -> tuple[str, dict]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if index >= len(self.booking):
            return self.others[index - len(self.booking)]
        return self._pair(self.booking[index])

    def __iter__(self) -> Iterator[tuple[str, dict]]:
        yield from map(self._pair, self.booking)
        yield from self.others

    def _pair(self, event: BookingEvent) -> tuple[str, dict]:
        payload = {"listing": self.listing_id, "feed": self.feed_id, "event": event.payload()}
        return event.event_type, payload


def _cancel_scope(feed: Feed, parsed: ParsedFeed, now) -> tuple[CancelScope, int]:
    """What this import may cancel, and how many live future events it holds back because
    the feed suddenly emptied (updates ``feed.empty_since``: set on the first empty sync,
    cleared by the one that confirms it or brings events)."""
    scope = cancel_scope(parsed, now=now, timezone_name=_listing_timezone(feed))
    # A capped feed is not empty; one cut before the window (hostile) covers nothing anyway.
    emptied = 0 if parsed.truncated else feed_emptied(feed, parsed, scope)
    if not emptied:
        feed.empty_since = None
        return scope, 0
    if feed.empty_since is None:
        feed.empty_since = now
        return replace(scope, hold_back=True), emptied
    feed.empty_since = None  # the second sync in a row that finds it empty: confirmed
    return scope, 0


def _attempt_counts(parsed: ParsedFeed, upserted, opened: int, resolved: int, held: int) -> dict:
    counts = {
        "events": upserted.events,
        "created": upserted.created,
        "updated": upserted.updated,
        "unchanged": upserted.unchanged,
        "decoded": parsed.decoded,
        "not_decoded": upserted.not_decoded,
        "cancelled": upserted.cancelled,
        "skipped": len(parsed.skipped),
        "conflicts_opened": opened,
        "conflicts_resolved": resolved,
    }
    if upserted.renamed:
        counts["renamed"] = upserted.renamed
    if upserted.kept:
        counts["kept"] = dict(upserted.kept)
    if held:
        counts["held_back"] = held
    if parsed.skipped:
        counts["skipped_reasons"] = [
            [uid, reason] for uid, reason in parsed.skipped[:SKIPPED_SHOWN]
        ]
    if parsed.truncated:
        counts["truncated"] = True
    return counts


def _own_uids(feed: Feed, body: bytes) -> frozenset[str]:
    """parse_feed's ``own_uids``: the UIDs in the body that this listing's export publishes
    (for any of its events, cancelled ones too: a channel may still hold their copy), so
    that only our own echo is left out and a sibling listing's export imported on purpose is
    read. Only the UIDs the body holds: the set (part of the parse context) then stays the
    same from one import to the next. No query unless the body holds our domain at all."""
    if EXPORT_DOMAIN.encode() not in body:
        return frozenset()
    in_body = {
        match.decode("utf-8", "replace").strip().lower() for match in _OUR_UIDS.findall(body)
    }
    pairs = Event.objects.filter(feed__listing_id=feed.listing_id).values_list("feed_id", "uid")
    published = (export_uid(feed_id, uid) for feed_id, uid in pairs)
    return frozenset(uid for uid in published if uid.lower() in in_body)


def _listing_timezone(feed: Feed) -> str:
    # run_claimed loads the listing with the feed (owner_path); a bare feed costs one query.
    return feed.listing.timezone
