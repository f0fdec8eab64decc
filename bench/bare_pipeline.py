"""The bare peer of bench/feeds.py: Celery + requests + icalendar + a PostgreSQL ``unnest``
upsert, over the same feed farm, with none of Syncbeat's engine (no leases, attempts,
conflicts, webhooks or backoff). An upper bound for our stack (issue 13): compare feeds/s
and worker CPU per feed at the same size, best in one run over one farm (bench/bare_compare.py,
each round run by both):

    .venv/bin/python bench/bare_compare.py --feeds 1000 --events 100
    .venv/bin/python bench/bare_pipeline.py --feeds 1000 --events 100   # the peer alone

Rounds: all new, unchanged (every fetch a 304), all changed. One Celery worker (prefork,
``--concurrency``), messages of 100 feed ids as Syncbeat's dispatch sends, one kept-alive
requests.Session and one PostgreSQL connection per worker process. Tables bare_feed and
bare_event in the bench database; broker as bench/feeds.py. Writes
bench/reports/bare_pipeline.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from celery import Celery  # noqa: E402

from bench._setup import (  # noqa: E402
    BENCH_BROKER,
    BENCH_DB,
    PG_ADMIN_URL,
    ROOT,
    cpu_seconds,
    purge,
    stop_workers,
    write_report,
)

DB_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + BENCH_DB
QUEUE = "bare"
CHUNK = 100
DONE_KEY = "bare:done"
POLL_S = 0.02  # as bench/feeds.py

app = Celery("bare", broker=BENCH_BROKER)
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_default_queue=QUEUE,
)
_process: dict = {}


def _resources():
    """This worker process's session, database connection and Redis client."""
    if _process.get("pid") != os.getpid():
        import psycopg
        import redis
        import requests

        _process.update(
            pid=os.getpid(),
            http=requests.Session(),
            db=psycopg.connect(DB_URL, autocommit=True),
            redis=redis.Redis.from_url(BENCH_BROKER),
        )
    return _process["http"], _process["db"], _process["redis"]


