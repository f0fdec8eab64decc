from datetime import timedelta

from django.apps import AppConfig

FEED_KIND = "calendars.feed"


class CalendarsConfig(AppConfig):
    name = "calendars"
    verbose_name = "Calendars"

    def ready(self) -> None:
        from syncing.demo import register_seeder
        from syncing.kinds import Kind, TierSpec, register
        from syncing.selectors import register_dashboard_section

        register(
            Kind(
                name=FEED_KIND,
                model="calendars.Feed",
                sync="calendars.services.feed_sync.sync_feed",
                queue="io",
                tiers=(
                    TierSpec("6h", timedelta(hours=6), batch_limit=2000),
                    TierSpec("3h", timedelta(hours=3), batch_limit=2000),
                    TierSpec("1h", timedelta(hours=1), batch_limit=2000),
                    TierSpec("15m", timedelta(minutes=15), batch_limit=2000),
                    TierSpec("5m", timedelta(minutes=5), batch_limit=2000),
                ),
                default_tier="6h",
                chunk_size=10,
                owner_path="listing__owner",
                plan_tiers={
                    "free": "6h",
                    "starter": "3h",
                    "pro": "1h",
                    "business": "15m",
                    "realtime": "5m",
                },
                on_pause="calendars.services.notify.feed_paused",
            )
        )
        from calendars.demo import seed
        from calendars.selectors import dashboard_section

        register_seeder("calendars", seed)
        register_dashboard_section("calendars", dashboard_section)
        from calendars.selectors import status_lines
        from syncing.monitoring.status import register_status_source

        register_status_source("calendars", status_lines)
