"""The dashboard in a real browser (docs/dashboard.md, "Browser tests"): Debian's Chromium driven by
Playwright, headless, against the app served by uvicorn on a free loopback port, over the four
rifles of tests/browser/harness.py. Each step saves a screenshot to test-artifacts/.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.harness import WIDTHS, Site, rows, shot, signed_in_page

# The journey: sign in, overview, the list by date, an item's timeline, a flag resolved -----------


def test_sign_in_overview_filter_by_date_item_timeline_and_resolve_a_flag(
    page: Page, site: Site
) -> None:
    page.goto("/ui/unaccounted")
    assert page.url.startswith(f"{site.url}/ui/login?next=")
    expect(page.locator("h1")).to_have_text("Sign in")
    shot(page, "journey-01-login")

    page.goto("/ui")
    page.fill("#token", site.token)
    page.click("#sign-in")

    expect(page).to_have_url(f"{site.url}/ui")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("#total-items")).to_have_text("4")
    expect(page.locator("#total-unaccounted")).to_have_text("3")
    expect(page.locator("#unaccounted-chart .bar")).to_have_count(12)
    expect(page.locator("#nav-overview")).to_have_attribute("aria-current", "page")
    shot(page, "journey-02-overview")

    page.click("#nav-unaccounted")
    expect(page.locator("#summary")).to_contain_text("3 items unaccounted for as of 2026-04-02")
    assert rows(page, "unaccounted-table") == ["A-1", "B-1", "C-1"]
    page.fill("#as_of", "2026-03-21")
    page.click("#show")

    expect(page).to_have_url(f"{site.url}/ui/unaccounted?as_of=2026-03-21")
    expect(page.locator("#summary")).to_contain_text("1 item unaccounted for as of 2026-03-21")
    assert rows(page, "unaccounted-table") == ["A-1"]
    expect(page.locator("#unaccounted-table")).to_contain_text("reported stolen")
    shot(page, "journey-03-unaccounted-as-of-2026-03-21")

    page.click("#unaccounted-table a.serial:text-is('A-1')")

    expect(page).to_have_url(f"{site.url}/ui/items/{site.items['A-1']}")
    expect(page.locator("#item-serial")).to_have_text("A-1")
    expect(page.locator("#item-status")).to_have_text("lost")
    expect(page.locator("#timeline-chart")).to_be_visible()
    expect(page.locator("#timeline-chart rect.span")).to_have_count(3)
    expect(page.locator("#timeline-chart .marker.loss")).to_have_count(1)
    assert rows(page, "intervals-table") == ["unit-1", "unit-2", "unit-2"]
    expect(page.locator("#intervals-table tbody tr").last).to_contain_text("now")
    kinds = page.locator("#entries-table tbody td:nth-child(2)").all_inner_texts()
    assert kinds == ["Issued", "Transferred", "Inspected", "ReportedLost"]
    shot(page, "journey-04-item-timeline")

    page.click("#nav-flags")
    b1 = page.locator("#flags-table tbody tr", has=page.locator("a.serial", has_text="B-1"))
    expect(b1).to_have_count(1)
    flag = (b1.get_attribute("id") or "").removeprefix("flag-")
    expect(page.locator("#summary")).to_have_text("3 open flags.")
    page.fill(f"#reason-{flag}", "presented late; verified in the armoury")
    shot(page, "journey-05-flag-resolution-form")
    page.locator(f"#resolve-{flag} button[type=submit]").click()

    expect(page).to_have_url(f"{site.url}/ui/flags?resolved={flag}")
    expect(page.locator("#message")).to_have_text(
        f"Flag {flag} resolved; the resolution is on the log."
    )
    expect(page.locator(f"#flag-{flag}")).to_have_count(0)  # no longer among the open flags
    expect(page.locator("#summary")).to_have_text("2 open flags.")
    page.select_option("#status", "resolved")
    page.click("#status-form button")
    expect(page.locator(f"#flag-{flag}")).to_contain_text(
        "Resolved by auditor on 2026-04-02 09:00 UTC: presented late; verified in the armoury"
    )
    shot(page, "journey-06-flag-resolved")

    page.click("#logout")
    expect(page).to_have_url(f"{site.url}/ui/login")
    page.goto("/ui/flags")
    assert page.url.startswith(f"{site.url}/ui/login?next=")


# Keyboard -----------------------------------------------------------------------------------------


def focused(page: Page) -> dict[str, str]:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {
                id: el.id, tag: el.tagName.toLowerCase(), text: el.innerText || "",
                href: el.getAttribute("href") || "", outline: style.outlineStyle,
                top: String(el.getBoundingClientRect().top),
            };
        }"""
    )


