"""Query filters for the calendars API (always applied on top of the owner's queryset)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import django_filters

from calendars.models import Conflict, Event, EventStatus, Feed, Source
from syncing.filtering import FilterSet


def _midnight(value):
    return datetime.combine(value, time.min, tzinfo=UTC)


class EventFilter(FilterSet):
    listing = django_filters.NumberFilter(field_name="feed__listing_id")
    feed = django_filters.NumberFilter(field_name="feed_id")
    status = django_filters.ChoiceFilter(choices=EventStatus.choices)
    start_after = django_filters.DateFilter(
        method="filter_start_after", label="Events starting on or after this date (YYYY-MM-DD)"
    )
    end_before = django_filters.DateFilter(
        method="filter_end_before", label="Events ending on or before this date (YYYY-MM-DD)"
    )

    class Meta:
        model = Event
        fields = ["listing", "feed", "status", "kind", "blocking", "all_day"]

    def filter_start_after(self, queryset, name, value):
        return queryset.filter(start__gte=_midnight(value))

    def filter_end_before(self, queryset, name, value):
        return queryset.filter(end__lte=_midnight(value))


class ConflictFilter(FilterSet):
    listing = django_filters.NumberFilter(field_name="listing_id")
    state = django_filters.ChoiceFilter(
        choices=[
            ("open", "Open (not dismissed)"),
            ("dismissed", "Dismissed by the owner, dates unchanged"),
            ("resolved", "Resolved"),
        ],
        method="filter_state",
    )

    class Meta:
        model = Conflict
        fields = ["listing", "state"]

    def filter_state(self, queryset, name, value):
        if value == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset.filter(resolved_at__isnull=True, dismissed_at__isnull=(value == "open"))


class FeedFilter(FilterSet):
    listing = django_filters.NumberFilter(field_name="listing_id")
    source = django_filters.ChoiceFilter(choices=Source.choices)

    class Meta:
        model = Feed
        fields = ["listing", "source", "paused"]
