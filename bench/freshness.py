"""Benchmark: freshness at scale (issue 13, goal 6). N calendar feeds on the 5-minute tier
for a window of real time, with realistic change rates, through the engine's own dispatch
(called on the tier's schedule, as beat would), Redis, real worker processes and PostgreSQL;
the figure is the engine's own on-time rate (syncing.monitoring.freshness.tier_freshness),
sampled through the window.

    .venv/bin/python bench/freshness.py --feeds 5000 --minutes 30
    .venv/bin/python bench/freshness.py --feeds 20000 --reuse --batch-limit 6000 --minutes 4

``--reuse`` keeps an earlier run's feeds (same ``--farm-port``: the URLs hold it), pausing
those beyond ``--feeds`` and adding the missing ones. Above 10,000 feeds raise the tier's
batch limit (one claim a minute of at most ``batch_limit`` items).

Phases:
1. prime: the first ``--import-feeds`` feeds imported for real (all due at once); the others
   get the farm's current ETag and Last-Modified as if imported once (importing 20,000 feeds
   takes most of an hour on a loaded 2-core box): their next fetch is a 304, and a change to
   one is imported in full (dearer than a real change, whose events are mostly known);
2. steady state: each feed's next due time is spread over its interval (as after days of
   running), its last success at the dispatch tick one interval before the one that will
   claim it;
3. the window: dispatch_tier every dispatch period of the tier (1 minute), the farm's feeds
   changing at their own rates (rounds of ``--round-seconds``), freshness sampled every
   ``--sample-seconds``;
4. optionally (``--burst``) a saturated round: every feed due at once, timed until each has
   an attempt, to compare with what ``manage.py capacity`` predicted (goal 12).

Change rates: bench/adaptive.py's population (log-normal, median ~0.25 changes a day, a busy
tail up to 40 a day), times ``--rate-scale``; each feed changes in a round with probability
rate x round length, decided by a hash (the same run twice changes the same feeds). The
day/night profile of bench/adaptive.py is not applied (a daily average rate all day).

Uses the database named by BENCH_DB and the Redis of BENCH_BROKER_URL/BENCH_REDIS_URL
(bench/_setup.py); writes bench/reports/<report>.json. Bounded: the window, plus the prime
and burst rounds (each given up after 30 minutes). Not run by CI.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
import time
from datetime import timedelta
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
from bench.adaptive import daily_rate  # noqa: E402
from bench.feeds import (  # noqa: E402
    EXTRA_ENV,
    FEEDS_PER_LISTING,
    KIND,
    TIER,
    bench_owner,
    create_feeds,
    reset_tables,
    warm_farm,
)
from calendars.feedfarm.server import FeedFarm, FeedFarmServer  # noqa: E402

MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: a well-spread 64-bit hash of ``x``."""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


class SkewedFarm(FeedFarm):
    """The feed farm with a change rate per feed instead of one fraction per round."""

    def __init__(self, feeds: int, *, per_round: list[float], seed: int, **options):
        super().__init__(feeds, **options)
        self.per_round = per_round  # index feed_id - 1: chance of a change in one round
        self.seed = seed
        self._versions: dict[int, tuple[int, int]] = {}  # feed -> (rounds scanned, version)

    @property
    def changing_per_round(self) -> int:
        return round(sum(self.per_round))

    def changes_in(self, feed_id: int, round_no: int) -> bool:
        if round_no < 1:
            return False
        draw = _mix(self.seed ^ (feed_id << 24) ^ round_no) / 2**64
        return draw < self.per_round[feed_id - 1]

    def version_of(self, feed_id: int, round_no: int | None = None) -> int:
        round_no = self.current_round() if round_no is None else round_no
        scanned, version = self._versions.get(feed_id, (0, 0))
        if round_no < scanned:  # an earlier round: scan back (not on the serving path)
            return next((r for r in range(round_no, 0, -1) if self.changes_in(feed_id, r)), 0)
        for candidate in range(scanned + 1, round_no + 1):
            if self.changes_in(feed_id, candidate):
                version = candidate
        self._versions[feed_id] = (round_no, version)
        return version


