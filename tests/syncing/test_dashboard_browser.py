"""Staff log in with a real browser, open the sync dashboard and see the charts drawn."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from syncing.models import SyncAttempt
from syncing.monitoring.rollups import rollup_attempts

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the
# test body are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.django_db(transaction=True)
def test_staff_sees_the_dashboard_charts(live_server, staff):
    from playwright.sync_api import sync_playwright

    now = timezone.now()
    SyncAttempt.objects.bulk_create(
        SyncAttempt(
            kind="syncing.probe",
            item_id=h % 5,
            tier="5m",
            started_at=now - timedelta(hours=h),
            duration_ms=50 + 10 * h,
            outcome="failed" if h % 4 == 0 else "ok",
            reason="timeout" if h % 4 == 0 else "",
        )
        for h in range(0, 24 * 20)
    )
    rollup_attempts()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{live_server.url}/login/")
            page.fill("#id_username", staff.username)
            page.fill("#id_password", "correct horse battery staple")
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_load_state()
            page.goto(f"{live_server.url}/admin/syncing/dashboard/")
            assert "Sync dashboard" in page.title()

            charts = page.locator("svg.chart")
            assert charts.count() == 4
            # Lines with points (24 hours, 30 days) and stacked bars, really laid out.
            assert page.locator("#charts svg.chart").nth(0).locator("circle.point").count() >= 40
            assert page.locator("#charts svg.chart").nth(1).locator("rect.bar").count() >= 24
            box = charts.nth(0).bounding_box()
            assert box and box["width"] > 200 and box["height"] > 50
            first_point = page.locator("circle.point").first.bounding_box()
            assert first_point and first_point["width"] > 0
            assert page.locator("#freshness").inner_text().count("syncing.probe") == 3
        finally:
            browser.close()
