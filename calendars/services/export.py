"""The merged export of a listing: one iCalendar of its blocking events, with validators.

The body is deterministic for the same events (stable UIDs, DTSTAMP from the event's last
change), so its hash is a strong ETag and channels polling every few minutes mostly get
304s. Per variant (``""`` for the whole feed, else the ``?for=`` channel) the listing keeps
in ``export_state``:

- ``digest``: the body's SHA-256, the ETag;
- ``modified``: when that digest last changed (``Last-Modified``: it only ever rises, also
  when an event is cancelled or a feed removed, which a Max(changed_at) would move back);
- ``inputs``: a digest of the rows the body is built from, so an unchanged export is
  answered (304, or 200 from the cache) without building the body again;
- ``key`` and ``fresh_until`` (PostgreSQL): the listing's ``ExportVersion`` counter (raised
  by triggers on every write to its events and feeds) and its own fields when the state
  was made, and when its oldest row leaves the window: while both hold, the state is
  current and a request costs the token's lookup only (no query of the rows);
- ``fetched``: when a client last asked (written at most every FETCH_RECORD_SECONDS), which
  tells the import which channels poll our export (echo detection).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.postgres.aggregates import StringAgg
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Func, Min, Q, TextField
from django.db.models.functions import MD5
from django.utils import timezone

from calendars.ics.export import build_calendar, clean_text
from calendars.models import (
    EXPORT_DOMAIN,
    Event,
    EventKind,
    EventStatus,
    ExportVersion,
    Feed,
    Listing,
    Source,
)
from calendars.services.nights import StayWindow, held_nights

WINDOW_DAYS = 30  # events that ended longer ago than this are left out
CACHE_CONTROL = "private, max-age=300"
PRODID = "-//Syncbeat//Merged calendar//EN"
# Bump when the body's format changes for the same rows: every ETag changes with it.
FORMAT_VERSION = "3"
# "fetched" is written at most this often per variant, so polling costs no write.
FETCH_RECORD_SECONDS = 300
BODY_CACHE_SECONDS = 3600
# Per web process: the hottest bodies, plain and gzip (LocalBodies).
LOCAL_BODIES_BYTES = 16 * 1024 * 1024
ROW_ORDER = ("start", "feed_id", "uid")
# ``kind`` as read, and the owner's ``kind_override`` (blank: none) that wins over it.
ROW_FIELDS = ("feed_id", "uid", "start", "end", "all_day", "kind", "changed_at", "kind_override")


class UnknownChannel(ValueError):
    """The ``for`` parameter names no known channel."""


@dataclass(frozen=True)
class ExportEvent:
    export_uid: str
    start: object  # date for all-day events, else an aware UTC datetime
    end: object
    all_day: bool
    summary: str
    dtstamp: datetime


@dataclass(frozen=True)
class ExportDocument:
    """A variant's validators; ``body`` is None when they were known without building it."""

    listing_id: int
    variant: str
    digest: str
    last_modified: datetime
    body: bytes | None = None

    @property
    def etag(self) -> str:
        return f'"{self.digest[:40]}"'

    @property
    def gzip_etag(self) -> str:
        """The gzip-encoded representation's own (strong) validator."""
        return f'"{self.digest[:40]}-gzip"'


def export_uid(feed_id: int, uid: str) -> str:
    """A stable UID for an imported event, in our own domain (so our echo is recognised)."""
    digest = hashlib.sha1(f"{feed_id}:{uid}".encode(), usedforsecurity=False).hexdigest()
    return f"{digest[:32]}@{EXPORT_DOMAIN}"


def listing_for_token(token: str, *, now: datetime | None = None) -> Listing | None:
    """The listing whose export link is ``token``: its current one, or the one it replaced
    while that is within its grace period (``previous_export_expires_at``), with its
    ExportVersion counter (``export_version_value``).

    One statement written out once (``_lookup_sql``): every poll of every channel comes
    here, and compiling the same ORM query each time cost ~0.5 ms of CPU, more than the
    rest of a 304."""
    if not token or len(token) > 64:
        return None
    now = now or timezone.now()
    if connection.vendor != "postgresql":  # no triggers there: no counter to read
        return Listing.objects.filter(
            Q(export_token=token)
            | Q(previous_export_token=token, previous_export_expires_at__gt=now)
        ).first()
    sql, columns = _lookup_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [token, token, now])
        row = cursor.fetchone()
    if row is None:
        return None
    values = dict(zip(columns, row, strict=True))
    state = values["export_state"]
    values["export_state"] = json.loads(state) if isinstance(state, str | bytes) else state
    version = values.pop("export_version_value")
    listing = Listing.from_db(connection.alias, list(values), list(values.values()))
    listing.export_version_value = version or 0
    return listing


