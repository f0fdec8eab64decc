import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from syncing.kinds import Kind, TierSpec, get_kind
from syncing.models import Probe, SyncAttempt
from syncing.results import SyncResult, TransientSyncError
from syncing.services.claims import claim_due_items, claim_one
from syncing.services.runs import run_claimed
from syncing.services.schedule import next_due_after_success
from tests.syncing.factories import make_probes

PROBE = "syncing.probe"


def claim_and_run(pks=None, tier="5m"):
    kind = get_kind(PROBE)
    claim = claim_due_items(kind, tier, 1000)
    if pks is not None:
        assert sorted(claim.pks) == sorted(pks)
    return claim, run_claimed(PROBE, claim.token, claim.pks)


@pytest.mark.django_db
def test_a_successful_run_records_an_attempt_frees_the_lease_and_keeps_the_phase(alice):
    now = timezone.now()
    due = now - timedelta(seconds=30)
    probe = make_probes(1, due=due, owner=alice)[0]
    Probe.objects.filter(pk=probe.pk).update(last_synced_at=due - timedelta(minutes=5))

    claim, report = claim_and_run([probe.pk])

    probe.refresh_from_db()
    assert report.ran == 1
    assert probe.lease_token is None and probe.leased_until is None
    assert probe.consecutive_failures == 0
    assert probe.last_success_at is not None
    # previous due + interval, not now + interval: the period does not stretch.
    assert probe.next_sync_at == due + timedelta(minutes=5)
    attempt = SyncAttempt.objects.get(kind=PROBE, item_id=probe.pk)
    assert attempt.outcome == "ok"
    assert attempt.owner == alice
    assert attempt.tier == "5m"


@pytest.mark.django_db
def test_a_late_item_moves_forward_by_whole_intervals():
    now = timezone.now()
    due = now - timedelta(minutes=12)
    nxt = next_due_after_success(
        previous_due=due, interval=timedelta(minutes=5), now=now, first_sync=False
    )
    assert nxt == due + timedelta(minutes=15)
    assert nxt > now


def test_first_sync_gets_a_random_phase_within_the_interval():
    now = timezone.now()
    dues = {
        next_due_after_success(
            previous_due=now, interval=timedelta(hours=1), now=now, first_sync=True
        )
        for _ in range(50)
    }
    assert all(now <= d <= now + timedelta(hours=1) for d in dues)
    assert len(dues) > 40, "new items should be spread over the interval, not clumped"


@pytest.mark.django_db
def test_failures_back_off_with_jitter_and_pause_after_n(settings):
    settings.SYNC_PAUSE_AFTER_FAILURES = 3
    settings.SYNC_BACKOFF_BASE_SECONDS = 60
    probe = make_probes(1, mode=Probe.Mode.TRANSIENT)[0]
    delays = []
    for _ in range(3):
        Probe.objects.filter(pk=probe.pk).update(next_sync_at=timezone.now() - timedelta(seconds=1))
        before = timezone.now()
        claim_and_run([probe.pk])
        probe.refresh_from_db()
        delays.append((probe.next_sync_at - before).total_seconds())

    # Full jitter (syncing.backoff): anywhere up to 60 s, 120 s, 240 s.
    assert 0 <= delays[0] <= 62 and 0 <= delays[1] <= 122 and 0 <= delays[2] <= 242
    assert probe.consecutive_failures == 3
    assert probe.paused
    assert "3 failures in a row" in probe.pause_reason
    assert "Probe set to fail" in probe.pause_reason
    attempts = SyncAttempt.objects.filter(item_id=probe.pk, kind=PROBE)
    assert [a.outcome for a in attempts] == ["failed"] * 3
    assert {a.reason for a in attempts} == {"probe_transient"}
    # A paused item is never claimed again by dispatch.
    Probe.objects.filter(pk=probe.pk).update(next_sync_at=timezone.now() - timedelta(hours=1))
    assert claim_due_items(get_kind(PROBE), "5m", 10).pks == []


@pytest.mark.django_db
def test_success_after_failures_resets_the_count():
    probe = make_probes(1, mode=Probe.Mode.TRANSIENT)[0]
    claim_and_run([probe.pk])
    Probe.objects.filter(pk=probe.pk).update(
        mode=Probe.Mode.OK, next_sync_at=timezone.now() - timedelta(seconds=1)
    )
    claim_and_run([probe.pk])
    probe.refresh_from_db()
    assert probe.consecutive_failures == 0 and probe.last_error == ""


@pytest.mark.django_db
def test_a_stale_or_duplicate_message_is_dropped_and_says_so(caplog):
    probe = make_probes(1)[0]
    kind = get_kind(PROBE)
    first = claim_one(kind, probe.pk)
    run_claimed(PROBE, first.token, first.pks)
    # The same message delivered twice: the lease is gone, so nothing runs again.
    again = run_claimed(PROBE, first.token, first.pks)
    assert again.ran == 0 and again.stale == [probe.pk]
    assert "stale or duplicate" in caplog.text
    # A message from an older claim, after a newer claim: dropped too.
    newer = claim_one(kind, probe.pk)
    old = run_claimed(PROBE, uuid.uuid4(), [probe.pk])
    assert old.stale == [probe.pk]
    assert SyncAttempt.objects.filter(item_id=probe.pk).count() == 1
    assert run_claimed(PROBE, newer.token, newer.pks).ran == 1


