"""The API docs: operations grouped by part of the API, and pages that load nothing from
outside this site (checked in a real browser too)."""

from __future__ import annotations

import os
import re
import shutil
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from syncing.schema import api_tag

TAGS = ["auth", "sync", "calendars", "alarms", "market", "webhooks"]


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_every_operation_has_one_of_the_six_tags_in_order(schema):
    assert [tag["name"] for tag in schema["tags"]] == TAGS
    assert all(tag.get("description") for tag in schema["tags"])
    used = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert len(operation["tags"]) == 1 and operation["tags"][0] in TAGS, (path, method)
            used.setdefault(operation["tags"][0], set()).add(path)
    assert set(used) == set(TAGS)
    expected = {
        "/api/v1/auth/login/": "auth",
        "/api/v1/sync/tiers/": "sync",
        "/api/v1/sync/status/": "sync",
        "/api/v1/feeds/": "calendars",
        "/api/v1/conflicts/": "calendars",
        "/api/v1/briefings/": "alarms",
        "/api/v1/watches/": "market",
        "/api/v1/products/{sku}/history/": "market",
        "/api/v1/webhooks/{endpoint_pk}/deliveries/": "webhooks",
    }
    for path, tag in expected.items():
        assert path in used[tag], (path, tag)
    assert "v1" not in used


@pytest.mark.parametrize(
    ("module", "path", "tag"),
    [
        ("syncing.api", "/api/v1/auth/login/", "auth"),
        ("syncing.monitoring.api", "/api/v1/sync/status/", "sync"),
        ("syncing.webhooks.api", "/api/v1/webhooks/", "webhooks"),
        ("calendars.api", "/api/v1/feeds/", "calendars"),
        ("market.api", "/api/v1/watches/", "market"),
    ],
)
def test_api_tag(module, path, tag):
    assert api_tag(module, path) == tag


OUTSIDE = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/api/redoc/", "/api/docs/"])
def test_the_docs_pages_link_nothing_outside_this_site(client, page):
    html = client.get(page).content.decode()
    assert not OUTSIDE.search(html), OUTSIDE.search(html)
    assert "fonts.googleapis.com" not in html and "cdn.jsdelivr.net" not in html
    for asset in re.findall(r"""(?:src|href)="(/static/[^"]+)""", html):
        response = client.get(asset)
        assert response.status_code == 200, asset
        body = b"".join(response) if response.streaming else response.content
        assert b"fonts.googleapis.com" not in body, asset


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("docs", ["/api/redoc/", "/api/docs/"])
def test_the_docs_render_the_groups_without_a_request_outside(live_server, docs):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    from tests.e2e.test_browser import CHROMIUM_ARGS

    requests, blocked = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.on("requestfailed", lambda r: blocked.append((r.url, r.failure)))
        page.goto(f"{live_server.url}{docs}")
        # Each group's description, as ReDoc renders the tag sections.
        descriptions = [tag["description"] for tag in settings.SPECTACULAR_SETTINGS["TAGS"]]
        page.wait_for_function(
            "text => document.body.innerText.includes(text)", arg=descriptions[-1], timeout=20_000
        )
        text = page.locator("body").inner_text()
        browser.close()
    assert all(description in text for description in descriptions)
    local = urlsplit(live_server.url).netloc
    outside = [url for url in requests if urlsplit(url).netloc not in (local, "")]
    # ReDoc's logo (cdn.redoc.ly) is asked for, and stopped by the page's policy in the
    # browser: nothing leaves the machine.
    assert all((url, "csp") in blocked for url in outside), (outside, blocked)
    assert not [url for url in outside if "redoc.ly/redoc/logo" not in url], outside
