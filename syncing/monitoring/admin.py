"""Staff admin for alert rules (editable), alerts and webhooks (read-mostly).

Imported by syncing/admin.py (``from syncing.monitoring import admin as _monitoring_admin``).
"""

from __future__ import annotations

from django.contrib import admin

from syncing.monitoring.models import Alert, AlertRule
from syncing.webhooks.models import WebhookDelivery, WebhookEndpoint


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "metric", "threshold", "window", "kind", "enabled", "notify_email"]
    list_editable = ["threshold", "enabled"]
    list_filter = ["metric", "enabled"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["opened_at", "rule", "subject", "message", "resolved_at"]
    list_filter = ["rule", ("resolved_at", admin.EmptyFieldListFilter)]
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "owner", "enabled", "failing_since", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "owner__username"]
    raw_id_fields = ["owner"]
    readonly_fields = ["failing_since", "disabled_reason"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event_type", "endpoint", "status", "attempts", "response_status"]
    list_filter = ["status", "event_type"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False
