"""Owner scoping of every API operation, enumerated from the OpenAPI schema (issue 15).

The operations come from the schema /api/schema/ serves, not from a hand-kept list: a new
endpoint is covered the day it is added, and until its path is declared below the first
test fails and says which. For each operation:

- with a path parameter (a detail, an update, a delete, an action): Bob, another owner,
  sends it with Alice's object in the path and gets 404 (never 403, which would confirm the
  object exists), whatever the method; and nothing of Alice's changed (her whole API view
  of her objects is compared before and after);
- a list: Bob sees none of Alice's objects, also when he filters by her objects' ids;
- a create that names a parent object (a feed's listing): naming Alice's is refused and
  creates nothing.

Operations open to every user (the plan tiers, logging in and out) are declared as such.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from tests.calendars.test_api import build_alice_data
from tests.market.conftest import make_product, watch

METHODS = ("get", "post", "put", "patch", "delete")
MARK = "ALICE-SECRET"

# Path template -> the path parameters of Alice's object, from her world below.
OWNED_PATHS = {
    "/api/v1/alarms/{id}/": lambda w: {"id": w["alarm"].pk},
    "/api/v1/alarms/{id}/next/": lambda w: {"id": w["alarm"].pk},
    "/api/v1/briefings/{id}/": lambda w: {"id": w["briefing"].pk},
    "/api/v1/conflicts/{id}/": lambda w: {"id": w["conflict"].pk},
    "/api/v1/conflicts/{id}/dismiss/": lambda w: {"id": w["conflict"].pk},
    "/api/v1/events/{id}/": lambda w: {"id": w["events"][0].pk},
    "/api/v1/feeds/{id}/": lambda w: {"id": w["airbnb"].pk},
    "/api/v1/feeds/{id}/sync/": lambda w: {"id": w["airbnb"].pk},
    "/api/v1/listings/{id}/": lambda w: {"id": w["listing"].pk},
    "/api/v1/listings/{id}/regenerate-export-url/": lambda w: {"id": w["listing"].pk},
    "/api/v1/listings/{id}/sync/": lambda w: {"id": w["listing"].pk},
    "/api/v1/products/{sku}/": lambda w: {"sku": w["product"].sku},
    "/api/v1/products/{sku}/history/": lambda w: {"sku": w["product"].sku},
    "/api/v1/products/{sku}/sync/": lambda w: {"sku": w["product"].sku},
    "/api/v1/sync/attempts/{id}/": lambda w: {"id": w["attempt"].pk},
    "/api/v1/watches/{id}/": lambda w: {"id": w["watch"].pk},
    "/api/v1/webhooks/{id}/": lambda w: {"id": w["endpoint"].pk},
    "/api/v1/webhooks/{id}/rotate-secret/": lambda w: {"id": w["endpoint"].pk},
    "/api/v1/webhooks/{endpoint_pk}/deliveries/": lambda w: {"endpoint_pk": w["endpoint"].pk},
    "/api/v1/webhooks/{endpoint_pk}/deliveries/{id}/": lambda w: {
        "endpoint_pk": w["endpoint"].pk,
        "id": w["delivery"].pk,
    },
    "/api/v1/webhooks/{endpoint_pk}/deliveries/{id}/replay/": lambda w: {
        "endpoint_pk": w["endpoint"].pk,
        "id": w["delivery"].pk,
    },
}
# Not owned by anyone: every signed-in user may use them.
OPEN_TO_ALL = {
    ("post", "/api/v1/auth/login/"),
    ("post", "/api/v1/auth/logout/"),
    ("get", "/api/v1/sync/tiers/"),
    ("get", "/api/v1/sync/tiers/{id}/"),
}
# Staff only: another owner (not staff) is refused outright.
STAFF_ONLY = {
    ("get", "/api/v1/sync/freshness/"),
}
# List filters that name an object: Bob filtering by Alice's must still see nothing of hers.
FILTERS_BY_OBJECT = {
    "listing": lambda w: w["listing"].pk,
    "feed": lambda w: w["airbnb"].pk,
    "alarm": lambda w: w["alarm"].pk,
    "item_id": lambda w: w["attempt"].item_id,
    "sku": lambda w: w["product"].sku,
}
# Creates that name a parent object: the body Bob sends with Alice's.
CREATES_WITH_A_PARENT = {
    "/api/v1/feeds/": lambda w: {
        "listing": w["listing"].pk,
        "url": "https://www.airbnb.com/calendar/ical/999.ics",
    },
}
# Creates whose object is always the caller's own (nothing of another owner can be named).
CREATES_OF_ONES_OWN = {
    "/api/v1/alarms/",
    "/api/v1/listings/",
    "/api/v1/products/",  # a product is shared; creating one puts it on the caller's list
    "/api/v1/watches/",  # names a product by sku; products are not owned
    "/api/v1/webhooks/",
    "/api/v1/feeds/sync-all/",  # the caller's own feeds
}


def _operations() -> list[tuple[str, str, dict]]:
    schema = json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(None, public=True))
    )
    return [
        (method, path, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]


OPERATIONS = _operations()
WITH_PATH_PARAMS = [(m, p) for m, p, _ in OPERATIONS if "{" in p and (m, p) not in OPEN_TO_ALL]
LISTS = [
    (p, [q["name"] for q in op.get("parameters", []) if q["in"] == "query"])
    for m, p, op in OPERATIONS
    if m == "get" and "{" not in p and (m, p) not in OPEN_TO_ALL | STAFF_ONLY
]


def test_every_operation_is_declared():
    undeclared = [
        f"{m.upper()} {p}"
        for m, p, _ in OPERATIONS
        if (m, p) not in OPEN_TO_ALL | STAFF_ONLY
        and not ("{" in p and p in OWNED_PATHS)
        and not (m == "get" and "{" not in p)
        and not (m == "post" and (p in CREATES_WITH_A_PARENT or p in CREATES_OF_ONES_OWN))
    ]
    assert undeclared == [], "declare how these are owner-scoped in this file"
    assert len(WITH_PATH_PARAMS) >= 35 and len(LISTS) >= 10


@pytest.fixture
def alice_world(alice):
    """One of each of Alice's objects, each marked so a leak is visible in any response."""
    world = build_alice_data(alice)
    world["listing"].name = f"{MARK} listing"
    world["listing"].save(update_fields=["name"])
    world["product"] = make_product(f"{MARK}-SKU")
    world["watch"] = watch(alice, world["product"])
    Alarm, Briefing = apps.get_model("alarms", "Alarm"), apps.get_model("alarms", "Briefing")
    from tests.alarms.conftest import make_alarm

    world["alarm"] = make_alarm(alice, label=f"{MARK} alarm")
    assert isinstance(world["alarm"], Alarm)
    world["briefing"] = Briefing.objects.create(
        alarm=world["alarm"], ring_at=datetime(2031, 1, 1, 6, tzinfo=UTC), script=f"{MARK} news"
    )
    endpoint = apps.get_model("syncing", "WebhookEndpoint").objects.create(
        owner=alice, url="https://hooks.example.com/alice", description=f"{MARK} hook"
    )
    world["endpoint"] = endpoint
    world["delivery"] = apps.get_model("syncing", "WebhookDelivery").objects.create(
        endpoint=endpoint,
        event_type="conflict.opened",
        payload={"note": MARK},
        created_at=timezone.now() - timedelta(minutes=1),
    )
    world["attempt"] = apps.get_model("syncing", "SyncAttempt").objects.create(
        kind="calendars.feed",
        item_id=world["airbnb"].pk,
        owner=alice,
        started_at=timezone.now(),
        outcome="ok",
    )
    return world


