"""Debian's PgBouncer in pool_mode=transaction, started for a test on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None
)

INI = """\
[databases]
{single} = host={host} port={upstream_port} dbname={dbname} pool_size=1
* = host={host} port={upstream_port}

[pgbouncer]
listen_addr = {listen}
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {dir}/users.txt
admin_users = {user}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
pidfile = {dir}/pgbouncer.pid
logfile = {dir}/pgbouncer.log
"""


def free_port() -> int:
    """TEST_PGBOUNCER_PORT when set (a helper's own port range), else any free port."""
    if os.environ.get("TEST_PGBOUNCER_PORT"):
        return int(os.environ["TEST_PGBOUNCER_PORT"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def pgbouncer(
    *,
    host: str,
    upstream_port: int,
    dbname: str,
    user: str,
    pool_size: int = 2,
    listen: str = "127.0.0.1",
    port: int | None = None,
):
    """Run PgBouncer in front of ``host:upstream_port``; yields (port, single, pid) where
    ``single`` is a database name with one server session for every client of ``dbname``.
    As root it runs as the postgres user (PgBouncer refuses root)."""
    if PGBOUNCER is None:
        raise FileNotFoundError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    workdir = Path(tempfile.mkdtemp(prefix="sb-pgbouncer-"))
    port = port or free_port()
    single = f"{dbname}_single"
    (workdir / "users.txt").write_text(f'"{user}" ""\n')
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        INI.format(
            single=single,
            host=host,
            upstream_port=upstream_port,
            dbname=dbname,
            port=port,
            dir=workdir,
            user=user,
            pool_size=pool_size,
            listen=listen,
        )
    )
    command = [PGBOUNCER, "-q", str(ini)]
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwnam("postgres")
        for path in (workdir, *workdir.iterdir()):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, workdir)
        yield port, single, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen, workdir: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = workdir / "pgbouncer.log"
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"pgbouncer exited ({process.returncode}): {text[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"pgbouncer did not listen on 127.0.0.1:{port}")


def stats(port: int, user: str, dbname: str) -> dict:
    """``SHOW STATS`` of ``dbname`` from PgBouncer's admin console (simple query protocol)."""
    import psycopg

    with psycopg.connect(
        host="127.0.0.1",
        port=port,
        user=user,
        dbname="pgbouncer",
        autocommit=True,
        cursor_factory=psycopg.ClientCursor,
        prepare_threshold=None,
    ) as conn:
        cursor = conn.execute("SHOW STATS")
        names = [c.name for c in cursor.description]
        for row in cursor.fetchall():
            record = dict(zip(names, row, strict=True))
            if record["database"] == dbname:
                return record
    return {}
