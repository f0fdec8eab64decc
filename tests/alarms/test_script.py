"""The script: small sections, in order; a failing or missing section is left out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alarms.services.script import compose_script
from alarms.services.script.sections import SECTIONS
from tests.alarms.conftest import make_alarm, utc

pytestmark = pytest.mark.django_db
RING = utc(2025, 6, 2, 5, 0)  # Monday 07:00 in Berlin


def test_greeting_date_and_note_in_the_owners_zone(alice, clock_at):
    clock_at(RING - timedelta(hours=2))
    alarm = make_alarm(alice, timezone="Pacific/Auckland", options={"note": "Gym at 8."})
    ring = alarm.next_ring_at  # 07:00 NZST = 19:00Z the day before
    script = compose_script(alarm, ring)
    assert script.text.startswith("Good morning, Alice. It is ")
    assert f"{ring.astimezone(alarm.zone):%A}" in script.text and "07:00" in script.text
    assert script.text.endswith("Your note: Gym at 8.")
    assert "market" not in script.used  # no market selector offered: left out quietly


def test_a_failing_section_is_left_out_and_the_rest_kept(alice, clock_at):
    clock_at(RING - timedelta(hours=2))
    alarm = make_alarm(alice, options={"note": "Buy milk."})

    def broken(ctx):
        raise RuntimeError("database on fire")

    sections = (SECTIONS[0], ("calendar", broken), SECTIONS[-1])
    script = compose_script(alarm, RING, sections=sections)
    assert script.failed == ["calendar"]
    assert script.used == ["greeting", "note"]
    assert script.text == "Good morning, Alice. Your note: Buy milk."


def test_sections_can_be_switched_off(alice, clock_at):
    clock_at(RING - timedelta(hours=2))
    alarm = make_alarm(alice, options={"note": "x", "sections": {"note": False, "date": False}})
    assert compose_script(alarm, RING).used == ["greeting"]


def test_check_ins_and_check_outs_from_the_owners_listings(alice, bob, clock_at):
    from calendars.models import Event, Feed, Listing

    clock_at(RING - timedelta(hours=2))
    alarm = make_alarm(alice)
    beach = Listing.objects.create(owner=alice, name="Beach House", timezone="Europe/Berlin")
    loft = Listing.objects.create(owner=alice, name="Loft", timezone="Europe/Berlin")
    bobs = Listing.objects.create(owner=bob, name="Bob's Barn", timezone="Europe/Berlin")
    for listing, start, end in [
        (beach, utc(2025, 6, 2), utc(2025, 6, 5)),
        (loft, utc(2025, 5, 28), utc(2025, 6, 2)),
        (bobs, utc(2025, 6, 2), utc(2025, 6, 4)),
    ]:
        feed = Feed.objects.create(listing=listing, url="https://example.com/a.ics", tier="6h")
        Event.objects.create(
            feed=feed, uid=f"{listing.pk}@x", start=start, end=end, all_day=True, kind="reservation"
        )
    script = compose_script(alarm, RING)
    assert "Check-ins today: Beach House. Check-outs today: Loft." in script.text
    assert "Bob" not in script.text
