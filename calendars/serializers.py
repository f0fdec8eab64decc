"""REST representations of listings, feeds, events and conflicts (field names are contract)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calendars.formatting import format_instant
from calendars.models import (
    FEED_URL_MAX_LENGTH,
    Conflict,
    Event,
    EventKind,
    Feed,
    Listing,
    Source,
    validate_feed_url,
    validate_timezone,
)
from calendars.services.import_summary import api_view
from syncing.serializers import BuiltFieldsMixin, FastRepresentationMixin, SyncedItemStatusMixin
from syncing.validation import validate_single_line


def absolute_url(request, path: str) -> str:
    if request is not None:
        return request.build_absolute_uri(path)
    from django.conf import settings

    return settings.SITE_URL.rstrip("/") + path


class ListingSerializer(FastRepresentationMixin, BuiltFieldsMixin, serializers.ModelSerializer):
    timezone = serializers.CharField(
        max_length=64, required=False, default="UTC", validators=[validate_timezone]
    )
    name = serializers.CharField(
        max_length=Listing._meta.get_field("name").max_length, validators=[validate_single_line]
    )
    export_url = serializers.SerializerMethodField()
    previous_export_expires_at = serializers.SerializerMethodField(
        help_text="After a new export link: until when the old one keeps working (else null)."
    )

    class Meta:
        model = Listing
        fields = [
            "id",
            "name",
            "timezone",
            "check_in_time",
            "check_out_time",
            "export_url",
            "previous_export_expires_at",
            "created_at",
        ]
        read_only_fields = ["id", "export_url", "previous_export_expires_at", "created_at"]

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_previous_export_expires_at(self, listing: Listing) -> str | None:
        if not listing.previous_export_valid:
            return None
        return serializers.DateTimeField().to_representation(listing.previous_export_expires_at)

    @extend_schema_field(OpenApiTypes.URI)
    def get_export_url(self, listing: Listing) -> str:
        """The merged calendar to paste into every channel (secret: anyone with it can read)."""
        return absolute_url(self.context.get("request"), listing.export_path)


class OwnerListingField(serializers.PrimaryKeyRelatedField):
    """A listing id, looked up among the requester's listings only: another owner's id reads
    as "does not exist", exactly like an id nobody has."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            return Listing.objects.none()
        return Listing.objects.filter(owner=request.user)


class SkippedEventSerializer(FastRepresentationMixin, serializers.Serializer):
    uid = serializers.CharField(help_text='The VEVENT\'s UID ("?" when unreadable).')
    reason = serializers.CharField(help_text="A reason code, e.g. bad_dtstart, own_export.")
    text = serializers.CharField(help_text="The reason in words.")


class LastImportSerializer(FastRepresentationMixin, serializers.Serializer):
    """The feed's last import (``Feed.last_import``), with the same in words."""

    at = serializers.DateTimeField()
    events = serializers.IntegerField(help_text="Events and occurrences in the feed.")
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    renamed = serializers.IntegerField(help_text="Events back under a new UID, same dates.")
    skipped = SkippedEventSerializer(many=True, help_text="The first 500 skipped VEVENTs.")
    skipped_count = serializers.IntegerField()
    unknown_tzids = serializers.ListField(child=serializers.CharField())
    left_out = serializers.IntegerField(help_text="Events left out by the event cap.")
    truncated = serializers.BooleanField()
    covered_until = serializers.DateTimeField(
        allow_null=True, help_text="Nothing from here on was imported (the cap); null: all."
    )
    held_back = serializers.IntegerField(
        help_text="Bookings not cancelled because the feed suddenly had no future events."
    )
    kept = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Events missing from the feed but kept, by reason (ended, unreadable, ...).",
    )
    summary = serializers.CharField(help_text='"30 events: 2 new, 1 changed, 3 skipped"')
    notes = serializers.ListField(child=serializers.CharField())


# One per process, shared by every feed row: making a serializer's fields (deep copies of the
# declared ones, on first use) cost more than a feed's whole row; representing only reads them.
LAST_IMPORT = LastImportSerializer()


