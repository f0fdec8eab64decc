"""The alarms domain as the engine sees it (syncing.domains): its kind, the alarm (synced
ahead of every ring, claimed by ring time, urgent ones on their own queue); its demo
seeder, periodic sweeps, the default "briefing late" alert rule and the speech-budget
check. Registered in ``AlarmsConfig.ready()``."""

from __future__ import annotations

from datetime import timedelta

from syncing.domains import Domain, PeriodicTask
from syncing.kinds import Kind, TierSpec

ALARM_KIND = "alarms.alarm"

ALARM = Kind(
    name=ALARM_KIND,
    model="alarms.Alarm",
    sync="alarms.services.briefing_sync.sync_alarm",
    queue="cpu",
    # The interval only matters to the engine's phase rule, which alarms never use: every
    # run returns SyncResult.next_sync_at (next ring minus lead). Dispatch runs every minute
    # and claims by next_sync_at, i.e. by ring time. Named after its interval, like every
    # tier (it was "1m", after its dispatch: alarms/migrations/0002 renames it).
    tiers=(
        TierSpec("1d", timedelta(days=1), batch_limit=5000, dispatch_every=timedelta(minutes=1)),
    ),
    default_tier="1d",
    chunk_size=20,
    owner_path="owner",
    plan_tiers={},
    priority="alarms.services.urgency.alarm_priority",
    queue_for="alarms.services.urgency.alarm_queue",
    # A briefing takes seconds; a lease longer than the lead would hide a lost message past
    # the ring.
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

DOMAIN = Domain(
    app="alarms",
    kinds=(ALARM,),
    demo_seeder="alarms.demo.seed",
    periodic_tasks=(
        PeriodicTask("alarms: deadline sweep", "alarms.sweep_deadlines", 60, 55, "dispatch"),
        PeriodicTask("alarms: expire audio", "alarms.expire_audio", 3600, 3000),
    ),
    alert_rules=(
        {
            "key": "briefing-late",
            "name": "A briefing not ready in time",
            "metric": "overdue",
            "threshold": 60.0,
            "window": None,
            "kind": ALARM_KIND,
        },
    ),
    # The rule itself is created by alarms/migrations/0003 (staff set its threshold).
    alert_checks={"speech-budget": "alarms.services.budget.budget_firings"},
)
