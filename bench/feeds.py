"""Benchmark: rounds of calendar feed imports through dispatch, Redis, Celery workers and
PostgreSQL, against the feed farm on this machine (issue 3, "Done means").

    .venv/bin/python bench/feeds.py                              # 10,000 feeds of 100 events
    .venv/bin/python bench/feeds.py --feeds 1000 --events 100 --steady-rounds 1
    .venv/bin/python bench/feeds.py --pool threads --workers 2 --concurrency 4

Phases, each a "round" (every feed due, time until every one has an attempt):
1. round 1: every feed new (100 events created per feed, conflicts opened);
2. steady rounds: the farm advances (``--change-fraction`` of the feeds get a new version);
3. an unchanged round (no advance: every fetch is a 304), for CPU per unchanged feed;
4. a changed round on ``--clean-feeds`` feeds (the farm changes every feed), for CPU per
   changed feed;
5. peak memory of importing one ``--memory-events`` feed in a fresh process.

Dispatch is beat-equivalent: ``syncing.services.dispatch.dispatch_tier`` called in a loop, as
beat's per-tier task would. Worker CPU comes from /proc (the worker processes and their pool
children). Uses the database syncbeat_bench and Redis databases 13/14; writes
bench/reports/feeds.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import (  # noqa: E402
    ROOT,
    bench_env,
    cpu_seconds,
    purge,
    setup_django,
    start_workers,
    stop_workers,
    write_report,
)

KIND = "calendars.feed"
TIER = "5m"
OWNER_EMAIL = "feeds-bench@example.com"
FEEDS_PER_LISTING = 3
ROUND_TIMEOUT_S = 1800
# Dispatch claims (BATCH_LIMIT items each) while fewer messages than this wait on the queue.
BATCH_LIMIT = 100
QUEUE_LOW = 6
# How often a round looks at its progress (bench/bare_pipeline.py polls as often).
POLL_S = 0.02
# Once every due feed is claimed, dispatch runs only this often (to reclaim a feed whose
# lease ran out), not at every poll: a dispatch run every 20 ms (its calibration UPDATE and
# claim query) cost the bench process ~1.4 ms and PostgreSQL more of CPU per feed in rounds
# of new and changed feeds, the harness's load counted against the product. Production's
# tiers dispatch every 30-60 s.
IDLE_DISPATCH_S = 1.0
# Every farm feed is on 127.0.0.1: the per-host fetch limit (20/s by default) would pace the
# round at 20 feeds/s. Conflict emails are rendered, then dropped.
EXTRA_ENV = {
    "FETCH_HOST_RATE_LIMIT": "100000/second",
    "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
}


# Set-up ---------------------------------------------------------------------------------
def reset_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE calendars_conflict, calendars_event, calendars_feed, calendars_listing"
            " RESTART IDENTITY CASCADE"
        )
        cursor.execute("TRUNCATE syncing_syncattempt")


def bench_owner(email: str = OWNER_EMAIL):
    from django.contrib.auth import get_user_model

    from syncing.models import Account

    user, created = get_user_model().objects.get_or_create(
        username=email, defaults={"email": email}
    )
    if created:
        user.set_unusable_password()
        user.save()
    Account.objects.update_or_create(user=user, defaults={"plan": "realtime"})
    return user


def create_feeds(owner, base_url: str, feeds: int) -> float:
    """Listings of FEEDS_PER_LISTING feeds, feed i pointing at the farm's feed i."""
    from django.db import connection
    from django.utils import timezone

    from calendars.feedfarm import default_style
    from calendars.models import Feed, Listing

    start = time.perf_counter()
    listings = Listing.objects.bulk_create(
        [
            Listing(owner=owner, name=f"Rental {n + 1}", timezone="Europe/Paris")
            for n in range(-(-feeds // FEEDS_PER_LISTING))
        ],
        batch_size=2000,
    )
    now = timezone.now()
    Feed.objects.bulk_create(
        [
            Feed(
                listing=listings[(i - 1) // FEEDS_PER_LISTING],
                url=f"{base_url}/feeds/{i}.ics",
                source=default_style(i),
                tier=TIER,
                next_sync_at=now,
            )
            for i in range(1, feeds + 1)
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE calendars_feed")
        cursor.execute("VACUUM ANALYZE calendars_listing")
    return time.perf_counter() - start


def warm_farm(farm, feeds: int) -> float:
    """Render every feed's current version, so the round times our side, not the farm's."""
    start = time.perf_counter()
    for feed_id in range(1, feeds + 1):
        farm.render(feed_id)
    return time.perf_counter() - start


def queued_messages(queue: str = "io") -> int:
    """Messages waiting on the broker's queue (the Redis transport's priority lists too:
    ``io:5``, as config/settings.py sets ``sep``)."""
    pipe = _broker().pipeline(transaction=False)
    for key in [queue, *(f"{queue}:{priority}" for priority in range(10))]:
        pipe.llen(key)
    return sum(pipe.execute())


@functools.cache
def _broker():
    """One client for the round's polls (a new client and a SCAN a poll cost ~5 ms of the
    bench process's CPU, which shares the cores with the workers it measures)."""
    import redis

    from bench._setup import BENCH_BROKER

    return redis.Redis.from_url(BENCH_BROKER)


# A round --------------------------------------------------------------------------------
# A round's progress: the attempts its chunks recorded, read from the workers' chunk rows
# (syncing_chunkrun: a handful of rows by primary key, ~0.2 ms of PostgreSQL's CPU) instead
# of counting the attempts at every poll: a COUNT(*) over the partitioned attempt table
# (planned over every partition) cost PostgreSQL ~2 ms of CPU a poll, ~50 polls in a round
# of 304s, ~0.1 ms per feed of the harness's load counted against the product (the bare
# peer polls a Redis counter). The count confirms the end.
def _next_chunk_id() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM syncing_chunkrun")
        return cursor.fetchone()[0]


def _recorded_since(first_chunk: int) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(items), 0) FROM syncing_chunkrun WHERE id >= %s", [first_chunk]
        )
        return cursor.fetchone()[0]


def _feeds_synced() -> int:
    """The round's feeds with at least one attempt (the table is truncated per round)."""
    from syncing.models import SyncAttempt

    return SyncAttempt.objects.values("item_id").distinct().count()


def run_round(label: str, procs, *, due: int, batch_limit: int = BATCH_LIMIT) -> dict:
    """Make the first ``due`` feeds due, dispatch until all are claimed, wait for attempts.

    ``batch_limit``: the tier's claim size for the round. BATCH_LIMIT paces the claims of
    rounds that outlast a lease (new and changed feeds: a round of a minute or more, all due
    at once, which a tier never sees in production); a round of 304s is claimed as the
    product claims it (``production_batch_limit()``: one dispatch run, 2,000 a run).
    """
    from django.db import connection
    from django.db.models import Count, Sum
    from django.utils import timezone

    from calendars.models import Feed
    from syncing.models import SyncAttempt, Tier
    from syncing.services.dispatch import dispatch_tier

    Tier.objects.filter(kind=KIND, name=TIER).update(batch_limit=batch_limit)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE syncing_syncattempt")
    Feed.objects.filter(pk__lte=due).update(
        next_sync_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    first_chunk = _next_chunk_id()
    cpu_before = sum(cpu_seconds(p.pid) for p in procs)
    own_before = time.process_time()
    start = time.perf_counter()
    claimed = synced = 0
    deadline = start + ROUND_TIMEOUT_S
    all_claimed_at = None
    dispatched_at = 0.0
    while time.perf_counter() < deadline:
        # Claim while the queue is short, as beat's ticks would: a claim far ahead of the
        # workers would outlive its 60 s lease (its messages expire), and after the first
        # pass this reclaims any item whose lease ran out (once a second: IDLE_DISPATCH_S).
        # The queue is topped up at once (one claim a poll would pace a round of 304s at
        # BATCH_LIMIT / POLL_S feeds a second: the harness, not the product, as
        # production's tier claims 2,000 a run).
        idle = all_claimed_at is not None
        while queued_messages() < QUEUE_LOW and (
            not idle or time.perf_counter() - dispatched_at >= IDLE_DISPATCH_S
        ):
            dispatched_at = time.perf_counter()
            got = dispatch_tier(KIND, TIER).claimed
            claimed += got
            if claimed >= due and all_claimed_at is None:
                all_claimed_at = time.perf_counter() - start
            if not got:
                break
        # Done when every due feed has synced once. The chunks' rows count attempts, and a
        # new feed's first sync puts its next one at a random phase of its interval, so in
        # a long round a few are due again and sync twice (a 304): an attempt more, not a
        # feed more. The distinct count (also exact if a chunk's row was lost) decides.
        if _recorded_since(first_chunk) >= due:
            synced = _feeds_synced()
            if synced >= due:
                break
        # At least every POLL_S, at most 1% of the round late.
        time.sleep(max(POLL_S, (time.perf_counter() - start) / 100))
    elapsed = time.perf_counter() - start
    done = SyncAttempt.objects.count()
    synced = _feeds_synced()
    cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
    own_cpu = time.process_time() - own_before
    outcomes = dict(
        SyncAttempt.objects.values_list("outcome").annotate(n=Count("pk")).order_by("outcome")
    )
    reasons = dict(
        SyncAttempt.objects.exclude(reason="")
        .values_list("reason")
        .annotate(n=Count("pk"))
        .order_by("-n")[:5]
    )
    changed = SyncAttempt.objects.aggregate(s=Sum("items_changed"))["s"] or 0
    duration = SyncAttempt.objects.aggregate(s=Sum("duration_ms"))["s"] or 0
    row = {
        "round": label,
        "feeds_due": due,
        "attempts": done,
        "feeds_synced": synced,
        "elapsed_s": round(elapsed, 1),
        "all_claimed_after_s": round(all_claimed_at or 0, 1),
        "feeds_per_s": round(synced / elapsed, 1) if elapsed else None,
        "outcomes": outcomes,
        "failure_reasons": reasons,
        "events_changed": changed,
        "worker_cpu_s": round(cpu, 1),
        "worker_cpu_ms_per_feed": round(cpu * 1000 / max(synced, 1), 2),
        "sync_fn_wall_ms_per_feed": round(duration / max(done, 1), 2),
        "bench_process_cpu_s": round(own_cpu, 1),
    }
    print(
        f"{label:<34} {synced:>6,} feeds ({done:,} attempts) in {elapsed:6.1f} s "
        f"({row['feeds_per_s']}/s); "
        f"worker CPU {row['worker_cpu_ms_per_feed']:6.2f} ms/feed; outcomes {outcomes}"
        + (f"; reasons {reasons}" if reasons else ""),
        flush=True,
    )
    return row


def production_batch_limit() -> int:
    """The bench tier's batch limit as the product ships it (calendars.kinds)."""
    from syncing.kinds import get_kind

    return next(t.batch_limit for t in get_kind(KIND).tiers if t.name == TIER)


# Memory ---------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: on Linux that one starts from the
    parent's peak after fork, and the parent here holds the whole feed farm in memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(url: str) -> None:
    """In a fresh process: import one feed inline and print peak RSS as JSON."""
    import django  # no migrate here: its migration graph alone would set the peak

    os.environ.update(bench_env())
    django.setup()
    import calendars.ics.parse  # noqa: F401 - loaded before the baseline, as in a worker
    import calendars.services.feed_sync  # noqa: F401
    from calendars.models import Feed, Listing
    from syncing.kinds import get_kind
    from syncing.services.claims import claim_one
    from syncing.services.runs import run_claimed

    owner = bench_owner("feeds-bench-memory@example.com")  # an owner with no other feeds
    listing = Listing.objects.create(owner=owner, name="Memory", timezone="Europe/Paris")
    feed = Feed.objects.create(listing=listing, url=url, source="airbnb", tier=TIER)
    baseline = peak_rss_mb()
    start = time.process_time()
    claim = claim_one(get_kind(KIND), feed.pk, force=True)
    report = run_claimed(KIND, claim.token, claim.pks)
    cpu = time.process_time() - start
    peak = peak_rss_mb()
    attempt = report.attempts[0]
    listing.delete()
    print(
        json.dumps(
            {
                "baseline_maxrss_mb": round(baseline, 1),
                "peak_maxrss_mb": round(peak, 1),
                "import_delta_mb": round(peak - baseline, 1),
                "import_cpu_s": round(cpu, 2),
                "outcome": attempt.outcome,
                "counts": {k: v for k, v in attempt.counts.items() if k != "skipped_reasons"},
            }
        )
    )


def measure_memory(base_url: str, events: int) -> dict:
    url = f"{base_url}/feeds/1.ics?style=airbnb&events={events}"
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", url],
        cwd=ROOT,
        env={**os.environ, **bench_env()},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode:
        raise RuntimeError(f"memory child failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["events_in_feed"] = events
    print(
        f"one {events:,}-event feed: peak RSS {result['peak_maxrss_mb']} MB "
        f"(process after start-up {result['baseline_maxrss_mb']} MB), "
        f"{result['import_cpu_s']} s CPU, {result['counts']}",
        flush=True,
    )
    return result


# Main -----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100, help="VEVENTs per feed")
    parser.add_argument("--change-fraction", type=float, default=0.1)
    parser.add_argument("--steady-rounds", type=int, default=2)
    parser.add_argument(
        "--clean-feeds",
        type=int,
        default=2000,
        help="feeds in the all-changed round (CPU per changed feed)",
    )
    parser.add_argument("--pool", choices=("prefork", "threads"), default="prefork")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (-n)")
    parser.add_argument("--concurrency", type=int, default=2, help="-c of each worker")
    parser.add_argument("--memory-events", type=int, default=10_000)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--report", default="feeds", help="report name in bench/reports/")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.update(EXTRA_ENV)
    if args.memory_child:
        memory_child(args.memory_child)
        return

    setup_django()
    import logging

    logging.getLogger("celery").setLevel(logging.WARNING)
    from calendars.feedfarm import serving
    from syncing.models import Tier

    reset_tables()
    purge()
    Tier.objects.filter(kind=KIND, name=TIER).update(batch_limit=BATCH_LIMIT, enabled=True)
    owner = bench_owner()
    clean = min(args.clean_feeds, args.feeds)
    report: dict = {
        "machine": {"cores": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
        "config": {
            "feeds": args.feeds,
            "events_per_feed": args.events,
            "change_fraction": args.change_fraction,
            "feeds_per_listing": FEEDS_PER_LISTING,
            "pool": args.pool,
            "workers": args.workers,
            "concurrency": args.concurrency,
            "queue": "io",
            "dispatch": f"dispatch_tier({KIND!r}, {TIER!r}) in a loop (beat-equivalent)",
            "environment": EXTRA_ENV,
            "command": " ".join([".venv/bin/python", "bench/feeds.py", *sys.argv[1:]]),
        },
        "rounds": [],
    }
    with serving(
        args.feeds,
        events=args.events,
        change_fraction=args.change_fraction,
        cache_bytes=4 * 1024**3,
    ) as server:
        farm = server.farm
        load_s = create_feeds(owner, server.base_url, args.feeds)
        warm_s = warm_farm(farm, args.feeds)
        print(
            f"{args.feeds:,} feeds in {-(-args.feeds // FEEDS_PER_LISTING):,} listings created "
            f"in {load_s:.1f} s; farm warmed in {warm_s:.1f} s",
            flush=True,
        )
        procs = start_workers(
            args.workers, queues="io", concurrency=args.concurrency, pool=args.pool
        )
        rounds = report["rounds"]
        try:
            rounds.append(run_round("round 1 (all new)", procs, due=args.feeds))
            for n in range(args.steady_rounds):
                farm.advance()
                warm_farm(farm, args.feeds)
                rounds.append(
                    run_round(
                        f"steady round {n + 2} ({args.change_fraction:.0%} changed)",
                        procs,
                        due=args.feeds,
                    )
                )
            rounds.append(
                run_round(
                    "unchanged round (all 304)",
                    procs,
                    due=args.feeds,
                    batch_limit=production_batch_limit(),
                )
            )
            farm.change_fraction = 1.0
            farm.advance()
            warm_farm(farm, clean)
            rounds.append(
                run_round(f"changed round ({clean:,} feeds, all changed)", procs, due=clean)
            )
        finally:
            stop_workers(procs)
            purge()
        if not args.skip_memory:
            report["memory"] = measure_memory(server.base_url, args.memory_events)

    from calendars.models import Conflict, Event

    report["database"] = {
        "events": Event.objects.count(),
        "open_conflicts": Conflict.objects.filter(resolved_at__isnull=True).count(),
    }
    steady = [r for r in rounds if r["round"].startswith("steady")]
    unchanged = next(r for r in rounds if r["round"].startswith("unchanged"))
    changed = next(r for r in rounds if r["round"].startswith("changed"))
    summary = {
        "full_round_s": max((r["elapsed_s"] for r in steady), default=None),
        "round_1_s": rounds[0]["elapsed_s"],
        "cpu_ms_per_unchanged_feed": unchanged["worker_cpu_ms_per_feed"],
        "cpu_ms_per_changed_feed": changed["worker_cpu_ms_per_feed"],
        "peak_mb_one_big_feed": report.get("memory", {}).get("peak_maxrss_mb"),
        "targets": {
            "full_round_s": 300,
            "cpu_ms_per_unchanged_feed": 5,
            "cpu_ms_per_changed_feed": 30,
            "peak_mb_one_big_feed": 150,
        },
    }
    report["summary"] = summary
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    path = write_report(args.report, report)
    print(
        f"summary: steady round {summary['full_round_s']} s (target < 300), "
        f"CPU/feed unchanged {summary['cpu_ms_per_unchanged_feed']} ms (<= 5), "
        f"changed {summary['cpu_ms_per_changed_feed']} ms (<= 30), "
        f"10k-event feed peak {summary['peak_mb_one_big_feed']} MB (< 150)"
    )
    print(f"report: {path}")


if __name__ == "__main__":
    main()
