"""Events that ended more than 6 months ago leave the hot table for the archive: batched,
idempotent, two runs at once take different events, and the export does not change."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from calendars.models import ArchivedEvent, Conflict, Event, EventKind, EventStatus, Source
from calendars.services.archive import archive_ended_events, archive_summary
from calendars.services.export import export_rows
from tests.calendars.test_import import make_feed, make_listing

DAY = timedelta(days=1)


@pytest.fixture
def feeds(alice, allow_private_urls):
    listing = make_listing(alice)
    return (
        make_feed(listing, "https://airbnb.example/a.ics", Source.AIRBNB),
        make_feed(listing, "https://vrbo.example/v.ics", Source.VRBO),
    )


def event(feed, uid, start, nights=3, **fields):
    fields.setdefault("kind", EventKind.RESERVATION)
    return Event.objects.create(
        feed=feed, uid=uid, start=start, end=start + nights * DAY, all_day=True, **fields
    )


def midnight(moment):
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.mark.django_db
def test_ended_long_ago_moves_to_the_archive_the_rest_stays(feeds, settings):
    settings.CALENDAR_ARCHIVE_AFTER_DAYS = 183
    airbnb, vrbo = feeds
    now = timezone.now()
    today = midnight(now)
    old = [event(airbnb, f"old{i}", today - (400 + 10 * i) * DAY) for i in range(4)]
    old_vrbo = event(vrbo, "oldv", old[0].start, summary="Jane", kind_override=EventKind.BLOCK)
    echo = event(vrbo, "echo", old[1].start, kind=EventKind.BLOCK, echo_of=old[1])
    cancelled = event(vrbo, "gone", today - 300 * DAY, status=EventStatus.CANCELLED)
    conflict = Conflict.objects.create(
        listing=airbnb.listing,
        event_a=old[0],
        event_b=old_vrbo,
        overlap_start=old[0].start,
        overlap_end=old[0].end,
    )
    edge = event(airbnb, "edge", today - 185 * DAY, nights=3)  # ended 182 days ago: stays
    recent = event(airbnb, "recent", today - 10 * DAY)
    future = event(vrbo, "future", today + 20 * DAY)
    export_before = export_rows(airbnb.listing, leave_out=None, now=now)

    report = archive_ended_events(now, batch=2)

    moved = [*old, old_vrbo, echo, cancelled]
    assert report.archived == len(moved) and report.batches == 4  # 2 + 2 + 2 + 1
    assert set(Event.objects.values_list("pk", flat=True)) == {edge.pk, recent.pk, future.pk}
    assert set(ArchivedEvent.objects.values_list("event_id", flat=True)) == {e.pk for e in moved}
    jane = ArchivedEvent.objects.get(event_id=old_vrbo.pk)
    assert (jane.summary, jane.kind, jane.feed_id, jane.listing_id) == (
        "Jane",
        EventKind.BLOCK,
        vrbo.pk,
        vrbo.listing_id,
    )
    assert (jane.start, jane.end, jane.all_day) == (old_vrbo.start, old_vrbo.end, True)
    assert ArchivedEvent.objects.get(event_id=cancelled.pk).status == EventStatus.CANCELLED
    assert ArchivedEvent.objects.get(event_id=echo.pk).feed_label == "VRBO"
    assert not Conflict.objects.filter(pk=conflict.pk).exists()
    # Nothing the export reads was touched.
    assert export_rows(airbnb.listing, leave_out=None, now=now) == export_before
    summary = archive_summary(airbnb.listing)
    assert summary["count"] == len(moved)
    assert summary["first"] == old[3].start and summary["last"] == cancelled.end

    # Idempotent: the next run finds nothing, and an archived copy is never written twice.
    assert archive_ended_events(now).archived == 0
    assert ArchivedEvent.objects.count() == len(moved)


@pytest.mark.django_db
def test_max_batches_bounds_one_run_and_the_next_goes_on(feeds):
    airbnb, _ = feeds
    today = midnight(timezone.now())
    for i in range(5):
        event(airbnb, f"e{i}", today - (300 + i) * DAY)
    assert archive_ended_events(batch=2, max_batches=1).archived == 2
    assert archive_ended_events(batch=2).archived == 3
    assert Event.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_take_different_events(feeds):
    airbnb, _ = feeds
    today = midnight(timezone.now())
    events = [event(airbnb, f"e{i}", today - (300 + i) * DAY) for i in range(6)]
    held = [e.pk for e in events[:2]]
    params = connection.get_connection_params()
    keys = ("dbname", "user", "password", "host", "port")
    with psycopg.connect(**{k: params[k] for k in keys if params.get(k)}) as other:
        # Another run is in the middle of a batch holding two events.
        other.execute(
            "SELECT id FROM calendars_event WHERE id = ANY(%s) FOR UPDATE", [held]
        ).fetchall()
        assert archive_ended_events(batch=10).archived == 4
        other.rollback()
    assert set(Event.objects.values_list("pk", flat=True)) == set(held)
    assert archive_ended_events().archived == 2
    assert ArchivedEvent.objects.count() == 6


@pytest.mark.django_db
def test_staff_read_the_archive_in_the_admin(feeds, client, django_user_model):
    airbnb, _ = feeds
    event(airbnb, "past-stay", midnight(timezone.now()) - 400 * DAY, summary="Past stay")
    archive_ended_events()
    staff = django_user_model.objects.create_user(
        "staff@example.com", "staff@example.com", "x", is_staff=True, is_superuser=True
    )
    client.force_login(staff)
    page = client.get("/admin/calendars/archivedevent/")
    assert page.status_code == 200 and b"past-stay" in page.content
    pk = ArchivedEvent.objects.get().pk
    assert client.get(f"/admin/calendars/archivedevent/{pk}/change/").status_code == 200
    assert client.get("/admin/calendars/archivedevent/add/").status_code == 403