def serve_farm(feeds: int, args) -> FeedFarmServer:
    rng = random.Random(args.seed)
    share = args.round_seconds / 86400
    per_round = [min(1.0, daily_rate(rng) * args.rate_scale * share) for _ in range(feeds)]
    farm = SkewedFarm(
        feeds,
        per_round=per_round,
        seed=args.seed,
        events=args.events,
        change_every=args.round_seconds,
        cache_bytes=2 * 1024**3,
    )
    server = FeedFarmServer(("127.0.0.1", args.farm_port), farm)
    threading.Thread(target=server.serve_forever, name="feedfarm", daemon=True).start()
    return server


# Prime and burst ------------------------------------------------------------------------
# Dispatch another claim while fewer messages than this wait (a claim of the 5m tier's
# batch limit, 2,000 feeds, is 80 messages of 25).
QUEUE_LOW = 100


def drain(label: str, feeds: int, procs, *, new: bool, timeout_s: float = 1800) -> dict:
    """Every feed due at once (``new``: as never synced), dispatched in batches while the
    queue is short (a claim far ahead of the workers would expire in the queue with its
    lease), timed until each feed has an attempt.

    The queue is counted with its priority lists (``io:N``: feeds are published with their
    plan's priority); counting the bare ``io`` list alone, as this did before 2026-12-01
    21:40 UTC, saw an empty queue and claimed the batch limit every 0.5 s, so the whole
    round sat on the broker from its first seconds (a message's queue wait grew to the
    round's length: 60 s at 10,000 feeds under load, near the lease)."""
    from django.utils import timezone

    from bench.feeds import queued_messages
    from calendars.models import Feed
    from syncing.models import SyncAttempt
    from syncing.services.dispatch import dispatch_tier

    since = timezone.now()
    fields = {"last_success_at": None, "last_synced_at": None} if new else {}
    Feed.objects.filter(pk__lte=feeds).update(next_sync_at=since, leased_until=None, **fields)
    Feed.objects.filter(pk__gt=feeds).update(next_sync_at=since + timedelta(days=1))
    attempts = SyncAttempt.objects.filter(kind=KIND, started_at__gte=since, item_id__lte=feeds)
    cpu_before = sum(cpu_seconds(p.pid) for p in procs)
    own_cpu = time.process_time()  # this process: the farm's thread, dispatch, the polling
    db_cpu = database_cpu_seconds()
    started = time.perf_counter()
    done = 0
    while done < feeds and time.perf_counter() - started < timeout_s:
        if queued_messages() < QUEUE_LOW:
            dispatch_tier(KIND, TIER)
        time.sleep(0.5)
        done = attempts.values("item_id").distinct().count()
    elapsed = time.perf_counter() - started
    cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
    own_cpu = time.process_time() - own_cpu
    db_cpu = database_cpu_since(db_cpu)
    until = timezone.now()
    row = {
        "since": since.isoformat(),  # capacity --since/--until: this round's records
        "until": until.isoformat(),
        "load_avg": os.getloadavg(),
        "feeds": feeds,
        "done": done,
        "elapsed_s": round(elapsed, 1),
        "feeds_per_s": round(done / elapsed, 1),
        "worker_cpu_ms_per_feed": round(cpu * 1000 / max(done, 1), 2),
        # the bench process on the same cores: the feed farm answering, dispatch, polling
        "bench_cpu_ms_per_feed": round(own_cpu * 1000 / max(done, 1), 2),
        "db_cpu_ms_per_feed": round(db_cpu * 1000 / max(done, 1), 2),  # database_cpu_since
        "outcomes": attempt_stats(elapsed, attempts)["outcomes"],
        "steady": steady_rate(since, until),
        "costs": cost_split(since, until),
    }
    steady = row["steady"]
    print(
        f"{label}: {done:,} of {feeds:,} feeds in {elapsed:.1f} s ({row['feeds_per_s']}/s), "
        f"steady {steady.get('feeds_per_s')}/s over {steady.get('window_s')} s, "
        f"worker CPU {row['worker_cpu_ms_per_feed']} ms/feed (bench process "
        f"{row['bench_cpu_ms_per_feed']}, PostgreSQL {row['db_cpu_ms_per_feed']}), "
        f"{row['outcomes']}; per check {row['costs']}; "
        f"--since {row['since']} --until {row['until']}",
        flush=True,
    )
    return row


