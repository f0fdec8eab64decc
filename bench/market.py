"""Benchmark: market products across tiers against the provider simulator.

    .venv/bin/python bench/market.py                                # 1,000,000 products, 120 s
    .venv/bin/python bench/market.py --products 20000 --seconds 30  # a quick run

What it measures (and prints, and writes to bench/reports/market.json):

1. dispatch claim cost at 10,000 products and at ``--products`` (same tier mix): the time
   of ``claim_due_items`` for the hot (20) and cold (100) batches, rolled back each round,
   and the plan PostgreSQL chose (the partial index on (tier, next_sync_at));
2. a run of ``--seconds``: a dispatcher thread claims due products (hot first, as beat's
   tiers would) and ``--workers`` threads run them through the engine (run_claimed, the
   same path as the Celery task) against the simulator, which limits each provider's API
   key to ``--limit`` requests/s; reported per provider: requests/s served while there was
   work, as a share of the limit, and the 429s we caused;
3. the hot products' max age (now - last successful sync) at the end, against their 1 h.

Products are inserted server-side with INSERT ... SELECT generate_series, in their
steady state: each tier's next due times spread over its interval, ``--backlog`` of the
warm and cold ones overdue so there is work for the whole run. Uses a database of its own
(syncbeat_bench_market) and Redis database 13 for the shared rate limiter. Not run by CI.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DB", "syncbeat_bench_market")

from bench._setup import setup_django, write_report  # noqa: E402

KIND = "market.product"
# Share of products per tier, and each tier's interval in seconds.
MIX = {"hot": 0.01, "warm": 0.09, "cold": 0.40, "frozen": 0.50}
INTERVAL = {"hot": 3600, "warm": 6 * 3600, "cold": 24 * 3600, "frozen": 24 * 3600}

INSERT_PRODUCTS = """
    INSERT INTO market_product (sku, name, brand, colorway, image_url, tier, tier_pinned,
        primary_region, created_at, next_sync_at, last_synced_at, last_success_at,
        consecutive_failures, last_error, paused, pause_reason, etag, last_modified,
        content_hash)
    SELECT 'B' || %(tier)s || '-' || (g + %(offset)s), 'Bench product', 'Bench', '', '',
        %(tier)s, false, 'US', now(),
        -- phase spread over the interval; the first ``backlog`` share overdue
        CASE WHEN g <= %(overdue)s
             THEN now() - (random() * %(interval)s * 0.5 || ' seconds')::interval
             ELSE now() + (random() * %(interval)s || ' seconds')::interval END,
        NULL, NULL, 0, '', false, '', '', '', ''
    FROM generate_series(1, %(n)s) AS g
"""
# Steady state: the last sync was one interval before the next due time.
SET_LAST_SYNC = """
    UPDATE market_product
    SET last_synced_at = next_sync_at - (%(interval)s || ' seconds')::interval,
        last_success_at = next_sync_at - (%(interval)s || ' seconds')::interval
    WHERE id > %(after)s AND tier = %(tier)s
"""
INSERT_LINKS = """
    INSERT INTO market_providerlink (product_id, provider, external_id, variant_ids)
    SELECT id, 'alias', sku, '{}'::jsonb FROM market_product WHERE id > %(after)s
    UNION ALL
    SELECT id, 'stockx', sku, '{}'::jsonb FROM market_product WHERE id > %(after)s
"""


def reset() -> None:
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            "TRUNCATE market_pricesnapshot, market_providerlink, market_watchalert, "
            "market_watch, market_tierchange, market_product RESTART IDENTITY CASCADE"
        )
        c.execute("DELETE FROM syncing_syncattempt WHERE kind = %s", [KIND])


def grow_to(total: int, *, backlog: float) -> float:
    """Add products until there are ``total``; returns the seconds it took."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as c:
        c.execute("SELECT count(*), coalesce(max(id), 0) FROM market_product")
        have, last_id = c.fetchone()
        add = total - have
        if add <= 0:
            return 0.0
        for tier, share in MIX.items():
            n = int(add * share)
            overdue = int(n * backlog) if tier in ("warm", "cold") else 0
            c.execute(
                INSERT_PRODUCTS,
                {
                    "tier": tier,
                    "offset": have,
                    "n": n,
                    "overdue": overdue,
                    "interval": INTERVAL[tier],
                },
            )
            c.execute(SET_LAST_SYNC, {"interval": INTERVAL[tier], "after": last_id, "tier": tier})
        c.execute(INSERT_LINKS, {"after": last_id})
        fill_variant_ids(c, last_id)
        c.execute("VACUUM ANALYZE market_product")
        c.execute("ANALYZE market_providerlink")
    return time.perf_counter() - started


