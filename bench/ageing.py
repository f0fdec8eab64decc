"""Benchmark: data that ages well (issue 14, part 3) at 10,000,000 attempts, 5,000,000 events.

    BENCH_REDIS_URL=redis://127.0.0.1:6391/13 BENCH_BROKER_URL=redis://127.0.0.1:6391/14 \\
        .venv/bin/python bench/ageing.py                          # stages 1M and 10M attempts
    .venv/bin/python bench/ageing.py --stages 200000,1000000 --events 500000   # quicker

Fills a database of its own (BENCH_DB, default sb_bench_h1) server-side (INSERT ... SELECT
generate_series, not the ORM; indexes dropped for the fill and built again): 10,000 feeds of
5,000 listings with ``--events`` events (starts from just before the archive cutoff to a
year ahead: about one day's worth have ended past it, what the daily archive run meets),
``--products`` products with a snapshot every 20 minutes for 40 days in 4 series each, and
attempts in stages (``--stages``) at ``--per-day`` a day (default 142,857: 1M is 7 days,
10M is 70 days, retention long enough to keep them), so the recent hours hold the same
attempts at every stage and only the history behind them grows. At each stage it times:

- the dashboard page (median of 3) and the 5-minute incremental rollup, and a claim of 100
  due feeds (median of 5): these must not slow as history grows;
- *before*: the old prune's batched DELETE of what one hourly run deleted when the stage's
  attempts fill a 7-day retention (stage / 168 rows: 59,523 at 10M);
- *after*: one rotation (the hourly prune on PostgreSQL) that drops an expired day's
  partition of stage / 7 rows (1,428,571 at 10M), on the same table.

Then, once: one archive run (the daily task) and the backlog rate (``--backlog`` events that
ended long ago), one downsample run over 40 days of snapshots (the first run, whole history)
and the next day's run. Stops before a stage whose inserts would push the run past
``--budget-minutes`` (default 14) at the insert rate measured so far, and says so. Prints the
figures and writes bench/reports/ageing.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DB", "sb_bench_h1")

from bench._setup import setup_django, write_report  # noqa: E402

DAY = timedelta(days=1)

INSERT_ATTEMPTS = """
INSERT INTO syncing_syncattempt (kind, item_id, tier, owner_id, started_at, duration_ms,
    outcome, reason, message, http_status, bytes, items_changed, retries, counts)
SELECT 'calendars.feed', 1 + (g %% 10000), (ARRAY['6h','1h','15m'])[1 + g %% 3], NULL,
       %(lo)s + (g + random()) / %(n)s * (%(hi)s - %(lo)s),
       least(600000, (exp(random() * 7) + random() * 50)::int),
       CASE WHEN r < 0.04 THEN 'failed' WHEN r < 0.30 THEN 'not_modified' ELSE 'ok' END,
       CASE WHEN r < 0.01 THEN 'timeout' WHEN r < 0.04 THEN 'http_5xx' ELSE '' END,
       '', 200, (random() * 50000)::int, (random() * 3)::int, 0, '{}'::jsonb
FROM (SELECT g, random() AS r FROM generate_series(1, %(n)s) AS g) AS s
"""

INSERT_EVENTS = """
WITH f AS (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM calendars_feed)
INSERT INTO calendars_event (feed_id, uid, start, "end", all_day, summary, description,
    status, blocking, kind, kind_override, echo_of_id, sequence, fingerprint, raw_hash,
    first_seen, last_seen, changed_at, cancelled_at)
SELECT f.ids[1 + (g %% f.n)], %(prefix)s || g, s.day, s.day + (1 + g %% 7) * interval '1 day',
       true, 'Reserved', '', 'confirmed', true, 'reservation', '', NULL, 0, '', '',
       now(), now(), now(), NULL
FROM f, generate_series(1, %(n)s) AS g,
     LATERAL (SELECT date_trunc('day', %(lo)s + (g + random()) / %(n)s * (%(hi)s - %(lo)s))
              AS day) AS s
"""

INSERT_SNAPSHOTS = """
INSERT INTO market_pricesnapshot (product_id, provider, region, size, currency, lowest_ask,
    highest_bid, last_sale, sales_72h, captured_at)
SELECT p.id, pr, 'US', sz, 'USD', 100 + (random() * 50)::numeric(12, 2), NULL, NULL, NULL, t
FROM market_product p, unnest(ARRAY['stockx', 'alias']) AS pr, unnest(ARRAY['9', '10']) AS sz,
     generate_series(%(hi)s - interval '40 days', %(hi)s, interval '20 minutes') AS t
