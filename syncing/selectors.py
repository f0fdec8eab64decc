"""Reads for the engine's pages and API, always scoped to one owner."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Count, Q, QuerySet

from syncing.kinds import UnknownKind, all_kinds, get_kind
from syncing.models import Outcome, SyncAttempt
from syncing.monitoring.status import reason_in_words

# Domain apps add a dashboard section (``Domain.dashboard_section`` in their kinds.py,
# syncing.domains): callable(request) -> dict(title, template, context).
_dashboard_sections: list[tuple[str, Callable]] = []


def register_dashboard_section(name: str, section: Callable) -> None:
    _dashboard_sections[:] = [(n, s) for n, s in _dashboard_sections if n != name]
    _dashboard_sections.append((name, section))


def dashboard_sections(request) -> list[dict]:
    sections = []
    for _name, section in _dashboard_sections:
        data = section(request)
        if data:
            sections.append(data)
    return sections


def owner_attempts(user) -> QuerySet[SyncAttempt]:
    return SyncAttempt.objects.filter(owner=user).order_by("-started_at")


def item_names(attempts: list[SyncAttempt]) -> dict[tuple[str, int], str]:
    """(kind, item id) -> the item's name as its owner knows it (``display_name`` when the
    model has one, else str()); an item deleted since reads "a removed <verbose name>"."""
    wanted: dict[str, set[int]] = {}
    for attempt in attempts:
        wanted.setdefault(attempt.kind, set()).add(attempt.item_id)
    names = {}
    for kind_name, pks in wanted.items():
        try:
            model = get_kind(kind_name).model_class
        except UnknownKind:
            continue
        found = model.objects.in_bulk(pks)
        for pk in pks:
            item = found.get(pk)
            name = getattr(item, "display_name", None) or str(item) if item else ""
            names[(kind_name, pk)] = name or f"a removed {model._meta.verbose_name}"
    return names


def recent_attempts(user, limit: int = 15) -> list[SyncAttempt]:
    """The owner's latest attempts, each with ``item_name`` (see ``item_names``)."""
    attempts = list(owner_attempts(user)[:limit])
    names = item_names(attempts)
    for attempt in attempts:
        attempt.item_name = names.get((attempt.kind, attempt.item_id), attempt.kind)
        attempt.why = (
            reason_in_words(attempt.reason, attempt.message)
            if attempt.outcome == Outcome.FAILED
            else attempt.message
        )
    return attempts


def owner_health(user) -> list[dict]:
    """Per kind: how many of the items the owner sees are ok, failing, paused or waiting for
    their first sync; each item is counted once (one query a kind)."""
    rows = []
    for kind in all_kinds():
        model = kind.model_class
        # Aliases may not reuse field names ("paused"), hence the n_ prefix.
        counts = model.objects.filter(**{kind.seen_by_path: user}).aggregate(
            n_total=Count("pk", distinct=True),
            n_paused=Count("pk", filter=Q(paused=True), distinct=True),
            n_failing=Count(
                "pk", filter=Q(paused=False, consecutive_failures__gt=0), distinct=True
            ),
            n_never=Count(
                "pk",
                filter=Q(last_success_at__isnull=True, paused=False, consecutive_failures=0),
                distinct=True,
            ),
        )
        if counts["n_total"]:
            row = {name[2:]: value for name, value in counts.items()}
            rows.append({"kind": kind.name, "label": model._meta.verbose_name_plural, **row})
    return rows