@pytest.mark.django_db
def test_one_failing_item_never_fails_its_chunk(temporary_kind):
    def sync(item, ctx):
        if item.name == "boom":
            raise RuntimeError("a bug in a sync function")
        if item.name == "flaky":
            raise TransientSyncError(
                "http_503", "Service unavailable", http_status=503, retry_after=600
            )
        return SyncResult(items_changed=1)

    temporary_kind(
        Kind(
            name="tests.mixed",
            model="syncing.Probe",
            sync=sync,
            tiers=(TierSpec("5m", timedelta(minutes=5)),),
            default_tier="5m",
        )
    )
    probes = make_probes(3)
    Probe.objects.filter(pk=probes[0].pk).update(name="boom")
    Probe.objects.filter(pk=probes[1].pk).update(name="flaky")
    claim = claim_due_items(get_kind("tests.mixed"), "5m", 10)
    report = run_claimed("tests.mixed", claim.token, claim.pks)

    assert report.ran == 3
    by_item = {a.item_id: a for a in SyncAttempt.objects.filter(kind="tests.mixed")}
    assert by_item[probes[0].pk].outcome == "failed"
    assert by_item[probes[0].pk].reason == "error"
    assert "RuntimeError" in by_item[probes[0].pk].message
    assert by_item[probes[1].pk].http_status == 503
    assert by_item[probes[2].pk].outcome == "ok"
    flaky = Probe.objects.get(pk=probes[1].pk)
    # Retry-After (600 s) beats the first backoff step (60 s).
    assert flaky.next_sync_at >= timezone.now() + timedelta(seconds=590)


@pytest.mark.django_db
def test_a_sync_function_may_set_the_next_due_time_itself(temporary_kind):
    wanted = timezone.now() + timedelta(hours=7)
    temporary_kind(
        Kind(
            name="tests.own_due",
            model="syncing.Probe",
            sync=lambda item, ctx: SyncResult(next_sync_at=wanted),
            tiers=(TierSpec("5m", timedelta(minutes=5)),),
            default_tier="5m",
        )
    )
    probe = make_probes(1)[0]
    claim = claim_due_items(get_kind("tests.own_due"), "5m", 10)
    run_claimed("tests.own_due", claim.token, claim.pks)
    probe.refresh_from_db()
    assert probe.next_sync_at == wanted


@pytest.mark.django_db
def test_a_lost_lease_keeps_the_newer_claim_intact():
    probe = make_probes(1)[0]
    kind = get_kind(PROBE)
    first = claim_one(kind, probe.pk)
    # The lease expired and another dispatcher claimed the item meanwhile.
    Probe.objects.filter(pk=probe.pk).update(leased_until=timezone.now() - timedelta(seconds=1))
    second = claim_one(kind, probe.pk)
    report = run_claimed(PROBE, first.token, first.pks)
    assert report.stale == [probe.pk]
    probe.refresh_from_db()
    assert probe.lease_token == second.token


@pytest.mark.django_db
def test_validators_from_the_context_are_saved_on_success(temporary_kind):
    def sync(item, ctx):
        ctx.remember_validators(
            etag='"v2"', last_modified="Tue, 24 Nov 2026 04:00:00 GMT", content_hash="ab" * 32
        )
        return SyncResult()

    temporary_kind(
        Kind(
            name="tests.validators",
            model="syncing.Probe",
            sync=sync,
            tiers=(TierSpec("5m", timedelta(minutes=5)),),
            default_tier="5m",
        )
    )
    probe = make_probes(1)[0]
    claim = claim_due_items(get_kind("tests.validators"), "5m", 10)
    run_claimed("tests.validators", claim.token, claim.pks)
    probe.refresh_from_db()
    assert probe.etag == '"v2"' and probe.content_hash == "ab" * 32


@pytest.mark.django_db
def test_the_owner_is_told_in_words_when_an_item_is_paused(
    settings, alice, django_capture_on_commit_callbacks
):
    from django.core import mail

    settings.SYNC_PAUSE_AFTER_FAILURES = 1
    probe = make_probes(1, mode=Probe.Mode.PERMANENT, owner=alice)[0]
    with django_capture_on_commit_callbacks(execute=True):
        claim_and_run([probe.pk])
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert "paused" in message.subject and probe.name in message.subject
    assert "Probe set to fail (permanent)" in message.body


@pytest.mark.django_db
def test_at_the_soft_time_limit_finished_items_are_kept_and_the_rest_handed_back(temporary_kind):
    from celery.exceptions import SoftTimeLimitExceeded

    def sync(item, ctx):
        if item.name == "slow":
            raise SoftTimeLimitExceeded()
        return SyncResult()

    temporary_kind(
        Kind(
            name="tests.soft_limit",
            model="syncing.Probe",
            sync=sync,
            tiers=(TierSpec("5m", timedelta(minutes=5)),),
            default_tier="5m",
        )
    )
    first, slow, last = make_probes(3, spread=timedelta(seconds=1))
    Probe.objects.filter(pk=slow.pk).update(name="slow")
    claim = claim_due_items(get_kind("tests.soft_limit"), "5m", 10)
    assert claim.pks == [first.pk, slow.pk, last.pk]
    report = run_claimed("tests.soft_limit", claim.token, claim.pks)
    assert report.ran == 1
    assert list(SyncAttempt.objects.values_list("item_id", flat=True)) == [first.pk]
    for probe in Probe.objects.filter(pk__in=[slow.pk, last.pk]):
        assert probe.lease_token is None and probe.last_synced_at is None  # due again at once
