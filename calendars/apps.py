from datetime import timedelta

from django.apps import AppConfig

from syncing.adaptive import Adaptive

FEED_KIND = "calendars.feed"
# Adaptive polling (syncing.adaptive): a feed is checked between half its plan's interval
# and four times it (at most daily); one that changes about once per 64 intervals or more
# often keeps the plan's interval (the p95 promise), quieter ones are checked less; a
# listing with a check-in in the next two days is checked twice as often (last-minute
# bookings and changes). bench/adaptive.py measures it.
FEED_POLICY = Adaptive(
    floor_factor=2.0,
    ceiling_factor=4.0,
    longest=timedelta(hours=24),
    memory=timedelta(days=7),
    keep_at=64.0,
    signal="calendars.services.adaptive_signals.upcoming_checkin",
)


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
                adaptive=FEED_POLICY,
            )
        )
        from calendars.demo import seed
        from calendars.selectors import dashboard_section

        register_seeder("calendars", seed)
        register_dashboard_section("calendars", dashboard_section)
        from calendars.selectors import status_lines
        from syncing.monitoring.status import register_status_source

        register_status_source("calendars", status_lines)