def fill_variant_ids(cursor, after: int) -> None:
    """StockX links as after their first sync: variant ids known (one request per sync)."""
    import json

    from market.marketsim.prices import sizes_for, variant_uuid

    cursor.execute("CREATE TEMP TABLE IF NOT EXISTS bench_variants (id bigint, v jsonb)")
    cursor.execute("TRUNCATE bench_variants")
    cursor.execute(
        "SELECT id, external_id FROM market_providerlink WHERE provider = 'stockx' "
        "AND product_id > %s",
        [after],
    )
    rows = cursor.fetchall()
    pg = cursor.cursor.connection  # the psycopg connection under Django's wrapper
    with pg.cursor() as pgc, pgc.copy("COPY bench_variants (id, v) FROM STDIN") as copy:
        for link_id, key in rows:
            copy.write_row(
                (link_id, json.dumps({size: variant_uuid(key, size) for size in sizes_for(key)}))
            )
    cursor.execute(
        "UPDATE market_providerlink l SET variant_ids = b.v FROM bench_variants b WHERE l.id = b.id"
    )


def claim_cost(rounds: int = 15) -> dict:
    """Median ms of claim_due_items for the hot and cold batches (rolled back each time)."""
    from django.db import connection, transaction

    from syncing.kinds import get_kind
    from syncing.services.claims import claim_due_items

    kind = get_kind(KIND)
    out = {}
    for tier, limit in (("hot", 20), ("cold", 100)):
        times, claimed = [], 0
        for _ in range(rounds):
            with transaction.atomic():
                t = time.perf_counter()
                claim = claim_due_items(kind, tier, limit)
                times.append((time.perf_counter() - t) * 1000)
                claimed = len(claim.pks)
                transaction.set_rollback(True)
        with connection.cursor() as c:
            c.execute(
                "EXPLAIN SELECT id FROM market_product WHERE tier = %s AND next_sync_at <= now() "
                "AND NOT paused AND (leased_until IS NULL OR leased_until < now()) "
                "ORDER BY next_sync_at LIMIT %s",
                [tier, limit],
            )
            plan = " / ".join(row[0].strip() for row in c.fetchall()[:3])
        out[tier] = {
            "batch": limit,
            "claimed": claimed,
            "median_ms": round(statistics.median(times), 3),
            "p90_ms": round(sorted(times)[int(len(times) * 0.9) - 1], 3),
            "plan": plan,
        }
    return out


