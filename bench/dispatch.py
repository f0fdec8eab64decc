"""Benchmark: claiming and publishing due items, the end-to-end rate of a no-op kind, and
the common alternative (one django-celery-beat PeriodicTask per item).

    .venv/bin/python bench/dispatch.py                 # full run (PostgreSQL + Redis)
    .venv/bin/python bench/dispatch.py --sizes 10000 100000 --e2e-items 5000 --beat-sizes 2000

Uses a database of its own (syncbeat_bench) and Redis databases 13/14; writes
bench/reports/dispatch.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import (  # noqa: E402
    cpu_seconds,
    purge,
    setup_django,
    start_workers,
    stop_workers,
    write_report,
)
from bench.proc_cpu import cpu_by_part, per_item_ms  # noqa: E402

INSERT_PROBES = """
    INSERT INTO syncing_probe (name, tier, next_sync_at, consecutive_failures, last_error,
        paused, pause_reason, etag, last_modified, content_hash, mode, sleep_ms, runs)
    SELECT 'probe-' || g, %s,
        CASE WHEN g <= %s THEN now() - interval '1 minute' - (g || ' milliseconds')::interval
             ELSE now() + ((g %% 3600) || ' seconds')::interval END,
        0, '', false, '', '', '', '', 'ok', 0, 0
    FROM generate_series(1, %s) AS g
