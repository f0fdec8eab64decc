"""Where a domain plugs into the engine: one declaration per domain app.

Each domain app describes itself once, in ``<app>/kinds.py``, and registers that
declaration in its ``AppConfig.ready()``::

    # calendars/kinds.py
    FEED_KIND = "calendars.feed"
    DOMAIN = Domain(
        app="calendars",
        kinds=(Kind(name=FEED_KIND, model="calendars.Feed", ...),),
        demo_seeder="calendars.demo.seed",
        dashboard_section="calendars.selectors.dashboard_section",
        status_source="calendars.selectors.status_lines",
        periodic_tasks=(PeriodicTask("calendars: ...", "calendars.some_task", 86400, 3600),),
    )

    # calendars/apps.py
    def ready(self):
        from calendars.kinds import DOMAIN
        from syncing.domains import register_domain

        register_domain(DOMAIN)

Everything the engine learns about a domain comes from here: its kinds (model, sync
function, queue, tiers, plans, adaptive polling policy...), its demo seeder, its section of
the owner dashboard, its lines on the status page, its fixed periodic tasks, its default
alert rules and the checks of its own alert rules. Callables are dotted paths, imported when
the declaration is registered, so ``<app>/kinds.py`` imports nothing of its own app and
any module of the app may import its kind names from it.

The engine never imports a domain: it only reads what was registered here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import import_string

from syncing.kinds import Kind, register


@dataclass(frozen=True)
class PeriodicTask:
    """A fixed periodic task, created once on migrate (staff edits survive deploys)."""

    name: str
    task: str
    every: int  # seconds
    expires: int  # seconds
    queue: str = "default"


@dataclass(frozen=True)
class Domain:
    """What one domain app tells the engine about itself."""

    app: str
    kinds: tuple[Kind, ...]
    # seeder(owner) -> int: creates a few items of the app's kinds for ``manage.py demo``;
    # idempotent.
    demo_seeder: str | None = None
    # section(request) -> dict(title, template, context) | None: the app's part of the
    # owner's dashboard.
    dashboard_section: str | None = None
    # source(user) -> list[StatusLine | str]: what the app adds to the owner's status page
    # (open double bookings...).
    status_source: str | None = None
    periodic_tasks: tuple[PeriodicTask, ...] = ()
    # Default alert rules (AlertRule fields; created by alerts.ensure_default_rules when
    # missing, by key). Staff edit the rows afterwards.
    alert_rules: tuple[dict[str, Any], ...] = ()
    # Rule key -> check(rule, now) -> [Firing]: evaluates the app's rules of metric
    # "app_check" (syncing.monitoring.alerts).
    alert_checks: dict[str, str] = field(default_factory=dict)


_domains: dict[str, Domain] = {}


def register_domain(domain: Domain) -> Domain:
    """Register ``domain`` and everything it declares (from ``AppConfig.ready()``);
    registering the same app again replaces it."""
    from syncing.demo import register_seeder
    from syncing.monitoring.alerts import register_app_check
    from syncing.monitoring.schedule import register_periodic
    from syncing.monitoring.status import register_status_source
    from syncing.selectors import register_dashboard_section

    for kind in domain.kinds:
        register(kind)
    if domain.demo_seeder:
        register_seeder(domain.app, import_string(domain.demo_seeder))
    if domain.dashboard_section:
        register_dashboard_section(domain.app, import_string(domain.dashboard_section))
    if domain.status_source:
        register_status_source(domain.app, import_string(domain.status_source))
    for task in domain.periodic_tasks:
        register_periodic(task.name, task.task, task.every, task.expires, task.queue)
    for rule_key, check in domain.alert_checks.items():
        register_app_check(rule_key, import_string(check))
    _domains[domain.app] = domain
    return domain


def all_domains() -> list[Domain]:
    """The registered domains, in the order their apps were registered."""
    return list(_domains.values())


def domain_alert_rules() -> list[dict[str, Any]]:
    """The default alert rules the domains declare, in registration order."""
    return [dict(rule) for domain in _domains.values() for rule in domain.alert_rules]
