from datetime import timedelta

from django.apps import AppConfig

from syncing.adaptive import Adaptive

FEED_KIND = "calendars.feed"
# Adaptive polling (syncing.adaptive). A feed that changes about every three days keeps its
# plan's interval; busier ones are checked up to 1.25x as often, quieter ones down to 6x
# less often (at most daily). The calendars signal: a check-in within 48 hours halves the
# interval; waking hours in the listing's zone 0.8x, nights 2x. bench/adaptive.py measures
# it (and why: spending below the plan's interval buys p50, not p95).
FEED_POLICY = Adaptive(
    floor_factor=1.25,
    ceiling_factor=6.0,
    longest=timedelta(hours=24),
    memory=timedelta(days=7),
    reference_rate=0.3 / 24,
    signal="calendars.services.adaptive_signals.feed_signal",
)


EVERY_MINUTE = timedelta(minutes=1)
FEED_TIERS = (
    ("6h", timedelta(hours=6)),
    ("3h", timedelta(hours=3)),
    ("1h", timedelta(hours=1)),
    ("15m", timedelta(minutes=15)),
    ("5m", timedelta(minutes=5)),
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
                # Dispatched every minute whatever the interval (an empty claim is one
                # index probe): a feed is fetched within a minute of its due time (adaptive
                # intervals included), and a dead worker's feeds are back within about
                # two minutes (the 60 s lease, then the next tick).
                tiers=tuple(
                    TierSpec(name, interval, batch_limit=2000, dispatch_every=EVERY_MINUTE)
                    for name, interval in FEED_TIERS
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
        from syncing.monitoring.schedule import register_periodic

        register_periodic(
            "calendars: archive ended events", "calendars.archive_events", 86400, 6 * 3600
        )
