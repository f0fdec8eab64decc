"""Staff admin: alarms (with the engine's sync actions), briefings, and the queue view."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path

from alarms import selectors
from alarms.models import Alarm, AudioClip, Briefing, SpeechSpend
from alarms.services import budget, clock
from syncing.admin import SyncedItemAdminMixin


@admin.register(Alarm)
class AlarmAdmin(SyncedItemAdminMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "owner",
        "time",
        "timezone",
        "days_display",
        "date",
        "active",
        "next_ring_at",
        *SyncedItemAdminMixin.sync_list_display,
    ]
    list_filter = ["active", "timezone", *SyncedItemAdminMixin.sync_list_filter]
    search_fields = ["label", "owner__email", "owner__username"]
    raw_id_fields = ["owner"]
    readonly_fields = ["next_ring_at", *SyncedItemAdminMixin.sync_readonly_fields]
    show_full_result_count = False

    def get_urls(self):
        view = self.admin_site.admin_view(self.queue_view)
        return [path("queue/", view, name="alarms_alarm_queue"), *super().get_urls()]

    def queue_view(self, request):
        """Backlog by minute of ring time (next 2 h), on-time rate, late and failed counts."""
        now = clock.now()
        backlog = selectors.backlog_by_minute(now)
        context = {
            **self.admin_site.each_context(request),
            "title": "Briefing queue",
            "now": now,
            "backlog": backlog,
            "backlog_total": sum(row["count"] for row in backlog),
            "stats": selectors.delivery_stats(now),
        }
        return TemplateResponse(request, "alarms/admin/queue.html", context)


@admin.register(Briefing)
class BriefingAdmin(admin.ModelAdmin):
    list_display = [
        "alarm",
        "ring_at",
        "status",
        "engine",
        "duration_ms",
        "generated_at",
        "expires_at",
    ]
    list_filter = ["status", "engine"]
    search_fields = ["alarm__label", "alarm__owner__email"]
    raw_id_fields = ["alarm"]
    date_hierarchy = "ring_at"
    readonly_fields = [
        "alarm",
        "ring_at",
        "status",
        "script",
        "clip",
        "engine",
        "duration_ms",
        "error",
        "created_at",
        "generated_at",
        "expires_at",
    ]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(AudioClip)
class AudioClipAdmin(admin.ModelAdmin):
    """Stored audio, one row per distinct thing said; shared by the briefings that say it."""

    list_display = [
        "key_short",
        "kind",
        "engine",
        "characters",
        "size",
        "duration_ms",
        "created_at",
        "keep_until",
    ]
    list_filter = ["kind", "engine"]
    search_fields = ["key"]
    readonly_fields = [f.name for f in AudioClip._meta.fields]
    show_full_result_count = False

    @admin.display(description="key")
    def key_short(self, clip: AudioClip) -> str:
        return clip.key[:16]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SpeechSpend)
class SpeechSpendAdmin(admin.ModelAdmin):
    """Spend per UTC day per speech engine, against its budget (ALARMS_SPEECH_BUDGETS)."""

    list_display = [
        "day",
        "engine",
        "characters",
        "requests",
        "estimated_cost",
        "budget_used",
        "fallbacks",
    ]
    list_filter = ["engine"]
    date_hierarchy = "day"
    readonly_fields = ["day", "engine", "characters", "requests", "fallbacks"]

    @admin.display(description="estimated cost")
    def estimated_cost(self, row: SpeechSpend) -> str:
        per_million = budget.budget_for(row.engine).cost_per_million
        return f"{row.characters / 1_000_000 * per_million:.2f}" if per_million else "-"

    @admin.display(description="of budget")
    def budget_used(self, row: SpeechSpend) -> str:
        limits = budget.budget_for(row.engine)
        if not (limits.characters or limits.requests):
            return "no budget"
        return f"{100 * limits.share_used(row.characters, row.requests):.0f}%"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
