"""Each domain plugs into the engine through one declaration (its kinds.py), registered in
its AppConfig.ready(): the engine learns everything about a domain from there."""

from __future__ import annotations

from alarms.kinds import ALARM_KIND
from alarms.kinds import DOMAIN as ALARMS
from calendars.kinds import DOMAIN as CALENDARS
from market.kinds import DOMAIN as MARKET
from syncing.demo import seeders
from syncing.domains import all_domains, domain_alert_rules
from syncing.kinds import all_kinds, get_kind
from syncing.monitoring.defaults import DEFAULT_RULES
from syncing.monitoring.schedule import PERIODIC


def test_every_domain_is_registered_once_with_its_kinds():
    assert [d.app for d in all_domains()] == ["calendars", "alarms", "market"]  # INSTALLED_APPS
    for domain in (CALENDARS, ALARMS, MARKET):
        for kind in domain.kinds:
            assert get_kind(kind.name) is kind
    domain_kinds = {k.name for d in all_domains() for k in d.kinds}
    assert {k.name for k in all_kinds()} - domain_kinds == {"syncing.probe"}


def test_what_a_domain_declares_reaches_the_engine():
    assert [name for name, _ in seeders()] == ["calendars", "alarms", "market"]
    periodic = {entry[0]: entry for entry in PERIODIC}
    for domain in all_domains():
        for task in domain.periodic_tasks:
            assert periodic[task.name] == (
                task.name,
                task.task,
                task.every,
                task.expires,
                task.queue,
            )


def test_the_engine_names_no_domain_in_its_default_rules():
    assert all("kind" not in rule for rule in DEFAULT_RULES)
    late = next(r for r in domain_alert_rules() if r["key"] == "briefing-late")
    assert late["kind"] == ALARM_KIND and late["metric"] == "overdue"
