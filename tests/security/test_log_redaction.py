"""The export feed's secret and signed audio tokens never reach a log line: gunicorn's
access log (the Procfile's web process) and Django's own request log."""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from syncing.redaction import redact

ROOT = Path(__file__).resolve().parents[2]
EXPORT_TOKEN = "s3cr3tExp0rtT0ken"
AUDIO_TOKEN = "eyJiIjoxfQ:1sSigned:audioSIGNATURE"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.django_db(transaction=True)
def test_gunicorn_access_log_redacts_tokens(tmp_path):
    port, log = free_port(), tmp_path / "access.log"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        if connection.vendor == "postgresql"
        else f"sqlite:///{db['NAME']}",
        "SECRET_KEY": "k" * 40,
        "SYNCBEAT_VAR_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*command, "--workers", "1", "--access-logfile", str(log)],
        cwd=ROOT,  # gunicorn.conf.py is read from here, as the Procfile's web does
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/calendars/{EXPORT_TOKEN}.ics?for=airbnb") == 404
        assert get(f"{base}/alarms/audio/{AUDIO_TOKEN}/") in (403, 404)
        assert get(f"{base}/healthz?token=hunter2") in (200, 503)
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(10)
    text = log.read_text()
    assert text.count("\n") >= 3, text
    assert "/calendars/[redacted].ics?for=airbnb" in text
    assert "/alarms/audio/[redacted]/" in text
    for secret in (EXPORT_TOKEN, AUDIO_TOKEN, "hunter2"):
        assert secret not in text


@pytest.mark.django_db
def test_django_request_log_redacts_tokens(client):
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        assert client.get(f"/calendars/{EXPORT_TOKEN}.ics").status_code == 404
        client.get(f"/alarms/audio/{AUDIO_TOKEN}/")
    finally:
        handler.setStream(previous)
    text = stream.getvalue()
    assert "Not Found: /calendars/[redacted].ics" in text
    assert EXPORT_TOKEN not in text and AUDIO_TOKEN not in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /calendars/abc.ics HTTP/1.1", "GET /calendars/[redacted].ics HTTP/1.1"),
        ("GET /calendars/export/abc/x", "GET /calendars/export/[redacted]/x"),
        ("GET /calendars/listings/3/month/", "GET /calendars/listings/3/month/"),
        ("/alarms/audio/a:b:c/", "/alarms/audio/[redacted]/"),
        ("/x?a=1&api_key=zzz&b=2", "/x?a=1&api_key=[redacted]&b=2"),
    ],
)
def test_redact(line, expected):
    assert redact(line) == expected
