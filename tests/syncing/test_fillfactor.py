"""Every synced item's table leaves a fifth of each page free on PostgreSQL (fillfactor 80),
so a claim, which changes no indexed column, rewrites the row on its own page (a HOT update)
instead of moving it to a new one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from syncing.kinds import get_kind
from syncing.models import SyncedItem
from syncing.services.claims import claim_due_items

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting"),
]


def _reloptions(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0] or []


def test_every_synced_item_table_has_fillfactor_80():
    models = [m for m in apps.get_models() if issubclass(m, SyncedItem)]
    assert len(models) >= 4
    for model in models:
        assert _reloptions(model._meta.db_table) == ["fillfactor=80"], model._meta.label


def _blocks(table: str, pks: list[int]) -> dict[int, int]:
    """Each row's page (the block of its ctid)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, (ctid::text::point)[0]::int FROM {table} WHERE id = ANY(%s)",  # noqa: S608
            [pks],
        )
        return dict(cursor.fetchall())


def test_a_claim_rewrites_each_row_on_its_own_page(alice):
    from calendars.models import Feed, Listing

    listing = Listing.objects.create(owner=alice, name="Seaside cottage")
    now = timezone.now()
    # Enough rows for several pages, inserted as they are (no update moves them first);
    # every sixth is due, as a tier's due items are spread over its table. At fillfactor
    # 100 the inserts pack every page full and the claim moves each due row to a new page.
    feeds = Feed.objects.bulk_create(
        Feed(
            listing=listing,
            url=f"http://127.0.0.1:9/{n}.ics",
            next_sync_at=now - timedelta(minutes=1) if n % 6 == 0 else now + timedelta(days=1),
        )
        for n in range(180)
    )
    due = [f.pk for f in feeds[::6]]
    table = Feed._meta.db_table
    before = _blocks(table, due)
    assert len(set(before.values())) > 1  # the due rows span pages
    claim = claim_due_items(get_kind("calendars.feed"), feeds[0].tier, len(feeds))
    assert sorted(claim.pks) == sorted(due)
    assert _blocks(table, due) == before
