"""The read replica (issue 13, goal 9) against a real streaming replica.

The module starts one: a ``pg_basebackup -R -X stream`` of the test server, taken after the
test database exists, started on another port. Which database answered is proven by data:
with the replica's replay paused, a row written to the primary is visible only to a read
that went there. The replica is stopped and its directory removed at teardown, always.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from calendars.models import Listing
from syncing import replica
from syncing.kinds import get_kind
from syncing.models import Probe
from syncing.services.claims import claim_due_items
from tests.conftest import make_owner
from tests.syncing.factories import make_probes

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]

# pg_basebackup copies the whole cluster; past this size the test is skipped, not slowed.
MAX_CLUSTER_MB = int(os.environ.get("TEST_REPLICA_MAX_CLUSTER_MB", "1024"))
HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
# A standby refuses to start with less of these than its primary has.
COPIED_SETTINGS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


class ReplicaServer:
    """A hot standby of the test server, in a temporary directory, on ``port``."""

    def __init__(self, primary: dict):
        self.primary = primary
        self.base = Path(tempfile.mkdtemp(prefix="syncbeat-replica-"))
        self.data = self.base / "data"
        self.port = int(os.environ.get("TEST_REPLICA_PORT") or _free_port())
        self.process: subprocess.Popen | None = None
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.bindir: Path | None = None

    def sql(self, query: str, params=(), *, on_primary: bool = False):
        host, port = (
            (self.primary["HOST"] or "127.0.0.1", self.primary["PORT"] or 5432)
            if on_primary
            else ("127.0.0.1", self.port)
        )
        with psycopg.connect(
            host=host, port=port, user=self.primary["USER"] or "postgres", dbname="postgres",
            autocommit=True, connect_timeout=5,
        ) as conn:  # fmt: skip
            cursor = conn.execute(query, params)
            return cursor.fetchone() if cursor.description else None

    def cannot_run(self) -> str | None:
        """Why no replica can be started here (None: it can)."""
        wal_level, senders, version = self.sql(
            "SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int, "
            "current_setting('server_version_num')::int",
            on_primary=True,
        )
        if wal_level not in ("replica", "logical"):
            return f"the primary's wal_level is {wal_level} (replica needed)"
        if senders < 2:
            return f"the primary's max_wal_senders is {senders} (2 needed)"
        (allowed,) = self.sql(
            "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database) "
            "AND auth_method = 'trust' AND error IS NULL",
            on_primary=True,
        )
        if not allowed:
            return (
                "the primary's pg_hba.conf allows no replication connection "
                "(add `host replication all 127.0.0.1/32 trust` and reload, as .ci/run does)"
            )
        self.bindir = Path(f"/usr/lib/postgresql/{version // 10000}/bin")
        if not (self.bindir / "postgres").exists():
            return f"no PostgreSQL server binaries in {self.bindir}"
        if self.as_postgres and not shutil.which("runuser"):
            return "running as root and runuser is missing"
        return None

    def too_large(self) -> str | None:
        """Not a missing service: a shared development server full of benches (CI's holds
        only the test databases), whose copy would take minutes."""
        (size,) = self.sql(
            "SELECT (sum(pg_database_size(oid)) / 1048576)::bigint FROM pg_database",
            on_primary=True,
        )
        if size > MAX_CLUSTER_MB:
            return f"the primary's cluster holds {size} MB, over {MAX_CLUSTER_MB} MB to copy"
        return None

    def start(self) -> None:
        if self.as_postgres:
            shutil.chown(self.base, "postgres", "postgres")
        primary_port = str(self.primary["PORT"] or 5432)
        backup = [str(self.bindir / "pg_basebackup"), "-h", self.primary["HOST"] or "127.0.0.1"]
        backup += ["-p", primary_port, "-U", "postgres", "-D", str(self.data)]
        backup += ["-R", "-X", "stream", "-c", "fast", "--no-sync"]
        for _attempt in (1, 2):  # a database dropped during the copy fails it: once more
            done = subprocess.run(self.as_postgres + backup, capture_output=True, timeout=120)
            if done.returncode == 0:
                break
            shutil.rmtree(self.data, ignore_errors=True)
        else:
            raise RuntimeError(f"pg_basebackup failed: {done.stderr.decode(errors='replace')}")
        values = self.sql(
            "SELECT " + ", ".join(f"current_setting('{n}')" for n in COPIED_SETTINGS),
            on_primary=True,
        )
        conf = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.base}'",
            "hot_standby = on",
            "hot_standby_feedback = on",
            "fsync = off",
            "shared_buffers = 32MB",
            *(f"{name} = {value}" for name, value in zip(COPIED_SETTINGS, values, strict=True)),
        ]
        self._write("postgresql.conf", "\n".join(conf) + "\n")
        self._write("pg_hba.conf", HBA)
        self._write("pg_ident.conf", "")
        log = open(self.base / "replica.log", "wb")  # noqa: SIM115 (the server's lifetime)
        self.process = subprocess.Popen(
            self.as_postgres + [str(self.bindir / "postgres"), "-D", str(self.data)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _write(self, name: str, text: str) -> None:
        path = self.data / name
        path.write_text(text)
        if self.as_postgres:
            shutil.chown(path, "postgres", "postgres")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the replica exited: {self.log_tail()}")
            try:
                if self.sql("SELECT pg_is_in_recovery()")[0]:
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"the replica did not start within 30 s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.base / "replica.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        ctl = [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w"]
        subprocess.run(self.as_postgres + ctl, capture_output=True, timeout=30)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=10)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def caught_up(self, timeout: float = 60) -> None:
        """Wait until the replica has replayed everything the primary has written (the whole
        cluster's WAL: another session's bulk load on the same server slows this down)."""
        (lsn,) = self.sql("SELECT pg_current_wal_insert_lsn()", on_primary=True)
        deadline = time.monotonic() + timeout
        while not self.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))[0]:
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pause(self) -> None:
        self.sql("SELECT pg_wal_replay_pause()")

    def resume(self) -> None:
        self.sql("SELECT pg_wal_replay_resume()")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """The streaming replica, configured as the ``replica`` alias with the router on."""
    if not django_settings.POSTGRES_AVAILABLE:
        pytest.skip("needs PostgreSQL (not answering)")
    # Transactional tests only: pytest-django runs the others first, which would split the
    # module (two base backups).
    with django_db_blocker.unblock():
        primary = copy.deepcopy(connections["default"].settings_dict)
    server = ReplicaServer(primary)
    try:
        reason = server.cannot_run()
        if reason:
            if django_settings.REQUIRE_SERVICES:
                pytest.fail(f"REQUIRE_SERVICES=1 but no replica can run: {reason}")
            pytest.skip(f"no streaming replica: {reason}")
        reason = server.too_large()
        if reason:
            pytest.skip(f"no streaming replica: {reason} (TEST_REPLICA_MAX_CLUSTER_MB)")
        server.start()
        alias = {**primary, "HOST": "127.0.0.1", "PORT": str(server.port)}
        alias["OPTIONS"] = {**primary.get("OPTIONS", {}), "connect_timeout": 2}
        alias["TEST"] = {**primary["TEST"], "MIRROR": "default"}
        django_settings.DATABASES["replica"] = alias
        with override_settings(
            DATABASE_ROUTERS=["syncing.replica.ReplicaRouter"],
            REPLICA_MAX_LAG_SECONDS=3600.0,
            REPLICA_CHECK_SECONDS=60.0,
            REPLICA_STICKY_SECONDS=10,
        ):
            yield server
    finally:
        _drop_alias()
        server.remove()


def _drop_alias() -> None:
    if "replica" in connections.settings:
        with contextlib.suppress(Exception):  # the server may be gone already
            connections["replica"].close()
        with contextlib.suppress(AttributeError):
            del connections["replica"]
    django_settings.DATABASES.pop("replica", None)
    replica.forget_replica_state()


@pytest.fixture
def fresh(server):
    """Replay running and caught up, no sticky users, the replica's state checked anew."""
    server.resume()
    server.caught_up()
    cache.clear()
    replica.forget_replica_state()
    yield server
    if server.running:
        server.resume()


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def replica_queries(call) -> tuple[object, int]:
    with CaptureQueriesContext(connections["replica"]) as queries:
        result = call()
    return result, len(queries)