def _every_row() -> dict:
    """Every row of the domain tables, whole: compared before and after Bob's request, so
    neither a change nor a new row (a sync queued, a secret rotated) goes unseen."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for app in ("calendars", "market", "alarms", "syncing")
        for model in apps.get_app_config(app).get_models()
    }


@pytest.mark.parametrize(
    ("method", "path"), WITH_PATH_PARAMS, ids=lambda v: v if v.startswith("/") else v.upper()
)
def test_another_owners_object_is_404_and_untouched(method, path, bob_api, alice_world):
    before = _every_row()
    url = path.format(**OWNED_PATHS[path](alice_world))
    body = {} if method == "get" else {"name": "pwned", "label": "pwned", "note": "pwned"}
    response = getattr(bob_api, method)(url, body, format=None if method == "get" else "json")
    assert response.status_code == 404, f"{method.upper()} {url} -> {response.status_code}"
    assert MARK not in response.content.decode()
    assert _every_row() == before


@pytest.mark.parametrize(("path", "query"), LISTS, ids=[p for p, _ in LISTS])
def test_lists_show_nothing_of_another_owner(path, query, bob_api, alice_world):
    filters = [{}] + [
        {name: FILTERS_BY_OBJECT[name](alice_world)} for name in query if name in FILTERS_BY_OBJECT
    ]
    for params in filters:
        response = bob_api.get(path, params)
        assert response.status_code in (200, 400), (path, params, response.status_code)
        text = response.content.decode()
        assert MARK not in text, (path, params)
        body = response.json()
        if isinstance(body, dict) and "results" in body:
            assert body["results"] == [], (path, params)


@pytest.mark.parametrize("path", sorted(CREATES_WITH_A_PARENT))
def test_creating_under_another_owners_object_is_refused(path, bob_api, alice_world):
    before = _every_row()
    response = bob_api.post(path, CREATES_WITH_A_PARENT[path](alice_world), format="json")
    assert response.status_code in (400, 404), response.status_code
    assert MARK not in response.content.decode()
    assert _every_row() == before


@pytest.mark.parametrize(
    ("method", "path"), sorted(STAFF_ONLY), ids=lambda v: v if v.startswith("/") else v.upper()
)
def test_staff_only_operations_refuse_an_owner(method, path, bob_api, alice_world):
    response = getattr(bob_api, method)(path)
    assert response.status_code == 403, response.status_code
    assert MARK not in response.content.decode()
