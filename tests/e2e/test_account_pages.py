"""The account pages (sign-up, password reset and change, the 404 page) in a real browser at
desktop and phone width: no sideways scrolling, axe-core finds no serious or critical
problem; and a newcomer signs up from the home page and lands on their dashboard.

SCREENSHOTS=1 saves every page at both widths under var/screenshots/ (tests/e2e/browser.py).
"""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model

from syncing.models import Account, Plan
from tests.e2e.browser import (
    PASSWORD,
    axe_violations,
    chromium,
    new_page,
    screenshot,
    session_for,
    sideways_overflow,
)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PUBLIC = {
    "signup": ("/signup/", 200),
    "password-reset": ("/password-reset/", 200),
    "password-reset-sent": ("/password-reset/sent/", 200),
    "password-reset-bad-link": ("/password-reset/MQ/bad-token/", 200),
    "not-found": ("/no/such/page/", 404),
}
OWNER = {"password-change": ("/account/password/", 200), "not-found-owner": ("/nope/", 404)}


def problems_on(page, base: str, name: str, path: str, status: int, width: str) -> list[str]:
    response = page.goto(base + path)
    if response is None or response.status != status:
        return [f"{name}: HTTP {response.status if response else '?'}, not {status}"]
    found = []
    if (extra := sideways_overflow(page)) > 0:
        found.append(f"{name}@{width}: {extra} px of sideways scrolling")
    found += [f"{name}@{width}: axe {v}" for v in axe_violations(page)]
    screenshot(page, name, width)
    return found


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_account_pages_fit_and_pass_axe(live_server, alice, width):
    problems = []
    with chromium() as browser:
        page = new_page(browser, live_server.url, width=width)
        for name, (path, status) in PUBLIC.items():
            problems += problems_on(page, live_server.url, name, path, status, width)
        page = new_page(browser, live_server.url, width=width, session=session_for(alice))
        for name, (path, status) in OWNER.items():
            problems += problems_on(page, live_server.url, name, path, status, width)
    assert problems == []


def test_a_newcomer_signs_up_from_the_home_page(live_server):
    with chromium() as browser:
        page = new_page(browser, live_server.url, width="phone")
        page.goto(live_server.url + "/")
        page.click("text=Create an account")
        page.fill("#id_email", "dana@example.com")
        page.fill("#id_password1", "short")
        page.fill("#id_password2", "short")
        page.click("button[type=submit]")
        error = page.locator("#id_password1_error")
        assert "too short" in error.inner_text()
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/dashboard/")
        assert "dana@example.com" in page.locator(".who").inner_text()
    user = get_user_model().objects.get(username="dana@example.com")
    assert Account.objects.get(user=user).plan == Plan.FREE and not user.is_staff