@functools.cache
def _lookup_sql() -> tuple[str, tuple[str, ...]]:
    fields = Listing._meta.concrete_fields
    quote = connection.ops.quote_name
    listing, versions = quote(Listing._meta.db_table), quote(ExportVersion._meta.db_table)
    selected = ", ".join(f"{listing}.{quote(field.column)}" for field in fields)
    sql = (
        f"SELECT {selected}, {versions}.version FROM {listing} "  # noqa: S608 (names only)
        f"LEFT JOIN {versions} ON {versions}.listing_id = {listing}.id "
        f"WHERE {listing}.export_token = %s OR ({listing}.previous_export_token = %s "
        f"AND {listing}.previous_export_expires_at > %s) LIMIT 1"
    )
    return sql, (*(field.attname for field in fields), "export_version_value")


def _export_queryset(listing: Listing, *, leave_out: str | None, now: datetime):
    # The feed ids first: with them PostgreSQL reads the events through the feed index (a
    # join on the listing can make it scan every listing's events).
    feeds = Feed.objects.filter(listing=listing, export_back=True).order_by()
    if leave_out:
        feeds = feeds.exclude(source=leave_out)
    return (
        Event.objects.filter(
            feed_id__in=list(feeds.values_list("pk", flat=True)),
            blocking=True,
            echo_of__isnull=True,
            end__gte=now - timedelta(days=WINDOW_DAYS),
        )
        .exclude(status=EventStatus.CANCELLED)
        .exclude(all_day=False, end__lte=F("start"))
    )


def export_rows(listing: Listing, *, leave_out: str | None, now: datetime) -> list[tuple]:
    """What the body is built from: the listing's live, blocking events that ended less
    than WINDOW_DAYS ago, oldest first, as (feed_id, uid, start, end, all_day, kind,
    changed_at, kind_override). Left out: ``leave_out``'s feeds, feeds not exported back,
    echoes of our own export (``echo_of`` set), and timed events that hold no night in the
    listing's zone (a cleaning between check-out and check-in, an event of no length): they
    take nothing a guest could book, and channels that close every day an event touches
    would close a turnover day (some read a zero-length event as the whole day, or refuse
    the feed)."""
    qs = _export_queryset(listing, leave_out=leave_out, now=now)
    rows = qs.order_by(*ROW_ORDER).values_list(*ROW_FIELDS)
    window = StayWindow.of(listing)
    return [row for row in rows if row[4] or held_nights(row[2], row[3], False, window)]


def export_inputs(listing: Listing, *, leave_out: str | None, now: datetime) -> str:
    """A digest of everything the body depends on, without reading the rows: on PostgreSQL
    one aggregate (md5 of the rows as text, in body order), elsewhere from the rows."""
    return export_inputs_until(listing, leave_out=leave_out, now=now)[0]


def export_inputs_until(
    listing: Listing, *, leave_out: str | None, now: datetime
) -> tuple[str, datetime | None]:
    """``export_inputs``, and when the first of those rows leaves the window (None: no
    rows, nothing can leave)."""
    if connection.vendor != "postgresql":
        rows = export_rows(listing, leave_out=leave_out, now=now)
        return inputs_digest(listing, rows), _leaves_window(min((r[3] for r in rows), default=None))
    # concat_ws casts each column to text itself (one cheap expression to compile).
    line = Func(
        *(F(name) for name in ROW_FIELDS),
        template="concat_ws('|', %(expressions)s)",
        output_field=TextField(),
    )
    qs = _export_queryset(listing, leave_out=leave_out, now=now).order_by()
    found = qs.aggregate(
        d=MD5(StringAgg(line, delimiter="\n", order_by=ROW_ORDER)), first_end=Min("end")
    )
    return _name_digest(listing, found["d"] or ""), _leaves_window(found["first_end"])


def _leaves_window(end: datetime | None) -> datetime | None:
    if end is None or end > datetime.max.replace(tzinfo=UTC) - timedelta(days=WINDOW_DAYS):
        return None  # a block "until 9999-12-31" never leaves (and + 30 days overflows)
    return end + timedelta(days=WINDOW_DAYS)


