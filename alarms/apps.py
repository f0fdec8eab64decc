from datetime import timedelta

from django.apps import AppConfig

ALARM_KIND = "alarms.alarm"


class AlarmsConfig(AppConfig):
    name = "alarms"
    verbose_name = "Alarms"

    def ready(self) -> None:
        from syncing.demo import register_seeder
        from syncing.kinds import Kind, TierSpec, register

        register(
            Kind(
                name=ALARM_KIND,
                model="alarms.Alarm",
                sync="alarms.services.briefing_sync.sync_alarm",
                queue="cpu",
                # The interval only matters to the engine's phase rule, which alarms never
                # use: every run returns SyncResult.next_sync_at (next ring minus lead).
                # Dispatch runs every minute and claims by next_sync_at, i.e. by ring time.
                # Named after its interval, like every tier (it was "1m", after its dispatch:
                # alarms/migrations/0002 renames it).
                tiers=(
                    TierSpec(
                        "1d",
                        timedelta(days=1),
                        batch_limit=5000,
                        dispatch_every=timedelta(minutes=1),
                    ),
                ),
                default_tier="1d",
                chunk_size=20,
                owner_path="owner",
                plan_tiers={},
                priority="alarms.services.urgency.alarm_priority",
                queue_for="alarms.services.urgency.alarm_queue",
                # A briefing takes seconds; a lease longer than the lead would hide a lost
                # message past the ring.
                lease_seconds=600,
                # At 07:00 a whole time zone comes due at once: claim batch after batch.
                max_batches_per_dispatch=20,
                # Capacity is sized for the busiest ring window, not the day's average.
                peak="alarms.services.capacity.ring_peak",
                # On time = the briefing was ready before the ring (not "synced daily").
                freshness="alarms.services.freshness.alarm_freshness",
                # Earliest ring first, whatever each alarm's lead.
                claim_order="next_ring_at",
            )
        )
        from alarms.demo import seed

        register_seeder("alarms", seed)
        from syncing.monitoring.schedule import register_periodic

        register_periodic("alarms: deadline sweep", "alarms.sweep_deadlines", 60, 55, "dispatch")
        register_periodic("alarms: expire audio", "alarms.expire_audio", 3600, 3000)
        from syncing.monitoring.alerts import register_app_check

        register_app_check("speech-budget", _speech_budget_check)
        from alarms.services.budget import budgets

        budgets()  # a malformed ALARMS_SPEECH_BUDGETS stops start-up, naming it


def _speech_budget_check(rule, now):
    from alarms.services.budget import budget_firings

    return budget_firings(rule, now)
