"""Test hosts for bench/hosts.py: network namespaces on this machine, each joined to the root
namespace by a veth pair with a /30 of its own, and a PostgreSQL and a Redis of the bench's
own that listen on 127.0.0.1 and on the root side of every veth (nothing else).

Falls back to plain processes (distinct node names and directories, 127.0.0.1) when
namespaces cannot be made (not root, no ``ip``, a container without CAP_NET_ADMIN).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = os.environ.get("BENCH_NETNS_PREFIX", "sbh3")
SUBNET = os.environ.get("BENCH_NETNS_SUBNET", "10.83")  # host i: SUBNET.i.0/30
PG_PORT = int(os.environ.get("BENCH_HOSTS_PG_PORT", "18310"))
REDIS_PORT = int(os.environ.get("BENCH_HOSTS_REDIS_PORT", "18311"))


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@dataclass
class Host:
    index: int
    netns: str | None  # None: a plain process on 127.0.0.1
    workdir: Path

    @property
    def service_address(self) -> str:
        """Where this host reaches PostgreSQL and Redis (the root end of its veth)."""
        return f"{SUBNET}.{self.index}.1" if self.netns else "127.0.0.1"

    def command(self, args: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *args] if self.netns else args


@dataclass
class Network:
    hosts: list[Host] = field(default_factory=list)
    mode: str = "processes"
    note: str = ""

    def addresses(self) -> list[str]:
        return ["127.0.0.1", *[h.service_address for h in self.hosts if h.netns]]


def netns_available() -> tuple[bool, str]:
    if shutil.which("ip") is None:
        return False, "no ip(8)"
    if os.geteuid() != 0:
        return False, "not root"
    probe = f"{PREFIX}-probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return False, made.stderr.strip()
    _ip("netns", "del", probe, check=False)
    return True, ""


def cleanup_namespaces() -> None:
    """Delete every namespace and veth of this prefix (a pair goes with either end)."""
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(f"{PREFIX}-w"):
            _ip("netns", "del", name, check=False)
    for path in glob.glob(f"/sys/class/net/{PREFIX}h*"):
        _ip("link", "del", os.path.basename(path), check=False)


def make_hosts(count: int, root: Path, *, use_netns: bool = True) -> Network:
    """``count`` hosts, each with its own directory; in a namespace of its own if possible."""
    ok, why = netns_available() if use_netns else (False, "--no-netns")
    network = Network(mode="netns" if ok else "processes", note=why)
    cleanup_namespaces()
    for i in range(1, count + 1):
        workdir = root / f"host{i}"
        workdir.mkdir(parents=True, exist_ok=True)
        netns = None
        if ok:
            netns = f"{PREFIX}-w{i}"
            outer, inner = f"{PREFIX}h{i}", f"{PREFIX}n{i}"
            _ip("netns", "add", netns)
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", netns)
            _ip("addr", "add", f"{SUBNET}.{i}.1/30", "dev", outer)
            _ip("link", "set", outer, "up")
            _ip("-n", netns, "addr", "add", f"{SUBNET}.{i}.2/30", "dev", inner)
            _ip("-n", netns, "link", "set", inner, "up")
            _ip("-n", netns, "link", "set", "lo", "up")
        network.hosts.append(Host(index=i, netns=netns, workdir=workdir))
    return network


def _pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    return Path(shutil.which("initdb") or "initdb").parent


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class Services:
    pgdata: Path
    redis_pid: Path
    pg_port: int = PG_PORT
    redis_port: int = REDIS_PORT

    def postmaster_pid(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def redis_server_pid(self) -> int:
        return int(self.redis_pid.read_text().strip())


def start_services(addresses: list[str]) -> Services:
    """initdb + postgres on PG_PORT and redis-server on REDIS_PORT, on ``addresses`` only."""
    base = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-hosts-services-"))
    pgdata = base / "pg"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    bindir = _pg_bindir()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "-A", "trust"]),
        check=True,
        capture_output=True,
    )
    with open(pgdata / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {SUBNET}.0.0/16 trust\n")
    options = (
        f"-c listen_addresses='{','.join(addresses)}' -c port={PG_PORT} "
        f"-c unix_socket_directories='{pgdata}' -c max_connections=200 -c fsync=on"
    )
    subprocess.run(
        _as_postgres(
            [str(bindir / "pg_ctl"), "-D", str(pgdata), "-o", options, "-l", str(base / "pg.log")]
            + ["-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    redis_pid = base / "redis.pid"
    subprocess.run(
        ["redis-server", "--port", str(REDIS_PORT), "--bind", *addresses, "--daemonize", "yes"]
        + ["--save", "", "--appendonly", "no", "--pidfile", str(redis_pid)]
        + ["--protected-mode", "no", "--logfile", str(base / "redis.log")],
        check=True,
        capture_output=True,
    )
    for _ in range(50):
        if redis_pid.exists():
            break
        time.sleep(0.1)
    return Services(pgdata=pgdata, redis_pid=redis_pid)


def stop_services(services: Services | None) -> None:
    if services is None:
        return
    try:
        pid = int(services.redis_pid.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass
    subprocess.run(
        _as_postgres(
            [str(_pg_bindir() / "pg_ctl"), "-D", str(services.pgdata), "-m", "immediate", "stop"]
        ),
        capture_output=True,
    )
    shutil.rmtree(services.pgdata.parent, ignore_errors=True)


def process_cpu(pid: int, *, with_reaped_children: bool = False) -> float:
    """CPU seconds of ``pid`` (plus the children it has reaped, when asked)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process tree: the live processes, and the dead ones already reaped
    by their parents (PostgreSQL's backends that ended, a worker's replaced children)."""
    total = process_cpu(pid, with_reaped_children=True)
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    for child in out.split():
        total += tree_cpu(int(child))
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in cpu]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return float(total - idle), float(total)
