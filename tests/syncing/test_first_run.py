"""The first run: ``manage.py demo`` (an owner who is not staff, a separate staff login, one
stable token) and ``bin/run`` (quiet terminal, logs under var/, one ready block, Ctrl-C stops
everything cleanly within 10 s). bin/run runs for real: honcho, gunicorn, a Celery worker
and beat on SQLite and the file broker, all in a temporary var/ folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from knox.auth import TokenAuthentication

from syncing.models import Account, Plan
from tests.support.processes import die_with_parent

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_demo_makes_an_owner_who_is_not_staff_and_a_separate_staff_login(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo", stdout=StringIO())
    demo = json.loads((tmp_path / "demo.json").read_text())
    users = get_user_model().objects
    owner = users.get(email=demo["owner"]["email"])
    staff = users.get(email=demo["staff"]["email"])
    assert not owner.is_staff and not owner.is_superuser
    assert staff.is_staff and staff.is_superuser and owner != staff
    assert owner.check_password(demo["owner"]["password"])
    assert staff.check_password(demo["staff"]["password"])
    assert Account.objects.get(user=owner).plan == Plan.BUSINESS
    user, _ = TokenAuthentication().authenticate_credentials(demo["token"].encode())
    assert user == owner

    # Run again (an old install where the owner was staff): the same token, staff removed.
    users.filter(pk=owner.pk).update(is_staff=True, is_superuser=True)
    call_command("demo", stdout=StringIO())
    again = json.loads((tmp_path / "demo.json").read_text())
    assert again["token"] == demo["token"]
    owner.refresh_from_db()
    assert not owner.is_staff and not owner.is_superuser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_run_env(var_dir: Path) -> dict:
    """The embedded defaults (SQLite and the file broker) in a var/ folder of our own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "REDIS_", "CELERY_", "DJANGO_SETTINGS", "PYTEST"))
    }
    venv_bin = str(Path(sys.executable).parent)
    return {
        **env,
        "PATH": f"{venv_bin}:{env.get('PATH', '')}",
        "SYNCBEAT_VAR_DIR": str(var_dir),
        "WEB_BIND": f"127.0.0.1:{free_port()}",
        "WEB_WORKERS": "1",
        "ALLOW_PRIVATE_URLS": "true",
        "RUN_ENV_FILE": os.devnull,
    }


class Output:
    """Everything a process prints, read by a thread as it comes."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self.lines.extend, args=(process.stdout,))
        self.thread.start()

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, words: str, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while words not in self.text() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.text()


def test_bin_run_prints_one_ready_block_keeps_worker_noise_in_var_and_stops_on_ctrl_c(tmp_path):
    var_dir = tmp_path / "var"
    env = first_run_env(var_dir)
    manage = [sys.executable, "manage.py"]
    for step in (["migrate", "--noinput", "-v0"], ["demo"]):
        subprocess.run([*manage, *step], cwd=ROOT, env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [sys.executable, "bin/run", "web,worker,beat"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # Ctrl-C goes to the whole group, as a terminal sends it
        preexec_fn=die_with_parent,  # and nothing runs on if pytest itself is killed
    )
    try:
        output = Output(process)
        shown = output.wait_for("stop: Ctrl-C", 120)
        demo = json.loads((var_dir / "demo.json").read_text())
        url = f"http://{env['WEB_BIND']}/"
        assert "Syncbeat is ready" in shown and f"open {url}" in shown, shown
        assert f"owner login   {demo['owner']['email']} / {demo['owner']['password']}" in shown
        assert f"staff login   {demo['staff']['email']} / {demo['staff']['password']}" in shown
        assert f"API token     {demo['token']}" in shown
        assert shown.count("Syncbeat is ready") == 1
        assert f"database    SQLite, {var_dir}/syncbeat.sqlite3" in shown
        assert f"broker      files under {var_dir}/broker/" in shown
        # Worker banners and task logs are in var/log/, not in the terminal.
        assert "[tasks]" not in shown and "celery.apps.worker" not in shown
        assert " ready." in (var_dir / "log" / "worker.log").read_text()
        assert "beat: Starting" in (var_dir / "log" / "beat.log").read_text()
        assert "web.1 started" in shown and "worker.1 started" in shown

        started = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=15)
        took = time.monotonic() - started
        output.thread.join(5)
        rest = output.text()[len(shown) :]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, rest
    assert took < 10, rest
    assert "stopped in" in rest and "worker.1 stopped" in rest and "beat.1 stopped" in rest
    assert "killing it" not in rest and "SIGKILL" not in rest, rest
    assert not (ROOT / "control").exists()


def test_bin_run_says_what_went_wrong_and_never_ready_when_honcho_cannot_start(tmp_path):
    env = first_run_env(tmp_path / "var")
    done = subprocess.run(
        [sys.executable, "bin/run", "web,nosuchprocess"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "Process type 'nosuchprocess' does not exist in Procfile" in done.stdout
    assert "is ready" not in done.stdout


def test_without_espeak_ng_its_tests_are_skipped_and_the_summary_says_so(tmp_path):
    """`make test` on a machine without espeak-ng: skipped, counted on the summary line."""
    bare = tmp_path / "bin"  # a PATH with the virtualenv and nothing else
    bare.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{bare}"}
    env.pop("REQUIRE_SERVICES", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-m", "espeak", "tests/alarms"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "tests skipped: espeak-ng missing" in done.stdout
    assert " passed" not in done.stdout  # every espeak test was skipped, none ran
