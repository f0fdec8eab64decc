"""The market domain as the engine sees it (syncing.domains): its kind, the product, with
its hot/warm/cold/frozen tiers; its demo seeder, dashboard section, the daily demand
rules and the daily thinning of price snapshots. Registered in ``MarketConfig.ready()``."""

from __future__ import annotations

from datetime import timedelta

from syncing.domains import Domain, PeriodicTask
from syncing.kinds import Kind, TierSpec

PRODUCT_KIND = "market.product"

PRODUCT = Kind(
    name=PRODUCT_KIND,
    model="market.Product",
    sync="market.services.product_sync.sync_product",
    queue="io",
    tiers=(
        # "Hot: every hour": a 55-minute interval dispatched every minute keeps every hot
        # product younger than an hour, queueing included.
        TierSpec("hot", timedelta(minutes=55), batch_limit=20, dispatch_every=timedelta(minutes=1)),
        TierSpec("warm", timedelta(hours=6), batch_limit=50),
        TierSpec("cold", timedelta(hours=24), batch_limit=100),
        # Frozen: no periodic dispatch; synced on demand only.
        TierSpec("frozen", None, batch_limit=100),
    ),
    default_tier="warm",
    chunk_size=10,
    owner_path="created_by",
    viewer_path="watches__owner",
)

DOMAIN = Domain(
    app="market",
    kinds=(PRODUCT,),
    demo_seeder="market.demo.seed",
    dashboard_section="market.selectors.dashboard_section",
    periodic_tasks=(
        PeriodicTask("market: demand rules", "market.apply_demand_rules", 24 * 3600, 6 * 3600),
        PeriodicTask(
            "market: downsample snapshots", "market.downsample_snapshots", 24 * 3600, 6 * 3600
        ),
    ),
)
