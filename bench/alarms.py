"""Benchmark: a morning peak of alarms, briefings generated through Redis and real workers.

    .venv/bin/python bench/alarms.py --alarms 2000 --speed 30      # reduced, ~5 minutes
    .venv/bin/python bench/alarms.py --alarms 100000 --speed 1      # full scale, ~2 hours

N alarms ring between 07:00 and 08:00 local (spread over the 60 minutes) on one simulated
Monday, in zones that share their UTC offset that day (the worst case: every zone's peak at
once). Time is simulated: the schedule is computed with the scheduling functions given the
simulated instant, and the dispatcher, the sweep and the workers all read the alarms' fake
clock (``ALARMS_FAKE_CLOCK``: simulated = start + elapsed real time x speed). The speech
engine is speechsim sleeping ``--tts-seconds`` (1 s) per briefing, in real time.

Every simulated minute the bench runs what beat would: the alarms dispatch (claim due items
by next_sync_at, publish in chunks of 20 on "cpu"/"urgent" with priorities) and the deadline
sweep. Workers: ``--workers`` processes x ``--threads`` threads on queues urgent,cpu.

Reports % ready before ring (ready = done more than a minute before its ring), fallbacks,
scheduling overhead per briefing (CPU ms of workers + dispatcher, excluding PostgreSQL,
Redis and speechsim), and how far ahead of its ring the last briefing finished. Writes
bench/reports/alarms.json. Not run by CI. Uses its own database (syncbeat_bench_alarms).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

os.environ.setdefault("BENCH_DB", "syncbeat_bench_alarms")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import (  # noqa: E402
    PG_ADMIN_URL,
    ROOT,
    bench_env,
    cpu_seconds,
    purge,
    stop_workers,
    write_report,
)

ZONES = [
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Vienna",
    "Europe/Amsterdam",
]
LEAD_MINUTES = 58
SETTINGS_TEMPLATE = """
import os
from config.settings import *  # noqa
ALARMS_FAKE_CLOCK = os.environ.get("ALARMS_BENCH_CLOCK", "")
ALARMS_TTS_ENGINE = "speech-api"
SPEECH_API_BASE_URL = {base!r}
SPEECH_API_RATE_LIMIT = "100000/second"
SPEECH_API_DEADLINE = 30
ALLOW_PRIVATE_URLS = True
MEDIA_ROOT = {media!r}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def simulated_monday() -> date:
    """A Monday at least a week ahead (message expiry and leases use simulated time, so the
    simulated day must not lie in the real past)."""
    day = datetime.now(UTC).date() + timedelta(days=7)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def setup(settings_dir: Path, media: Path, speech_port: int) -> None:
    import psycopg

    env = bench_env()
    env["DJANGO_SETTINGS_MODULE"] = "alarms_bench_settings"
    os.environ.update(env)
    (settings_dir / "alarms_bench_settings.py").write_text(
        SETTINGS_TEMPLATE.format(base=f"http://127.0.0.1:{speech_port}", media=str(media))
    )
    sys.path.insert(0, str(settings_dir))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(settings_dir), str(ROOT)])
    db = os.environ["BENCH_DB"]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone():
            conn.execute(f'CREATE DATABASE "{db}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def create_alarms(n: int, zones: list[str], day: date, sim_start: datetime) -> dict:
    """N alarms at 07:00..07:59 local in ``zones``; schedule computed at ``sim_start``."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from alarms.models import Alarm
    from alarms.services.schedule import Rule, next_ring

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE alarms_briefing, alarms_audioclip, alarms_speechspend, alarms_alarm, "
            "syncing_syncattempt CASCADE"
        )
    users = get_user_model()
    owners = []
    for i in range(max(1, n // 100)):
        email = f"sleeper{i}@bench.example"
        owner, _ = users.objects.get_or_create(
            username=email, defaults={"email": email, "first_name": "Sam"}
        )
        owners.append(owner)
    everyday = [0, 1, 2, 3, 4, 5, 6]
    rows = []
    cpu0 = time.process_time()
    for i in range(n):
        at = dtime(7, i % 60)
        rule = Rule(time=at, timezone=zones[i % len(zones)], days=everyday)
        ring = next_ring(rule, sim_start)
        rows.append(
            Alarm(
                owner=owners[i % len(owners)],
                label=f"bench {i}",
                time=at,
                timezone=rule.timezone,
                days=everyday,
                tier="1d",
                lead_minutes=LEAD_MINUTES,
                next_ring_at=ring,
                next_sync_at=ring - timedelta(minutes=LEAD_MINUTES),
                options={"note": "Bench alarm."},
            )
        )
    schedule_cpu = time.process_time() - cpu0
    Alarm.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE alarms_alarm")
    rings = [r.next_ring_at for r in rows]
    return {
        "first_ring": min(rings),
        "last_ring": max(rings),
        "next_ring_cpu_us_per_alarm": round(schedule_cpu / n * 1e6, 1),
    }


def start_processes(args, speech_port: int) -> tuple[subprocess.Popen, list[subprocess.Popen]]:
    env = dict(os.environ)
    speech = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "speechsim",
            "--port",
            str(speech_port),
            "--sleep",
            str(args.tts_seconds),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    workers = []
    for i in range(args.workers):
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    "urgent,cpu",
                    "--pool",
                    "threads",
                    "-c",
                    str(args.threads),
                    "-l",
                    "warning",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"alarmbench{i}-{os.getpid()}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    return speech, workers


def run_peak(args, last_ring: datetime) -> dict:
    """Dispatch and sweep every simulated minute until every ring has passed."""
    from django.conf import settings
    from django.db import transaction

    from alarms.models import Briefing
    from alarms.services import clock
    from alarms.services.deadlines import sweep
    from syncing.kinds import get_kind
    from syncing.models import Tier
    from syncing.services.claims import claim_due_items
    from syncing.services.dispatch import publish_claim

    kind = get_kind("alarms.alarm")
    batch = Tier.objects.get(kind=kind.name, name="1d").batch_limit
    period = 60.0 / args.speed  # one simulated minute, in real seconds
    dispatch_cpu = sweep_cpu = 0.0
    claimed = messages = fallbacks = 0
    assert settings.ALARMS_FAKE_CLOCK
    while clock.now() < last_ring + timedelta(minutes=2):
        tick = time.monotonic()
        cpu = time.process_time()
        while True:
            with transaction.atomic():
                claim = claim_due_items(kind, "1d", batch, now=clock.now())
                messages += publish_claim(kind, claim)
            claimed += len(claim.pks)
            if len(claim.pks) < batch:
                break
        dispatch_cpu += time.process_time() - cpu
        cpu = time.process_time()
        fallbacks += sweep(clock.now()).fallbacks
        sweep_cpu += time.process_time() - cpu
        done = Briefing.objects.exclude(status="pending").count()
        print(
            f"  sim {clock.now():%H:%M} UTC  claimed {claimed:>7}  briefings done {done:>7}",
            flush=True,
        )
        time.sleep(max(0.0, period - (time.monotonic() - tick)))
    return {
        "claimed": claimed,
        "messages": messages,
        "sweep_fallbacks": fallbacks,
        "dispatch_cpu_s": dispatch_cpu,
        "sweep_cpu_s": sweep_cpu,
    }


def summarise(n: int, speed: float) -> dict:
    from django.db.models import Count

    from alarms.models import Briefing

    rows = list(Briefing.objects.values_list("ring_at", "generated_at", "status"))
    by_status = dict(Briefing.objects.values_list("status").annotate(c=Count("pk")))
    ready = by_status.get("ready", 0)
    margins = [
        (ring - gen).total_seconds()
        for ring, gen, status in rows
        if gen is not None and status in ("ready", "late")
    ]
    last = max(
        (r for r in rows if r[1] is not None and r[2] in ("ready", "late")),
        key=lambda r: r[1],
        default=None,
    )
    waits = [
        (gen - (ring - timedelta(minutes=LEAD_MINUTES))).total_seconds()
        for ring, gen, status in rows
        if gen is not None and status in ("ready", "late")
    ]
    return {
        "alarms": n,
        "briefings": len(rows),
        "by_status": by_status,
        "percent_ready_before_ring": round(100.0 * ready / n, 2),
        "min_margin_before_ring_s": round(min(margins), 1) if margins else None,
        "last_finished_margin_before_its_ring_s": (
            round((last[0] - last[1]).total_seconds(), 1) if last else None
        ),
        "last_finished_sim_utc": last[1].isoformat() if last else None,
        "generation_after_due_sim_s_p50": round(statistics.median(waits), 1) if waits else None,
        "generation_after_due_sim_s_p99": (
            round(sorted(waits)[int(len(waits) * 0.99) - 1], 1) if waits else None
        ),
        "speed": speed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alarms", type=int, default=100_000)
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per real second (30: the 2 h peak in 4 min)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=30)
    parser.add_argument("--tts-seconds", type=float, default=1.0)
    parser.add_argument("--zones", nargs="+", default=ZONES)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="alarms-bench-"))
    speech_port = free_port()
    setup(work, work / "media", speech_port)
    from django.conf import settings

    day = simulated_monday()
    from zoneinfo import ZoneInfo

    peak = datetime.combine(day, dtime(7, 0), ZoneInfo(args.zones[0])).astimezone(UTC)
    sim_start = peak - timedelta(minutes=LEAD_MINUTES + 2)
    print(
        f"creating {args.alarms} alarms ringing 07:00-08:00 local on {day} in "
        f"{', '.join(args.zones)}",
        flush=True,
    )
    created = create_alarms(args.alarms, args.zones, day, sim_start)
    purge()
    # Workers take a few seconds to start; the simulated clock starts when they are up.
    spec = f"{time.time() + 8},{sim_start.timestamp()},{args.speed}"
    os.environ["ALARMS_BENCH_CLOCK"] = spec
    settings.ALARMS_FAKE_CLOCK = spec
    speech, workers = start_processes(args, speech_port)
    real_started = time.monotonic()
    try:
        time.sleep(8)
        idle_cpu = sum(cpu_seconds(w.pid) for w in workers)  # start-up, not per briefing
        peak_report = run_peak(args, created["last_ring"])
        time.sleep(2)
        worker_cpu = sum(cpu_seconds(w.pid) for w in workers) - idle_cpu
    finally:
        stop_workers([*workers, speech])
    result = summarise(args.alarms, args.speed)
    n = args.alarms
    report = {
        **result,
        **created,
        "zones": args.zones,
        "simulated_day": day.isoformat(),
        "workers": args.workers,
        "threads_per_worker": args.threads,
        "tts_seconds": args.tts_seconds,
        "real_seconds": round(time.monotonic() - real_started, 1),
        "dispatch": peak_report,
        "cpu_ms_per_briefing_workers": round(worker_cpu / n * 1000, 2),
        "cpu_ms_per_briefing_dispatch_and_sweep": round(
            (peak_report["dispatch_cpu_s"] + peak_report["sweep_cpu_s"]) / n * 1000, 2
        ),
        "note": "CPU excludes PostgreSQL, Redis and speechsim; worker CPU includes script "
        "composition, the HTTP call to the speech API, storage and engine writes.",
    }
    path = write_report("alarms", report)
    for key, value in report.items():
        print(f"{key}: {value}")
    print(f"report: {path}")


if __name__ == "__main__":
    main()
