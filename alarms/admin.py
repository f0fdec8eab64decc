"""Staff admin: alarms (with the engine's sync actions), briefings, and the queue view."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path

from alarms import selectors
from alarms.models import Alarm, Briefing
from alarms.services import clock
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
        "audio",
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
