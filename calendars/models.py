"""Listings, their iCal feeds, the events imported from them, and double bookings."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from syncing.models import SyncedItem
from syncing.validation import is_known_zone

# Events whose UID ends with "@" + this domain are our own export coming back (echo loops):
# the parser ignores them, the exporter writes every UID in it.
EXPORT_DOMAIN = "syncbeat.app"
FEED_URL_SCHEMES = ("http", "https", "webcal")
FEED_URL_MAX_LENGTH = 2000


def validate_timezone(value: str) -> None:
    """A zone of the zone database ("Europe/Lisbon"): a folder ("America") or an overlong
    name is refused like an unknown one (ZoneInfo would raise OSError for those)."""
    if not is_known_zone(value):
        raise ValidationError(f"{value[:64]!r} is not a known time zone (e.g. Europe/Lisbon).")


def validate_feed_url(value: str) -> None:
    """An absolute http, https or webcal URL with a host. Addresses are checked at fetch time."""
    if len(value) > FEED_URL_MAX_LENGTH:
        raise ValidationError(f"The URL is longer than {FEED_URL_MAX_LENGTH} characters.")
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in FEED_URL_SCHEMES or not parts.hostname:
        raise ValidationError("Enter an http, https or webcal URL of an iCal feed.")
    if parts.username or parts.password:
        raise ValidationError("Leave the user name and password out of the URL.")


def new_export_token() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits


class Source(models.TextChoices):
    AIRBNB = "airbnb", "Airbnb"
    VRBO = "vrbo", "VRBO"
    BOOKING = "booking", "Booking.com"
    GOOGLE = "google", "Google Calendar"
    OTHER = "other", "Other"


_SOURCE_HOSTS = (
    ("airbnb.", Source.AIRBNB),
    ("vrbo.", Source.VRBO),
    ("homeaway.", Source.VRBO),
    ("abritel.", Source.VRBO),
    ("fewo-direkt.", Source.VRBO),
    ("booking.com", Source.BOOKING),
    ("google.com", Source.GOOGLE),
    ("googleusercontent.com", Source.GOOGLE),
)


def guess_source(url: str) -> str:
    """The channel a feed URL belongs to, from its host (the feed farm's ?style= too)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for needle, source in _SOURCE_HOSTS:
        if needle in host:
            return source
    for value in Source.values:
        if f"style={value}" in parts.query:
            return value
    return Source.OTHER


class EventStatus(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    PENDING = "pending", "Pending"
    CANCELLED = "cancelled", "Cancelled"


class EventKind(models.TextChoices):
    """What an event is to the host. A double booking is two reservations on one night, or a
    reservation and a block from another channel; owner stays and maintenance (cleaning)
    are shown, never alarmed."""

    RESERVATION = "reservation", "Reservation"
    BLOCK = "block", "Block"
    OWNER_STAY = "owner_stay", "Owner stay"
    MAINTENANCE = "maintenance", "Maintenance or cleaning"


class Listing(models.Model):
    """A rental unit: its channels' feeds are merged and published under ``export_token``."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="listings"
    )
    name = models.CharField(max_length=200)
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text="Floating times in feeds are read in this zone.",
    )
    export_token = models.CharField(
        max_length=64, unique=True, default=new_export_token, editable=False
    )
    # After "new export link" the old token keeps answering until this time (a grace period
    # for the channels that still poll it).
    previous_export_token = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    previous_export_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A night is held by a timed event that overlaps [check-in on that day, check-out on the
    # next], in the listing's zone.
    check_in_time = models.TimeField(default=time(15, 0))
    check_out_time = models.TimeField(default=time(11, 0))
    # The export's validators per variant ("" for the whole feed, else the ?for= channel):
    # {"variant": {"digest": "...", "modified": "ISO 8601", "fetched": "ISO 8601"}}.
    # Last-Modified only rises, when a variant's body digest changes; "fetched" records which
    # channels poll the export (what our export sent where, for echo detection).
    export_state = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["owner", "name"], name="calendars_listing_owner")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("calendars:listing_month", args=[self.pk])

    @property
    def export_path(self) -> str:
        return reverse("calendars:export", args=[self.export_token])

    def regenerate_export_token(self) -> None:
        """Give the listing a new secret export URL. The old one keeps answering for
        ``settings.EXPORT_LINK_GRACE_DAYS`` (``previous_export_expires_at``); a second
        rotation within that time replaces it (only the link just replaced stays valid)."""
        grace = timedelta(days=settings.EXPORT_LINK_GRACE_DAYS)
        self.previous_export_token = self.export_token if grace else None
        self.previous_export_expires_at = timezone.now() + grace if grace else None
        self.export_token = new_export_token()
        self.save(
            update_fields=["export_token", "previous_export_token", "previous_export_expires_at"]
        )

    @property
    def previous_export_valid(self) -> bool:
        """Whether the link replaced last still answers (within its grace period)."""
        expires = self.previous_export_expires_at
        return bool(self.previous_export_token and expires and expires > timezone.now())


class ExportVersion(models.Model):
    """A counter per listing, raised by PostgreSQL triggers (migration 0006) in the same
    transaction as every write that can change the listing's export: any insert, delete or
    update of exported columns of its events, and a feed added, removed, moved or switched
    in ``export_back``/``source``. The export answers from its stored validators while the
    counter is the one they were made at (calendars.services.export), so no write path can
    forget to invalidate them. Not a foreign key in the database (triggers may raise it
    while Django deletes a listing); the row outlives its listing harmlessly."""

    listing = models.OneToOneField(
        Listing,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        primary_key=True,
        related_name="export_version",
    )
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.listing_id}: {self.version}"


class Feed(SyncedItem):
    """One channel's iCal feed of a listing; synced by the engine as kind calendars.feed."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="feeds")
    url = models.CharField(max_length=FEED_URL_MAX_LENGTH, validators=[validate_feed_url])
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.OTHER)
    name = models.CharField(max_length=200, blank=True, default="")
    export_back = models.BooleanField(
        default=True,
        help_text="Include this feed's events in the listing's merged export.",
    )
    # The digest of what reading each VEVENT depended on at the last import (the feed's
    # VCALENDAR properties and VTIMEZONEs, the listing's zone): when it changes, every
    # block is decoded again (calendars.ics.parse).
    parse_context_hash = models.CharField(max_length=32, blank=True, default="", editable=False)
    # Blank: each event's kind is read from the channel's wording; else every event of this
    # feed is of this kind (an owner's own calendar of cleanings, say).
    event_kind = models.CharField(
        max_length=16,
        choices=EventKind.choices,
        blank=True,
        default="",
        help_text="Leave empty to read each event's kind from the channel's wording.",
    )
    # The last import in words and figures: counts (events, created, updated, cancelled,
    # skipped), the skipped events and why, unknown zones, truncation, a held-back
    # cancellation. Shown on the feed's page and in the API.
    last_import = models.JSONField(default=dict, blank=True, editable=False)
    # A valid feed that suddenly held no future events: when it was first seen empty.
    # Nothing is cancelled until the next sync confirms it.
    empty_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SyncedItem.Meta):
        ordering = ["listing_id", "pk"]

    def __str__(self) -> str:
        return self.name or f"{self.get_source_display()} feed #{self.pk}"

    @property
    def label(self) -> str:
        return self.name or self.get_source_display()

    @property
    def last_import_at(self) -> datetime | None:
        """When the last import read the feed (``last_import["at"]``), if it says."""
        try:
            return datetime.fromisoformat(self.last_import["at"])
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def display_name(self) -> str:
        """The feed as its owner knows it: "Lake house · Airbnb"."""
        return f"{self.listing.name} · {self.label}"


