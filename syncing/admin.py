"""Staff admin for the engine: tiers, attempts (read-only), accounts, and a mixin that
gives every synced item's admin the same actions (sync now, pause, resume, change tier)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils import timezone

from syncing.humane import plural
from syncing.kinds import kind_for_model
from syncing.models import Account, Probe, SyncAttempt, Tier
from syncing.monitoring import admin as _monitoring_admin  # noqa: F401  (alert rules, webhooks)
from syncing.services.dispatch import sync_now


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    """Renaming or re-timing a tier carries its items and its periodic task along (Tier.save);
    its kind and its key (the first name, by which code names it) are fixed once created."""

    list_display = ["kind", "name", "key", "interval", "batch_limit", "dispatch_every", "enabled"]
    list_filter = ["kind", "enabled"]
    list_editable = ["interval", "batch_limit", "enabled"]

    def get_readonly_fields(self, request, obj: Tier | None = None):
        if obj is None:
            return ["key", "periodic_task"]
        return ["kind", "key", "periodic_task"]


@admin.register(SyncAttempt)
class SyncAttemptAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "kind",
        "item_id",
        "tier",
        "outcome",
        "reason",
        "http_status",
        "duration_ms",
        "bytes",
        "items_changed",
    ]
    list_filter = ["outcome", "kind", "tier", "reason"]
    search_fields = ["=item_id", "reason", "message"]
    date_hierarchy = "started_at"
    show_full_result_count = False  # a count(*) over millions of attempts is slow

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["user", "plan", "created_at"]
    list_filter = ["plan"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]

    def save_model(self, request, obj: Account, form, change) -> None:
        """A plan change moves the owner's items to the plan's tiers."""
        from syncing.plans import account_set_plan

        if change and "plan" in form.changed_data:
            account_set_plan(obj.user, obj.plan)
        else:
            super().save_model(request, obj, form, change)


class PausedFilter(admin.SimpleListFilter):
    title = "sync state"
    parameter_name = "sync_state"

    def lookups(self, request, model_admin):
        return [("paused", "Paused"), ("failing", "Failing"), ("never", "Never synced")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "paused":
            return queryset.filter(paused=True)
        if value == "failing":
            return queryset.filter(paused=False, consecutive_failures__gt=0)
        if value == "never":
            return queryset.filter(last_synced_at__isnull=True)
        return queryset


class SyncedItemAdminMixin:
    """Actions and columns for any model that inherits SyncedItem."""

    sync_list_display = [
        "tier",
        "next_sync_at",
        "last_success_at",
        "consecutive_failures",
        "paused",
    ]
    sync_list_filter = [PausedFilter, "tier"]
    sync_readonly_fields = [
        "next_sync_at",
        "last_synced_at",
        "last_success_at",
        "consecutive_failures",
        "last_error",
        "leased_until",
        "lease_token",
        "etag",
        "last_modified",
        "content_hash",
    ]
    actions = ["sync_now_action", "pause_action", "resume_action", "change_tier_action"]

    @admin.action(description="Sync now")
    def sync_now_action(self, request, queryset: QuerySet) -> None:
        kind = kind_for_model(queryset.model)
        queued = sum(
            sync_now(kind.name, pk, force=True) for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request, f"{plural(queued, 'item')} queued at the front.", messages.SUCCESS
        )

    @admin.action(description="Pause syncing")
    def pause_action(self, request, queryset: QuerySet) -> None:
        # Owners read pause_reason: it names no staff member; who did it is in the admin log.
        for item in queryset:
            self.log_change(request, item, "Paused syncing")
        n = queryset.update(paused=True, pause_reason="Paused by staff.")
        self.message_user(request, f"{plural(n, 'item')} paused.", messages.SUCCESS)

    @admin.action(description="Change tier…")
    def change_tier_action(self, request, queryset: QuerySet):
        """An intermediate page: pick one of the kind's tiers, then apply it."""
        from django.template.response import TemplateResponse

        kind = kind_for_model(queryset.model)
        tiers = list(Tier.objects.filter(kind=kind.name).values_list("name", flat=True))
        chosen = request.POST.get("tier")
        if chosen:
            if chosen not in tiers:
                self.message_user(request, f"Unknown tier {chosen!r}.", messages.ERROR)
                return None
            n = queryset.update(tier=chosen, next_sync_at=timezone.now())
            self.message_user(
                request, f"{plural(n, 'item')} moved to tier {chosen}.", messages.SUCCESS
            )
            return None
        return TemplateResponse(
            request,
            "admin/syncing/change_tier.html",
            {
                **self.admin_site.each_context(request),
                "title": "Change tier",
                "queryset": queryset,
                "tiers": tiers,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Resume syncing (due now)")
    def resume_action(self, request, queryset: QuerySet) -> None:
        n = queryset.update(
            paused=False, pause_reason="", consecutive_failures=0, next_sync_at=timezone.now()
        )
        self.message_user(request, f"{plural(n, 'item')} resumed.", messages.SUCCESS)


@admin.register(Probe)
class ProbeAdmin(SyncedItemAdminMixin, admin.ModelAdmin):
    list_display = ["name", "mode", *SyncedItemAdminMixin.sync_list_display]
    list_filter = ["mode", *SyncedItemAdminMixin.sync_list_filter]
    search_fields = ["name"]
    readonly_fields = SyncedItemAdminMixin.sync_readonly_fields
    raw_id_fields = ["owner"]