class FeedSerializer(
    FastRepresentationMixin, BuiltFieldsMixin, SyncedItemStatusMixin, serializers.ModelSerializer
):
    listing = OwnerListingField()
    url = serializers.CharField(max_length=FEED_URL_MAX_LENGTH, validators=[validate_feed_url])
    source = serializers.ChoiceField(
        choices=Source.choices,
        required=False,
        allow_blank=True,
        help_text="The channel; guessed from the URL when left out.",
    )
    # An explicit default: form-encoded requests that leave it out mean True, not False.
    export_back = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Include this feed's events in the listing's merged export.",
    )
    event_kind = serializers.ChoiceField(
        choices=EventKind.choices,
        required=False,
        allow_blank=True,
        help_text="Every event of this feed is of this kind; empty: read from each event's "
        "wording.",
    )
    last_import = serializers.SerializerMethodField()
    empty_since = serializers.DateTimeField(
        read_only=True,
        help_text="The feed suddenly held no future events (nothing cancelled until the next "
        "sync confirms it); null otherwise.",
    )
    change_rate = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="Adaptive polling: the feed's estimated changes per hour, learnt from its "
        "own syncs; null until it has been synced twice.",
    )
    effective_interval_seconds = serializers.SerializerMethodField(
        help_text="Adaptive polling: seconds between checks the feed earned at its last sync "
        "(within the plan's bounds); null: the plan's fixed interval."
    )

    class Meta:
        model = Feed
        fields = [
            "id",
            "listing",
            "url",
            "source",
            "name",
            "export_back",
            "event_kind",
            "created_at",
            *SyncedItemStatusMixin.SYNC_STATUS_FIELDS,
            "last_import",
            "empty_since",
            "change_rate",
            "effective_interval_seconds",
        ]
        read_only_fields = ["id", "created_at", *SyncedItemStatusMixin.SYNC_STATUS_FIELDS]

    @extend_schema_field(OpenApiTypes.INT)
    def get_effective_interval_seconds(self, feed: Feed) -> int | None:
        interval = feed.effective_interval
        return int(interval.total_seconds()) if interval else None

    @extend_schema_field(LastImportSerializer(allow_null=True))
    def get_last_import(self, feed: Feed) -> dict | None:
        """null before the first import that read the feed."""
        if not feed.last_import:
            return None
        return LAST_IMPORT.to_representation(api_view(feed.last_import))


class EventSerializer(FastRepresentationMixin, BuiltFieldsMixin, serializers.ModelSerializer):
    listing = serializers.IntegerField(source="feed.listing_id", read_only=True)
    start = serializers.SerializerMethodField()
    end = serializers.SerializerMethodField()
    effective_kind = serializers.CharField(read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "uid",
            "feed",
            "listing",
            "start",
            "end",
            "all_day",
            "summary",
            "status",
            "blocking",
            "kind",
            "kind_override",
            "effective_kind",
            "echo_of",
        ]
        # Only the owner's word on the kind is written (PATCH).
        read_only_fields = [name for name in fields if name != "kind_override"]
        extra_kwargs = {
            "kind": {"help_text": "As read from the channel's wording (or the feed's kind)."},
            "kind_override": {
                "help_text": "The owner's kind for this event; empty: the kind as read."
            },
            "echo_of": {
                "help_text": "Set when this block is our own export coming back from its "
                "channel (the event it copies): never a double booking, never exported."
            },
        }

    @extend_schema_field(
        {"type": "string", "description": "YYYY-MM-DD (all-day) or an ISO 8601 UTC instant"}
    )
    def get_start(self, event: Event) -> str:
        return event.start.date().isoformat() if event.all_day else format_instant(event.start)

    @extend_schema_field(
        {
            "type": "string",
            "description": "YYYY-MM-DD, exclusive (all-day) or an ISO 8601 UTC instant",
        }
    )
    def get_end(self, event: Event) -> str:
        return event.end.date().isoformat() if event.all_day else format_instant(event.end)


class ConflictDismissSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why this double booking is fine (shown on the conflicts page).",
    )


class ConflictSerializer(serializers.ModelSerializer):
    events = serializers.SerializerMethodField()
    open = serializers.BooleanField(source="is_open", read_only=True)

    class Meta:
        model = Conflict
        fields = [
            "id",
            "listing",
            "event_a",
            "event_b",
            "events",
            "overlap_start",
            "overlap_end",
            "detected_at",
            "resolved_at",
            "open",
            "dismissed_at",
            "dismissed_note",
        ]
        read_only_fields = fields

    @extend_schema_field(EventSerializer(many=True))
    def get_events(self, conflict: Conflict) -> list[dict]:
        return EventSerializer([conflict.event_a, conflict.event_b], many=True).data
