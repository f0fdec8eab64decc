"""An owner logs in with a real browser (Debian's chromium driven by Playwright)."""

import os
import shutil

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        yield page
        browser.close()


def test_an_owner_logs_in_and_sees_the_dashboard(live_server, alice, browser_page):
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice@example.com")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator("#health").is_visible()
    assert "alice@example.com" in page.locator(".who").inner_text()


def login(page, base_url):
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", "alice@example.com")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/dashboard/")


def test_an_owner_adds_a_listing_an_alarm_and_a_product(live_server, alice, browser_page):
    page, base = browser_page, live_server.url
    login(page, base)

    page.click("nav >> text=Calendars")
    page.click("text=Add a listing")
    page.fill("#id_name", "Lake house")
    page.fill("#id_timezone", "Europe/Paris")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/calendars/")
    assert "Lake house" in page.content()
    assert page.locator("input[value*='/calendars/'][value$='.ics']").count() == 1

    page.click("nav >> text=Alarms")
    page.click("text=New alarm")
    page.fill("#id_label", "Lake wake-up")
    page.fill("#id_time", "07:15")
    page.select_option("#id_timezone", "Europe/Paris")
    page.check("input[name=days][value='0']")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/alarms/")
    row = page.locator("tr", has_text="Lake wake-up")
    assert "07:15" in row.inner_text()
    assert "CET" in row.inner_text() or "CEST" in row.inner_text()

    page.click("nav >> text=Market")
    page.fill("#id_sku", "DD1391-100")
    page.click("text=Add to watchlist")
    page.wait_for_load_state()
    assert "DD1391-100" in page.content()