def database_cpu_seconds() -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the bench database now (the
    workers' and this process's connections, all on this box), by pid."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = [row[0] for row in cursor.fetchall()]
    return {pid: cpu_seconds(pid) for pid in pids}


def database_cpu_since(before: dict[int, float]) -> float:
    """The backends' CPU seconds since ``before`` (database_cpu_seconds): a backend that
    started since counts all its CPU, one that ended since counts none (a lower bound)."""
    after = database_cpu_seconds()
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def cost_split(since, until) -> dict:
    """Where a check's CPU went in the round (ms per check): the slot's whole CPU (chunk
    records), the sync functions' own (the attempts' ``counts.cpu_ms``), the engine's
    around them (the difference), the slot's wait for a CPU, and the chunks' fit of CPU
    against that wait (capacity's ``contention``): to tell a cost that grows with the round
    from one that grows with the box's contention."""
    from django.db import connection

    from syncing.models import ChunkRun
    from syncing.monitoring.capacity import contention

    sql = """
        SELECT sum(cpu_ms) / sum(items), sum(cpu_wait_ms) / sum(items),
               sum(wall_ms) / sum(items), avg(between_cpu_ms),
               (SELECT avg((counts->>'cpu_ms')::float) FROM syncing_syncattempt
                WHERE kind = %(kind)s AND started_at >= %(since)s AND started_at < %(until)s)
        FROM syncing_chunkrun
        WHERE kind = %(kind)s AND started_at >= %(since)s AND started_at < %(until)s AND items > 0
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"kind": KIND, "since": since, "until": until})
        slot_cpu, wait, wall, between_cpu, sync_cpu = cursor.fetchone()
    if slot_cpu is None:
        return {}
    chunks = ChunkRun.objects.filter(kind=KIND, started_at__gte=since, started_at__lt=until)
    per_wait, floor = contention(chunks)

    def ms(value):
        return None if value is None else round(value, 3)

    return {
        "slot_cpu_ms": ms(slot_cpu),
        "sync_cpu_ms": ms(sync_cpu),
        "engine_cpu_ms": ms(None if sync_cpu is None else slot_cpu - sync_cpu),
        "between_cpu_ms_per_chunk": ms(between_cpu),
        "wait_ms": ms(wait),
        "wall_ms": ms(wall),
        "cpu_per_wait": round(per_wait, 3),
        "cpu_at_no_wait_ms": ms(slot_cpu - per_wait * (wait or 0.0)),
        "cheapest_chunk_cpu_ms": ms(floor),
    }


def steady_rate(since, until) -> dict:
    """The round's throughput while every worker slot was busy, from the chunk records:
    from the moment the last slot started its first chunk of the round to the moment the
    first slot ended its last one. That leaves out the ramp-up (the first claim and its
    messages reaching the slots) and the tail (the last chunks on fewer slots than there
    are), and the bench's 0.5-s polling of the attempts, which ``elapsed_s`` includes: a
    fixed cost per round that weighs a 2-s round and not a 15-s one. Each chunk's items
    count as finished evenly over its wall time (the share inside the window counts).
    ``capacity`` predicts this figure (slots / a busy slot's time per check)."""
    from syncing.models import ChunkRun

    chunks = list(
        ChunkRun.objects.filter(kind=KIND, started_at__gte=since, started_at__lt=until)
        .order_by("started_at")
        .values_list("worker", "started_at", "wall_ms", "items")
    )
    spans: dict[str, list[float]] = {}  # slot -> [first start, last end] (epoch s)
    for worker, started_at, wall_ms, _items in chunks:
        start = started_at.timestamp()
        span = spans.setdefault(worker, [start, start])
        span[1] = max(span[1], start + wall_ms / 1000)
    if len(spans) < 2:
        return {"slots": len(spans), "feeds_per_s": None, "window_s": None}
    t0 = max(s[0] for s in spans.values())
    t1 = min(s[1] for s in spans.values())
    if t1 - t0 < 0.2:
        return {"slots": len(spans), "feeds_per_s": None, "window_s": round(t1 - t0, 2)}
    inside = 0.0
    for _worker, started_at, wall_ms, items in chunks:
        start = started_at.timestamp()
        end = start + max(wall_ms, 1e-3) / 1000
        overlap = min(end, t1) - max(start, t0)
        if overlap > 0:
            inside += items * overlap / (end - start)
    first = chunks[0][1].timestamp()
    last = max(s[1] for s in spans.values())
    return {
        "slots": len(spans),
        "window_s": round(t1 - t0, 2),
        "feeds_per_s": round(inside / (t1 - t0), 1),
        "ramp_s": round(t0 - since.timestamp(), 2),  # the round's start to all slots busy
        "tail_s": round(last - t1, 2),  # the first slot out of work to the last chunk's end
        "first_chunk_s": round(first - since.timestamp(), 2),
        "chunks_s": round(last - first, 2),  # first chunk start to last chunk end
    }


SEED_SQL = """
    UPDATE calendars_feed f SET etag = v.etag, last_modified = v.modified,
        last_synced_at = now(), last_success_at = now()
    FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, etag, modified)
    WHERE f.id = v.id
"""


def seed_validators(farm, first: int, last: int) -> int:
    """Feeds first..last as if imported once: the farm's current ETag and Last-Modified
    stored, so their next fetch is a 304 (their events are not in the database: a change
    to one of them is imported in full, dearer than a real change)."""
    from email.utils import formatdate

    from django.db import connection

    ids, etags, modified = [], [], []
    for feed_id in range(first, last + 1):
        rendered = farm.render(feed_id)
        ids.append(feed_id)
        etags.append(rendered.etag)
        modified.append(formatdate(rendered.last_modified, usegmt=True))
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 5000):
            end = start + 5000
            cursor.execute(SEED_SQL, [ids[start:end], etags[start:end], modified[start:end]])
    return len(ids)


