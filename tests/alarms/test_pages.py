"""Owner pages, the staff queue view, and the demo seeder."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alarms.demo import seed
from alarms.models import Alarm
from alarms.services import clock
from tests.alarms.conftest import make_alarm, utc
from tests.alarms.test_api import generate

pytestmark = pytest.mark.django_db
RING = utc(2025, 6, 2, 5, 0)


def test_index_lists_alarms_with_local_next_ring_and_plays_the_latest(alice, client, clock_at):
    clock_at(RING - timedelta(minutes=58))
    alarm = make_alarm(alice, label="Work", timezone="America/New_York")
    make_alarm(alice, label="Berlin")
    generate(Alarm.objects.get(label="Berlin"))
    client.force_login(alice)
    page = client.get("/alarms/").content.decode()
    assert "Work" in page and "Berlin" in page
    local = alarm.next_ring_at.astimezone(alarm.zone)
    assert local.strftime("%a %-d %b %Y, %H:%M") in page  # the pages' one date format
    assert '<audio controls preload="none" src="/alarms/audio/' in page
    # Without a speech engine the briefing says it is a chime, and why.
    chime = Alarm.objects.get(label="Berlin").briefings.get().engine == "tone"
    assert ("Chime only" in page and "no speech engine installed" in page) is chime


def test_create_and_edit_through_the_form(alice, bob, client, clock_at):
    clock_at(RING - timedelta(hours=3))
    client.force_login(alice)
    assert client.get("/alarms/new/").status_code == 200
    response = client.post(
        "/alarms/new/",
        {
            "label": "Form",
            "time": "06:30",
            "timezone": "Europe/Berlin",
            "days": ["0", "1"],
            "voice": "en",
            "lead_minutes": "58",
            "active": "on",
            "sections": ["note"],
            "note": "Stretch.",
        },
    )
    assert response.status_code == 302
    alarm = Alarm.objects.get(label="Form")
    assert alarm.days == [0, 1] and alarm.note == "Stretch."
    assert not alarm.section_enabled("calendar") and alarm.next_ring_at == utc(2025, 6, 2, 4, 30)
    bad = client.post(
        "/alarms/new/",
        {"time": "06:30", "timezone": "Europe/Berlin", "lead_minutes": "58", "active": "on"},
    )
    assert bad.status_code == 200 and "needs a date" in bad.content.decode()
    client.force_login(bob)
    assert client.get(f"/alarms/{alarm.pk}/edit/").status_code == 404
    assert client.post(f"/alarms/{alarm.pk}/delete/").status_code == 404
    assert Alarm.objects.filter(pk=alarm.pk).exists()


def test_the_staff_queue_view(staff, alice, client, clock_at):
    clock_at(RING - timedelta(minutes=30))
    make_alarm(alice)
    client.force_login(alice)
    assert client.get("/admin/alarms/alarm/queue/").status_code == 302  # not staff
    client.force_login(staff)
    page = client.get("/admin/alarms/alarm/queue/").content.decode()
    assert "Backlog by minute of ring time" in page and "05:00" in page
    assert client.get("/admin/alarms/alarm/").status_code == 200
    assert client.get("/admin/alarms/briefing/").status_code == 200


def test_demo_seeds_three_alarms_once_one_within_the_hour(alice, clock_at):
    clock_at(utc(2025, 6, 4, 12, 0))  # a Wednesday noon: no demo alarm rings near it
    assert seed(alice) == 3
    assert seed(alice) == 0
    alarms = Alarm.objects.filter(owner=alice)
    assert len({a.timezone for a in alarms}) == 3
    soon = [a for a in alarms if a.next_ring_at - clock.now() <= timedelta(hours=1)]
    assert len(soon) == 1 and soon[0].next_sync_at <= clock.now()
