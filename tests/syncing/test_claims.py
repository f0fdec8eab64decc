import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from syncing.kinds import get_kind
from syncing.models import Probe
from syncing.services.claims import claim_due_items, claim_one, release
from tests.syncing.factories import make_probes

PROBE = "syncing.probe"


@pytest.mark.django_db
def test_claims_only_due_unpaused_unleased_items_oldest_first():
    now = timezone.now()
    oldest, older, future = make_probes(
        3, due=now - timedelta(minutes=10), spread=timedelta(minutes=5)
    )[:3]
    Probe.objects.filter(pk=future.pk).update(next_sync_at=now + timedelta(minutes=5))
    paused = make_probes(1, paused=True)[0]
    leased = make_probes(1, leased_until=now + timedelta(minutes=5))[0]
    other_tier = make_probes(1, tier="1h")[0]

    claim = claim_due_items(get_kind(PROBE), "5m", 10, now=now)

    assert claim.pks == [oldest.pk, older.pk]
    for probe in Probe.objects.filter(pk__in=claim.pks):
        assert probe.lease_token == claim.token
        assert probe.leased_until == claim.leased_until
    assert paused.pk not in claim.pks and leased.pk not in claim.pks
    assert other_tier.pk not in claim.pks


@pytest.mark.django_db
def test_claim_respects_the_limit_and_an_expired_lease_makes_an_item_due_again():
    now = timezone.now()
    make_probes(5, leased_until=now - timedelta(seconds=1))
    first = claim_due_items(get_kind(PROBE), "5m", 3, now=now)
    second = claim_due_items(get_kind(PROBE), "5m", 3, now=now)
    assert len(first.pks) == 3
    assert len(second.pks) == 2
    assert not set(first.pks) & set(second.pks)
    assert claim_due_items(get_kind(PROBE), "5m", 3, now=now).pks == []


@pytest.mark.django_db
def test_claim_one_refuses_a_leased_item_and_release_frees_it():
    probe = make_probes(1)[0]
    kind = get_kind(PROBE)
    claim = claim_one(kind, probe.pk)
    assert claim.pks == [probe.pk]
    assert claim_one(kind, probe.pk).pks == []
    assert release(kind, claim.token, claim.pks) == 1
    assert claim_one(kind, probe.pk).pks == [probe.pk]


@pytest.mark.django_db
def test_claim_one_skips_paused_items_unless_forced():
    probe = make_probes(1, paused=True)[0]
    kind = get_kind(PROBE)
    assert claim_one(kind, probe.pk).pks == []
    assert claim_one(kind, probe.pk, force=True).pks == [probe.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_dispatchers_claim_each_item_exactly_once():
    make_probes(3000)
    kind = get_kind(PROBE)
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def dispatcher(name: str) -> None:
        try:
            barrier.wait()
            while True:
                pks = claim_due_items(kind, "5m", 50).pks
                if not pks:
                    break
                claimed[name].extend(pks)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    a, b = set(claimed["a"]), set(claimed["b"])
    assert len(claimed["a"]) == len(a) and len(claimed["b"]) == len(b)
    assert not a & b, "an item was claimed by both dispatchers"
    assert len(a | b) == 3000
    assert a and b, "both dispatchers should have found work (SKIP LOCKED, no waiting)"


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_claim_uses_the_due_index_not_a_table_scan():
    make_probes(200)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE syncing_probe")
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM syncing_probe WHERE tier = %s AND next_sync_at <= now() "
            "AND NOT paused ORDER BY next_sync_at LIMIT 100",
            ["5m"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "syncing_probe_due" in plan


@pytest.mark.django_db
def test_dispatch_claims_batch_after_batch_only_for_kinds_that_adapt_to_the_backlog(temporary_kind):
    from dataclasses import replace

    from syncing.models import Tier
    from syncing.services.dispatch import dispatch_tier

    Tier.objects.filter(kind=PROBE, name="5m").update(batch_limit=10)
    make_probes(35)
    assert dispatch_tier(PROBE, "5m").claimed == 10  # batch_limit is a hard cap by default
    original = get_kind(PROBE)
    temporary_kind(replace(original, max_batches_per_dispatch=5))
    assert dispatch_tier(PROBE, "5m").claimed == 25  # full, full, then 5: drained
