"""Alert rules evaluated every minute: an alert opens once per (rule, subject), notifies
once (email to staff, Sentry when configured, the rule's webhook), and resolves itself
(with one "resolved" notice) when the condition clears.

A subject is what the condition is about: a kind ("calendars.feed"), a kind and tier
("calendars.feed/6h") or a queue ("queue:io").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from syncing.domains import domain_alert_rules
from syncing.kinds import all_kinds
from syncing.models import Outcome, SyncAttempt
from syncing.monitoring.defaults import DEFAULT_RULES
from syncing.monitoring.freshness import freshness_report
from syncing.monitoring.models import Alert, AlertRule
from syncing.monitoring.queues import queue_depths

logger = logging.getLogger("syncing.alerts")

DEFAULT_WINDOW = timedelta(minutes=15)
TIMEOUT_REASONS = ("timeout", "deadline")
Metric = AlertRule.Metric


@dataclass(frozen=True)
class Firing:
    subject: str
    value: float
    message: str


# Checks that domain apps add (syncing never imports them; they declare them in their
# kinds.py, ``Domain.alert_checks``): a rule whose metric is APP_CHECK is evaluated by the
# function registered under its key, fn(rule, now) -> Firings.
_app_checks: dict[str, Callable[[AlertRule, datetime], list[Firing]]] = {}


def register_app_check(rule_key: str, check: Callable[[AlertRule, datetime], list[Firing]]) -> None:
    """Evaluate the APP_CHECK rule ``rule_key`` with ``check`` (syncing.domains calls it)."""
    _app_checks[rule_key] = check


@dataclass
class EvaluationReport:
    opened: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)


def ensure_default_rules() -> int:
    """Create the default rules that are missing (by key), the engine's and those the
    domains declare; returns how many were created."""
    created = 0
    for spec in [*DEFAULT_RULES, *domain_alert_rules()]:
        _, was_created = AlertRule.objects.get_or_create(key=spec["key"], defaults=spec)
        created += was_created
    return created


def evaluate_rules(now: datetime | None = None) -> EvaluationReport:
    """Evaluate every rule, open new alerts, resolve cleared ones, notify each once."""
    now = now or timezone.now()
    report = EvaluationReport()
    for rule in AlertRule.objects.all():
        try:
            firing = {f.subject: f for f in evaluate_rule(rule, now)} if rule.enabled else {}
        except Exception:  # one broken rule (e.g. broker down) must not silence the others
            logger.exception("alert rule %s could not be evaluated", rule.key)
            continue
        open_alerts = {a.subject: a for a in rule.alerts.filter(resolved_at__isnull=True)}
        for subject, fire in firing.items():
            alert = open_alerts.get(subject)
            if alert is not None:
                Alert.objects.filter(pk=alert.pk).update(value=fire.value, message=fire.message)
                continue
            alert = _open(rule, fire, now)
            if alert is not None:
                report.opened.append(alert)
                notify(alert, resolved=False)
        for subject, alert in open_alerts.items():
            if subject in firing:
                continue
            if Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(resolved_at=now):
                alert.resolved_at = now
                report.resolved.append(alert)
                notify(alert, resolved=True)
    return report


def _open(rule: AlertRule, fire: Firing, now: datetime) -> Alert | None:
    try:
        with transaction.atomic():
            return Alert.objects.create(
                rule=rule,
                subject=fire.subject,
                value=fire.value,
                message=fire.message[:500],
                opened_at=now,
            )
    except IntegrityError:  # another evaluator opened it a moment ago
        return None


def evaluate_rule(rule: AlertRule, now: datetime) -> list[Firing]:
    """The subjects for which ``rule``'s condition holds now."""
    if rule.metric == Metric.APP_CHECK:
        check = _app_checks.get(rule.key)
        return list(check(rule, now)) if check else []
    evaluator = _EVALUATORS.get(rule.metric)
    return evaluator(rule, now) if evaluator else []


def _attempts(rule: AlertRule, now: datetime):
    """The attempts of the rule's window (and kind, when it names one)."""
    since = now - (rule.window or DEFAULT_WINDOW)
    attempts = SyncAttempt.objects.filter(started_at__gte=since, started_at__lte=now).order_by()
    if rule.kind:
        attempts = attempts.filter(kind=rule.kind)
    return attempts


def _window_words(rule: AlertRule) -> str:
    return _words(rule.window or DEFAULT_WINDOW)


def _slow_syncs(rule: AlertRule, now: datetime) -> list[Firing]:
    window = _window_words(rule)
    rows = (
        _attempts(rule, now)
        .filter(duration_ms__gt=rule.threshold * 1000)
        .values("kind")
        .annotate(n=Count("pk"), slowest=Max("duration_ms"))
    )
    return [
        Firing(
            r["kind"],
            r["slowest"] / 1000,
            f"{r['kind']}: {r['n']} sync(s) slower than {rule.threshold:g} s in the last "
            f"{window}, the slowest {r['slowest'] / 1000:.1f} s",
        )
        for r in rows
    ]


def _error_rate(rule: AlertRule, now: datetime) -> list[Firing]:
    window = _window_words(rule)
    rows = (
        _attempts(rule, now)
        .values("kind")
        .annotate(n=Count("pk"), failed=Count("pk", filter=Q(outcome=Outcome.FAILED)))
    )
    out = []
    for r in rows:
        rate = 100.0 * r["failed"] / r["n"]
        if r["n"] >= rule.min_attempts and rate > rule.threshold:
            out.append(
                Firing(
                    r["kind"],
                    rate,
                    f"{r['kind']}: {rate:.1f}% of {r['n']} syncs failed in the "
                    f"last {window} (threshold {rule.threshold:g}%)",
                )
            )
    return out


