"""Playwright for Python driving Debian's ``chromium`` (never a browser Playwright would
download): the browser, a person's page on it, and what the tests look for on the board.

Under ``CI=true`` a missing /usr/bin/chromium fails the run (``.ci/run`` installs it);
elsewhere the browser tests are skipped with the reason.
"""

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.api import PASSWORD
from tests.services import ROOT

CHROMIUM = Path(os.environ.get("QUORUM_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# Screenshots and other files a person may want to look at after the run (git ignores it).
ARTIFACTS = ROOT / "artifacts"
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}


def chromium_or_skip() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(message)


async def launch() -> AsyncIterator[Browser]:
    executable = chromium_or_skip()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Person:
    """Someone at their own browser (a context of their own: cookies, network)."""

    name: str
    email: str
    context: BrowserContext
    page: Page
    console: list[str] = field(default_factory=list)  # what the page logged (CSP reports too)

    async def register(self, base_url: str) -> None:
        page = self.page
        await page.goto(base_url + "/")
        await page.get_by_role("button", name="No account yet? Create one").click()
        await page.get_by_label("Email").fill(self.email)
        await page.get_by_label("Your name").fill(self.name)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Create account").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("My events")

    async def log_in(self, base_url: str) -> None:
        page = self.page
        await page.goto(base_url + "/")
        await page.get_by_label("Email").fill(self.email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("My events")

    def card(self, title: str):
        return self.page.locator("li.card", has=self.page.get_by_role("heading", name=title))

    async def live(self) -> None:
        await expect(self.page.locator(".connection")).to_have_attribute("data-state", "live")


async def person(browser: Browser, name: str, viewport: dict[str, int] = WIDE) -> Person:
    context = await browser.new_context(viewport=viewport, locale="en-US")
    page = await context.new_page()
    email = f"{name.lower()}-{uuid.uuid4().hex[:10]}@example.com"
    someone = Person(name, email, context, page)
    page.on("console", lambda message: someone.console.append(message.text))
    return someone


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the test (skipped with the reason, or failed under CI, when it
    is missing)."""
    async for launched in launch():
        yield launched


async def serious_violations(page: Page) -> list[str]:
    """axe-core's (bundled by axe-playwright-python, no network) serious and critical
    findings on the page as it is now."""
    results = await Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]
