import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from syncing.models import SyncAttempt
from syncing.monitoring.alerts import ensure_default_rules, evaluate_rules
from syncing.monitoring.models import Alert, AlertRule
from tests.support.http import Reply, local_server

PROBE = "syncing.probe"


def only_rule(key):
    AlertRule.objects.all().delete()
    ensure_default_rules()
    AlertRule.objects.exclude(key=key).update(enabled=False)
    return AlertRule.objects.get(key=key)


def attempts(n, *, failed=0, minutes_ago=2, reason="http_5xx"):
    started = timezone.now() - timedelta(minutes=minutes_ago)
    rows = [
        SyncAttempt(
            kind=PROBE, item_id=i, tier="5m", started_at=started, outcome="ok", duration_ms=20
        )
        for i in range(n - failed)
    ]
    rows += [
        SyncAttempt(
            kind=PROBE,
            item_id=i,
            tier="5m",
            started_at=started,
            outcome="failed",
            reason=reason,
            duration_ms=20,
        )
        for i in range(failed)
    ]
    return SyncAttempt.objects.bulk_create(rows)


@pytest.mark.django_db
def test_default_rules_exist_with_the_seed_figures():
    AlertRule.objects.all().delete()
    assert ensure_default_rules() == 7
    assert ensure_default_rules() == 0
    rules = {r.key: r for r in AlertRule.objects.all()}
    assert rules["slow-sync"].threshold == 45
    assert rules["error-rate"].threshold == 5 and rules["error-rate"].window == timedelta(
        minutes=15
    )
    assert rules["queue-depth"].threshold == 1000
    assert rules["on-time-rate"].threshold == 99


@pytest.mark.django_db
def test_an_alert_opens_once_notifies_once_and_resolves(staff, alice, allow_private_urls):
    rule = only_rule("error-rate")
    posts = []
    with local_server({"/hook": lambda seen: posts.append(seen) or Reply(200, b"ok")}) as server:
        rule.webhook_url = server.url + "/hook"
        rule.save()
        failing = attempts(40, failed=10)

        report = evaluate_rules()

        assert len(report.opened) == 1
        alert = Alert.objects.get()
        assert alert.subject == PROBE and alert.is_open
        assert alert.value == pytest.approx(25.0)
        assert "25.0% of 40 syncs failed" in alert.message
        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["staff@example.com"]  # staff only, not alice
        assert "Error rate above 5%" in mail.outbox[0].subject
        assert json.loads(posts[0].body)["state"] == "open"

        # Still failing a minute later: the same alert, no second notice.
        report = evaluate_rules()
        assert report.opened == [] and report.resolved == []
        assert Alert.objects.count() == 1 and len(mail.outbox) == 1 and len(posts) == 1

        # The failures age out of the 15-minute window: the alert resolves itself, once.
        SyncAttempt.objects.filter(pk__in=[a.pk for a in failing if a.outcome == "failed"]).update(
            started_at=timezone.now() - timedelta(hours=1)
        )
        report = evaluate_rules()
        assert len(report.resolved) == 1
        alert.refresh_from_db()
        assert alert.resolved_at is not None
        assert len(mail.outbox) == 2 and mail.outbox[1].subject.startswith("[Syncbeat] Resolved")
        assert json.loads(posts[1].body)["state"] == "resolved"
        evaluate_rules()
        assert len(mail.outbox) == 2

    # It can fire again later: a new alert, notified again.
    attempts(40, failed=20)
    assert len(evaluate_rules().opened) == 1
    assert Alert.objects.count() == 2 and len(mail.outbox) == 3


@pytest.mark.django_db
def test_error_rate_stays_quiet_below_the_minimum_attempts(staff):
    only_rule("error-rate")
    attempts(5, failed=5)
    assert evaluate_rules().opened == []


@pytest.mark.django_db
def test_any_timeout_and_repeated_429_open_alerts(staff):
    only_rule("timeouts")
    AlertRule.objects.filter(key="provider-429").update(enabled=True)
    attempts(1, failed=1, reason="timeout")
    attempts(5, failed=5, reason="http_429")
    opened = {a.rule.key for a in evaluate_rules().opened}
    assert opened == {"timeouts", "provider-429"}


@pytest.mark.django_db
def test_on_time_rate_under_99_percent_opens_an_alert_per_kind_and_tier(staff):
    from syncing.models import Probe
    from tests.syncing.factories import make_probes

    only_rule("on-time-rate")
    probes = make_probes(10, tier="5m")
    Probe.objects.filter(pk__in=[p.pk for p in probes]).update(last_success_at=timezone.now())
    assert evaluate_rules().opened == []
    Probe.objects.filter(pk=probes[0].pk).update(
        last_success_at=timezone.now() - timedelta(hours=2)
    )
    alert = evaluate_rules().opened[0]
    assert alert.subject == "syncing.probe/5m"
    assert "90.0% on time" in alert.message


@pytest.mark.django_db
def test_a_disabled_rule_resolves_its_open_alerts(staff):
    rule = only_rule("timeouts")
    attempts(1, failed=1, reason="timeout")
    assert len(evaluate_rules().opened) == 1
    rule.enabled = False
    rule.save()
    assert len(evaluate_rules().resolved) == 1
