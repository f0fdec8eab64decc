"""Every owner page at desktop (1280 px) and phone (390 px) width, in a real browser:
no sideways scrolling, tap targets of 44 px on the phone, axe-core finds no serious or
critical WCAG 2.1 AA problem, the current page is marked in the menu, and on a phone the menu
folds under "Menu".

SCREENSHOTS=1 saves every page at both widths under var/screenshots/ (tests/e2e/browser.py).
"""

from __future__ import annotations

import os

import pytest

from tests.e2e.browser import (
    axe_violations,
    chromium,
    new_page,
    screenshot,
    session_for,
    sideways_overflow,
    small_tap_targets,
)
from tests.e2e.seed import owner_pages, seed_account

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Which menu entry each page belongs to (aria-current="page" on it, on no other).
SECTION = {"dashboard": "Dashboard", "status": "Status", "tokens": "API tokens"}


def check_page(page, base: str, name: str, path: str, width: str) -> list[str]:
    problems = []
    response = page.goto(base + path)
    if response is None or response.status != 200:
        return [f"{name}: HTTP {response.status if response else '?'}"]
    if (extra := sideways_overflow(page)) > 0:
        problems.append(f"{name}@{width}: {extra} px of sideways scrolling")
    if width == "phone" and (small := small_tap_targets(page)):
        problems.append(f"{name}@{width}: tap targets under 44 px: {small}")
    for violation in axe_violations(page):
        problems.append(f"{name}@{width}: axe {violation}")
    if path not in ("/", "/login/"):
        current = page.locator("nav#site-menu a[aria-current=page]")
        texts = current.all_inner_texts() if current.count() else []
        wanted = SECTION.get(name) or next(
            (w for w in ("Calendars", "Alarms", "Market") if path.startswith(f"/{w.lower()}/")),
            None,
        )
        if [t.strip() for t in texts] != [wanted]:
            problems.append(f"{name}@{width}: menu marks {texts}, not [{wanted!r}]")
    screenshot(page, name, width)
    return problems


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_owner_page_fits_and_passes_axe(live_server, alice, width, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.ALARMS_TTS_ENGINE = "tone"  # no speech engine: the page says it is a chime
    seeded = seed_account(alice)
    pages = owner_pages(seeded)
    base = live_server.url
    problems = []
    with chromium() as browser:
        anonymous = new_page(browser, base, width=width)
        for name, path in (("home", "/"), ("login", "/login/")):
            problems += check_page(anonymous, base, name, path, width)
        page = new_page(browser, base, width=width, session=session_for(alice))
        for name, path in pages.items():
            problems += check_page(page, base, name, path, width)
        page.goto(base + "/alarms/")
        assert "no speech engine installed" in page.locator("#alarms-table").inner_text()
        # A form with errors: each error beside its field, in words, the field marked.
        page.goto(base + "/alarms/new/")
        page.fill("#id_time", "07:00")
        page.click("main form button[type=submit]")
        error = page.locator("#id_date_error")
        assert "needs a date" in error.inner_text()
        assert page.locator("#id_date").get_attribute("aria-invalid") == "true"
        problems += [f"alarm-form-errors@{width}: axe {v}" for v in axe_violations(page)]
        screenshot(page, "alarm-form-errors", width)
        if width == "phone":
            page.goto(base + "/dashboard/")
            menu = page.locator("nav#site-menu")
            assert not menu.is_visible()
            page.click("label[for=menu-toggle]")
            assert menu.is_visible() and page.locator("nav >> text=Market").is_visible()
            assert sideways_overflow(page) <= 0
            screenshot(page, "menu-open", width)
    assert not problems, "\n".join(problems)


def test_new_forms_start_in_the_browsers_time_zone(live_server, alice):
    with chromium() as browser:
        page = new_page(browser, live_server.url, session=session_for(alice))
        page.goto(live_server.url + "/alarms/new/")
        assert page.input_value("#id_timezone") == "Europe/Paris"
        # A checkbox sits beside its label, on the same line.
        box = page.locator("#id_active").bounding_box()
        label = page.locator("label[for=id_active]").bounding_box()
        assert label["x"] > box["x"] + box["width"] - 1
        assert abs((label["y"] + label["height"] / 2) - (box["y"] + box["height"] / 2)) < 8
        page.goto(live_server.url + "/calendars/listings/new/")
        assert page.input_value("#id_timezone") == "Europe/Paris"


def test_the_keyboard_gets_a_skip_link_and_a_visible_focus(live_server, alice):
    with chromium() as browser:
        page = new_page(browser, live_server.url, width="phone", session=session_for(alice))
        page.goto(live_server.url + "/calendars/")
        page.keyboard.press("Tab")
        skip = page.locator("a.skip")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        assert skip.bounding_box()["y"] >= 0  # shown when focused
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.keyboard.press("Tab")  # the first control of the page
        outline = page.evaluate(
            "(() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineStyle, s.outlineWidth]; })()"
        )
        assert outline[0] != "none" and outline[1] not in ("0px", "")