# Steady state ---------------------------------------------------------------------------
SPREAD_SQL = """
    UPDATE calendars_feed SET
        next_sync_at = %(t0)s + COALESCE(effective_interval, %(tier)s) * random(),
        last_success_at = NULL
    WHERE tier = %(name)s AND NOT paused
"""
# The previous success: at the dispatch tick one interval before the one that will claim
# the feed (ticks at t0 + k x period), with no queue wait (so a little older than real).
BACKDATE_SQL = """
    UPDATE calendars_feed
    SET last_success_at = %(t0)s
        + ceil(extract(epoch FROM next_sync_at - %(t0)s) / %(period)s) * %(period)s
          * interval '1 second'
        - COALESCE(effective_interval, %(tier)s)
    WHERE tier = %(name)s AND NOT paused
"""


def spread_due_times(tier):
    """As after days of running: due times spread over each feed's interval from t0 (a few
    seconds ahead: the window's first dispatch tick), each feed's last success at the tick
    one interval before the one that claims it. Attempts so far are dropped. Returns t0."""
    from django.db import connection
    from django.utils import timezone

    t0 = timezone.now() + timedelta(seconds=10)
    params = {
        "t0": t0,
        "tier": tier.interval,
        "name": TIER,
        "period": tier.dispatch_period.total_seconds(),
    }
    with connection.cursor() as cursor:
        cursor.execute(SPREAD_SQL, params)
        cursor.execute(BACKDATE_SQL, params)
        cursor.execute("TRUNCATE syncing_syncattempt")
        cursor.execute("VACUUM ANALYZE calendars_feed")
    return t0


def interval_mix() -> dict:
    """How many feeds have which effective interval (adaptive polling), in minutes."""
    from django.db.models import Count

    from calendars.models import Feed

    rows = Feed.objects.values_list("effective_interval").annotate(n=Count("pk")).order_by()
    out: dict[str, int] = {}
    for interval, n in rows:
        key = "tier" if interval is None else f"{interval.total_seconds() / 60:g}"
        out[key] = out.get(key, 0) + n
    return dict(sorted(out.items(), key=lambda kv: float("inf" if kv[0] == "tier" else kv[0])))


# The window -----------------------------------------------------------------------------
def sample(kind, tier, started: float) -> dict:
    from syncing.monitoring.freshness import tier_freshness

    f = tier_freshness(kind, tier)
    return {
        "t_s": round(time.perf_counter() - started, 1),
        "items": f.items,
        "on_time": f.on_time,
        "failing": f.failing,
        "stalest_s": round(f.stalest_age.total_seconds(), 1) if f.stalest_age else None,
    }


