"""Speech engines: espeak-ng writes a real WAV, the chime, the speech API through the fetcher."""

from __future__ import annotations

import json
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from alarms.services.tts import registry
from alarms.services.tts.base import SpeechUnavailable, wav_duration_ms
from alarms.services.tts.espeak import EspeakEngine
from alarms.services.tts.speech_api import SpeechApiEngine
from alarms.services.tts.tone import ToneEngine
from syncing.fetcher import PermanentFetchError
from tests.support.http import Reply, local_server

needs_espeak = pytest.mark.espeak
FAKE_MP3 = b"ID3\x03\x00\x00\x00" + b"\xff\xfb\x90\x00" * 500


@needs_espeak
def test_espeak_writes_a_real_wav():
    audio = EspeakEngine().synthesize("Good morning, Alice. It is Monday.", "en")
    assert audio.data[:4] == b"RIFF" and audio.data[8:12] == b"WAVE"
    assert audio.extension == "wav" and audio.engine == "espeak-ng"
    assert audio.duration_ms > 500
    assert wav_duration_ms(audio.data) == audio.duration_ms


@needs_espeak
def test_espeak_takes_an_unknown_voice_as_the_default_and_text_from_stdin():
    engine = EspeakEngine()
    assert engine.voice_for("alloy; rm -rf /") == "en"
    assert engine.voice_for("en-us") == "en-us"
    audio = engine.synthesize("--help me wake up", "alloy")  # a leading dash is still text
    assert audio.duration_ms > 0


def test_the_tone_engine_writes_a_chime_and_says_so(caplog):
    with caplog.at_level("INFO"):
        audio = ToneEngine().synthesize("nobody will hear this")
    assert audio.data[:4] == b"RIFF"
    assert wav_duration_ms(audio.data) == audio.duration_ms
    assert 1100 < audio.duration_ms < 1300
    assert "chime instead of speech" in caplog.text


def test_speech_api_backs_off_on_429_then_gets_audio(settings, allow_private_urls):
    calls = []

    def speech(request):
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Reply(429, b'{"error": "slow down"}', {"Retry-After": "1"})
        return Reply(200, FAKE_MP3, {"Content-Type": "audio/mpeg"})

    with local_server({"/v1/audio/speech": speech}) as server:
        settings.SPEECH_API_BASE_URL = server.url + "/"
        settings.SPEECH_API_KEY = "sk-test-key"
        audio = SpeechApiEngine().synthesize("Good morning, Alice.", "nova")
    assert audio.data == FAKE_MP3 and audio.extension == "mp3"
    assert len(server.requests) == 2
    assert calls[1] - calls[0] >= 0.9  # Retry-After: 1 honoured
    seen = server.requests[-1]
    assert seen.method == "POST" and seen.path == "/v1/audio/speech"
    assert seen.headers["authorization"] == "Bearer sk-test-key"
    assert json.loads(seen.body) == {
        "model": "tts-1",
        "input": "Good morning, Alice.",
        "voice": "nova",
        "response_format": "mp3",
    }


def test_speech_api_refuses_loopback_without_the_setting(settings):
    with local_server({"/v1/audio/speech": Reply(200, FAKE_MP3)}) as server:
        settings.SPEECH_API_BASE_URL = server.url
        with pytest.raises(PermanentFetchError) as caught:
            SpeechApiEngine().synthesize("hi")
    assert caught.value.reason == "blocked_address"
    assert server.requests == []


def test_speech_api_needs_a_base_url(settings):
    settings.SPEECH_API_BASE_URL = ""
    with pytest.raises(SpeechUnavailable):
        SpeechApiEngine().synthesize("hi")


def test_the_setting_chooses_the_engine(settings, monkeypatch):
    settings.ALARMS_TTS_ENGINE = "tone"
    assert registry.get_engine().name == "tone"
    settings.ALARMS_TTS_ENGINE = "speech-api"
    assert registry.get_engine().name == "speech-api"
    settings.ALARMS_TTS_ENGINE = "auto"
    monkeypatch.setattr(registry, "espeak_binary", lambda: "/usr/bin/espeak-ng")
    assert registry.get_engine().name == "espeak-ng"
    monkeypatch.setattr(registry, "espeak_binary", lambda: None)
    assert registry.get_engine().name == "tone"
    settings.ALARMS_TTS_ENGINE = "festival"
    with pytest.raises(ImproperlyConfigured, match="ALARMS_TTS_ENGINE"):
        registry.get_engine()
