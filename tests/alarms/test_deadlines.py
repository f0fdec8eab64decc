"""The minute sweep: fallback at the deadline, rolling rung alarms, retiring one-offs; expiry."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.files.storage import default_storage

from alarms.models import FAR_FUTURE, AudioClip, Briefing, BriefingStatus
from alarms.selectors import backlog_by_minute, delivery_stats
from alarms.services.deadlines import sweep
from alarms.services.storage import expire_audio
from tests.alarms.conftest import make_alarm, make_clip, utc

pytestmark = pytest.mark.django_db
RING = utc(2025, 6, 2, 5, 0)  # Monday 07:00 Berlin


def test_nothing_happens_before_the_deadline(alice, clock_at):
    now = clock_at(RING - timedelta(minutes=2))
    make_alarm(alice)
    assert sweep(now).fallbacks == 0
    assert not Briefing.objects.exists()


def test_a_ring_without_a_ready_briefing_gets_the_fallback_at_the_deadline(alice, clock_at):
    now = clock_at(RING - timedelta(minutes=70))
    alarm = make_alarm(alice)
    Briefing.objects.create(alarm=alarm, ring_at=RING)  # generation started, never finished
    report = sweep(RING - timedelta(seconds=60))
    assert report.fallbacks == 1 and report.rolled == 0
    briefing = Briefing.objects.get(alarm=alarm, ring_at=RING)
    assert briefing.status == BriefingStatus.FALLBACK
    assert default_storage.exists(briefing.clip.file.name)
    assert sweep(RING - timedelta(seconds=30)).fallbacks == 0  # once
    assert now < RING


def test_a_ready_briefing_is_left_alone_and_the_alarm_rolls_after_ringing(alice, clock_at):
    clock_at(RING - timedelta(minutes=70))
    alarm = make_alarm(alice, days=[0, 2])  # Monday and Wednesday
    Briefing.objects.create(
        alarm=alarm, ring_at=RING, status=BriefingStatus.READY, clip=make_clip()
    )
    report = sweep(RING + timedelta(seconds=5))
    assert (report.fallbacks, report.rolled) == (0, 1)
    alarm.refresh_from_db()
    assert alarm.next_ring_at == utc(2025, 6, 4, 5, 0)  # Wednesday
    assert Briefing.objects.get().status == BriefingStatus.READY


def test_a_one_off_is_retired_after_it_rang(alice, clock_at):
    clock_at(RING - timedelta(minutes=70))
    alarm = make_alarm(alice, days=[], date=date(2025, 6, 2))
    report = sweep(RING + timedelta(seconds=5))
    assert report.retired == 1 and report.fallbacks == 1  # it never got generated
    alarm.refresh_from_db()
    assert not alarm.active and alarm.next_ring_at is None and alarm.next_sync_at == FAR_FUTURE


def test_queue_view_numbers(alice, clock_at):
    now = clock_at(RING - timedelta(minutes=30))
    first = make_alarm(alice)
    make_alarm(alice, label="later")
    Briefing.objects.create(
        alarm=first, ring_at=RING - timedelta(days=1), status=BriefingStatus.READY
    )
    Briefing.objects.create(
        alarm=first, ring_at=RING - timedelta(days=1, minutes=5), status=BriefingStatus.LATE
    )
    Briefing.objects.create(
        alarm=first,
        ring_at=RING - timedelta(hours=20),
        status=BriefingStatus.FALLBACK,
        error="http_5xx: down",
    )
    stats = delivery_stats(now)
    assert stats["total"] == 3 and stats["ready"] == 1 and stats["late"] == 1
    assert stats["failed"] == 1 and stats["fallback"] == 1
    assert stats["on_time_rate"] == pytest.approx(1 / 3)
    assert backlog_by_minute(now) == [{"minute": RING, "count": 2}]


def test_expired_audio_is_deleted_and_the_row_kept(
    alice, clock_at, django_capture_on_commit_callbacks
):
    now = clock_at(RING)
    alarm = make_alarm(alice)
    alone, shared = make_clip("Said once."), make_clip("Said twice.")
    old = Briefing.objects.create(
        alarm=alarm,
        ring_at=RING - timedelta(days=3),
        status=BriefingStatus.READY,
        clip=alone,
        expires_at=now - timedelta(minutes=1),
    )
    older = Briefing.objects.create(
        alarm=alarm,
        ring_at=RING - timedelta(days=4),
        status=BriefingStatus.READY,
        clip=shared,
        expires_at=now - timedelta(minutes=1),
    )
    Briefing.objects.create(
        alarm=alarm,
        ring_at=RING - timedelta(days=1),
        status=BriefingStatus.READY,
        clip=shared,
        expires_at=now + timedelta(hours=20),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_audio(now) == 2
    old.refresh_from_db()
    older.refresh_from_db()
    assert old.clip is None and older.clip is None
    # The clip nobody says any more is gone, row and file; the shared one stays.
    assert not AudioClip.objects.filter(pk=alone.pk).exists()
    assert not default_storage.exists(alone.file.name)
    assert default_storage.exists(shared.file.name)
