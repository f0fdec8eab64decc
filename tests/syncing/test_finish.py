"""syncing.services.finish: the finishes and attempts of a chunk written in one statement,
every value read back as it was given, nothing written for an item whose lease moved on."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from syncing.kinds import get_kind
from syncing.models import Probe, SyncAttempt
from syncing.services import finish
from syncing.services.runs import Finish
from tests.syncing.factories import make_probes

pytestmark = pytest.mark.django_db
PROBE = "syncing.probe"


def _leased(probes: list[Probe]) -> uuid.UUID:
    token = uuid.uuid4()
    Probe.objects.filter(pk__in=[p.pk for p in probes]).update(
        lease_token=token, leased_until=datetime.now(UTC) + timedelta(minutes=1)
    )
    return token


def _finish(probe: Probe, owner, **fields) -> Finish:
    attempt = SyncAttempt(
        kind=PROBE,
        item_id=probe.pk,
        tier=probe.tier,
        owner_id=owner.pk,
        started_at=datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC),
        duration_ms=12,
        outcome="not_modified",
        reason="",
        message="l\u00e0 \"quoted\" 'single' \\ back",
        http_status=304,
        bytes=0,
        items_changed=0,
        retries=1,
        counts={"cpu_ms": 0.42, "nested": {"a": [1, None]}},
    )
    return Finish(pk=probe.pk, fields=fields, attempt=attempt)


def test_values_of_every_type_are_written_as_given(alice):
    probes = make_probes(2, owner=alice, etag="old", change_rate=0.5)
    token = _leased(probes)
    when = datetime(2026, 12, 1, 10, 5, 3, 250000, tzinfo=UTC)
    first = _finish(
        probes[0],
        alice,
        last_synced_at=when,
        next_sync_at=when + timedelta(minutes=5),
        consecutive_failures=0,
        last_error="",
        etag='W/"a,b"',
        change_stats={"n": 3, "hours": [0.1, 2.5]},
        change_rate=float("nan"),
        effective_interval=timedelta(days=1, hours=2, seconds=3, microseconds=500),
        paused=False,
    )
    second = _finish(probes[1], alice, change_rate=float("inf"), consecutive_failures=2)
    written = finish.write_finishes_and_attempts(get_kind(PROBE), token, [first, second])

    assert written == {probes[0].pk, probes[1].pk}
    one, two = (Probe.objects.get(pk=p.pk) for p in probes)
    assert one.last_synced_at == when and one.next_sync_at == when + timedelta(minutes=5)
    assert one.etag == 'W/"a,b"' and one.change_stats == {"n": 3, "hours": [0.1, 2.5]}
    if connection.vendor == "postgresql":
        assert math.isnan(one.change_rate)
    else:  # SQLite keeps no NaN: it stores NULL, which readers take as no rate yet
        assert one.change_rate is None
    assert one.effective_interval == timedelta(days=1, hours=2, seconds=3, microseconds=500)
    assert one.lease_token is None and one.leased_until is None
    # A value left out keeps what the column held.
    assert two.etag == "old" and two.change_rate == math.inf and two.consecutive_failures == 2
    attempts = {a.item_id: a for a in SyncAttempt.objects.filter(item_id__in=written)}
    assert {first.attempt.pk, second.attempt.pk} == {a.pk for a in attempts.values()}
    stored = attempts[probes[0].pk]
    assert stored.started_at == datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert stored.message == "l\u00e0 \"quoted\" 'single' \\ back"
    assert stored.counts == {"cpu_ms": 0.42, "nested": {"a": [1, None]}}
    assert stored.http_status == 304 and stored.retries == 1 and stored.owner_id == alice.pk


def test_a_negative_interval_and_a_none_attempt_field(alice):
    probe = make_probes(1, owner=alice)[0]
    token = _leased([probe])
    done = _finish(probe, alice, effective_interval=timedelta(seconds=-90))
    done.attempt.http_status = None
    finish.write_finishes_and_attempts(get_kind(PROBE), token, [done])
    probe.refresh_from_db()
    assert probe.effective_interval == timedelta(seconds=-90)
    assert SyncAttempt.objects.get(pk=done.attempt.pk).http_status is None


def test_nothing_is_written_for_an_item_claimed_again_elsewhere(alice):
    mine, theirs = make_probes(2, owner=alice, etag="kept")
    token = _leased([mine, theirs])
    Probe.objects.filter(pk=theirs.pk).update(lease_token=uuid.uuid4())
    finishes = [_finish(p, alice, etag="new") for p in (mine, theirs)]
    written = finish.write_finishes_and_attempts(get_kind(PROBE), token, finishes)
    assert written == {mine.pk}
    assert Probe.objects.get(pk=theirs.pk).etag == "kept"
    assert not SyncAttempt.objects.filter(item_id=theirs.pk).exists()
    assert finishes[1].attempt.pk is None


def test_the_statement_is_the_same_for_any_number_of_rows(alice):
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement write is PostgreSQL's")
    probes = make_probes(3, owner=alice)
    token = uuid.uuid4()
    kind = get_kind(PROBE)
    one = finish._update_sql(kind, token, [_finish(probes[0], alice)], None)[0]
    three = finish._update_sql(kind, token, [_finish(p, alice) for p in probes], None)[0]
    assert one == three
    assert (
        finish._attempts_sql([_finish(probes[0], alice)])[0]
        == finish._attempts_sql([_finish(p, alice) for p in probes])[0]
    )