"""


@contextmanager
def indexes_rebuilt(table: str):
    """Drop the table's secondary indexes and unique constraints for a bulk fill and build
    them again after (a sorted build is several times faster than row-by-row upkeep)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexname <> %s AND NOT indexname = ANY(%s)",
            [table, f"{table}_pkey", [name for name, _ in constraints]],
        )
        indexes = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        for _, indexdef in indexes:
            cursor.execute(indexdef.replace(" ON ONLY ", " ON "))
        for name, definition in constraints:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def sql(statement: str, params: dict | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def fill_domain(args, now) -> dict:
    """Listings, feeds (all due), events; products and their snapshots."""
    from django.contrib.auth import get_user_model

    from calendars.models import Feed, Listing
    from calendars.services.archive import archive_cutoff
    from market.models import PriceSnapshot, Product

    owner, _ = get_user_model().objects.get_or_create(
        username="bench-ageing@example.com", defaults={"email": "bench-ageing@example.com"}
    )
    listings = Listing.objects.bulk_create(
        Listing(owner=owner, name=f"Listing {i}") for i in range(5000)
    )
    Feed.objects.bulk_create(
        Feed(
            listing=listing,
            url=f"https://channel.example/{listing.pk}/{n}.ics",
            tier="6h",
            next_sync_at=now - timedelta(minutes=5),
        )
        for listing in listings
        for n in range(2)
    )
    cutoff = archive_cutoff(now)
    params = {"n": args.events, "prefix": "e", "lo": cutoff - 2 * DAY, "hi": now + 365 * DAY}
    started = time.perf_counter()
    with indexes_rebuilt("calendars_event"):
        sql(INSERT_EVENTS, params)
    events_s = time.perf_counter() - started
    products = Product.objects.bulk_create(
        Product(sku=f"BENCH-{i:05d}", tier="warm") for i in range(args.products)
    )
    started = time.perf_counter()
    with indexes_rebuilt("market_pricesnapshot"):
        sql(INSERT_SNAPSHOTS, {"hi": now.replace(minute=0, second=0, microsecond=0)})
    snaps_s = time.perf_counter() - started
    for table in ("calendars_event", "calendars_feed", "market_pricesnapshot"):
        sql(f"ANALYZE {table}")
    return {
        "events": args.events,
        "events_insert_seconds": round(events_s, 1),
        "products": len(products),
        "snapshots": PriceSnapshot.objects.count(),
        "snapshots_insert_seconds": round(snaps_s, 1),
    }


def dashboard_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    staff, _ = get_user_model().objects.get_or_create(
        username="bench-staff@example.com",
        defaults={"email": "bench-staff@example.com", "is_staff": True, "is_superuser": True},
    )
    client = Client()
    client.force_login(staff)
    return client


def measure_reads(client) -> dict:
    """The dashboard (median of 3 after a first request), the 5-minute incremental rollup,
    and claims of 100 due feeds (median of 5, released after)."""
    from syncing.kinds import get_kind
    from syncing.monitoring.rollups import rollup_attempts
    from syncing.services.claims import claim_due_items, release

    rollup_attempts()  # the rollups are current, as the 5-minute task keeps them
    pages = []
    for _ in range(4):
        response, seconds = timed(client.get, "/admin/syncing/dashboard/")
        assert response.status_code == 200, response.status_code
        pages.append(seconds)
    _, rollup_s = timed(rollup_attempts)
    kind, claims, held = get_kind("calendars.feed"), [], []
    for _ in range(5):
        claim, seconds = timed(claim_due_items, kind, "6h", 100)
        assert len(claim.pks) == 100, len(claim.pks)
        claims.append(seconds)
        held.append(claim)
    for claim in held:
        release(kind, claim.token, claim.pks)
    return {
        "dashboard_median_seconds": round(statistics.median(pages[1:]), 3),
        "incremental_rollup_seconds": round(rollup_s, 3),
        "claim_100_median_seconds": round(statistics.median(claims), 4),
    }


def measure_prune(stage: int, now, retention: int) -> dict:
    """Before: the batched DELETE the hourly prune did when ``stage`` attempts fill a 7-day
    retention (stage / 168 rows). After: the rotation that drops an expired day's partition
    of stage / 7 rows. Both on the table as it is (``stage`` attempts)."""
    from syncing.monitoring import partitions
    from syncing.monitoring.rollups import delete_in_batches, prune, rollup_attempts

    cutoff = now - retention * DAY
    expired_day = partitions.day_floor(cutoff) - 2 * DAY
    partitions.rotate(expired_day, now - 400 * DAY, days_ahead=1, batch=10_000)
    hour_lo = expired_day + timedelta(days=1, hours=12)
    sql(INSERT_ATTEMPTS, {"n": stage // 168, "lo": hour_lo, "hi": hour_lo + timedelta(hours=1)})
    deleted, delete_s = timed(delete_in_batches, cutoff)
    sql(INSERT_ATTEMPTS, {"n": stage // 7, "lo": expired_day, "hi": expired_day + DAY})
    sql("ANALYZE syncing_syncattempt")
    # The 5-minute task rolled these hours up long before their day expires.
    rollup_attempts(since=expired_day, until=expired_day + 2 * DAY)
    report, rotate_s = timed(prune, now)
    return {
        "before_delete_rows": deleted,
        "before_delete_seconds": round(delete_s, 2),
        "after_rotation_rows_dropped": report.attempts,
        "after_rotation_seconds": round(rotate_s, 2),
    }


def measure_archive(args, now) -> dict:
    from calendars.models import Event
    from calendars.services.archive import archive_cutoff, archive_ended_events

    run, run_s = timed(archive_ended_events, now)
    cutoff = archive_cutoff(now)
    sql(
        INSERT_EVENTS,
        {
            "n": args.backlog,
            "prefix": "old",
            "lo": now - timedelta(days=900),
            "hi": cutoff - timedelta(days=10),
        },
    )
    sql("ANALYZE calendars_event")
    backlog, backlog_s = timed(archive_ended_events, now)
    return {
        "archive_run_events": run.archived,
        "archive_run_seconds": round(run_s, 2),
        "backlog_events": backlog.archived,
        "backlog_seconds": round(backlog_s, 2),
        "backlog_events_per_second": round(backlog.archived / max(backlog_s, 1e-9)),
        "events_left": Event.objects.count(),
    }


def measure_downsample(now) -> dict:
    from market.models import PriceSnapshot
    from market.services.downsample import downsample_snapshots

    first, first_s = timed(downsample_snapshots, now, lookback_days=0)
    daily, daily_s = timed(downsample_snapshots, now + timedelta(days=1))
    return {
        "downsample_first_run_deleted": first.deleted,
        "downsample_first_run_seconds": round(first_s, 2),
        "downsample_daily_run_deleted": daily.deleted,
        "downsample_daily_run_seconds": round(daily_s, 2),
        "snapshots_left": PriceSnapshot.objects.count(),
    }


def run_stages(args, now, client, started) -> list[dict]:
    """History grows at a fixed rate (``--per-day`` attempts a day, retention long enough
    to keep it all): each stage adds older days, so the recent hours hold as many attempts
    at every stage and only the history behind them grows."""
    from django.test import override_settings

    from syncing.monitoring import partitions

    retention = math.ceil(max(args.stages) / args.per_day) + 1
    partitions.rotate(
        now - (retention + 1) * DAY, now - 400 * DAY, days_ahead=retention + 2, batch=1
    )
    results, have, rate = [], 0, None
    with override_settings(SYNC_ATTEMPT_RETENTION_DAYS=retention):
        for stage in args.stages:
            if rate:
                projected = (time.perf_counter() - started) + (stage - have) / rate * 1.6
                if projected > args.budget_minutes * 60:
                    print(f"stage {stage:,} skipped: projected {projected / 60:.1f} min > budget")
                    results.append({"attempts": stage, "skipped": "over the time budget"})
                    break
            hi = now - have / args.per_day * DAY
            lo = max(now - stage / args.per_day * DAY, now - retention * DAY + timedelta(hours=1))
            started_insert = time.perf_counter()
            with indexes_rebuilt("syncing_syncattempt"):
                sql(INSERT_ATTEMPTS, {"n": stage - have, "lo": lo, "hi": hi})
            insert_s = time.perf_counter() - started_insert
            sql("ANALYZE syncing_syncattempt")
            rate, have = (stage - have) / insert_s, stage
            print(f"attempts: {stage:,} over {(now - lo) / DAY:.0f} days ({rate:,.0f}/s)")
            row = {"attempts": stage, "days": round((now - lo) / DAY), "retention_days": retention}
            row["insert_rows_per_second"] = round(rate)
            row.update(measure_reads(client))
            row.update(measure_prune(stage, now, retention))
            print("  ", row)
            results.append(row)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages", default="1000000,10000000")
    parser.add_argument("--per-day", type=int, default=1_000_000 // 7)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--budget-minutes", type=float, default=14.0)
    args = parser.parse_args()
    args.stages = [int(s) for s in args.stages.split(",")]
    started = time.perf_counter()
    setup_django(fresh=True)
    from django.conf import settings
    from django.test import override_settings
    from django.urls import include, path
    from django.utils import timezone

    now = timezone.now()
    load = os.getloadavg()
    urls = type(sys)("bench_ageing_urls")
    urls.urlpatterns = [
        path("", include("syncing.monitoring.urls")),
        path("", include("config.urls")),
    ]
    hosts = [*settings.ALLOWED_HOSTS, "testserver"]
    with override_settings(ROOT_URLCONF=urls, ALLOWED_HOSTS=hosts):
        domain = fill_domain(args, now)
        print("filled:", domain)
        stages = run_stages(args, now, dashboard_client(), started)
        archive = measure_archive(args, now)
        print("archive:", archive)
        downsample = measure_downsample(now)
        print("downsample:", downsample)
    report = {
        "date": now.date().isoformat(),
        "load_average_at_start": [round(x, 2) for x in load],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        **domain,
        "stages": stages,
        **archive,
        **downsample,
        "total_minutes": round((time.perf_counter() - started) / 60, 1),
    }
    print(f"report: {write_report('ageing', report)}")


if __name__ == "__main__":
    main()
