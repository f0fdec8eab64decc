"""The market.product kind's sync: every linked provider, every region asked for.

One item sync fetches each provider the product is linked to, for its primary region and
the secondary regions its watchers ask for. Providers are independent: one that is down
(5xx, timeout, 429 past the retries) is recorded in the attempt's counts and the others'
prices are saved; the item fails only when every provider failed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from market.models import PriceSnapshot, Product, ProviderLink, Watch
from market.providers.base import PriceQuote
from market.providers.registry import UnknownProvider, get_provider
from market.services.watches import evaluate_watches
from syncing.results import (
    PermanentSyncError,
    SyncContext,
    SyncError,
    SyncResult,
    TransientSyncError,
)

logger = logging.getLogger(__name__)

SNAPSHOT_FIELDS = ["currency", "lowest_ask", "highest_bid", "last_sale", "sales_72h"]


def regions_for(product: Product) -> list[str]:
    """The primary region first, then the other regions the product's watchers ask for."""
    wanted = (
        Watch.objects.filter(product=product)
        .exclude(region="")
        .exclude(region=product.primary_region)
        .values_list("region", flat=True)
        .distinct()
    )
    return [product.primary_region, *sorted(set(wanted))]


def sync_product(product: Product, ctx: SyncContext) -> SyncResult:
    """Fetch every provider, save what worked, alert watchers whose threshold was crossed.

    Raises TransientSyncError / PermanentSyncError only when all providers failed (the
    reason, status and Retry-After of the last failure; transient if any was transient).
    """
    links = list(ProviderLink.objects.filter(product=product).select_related("product"))
    if not links:
        return SyncResult(outcome="skipped", reason="no_providers", message="No provider links.")
    regions = regions_for(product)
    quotes: list[PriceQuote] = []
    outcomes: dict[str, str] = {}
    errors: list[tuple[str, SyncError]] = []
    changed_links: list[ProviderLink] = []
    for link in links:  # slow I/O first, outside any transaction
        before = (link.external_id, dict(link.variant_ids))
        try:
            got = get_provider(link.provider).fetch_prices(link, regions)
        except UnknownProvider as exc:
            error: SyncError = PermanentSyncError("unknown_provider", str(exc))
        except SyncError as exc:
            error = exc
        else:
            quotes.extend(got)
            outcomes[link.provider] = "ok"
            if (link.external_id, link.variant_ids) != before:
                changed_links.append(link)
            continue
        outcomes[link.provider] = error.reason
        errors.append((link.provider, error))
        logger.info("market %s: provider %s failed: %s", product.sku, link.provider, error.reason)

    counts = {"providers": outcomes, "regions": regions}
    # The fetcher's short retries of the providers that failed (a success's retries stay
    # inside the provider client, which returns quotes only).
    retries = sum(getattr(err, "retries", 0) or 0 for _, err in errors)
    if len(errors) == len(links):
        error = _unknown_everywhere(product, errors) or _all_failed(errors)
        error.retries = retries
        raise error

    now = timezone.now()
    with transaction.atomic():
        for link in changed_links:
            link.save(update_fields=["external_id", "variant_ids"])
        written = save_quotes(product, quotes, now)
        alerts = evaluate_watches(product, now=now)
    counts.update({"snapshots": written, "alerts": len(alerts)})
    if errors:
        failed = "; ".join(f"{name}: {err.message}" for name, err in errors)
        return SyncResult(
            reason="partial",
            message=f"{len(errors)} of {len(links)} providers failed ({failed})"[:500],
            items_changed=written,
            retries=retries,
            counts=counts,
        )
    return SyncResult(items_changed=written, counts=counts)


def save_quotes(product: Product, quotes: list[PriceQuote], captured_at: datetime) -> int:
    """Upsert one snapshot per (provider, region, size) at ``captured_at``; returns the count."""
    rows: dict[tuple[str, str, str], PriceSnapshot] = {}
    for q in quotes:
        rows[(q.provider, q.region, q.size)] = PriceSnapshot(
            product=product,
            provider=q.provider,
            region=q.region,
            size=q.size,
            currency=q.currency,
            lowest_ask=q.lowest_ask,
            highest_bid=q.highest_bid,
            last_sale=q.last_sale,
            sales_72h=q.sales_72h,
            captured_at=captured_at,
        )
    PriceSnapshot.objects.bulk_create(
        rows.values(),
        update_conflicts=True,
        unique_fields=["product", "provider", "region", "size", "captured_at"],
        update_fields=SNAPSHOT_FIELDS,
        batch_size=500,
    )
    return len(rows)


# A provider that does not know the SKU: StockX's search finds no such style id, or a price
# service answers 404 for the product's own prices.
NOT_LISTED_REASONS = {"unknown_sku", "http_404"}
UNKNOWN_SKU_MESSAGE = (
    "Unknown SKU: no provider lists {sku} (asked {providers}). Check it for typos."
)


def _unknown_everywhere(product: Product, errors: list[tuple[str, SyncError]]) -> SyncError | None:
    """One error in the owner's words when every provider said it does not know the SKU."""
    if not all(err.reason in NOT_LISTED_REASONS for _, err in errors):
        return None
    providers = ", ".join(sorted(name for name, _ in errors))
    message = UNKNOWN_SKU_MESSAGE.format(sku=product.sku, providers=providers)
    return PermanentSyncError("unknown_sku", message[:500], http_status=errors[-1][1].http_status)


def is_unknown_sku(product: Product) -> bool:
    """Whether the product's last sync found it at no provider."""
    return product.last_error.startswith(UNKNOWN_SKU_MESSAGE.split(":")[0] + ":")


def _all_failed(errors: list[tuple[str, SyncError]]) -> SyncError:
    name, last = errors[-1]
    summary = "; ".join(f"{n}: {e.reason}" for n, e in errors)
    message = f"all {len(errors)} providers failed ({summary}); last: {last.message}"[:500]
    transient = any(not e.permanent for _, e in errors)
    retry_after = max((e.retry_after or 0 for _, e in errors), default=0) or None
    cls = TransientSyncError if transient else PermanentSyncError
    return cls(last.reason, message, http_status=last.http_status, retry_after=retry_after)