class Event(models.Model):
    """A booking or a block imported from a feed, keyed by (feed, uid).

    ``start``/``end`` are UTC instants; an all-day event is stored as midnight UTC of its
    dates (``end`` exclusive: the checkout day) and turned back into dates on the way out.
    An event gone from its feed is kept, cancelled, with ``cancelled_at``.
    """

    # No index of its own: (feed, uid) and (feed, start) lead with it. No (feed, status)
    # either: every query of the import excludes cancelled rows (no index range), so it
    # served the API's ?feed=&status= filter alone, and cost ~28% of a bulk insert's time.
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="events", db_index=False)
    uid = models.CharField(max_length=512)
    start = models.DateTimeField()
    end = models.DateTimeField()
    all_day = models.BooleanField(default=False)
    summary = models.CharField(max_length=500, blank=True, default="")
    description = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=16, choices=EventStatus.choices, default=EventStatus.CONFIRMED
    )
    blocking = models.BooleanField(default=True)
    kind = models.CharField(max_length=16, choices=EventKind.choices, default=EventKind.BLOCK)
    # The owner's word on this event's kind; survives re-imports. Blank: ``kind`` as read.
    kind_override = models.CharField(
        max_length=16, choices=EventKind.choices, blank=True, default=""
    )
    # This event is our own export coming back from its channel (the same dates as an event
    # of another feed that our export sent there): never a conflict, never exported again.
    # Indexed where set only (``calendars_event_echo``): nearly every event is no echo, and
    # an index holding all those NULLs cost a write per event and, with stale statistics (a
    # table that just grew), was read whole for ``echo_of IS NULL`` (32,735 entries to find
    # a feed's 56 events).
    echo_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="echoes",
        db_index=False,
    )
    sequence = models.IntegerField(default=0)
    # A digest of the content fields: an import compares this instead of every column.
    fingerprint = models.CharField(max_length=32, blank=True, default="", editable=False)
    # A digest of the raw VEVENT text it was read from: an unchanged block is not decoded.
    raw_hash = models.CharField(max_length=32, blank=True, default="", editable=False)
    first_seen = models.DateTimeField(default=timezone.now)
    # Whether the feed's latest import held the event. Written only when that changes (a
    # changed import rewrote every row of the feed to bump a timestamp: ~94 row versions,
    # with their index entries, for each feed of 100 events where 6 had changed).
    in_feed = models.BooleanField(default=True, db_default=True, editable=False)
    # The last import whose body held the event, as of the row's last write: while
    # ``in_feed``, the feed's latest import holds it too (``seen_at``); once it has left,
    # this is the last import that held it. The last import that changed it: ``changed_at``.
    last_seen = models.DateTimeField(default=timezone.now)
    changed_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["feed", "uid"], name="calendars_event_feed_uid")
        ]
        indexes = [
            # A feed's events in a time range: a listing's check-ins soon (adaptive polling's
            # signal, after every sync), a feed's stays on a page.
            models.Index(fields=["feed", "start"], name="calendars_event_feed_start"),
            models.Index(fields=["start", "end"], name="calendars_event_span"),
            models.Index(
                fields=["echo_of"],
                name="calendars_event_echo",
                condition=models.Q(echo_of__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        """The summary and its dates (an all-day event) or its UTC minutes (a timed one)."""
        if self.all_day:
            return f"{self.summary or self.uid} ({self.start_value} to {self.end_value})"
        start, end = (value.astimezone(UTC) for value in (self.start, self.end))
        return f"{self.summary or self.uid} ({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC)"

    @property
    def seen_at(self):
        """The last import whose body held the event: the feed's latest import while the
        event is in it, else ``last_seen``."""
        at = self.feed.last_import_at if self.in_feed else None
        return max(self.last_seen, at) if at else self.last_seen

    @property
    def effective_kind(self) -> str:
        """The owner's word, else the feed's, else what the channel's wording said."""
        return self.kind_override or self.kind

    @property
    def start_value(self):
        """A date for all-day events, else the UTC instant."""
        return self.start.date() if self.all_day else self.start

    @property
    def end_value(self):
        return self.end.date() if self.all_day else self.end


class Conflict(models.Model):
    """A double booking: two events of one listing, from different feeds, that hold one
    night (in the listing's zone, calendars.services.nights) and are two reservations, or a
    reservation and a block or owner stay. Maintenance and echoes of our export never are.

    ``event_a`` has the smaller primary key. At most one open conflict per pair; it resolves
    itself when the events stop sharing a night, and a later overlap opens a new one.
    ``overlap_start``/``overlap_end`` (UTC) run from the check-in of the first shared night
    to the check-out after the last one, at the listing's times in its zone: an all-day stay
    of nights 12 and 13 in Lisbon shares 12 at 15:00 to 14 at 11:00 local.
    """

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="conflicts")
    event_a = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    event_b = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    overlap_start = models.DateTimeField()
    overlap_end = models.DateTimeField()
    detected_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    # The owner dismissed it (with a note); it stays dismissed while both events keep the
    # dates they had then (``dismissed_dates``, a digest of both spans).
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_note = models.CharField(max_length=500, blank=True, default="")
    dismissed_dates = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-detected_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_a", "event_b"],
                name="calendars_conflict_open_pair",
                condition=models.Q(resolved_at__isnull=True),
            ),
            models.CheckConstraint(
                condition=models.Q(event_a__lt=models.F("event_b")),
                name="calendars_conflict_ordered_pair",
            ),
        ]
        indexes = [
            models.Index(fields=["listing", "resolved_at"], name="calendars_conflict_listing")
        ]

    def __str__(self) -> str:
        state = "resolved" if self.resolved_at else "open"
        return f"Conflict #{self.pk} on {self.listing} ({state})"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class ArchivedEvent(models.Model):
    """An event that ended more than CALENDAR_ARCHIVE_AFTER_DAYS ago, moved out of the hot
    events table by calendars.services.archive (the import, conflicts, echoes and the export
    only ever read events that ended at most 30 days ago, so none of them needs these).

    What a host's history needs (when, which feed, what it was) and no more: no description
    (free text, often the guest's details), no digests. ``event_id`` is the event's old
    primary key: a second archive run of the same event writes nothing.
    """

    event_id = models.BigIntegerField(unique=True)
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="+")
    # The feed may be removed later; its history stays with the listing, under its label.
    feed = models.ForeignKey(
        Feed, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    feed_label = models.CharField(max_length=200, blank=True, default="")
    uid = models.CharField(max_length=512)
    start = models.DateTimeField()
    end = models.DateTimeField()
    all_day = models.BooleanField(default=False)
    summary = models.CharField(max_length=500, blank=True, default="")
    status = models.CharField(max_length=16, choices=EventStatus.choices)
    kind = models.CharField(max_length=16, choices=EventKind.choices)  # the effective kind
    echo = models.BooleanField(default=False)
    first_seen = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["start", "pk"]
        indexes = [
            models.Index(fields=["listing", "start"], name="calendars_archived_listing"),
        ]

    def __str__(self) -> str:
        return f"{self.summary or self.uid} ({self.start:%Y-%m-%d} to {self.end:%Y-%m-%d})"
