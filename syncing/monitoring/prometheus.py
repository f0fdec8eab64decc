"""/metrics in the Prometheus text format: a custom collector that reads the database
(items, freshness), the hourly rollups (attempts, durations) and the broker (queues) at
scrape time. Names and labels are documented in README (section "Metrics").

Access: ``Authorization: Bearer <settings.METRICS_TOKEN>``, or a client address within
``settings.METRICS_ALLOWED_IPS`` (addresses or networks; default loopback only). The
address is the client's as read through ``settings.TRUSTED_PROXIES`` (syncing.clientip); a
request forwarded by a proxy that is not in that list (X-Forwarded-For and the like from
an untrusted peer, e.g. a proxy on the same host, whose address is loopback) is never
allowed by address.
"""

from __future__ import annotations

import hmac
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from syncing.clientip import client_ip, is_unverified_forward
from syncing.monitoring.freshness import freshness_report
from syncing.monitoring.models import Alert
from syncing.monitoring.queues import queue_depths
from syncing.monitoring.rollups import hour_floor
from syncing.monitoring.stats import QUANTILES, merge_buckets, percentile_from_buckets
from syncing.monitoring.workers import live_workers
from syncing.webhooks.models import WebhookDelivery

PREFIX = "syncbeat"


def access(request: HttpRequest) -> int | None:
    """None when the request may read the metrics, else the status to answer (401/403)."""
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, given = header.partition(" ")
        if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
            return None
        return 403
    if not is_unverified_forward(request) and _address_allowed(client_ip(request)):
        return None
    return 401


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


class SyncbeatCollector:
    """Everything is read at scrape time; gauges, since the sources are windows."""

    def collect(self):
        now = timezone.now()
        yield from _freshness_metrics(now)
        yield from _attempt_metrics(now)
        yield from _queue_metrics()
        open_alerts = GaugeMetricFamily(
            f"{PREFIX}_alerts_open", "Open alerts per rule.", labels=["rule"]
        )
        counts: dict[str, int] = {}
        for key in Alert.objects.filter(resolved_at__isnull=True).values_list(
            "rule__key", flat=True
        ):
            counts[key] = counts.get(key, 0) + 1
        for key, n in sorted(counts.items()):
            open_alerts.add_metric([key], n)
        yield open_alerts
        pending = GaugeMetricFamily(
            f"{PREFIX}_webhook_deliveries_pending", "Webhook deliveries waiting to be sent."
        )
        pending.add_metric([], WebhookDelivery.objects.filter(status="pending").count())
        yield pending


def _freshness_metrics(now):
    labels = ["kind", "tier"]
    items = GaugeMetricFamily(
        f"{PREFIX}_items", "Items per kind, tier and state.", labels=[*labels, "state"]
    )
    rate = GaugeMetricFamily(
        f"{PREFIX}_on_time_ratio",
        "Share of not-paused items synced within interval + grace (0-1).",
        labels=labels,
    )
    stalest = GaugeMetricFamily(
        f"{PREFIX}_stalest_age_seconds",
        "Age of the stalest not-paused item's last success.",
        labels=labels,
    )
    for f in freshness_report(now):
        key = [f.kind, f.tier]
        items.add_metric([*key, "on_time"], f.on_time)
        items.add_metric([*key, "late"], f.late)
        items.add_metric([*key, "failing"], f.failing)
        items.add_metric([*key, "paused"], f.paused)
        if f.on_time_rate is not None:
            rate.add_metric(key, f.on_time_rate / 100)
        if f.stalest_age is not None:
            stalest.add_metric(key, f.stalest_age.total_seconds())
    yield from (items, rate, stalest)


def _attempt_metrics(now):
    from syncing.monitoring.models import AttemptRollup

    since = hour_floor(now) - timedelta(hours=1)
    labels = ["kind", "tier"]
    attempts = GaugeMetricFamily(
        f"{PREFIX}_attempts_last_hour",
        "Attempts in the current and previous clock hour (hourly rollups), by outcome and reason.",
        labels=[*labels, "outcome", "reason"],
    )
    duration = GaugeMetricFamily(
        f"{PREFIX}_attempt_duration_seconds",
        "Attempt duration quantiles over the current and previous clock hour (from rollup "
        "histograms, within one bucket = 25%).",
        labels=[*labels, "quantile"],
    )
    sums = {
        "bytes": GaugeMetricFamily(f"{PREFIX}_bytes_last_hour", "Bytes fetched.", labels=labels),
        "items_changed": GaugeMetricFamily(
            f"{PREFIX}_items_changed_last_hour", "Domain rows changed by syncs.", labels=labels
        ),
        "retries": GaugeMetricFamily(
            f"{PREFIX}_retries_last_hour", "Short retries inside attempts.", labels=labels
        ),
    }
    groups: dict[tuple, dict] = {}
    # The window spans two clock hours: one rollup row per hour for the same labels. Sum
    # them, so each series has exactly one sample (Prometheus keeps only one of two).
    counts: dict[tuple[str, str, str, str], int] = {}
    for r in AttemptRollup.objects.filter(hour__gte=since):
        labels_of = (r.kind, r.tier, r.outcome, r.reason)
        counts[labels_of] = counts.get(labels_of, 0) + r.count
        g = groups.setdefault(
            (r.kind, r.tier), {"b": [], "max": 0, "bytes": 0, "items_changed": 0, "retries": 0}
        )
        g["b"].append(r.duration_buckets)
        g["max"] = max(g["max"], r.duration_max_ms)
        for name in sums:
            g[name] += getattr(r, name)
    for labels_of, n in sorted(counts.items()):
        attempts.add_metric(list(labels_of), n)
    for key, g in sorted(groups.items()):
        merged = merge_buckets(g["b"])
        for q in QUANTILES:
            value = percentile_from_buckets(merged, q, g["max"])
            if value is not None:
                duration.add_metric([*key, str(q)], value / 1000)
        for name, family in sums.items():
            family.add_metric(list(key), g[name])
    yield from (attempts, duration, *sums.values())


def _queue_metrics():
    depth = GaugeMetricFamily(
        f"{PREFIX}_queue_depth", "Messages waiting per queue.", labels=["queue"]
    )
    oldest = GaugeMetricFamily(
        f"{PREFIX}_queue_oldest_age_seconds",
        "Age of the oldest waiting message per queue.",
        labels=["queue"],
    )
    for q in queue_depths():
        if q.depth is not None:
            depth.add_metric([q.queue], q.depth)
        if q.oldest_age_seconds is not None:
            oldest.add_metric([q.queue], q.oldest_age_seconds)
    yield from (depth, oldest)
    workers = live_workers()
    if workers is not None:
        family = GaugeMetricFamily(
            f"{PREFIX}_workers", "Live worker processes consuming each queue.", labels=["queue"]
        )
        per_queue: dict[str, int] = {}
        for worker in workers:
            for queue in worker.get("queues", []):
                per_queue[queue] = per_queue.get(queue, 0) + 1
        for queue, count in sorted(per_queue.items()):
            family.add_metric([queue], count)
        yield family


def metrics_response(request: HttpRequest) -> HttpResponse:
    refused = access(request)
    if refused is not None:
        response = HttpResponse("metrics: not allowed\n", status=refused, content_type="text/plain")
        if refused == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SyncbeatCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
