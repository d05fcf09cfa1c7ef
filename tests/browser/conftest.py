"""The browser tests' fixtures: Chromium through Playwright, and the served four-rifle ledger
(tests/browser/harness.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, Site, four_rifles, new_context


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with four_rifles(tmp_path_factory.mktemp("browser") / "custody.db") as served:
        yield served


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium (as .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must have Chromium: {reason}")
        pytest.skip(reason)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=30_000
    )
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    context = new_context(browser, site)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
