from datetime import timedelta

from django.apps import AppConfig

PRODUCT_KIND = "market.product"


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Market"

    def ready(self) -> None:
        from syncing.demo import register_seeder
        from syncing.kinds import Kind, TierSpec, register
        from syncing.selectors import register_dashboard_section

        register(
            Kind(
                name=PRODUCT_KIND,
                model="market.Product",
                sync="market.services.product_sync.sync_product",
                queue="io",
                tiers=(
                    # "Hot: every hour": a 55-minute interval dispatched every minute keeps
                    # every hot product younger than an hour, queueing included.
                    TierSpec(
                        "hot",
                        timedelta(minutes=55),
                        batch_limit=20,
                        dispatch_every=timedelta(minutes=1),
                    ),
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
        )
        from market.demo import seed
        from market.selectors import dashboard_section

        register_seeder("market", seed)
        register_dashboard_section("market", dashboard_section)
        from syncing.monitoring.schedule import register_periodic

        register_periodic("market: demand rules", "market.apply_demand_rules", 24 * 3600, 6 * 3600)
        register_periodic(
            "market: downsample snapshots", "market.downsample_snapshots", 24 * 3600, 6 * 3600
        )