def run_window(args, procs, t0) -> dict:
    """Dispatch every dispatch period, sample freshness every ``sample_seconds``."""
    from django.utils import timezone

    from syncing.kinds import get_kind
    from syncing.models import SyncAttempt, Tier
    from syncing.services.dispatch import dispatch_tier

    kind, tier = get_kind(KIND), Tier.objects.get(kind=KIND, name=TIER)
    period = tier.dispatch_period.total_seconds()
    time.sleep(max(0.0, t0.timestamp() - time.time()))
    since = timezone.now()
    cpu_before = sum(cpu_seconds(p.pid) for p in procs)
    started = time.perf_counter()
    end = started + args.minutes * 60
    next_dispatch = next_sample = started
    samples, dispatches = [], []
    while time.perf_counter() < end:
        now = time.perf_counter()
        if now >= next_dispatch:
            dispatches.append(dispatch_tier(KIND, TIER).claimed)
            next_dispatch += period
        if now >= next_sample:
            samples.append(sample(kind, tier, started))
            s = samples[-1]
            print(
                f"t={s['t_s']:>6}s on time {s['on_time']:,}/{s['items']:,} "
                f"stalest {s['stalest_s']} s, dispatched {sum(dispatches):,}",
                flush=True,
            )
            next_sample += args.sample_seconds
        time.sleep(max(0.0, min(next_dispatch, next_sample, end) - time.perf_counter()))
    samples.append(sample(kind, tier, started))
    elapsed = time.perf_counter() - started
    cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
    return {
        "since": since.isoformat(),  # capacity --since/--until: the window's records
        "until": timezone.now().isoformat(),
        "elapsed_s": round(elapsed, 1),
        "dispatch_period_s": period,
        "claimed": sum(dispatches),
        "largest_dispatch": max(dispatches, default=0),
        "attempts": SyncAttempt.objects.filter(kind=KIND).count(),
        "worker_cpu_s": round(cpu, 1),
        "samples": samples,
        **attempt_stats(elapsed),
    }


def attempt_stats(elapsed: float, attempts=None) -> dict:
    from django.db.models import Avg, Count, Sum

    from syncing.models import SyncAttempt

    attempts = SyncAttempt.objects.filter(kind=KIND) if attempts is None else attempts
    outcomes = dict(attempts.values_list("outcome").annotate(n=Count("pk")).order_by())
    agg = attempts.aggregate(n=Count("pk"), ms=Avg("duration_ms"), changed=Sum("items_changed"))
    return {
        "outcomes": outcomes,
        "syncs_per_s": round((agg["n"] or 0) / elapsed, 2),
        "mean_sync_ms": round(agg["ms"] or 0, 1),
        "events_changed": agg["changed"] or 0,
        "feeds_changed": outcomes.get("ok", 0),
    }


def summarise(window: dict) -> dict:
    """The on-time share over the window: on-time feed-samples over all feed-samples."""
    samples = window["samples"]
    items = sum(s["items"] for s in samples)
    on_time = sum(s["on_time"] for s in samples)
    rates = [100.0 * s["on_time"] / s["items"] for s in samples if s["items"]]
    return {
        "on_time_pct": round(100.0 * on_time / items, 3) if items else None,
        "worst_sample_pct": round(min(rates), 3) if rates else None,
        "late_feed_samples": items - on_time,
        "stalest_s": max((s["stalest_s"] or 0) for s in samples),
        "target_pct": 99.9,
    }


# Main -----------------------------------------------------------------------------------
def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--minutes", type=float, default=30.0, help="the measured window")
    parser.add_argument("--events", type=int, default=30, help="VEVENTs per feed")
    parser.add_argument(
        "--import-feeds", type=int, default=1000, help="feeds imported for real at the start"
    )
    parser.add_argument("--rate-scale", type=float, default=1.0)
    parser.add_argument("--round-seconds", type=float, default=60.0)
    parser.add_argument("--sample-seconds", type=float, default=15.0)
    parser.add_argument("--batch-limit", type=int, default=2000, help="the 5m tier's batch")
    parser.add_argument("--pool", choices=("prefork", "threads"), default="prefork")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--burst", action="store_true", help="end with a saturated round")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--farm-port", type=int, default=18501, help="fixed: feed URLs hold it")
    parser.add_argument("--reuse", action="store_true", help="keep an earlier run's feeds")
    parser.add_argument("--report", default="freshness")
    return parser.parse_args()


