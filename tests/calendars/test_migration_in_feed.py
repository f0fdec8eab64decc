"""calendars 0010: ``Event.in_feed`` for the rows already there. A row whose ``last_seen`` is
older than its feed's latest import (``last_import["at"]``) was not bumped by it, so that
import did not hold it; the others did. A feed without a recorded import is left alone."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.db import connection

from calendars.models import Event, Feed
from tests.calendars.test_import import make_feed, make_listing

migration = importlib.import_module("calendars.migrations.0010_event_in_feed")
AT = datetime(2026, 11, 30, 9, 15, 0, 123456, tzinfo=UTC)


class _Editor:
    """The part of a schema editor the migration uses (SQLite's refuses to open inside the
    test's transaction)."""

    connection = connection

    def execute(self, sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)


def _event(feed: Feed, uid: str, last_seen: datetime) -> None:
    Event.objects.create(
        feed=feed, uid=uid, start=AT, end=AT + timedelta(days=2), last_seen=last_seen
    )


@pytest.mark.django_db
def test_rows_older_than_their_feeds_latest_import_are_marked_left(alice):
    listing = make_listing(alice)
    feed = make_feed(listing, "https://www.airbnb.com/calendar/ical/1.ics")
    Feed.objects.filter(pk=feed.pk).update(last_import={"at": AT.isoformat(), "events": 2})
    never = make_feed(listing, "https://www.vrbo.com/icalendar/2.ics")  # no import recorded
    _event(feed, "held", AT)
    _event(feed, "left", AT - timedelta(microseconds=1))
    _event(never, "other", AT - timedelta(days=9))
    migration.mark_left(apps, _Editor())
    assert dict(Event.objects.values_list("uid", "in_feed")) == {
        "held": True,
        "left": False,
        "other": True,
    }