def export_events(rows: list[tuple]) -> list[ExportEvent]:
    """The rows as the iCalendar builder wants them; guests' names stay private."""
    return [
        ExportEvent(
            export_uid=export_uid(feed_id, uid),
            start=start.date() if all_day else start,
            end=end.date() if all_day else end,
            all_day=all_day,
            summary="Reserved" if (override or kind) == EventKind.RESERVATION else "Not available",
            dtstamp=changed_at,
        )
        for feed_id, uid, start, end, all_day, kind, changed_at, override in rows
    ]


def render_body(listing: Listing, rows: list[tuple]) -> bytes:
    """The variant's iCalendar bytes (no clock: the same rows give the same bytes)."""
    return build_calendar(
        name=listing.name, events=export_events(rows), domain=EXPORT_DOMAIN, prodid=PRODID
    )


def inputs_digest(listing: Listing, rows: list[tuple]) -> str:
    """``export_inputs`` from rows already read (databases other than PostgreSQL)."""
    digest = hashlib.md5(usedforsecurity=False)
    for row in rows:
        digest.update(("|".join(map(str, row)) + "\n").encode())
    return _name_digest(listing, digest.hexdigest())


def _name_digest(listing: Listing, rows_digest: str) -> str:
    # The zone and stay times decide which timed events hold a night (export_rows).
    stay = f"{listing.timezone}\x00{listing.check_in_time}\x00{listing.check_out_time}"
    text = f"{FORMAT_VERSION}\x00{clean_text(listing.name)}\x00{stay}\x00{rows_digest}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def export_document(
    listing: Listing, *, leave_out: str | None = None, now: datetime | None = None
) -> ExportDocument:
    """The validators of the listing's export for ``leave_out`` (a Source value: that
    channel's events left out, for the URL given back to it), and records the fetch.

    A listing read by ``listing_for_token`` carries its ExportVersion counter: while the
    stored state was made at that counter (and no row has left the window since), the
    validators are the stored ones, with no query. Otherwise, when the rows are those the
    stored digest was made from (one aggregate), the body is not built either (the
    document's ``body`` is None; ``export_body`` gets it from the cache or builds it).
    Raises UnknownChannel.
    """
    if leave_out and leave_out not in Source.values:
        raise UnknownChannel(leave_out)
    now = now or timezone.now()
    variant = leave_out or ""
    state = (listing.export_state or {}).get(variant) or {}
    key = validity_key(listing)
    body = None
    if state_is_current(state, key, now):
        validators = {name: state.get(name) for name in ("inputs", "key", "fresh_until")}
        digest = state["digest"]
    else:
        inputs, until = export_inputs_until(listing, leave_out=leave_out, now=now)
        validators = {"inputs": inputs, "key": key, "fresh_until": _iso(until)}
        if state.get("inputs") == inputs and state.get("digest") and state.get("modified"):
            digest = state["digest"]
        else:
            body, digest = _build_body(listing, leave_out=leave_out, now=now)
    stale = any(state.get(name) != value for name, value in validators.items())
    if (
        stale
        or state.get("digest") != digest
        or _age(state.get("fetched"), now) >= (FETCH_RECORD_SECONDS)
    ):
        state = record_state(listing, variant, digest=digest, now=now, **validators)
    modified = datetime.fromisoformat(state["modified"])
    return ExportDocument(listing.pk, variant, digest, modified, body)


def validity_key(listing: Listing) -> str | None:
    """The listing's ExportVersion counter with its own exported fields and the format
    (None when it was not read with the listing, or off PostgreSQL: no triggers there)."""
    version = getattr(listing, "export_version_value", None)
    if version is None or connection.vendor != "postgresql":
        return None
    return _name_digest(listing, f"version {version}")


def state_is_current(state: dict, key: str | None, now: datetime) -> bool:
    """Whether a variant's stored state holds for ``key`` at ``now``."""
    if not key or state.get("key") != key or not state.get("digest"):
        return False
    until = state.get("fresh_until")
    return bool(state.get("modified")) and (until is None or now < datetime.fromisoformat(until))


