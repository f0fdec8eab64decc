"""Staff admin: listings, feeds (sync now, pause, resume, change tier), events, conflicts."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value
from django.db.models import QuerySet
from django.utils import timezone

from calendars.kinds import FEED_KIND
from calendars.models import ArchivedEvent, Conflict, Event, Feed, Listing
from syncing.admin import SyncedItemAdminMixin
from syncing.humane import plural
from syncing.kinds import get_kind
from syncing.services.tiers import tier_name


class FeedInline(admin.TabularInline):
    model = Feed
    fields = ["source", "name", "url", "tier", "paused", "last_success_at"]
    readonly_fields = ["last_success_at"]
    extra = 0
    show_change_link = True


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "timezone", "created_at"]
    list_filter = ["timezone"]
    search_fields = ["name", "owner__username", "owner__email", "=export_token"]
    raw_id_fields = ["owner"]
    readonly_fields = ["export_token", "created_at"]
    inlines = [FeedInline]
    actions = ["regenerate_export_tokens"]

    @admin.action(description="Regenerate the export link (the old one works for a grace period)")
    def regenerate_export_tokens(self, request, queryset: QuerySet) -> None:
        for listing in queryset:
            listing.regenerate_export_token()
        self.message_user(
            request, f"{plural(queryset.count(), 'export link')} regenerated.", messages.SUCCESS
        )


def _tier_action(key: str):
    """Move feeds to the tier whose stable key is ``key``, under its current name (staff
    may have renamed it, or it follows its interval)."""

    def action(modeladmin, request, queryset: QuerySet) -> None:
        name = tier_name(FEED_KIND, key)
        # Due now, so the new pace starts from a fresh sync rather than the old phase.
        n = queryset.update(tier=name, next_sync_at=timezone.now())
        modeladmin.message_user(
            request, f"{plural(n, 'feed')} moved to tier {name}.", messages.SUCCESS
        )

    action.__name__ = f"set_tier_{key}"
    return action


@admin.register(Feed)
class FeedAdmin(SyncedItemAdminMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "listing",
        "source",
        *SyncedItemAdminMixin.sync_list_display,
        "adaptive_polling",
    ]
    list_filter = ["source", "export_back", *SyncedItemAdminMixin.sync_list_filter]
    search_fields = ["url", "name", "listing__name", "listing__owner__email"]
    raw_id_fields = ["listing"]
    readonly_fields = [
        "created_at",
        "last_import",
        "empty_since",
        *SyncedItemAdminMixin.sync_readonly_fields,
        "change_rate",
        "effective_interval",
        "change_stats",
    ]
    list_select_related = ["listing"]

    @admin.display(description="Adaptive polling", ordering="effective_interval")
    def adaptive_polling(self, feed: Feed) -> str:
        """The effective interval and the learnt change rate, in words."""
        return feed.polling_words or "Plan's interval"

    def get_actions(self, request):
        actions = super().get_actions(request)
        for spec in get_kind(FEED_KIND).tiers:
            func = _tier_action(spec.name)
            label = f"Change tier to {tier_name(FEED_KIND, spec.name)}"
            actions[func.__name__] = (func, func.__name__, label)
        return actions


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = [
        "uid",
        "feed",
        "start",
        "end",
        "all_day",
        "status",
        "blocking",
        "kind",
        "kind_override",
        "echo_of",
        "in_feed",
        "seen",
    ]
    list_filter = [
        "status",
        "kind",
        "kind_override",
        "blocking",
        "all_day",
        "in_feed",
        "feed__source",
    ]
    search_fields = ["uid", "summary", "feed__listing__name", "feed__url"]
    raw_id_fields = ["feed", "echo_of"]
    date_hierarchy = "start"
    readonly_fields = ["first_seen", "in_feed", "seen", "changed_at", "cancelled_at"]
    # Shown as "last seen" (``seen``): the raw column is stale while the event is in its feed.
    exclude = ["last_seen"]
    list_select_related = ["feed", "echo_of"]
    show_full_result_count = False

    @admin.display(description="last seen")
    def seen(self, event: Event) -> str:
        """The last import whose body held the event (Event.seen_at), formatted as the
        admin shows any date (a read-only field of a method is shown as its plain text)."""
        return display_for_value(event.seen_at, self.get_empty_value_display())


@admin.register(ArchivedEvent)
class ArchivedEventAdmin(admin.ModelAdmin):
    """Past bookings moved out of the events table (calendars.services.archive): read only."""

    list_display = ["uid", "listing", "feed_label", "start", "end", "status", "kind", "echo"]
    list_filter = ["status", "kind", "echo", "all_day"]
    search_fields = ["uid", "summary", "listing__name"]
    date_hierarchy = "start"
    list_select_related = ["listing"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() in ("open", "resolved"):
            return queryset.filter(resolved_at__isnull=self.value() == "open")
        return queryset


@admin.register(Conflict)
class ConflictAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "listing",
        "overlap_start",
        "overlap_end",
        "detected_at",
        "resolved_at",
        "notified_at",
        "dismissed_at",
    ]
    list_filter = [OpenFilter, "detected_at"]
    readonly_fields = ["dismissed_dates"]
    search_fields = ["listing__name", "listing__owner__email", "event_a__uid", "event_b__uid"]
    raw_id_fields = ["listing", "event_a", "event_b"]
    list_select_related = ["listing"]