def run(seconds: float, workers: int, limit: int, latency_ms: int, client_limit: str) -> dict:
    """Dispatcher + worker threads against the simulator for ``seconds``."""
    from django.conf import settings
    from django.db import close_old_connections, connection

    from syncing.kinds import get_kind
    from syncing.ratelimit import reset_limiter
    from syncing.services.claims import claim_due_items
    from syncing.services.runs import run_claimed

    server = Simulator(limit, latency_ms)
    settings.MARKET_PROVIDERS = {
        "stockx": {
            "client": "stockx",
            "base_url": f"{server.url}/stockx/v2",
            "api_key": "bench-stockx",
            "token": "t",
            "rate_limit": client_limit,
            "allow_loopback": True,
        },
        "alias": {
            "client": "generic_json",
            "base_url": f"{server.url}/generic",
            "api_key": "bench-alias",
            "rate_limit": client_limit,
            "allow_loopback": True,
        },
    }
    reset_limiter()
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    kind = get_kind(KIND)
    work: queue.Queue = queue.Queue()
    stop = threading.Event()
    synced = {"items": 0, "failed": 0}
    lock = threading.Lock()

    def dispatcher() -> None:
        while not stop.is_set():
            if work.qsize() >= workers * 2:
                time.sleep(0.05)
                continue
            got = 0
            for tier in ("hot", "warm", "cold"):  # hot first, as its faster beat would
                claim = claim_due_items(kind, tier, 100)
                for i in range(0, len(claim.pks), kind.chunk_size):
                    work.put((claim.token, claim.pks[i : i + kind.chunk_size]))
                got += len(claim.pks)
                if got:
                    break
            if not got:
                time.sleep(0.2)
        close_old_connections()
        connection.close()

    def worker() -> None:
        while not stop.is_set():
            try:
                token, pks = work.get(timeout=0.2)
            except queue.Empty:
                continue
            report = run_claimed(KIND, token, pks)
            with lock:
                synced["items"] += report.ran
                synced["failed"] += sum(1 for a in report.attempts if a.outcome == "failed")
        connection.close()

    threads = [threading.Thread(target=dispatcher, daemon=True)]
    threads += [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    samples = []
    started = time.monotonic()
    for t in threads:
        t.start()
    while time.monotonic() - started < seconds:
        time.sleep(1.0)
        stats = server.stats()
        samples.append(
            (time.monotonic() - started, stats["served"], stats["rate_limited"], work.qsize())
        )
    stop.set()
    for t in threads:
        t.join(timeout=30)
    stats = server.stats()
    server.stop()

    # Requests/s per provider over the steady part (after a 3 s warm-up).
    per_provider = {}
    # "While there is work": up to the last sample that still found work queued.
    busy_until = max((s[0] for s in samples if s[3] > 0), default=0.0)
    steady = [s for s in samples if 3.0 <= s[0] <= busy_until]
    for key in ("bench-stockx", "bench-alias"):
        if len(steady) >= 2:
            (t0, s0, _, _), (t1, s1, _, _) = steady[0], steady[-1]
            rate = (s1.get(key, 0) - s0.get(key, 0)) / (t1 - t0)
        else:
            rate = 0.0
        per_provider[key] = {
            "served": stats["served"].get(key, 0),
            "requests_per_second": round(rate, 2),
            "share_of_limit": round(rate / limit, 3),
            "http_429_caused": stats["rate_limited"].get(key, 0),
            "errors": stats["errors"].get(key, 0),
        }
    return {
        "seconds": seconds,
        "workers": workers,
        "simulator_limit_per_key": limit,
        "client_rate_limit": client_limit,
        "latency_ms": latency_ms,
        "items_synced": synced["items"],
        "items_failed": synced["failed"],
        "providers": per_provider,
        "busy_seconds": round(busy_until, 1),
    }


class Simulator:
    """``manage.py marketsim`` in a process of its own (its own GIL, like a real provider)."""

    def __init__(self, limit: int, latency_ms: int) -> None:
        import socket
        import subprocess

        from bench._setup import ROOT, bench_env

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "marketsim",
                "--port",
                str(port),
                "--rate-limit",
                str(limit),
                "--latency-ms",
                str(latency_ms),
            ],
            cwd=ROOT,
            env={**os.environ, **bench_env()},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(100):
            try:
                self.stats()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("marketsim did not start")

    def stats(self) -> dict:
        import json
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/__stats", timeout=5) as response:  # noqa: S310
            return json.loads(response.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def hot_age() -> dict:
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            "SELECT count(*), extract(epoch FROM max(now() - last_success_at)), "
            "count(*) FILTER (WHERE now() - last_success_at > interval '1 hour'), "
            "count(*) FILTER (WHERE next_sync_at <= now()) "
            "FROM market_product WHERE tier = 'hot'"
        )
        n, max_age, stale, due = c.fetchone()
    return {
        "hot_products": n,
        "max_age_seconds": round(float(max_age or 0), 1),
        "older_than_interval": stale,
        "due_now": due,
        "interval_seconds": INTERVAL["hot"],
        "promise_seconds": 3600,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000, help="the small size compared")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--workers", type=int, default=24)
    parser.add_argument("--limit", type=int, default=50, help="simulator requests/s per key")
    parser.add_argument(
        "--client-limit", default=None, help='our limiter per provider (default: "<limit>/second")'
    )
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument(
        "--backlog",
        type=float,
        default=0.3,
        help="share of warm and cold products overdue at the start",
    )
    args = parser.parse_args()

    setup_django()
    # Products start in the steady state of the tiers as configured (hot: 55 min, so that
    # no hot product is older than the hour it is promised).
    from syncing.kinds import get_kind
    from syncing.models import Tier

    for spec in get_kind(KIND).tiers:  # the kind's defaults, whatever an earlier run left
        Tier.objects.update_or_create(
            kind=KIND,
            name=spec.name,
            defaults={
                "interval": spec.interval,
                "batch_limit": spec.batch_limit,
                "dispatch_every": spec.dispatch_every,
            },
        )
        if spec.interval:
            INTERVAL[spec.name] = int(spec.interval.total_seconds())
    reset()
    report: dict = {"products": args.products, "mix": MIX}
    report["insert_seconds_small"] = round(grow_to(args.small, backlog=args.backlog), 2)
    report["claim_small"] = {"products": args.small, **claim_cost()}
    report["insert_seconds_large"] = round(grow_to(args.products, backlog=args.backlog), 2)
    report["claim_large"] = {"products": args.products, **claim_cost()}
    report["run"] = run(
        args.seconds,
        args.workers,
        args.limit,
        args.latency_ms,
        args.client_limit or f"{args.limit}/second",
    )
    report["hot"] = hot_age()
    path = write_report("market", report)

    small, large = report["claim_small"], report["claim_large"]
    print(
        f"products: {args.small:,} -> {args.products:,} "
        f"(inserted in {report['insert_seconds_large']} s)"
    )
    for tier in ("hot", "cold"):
        print(
            f"claim {tier:4} batch {small[tier]['batch']:3}: "
            f"{small[tier]['median_ms']:.2f} ms at {args.small:,}, "
            f"{large[tier]['median_ms']:.2f} ms at {args.products:,}  "
            f"[{large[tier]['plan'][:90]}]"
        )
    r = report["run"]
    print(
        f"run {r['seconds']} s, {r['workers']} workers: {r['items_synced']} products synced, "
        f"{r['items_failed']} failed"
    )
    for key, p in r["providers"].items():
        print(
            f"  {key}: {p['requests_per_second']} req/s = {p['share_of_limit']:.0%} of "
            f"{args.limit}/s, 429s caused: {p['http_429_caused']}"
        )
    h = report["hot"]
    print(
        f"hot: {h['hot_products']} products, max age {h['max_age_seconds']} s "
        f"(interval 3600 s), older than interval: {h['older_than_interval']}"
    )
    print(f"report: {path}")


if __name__ == "__main__":
    main()