def test_the_keyboard_reaches_the_skip_link_first_then_the_token_and_the_button(
    page: Page, site: Site
) -> None:
    page.goto("/ui/login")

    page.keyboard.press("Tab")
    skip = focused(page)
    assert (skip["text"], skip["href"]) == ("Skip to main content", "#main")
    assert skip["outline"] == "solid" and float(skip["top"]) >= 0  # shown, with a visible focus
    shot(page, "keyboard-01-skip-link")

    order = []
    for _ in range(3):
        page.keyboard.press("Tab")
        now = focused(page)
        order.append(now["id"] or now["href"])
    assert order == ["/ui", "token", "sign-in"]  # the brand link, then the form's two controls

    page.keyboard.press("Shift+Tab")
    assert focused(page)["id"] == "token"
    page.keyboard.type(site.token)
    page.keyboard.press("Tab")
    assert focused(page)["outline"] == "solid"
    shot(page, "keyboard-02-sign-in-button")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{site.url}/ui")

    page.keyboard.press("Tab")
    assert focused(page)["href"] == "#main"
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"  # the skip link moves focus past the navigation
    page.keyboard.press("Tab")
    assert focused(page)["href"] == "/ui/unaccounted?show=all"  # the lede's first link in main


# Layout -------------------------------------------------------------------------------------------


def page_paths(site: Site) -> dict[str, str]:
    return {
        "overview": "/ui",
        "unaccounted": "/ui/unaccounted",
        "flags": "/ui/flags?status=all",
        "item": f"/ui/items/{site.items['A-1']}",
        "log": "/ui/log",
        "proof": "/ui/proof/3",
        "investigations": "/ui/investigations",
        "search": "/ui/search?q=A-*",
    }


@pytest.mark.parametrize(("width", "viewport"), WIDTHS)
def test_no_page_scrolls_sideways_at_tablet_and_desktop_widths(
    browser: Browser, site: Site, width: str, viewport: dict[str, int]
) -> None:
    with signed_in_page(browser, site, site.token, viewport=viewport) as page:
        wide = {}
        for name, path in page_paths(site).items():
            response = page.goto(path)
            assert response is not None and response.status == 200, path
            scroll, client = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            shot(page, f"{width}-{name}")
            if scroll > client:
                wide[path] = (scroll, client)
        assert wide == {}, f"pages wider than the {width} viewport (scrollWidth, clientWidth)"


# Without JavaScript ------------------------------------------------------------------------------


def test_the_pages_sign_in_and_read_without_javascript(browser: Browser, site: Site) -> None:
    with signed_in_page(browser, site, site.token, java_script_enabled=False) as page:
        expect(page.locator("h1")).to_have_text("Overview")
        expect(page.locator("#total-unaccounted")).to_have_text("3")
        expect(page.locator("#status-table tfoot")).to_contain_text("4")
        expect(page.locator("#months-table tbody tr")).to_have_count(12)
        shot(page, "nojs-01-overview")

        page.click("#nav-unaccounted")
        expect(page.locator("#summary")).to_contain_text("3 items unaccounted for")
        page.click("#unaccounted-table a.serial:text-is('C-1')")
        expect(page.locator("#item-serial")).to_have_text("C-1")
        expect(page.locator("#entries-table tbody")).to_contain_text("Sighted")
        expect(page.locator("#timeline-chart .marker")).to_have_count(1)
        expect(page.locator("#intervals-table tbody tr")).to_have_count(1)
        shot(page, "nojs-02-item")


# The API docs, offline ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "rendered"),
    [("/docs", "#swagger-ui .opblock-tag"), ("/redoc", "redoc h1")],
    ids=["swagger-ui", "redoc"],
)
def test_the_api_docs_render_with_every_other_origin_unreachable(
    context: BrowserContext, site: Site, path: str, rendered: str
) -> None:
    """Swagger UI and ReDoc come from a Python package and this app (api/docs.py), not a CDN: with
    every request to another origin refused, as on a closed network, the page still renders."""
    elsewhere: list[str] = []

    def only_this_site(route: Any) -> None:
        if route.request.url.startswith(site.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_site)
    page = context.new_page()

    page.goto(path)

    expect(page.locator(rendered).first).to_be_visible()
    shot(page, f"api-docs-{path.strip('/')}")
    assert elsewhere == []