def _timeouts(rule: AlertRule, now: datetime) -> list[Firing]:
    """Timeouts fire above the threshold (0: any timeout)."""
    matching = _attempts(rule, now).filter(reason__in=TIMEOUT_REASONS)
    return _counted(rule, matching, "timed out", lambda n: n > rule.threshold)


def _rate_limited(rule: AlertRule, now: datetime) -> list[Firing]:
    """429s fire from the threshold on (5: the fifth 429 of the window)."""
    matching = _attempts(rule, now).filter(reason="http_429")
    return _counted(rule, matching, "were answered 429", lambda n: n >= rule.threshold)


def _counted(rule: AlertRule, matching, what: str, fires: Callable[[int], bool]) -> list[Firing]:
    window = _window_words(rule)
    rows = matching.values("kind").annotate(n=Count("pk"))
    return [
        Firing(r["kind"], r["n"], f"{r['kind']}: {r['n']} sync(s) {what} in the last {window}")
        for r in rows
        if fires(r["n"])
    ]


def _queue_depth(rule: AlertRule, now: datetime) -> list[Firing]:
    return [
        Firing(
            f"queue:{q.queue}",
            q.depth,
            f"queue {q.queue}: {q.depth} messages waiting (threshold {rule.threshold:g})",
        )
        for q in queue_depths()
        if q.depth is not None and q.depth > rule.threshold
    ]


def _on_time_rate(rule: AlertRule, now: datetime) -> list[Firing]:
    out = []
    for f in freshness_report(now, kind=rule.kind or None):
        rate = f.on_time_rate
        if rate is not None and rate < rule.threshold:
            out.append(
                Firing(
                    f"{f.kind}/{f.tier}",
                    rate,
                    f"{f.kind}/{f.tier}: {rate:.1f}% on time ({f.late} of "
                    f"{f.items} {f.unit} late, stalest {_words(f.stalest_age)})",
                )
            )
    return out


def _overdue(rule: AlertRule, now: datetime) -> list[Firing]:
    cut = now - timedelta(seconds=rule.threshold)
    out = []
    for kind in all_kinds():
        if rule.kind and kind.name != rule.kind:
            continue
        n = kind.model_class.objects.filter(paused=False, next_sync_at__lt=cut).count()
        if n:
            out.append(
                Firing(
                    kind.name,
                    n,
                    f"{kind.name}: {n} item(s) due more than "
                    f"{rule.threshold:g} s ago and not synced yet",
                )
            )
    return out


# One evaluator per metric (APP_CHECK goes to the check its domain registered).
_EVALUATORS: dict[str, Callable[[AlertRule, datetime], list[Firing]]] = {
    Metric.SLOW_SYNC: _slow_syncs,
    Metric.ERROR_RATE: _error_rate,
    Metric.TIMEOUTS: _timeouts,
    Metric.RATE_LIMITED: _rate_limited,
    Metric.QUEUE_DEPTH: _queue_depth,
    Metric.ON_TIME_RATE: _on_time_rate,
    Metric.OVERDUE: _overdue,
}


def _words(delta: timedelta | None) -> str:
    if delta is None:
        return "n/a"
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def notify(alert: Alert, *, resolved: bool) -> bool:
    """Send the opening (or resolution) notice of ``alert`` unless it was already sent."""
    now = timezone.now()
    stamp = "resolved_notified_at" if resolved else "notified_at"
    claimed = Alert.objects.filter(pk=alert.pk, **{f"{stamp}__isnull": True}).update(**{stamp: now})
    if not claimed:
        return False
    rule = alert.rule
    state = "Resolved" if resolved else "Alert"
    subject = f"[Syncbeat] {state}: {rule.name} ({alert.subject})"
    body = f"{alert.message}\n\nOpened at {alert.opened_at:%Y-%m-%d %H:%M:%S} UTC."
    if resolved:
        body += f"\nResolved at {alert.resolved_at:%Y-%m-%d %H:%M:%S} UTC."
    body += f"\n\nDashboard: {settings.SITE_URL}/admin/syncing/dashboard/"
    log = logger.info if resolved else logger.warning
    log("%s: %s", subject, alert.message)
    if rule.notify_email:
        recipients = list(
            get_user_model()
            .objects.filter(is_staff=True, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
        if recipients:
            send_mail(subject, body, None, recipients, fail_silently=True)
    if not resolved:
        _to_sentry(subject)
    url = rule.webhook_url or settings.ALERT_WEBHOOK_URL
    if url:
        _to_webhook(url, alert, resolved)
    return True


def _to_sentry(message: str) -> None:
    try:
        import sentry_sdk
    except ImportError:
        return
    if sentry_sdk.get_client().is_active():
        sentry_sdk.capture_message(message, level="warning")


def _to_webhook(url: str, alert: Alert, resolved: bool) -> None:
    from syncing.fetcher import FetchError, fetch

    payload = {
        "rule": alert.rule.key,
        "name": alert.rule.name,
        "subject": alert.subject,
        "message": alert.message,
        "value": alert.value,
        "state": "resolved" if resolved else "open",
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "text": f"{'Resolved' if resolved else 'Alert'}: {alert.message}",
    }
    try:
        fetch(url, "POST", json=payload, retries=1, deadline=10, max_bytes=65536)
    except FetchError as exc:
        logger.warning("alert webhook %s failed: %s", exc.url or "?", exc.reason)
