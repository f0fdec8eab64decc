"""REST representations of listings, feeds, events and conflicts (field names are contract)."""

from __future__ import annotations

from datetime import UTC

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calendars.models import (
    FEED_URL_MAX_LENGTH,
    Conflict,
    Event,
    Feed,
    Listing,
    Source,
    validate_feed_url,
    validate_timezone,
)
from syncing.serializers import SyncedItemStatusMixin


def absolute_url(request, path: str) -> str:
    if request is not None:
        return request.build_absolute_uri(path)
    from django.conf import settings

    return getattr(settings, "SITE_URL", "").rstrip("/") + path


def format_instant(value) -> str:
    """ISO 8601 UTC with a Z: 2025-07-01T15:00:00Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ListingSerializer(serializers.ModelSerializer):
    timezone = serializers.CharField(
        max_length=64, required=False, default="UTC", validators=[validate_timezone]
    )
    export_url = serializers.SerializerMethodField()

    class Meta:
        model = Listing
        fields = ["id", "name", "timezone", "export_url", "created_at"]
        read_only_fields = ["id", "export_url", "created_at"]

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


class FeedSerializer(SyncedItemStatusMixin, serializers.ModelSerializer):
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

    class Meta:
        model = Feed
        fields = [
            "id",
            "listing",
            "url",
            "source",
            "name",
            "export_back",
            "created_at",
            *SyncedItemStatusMixin.SYNC_STATUS_FIELDS,
        ]
        read_only_fields = ["id", "created_at", *SyncedItemStatusMixin.SYNC_STATUS_FIELDS]


class EventSerializer(serializers.ModelSerializer):
    listing = serializers.IntegerField(source="feed.listing_id", read_only=True)
    start = serializers.SerializerMethodField()
    end = serializers.SerializerMethodField()

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
        ]
        read_only_fields = fields

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
        ]
        read_only_fields = fields

    @extend_schema_field(EventSerializer(many=True))
    def get_events(self, conflict: Conflict) -> list[dict]:
        return EventSerializer([conflict.event_a, conflict.event_b], many=True).data
