"""Staff admin: products (sync now, pin tier), provider links, snapshots, tier changes."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet

from market.models import (
    PriceSnapshot,
    Product,
    ProductTier,
    ProviderLink,
    TierChange,
    Watch,
    WatchAlert,
)
from market.services.products import tier_pin, tier_unpin
from syncing.admin import SyncedItemAdminMixin
from syncing.humane import plural


class ProviderLinkInline(admin.TabularInline):
    model = ProviderLink
    extra = 0
    fields = ["provider", "external_id", "variant_ids"]


class TierChangeInline(admin.TabularInline):
    model = TierChange
    extra = 0
    fields = ["at", "from_tier", "to_tier", "reason", "by"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-at"]

    def has_add_permission(self, request, obj=None):
        return False


def _pin_action(tier: str):
    def action(modeladmin, request, queryset: QuerySet) -> None:
        changed = sum(1 for p in queryset if tier_pin(p, tier, by=request.user))
        modeladmin.message_user(
            request,
            f"{plural(queryset.count(), 'product')} pinned to {tier} ({changed} moved).",
            messages.SUCCESS,
        )

    action.__name__ = f"pin_{tier}"
    return admin.action(description=f"Pin tier: {tier}")(action)


@admin.register(Product)
class ProductAdmin(SyncedItemAdminMixin, admin.ModelAdmin):
    list_display = [
        "sku",
        "name",
        "brand",
        "primary_region",
        "tier_pinned",
        *SyncedItemAdminMixin.sync_list_display,
    ]
    list_filter = ["tier_pinned", "primary_region", *SyncedItemAdminMixin.sync_list_filter]
    search_fields = ["=sku", "name", "brand"]
    readonly_fields = ["created_at", *SyncedItemAdminMixin.sync_readonly_fields]
    raw_id_fields = ["created_by"]
    inlines = [ProviderLinkInline, TierChangeInline]
    show_full_result_count = False  # a count(*) over a million products is slow
    actions = [
        *SyncedItemAdminMixin.actions,
        *[_pin_action(t) for t in ProductTier.values],
        "unpin_action",
    ]

    @admin.action(description="Unpin tier (demand rules decide again)")
    def unpin_action(self, request, queryset: QuerySet) -> None:
        for product in queryset:
            tier_unpin(product)
        self.message_user(
            request, f"{plural(queryset.count(), 'product')} unpinned.", messages.SUCCESS
        )


@admin.register(ProviderLink)
class ProviderLinkAdmin(admin.ModelAdmin):
    list_display = ["product", "provider", "external_id"]
    list_filter = ["provider"]
    search_fields = ["=product__sku", "=external_id"]
    raw_id_fields = ["product"]


@admin.register(PriceSnapshot)
class PriceSnapshotAdmin(admin.ModelAdmin):
    list_display = [
        "captured_at",
        "product",
        "provider",
        "region",
        "size",
        "currency",
        "lowest_ask",
        "highest_bid",
        "last_sale",
        "sales_72h",
    ]
    list_filter = ["provider", "region"]
    search_fields = ["=product__sku"]
    raw_id_fields = ["product"]
    date_hierarchy = "captured_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TierChange)
class TierChangeAdmin(admin.ModelAdmin):
    list_display = ["at", "product", "from_tier", "to_tier", "reason", "by"]
    list_filter = ["to_tier", "from_tier"]
    search_fields = ["=product__sku", "reason"]
    raw_id_fields = ["product", "by"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Watch)
class WatchAdmin(admin.ModelAdmin):
    list_display = [
        "owner",
        "product",
        "direction",
        "threshold_price",
        "threshold_percent",
        "region",
        "crossed",
        "created_at",
    ]
    list_filter = ["direction", "crossed", "region"]
    search_fields = ["=product__sku", "owner__email"]
    raw_id_fields = ["owner", "product"]


@admin.register(WatchAlert)
class WatchAlertAdmin(admin.ModelAdmin):
    list_display = ["crossed_at", "watch", "price", "currency", "seen"]
    list_filter = ["seen"]
    raw_id_fields = ["watch"]
