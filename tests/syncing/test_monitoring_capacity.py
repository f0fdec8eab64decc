from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from syncing.models import SyncAttempt
from syncing.monitoring.capacity import estimate

PROBE = "syncing.probe"


def seed(n, duration_ms=200, failed=0):
    now = timezone.now()
    SyncAttempt.objects.bulk_create(
        SyncAttempt(
            kind=PROBE,
            item_id=i,
            tier="5m",
            started_at=now - timedelta(minutes=i % 600),
            duration_ms=duration_ms,
            outcome="failed" if i < failed else "ok",
            items_changed=1,
        )
        for i in range(n)
    )


def run(*args):
    out = StringIO()
    call_command("capacity", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_capacity_answers_from_measured_attempts():
    seed(100, duration_ms=200)
    text = run("--kind", PROBE, "--items", "100000", "--tier", "15m")
    # 100,000 / 900 s = 111.1 syncs/s; 111.1 x 0.2 s = 22.2 in flight.
    assert "111.1 syncs/s" in text
    assert "100 attempts" in text and "mean 200 ms" in text
    assert "Worker processes:" in text and "Broker:" in text and "Database:" in text
    result = estimate(PROBE, 100_000, "15m")
    assert result.in_flight == pytest.approx(22.2, abs=0.1)
    # Probes run on "default" (8 per process): 22.2 / 8 x 1.3 headroom -> 4 processes.
    assert result.processes == 4
    assert result.broker_messages_per_second == pytest.approx(
        111.1 / 100 + 1 / 60 + 1 / 60 + 1 / 360, abs=0.01
    )
    assert result.db_rows_per_second == pytest.approx(111.1 * 3, abs=1)


@pytest.mark.django_db
def test_failures_add_attempts():
    seed(100, failed=20)
    assert estimate(PROBE, 9000, "5m").attempts_per_second == pytest.approx(30 / 0.8)


@pytest.mark.django_db
def test_capacity_says_so_with_too_few_attempts():
    seed(12)
    text = run("--kind", PROBE, "--items", "1000", "--tier", "5m")
    assert "Cannot tell yet" in text and "Only 12 attempt(s)" in text and "at least 50" in text


@pytest.mark.django_db
def test_capacity_rejects_unknown_kinds_and_tiers():
    with pytest.raises(CommandError, match="unknown kind"):
        run("--kind", "nope.nothing", "--items", "1", "--tier", "5m")
    with pytest.raises(CommandError, match="not a tier"):
        run("--kind", PROBE, "--items", "1", "--tier", "often")


@pytest.mark.django_db
def test_broker_messages_count_cheap_chunks_for_the_attempts_answered_not_modified():
    # calendars.feed: 25 feeds a message, 100 a message of feeds expected to answer 304.
    now = timezone.now()
    SyncAttempt.objects.bulk_create(
        SyncAttempt(
            kind="calendars.feed",
            item_id=i,
            tier="5m",
            started_at=now - timedelta(minutes=i % 600),
            duration_ms=50,
            outcome="not_modified" if i % 5 else "ok",  # 80% answered 304
        )
        for i in range(200)
    )
    result = estimate("calendars.feed", 30_000, "5m")
    assert result.attempts_per_second == pytest.approx(100)  # 30,000 every 300 s, none failed
    # 80 of the 100 a second in messages of 100, 20 in messages of 25: 1.6 messages a second
    # (the old answer, all in messages of 25, was 4), plus one dispatch a run of each of the
    # five tiers: 5m every 30 s, the other four every minute.
    assert result.broker_messages_per_second == pytest.approx(80 / 100 + 20 / 25 + 1 / 30 + 4 / 60)