"""


def reset_probes(total: int, due: int, tier: str = "5m") -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE syncing_probe RESTART IDENTITY")
        cursor.execute("TRUNCATE syncing_syncattempt")
        cursor.execute(INSERT_PROBES, [tier, due, total])
        cursor.execute("VACUUM ANALYZE syncing_probe")


def bench_claims(sizes: list[int], rounds: int = 7) -> list[dict]:
    from django.db import transaction

    from syncing.kinds import get_kind
    from syncing.services.claims import claim_due_items
    from syncing.services.dispatch import publish_claim

    kind = get_kind("syncing.probe")
    results = []
    for size in sizes:
        t0 = time.perf_counter()
        reset_probes(size, due=1000 * (rounds + 1))
        load_s = time.perf_counter() - t0
        claim_ms, total_ms = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            with transaction.atomic():
                claim = claim_due_items(kind, "5m", 1000)
                claimed_at = time.perf_counter()
                messages = publish_claim(kind, claim)
            done = time.perf_counter()  # on_commit has published the messages by now
            assert len(claim.pks) == 1000, len(claim.pks)
            claim_ms.append((claimed_at - start) * 1000)
            total_ms.append((done - start) * 1000)
        purge()
        row = {
            "table_items": size,
            "claim_ms_median": round(statistics.median(claim_ms), 1),
            "claim_and_publish_ms_median": round(statistics.median(total_ms), 1),
            "claim_and_publish_ms_max": round(max(total_ms), 1),
            "messages_per_claim": messages,
            "table_load_s": round(load_s, 1),
        }
        print(
            f"claim 1,000 of {size:>9,}: claim {row['claim_ms_median']:6.1f} ms, "
            f"claim+publish {row['claim_and_publish_ms_median']:6.1f} ms "
            f"(max {row['claim_and_publish_ms_max']:.1f}) in {messages} messages",
            flush=True,
        )
        results.append(row)
    return results


def bench_end_to_end(items: int, workers: int, concurrency: int) -> dict:
    from syncing.models import Probe, SyncAttempt, Tier
    from syncing.services.dispatch import dispatch_tier

    reset_probes(items, due=items)
    Tier.objects.filter(kind="syncing.probe", name="5m").update(batch_limit=5000)
    purge()
    procs = start_workers(workers, queues="default", concurrency=concurrency)
    try:
        cpu_before = sum(cpu_seconds(p.pid) for p in procs)
        parts_before = cpu_by_part({p.pid for p in procs})
        start = time.perf_counter()
        claimed = 0
        deadline = start + 600
        while time.perf_counter() < deadline:
            if claimed < items:
                claimed += dispatch_tier("syncing.probe", "5m").claimed
            done = SyncAttempt.objects.count()
            if done >= items:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
        parts = per_item_ms(parts_before, cpu_by_part({p.pid for p in procs}), done)
    finally:
        stop_workers(procs)
        purge()
    synced = Probe.objects.filter(last_success_at__isnull=False).count()
    leased = Probe.objects.filter(lease_token__isnull=False).count()
    rate = done / elapsed
    result = {
        "items": items,
        "worker_processes": workers * concurrency,
        "elapsed_s": round(elapsed, 2),
        "items_per_s": round(rate),
        "attempts": done,
        "items_rescheduled": synced,
        "still_leased": leased,
        "worker_cpu_ms_per_item": round(cpu * 1000 / max(done, 1), 3),
        # Every part of the box (bench/proc_cpu.py): PostgreSQL's share is what bounds
        # workers on other machines (bench/hosts.py).
        "box_cpu_ms_per_item": parts,
    }
    print(
        f"end to end: {done:,} no-op items in {elapsed:.1f} s = {rate:,.0f} items/s "
        f"({result['worker_cpu_ms_per_item']} ms worker CPU per item; {synced:,} rescheduled, "
        f"{leased} still leased); CPU per item by part (ms): {parts}",
        flush=True,
    )
    return result


def bench_beat_per_item(sizes: list[int], seconds: float, every: int = 60) -> list[dict]:
    """One PeriodicTask per item, every ``every`` seconds: how many sends/s beat manages."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    from config.celery_app import app

    results = []
    for size in sizes:
        _drop_item_tasks()
        schedule, _ = IntervalSchedule.objects.get_or_create(
            every=every, period=IntervalSchedule.SECONDS
        )
        # Every task last ran a period ago: all are due now, as in the steady state where a
        # period's worth of items comes due every period.
        from django.utils import timezone

        last = timezone.now() - timezone.timedelta(seconds=every)
        PeriodicTask.objects.bulk_create(
            [
                PeriodicTask(
                    name=f"item-{i}",
                    task="bench.noop",
                    interval=schedule,
                    queue="beatbench",
                    kwargs=f'{{"pk": {i}}}',
                    last_run_at=last,
                )
                for i in range(size)
            ],
            batch_size=5000,
        )
        sent = 0

        class CountingScheduler(DatabaseScheduler):
            def apply_async(self, entry, producer=None, advance=True, **kwargs):
                nonlocal sent
                sent += 1
                return super().apply_async(entry, producer, advance, **kwargs)

        t0 = time.perf_counter()
        scheduler = CountingScheduler(app=app, lazy=False)
        startup = time.perf_counter() - t0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            wait = scheduler.tick()
            if wait and wait > 0:
                time.sleep(min(wait, 0.05))
        elapsed = time.perf_counter() - start
        needed = size / every
        row = {
            "periodic_tasks": size,
            "sends_per_s": round(sent / elapsed, 1),
            "needed_per_s": round(needed, 1),
            "scheduler_start_s": round(startup, 1),
        }
        print(
            f"beat, one task per item: {size:,} tasks every {every}s need {needed:.0f} sends/s,"
            f" beat made {row['sends_per_s']} (startup {startup:.1f} s)",
            flush=True,
        )
        results.append(row)
        _drop_item_tasks()
        purge()
    return results


def _drop_item_tasks() -> None:
    """Delete the per-item tasks in one statement (a plain delete() signals once per row)."""
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    qs = PeriodicTask.objects.exclude(task="syncing.dispatch")
    qs._raw_delete(qs.db)
    PeriodicTasks.update_changed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--e2e-items", type=int, default=30_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--beat-sizes", type=int, nargs="*", default=[10_000, 50_000])
    parser.add_argument("--beat-seconds", type=float, default=20.0)
    args = parser.parse_args()

    setup_django()
    import logging

    logging.getLogger("celery").setLevel(logging.WARNING)
    report = {"machine": {"cores": __import__("os").cpu_count()}}
    report["claims"] = bench_claims(args.sizes)
    report["end_to_end"] = bench_end_to_end(args.e2e_items, args.workers, args.concurrency)
    if args.beat_sizes:
        report["beat_one_task_per_item"] = bench_beat_per_item(args.beat_sizes, args.beat_seconds)
    path = write_report("dispatch", report)
    print(f"report: {path}")


if __name__ == "__main__":
    main()
