"""Browser helpers for the owner-page tests: chromium via Playwright, axe-core (vendored
under tests/e2e/vendor/, no CDN), the sideways-scroll check and screenshots.

Screenshots: with ``SCREENSHOTS=1`` every page checked is saved, at each width, under
``var/screenshots/<name>-<width>.png`` (full page), for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
SCREENSHOT_DIR = ROOT / "var" / "screenshots"
PASSWORD = "correct horse battery staple"

# Desktop and phone (an iPhone 12-15 is 390 CSS pixels wide).
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}

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

AXE_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
  });
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5)
      .map(n => n.target.join(" ") + " :: " + n.failureSummary)}));
}"""


@contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, base_url: str, *, width: str = "desktop", session: str | None = None):
    """A page in a fresh context at ``width``, in Paris time, logged in with ``session``."""
    w, h = WIDTHS[width]
    context = browser.new_context(
        viewport={"width": w, "height": h}, timezone_id="Europe/Paris", locale="en-GB"
    )
    context.set_default_timeout(15_000)
    if session:
        context.add_cookies([{"name": "sessionid", "value": session, "url": base_url}])
    return context.new_page()


def session_for(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def sideways_overflow(page) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations (WCAG 2.1 A and AA, best practice)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN)


def screenshot(page, name: str, width: str) -> None:
    if os.environ.get("SCREENSHOTS", "") not in ("", "0"):
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / f"{name}-{WIDTHS[width][0]}.png"), full_page=True)


SMALL_TARGETS = """() => Array.from(document.querySelectorAll(
    "main button, main .button, main .act, main summary, main select, #site-menu a,"
    + " main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), label.menu-label"))
  .filter(e => e.offsetParent !== null)
  .map(e => [e.getBoundingClientRect().height, e.textContent.trim().slice(0, 30) || e.name])
  .filter(([h]) => h < 43.5)
  .map(([h, what]) => `${what} (${Math.round(h)} px)`)"""


def small_tap_targets(page) -> list[str]:
    """Buttons, action links, menu entries and fields under 44 CSS pixels high."""
    return page.evaluate(SMALL_TARGETS)
