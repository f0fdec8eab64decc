"""Fault suite: probe items through real processes while workers, Redis and PostgreSQL fail.

    .venv/bin/python bench/faults.py                                  # every scenario
    .venv/bin/python bench/faults.py --items 1000 --scenarios kill,redis --kills 4

Two workers (prefork, 2 processes each) and beat run on a Redis and a PostgreSQL cluster of
the suite's own (ports 6390 and 5440, under /tmp; the shared services are never touched),
and, for the ``rabbitmq`` scenario, on a RabbitMQ vhost of its own. A supervisor restarts
any process that exits, as systemd would. Each scenario starts from ``--items`` probes due
now in tier 1h (one sync each: any second run is a duplicate), claimed ``--batch`` at a time
every 5 s, so faults land mid fan-out. Scenarios:

- ``baseline``: no fault: how long the fan-out takes when nothing fails;
- ``kill``: ``kill -9`` of a pool child or a worker's main process (alternately), ``--kills``
  times, ``--kill-every`` seconds apart;
- ``redis``: the broker's Redis shut down (``SHUTDOWN NOSAVE``) and restarted, mid fan-out;
- ``postgres``: PostgreSQL restarted, then stopped for ``--pg-down`` seconds;
- ``twobeats``: two beats for ``--two-beats-seconds`` on tier 1m; no item synced twice
  within one interval (after its first sync, which picks the item's phase at random);
- ``duplicate``: every message published twice (dispatch run by the suite, no beat);
- ``rabbitmq``: the ``kill`` scenario on RabbitMQ (``--rabbitmq-queue-type``).

Reported per scenario: items not synced by the end (lost or stuck behind a lease), items
run or recorded twice, per fault the time until every item in flight at that moment (being
synced or waiting in the queue) had synced, and when the last item synced: compare it with
the baseline's to see what the faults cost. The engine runs with its default settings
unless ``--lease`` says otherwise. Writes bench/reports/faults.json (``--label`` to keep
several) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _faults_measure as measure  # noqa: E402
from _faults_procs import Supervisor, beat, kill_mid_chunk, worker  # noqa: E402
from _faults_services import (  # noqa: E402
    PrivatePostgres,
    PrivateRedis,
    drop_rabbitmq_vhost,
    rabbitmq_vhost,
)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("baseline", "kill", "redis", "postgres", "twobeats", "duplicate", "rabbitmq")
DB_NAME = "faults"
VHOST = f"syncbeat_faults_{os.getpid()}"


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.workdir = Path(args.workdir or f"/tmp/syncbeat-faults-{os.getpid()}")
        self.redis = PrivateRedis(args.redis_port, self.workdir / "redis")
        # Its own folder under /tmp: the postgres user must reach it (pytest's tmp is 0700).
        self.pg = PrivatePostgres(args.pg_port, Path(tempfile.mkdtemp(prefix="syncbeat-pg-")))

    def env(self, broker: str | None = None) -> dict:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.pg.url(DB_NAME),
            "CELERY_BROKER_URL": broker or self.redis.url(0),
            "REDIS_URL": self.redis.url(1),
            "DATABASE_POOL": "false",
            "SYNCBEAT_VAR_DIR": str(self.workdir / "var"),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "CELERY_RABBITMQ_QUEUE_TYPE": self.args.rabbitmq_queue_type,
        }
        if self.args.lease:
            env["SYNC_LEASE_SECONDS"] = str(self.args.lease)
        return env

    def start(self) -> None:
        self.redis.start()
        self.pg.init()
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.args.pg_port), "-U", "postgres"]
            + ["-c", f"CREATE DATABASE {DB_NAME}"],
            check=True,
            capture_output=True,
        )
        os.environ.update({**self.env(), "LOG_LEVEL": "WARNING"})  # the children log INFO
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        measure.configure_tier("1h", batch_limit=self.args.batch, dispatch_seconds=5)
        measure.configure_tier("1m", batch_limit=10_000, dispatch_seconds=5)

    def stop(self) -> None:
        from django.db import connection

        connection.close()
        self.redis.stop()
        self.pg.destroy()
        if not self.args.keep_logs:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def logdir(self, scenario: str) -> Path:
        path = self.workdir / "logs" / scenario
        path.mkdir(parents=True, exist_ok=True)
        return path

    def flush_broker(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.args.redis_port), "FLUSHALL"],
            check=True,
            capture_output=True,
        )


def _processes(bench: Bench, scenario: str, broker: str | None, beats: int):
    env = bench.env(broker)
    logdir = bench.logdir(scenario)
    workers = [worker(f"worker{i}", env, logdir) for i in (1, 2)]
    beats_ = [beat(f"beat{i}", env, logdir) for i in range(1, beats + 1)]
    return workers, beats_, logdir


def run_scenario(bench: Bench, scenario: str, faults_fn, *, broker=None, beats=1) -> dict:
    """Items due now, workers and beat under a supervisor, ``faults_fn`` while they run."""
    args = bench.args
    bench.flush_broker()
    measure.reset_items(args.items, tier="1h", sleep_ms=args.sleep_ms)
    workers, beats_, logdir = _processes(bench, scenario, broker, beats)
    sup = Supervisor([*workers, *beats_])
    started = time.time()
    faults: list[dict] = []
    sup.start()
    try:
        _wait_first_sync(started + 90)
        faults = faults_fn(bench, sup, workers)
        last = max((f["at"] for f in faults), default=time.time())
        done_at = measure.wait_synced(last + args.recovery_timeout)
    finally:
        sup.stop()
    figures = measure.item_figures()
    rec = measure.recovery(faults, figures.pop("synced_at"))
    return {
        "scenario": scenario,
        **figures,
        "all_synced_after_s": round(done_at - started, 1) if done_at else None,
        "recovery": rec,
        "unplanned_exits": sup.unplanned_exits,
        "tracebacks_in_logs": _tracebacks(logdir),
        "wall_s": round(time.time() - started, 1),
    }


def _wait_first_sync(deadline: float) -> None:
    while time.time() < deadline:
        if measure.synced_count() > 0:
            return
        time.sleep(0.2)
    raise TimeoutError("no item synced within 90 s of start: see the logs")


def _tracebacks(logdir: Path) -> int:
    return sum(p.read_text(errors="replace").count("Traceback") for p in logdir.glob("*.log"))


def kill_faults(bench: Bench, sup: Supervisor, workers) -> list[dict]:
    faults = []
    for i in range(bench.args.kills):
        time.sleep(bench.args.kill_every)
        flight = measure.in_flight()
        fault = kill_mid_chunk(sup, workers, main=i % 2 == 1)
        fault["in_flight"] = flight
        faults.append(fault)
    return faults


def redis_faults(bench: Bench, sup: Supervisor, workers) -> list[dict]:
    faults = []
    for _ in range(bench.args.redis_restarts):
        time.sleep(bench.args.kill_every)
        flight = measure.in_flight()
        at = time.time()
        bench.redis.restart(down_seconds=2)
        faults.append({"at": at, "target": "redis restart (2 s down)", "in_flight": flight})
    return faults


def postgres_faults(bench: Bench, sup: Supervisor, workers) -> list[dict]:
    faults = []
    for down in (0, bench.args.pg_down):
        time.sleep(bench.args.kill_every)
        flight = measure.in_flight()
        at = time.time()
        try:
            bench.pg.restart(down_seconds=down)
        finally:
            if not _pg_up(bench):  # whatever happened, the cluster comes back
                bench.pg.start()
        faults.append({"at": at, "target": f"postgres down {down} s", "in_flight": flight})
    return faults


def _pg_up(bench: Bench) -> bool:
    out = subprocess.run(
        ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(bench.args.pg_port)], check=False
    )
    return out.returncode == 0


def two_beats(bench: Bench) -> dict:
    """Two beats for a while on tier 1m: no item synced twice within one interval."""
    args = bench.args
    bench.flush_broker()
    measure.reset_items(args.items, tier="1m", sleep_ms=0, phase_set=False)
    workers, beats_, logdir = _processes(bench, "twobeats", None, beats=2)
    sup = Supervisor([*workers, *beats_])
    started = time.time()
    sup.start()
    try:
        time.sleep(args.two_beats_seconds)
    finally:
        sup.stop()
    figures = measure.item_figures()
    figures.pop("synced_at")
    return {
        "scenario": "twobeats",
        "seconds": args.two_beats_seconds,
        **figures,
        **measure.interval_violations(60),
        "unplanned_exits": sup.unplanned_exits,
        "tracebacks_in_logs": _tracebacks(logdir),
        "wall_s": round(time.time() - started, 1),
    }


def duplicate_delivery(bench: Bench) -> dict:
    """Every message published twice; the suite dispatches (no beat)."""
    from syncing.services.dispatch import dispatch_tier
    from syncing.tasks import sync_items

    args = bench.args
    bench.flush_broker()
    measure.reset_items(args.items, tier="1h", sleep_ms=args.sleep_ms)
    workers, _, logdir = _processes(bench, "duplicate", None, beats=0)
    sup = Supervisor(workers)
    original = sync_items.apply_async

    def twice(*a, **kw):
        original(*a, **kw)
        return original(*a, **kw)

    started = time.time()
    sup.start()
    sync_items.apply_async = twice
    try:
        deadline = started + args.recovery_timeout + args.items / 20
        while measure.unsynced_count() and time.time() < deadline:
            measure.db_retry(lambda: dispatch_tier("syncing.probe", "1h"))
            time.sleep(2)
        done_at = measure.wait_synced(deadline)
    finally:
        sync_items.apply_async = original
        sup.stop()
    figures = measure.item_figures()
    figures.pop("synced_at")
    return {
        "scenario": "duplicate",
        **figures,
        "items_not_clean": _unclean_items(),
        "all_synced_after_s": round(done_at - started, 1) if done_at else None,
        "unplanned_exits": sup.unplanned_exits,
        "tracebacks_in_logs": _tracebacks(logdir),
        "wall_s": round(time.time() - started, 1),
    }


def _unclean_items() -> int:
    """Items whose final state is not that of one clean success."""
    from django.db.models import Q

    from syncing.models import Probe

    bad = (
        Q(lease_token__isnull=False)
        | Q(consecutive_failures__gt=0)
        | Q(paused=True)
        | Q(last_success_at__isnull=True)
        | ~Q(last_error="")
    )
    return measure.db_retry(lambda: Probe.objects.filter(bad).count())


def rabbitmq_kill(bench: Bench) -> dict:
    url = rabbitmq_vhost(VHOST)
    try:
        result = run_scenario(bench, "rabbitmq", kill_faults, broker=url)
    finally:
        drop_rabbitmq_vhost(VHOST)
    result["broker"] = f"rabbitmq ({bench.args.rabbitmq_queue_type} queues)"
    return result


RUNNERS = {
    "baseline": lambda b: run_scenario(b, "baseline", lambda *a: []),
    "kill": lambda b: run_scenario(b, "kill", kill_faults),
    "redis": lambda b: run_scenario(b, "redis", redis_faults),
    "postgres": lambda b: run_scenario(b, "postgres", postgres_faults),
    "twobeats": two_beats,
    "duplicate": duplicate_delivery,
    "rabbitmq": rabbitmq_kill,
}


def markdown(results: list[dict]) -> str:
    head = (
        "| scenario | items | faults | unsynced at end | items synced twice | runs beyond one "
        "| slowest recovery (s) | all synced after (s) | unplanned exits |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    lines = [head]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['scenario']} | error: {r['error']} |||||||")
            continue
        rec = r.get("recovery", {})
        twice = r.get("items_synced_twice_in_one_interval", r["items_with_2plus_ok_attempts"])
        slowest = rec.get("max_recovery_s")
        if rec.get("faults") and slowest is None:
            slowest = f"> bound ({rec['not_recovered']} items not back)"
        lines.append(
            f"| {r['scenario']} | {r['items']} | {len(rec.get('faults', []))} "
            f"| {r['unsynced_at_end']} | {twice} | {r['runs_beyond_one']} "
            f"| {slowest if slowest is not None else '-'} "
            f"| {r.get('all_synced_after_s', '-')} | {len(r['unplanned_exits'])} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=5000)
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--batch", type=int, default=500, help="items claimed per dispatch (5 s)")
    p.add_argument("--sleep-ms", type=int, default=20, help="each probe's sync time")
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--kill-every", type=float, default=4.0, help="seconds between faults")
    p.add_argument("--redis-restarts", type=int, default=3)
    p.add_argument("--pg-down", type=float, default=10.0)
    p.add_argument("--two-beats-seconds", type=float, default=600.0)
    p.add_argument(
        "--recovery-timeout",
        type=float,
        default=120.0,
        help="how long to wait after the last fault for every item to sync",
    )
    p.add_argument("--lease", type=int, default=0, help="SYNC_LEASE_SECONDS (0: default)")
    p.add_argument("--rabbitmq-queue-type", choices=("classic", "quorum"), default="quorum")
    p.add_argument("--redis-port", type=int, default=6390)
    p.add_argument("--pg-port", type=int, default=5440)
    p.add_argument("--workdir", default="")
    p.add_argument("--keep-logs", action="store_true")
    p.add_argument("--label", default="", help="report name suffix: faults-<label>.json")
    p.add_argument("--no-report", action="store_true", help="do not write bench/reports/")
    p.add_argument("--output", default="", help="also write the JSON report to this path")
    args = p.parse_args(argv)
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return args


def run(argv: list[str] | None = None) -> dict:
    """Run the chosen scenarios; returns the report (also written unless --no-report)."""
    args = parse_args(argv)
    bench = Bench(args)
    results = []
    try:
        bench.start()
        for name in args.scenarios.split(","):
            print(f"faults: {name} ...", flush=True)
            try:
                results.append(RUNNERS[name](bench))
            except Exception as exc:  # one broken scenario must not hide the others
                results.append({"scenario": name, "error": _describe(exc)})
    except Exception as exc:
        results.append({"scenario": "setup", "error": _describe(exc)})
    finally:
        bench.stop()
    report = _report(args, results)
    if not args.no_report:
        from bench._setup import write_report

        path = write_report(f"faults-{args.label}" if args.label else "faults", report)
        print(f"report: {path.relative_to(ROOT)}")
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(markdown(results))
    return report


def _describe(exc: Exception) -> str:
    detail = getattr(exc, "stderr", None) or ""
    if isinstance(detail, bytes):
        detail = detail.decode(errors="replace")
    return f"{type(exc).__name__}: {exc} {detail[-500:]}".strip()


def _report(args: argparse.Namespace, results: list[dict]) -> dict:
    try:
        from django.conf import settings

        lease, visibility = settings.SYNC_LEASE_SECONDS, settings.CELERY_VISIBILITY_TIMEOUT
    except Exception:  # set-up failed before Django was
        lease = visibility = None
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "command": "bench/faults.py " + " ".join(sys.argv[1:]),
        "commit": commit,
        "lease_seconds": lease,
        "visibility_timeout": visibility,
        "args": vars(args),
        "results": results,
    }


if __name__ == "__main__":
    report = run()
    bad = [r for r in report["results"] if "error" in r or r.get("unsynced_at_end")]
    sys.exit(1 if bad else 0)
