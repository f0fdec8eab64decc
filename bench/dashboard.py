"""Benchmark: the staff sync dashboard with 1,000,000 attempts in the database.

    .venv/bin/python bench/dashboard.py                       # 1,000,000 attempts
    .venv/bin/python bench/dashboard.py --attempts 200000     # a quicker run

Inserts ``--attempts`` SyncAttempt rows server-side (INSERT ... SELECT generate_series),
spread over the retention window (7 days) with a realistic mix (3 tiers, ~4% failed with
reasons, log-normal-ish durations), plus ``--items`` probes for freshness; runs the hourly
rollups (timed); then times the dashboard view rendered through Django's test Client logged
in as staff (first request and the median of ``--rounds``), and /metrics. Target: < 1 s.
Prints the figures and writes bench/reports/dashboard.json. Uses a database of its own
(syncbeat_bench_dashboard). Not run by CI.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DB", "syncbeat_bench_dashboard")

from bench._setup import setup_django, write_report  # noqa: E402

INSERT_ATTEMPTS = """
INSERT INTO syncing_syncattempt (kind, item_id, tier, owner_id, started_at, duration_ms,
    outcome, reason, message, http_status, bytes, items_changed, retries, counts)
SELECT 'syncing.probe', 1 + (g %% %(items)s), (ARRAY['1m','5m','1h'])[1 + g %% 3], NULL,
       now() - random() * interval '7 days',
       least(600000, (exp(random() * 7) + random() * 50)::int),
       CASE WHEN r < 0.04 THEN 'failed' WHEN r < 0.30 THEN 'not_modified' ELSE 'ok' END,
       CASE WHEN r < 0.01 THEN 'timeout' WHEN r < 0.03 THEN 'http_5xx'
            WHEN r < 0.04 THEN 'http_404' ELSE '' END,
       '', 200, (random() * 50000)::int, (random() * 3)::int, 0, '{}'::jsonb
FROM (SELECT g, random() AS r FROM generate_series(1, %(n)s) AS g) AS s
"""

INSERT_PROBES = """
INSERT INTO syncing_probe (name, tier, next_sync_at, last_synced_at, last_success_at,
    consecutive_failures, last_error, paused, pause_reason, etag, last_modified, content_hash,
    mode, sleep_ms, runs)
SELECT 'bench-' || g, (ARRAY['1m','5m','1h'])[1 + g %% 3], now() + random() * interval '1 minute',
       now() - random() * interval '70 minutes', now() - random() * interval '70 minutes',
       CASE WHEN g %% 50 = 0 THEN 3 ELSE 0 END, '', g %% 500 = 0, '', '', '', '', 'ok', 0, 0
FROM generate_series(1, %(n)s) AS g
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client, override_settings
    from django.urls import include, path

    from syncing.monitoring.rollups import rollup_attempts

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE syncing_syncattempt, syncing_attemptrollup, syncing_probe")
        started = time.perf_counter()
        cursor.execute(INSERT_ATTEMPTS, {"n": args.attempts, "items": args.items})
        cursor.execute(INSERT_PROBES, {"n": args.items})
        cursor.execute("ANALYZE syncing_syncattempt; ANALYZE syncing_probe")
        insert_s = time.perf_counter() - started
    print(f"inserted {args.attempts:,} attempts and {args.items:,} probes in {insert_s:.1f} s")

    started = time.perf_counter()
    rollups = rollup_attempts()
    rollup_s = time.perf_counter() - started
    print(f"rolled up into {rollups:,} rollup rows in {rollup_s:.2f} s")
    started = time.perf_counter()
    rollup_attempts()  # the periodic run: from an hour before the newest rollup
    incremental_s = time.perf_counter() - started
    print(f"incremental rollup (the 5-minute task) in {incremental_s:.2f} s")

    staff, _ = get_user_model().objects.get_or_create(
        username="bench-staff@example.com",
        defaults={"email": "bench-staff@example.com", "is_staff": True, "is_superuser": True},
    )
    urls = type(sys)("bench_dashboard_urls")
    urls.urlpatterns = [
        path("", include("syncing.monitoring.urls")),
        path("", include("config.urls")),
    ]
    timings, metrics = [], []
    with override_settings(
        ROOT_URLCONF=urls, ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]
    ):
        client = Client()
        client.force_login(staff)
        for _ in range(args.rounds + 1):
            started = time.perf_counter()
            response = client.get("/admin/syncing/dashboard/")
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
            assert response.content.count(b'<svg class="chart"') == 4
            started = time.perf_counter()
            assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
            metrics.append(time.perf_counter() - started)
    first, rest = timings[0], timings[1:]
    median = statistics.median(rest)
    report = {
        "attempts": args.attempts,
        "items": args.items,
        "database": connection.vendor,
        "insert_seconds": round(insert_s, 2),
        "rollup_rows": rollups,
        "rollup_seconds": round(rollup_s, 3),
        "incremental_rollup_seconds": round(incremental_s, 3),
        "dashboard_first_seconds": round(first, 3),
        "dashboard_median_seconds": round(median, 3),
        "dashboard_max_seconds": round(max(rest), 3),
        "metrics_median_seconds": round(statistics.median(metrics), 3),
        "target_seconds": 1.0,
        "meets_target": max(first, *rest) < 1.0,
    }
    for key, value in report.items():
        print(f"{key:28} {value}")
    print(f"report: {write_report('dashboard', report)}")


if __name__ == "__main__":
    main()
