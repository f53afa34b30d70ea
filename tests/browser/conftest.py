"""Real-browser tests: Debian's Chromium (never a downloaded browser) driven by Playwright,
against pytest-django's live server and a real Celery worker over the small lake."""

import os
from pathlib import Path
from urllib.parse import urlencode

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "pw"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM}: `apt-get install chromium` to run these."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are
    # plain synchronous code all the same (the live server answers from its own thread).
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def portal(live_server, celery_worker, lake_settings, transactional_db) -> str:
    """The portal's base URL: live server and worker over the small lake."""
    return live_server.url


class Pages:
    """New browser pages of one test; JavaScript errors on any of them fail the test."""

    def __init__(self, browser):
        self.browser = browser
        self.contexts = []
        self.errors: list[str] = []

    def open(self, viewport=LAPTOP):
        context = self.browser.new_context(viewport=viewport, accept_downloads=True)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda err: self.errors.append(str(err)))
        return page

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser):
    opened = Pages(browser)
    yield opened
    opened.close()
    assert not opened.errors, f"JavaScript errors: {opened.errors}"


def log_in(page, base_url: str, username: str, next_path: str) -> None:
    """Through the real login form, as a person would."""
    page.goto(f"{base_url}/login/?{urlencode({'next': next_path})}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}")


def wait_for_tiles(page) -> None:
    """Until every tile and filter picker on the page has its data (or failed): no request of
    the page is still in flight when the test ends and the database is flushed."""
    page.wait_for_function(
        """() => {
          const tiles = [...document.querySelectorAll('[data-tile]')];
          const pickers = [...document.querySelectorAll('select[data-values-url]')];
          return tiles.length && tiles.every(t => ['done', 'failed'].includes(t.dataset.state))
            && pickers.every(p => p.dataset.loaded);
        }"""
    )