def _build_body(listing: Listing, *, leave_out: str | None, now: datetime) -> tuple[bytes, str]:
    rows = export_rows(listing, leave_out=leave_out, now=now)
    body = render_body(listing, rows)
    digest = hashlib.sha256(body).hexdigest()
    _cache_body(listing.pk, digest, body)
    return body, digest


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def record_state(
    listing: Listing,
    variant: str,
    *,
    digest: str,
    inputs: str,
    now: datetime,
    key: str | None = None,
    fresh_until: str | None = None,
) -> dict:
    """Write the variant's state under a row lock (another worker may be answering another
    variant of the same listing): ``modified`` moves only when the digest changes, and then
    always forward (at least a second past the previous value). Returns the new state.

    An import holds the listing's row lock for its transaction: rather than wait for it,
    the state is worked out from what was read and saved by the next request (whose
    ``modified``, if the digest changed, is later still: it never goes back)."""
    with transaction.atomic():
        locked = (
            Listing.objects.select_for_update(skip_locked=True)
            .only("export_state")
            .filter(pk=listing.pk)
            .first()
        )
        states = dict((locked or listing).export_state or {})
        state = dict(states.get(variant) or {})
        if state.get("digest") != digest or not state.get("modified"):
            stamp = now.astimezone(UTC).replace(microsecond=0)
            if state.get("modified"):
                previous = datetime.fromisoformat(state["modified"])
                stamp = max(stamp, previous + timedelta(seconds=1))
            state["modified"] = stamp.isoformat()
        state.update(digest=digest, inputs=inputs, key=key, fresh_until=fresh_until)
        state["fetched"] = now.astimezone(UTC).isoformat()
        states[variant] = state
        if locked is not None:
            Listing.objects.filter(pk=listing.pk).update(export_state=states)
    listing.export_state = states
    return state


def export_body(listing: Listing, document: ExportDocument, *, gzipped: bool = False) -> bytes:
    """The document's body (gzip-compressed when asked): from this process's few hottest
    bodies, else the shared cache, else built.

    The shared cache holds the gzip form only (5-10 times smaller; inflating it costs far
    less than building the body): 10,000 listings with three variants each take ~150 MB.
    Both caches are keyed by the body's digest, so a change of the rows never serves an old
    body: the new validators name another key."""
    local_key = f"{_cache_key(listing.pk, document.digest)}:{int(gzipped)}"
    body = LOCAL_BODIES.get(local_key)
    if body is not None:
        return body
    packed = cache.get(_cache_key(listing.pk, document.digest))
    plain = None
    if packed is None:
        plain = document.body
        digest = document.digest
        if plain is None:
            # Not cached (evicted, expired): rebuild. The rows may have changed since the
            # validators were read: cache it under its own digest only (the next request
            # sees the new digest and answers 200 again).
            rows = export_rows(listing, leave_out=document.variant or None, now=timezone.now())
            plain = render_body(listing, rows)
            digest = hashlib.sha256(plain).hexdigest()
        packed = _cache_body(listing.pk, digest, plain)
        if digest != document.digest:
            return packed if gzipped else plain
    body = packed if gzipped else (plain if plain is not None else gzip.decompress(packed))
    LOCAL_BODIES.put(local_key, body)
    return body


class LocalBodies:
    """The most recently served bodies of this process, up to ``limit`` bytes (least
    recently used out first): a cached 200 then costs no round trip to Redis and no
    inflating. Thread-safe (gthread workers)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.limit // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self.size += len(body) - (len(old) if old is not None else 0)
            self._items[key] = body
            while self.size > self.limit:
                self.size -= len(self._items.popitem(last=False)[1])


LOCAL_BODIES = LocalBodies(LOCAL_BODIES_BYTES)


def _cache_key(listing_id: int, digest: str) -> str:
    return f"calendars:export:{listing_id}:{digest[:40]}:gz"


def _cache_body(listing_id: int, digest: str, body: bytes) -> bytes:
    """Cache ``body`` gzip-compressed under its digest; returns the compressed bytes."""
    packed = gzip.compress(body, compresslevel=6, mtime=0)
    cache.set(_cache_key(listing_id, digest), packed, BODY_CACHE_SECONDS)
    return packed


def _age(stamp: str | None, now: datetime) -> float:
    if not stamp:
        return float("inf")
    try:
        return (now - datetime.fromisoformat(stamp)).total_seconds()
    except (TypeError, ValueError):
        return float("inf")


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match header against our ETag."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def not_modified(document: ExportDocument, *, if_none_match: str, if_modified_since) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when sent; else If-Modified-Since (a parsed
    epoch second, or None) does: unchanged when the body's last change is not after it."""
    if if_none_match:
        # Either representation's tag: the client's stored copy is current either way.
        return etag_matches(if_none_match, document.etag) or etag_matches(
            if_none_match, document.gzip_etag
        )
    if if_modified_since is None:
        return False
    return int(document.last_modified.timestamp()) <= if_modified_since


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (RFC 9110 12.5.3: ``gzip`` or ``*``
    with a q-value above 0; an explicit ``gzip;q=0`` refuses it)."""
    weights: dict[str, float] = {}
    for item in (accept_encoding or "").lower().split(","):
        coding, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding.strip():
            weights[coding.strip()] = q
    q = weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0)))
    return q > 0
