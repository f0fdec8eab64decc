"""An owner's account status in words: what is failing since when and why, what is
paused, and what the domain apps add (open conflicts...): ``Domain.status_source`` in their
kinds.py (syncing.domains).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from syncing.humane import lasting, plural
from syncing.kinds import Kind, all_kinds
from syncing.models import Outcome, SyncAttempt

MAX_LINES_PER_KIND = 50

REASON_WORDS = {
    "http_404": "the source answers 404 (not found)",
    "http_410": "the source answers 410 (gone for good)",
    "http_4xx": "the source refuses the request",
    "http_5xx": "the source's server has errors",
    "http_429": "the source says we ask too often (429)",
    "timeout": "the source does not answer in time",
    "deadline": "the source is too slow to answer",
    "connection": "the source cannot be reached",
    "too_large": "the answer is larger than we accept",
    "blocked_address": "the address is not allowed (private network)",
    "bad_url": "the address is not a valid URL",
    "too_many_redirects": "the source redirects too many times",
    "invalid_ics": "the channel sends something that is not a calendar",
    "rate_limited": "we are waiting for the source's rate limit",
}


@dataclass(frozen=True)
class StatusLine:
    level: str  # "bad", "warn", "ok"
    text: str
    kind: str = ""
    item_id: int | None = None
    paused: bool = False  # the page offers to resume it


# Domain apps add lines: callable(user) -> list[StatusLine | str].
_sources: dict[str, Callable] = {}


def register_status_source(name: str, source: Callable) -> None:
    """E.g. calendars registers its open conflicts: fn(user) -> [StatusLine(...)]."""
    _sources[name] = source


def reason_in_words(reason: str, message: str) -> str:
    return REASON_WORDS.get(reason) or message or reason or "of an unknown error"


def failing_since(kind: Kind, item) -> datetime | None:
    """Start of the current failure streak: first failure after the last success."""
    qs = SyncAttempt.objects.filter(kind=kind.name, item_id=item.pk, outcome=Outcome.FAILED)
    if item.last_success_at:
        qs = qs.filter(started_at__gt=item.last_success_at)
    return qs.order_by("started_at").values_list("started_at", flat=True).first()


def owner_status(user, now: datetime | None = None) -> dict:
    """{"kinds": [{"label", "total", "ok", "lines": [...]}], "extra": [...], "all_ok": bool}."""
    now = now or timezone.now()
    kinds, problems = [], 0
    for kind in all_kinds():
        qs = kind.model_class.objects.filter(**{kind.seen_by_path: user}).distinct()
        total = qs.count()
        if not total:
            continue
        label = kind.model_class._meta.verbose_name
        lines = []
        troubled = qs.filter(Q(consecutive_failures__gt=0) | Q(paused=True))
        for item in troubled.order_by("-paused", "-consecutive_failures")[:MAX_LINES_PER_KIND]:
            name = getattr(item, "display_name", None) or str(item)
            if item.paused:
                why = item.pause_reason or "paused"
                lines.append(
                    StatusLine(
                        "bad", f"{label} “{name}” is paused: {why}", kind.name, item.pk, True
                    )
                )
                continue
            last = (
                SyncAttempt.objects.filter(kind=kind.name, item_id=item.pk, outcome=Outcome.FAILED)
                .order_by("-started_at")
                .first()
            )
            since = failing_since(kind, item)
            why = reason_in_words(last.reason if last else "", item.last_error)
            when = f" {lasting(since, now)}" if since else ""
            lines.append(
                StatusLine(
                    "warn",
                    f"{label} “{name}” failing{when} because {why} "
                    f"({plural(item.consecutive_failures, 'failure')} in a row).",
                    kind.name,
                    item.pk,
                )
            )
        problems += len(lines)
        kinds.append(
            {
                "kind": kind.name,
                "label": kind.model_class._meta.verbose_name_plural,
                "total": total,
                "ok": total - troubled.count(),
                "lines": lines,
            }
        )
    extra = []
    for source in _sources.values():
        for line in source(user) or []:
            extra.append(line if isinstance(line, StatusLine) else StatusLine("warn", str(line)))
    problems += sum(1 for line in extra if line.level != "ok")
    return {"kinds": kinds, "extra": extra, "all_ok": problems == 0}
