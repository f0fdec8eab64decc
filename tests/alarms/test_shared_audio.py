"""Audio made once (issue 14): clips addressed by what made them, shared by briefings,
released when nothing refers to them; WAV briefings joined from shared sections."""

from __future__ import annotations

import io
import json
import threading
import wave
from contextlib import ExitStack
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from rest_framework.test import APIClient

from alarms.models import AudioClip, Briefing, ClipKind
from alarms.services import audio_links
from alarms.services.clips import clip_for, clip_key
from alarms.services.script import compose_script
from alarms.services.storage import expire_audio
from alarms.services.tts.base import Audio, wav_duration_ms
from alarms.services.tts.tone import chime_wav
from alarms.services.wavjoin import GAP_MS, CannotJoin, join_wav
from tests.alarms.conftest import make_alarm
from tests.alarms.test_sync import RING, run
from tests.support.http import Reply, local_server

pytestmark = pytest.mark.django_db
RATE = 22050


def silent_wav(milliseconds: int, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\x00\x00" * (rate * milliseconds // 1000))
    return buffer.getvalue()


def speech_server(fmt: str):
    """A speech API that answers 10 ms of audio per character, in ``fmt``."""

    def speak(seen):
        text = json.loads(seen.body)["input"]
        if fmt == "wav":
            return Reply(200, silent_wav(10 * len(text)), {"Content-Type": "audio/wav"})
        return Reply(
            200, b"ID3\x03\x00\x00\x00" + b"\xff\xfb" * len(text), {"Content-Type": "audio/mpeg"}
        )

    return local_server({"/v1/audio/speech": speak})


def inputs(server) -> list[str]:
    return [json.loads(seen.body)["input"] for seen in server.requests]


@pytest.fixture
def speech_api(settings, allow_private_urls):
    settings.ALARMS_TTS_ENGINE = "speech-api"

    with ExitStack() as stack:

        def start(fmt: str = "mp3"):
            settings.SPEECH_API_FORMAT = fmt
            server = stack.enter_context(speech_server(fmt))
            settings.SPEECH_API_BASE_URL = server.url
            return server

        yield start


def test_the_same_script_is_synthesised_once_and_shared(alice, clock_at, speech_api):
    server = speech_api("mp3")
    clock_at(RING - timedelta(minutes=58))
    first, second = make_alarm(alice, label="A"), make_alarm(alice, label="B")
    assert run(first).counts["speech_calls"] == 1
    assert run(second).counts["speech_calls"] == 0  # same words, same voice: no call
    one, two = Briefing.objects.get(alarm=first), Briefing.objects.get(alarm=second)
    assert one.clip_id == two.clip_id and len(server.requests) == 1
    assert AudioClip.objects.count() == 1
    # A different voice is a different clip.
    third = make_alarm(alice, label="C", voice="nova")
    assert run(third).counts["speech_calls"] == 1
    assert Briefing.objects.get(alarm=third).clip_id != one.clip_id


def test_a_shared_clip_lives_while_a_briefing_says_it(
    alice, bob, clock_at, django_capture_on_commit_callbacks
):
    """Alice's and Bob's chime is one clip; each keeps a signed link of its own; deleting
    Alice's alarm keeps Bob's audio; deleting Bob's removes the clip, row and file."""
    clock_at(RING - timedelta(minutes=58))
    alices, bobs = make_alarm(alice), make_alarm(bob)
    run(alices), run(bobs)
    a, b = Briefing.objects.get(alarm=alices), Briefing.objects.get(alarm=bobs)
    assert a.clip_id == b.clip_id and a.clip.kind == ClipKind.CHIME
    name = a.clip.file.name
    assert audio_links.sign(a) != audio_links.sign(b)
    with django_capture_on_commit_callbacks(execute=True):
        alices.delete()
    response = APIClient().get(audio_links.audio_path(b))
    assert response.status_code == 200 and b"".join(response.streaming_content)[:4] == b"RIFF"
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        bobs.delete()
    assert not AudioClip.objects.exists() and not default_storage.exists(name)


@pytest.mark.django_db(transaction=True)
def test_two_workers_making_the_same_clip_end_with_one(media):
    """Both synthesise at once (neither finds the clip); the unique key lets one row win,
    the loser deletes its file and uses the winner's."""
    both_made = threading.Barrier(2, timeout=10)
    key = clip_key("test", "", "", "wav", "Good morning.")
    results, errors = [], []

    def make() -> Audio:
        both_made.wait()  # neither stores before both synthesised
        return Audio(chime_wav(), "wav", "audio/wav", 1200, "test")

    def worker():
        from django.db import connection

        try:
            results.append(clip_for(key, make))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert not errors
    assert [made for _, made in results] == [True, True]
    assert {clip.pk for clip, _ in results} == {AudioClip.objects.get(key=key).pk}
    files = [p for p in (media / "alarms").rglob("*") if p.is_file()]
    assert len(files) == 1 and str(files[0]).endswith(AudioClip.objects.get().file.name)


def test_wav_briefings_are_joined_from_sections_said_once(alice, bob, clock_at, speech_api):
    """With WAV, the date line (and the calendar line) are synthesised once for Alice and
    Bob; each briefing is one file, the frames of its sections joined."""
    server = speech_api("wav")
    clock_at(RING - timedelta(minutes=58))
    alices, bobs = make_alarm(alice), make_alarm(bob)
    first, second = run(alices), run(bobs)
    said = inputs(server)
    date_line = "It is Monday, 2 June 2025, 07:00."
    assert said.count(date_line) == 1 and "Good morning, Alice." in said
    assert "Good morning, Bob." in said
    assert first.counts["speech_calls"] == len(said) - second.counts["speech_calls"]
    assert second.counts["speech_calls"] < first.counts["speech_calls"]
    briefing = Briefing.objects.get(alarm=bobs)
    parts = compose_script(bobs, RING).parts
    assert len(parts) > 1 and " ".join(parts) == briefing.script
    expected = sum(10 * len(part) for part in parts) + GAP_MS * (len(parts) - 1)
    assert abs(wav_duration_ms(briefing.clip.file.read()) - expected) <= len(parts)
    sections = AudioClip.objects.filter(kind=ClipKind.SECTION)
    assert sections.count() == len(set(said))
    assert all(s.keep_until >= RING for s in sections)  # kept for the day's later briefings


def test_section_clips_go_after_their_day(
    alice, clock_at, speech_api, media, django_capture_on_commit_callbacks
):
    speech_api("wav")
    clock_at(RING - timedelta(minutes=58))
    run(make_alarm(alice))
    assert AudioClip.objects.filter(kind=ClipKind.SECTION).exists()
    with django_capture_on_commit_callbacks(execute=True):
        # Briefings and sections past their time (clip rows are stamped by the real clock).
        expire_audio(timezone.now() + timedelta(days=3))
    assert not AudioClip.objects.exists()
    assert not [p for p in (media / "alarms").rglob("*") if p.is_file()]


def test_mp3_is_synthesised_whole(alice, clock_at, speech_api):
    server = speech_api("mp3")
    clock_at(RING - timedelta(minutes=58))
    run(make_alarm(alice))
    briefing = Briefing.objects.get()
    assert inputs(server) == [briefing.script]
    assert not AudioClip.objects.filter(kind=ClipKind.SECTION).exists()


def test_join_wav_keeps_the_frames_and_refuses_mixed_parameters():
    joined = join_wav([silent_wav(300), silent_wav(500)])
    assert wav_duration_ms(joined) == 300 + GAP_MS + 500
    with pytest.raises(CannotJoin):
        join_wav([silent_wav(300), silent_wav(300, rate=16000)])
    with pytest.raises(CannotJoin):
        join_wav([silent_wav(300), b"ID3 not a wav"])


@pytest.mark.espeak
def test_espeak_briefings_share_their_date_line(alice, bob, clock_at, settings):
    settings.ALARMS_TTS_ENGINE = "espeak"
    clock_at(RING - timedelta(minutes=58))
    first, second = run(make_alarm(alice)), run(make_alarm(bob))
    assert first.outcome == second.outcome == "ok"
    # Bob's greeting is new; the date and calendar lines were said for Alice already.
    assert second.counts["speech_calls"] == 1 < first.counts["speech_calls"]
    data = Briefing.objects.get(alarm__owner=bob).clip.file.read()
    assert data[:4] == b"RIFF" and wav_duration_ms(data) > 1500


def test_a_section_said_every_morning_is_kept_and_not_said_again(alice, clock_at, speech_api):
    server = speech_api("wav")
    clock_at(RING - timedelta(minutes=58))
    alarm = make_alarm(alice)
    run(alarm)
    clock_at(RING + timedelta(days=1) - timedelta(minutes=58))
    assert run(alarm).counts["speech_calls"] == 1  # only Tuesday's date line is new
    assert inputs(server).count("Good morning, Alice.") == 1
    greeting = AudioClip.objects.get(
        key=clip_key("speech-api", "alloy", "tts-1", "wav", "Good morning, Alice.")
    )
    assert greeting.keep_until >= RING + timedelta(days=2)
