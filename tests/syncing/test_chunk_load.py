"""A chunk's items loaded by the compiled statement (services.runs._Loader) are the same
instances the ORM's queryset makes: every field, converters applied, the owner's relation
populated, nothing deferred."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from calendars.kinds import FEED_KIND
from calendars.models import Feed
from syncing.kinds import get_kind
from syncing.services import runs
from tests.calendars.test_import import make_feed, make_listing

pytestmark = pytest.mark.django_db


def state(instance) -> dict:
    return {k: v for k, v in vars(instance).items() if k != "_state"}


def test_the_compiled_load_gives_what_the_orm_gives(alice):
    if connection.vendor != "postgresql":
        pytest.skip("the compiled load is PostgreSQL's; elsewhere the ORM runs")
    kind = get_kind(FEED_KIND)
    listing = make_listing(alice)
    feeds = [make_feed(listing, f"https://example.com/{i}.ics") for i in range(3)]
    Feed.objects.filter(pk=feeds[0].pk).update(
        etag='"v1"',
        change_stats={"n": 3.5, "changes": 1.0},
        change_rate=0.25,
        effective_interval=timedelta(hours=2),
        last_import={"at": timezone.now().isoformat(), "skipped": [["a", "b"]]},
        last_success_at=timezone.now(),
    )
    pks = {f.pk for f in feeds} | {10**9}  # one that does not exist
    loaded = runs._load(kind, pks)
    assert isinstance(runs._loader(kind, "default"), runs._Loader)
    expected = {item.pk: item for item in runs._load_queryset(kind, pks)}
    assert loaded.keys() == expected.keys() == {f.pk for f in feeds}
    for pk, item in loaded.items():
        assert state(item) == state(expected[pk])
        assert item._state.db == "default" and not item._state.adding
        assert not item.get_deferred_fields()
        with django_assert_no_queries():
            assert state(item.listing) == state(expected[pk].listing)
            assert item.listing.owner_id == alice.pk
    assert loaded[feeds[0].pk].change_stats == {"n": 3.5, "changes": 1.0}
    assert loaded[feeds[0].pk].effective_interval == timedelta(hours=2)
    # The same compiled statement serves the next chunk.
    assert runs._load(kind, {feeds[1].pk}).keys() == {feeds[1].pk}


def django_assert_no_queries():
    from django.test.utils import CaptureQueriesContext

    class _None(CaptureQueriesContext):
        def __exit__(self, *exc):
            super().__exit__(*exc)
            assert not self.captured_queries, self.captured_queries

    return _None(connection)
