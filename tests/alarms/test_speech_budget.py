"""The daily speech budget (issue 14): shared by every worker (Redis or the database),
near it briefings fall back to the next engine, staff are alerted, the admin shows spend."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from alarms.models import Briefing, SpeechSpend
from alarms.services import budget
from syncing.monitoring.alerts import evaluate_rules
from syncing.monitoring.models import Alert, AlertRule
from tests.alarms.conftest import make_alarm, utc
from tests.alarms.test_shared_audio import inputs, speech_server
from tests.alarms.test_sync import RING, run

pytestmark = pytest.mark.django_db
NEXT_ENGINE = "espeak-ng" if shutil.which("espeak-ng") else "tone"


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, settings):
    """Count in the database (no REDIS_URL) or in Redis (this run's database number)."""
    if request.param == "database":
        settings.REDIS_URL = ""
    budget.reset_budget_clients()
    client = budget._redis()
    if client is not None:
        for key in client.scan_iter(f"{budget.REDIS_PREFIX}*"):
            client.delete(key)
    yield request.param
    budget.reset_budget_clients()


def test_near_the_budget_briefings_fall_back_and_staff_hear_of_it(
    alice, bob, staff, clock_at, settings, allow_private_urls, backend
):
    settings.ALARMS_TTS_ENGINE = "speech-api"
    settings.ALARMS_SPEECH_BUDGETS = json.dumps(
        {"speech-api": {"characters": 100, "cost_per_million": 100000}}
    )
    clock_at(RING - timedelta(minutes=58))
    alices, bobs = make_alarm(alice), make_alarm(bob)
    with speech_server("mp3") as server:
        settings.SPEECH_API_BASE_URL = server.url
        first = run(alices)
        second = run(bobs)  # Alice's script used over half: Bob's would pass 90%
    said = inputs(server)
    assert len(said) == 1 and first.outcome == second.outcome == "ok"
    assert Briefing.objects.get(alarm=alices).engine == "speech-api"
    assert Briefing.objects.get(alarm=bobs).engine == NEXT_ENGINE
    assert "speech-api near budget" in second.message
    spend = SpeechSpend.objects.get(engine="speech-api")
    assert (spend.day, spend.characters, spend.requests, spend.fallbacks) == (
        RING.date(),
        len(said[0]),
        1,
        1,
    )
    assert budget.usage("speech-api", RING.date()) == (len(said[0]), 1)

    # alarms 0003 adds the rule (a transactional test elsewhere may have flushed it).
    AlertRule.objects.get_or_create(
        key="speech-budget",
        defaults={"name": "Speech budget", "metric": "app_check", "threshold": 80.0},
    )
    report = evaluate_rules(RING)
    alert = Alert.objects.get(rule__key="speech-budget")
    assert alert in report.opened and alert.subject == "speech:speech-api"
    assert "1 briefing(s) went to the next engine" in alert.message
    assert [m.to for m in mail.outbox] == [["staff@example.com"]]
    # A new UTC day starts a new count: the alert resolves itself.
    assert budget.usage("speech-api", RING.date() + timedelta(days=1)) == (0, 0)
    assert evaluate_rules(RING + timedelta(days=1)).resolved == [alert]


@pytest.mark.django_db(transaction=True)
def test_workers_share_one_count(settings, backend):
    """Twenty workers reserve 10 characters each against 100 at once: nine get through
    (90%), whichever process they run in."""
    settings.ALARMS_SPEECH_BUDGETS = json.dumps({"speech-api": {"characters": 100}})
    now = utc(2025, 6, 2, 4, 0)
    start = threading.Barrier(20, timeout=10)
    granted: list[bool] = []

    def worker():
        try:
            start.wait()
            granted.append(budget.reserve("speech-api", 10, 1, now))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert granted.count(True) == 9 and len(granted) == 20
    assert budget.usage("speech-api", now.date()) == (90, 9)


def test_a_failed_call_is_handed_back(alice, clock_at, settings, allow_private_urls, backend):
    from tests.support.http import Reply, local_server

    settings.ALARMS_TTS_ENGINE = "speech-api"
    clock_at(RING - timedelta(minutes=58))
    with local_server({"/v1/audio/speech": Reply(400, b"bad voice")}) as server:
        settings.SPEECH_API_BASE_URL = server.url
        assert run(make_alarm(alice)).outcome == "failed"
    assert budget.usage("speech-api", RING.date()) == (0, 0)


def test_the_admin_shows_spend_per_day_and_engine(staff, client, settings):
    settings.ALARMS_SPEECH_BUDGETS = json.dumps(
        {"speech-api": {"characters": 2_000_000, "cost_per_million": 15}}
    )
    SpeechSpend.objects.create(
        day=RING.date(), engine="speech-api", characters=1_500_000, requests=3000, fallbacks=2
    )
    SpeechSpend.objects.create(day=RING.date(), engine="espeak-ng", characters=400, requests=7)
    client.force_login(staff)
    page = client.get("/admin/alarms/speechspend/").content.decode()
    assert "22.50" in page and "75%" in page  # 1.5 M characters at 15 per million
    assert "no budget" in page  # espeak-ng has none


def test_a_malformed_budget_names_the_setting(settings):
    settings.ALARMS_SPEECH_BUDGETS = '{"speech-api": '
    with pytest.raises(ImproperlyConfigured, match="ALARMS_SPEECH_BUDGETS"):
        budget.budgets()
