"""The fault suite's view of the database: probe items in, figures out.

Every query goes through ``db_retry``: the suite restarts PostgreSQL under its own feet.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import timedelta

from django.db import InterfaceError, OperationalError, connection


def db_retry(fn, timeout: float = 60.0):
    """Run ``fn`` until it gets through to the database (reconnecting after errors)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except (OperationalError, InterfaceError):
            connection.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def configure_tier(name: str, *, batch_limit: int, dispatch_seconds: int | None) -> None:
    """Set a probe tier's batch and dispatch period (its periodic task follows the row)."""
    from syncing.models import Tier

    tier = Tier.objects.get(kind="syncing.probe", name=name)
    tier.batch_limit = batch_limit
    tier.dispatch_every = timedelta(seconds=dispatch_seconds) if dispatch_seconds else None
    tier.enabled = True
    tier.save()


def reset_items(n: int, *, tier: str, sleep_ms: int, phase_set: bool = True) -> None:
    """Replace every probe and attempt with ``n`` probes due now in ``tier``.

    ``phase_set``: the probes look synced once before (an interval ago), so their next due
    time is this one plus the interval; never-synced items would pick a random phase within
    the interval at their first sync, and a few would be due again during the run.
    """
    from django.utils import timezone

    from syncing.models import Probe, SyncAttempt

    SyncAttempt.objects.all().delete()
    Probe.objects.all().delete()
    due = timezone.now() - timedelta(seconds=1)
    interval = timedelta(hours=1) if tier == "1h" else timedelta(minutes=1)
    synced = due - interval if phase_set else None
    Probe.objects.bulk_create(
        [
            Probe(
                name=f"fault-{i}",
                tier=tier,
                next_sync_at=due,
                last_synced_at=synced,
                sleep_ms=sleep_ms,
            )
            for i in range(n)
        ],
        batch_size=2000,
    )


def in_flight() -> list[int]:
    """Items claimed and not yet synced: what a fault can hurt."""
    from syncing.models import Probe

    return db_retry(
        lambda: list(
            Probe.objects.filter(
                lease_token__isnull=False, last_success_at__isnull=True
            ).values_list("pk", flat=True)
        )
    )


def unsynced_count() -> int:
    from syncing.models import Probe

    return db_retry(lambda: Probe.objects.filter(last_success_at__isnull=True).count())


def synced_count() -> int:
    from syncing.models import SyncAttempt

    return db_retry(lambda: SyncAttempt.objects.filter(outcome="ok").count())


def wait_synced(deadline: float) -> float | None:
    """Wait until every item has synced once; returns when (epoch seconds) or None."""
    while time.time() < deadline:
        if unsynced_count() == 0:
            return time.time()
        time.sleep(1.0)
    return None


def item_figures() -> dict:
    """Lost, duplicate runs and attempts, once the run is over."""
    from django.utils import timezone

    from syncing.models import Probe, SyncAttempt

    rows = db_retry(
        lambda: list(Probe.objects.values_list("pk", "last_success_at", "runs", "leased_until"))
    )
    ok = Counter(
        db_retry(
            lambda: list(SyncAttempt.objects.filter(outcome="ok").values_list("item_id", flat=True))
        )
    )
    attempts = db_retry(lambda: SyncAttempt.objects.count())
    unsynced = [r for r in rows if r[1] is None]
    leases = [r[3] for r in unsynced if r[3] is not None]
    now = timezone.now()
    return {
        "items": len(rows),
        "unsynced_at_end": len(unsynced),
        "unsynced_due_again_in_s": (
            round(max(0.0, (max(leases) - now).total_seconds()), 1) if leases else None
        ),
        "attempts": attempts,
        "ok_attempts": sum(ok.values()),
        "items_with_2plus_ok_attempts": sum(1 for c in ok.values() if c > 1),
        "items_run_2plus_times": sum(1 for r in rows if r[2] > 1),
        "runs_beyond_one": sum(max(0, r[2] - 1) for r in rows),
        "synced_at": {r[0]: r[1].timestamp() for r in rows if r[1] is not None},
    }


def recovery(faults: list[dict], synced_at: dict[int, float]) -> dict:
    """Per fault: how long until every item in flight at that moment had synced."""
    per_fault = []
    for fault in faults:
        affected = fault.get("in_flight", [])
        times = [synced_at.get(pk) for pk in affected]
        missing = sum(1 for t in times if t is None)
        done = [t for t in times if t is not None] or [fault["at"]]  # nothing in flight: 0 s
        per_fault.append(
            {
                "target": fault.get("target"),
                "affected": len(affected),
                "not_recovered": missing,
                "recovered_after_s": round(max(done) - fault["at"], 1)
                if done and not missing
                else None,
            }
        )
    recovered = [f["recovered_after_s"] for f in per_fault if f["recovered_after_s"] is not None]
    return {
        "faults": per_fault,
        "max_recovery_s": max(recovered)
        if recovered and len(recovered) == len(per_fault)
        else None,
        "not_recovered": sum(f["not_recovered"] for f in per_fault),
    }


def interval_violations(interval_s: float) -> dict:
    """Items synced twice within one interval, once their phase is set.

    An item's first sync picks a random phase within the interval (new items spread out),
    so the gap between its first and second sync can be anything; from then on each sync
    is due one interval after the previous due time, and a gap under half an interval
    means two runs for one due time (a sync late by half an interval or more would show as
    such too; the suite's load keeps lateness to seconds).
    """
    from syncing.models import SyncAttempt

    rows = db_retry(
        lambda: list(
            SyncAttempt.objects.filter(outcome="ok")
            .order_by("item_id", "started_at")
            .values_list("item_id", "started_at")
        )
    )
    by_item: dict[int, list[float]] = defaultdict(list)
    for pk, started in rows:
        by_item[pk].append(started.timestamp())
    close = []
    for pk, times in by_item.items():
        gaps = [b - a for a, b in zip(times[1:], times[2:], strict=False)]
        close += [(pk, gap) for gap in gaps if gap < interval_s / 2]
    return {
        "ok_attempts": len(rows),
        "syncs_under_half_an_interval_apart": len(close),
        "items_synced_twice_in_one_interval": len({pk for pk, _ in close}),
        "shortest_gap_s": round(min(g for _, g in close), 3) if close else None,
    }
