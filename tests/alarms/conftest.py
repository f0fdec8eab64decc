"""Alarm test helpers: media in a temporary folder, a settable fake clock, alarm factory."""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime, time

import pytest

from alarms.services.alarms import alarm_create
from alarms.services.clips import clip_key, store_clip
from alarms.services.tts.base import Audio


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.ALARMS_TTS_ENGINE = "tone"  # fast and deterministic unless a test says otherwise
    return tmp_path / "media"


@pytest.fixture
def clock_at(settings):
    """clock_at(datetime) makes the alarms' clock read that instant (ticking in real time)."""

    def set_clock(moment: datetime) -> datetime:
        settings.ALARMS_FAKE_CLOCK = f"{_time.time()},{moment.timestamp()},1"
        return moment

    return set_clock


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_alarm(
    owner,
    *,
    at=time(7, 0),
    timezone="Europe/Berlin",
    days=(0, 1, 2, 3, 4, 5, 6),
    date=None,
    **extra,
):
    return alarm_create(owner, time=at, timezone=timezone, days=list(days), date=date, **extra)


def make_clip(text: str = "Good morning.", *, data: bytes = b"RIFF....WAVE"):
    """A stored clip (row and file) as if engine "test" had said ``text``."""
    audio = Audio(data, "wav", "audio/wav", 1000, "test")
    return store_clip(clip_key("test", "", "", "wav", text), audio, characters=len(text))
