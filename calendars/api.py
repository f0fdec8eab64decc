"""The calendars REST API: listings, feeds (with sync now), events and conflicts.

Every queryset is the requester's own: another owner's object is a 404, never a 403.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from calendars.filters import ConflictFilter, EventFilter, FeedFilter
from calendars.models import Conflict, Event, Feed, Listing
from calendars.serializers import (
    ConflictDismissSerializer,
    ConflictSerializer,
    EventSerializer,
    FeedSerializer,
    ListingSerializer,
)
from calendars.services import dismissals as dismissal_services
from calendars.services import kinds as kind_services
from calendars.services import listings as listing_services
from calendars.services.conflicts import refresh_conflicts
from syncing.api import OwnerScopedMixin

# An event list shows of each event's feed the listing alone, and not all of the event: the
# rest (the feed's two JSON documents, a dozen timestamps, the description) took a quarter
# of a page's time to load.
EVENT_COLUMNS_UNSHOWN = (
    *(
        field.name
        for field in Event._meta.concrete_fields
        if field.name not in EventSerializer.Meta.fields and field.name != "feed"
    ),
    *(
        f"feed__{field.name}"
        for field in Feed._meta.concrete_fields
        if field.name not in ("id", "listing")
    ),
)
# What decides a listing's nights: changing any re-decides its double bookings.
STAY_FIELDS = ("timezone", "check_in_time", "check_out_time")
SyncAccepted = inline_serializer(
    "FeedSyncAccepted",
    {"queued": serializers.BooleanField(), "detail": serializers.CharField()},
)
SyncAllAccepted = inline_serializer(
    "FeedsSyncAllAccepted",
    {
        "queued": serializers.IntegerField(help_text="Feeds put at the front of the queue."),
        "already_syncing": serializers.IntegerField(),
        "paused": serializers.IntegerField(
            help_text="Paused feeds, left paused: resume them first."
        ),
        "detail": serializers.CharField(),
    },
)
SYNC_ALL_SCHEMA = extend_schema(
    request=None,
    responses={
        202: SyncAllAccepted,
        429: OpenApiResponse(description="Over the plan's manual syncs per hour; see Retry-After."),
    },
)


def sync_all_response(outcome: listing_services.ManualSyncAll) -> Response:
    """202 with what was queued, or 429 with Retry-After past the hourly allowance."""
    if not outcome.accepted:
        return Response(
            {"detail": "Manual sync allowance for this hour used up; try again later."},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(outcome.retry_after)},
        )
    body = {
        "queued": outcome.queued,
        "already_syncing": outcome.already,
        "paused": outcome.paused,
        "detail": outcome.detail,
    }
    return Response(body, status=status.HTTP_202_ACCEPTED)


class ListingViewSet(OwnerScopedMixin, viewsets.ModelViewSet):
    """The owner's listings. `export_url` is the merged calendar to give every channel."""

    queryset = Listing.objects.order_by("name", "pk")
    serializer_class = ListingSerializer
    owner_field = "owner"

    def perform_create(self, serializer):
        try:
            serializer.instance = listing_services.listing_create(
                owner=self.request.user,
                name=serializer.validated_data["name"],
                timezone_name=serializer.validated_data.get("timezone", "UTC"),
            )
        except listing_services.AllowanceExceeded as exc:
            raise ValidationError({"detail": str(exc)})
        times = {
            name: serializer.validated_data[name]
            for name in ("check_in_time", "check_out_time")
            if name in serializer.validated_data
        }
        if times:
            Listing.objects.filter(pk=serializer.instance.pk).update(**times)
            for name, value in times.items():
                setattr(serializer.instance, name, value)

    def perform_update(self, serializer):
        before = {name: getattr(serializer.instance, name) for name in STAY_FIELDS}
        listing = serializer.save()
        if any(getattr(listing, name) != value for name, value in before.items()):
            refresh_conflicts(listing.pk, None)  # nights are read in the zone, at these times

    @extend_schema(request=None, responses={200: ListingSerializer})
    @action(detail=True, methods=["post"], url_path="regenerate-export-url")
    def regenerate_export_url(self, request, pk=None):
        """A new secret export URL; the old one keeps working for EXPORT_LINK_GRACE_DAYS
        (7 by default), then answers 404."""
        listing = self.get_object()
        listing.regenerate_export_token()
        return Response(self.get_serializer(listing).data)

    @SYNC_ALL_SCHEMA
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Sync all this listing's feeds now (one manual sync against the hourly allowance)."""
        listing = self.get_object()
        return sync_all_response(
            listing_services.request_manual_sync_all(owner=request.user, listing=listing)
        )