def _when(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(f"not a date: {value!r}")


def _events(body: bytes) -> list[tuple[str, datetime, datetime, str]]:
    import icalendar

    rows = []
    for event in icalendar.Calendar.from_ical(body).walk("VEVENT"):
        start = _when(event.decoded("DTSTART"))
        end = _when(event.decoded("DTEND")) if "DTEND" in event else start
        rows.append((str(event.get("UID")), start, end, str(event.get("SUMMARY", ""))))
    return rows


UPSERT = """
INSERT INTO bare_event (feed_id, uid, start, "end", summary)
SELECT %s, * FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::text[])
ON CONFLICT (feed_id, uid) DO UPDATE SET start = EXCLUDED.start, "end" = EXCLUDED."end",
    summary = EXCLUDED.summary
WHERE (bare_event.start, bare_event."end", bare_event.summary)
    IS DISTINCT FROM (EXCLUDED.start, EXCLUDED."end", EXCLUDED.summary)
"""


@app.task(name="bare.sync_feeds")
def sync_feeds(feed_ids: list[int]) -> None:
    """Fetch each feed (conditional GET), parse it, upsert its events, drop the gone ones."""
    http, db, red = _resources()
    feeds = db.execute(
        "SELECT id, url, etag FROM bare_feed WHERE id = ANY(%s)", [feed_ids]
    ).fetchall()
    for feed_id, url, etag in feeds:
        response = http.get(url, headers={"If-None-Match": etag} if etag else {}, timeout=30)
        if response.status_code == 200:
            rows = _events(response.content)
            uids = [r[0] for r in rows]
            with db.transaction():
                db.execute(UPSERT, [feed_id, uids, *([r[i] for r in rows] for i in (1, 2, 3))])
                db.execute(
                    "DELETE FROM bare_event WHERE feed_id = %s AND uid <> ALL(%s)", [feed_id, uids]
                )
                db.execute(
                    "UPDATE bare_feed SET etag = %s WHERE id = %s",
                    [response.headers.get("ETag"), feed_id],
                )
    red.incrby(DONE_KEY, len(feeds))


# The driver -----------------------------------------------------------------------------
def create_tables(base_url: str, feeds: int) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
    with psycopg.connect(DB_URL, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS bare_event, bare_feed")
        db.execute("CREATE TABLE bare_feed (id int PRIMARY KEY, url text NOT NULL, etag text)")
        db.execute(
            "CREATE TABLE bare_event (id bigserial PRIMARY KEY, feed_id int NOT NULL "
            "REFERENCES bare_feed, uid text NOT NULL, start timestamptz NOT NULL, "
            '"end" timestamptz NOT NULL, summary text NOT NULL, UNIQUE (feed_id, uid))'
        )
        urls = [f"{base_url}/feeds/{i}.ics" for i in range(1, feeds + 1)]
        db.execute(
            "INSERT INTO bare_feed (id, url) SELECT * FROM unnest(%s::int[], %s::text[])",
            [list(range(1, feeds + 1)), urls],
        )


def start_worker(concurrency: int):
    import subprocess

    args = [sys.executable, "-m", "celery", "-A", "bench.bare_pipeline", "worker", "-Q", QUEUE]
    args += ["-c", str(concurrency), "--pool", "prefork", "-l", "warning", "--without-gossip"]
    args += ["--without-mingle", "--without-heartbeat", "-n", f"bare-{os.getpid()}@%h"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    time.sleep(4)  # let it connect
    return process


def run_round(label: str, worker, feeds: int, timeout: float = 1800) -> dict:
    import redis

    red = redis.Redis.from_url(BENCH_BROKER)
    red.set(DONE_KEY, 0)
    cpu_before = cpu_seconds(worker.pid)
    start = time.perf_counter()
    for first in range(1, feeds + 1, CHUNK):
        sync_feeds.apply_async(args=[list(range(first, min(first + CHUNK, feeds + 1)))])
    while int(red.get(DONE_KEY) or 0) < feeds and time.perf_counter() - start < timeout:
        time.sleep(POLL_S)
    elapsed = time.perf_counter() - start
    done = int(red.get(DONE_KEY) or 0)
    cpu = cpu_seconds(worker.pid) - cpu_before
    row = {
        "round": label,
        "feeds": done,
        "elapsed_s": round(elapsed, 2),
        "feeds_per_s": round(done / elapsed, 1),
        "worker_cpu_ms_per_feed": round(cpu * 1000 / max(done, 1), 2),
    }
    print(
        f"{label:<28} {done:>6,} feeds in {elapsed:6.1f} s ({row['feeds_per_s']}/s); "
        f"worker CPU {row['worker_cpu_ms_per_feed']:6.2f} ms/feed",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100, help="VEVENTs per feed")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--report", default="bare_pipeline")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from bench.feeds import warm_farm
    from calendars.feedfarm import serving

    report: dict = {"machine": {"cores": os.cpu_count(), "load_avg_at_start": os.getloadavg()}}
    report["config"] = vars(args) | {"command": " ".join(["bench/bare_pipeline.py", *sys.argv[1:]])}
    with serving(args.feeds, events=args.events, cache_bytes=4 * 1024**3) as server:
        create_tables(server.base_url, args.feeds)
        purge()
        warm_farm(server.farm, args.feeds)  # the farm renders outside the timed rounds
        worker = start_worker(args.concurrency)
        try:
            rounds = [run_round("all new", worker, args.feeds)]
            rounds.append(run_round("unchanged (all 304)", worker, args.feeds))
            server.farm.change_fraction = 1.0
            server.farm.advance()
            warm_farm(server.farm, args.feeds)
            rounds.append(run_round("all changed", worker, args.feeds))
        finally:
            stop_workers([worker])
            purge()
    report["rounds"] = rounds
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    print(f"report: {write_report(args.report, report)}")


if __name__ == "__main__":
    main()
