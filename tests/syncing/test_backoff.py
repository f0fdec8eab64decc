"""One retry policy for the engine (syncing.backoff): exponential, capped, full jitter,
with Retry-After as a floor; items, the fetcher and webhook deliveries all use it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from syncing import backoff
from syncing.fetcher import fetch
from syncing.kinds import Kind, TierSpec, get_kind
from syncing.models import Probe, SyncAttempt
from syncing.services.claims import claim_due_items
from syncing.services.runs import run_claimed
from tests.support.http import Reply, local_server
from tests.syncing.factories import make_probes


def test_full_jitter_spreads_over_the_whole_window_up_to_the_cap(settings):
    settings.SYNC_BACKOFF_BASE_SECONDS = 60
    settings.SYNC_BACKOFF_CAP_SECONDS = 3600
    for failures, ceiling in ((1, 60), (2, 120), (4, 480), (20, 3600)):
        waits = [backoff.reschedule_delay(failures).total_seconds() for _ in range(300)]
        assert all(0 <= w <= ceiling for w in waits)
        assert min(waits) < ceiling * 0.2 and max(waits) > ceiling * 0.8


def test_retry_after_is_a_floor_and_the_cap_still_holds(settings):
    settings.SYNC_BACKOFF_BASE_SECONDS = 60
    settings.SYNC_BACKOFF_CAP_SECONDS = 3600
    assert all(
        backoff.reschedule_delay(1, retry_after=900).total_seconds() >= 900 for _ in range(100)
    )
    assert backoff.reschedule_delay(1, retry_after=10**9) == timedelta(seconds=3600)


def test_the_fetchers_and_webhooks_waits_come_from_the_same_policy():
    short = [backoff.short_retry_delay(0) for _ in range(300)]
    assert all(0 <= w <= 0.5 for w in short) and max(short) - min(short) > 0.3
    hooks = [backoff.webhook_retry_delay(2).total_seconds() for _ in range(300)]
    assert all(0 <= w <= 60 for w in hooks) and max(hooks) - min(hooks) > 30


@pytest.mark.django_db
def test_three_items_failing_together_are_rescheduled_apart(settings):
    settings.SYNC_BACKOFF_BASE_SECONDS = 60
    probes = make_probes(3, mode=Probe.Mode.TRANSIENT)
    before = timezone.now()
    claim = claim_due_items(get_kind("syncing.probe"), "5m", 10)
    assert run_claimed("syncing.probe", claim.token, claim.pks).ran == 3
    dues = sorted(
        Probe.objects.filter(pk__in=[p.pk for p in probes]).values_list("next_sync_at", flat=True)
    )
    assert all(before <= d <= before + timedelta(seconds=61) for d in dues)
    gaps = [(b - a).total_seconds() for a, b in zip(dues, dues[1:], strict=False)]
    # Without jitter they were 0.3 ms apart; with full jitter over 60 s, seconds apart.
    assert max(dues) - min(dues) > timedelta(seconds=1), gaps


@pytest.mark.django_db
def test_a_servers_retry_after_is_honoured_as_the_floor_of_the_reschedule(settings, temporary_kind):
    """A 429 with Retry-After: 900 (beyond the fetcher's short retries) reschedules the item
    at least 900 s later, whatever the jitter drew."""
    settings.SYNC_BACKOFF_BASE_SECONDS = 60

    with local_server(
        {"/feed": Reply(429, b"slow down", headers={"Retry-After": "900"})}
    ) as server:

        def sync(item, ctx):
            fetch(server.url + "/feed", allow_loopback=True, rate_key=f"test-{item.pk}")

        temporary_kind(
            Kind(
                name="tests.retry_after",
                model="syncing.Probe",
                sync=sync,
                tiers=(TierSpec("5m", timedelta(minutes=5)),),
                default_tier="5m",
            )
        )
        probes = make_probes(3)
        before = timezone.now()
        claim = claim_due_items(get_kind("tests.retry_after"), "5m", 10)
        run_claimed("tests.retry_after", claim.token, claim.pks)
    for probe in Probe.objects.filter(pk__in=[p.pk for p in probes]):
        assert probe.consecutive_failures == 1
        assert probe.next_sync_at >= before + timedelta(seconds=900)
    assert set(SyncAttempt.objects.values_list("reason", flat=True)) == {"http_429"}