def test_pages_and_api_read_the_replica_and_a_writer_reads_the_primary(
    fresh, alice, bob, staff, alice_api, bob_api
):
    carol = make_owner("carol@example.com")
    Listing.objects.create(owner=alice, name="Seen everywhere")
    Listing.objects.create(owner=bob, name="Bob first")
    fresh.caught_up()
    fresh.pause()
    Listing.objects.create(owner=alice, name="On the primary only")
    Listing.objects.create(owner=bob, name="Bob on the primary only")
    Listing.objects.create(owner=carol, name="Carol on the primary only")
    alice_page, bob_page = page_client(alice), page_client(bob)

    page = alice_page.get("/calendars/")
    assert page.status_code == 200
    assert b"Seen everywhere" in page.content
    assert b"On the primary only" not in page.content  # read on the paused replica
    names = {row["name"] for row in alice_api.get("/api/v1/listings/").json()["results"]}
    assert names == {"Seen everywhere"}
    dashboard, queries = replica_queries(
        lambda: page_client(staff).get("/admin/syncing/dashboard/")
    )
    assert dashboard.status_code == 200 and queries > 0

    created, queries = replica_queries(
        lambda: alice_api.post("/api/v1/listings/", {"name": "Written by Alice"}, format="json")
    )
    assert created.status_code == 201, created.content
    assert queries == 0  # an unsafe request: the primary only

    # Alice wrote: her reads, on the page and the API, see the primary.
    page = alice_page.get("/calendars/")
    assert b"On the primary only" in page.content and b"Written by Alice" in page.content
    names = {row["name"] for row in alice_api.get("/api/v1/listings/").json()["results"]}
    assert names == {"Seen everywhere", "On the primary only", "Written by Alice"}
    # Bob did not: he still reads the replica, whose replay is still paused.
    page = bob_page.get("/calendars/")
    assert b"Bob first" in page.content and b"Bob on the primary only" not in page.content
    names = {row["name"] for row in bob_api.get("/api/v1/listings/").json()["results"]}
    assert names == {"Bob first"}
    # Carol signs in (an unsafe request): her next page reads the primary.
    carol_page = Client()
    login = carol_page.post(
        "/login/", {"username": "carol@example.com", "password": "correct horse battery staple"}
    )
    assert login.status_code == 302
    assert b"Carol on the primary only" in carol_page.get("/calendars/").content

    fresh.resume()
    fresh.caught_up()
    page = bob_page.get("/calendars/")
    assert b"Bob on the primary only" in page.content


