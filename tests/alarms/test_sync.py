"""Generating briefings through the engine: on time, not yet, past the deadline, failing."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from alarms.models import FAR_FUTURE, Alarm, Briefing, BriefingStatus
from alarms.services import storage
from alarms.services.urgency import alarm_priority, alarm_queue
from syncing.kinds import get_kind
from syncing.services.claims import claim_one
from syncing.services.runs import run_claimed
from tests.alarms.conftest import make_alarm, utc
from tests.support.http import Reply, local_server

pytestmark = pytest.mark.django_db
# Monday 2 June 2025, Berlin is UTC+2: a 07:00 alarm rings at 05:00Z.
RING = utc(2025, 6, 2, 5, 0)
NEXT_DAY_RING = utc(2025, 6, 3, 5, 0)


def run(alarm):
    claim = claim_one(get_kind("alarms.alarm"), alarm.pk, force=True)
    assert claim.pks == [alarm.pk]
    report = run_claimed("alarms.alarm", claim.token, claim.pks)
    return report.attempts[0]


def test_a_due_alarm_gets_its_briefing_and_is_next_due_for_the_following_ring(alice, clock_at):
    clock_at(RING - timedelta(minutes=70))
    alarm = make_alarm(alice, label="Work", options={"note": "Take the umbrella."})
    assert alarm.next_ring_at == RING
    assert alarm.next_sync_at == RING - timedelta(minutes=58)
    clock_at(RING - timedelta(minutes=58))

    attempt = run(alarm)

    assert attempt.outcome == "ok", attempt.message
    briefing = Briefing.objects.get(alarm=alarm, ring_at=RING)
    assert briefing.status == BriefingStatus.READY
    assert briefing.script.startswith("Good morning, Alice.")
    assert "Monday, 2 June 2025" in briefing.script
    assert "Your note: Take the umbrella." in briefing.script
    assert briefing.engine == "tone" and briefing.duration_ms > 0
    assert default_storage.open(briefing.clip.file.name).read(4) == b"RIFF"
    assert re.fullmatch(r"alarms/[0-9a-f]{32}/[0-9a-f]{16}\.wav", briefing.clip.file.name)
    assert briefing.expires_at == briefing.generated_at + timedelta(hours=48)
    alarm.refresh_from_db()
    assert alarm.next_ring_at == RING  # still the next ring until it has rung
    # Needs the engine honouring SyncResult.next_sync_at (landed): the ring after, minus lead.
    assert alarm.next_sync_at == NEXT_DAY_RING - timedelta(minutes=58)
    assert alarm.consecutive_failures == 0 and alarm.leased_until is None


@pytest.mark.espeak
def test_espeak_generates_real_speech_end_to_end(alice, clock_at, settings):
    settings.ALARMS_TTS_ENGINE = "espeak"
    clock_at(RING - timedelta(minutes=58))
    alarm = make_alarm(alice)
    assert run(alarm).outcome == "ok"
    briefing = Briefing.objects.get(alarm=alarm)
    assert briefing.engine == "espeak-ng" and briefing.duration_ms > 1000
    head = default_storage.open(briefing.clip.file.name).read(12)
    assert head[:4] == b"RIFF" and head[8:] == b"WAVE"


def test_an_early_run_only_reschedules(alice, clock_at):
    clock_at(RING - timedelta(hours=5))
    alarm = make_alarm(alice)
    attempt = run(alarm)
    assert (attempt.outcome, attempt.reason) == ("skipped", "not_due")
    assert not Briefing.objects.exists()
    alarm.refresh_from_db()
    assert alarm.next_sync_at == RING - timedelta(minutes=58)


def test_past_the_deadline_it_does_not_start_and_gives_the_chime(alice, clock_at):
    clock_at(RING - timedelta(minutes=58))
    alarm = make_alarm(alice)
    clock_at(RING - timedelta(seconds=30))
    attempt = run(alarm)
    assert (attempt.outcome, attempt.reason) == ("skipped", "past_deadline")
    briefing = Briefing.objects.get(alarm=alarm, ring_at=RING)
    assert briefing.status == BriefingStatus.FALLBACK and briefing.engine == "tone"
    assert default_storage.open(briefing.clip.file.name).read(4) == b"RIFF"
    alarm.refresh_from_db()
    assert alarm.next_sync_at == NEXT_DAY_RING - timedelta(minutes=58)


def test_the_fallback_is_the_last_good_audio_when_there_is_one(alice, clock_at):
    clock_at(RING - timedelta(days=1, minutes=58))
    alarm = make_alarm(alice)
    assert run(alarm).outcome == "ok"
    yesterday = Briefing.objects.get(alarm=alarm)
    clock_at(RING - timedelta(seconds=20))
    run(alarm)
    fallback = Briefing.objects.get(alarm=alarm, ring_at=RING)
    assert fallback.status == BriefingStatus.FALLBACK
    assert fallback.engine == "fallback/tone"
    # The same clip, not a copy (issue 14): expiring one briefing keeps it for the other.
    assert fallback.clip_id == yesterday.clip_id


def test_a_failing_speech_service_marks_the_briefing_and_the_sweep_gives_the_fallback(
    alice, clock_at, settings, allow_private_urls
):
    from alarms.services.deadlines import sweep

    settings.ALARMS_TTS_ENGINE = "speech-api"
    settings.FETCH_RETRIES = 0
    with local_server({"/v1/audio/speech": Reply(503, b"down")}) as server:
        settings.SPEECH_API_BASE_URL = server.url
        clock_at(RING - timedelta(minutes=58))
        alarm = make_alarm(alice)
        attempt = run(alarm)
    assert attempt.outcome == "failed" and attempt.reason == "http_5xx"
    briefing = Briefing.objects.get(alarm=alarm)
    assert briefing.status == BriefingStatus.FAILED and "http_5xx" in briefing.error
    alarm.refresh_from_db()
    assert alarm.consecutive_failures == 1
    # The engine's backoff (real time, a minute) retries long before the ring.
    assert alarm.next_sync_at <= timezone.now() + timedelta(minutes=2)

    now = clock_at(RING - timedelta(seconds=59))
    report = sweep(now)
    assert report.fallbacks == 1
    briefing.refresh_from_db()
    assert briefing.status == BriefingStatus.FALLBACK and briefing.engine == "tone"


def test_a_one_off_is_never_due_again_after_its_briefing(alice, clock_at):
    clock_at(RING - timedelta(minutes=58))
    alarm = make_alarm(alice, days=[], date=date(2025, 6, 2))
    assert run(alarm).outcome == "ok"
    alarm.refresh_from_db()
    assert alarm.next_sync_at == FAR_FUTURE and alarm.active


def test_an_inactive_alarm_is_skipped(alice, clock_at):
    clock_at(RING - timedelta(minutes=58))
    alarm = make_alarm(alice, active=False)
    assert alarm.next_sync_at == FAR_FUTURE and alarm.next_ring_at is None
    Alarm.objects.filter(pk=alarm.pk).update(next_sync_at=RING)
    attempt = run(alarm)
    assert (attempt.outcome, attempt.reason) == ("skipped", "inactive")


def test_urgency_decides_priority_and_queue(alice, clock_at):
    clock_at(RING - timedelta(minutes=50))
    alarm = make_alarm(alice)
    assert (alarm_priority(alarm), alarm_queue(alarm)) == (5, "cpu")
    clock_at(RING - timedelta(minutes=9))
    assert (alarm_priority(alarm), alarm_queue(alarm)) == (0, "urgent")


def test_a_repeat_run_for_a_generated_ring_does_not_generate_twice(alice, clock_at):
    clock_at(RING - timedelta(minutes=58))
    alarm = make_alarm(alice)
    run(alarm)
    first = Briefing.objects.get(alarm=alarm)
    attempt = run(alarm)
    assert (attempt.outcome, attempt.reason) == ("skipped", "already_generated")
    assert Briefing.objects.get(alarm=alarm).clip_id == first.clip_id
    alarm.refresh_from_db()
    assert alarm.next_sync_at == NEXT_DAY_RING - timedelta(minutes=58)
    assert storage.audio_ttl() == timedelta(hours=48)


def test_an_edit_during_the_lead_reschedules_at_once(alice, clock_at):
    from alarms.services.alarms import alarm_update

    clock_at(RING - timedelta(hours=3))
    alarm = make_alarm(alice)
    alarm = alarm_update(alarm, time=time(5, 30))  # 03:30Z: ringing in 1.5 h
    assert alarm.next_ring_at == utc(2025, 6, 2, 3, 30)
    assert alarm.next_sync_at == utc(2025, 6, 2, 3, 30) - timedelta(minutes=58)
