"""Reads for the engine's pages and API, always scoped to one owner."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Count, Q, QuerySet

from syncing.kinds import all_kinds
from syncing.models import SyncAttempt

# Domain apps add a dashboard section: callable(request) -> dict(title, template, context).
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


def owner_health(user) -> list[dict]:
    """Per kind: how many of the owner's items are ok, failing or paused (one query a kind)."""
    rows = []
    for kind in all_kinds():
        model = kind.model_class
        # Aliases may not reuse field names ("paused"), hence the n_ prefix.
        counts = model.objects.filter(**{kind.owner_path: user}).aggregate(
            n_total=Count("pk"),
            n_paused=Count("pk", filter=Q(paused=True)),
            n_failing=Count("pk", filter=Q(paused=False, consecutive_failures__gt=0)),
            n_never=Count("pk", filter=Q(last_success_at__isnull=True)),
        )
        if counts["n_total"]:
            row = {name[2:]: value for name, value in counts.items()}
            rows.append({"kind": kind.name, "label": model._meta.verbose_name_plural, **row})
    return rows