def test_workers_claims_and_a_lagging_replica_read_the_primary(fresh, alice, settings):
    fresh.pause()
    probes = make_probes(3)
    pks = {probe.pk for probe in probes}
    with replica.replica_reads():
        assert Probe.objects.filter(pk__in=pks).count() == 0  # this scope reads the replica
        with transaction.atomic():
            assert Probe.objects.filter(pk__in=pks).count() == 3
        claim = claim_due_items(get_kind("syncing.probe"), "5m", 10)
        assert set(claim.pks) == pks
        with replica.primary_reads():
            assert Probe.objects.filter(pk__in=pks, lease_token=claim.token).count() == 3
    # Outside a request (a worker, beat): the primary.
    assert Probe.objects.filter(pk__in=pks, lease_token=claim.token).count() == 3

    # Replay has been paused for a while now: past the lag limit, pages read the primary.
    alice_page = page_client(alice)
    Listing.objects.create(owner=alice, name="Fresh on the primary")
    time.sleep(0.6)
    settings.REPLICA_MAX_LAG_SECONDS = 0.5
    replica.forget_replica_state()

    page = alice_page.get("/calendars/")
    assert page.status_code == 200 and b"Fresh on the primary" in page.content
    state = replica.replica_state()
    assert not state.usable and "behind" in state.reason and state.lag_seconds >= 0.5

    # Caught up again: back to the replica (the other databases of this busy cluster keep
    # its replay a fraction of a second behind, hence the default threshold here).
    fresh.resume()
    fresh.caught_up()
    settings.REPLICA_MAX_LAG_SECONDS = 5.0
    replica.forget_replica_state()
    assert replica.replica_state().usable

    # Having replayed all it received is not enough: WAL the primary wrote but the replica
    # has not received yet (a slow link; here a position 16 MB ahead) counts as lag.
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT (pg_current_wal_lsn() + 16777216)::text")
        (ahead,) = cursor.fetchone()
    with connections[replica.REPLICA].cursor() as cursor:
        cursor.execute(replica.LAG_SQL, [ahead])
        assert cursor.fetchone()[1] > 0


