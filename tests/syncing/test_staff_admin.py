"""What staff see: the admin index leads to the sync dashboard, plural names are English,
tiers named after their interval follow it, and the dashboard puts failing counts beside
the on-time rate."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from alarms.models import Alarm
from syncing.kinds import get_kind
from syncing.models import Probe, Tier
from syncing.services.tiers import interval_name
from tests.alarms.conftest import make_alarm
from tests.syncing.factories import make_probes
from tests.syncing.test_tiers import change_tier

pytestmark = pytest.mark.django_db


def test_the_admin_index_links_to_the_sync_dashboard(client, staff):
    client.force_login(staff)
    html = client.get("/admin/").content.decode()
    assert 'href="/admin/syncing/dashboard/"' in html
    assert client.get("/admin/syncing/dashboard/").status_code == 200


def test_the_admin_spells_plurals_in_english(client, staff):
    client.force_login(staff)
    html = client.get("/admin/").content.decode()
    assert "Webhook deliveries" in html and "Watches" in html
    assert "deliverys" not in html.lower() and "watchs" not in html.lower()
    for model in apps.get_models():
        plural = str(model._meta.verbose_name_plural)
        assert not plural.endswith(("ys", "chs", "shs", "ss")) or plural.endswith("ays"), plural


@pytest.mark.parametrize(
    ("interval", "name"),
    [
        (timedelta(minutes=1), "1m"),
        (timedelta(minutes=55), "55m"),
        (timedelta(hours=6), "6h"),
        (timedelta(days=1), "1d"),
        (timedelta(seconds=90), "90s"),
        (None, ""),
    ],
)
def test_interval_names(interval, name):
    assert interval_name(interval) == name


def test_every_default_tier_named_after_an_interval_has_that_interval():
    for tier in Tier.objects.all():
        if tier.name[:-1].isdigit():
            assert tier.name == interval_name(tier.interval), tier
    alarm_tier = Tier.objects.get(kind="alarms.alarm")
    assert (alarm_tier.name, alarm_tier.key, alarm_tier.interval) == ("1d", "1d", timedelta(days=1))
    assert get_kind("alarms.alarm").default_tier == "1d"


def test_a_tier_named_after_its_interval_follows_a_new_interval(client, staff):
    client.force_login(staff)
    tier = Tier.objects.get(kind="syncing.probe", name="5m")
    probes = make_probes(2, tier="5m")

    change_tier(client, tier, interval="00:30:00")

    assert tier.name == "30m" and tier.key == "5m"
    moved = Probe.objects.filter(pk__in=[p.pk for p in probes]).values_list("tier", flat=True)
    assert set(moved) == {"30m"}
    assert PeriodicTask.objects.get(pk=tier.periodic_task_id).name.endswith(" 30m")


def test_a_tier_keeps_a_name_of_its_own_or_one_another_tier_has(client, staff):
    client.force_login(staff)
    hot = Tier.objects.get(kind="market.product", name="hot")
    assert change_tier(client, hot, interval="00:30:00").name == "hot"
    five = Tier.objects.get(kind="syncing.probe", name="5m")
    assert change_tier(client, five, interval="01:00:00").name == "5m"  # "1h" is taken
    one = Tier.objects.get(kind="syncing.probe", name="1m")
    assert change_tier(client, one, name="fast", interval="00:02:00").name == "fast"


def test_the_migration_renames_the_old_alarm_tier_and_moves_its_alarms(alice):
    migration = importlib.import_module("alarms.migrations.0002_tier_named_after_interval")
    Tier.objects.filter(kind="alarms.alarm").delete()
    Tier.objects.create(kind="alarms.alarm", name="1m", key="1m", interval=timedelta(days=1))
    alarm = make_alarm(alice)
    Alarm.objects.filter(pk=alarm.pk).update(tier="1m")

    migration.rename(apps, None)

    tier = Tier.objects.get(kind="alarms.alarm")
    assert (tier.name, tier.key) == ("1d", "1d")
    assert Alarm.objects.get(pk=alarm.pk).tier == "1d"
    migration.rename(apps, None)  # a second run changes nothing
    assert Tier.objects.filter(kind="alarms.alarm").count() == 1


def test_the_dashboard_puts_failing_items_beside_the_on_time_rate(client, staff):
    now = timezone.now()
    make_probes(3, tier="1h", due=now + timedelta(minutes=30), consecutive_failures=2)
    client.force_login(staff)
    html = client.get("/admin/syncing/dashboard/?kind=syncing.probe").content.decode()
    row = next(r for r in html.split("<tr>") if "<td>1h</td>" in r)
    assert "100.00%" in row and "3 failing" in row
    assert 'class="headline warn"' in row  # not the green of all being well
    quiet = next(r for r in html.split("<tr>") if "<td>5m</td>" in r)
    assert "failing</small>" not in quiet


def test_the_feed_tier_actions_follow_a_renamed_tier(client, staff, alice):
    from calendars.models import Listing
    from calendars.services.listings import feed_create

    listing = Listing.objects.create(owner=alice, name="Cabin", timezone="Europe/Lisbon")
    feed = feed_create(listing=listing, url="https://www.airbnb.com/calendar/ical/1.ics")
    client.force_login(staff)
    five = Tier.objects.get(kind="calendars.feed", key="5m")
    change_tier(client, five, interval="00:10:00")  # named after its interval: now "10m"

    page = client.get("/admin/calendars/feed/").content.decode()
    assert "Change tier to 10m" in page and "Change tier to 5m" not in page
    response = client.post(
        "/admin/calendars/feed/", {"action": "set_tier_5m", "_selected_action": [feed.pk]}
    )
    assert response.status_code == 302
    feed.refresh_from_db()
    assert feed.tier == "10m"
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["1 feed moved to tier 10m."]