class FeedViewSet(OwnerScopedMixin, viewsets.ModelViewSet):
    """The owner's feeds, one per channel and listing. Status fields are read-only."""

    queryset = Feed.objects.order_by("pk")
    serializer_class = FeedSerializer
    owner_field = "listing__owner"
    filterset_class = FeedFilter

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = listing_services.feed_create(
                listing=data["listing"],
                url=data["url"],
                source=data.get("source", ""),
                name=data.get("name", ""),
                export_back=data.get("export_back", True),
            )
        except listing_services.AllowanceExceeded as exc:
            raise ValidationError({"detail": str(exc)})
        if data.get("event_kind"):
            kind_services.feed_set_event_kind(serializer.instance, data["event_kind"])

    def perform_update(self, serializer):
        old_kind = serializer.instance.event_kind
        serializer.instance = listing_services.feed_update(
            serializer.instance, changes=dict(serializer.validated_data)
        )
        if serializer.instance.event_kind != old_kind:
            kind_services.apply_feed_kind(serializer.instance)

    def perform_destroy(self, instance):
        listing_services.feed_delete(instance)

    @extend_schema(
        request=None,
        responses={
            202: SyncAccepted,
            429: OpenApiResponse(
                description="Over the plan's manual syncs per hour; see Retry-After."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Sync this feed now, at the front of the queue (counts against the hourly allowance)."""
        feed = self.get_object()
        # Through the API, asking for a sync of a paused feed is trying again: it resumes.
        outcome = listing_services.request_manual_sync(feed, owner=request.user, resume=True)
        if not outcome.accepted:
            return Response(
                {"detail": "Manual sync allowance for this hour used up; try again later."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(outcome.retry_after)},
            )
        detail = "Sync queued." if outcome.queued else "A sync of this feed is already under way."
        return Response(
            {"queued": outcome.queued, "detail": detail}, status=status.HTTP_202_ACCEPTED
        )

    @SYNC_ALL_SCHEMA
    @action(detail=False, methods=["post"], url_path="sync-all")
    def sync_all(self, request):
        """Sync all the account's feeds now (one manual sync against the hourly allowance)."""
        return sync_all_response(listing_services.request_manual_sync_all(owner=request.user))


class EventViewSet(OwnerScopedMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Events imported from the owner's feeds. All-day `start`/`end` are dates (end exclusive).

    PATCH sets the owner's word on an event's kind (`kind_override`, "" to clear); it
    survives re-imports and decides the listing's double bookings at once."""

    queryset = Event.objects.select_related("feed").order_by("start", "pk")
    serializer_class = EventSerializer
    owner_field = "feed__listing__owner"
    filterset_class = EventFilter
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        rows = super().get_queryset()
        if self.action == "list":
            rows = rows.defer(*EVENT_COLUMNS_UNSHOWN)
        return rows

    def perform_update(self, serializer):
        kind = serializer.validated_data.get("kind_override")
        if kind is not None:
            kind_services.event_set_kind(serializer.instance, kind)


class ConflictViewSet(OwnerScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Double bookings: two events of one listing, from different feeds, holding one night in
    the listing's zone: two reservations, or a reservation and a block or owner stay.
    `overlap_start`/`overlap_end`: the first shared night's check-in to the last one's
    check-out. Dismissed ones (`dismissed_at`) stay open but alert no more."""

    queryset = Conflict.objects.select_related("event_a__feed", "event_b__feed").order_by(
        "-detected_at", "pk"
    )
    serializer_class = ConflictSerializer
    owner_field = "listing__owner"
    filterset_class = ConflictFilter

    @extend_schema(request=ConflictDismissSerializer, responses={200: ConflictSerializer})
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        """Dismiss this double booking with a note: no alerts, not counted as open, while
        both events keep their dates (if either moves, it comes back as a new conflict)."""
        conflict = self.get_object()
        data = ConflictDismissSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            dismissal_services.conflict_dismiss(conflict, note=data.validated_data["note"])
        except dismissal_services.NotOpen as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(self.get_object()).data)