CHILD = """
import json
from django.conf import settings
from django.db import connections, router
from calendars.models import Listing
from syncing.replica import replica_reads
with replica_reads():
    alias = router.db_for_read(Listing)
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        in_recovery = cursor.fetchone()[0]
print(json.dumps({
    "alias": alias,
    "in_recovery": in_recovery,
    "pool": settings.DATABASES["replica"]["OPTIONS"].get("pool"),
    "mirror": settings.DATABASES["replica"]["TEST"]["MIRROR"],
    "middleware": "syncing.replica.ReplicaReadsMiddleware" in settings.MIDDLEWARE,
}))
"""


def test_the_environment_alone_configures_the_replica(fresh, tmp_path):
    """DATABASE_REPLICA_URL, as a web process reads it: a pooled replica alias, the router,
    and a replica check that works for a role without superuser or monitoring rights."""
    primary = connections["default"].settings_dict
    reader = f"syncbeat_replica_reader_{os.getpid()}"
    fresh.sql(f"CREATE ROLE {reader} LOGIN", on_primary=True)
    fresh.caught_up()
    # The last replayed transaction is older than the lag limit by the time the child looks:
    # an idle primary must not read as a lagging replica.
    time.sleep(1.5)
    url = "postgres://{USER}@127.0.0.1:{port}/{NAME}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": url.format(port=primary["PORT"] or 5432, **primary),
        "DATABASE_REPLICA_URL": url.format(port=fresh.port, **{**primary, "USER": reader}),
        "DATABASE_POOL": "true",
        "REPLICA_MAX_LAG_SECONDS": "1",
        "SYNCBEAT_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "replica-test-" + "x" * 40,
        "CELERY_BROKER_URL": "filesystem://",
    }
    env.pop("REDIS_URL", None)
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()\n" + CHILD],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            capture_output=True,
            timeout=60,
        )
    finally:
        fresh.sql(f"DROP ROLE {reader}", on_primary=True)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    seen = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert seen["alias"] == "replica" and seen["in_recovery"] is True
    assert seen["pool"]["timeout"] == 2 and seen["mirror"] == "default" and seen["middleware"]


def test_a_stopped_replica_sends_reads_to_the_primary_without_an_error(fresh, alice, alice_api):
    Listing.objects.create(owner=alice, name="Before the stop")
    fresh.caught_up()
    alice_page = page_client(alice)
    page, queries = replica_queries(lambda: alice_page.get("/calendars/"))
    assert page.status_code == 200 and queries > 0  # the replica is in use, and trusted
    fresh.stop()
    Listing.objects.create(owner=alice, name="After the stop")

    # The state checked a moment ago still says usable: the failed read is run again.
    page = alice_page.get("/calendars/")
    assert page.status_code == 200 and b"After the stop" in page.content
    assert not replica.replica_state().usable

    replica.forget_replica_state()
    page = alice_page.get("/calendars/")
    assert page.status_code == 200 and b"After the stop" in page.content
    assert "cannot query" in replica.replica_state().reason
    assert alice_api.get("/api/v1/listings/").status_code == 200
