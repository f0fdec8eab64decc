"""Times and counts in words (issue 12, point 2): never "0 minutes", never "failure(s)"."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from syncing.humane import ago, lasting, plural, until

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "just now"),
        (59, "just now"),
        (60, "1 minute ago"),
        (119, "1 minute ago"),
        (180, "3 minutes ago"),
        (3599, "59 minutes ago"),
        (3600, "1 hour ago"),
        (7200, "2 hours ago"),
        (47 * 3600, "47 hours ago"),
        (3 * 86400, "3 days ago"),
        (-300, "in 5 minutes"),
        (-30, "just now"),
    ],
)
def test_ago(seconds, words):
    assert ago(NOW - timedelta(seconds=seconds), NOW) == words


def test_until_never_says_zero_minutes():
    assert until(NOW + timedelta(seconds=20), NOW) == "any moment now"
    assert until(NOW - timedelta(minutes=3), NOW) == "any moment now"  # due: not "-3"
    assert until(NOW + timedelta(minutes=5, seconds=10), NOW) == "in 5 minutes"
    assert until(None) == ""


def test_lasting_and_plurals():
    assert lasting(NOW - timedelta(hours=2, minutes=5), NOW) == "for 2 hours"
    assert lasting(NOW - timedelta(seconds=10), NOW) == "for under a minute"
    assert [plural(n, "failure") for n in (0, 1, 2)] == ["0 failures", "1 failure", "2 failures"]


def test_the_template_filters_read_json_times_and_dates():
    at = (timezone.now() - timedelta(minutes=3)).isoformat().replace("+00:00", "Z")
    html = Template(
        "{% load humane %}{{ at|ago }}|{{ n|count:'failure' }}|{{ d|when }}|{{ dt|when }}"
    ).render(Context({"at": at, "n": 1, "d": date(2026, 12, 1), "dt": NOW}))
    assert html == "3 minutes ago|1 failure|Tue 1 Dec 2026|Tue 1 Dec 2026, 12:00"


@pytest.mark.django_db
def test_pages_show_times_in_the_browsers_zone_and_the_api_stays_utc(client, alice):
    import zoneinfo

    from knox.models import AuthToken

    from calendars.services.listings import listing_create

    token, _ = AuthToken.objects.create(user=alice)
    client.force_login(alice)
    paris = token.created.astimezone(zoneinfo.ZoneInfo("Europe/Paris"))
    utc = token.created.astimezone(UTC)
    assert f"{utc:%H:%M}" in client.get("/account/tokens/").content.decode()
    client.cookies["tz"] = "Europe/Paris"
    assert f"{paris:%H:%M}" in client.get("/account/tokens/").content.decode()
    client.cookies["tz"] = "Nowhere/Land"  # not a zone: UTC, no error
    assert f"{utc:%H:%M}" in client.get("/account/tokens/").content.decode()
    client.cookies["tz"] = "Europe/Paris"
    listing_create(owner=alice, name="Lake house")
    (listing,) = client.get("/api/v1/listings/").json()["results"]
    assert listing["created_at"].endswith("Z")  # the API is not localised