def prepare(args, server) -> dict:
    """Fresh tables, or with ``--reuse`` the feeds of an earlier run (same ``--farm-port``):
    feeds beyond ``--feeds`` paused, missing ones created."""
    from calendars.models import Feed
    from syncing.models import Tier

    purge()
    existing = Feed.objects.count() if args.reuse else 0
    if not existing:
        reset_tables()
    Tier.objects.filter(kind=KIND, name=TIER).update(batch_limit=args.batch_limit, enabled=True)
    Feed.objects.filter(pk__gt=args.feeds).update(paused=True)
    Feed.objects.filter(pk__lte=args.feeds).update(paused=False)
    start = time.perf_counter()
    if args.feeds > existing:
        add_feeds(bench_owner(), server.base_url, existing, args.feeds)
    load_s = time.perf_counter() - start
    warm_s = warm_farm(server.farm, args.feeds)
    print(f"{args.feeds:,} feeds ({existing:,} reused) in {load_s:.1f} s, farm {warm_s:.1f} s")
    return {"create_s": round(load_s, 1), "warm_s": round(warm_s, 1), "reused": existing}


def add_feeds(owner, base_url: str, first: int, last: int) -> None:
    """Feeds first+1..last (ids follow the farm's), FEEDS_PER_LISTING to a listing."""
    from django.db import connection
    from django.utils import timezone

    from calendars.feedfarm import default_style
    from calendars.models import Feed, Listing

    if first == 0:
        create_feeds(owner, base_url, last)
        return
    with connection.cursor() as cursor:  # ids follow on from the earlier run's
        cursor.execute("SELECT setval(pg_get_serial_sequence('calendars_feed', 'id'), %s)", [first])
    ids = range(first + 1, last + 1)
    listings = Listing.objects.bulk_create(
        [
            Listing(owner=owner, name=f"Rental {n}", timezone="Europe/Paris")
            for n in range(first // FEEDS_PER_LISTING + 1, -(-last // FEEDS_PER_LISTING) + 1)
        ],
        batch_size=2000,
    )
    now = timezone.now()
    Feed.objects.bulk_create(
        [
            Feed(
                listing=listings[(i - first - 1) // FEEDS_PER_LISTING],
                url=f"{base_url}/feeds/{i}.ics",
                source=default_style(i),
                tier=TIER,
                next_sync_at=now,
            )
            for i in ids
        ],
        batch_size=2000,
    )


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on a kill
    os.environ.update(EXTRA_ENV)
    setup_django()
    from syncing.models import Tier

    server = serve_farm(args.feeds, args)
    report: dict = {
        "machine": {"cores": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
        "config": {
            **{k: v for k, v in vars(args).items() if k != "farm_port"},
            "changes_per_round_expected": round(sum(server.farm.per_round), 2),
            "command": " ".join([".venv/bin/python", "bench/freshness.py", *sys.argv[1:]]),
        },
    }
    report["setup"] = prepare(args, server)
    procs = start_workers(args.workers, queues="io", concurrency=args.concurrency, pool=args.pool)
    try:
        imported = min(args.feeds, args.import_feeds)
        report["prime"] = drain("prime", imported, procs, new=True)
        report["prime"]["validators_seeded"] = seed_validators(
            server.farm, imported + 1, args.feeds
        )
        report["intervals_min"] = interval_mix()
        t0 = spread_due_times(Tier.objects.get(kind=KIND, name=TIER))
        report["window"] = run_window(args, procs, t0)
        report["summary"] = summarise(report["window"])
        report["machine"]["load_avg_after_window"] = os.getloadavg()
        if args.burst:
            report["burst"] = drain("burst", args.feeds, procs, new=False)
    finally:
        stop_workers(procs)
        purge()
        server.shutdown()
        server.server_close()
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    path = write_report(args.report, report)
    s = report["summary"]
    print(
        f"summary: {args.feeds:,} feeds on {TIER}, {s['on_time_pct']}% on time "
        f"(worst sample {s['worst_sample_pct']}%, target 99.9%), stalest {s['stalest_s']} s; "
        f"{report['window']['syncs_per_s']} syncs/s; report {path}"
    )


if __name__ == "__main__":
    main()
