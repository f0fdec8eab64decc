"""Audio goes with its alarm (and with a replaced briefing), after commit; an alarm's
attempt records the speech API's retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import transaction

from alarms.models import Alarm, AudioClip, Briefing, BriefingStatus
from alarms.services.deadlines import apply_fallback
from tests.alarms.conftest import make_alarm
from tests.alarms.test_sync import RING, run
from tests.support.http import Reply, local_server

pytestmark = pytest.mark.django_db
FAKE_MP3 = b"ID3\x03\x00\x00\x00" + b"\xff\xfb\x90\x00" * 500


def generated(alice, clock_at) -> tuple[Alarm, str]:
    clock_at(RING - timedelta(minutes=58))
    alarm = make_alarm(alice)
    assert run(alarm).outcome == "ok"
    name = Briefing.objects.get(alarm=alarm).clip.file.name
    assert default_storage.exists(name)
    return alarm, name


def test_deleting_an_alarm_deletes_its_audio_after_commit(
    alice, clock_at, django_capture_on_commit_callbacks
):
    alarm, name = generated(alice, clock_at)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        alarm.delete()
        assert default_storage.exists(name), "not before the commit"
    assert callbacks
    assert not default_storage.exists(name)


def test_a_rolled_back_delete_keeps_the_audio(alice, clock_at, django_capture_on_commit_callbacks):
    alarm, name = generated(alice, clock_at)
    pk = alarm.pk
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        alarm.delete()
        raise RuntimeError("changed my mind")
    assert default_storage.exists(name)
    assert Alarm.objects.filter(pk=pk).exists()


def test_deleting_the_owner_deletes_the_audio(alice, clock_at, django_capture_on_commit_callbacks):
    _, name = generated(alice, clock_at)
    with django_capture_on_commit_callbacks(execute=True):
        alice.delete()
    assert not default_storage.exists(name)


def test_a_replaced_briefing_audio_is_deleted(
    alice, clock_at, settings, allow_private_urls, django_capture_on_commit_callbacks
):
    """A fallback given early (the speech service was down) is replaced by the real
    briefing: the fallback's clip (the chime, said by nobody else) goes once the new one
    is saved, row and file."""
    clock_at(RING - timedelta(minutes=58))
    alarm = make_alarm(alice)
    fallback = apply_fallback(alarm, RING, now=RING - timedelta(minutes=58))
    old = fallback.clip.file.name
    assert default_storage.exists(old)
    settings.ALARMS_TTS_ENGINE = "speech-api"
    mp3 = Reply(200, FAKE_MP3, {"Content-Type": "audio/mpeg"})
    with (
        local_server({"/v1/audio/speech": mp3}) as server,
        django_capture_on_commit_callbacks(execute=True),
    ):
        settings.SPEECH_API_BASE_URL = server.url
        assert run(alarm).outcome == "ok"
    assert not AudioClip.objects.filter(pk=fallback.clip_id).exists()
    briefing = Briefing.objects.get(alarm=alarm)
    assert briefing.status == BriefingStatus.READY and briefing.clip.file.name != old
    assert default_storage.exists(briefing.clip.file.name)
    assert not default_storage.exists(old)


def test_the_attempt_records_the_speech_api_retries(alice, clock_at, settings, allow_private_urls):
    answers = [
        Reply(503, b"busy"),
        Reply(503, b"busy"),
        Reply(200, FAKE_MP3, {"Content-Type": "audio/mpeg"}),
    ]

    def speech(request):
        return answers.pop(0)

    settings.ALARMS_TTS_ENGINE = "speech-api"
    settings.FETCH_RETRIES = 3
    with local_server({"/v1/audio/speech": speech}) as server:
        settings.SPEECH_API_BASE_URL = server.url
        clock_at(RING - timedelta(minutes=58))
        alarm = make_alarm(alice)
        attempt = run(alarm)
    assert attempt.outcome == "ok", attempt.message
    assert len(server.requests) == 3
    assert attempt.retries == 2
    attempt.refresh_from_db()
    assert attempt.retries == 2


def test_a_failed_attempt_records_the_retries_too(alice, clock_at, settings, allow_private_urls):
    settings.ALARMS_TTS_ENGINE = "speech-api"
    settings.FETCH_RETRIES = 1
    with local_server({"/v1/audio/speech": Reply(503, b"down")}) as server:
        settings.SPEECH_API_BASE_URL = server.url
        clock_at(RING - timedelta(minutes=58))
        attempt = run(make_alarm(alice))
    assert attempt.outcome == "failed" and len(server.requests) == 2
    assert attempt.retries == 1
