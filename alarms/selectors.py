"""Reads for pages, the API and the admin; owner-scoped where an owner is involved."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncMinute

from alarms.models import Alarm, Briefing, BriefingStatus
from alarms.services.deadlines import FINAL_STATUSES

# /next/ still answers with a ring this long after it passed (the app asks at ring time).
NEXT_GRACE = timedelta(minutes=5)


def owner_alarms(user) -> QuerySet[Alarm]:
    return Alarm.objects.filter(owner=user).order_by("time", "pk")


def owner_briefings(user) -> QuerySet[Briefing]:
    return Briefing.objects.filter(alarm__owner=user).select_related("alarm")


def upcoming_briefing(alarm: Alarm, now: datetime) -> Briefing | None:
    """The briefing of the alarm's next ring (or of one that rang moments ago)."""
    return (
        Briefing.objects.filter(alarm=alarm, ring_at__gte=now - NEXT_GRACE)
        .order_by("ring_at")
        .first()
    )


def latest_playable(alarm: Alarm) -> Briefing | None:
    return alarm.briefings.filter(clip__isnull=False).order_by("-ring_at").first()


def latest_playable_by_alarm(alarms: list[Alarm]) -> dict[int, Briefing]:
    """The newest briefing with audio per alarm (one query)."""
    found: dict[int, Briefing] = {}
    rows = (
        Briefing.objects.filter(alarm__in=alarms, clip__isnull=False)
        .select_related("alarm")
        .order_by("alarm_id", "-ring_at")
    )
    for briefing in rows:
        found.setdefault(briefing.alarm_id, briefing)
    return found


def backlog_by_minute(now: datetime, horizon: timedelta = timedelta(hours=2)) -> list[dict]:
    """Active alarms ringing within ``horizon`` whose briefing is not final yet, per minute
    of ring time: [{"minute": datetime, "count": int}, ...]."""
    done = Briefing.objects.filter(
        alarm=OuterRef("pk"), ring_at=OuterRef("next_ring_at"), status__in=FINAL_STATUSES
    )
    return list(
        Alarm.objects.filter(active=True, next_ring_at__gte=now, next_ring_at__lt=now + horizon)
        .exclude(Exists(done))
        .annotate(minute=TruncMinute("next_ring_at"))
        .values("minute")
        .annotate(count=Count("pk"))
        .order_by("minute")
    )


def delivery_stats(now: datetime, window: timedelta = timedelta(hours=24)) -> dict:
    """Briefings of rings in the last ``window``: total, on time (ready), late, failed (an
    error at least once), fallback, and the on-time rate (None when there were none)."""
    stats = Briefing.objects.filter(ring_at__gt=now - window, ring_at__lte=now).aggregate(
        total=Count("pk"),
        ready=Count("pk", filter=Q(status=BriefingStatus.READY)),
        late=Count("pk", filter=Q(status=BriefingStatus.LATE)),
        fallback=Count("pk", filter=Q(status=BriefingStatus.FALLBACK)),
        failed=Count("pk", filter=Q(status=BriefingStatus.FAILED) | ~Q(error="")),
        pending=Count("pk", filter=Q(status=BriefingStatus.PENDING)),
    )
    stats["on_time_rate"] = stats["ready"] / stats["total"] if stats["total"] else None
    return stats


def next_briefing(alarm: Alarm, now: datetime) -> tuple[datetime | None, Briefing | None]:
    """(ring, briefing) the app should play next: a ring of the last few minutes if its
    briefing exists (the app asks at ring time), else the alarm's next ring and its
    briefing if generated (None before generation)."""
    recent = (
        Briefing.objects.filter(alarm=alarm, ring_at__gte=now - NEXT_GRACE, ring_at__lte=now)
        .order_by("-ring_at")
        .first()
    )
    if recent is not None:
        return recent.ring_at, recent
    if alarm.next_ring_at is None:
        return None, None
    return alarm.next_ring_at, Briefing.objects.filter(
        alarm=alarm, ring_at=alarm.next_ring_at
    ).first()
