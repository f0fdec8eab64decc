"""Messages sized by what their items are expected to cost (Kind.cheap_chunk_size), and a
chunk that runs long handing its rest back (services.runs.HAND_BACK_AFTER_SECONDS)."""

import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from syncing.kinds import Kind, TierSpec, get_kind
from syncing.models import Probe, SyncAttempt
from syncing.results import SyncResult
from syncing.services import runs
from syncing.services.claims import claim_due_items
from syncing.services.dispatch import split_claim
from syncing.services.runs import run_claimed
from tests.syncing.factories import make_probes

TIERS = (TierSpec("5m", timedelta(minutes=5)),)


def costed(**fields) -> Kind:
    return Kind(
        name="tests.costed",
        model="syncing.Probe",
        sync=lambda item, ctx: SyncResult(),
        tiers=TIERS,
        default_tier="5m",
        **fields,
    )


def test_without_a_cheap_size_every_message_carries_chunk_size_items():
    kind = costed(chunk_size=25)
    pks = list(range(1, 61))
    assert [len(c) for c in split_claim(kind, pks, frozenset(pks))] == [25, 25, 10]


def test_cheap_items_go_cheap_chunk_size_a_message_others_chunk_size_in_claim_order():
    kind = costed(chunk_size=25, cheap_chunk_size=100)
    cheap = list(range(1, 251))
    assert [len(c) for c in split_claim(kind, cheap, frozenset(cheap))] == [100, 100, 50]
    costly = list(range(1, 61))
    assert [len(c) for c in split_claim(kind, costly, frozenset())] == [25, 25, 10]
    assert [len(c) for c in split_claim(kind, costly, frozenset({999}))] == [25, 25, 10]
    # Mixed: 50 cheap (half a message) then 20 costly (0.8 of one): 50 + 12, then 8.
    mixed = list(range(1, 71))
    chunks = split_claim(kind, mixed, frozenset(range(1, 51)))
    assert [len(c) for c in chunks] == [62, 8]
    assert [pk for c in chunks for pk in c] == mixed  # nothing lost, nothing reordered


@pytest.mark.django_db
def test_a_claim_knows_which_items_are_expected_to_be_cheap(temporary_kind):
    kind = temporary_kind(costed(chunk_size=2, cheap_chunk_size=4))
    synced = timezone.now() - timedelta(hours=1)
    with_etag, with_date, bare, failing, never = make_probes(5, spread=timedelta(seconds=1))
    Probe.objects.filter(pk=with_etag.pk).update(etag='"v1"', last_success_at=synced)
    Probe.objects.filter(pk=with_date.pk).update(
        last_modified="Mon, 30 Nov 2026 10:00:00 GMT", last_success_at=synced
    )
    Probe.objects.filter(pk=bare.pk).update(last_success_at=synced)  # no validator
    Probe.objects.filter(pk=failing.pk).update(
        etag='"v1"', last_success_at=synced, consecutive_failures=1
    )
    Probe.objects.filter(pk=never.pk).update(etag='"v1"')  # never succeeded
    claim = claim_due_items(get_kind(kind.name), "5m", 10)
    assert claim.pks == [with_etag.pk, with_date.pk, bare.pk, failing.pk, never.pk]
    assert claim.cheap == {with_etag.pk, with_date.pk}
    # Two cheap ones fill half a message, the third item the other half.
    assert split_claim(kind, claim.pks, claim.cheap) == [
        [with_etag.pk, with_date.pk, bare.pk],
        [failing.pk, never.pk],
    ]


@pytest.mark.django_db
def test_the_calendar_feed_kind_sends_more_feeds_a_message_when_they_are_cheap():
    kind = get_kind("calendars.feed")
    assert kind.cheap_chunk_size > kind.chunk_size
    assert len(split_claim(kind, list(range(200)), frozenset(range(200)))) == 200 // (
        kind.cheap_chunk_size
    )


@pytest.mark.django_db
def test_a_chunk_that_runs_long_hands_its_rest_back(temporary_kind, monkeypatch):
    def slow(item, ctx):
        time.sleep(0.1)
        return SyncResult()

    temporary_kind(replace(costed(), name="tests.slow", sync=slow))
    monkeypatch.setattr(runs, "HAND_BACK_AFTER_SECONDS", 0.15)
    probes = make_probes(6, spread=timedelta(seconds=1))
    claim = claim_due_items(get_kind("tests.slow"), "5m", 10)
    report = run_claimed("tests.slow", claim.token, claim.pks)
    ran = list(SyncAttempt.objects.order_by("started_at").values_list("item_id", flat=True))
    # 0.1 s a sync: the third starts past 0.15 s, so two run (at least one always does).
    assert report.ran == len(ran) == 2
    assert ran == [p.pk for p in probes[:2]]
    assert set(report.settled) == {p.pk for p in probes}
    for probe in Probe.objects.exclude(pk__in=ran):
        assert probe.lease_token is None and probe.last_synced_at is None  # due again at once
    # The next claim takes them back.
    again = claim_due_items(get_kind("tests.slow"), "5m", 10)
    assert {p.pk for p in probes[2:]} <= set(again.pks)


@pytest.mark.django_db
def test_a_chunk_within_its_time_runs_every_item(temporary_kind):
    temporary_kind(costed())
    make_probes(5)
    claim = claim_due_items(get_kind("tests.costed"), "5m", 10)
    assert run_claimed("tests.costed", claim.token, claim.pks).ran == 5
