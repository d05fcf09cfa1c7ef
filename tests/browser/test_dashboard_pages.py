"""Issue 19 in a real browser: the dashboard answers an official's questions on one screen
(docs/dashboard.md, "What each page answers"). Every test runs at the tablet (768 px) and the
desktop (1280 px) width and saves a screenshot per step to test-artifacts/.

Over the four rifles (tests/browser/harness.py), served with a policy whose inspection interval
is 20 days, so that B-1, C-1 and D-1 (not verified since their issue on 03-01) are overdue on
04-02 and these findings are not on record yet; and over `custody demo`'s programme
(ledger/demo.py, 400 items as tests/test_demo.py builds it), whose diverted items must read as
diverted.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from playwright.sync_api import Browser, Page, expect

from ledger.application import Ledger
from ledger.operations import demo
from policies.config import PolicyConfig
from tests.browser.harness import WIDTHS, Site, four_rifles, rows, served, shot, signed_in_page
from tests.conftest import SIGNER
from tests.operations.test_demo import ITEMS, NOW
from tests.programme import ADMIN

POLICY = PolicyConfig(inspection_interval_days=20)
RAW_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")
SHOWN_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2} UTC)?$")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The four rifles under POLICY (the module's own; nothing in it writes)."""
    with four_rifles(tmp_path_factory.mktemp("pages") / "custody.db", POLICY) as served_site:
        yield served_site


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Site]:
    """The same, for a test that writes to it."""
    with four_rifles(tmp_path / "custody.db", POLICY) as served_site:
        yield served_site


@pytest.fixture(scope="module")
def demo_site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, demo.DemoProgramme]]:
    db = tmp_path_factory.mktemp("demo") / "custody.db"
    ledger = Ledger(clock=lambda: NOW, db=f"sqlite:///{db}", create_tables=True, signer=SIGNER)
    try:
        ledger.bootstrap()
        programme = demo.build(ledger, now=NOW, items=ITEMS)
        ledger.register_party(party_id="auditor", name="Auditor", kind="oversight", actor=ADMIN)
        token, _ = ledger.grant_token(party="auditor", role="oversight", actor=ADMIN)
        with served(ledger) as url:
            yield url, token, programme
    finally:
        ledger.close()


@pytest.fixture(params=WIDTHS, ids=[name for name, _ in WIDTHS])
def width(request: pytest.FixtureRequest) -> tuple[str, dict[str, int]]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def signed_in(browser: Browser, site: Site, width: tuple[str, dict[str, int]]) -> Iterator[Page]:
    with signed_in_page(browser, site, site.token, viewport=width[1]) as page:
        yield page


def summary_count(page: Page) -> int:
    return int(page.locator("#summary strong").inner_text())


# 1. The item page -------------------------------------------------------------------------------


def test_an_item_seen_with_an_unauthorized_party_reads_as_diverted_with_its_evidence(
    signed_in: Page, site: Site, width: tuple[str, dict[str, int]]
) -> None:
    page = signed_in

    page.goto(f"/ui/items/{site.items['C-1']}")

    expect(page.locator("#item-standing-label")).to_have_text("diverted")
    expect(page.locator("#item-standing")).to_contain_text("(critical)")
    expect(page.locator("#item-standing")).to_contain_text("seen with outsider")
    expect(page.locator("#item-status")).not_to_have_class(re.compile(r"status-in_custody$"))
    diversion = page.locator("li.finding", has_text="diversion")
    expect(diversion.locator("ul.evidence-entries li")).to_contain_text("Sighted")
    expect(diversion.locator(".clearing")).to_contain_text("independent party")
    expect(diversion.locator(".clearing")).to_contain_text("inspector, supplier, oversight")
    expect(diversion.locator(".flag-state")).to_contain_text("on record, open")
    shot(page, f"{width[0]}-item-diverted")


def test_each_item_reads_as_what_its_findings_say(
    signed_in: Page, site: Site, width: tuple[str, dict[str, int]]
) -> None:
    """A-1 stolen, B-1 not presented (both unaccounted for), D-1 overdue, under POLICY."""
    page = signed_in
    expected = {
        "A-1": ("unaccounted for", "critical"),
        "B-1": ("unaccounted for", "high"),
        "D-1": ("inspection overdue", "medium"),
    }

    found = {}
    for serial in expected:
        page.goto(f"/ui/items/{site.items[serial]}")
        label = page.locator("#item-standing-label").inner_text()
        severity = page.locator("#item-standing .severity-text").inner_text().strip("()")
        found[serial] = (label.lower(), severity)
        shot(page, f"{width[0]}-item-{serial}")

    assert found == expected
    page.goto(f"/ui/items/{site.items['D-1']}")
    expect(page.locator("li.finding", has_text="inspection overdue")).to_contain_text(
        "not on record yet"
    )


def test_the_timeline_marks_independent_inspections_and_self_reports_apart(
    browser: Browser,
    demo_site: tuple[str, str, demo.DemoProgramme],
    width: tuple[str, dict[str, int]],
) -> None:
    """The demo's delinquent unit self-reports its items verified; the inspectorate's inventories
    before it stopped are independent."""
    url, token, programme = demo_site
    with signed_in_page(browser, url, token, viewport=width[1]) as page:
        item = next(i for i in programme.items if _held_by(page, i, demo.DELINQUENT_UNIT))

        self_reports = page.locator("#timeline-chart .marker.inspection.self-reported")
        independent = page.locator("#timeline-chart .marker.inspection.independent")
        assert self_reports.count() > 0 and independent.count() > 0, item
        expect(self_reports.first.locator("title")).to_contain_text("self-reported")
        expect(independent.first.locator("title")).to_contain_text("independent inspection")
        expect(page.locator("#entries-table .badge-self").first).to_contain_text("self-reported")
        shot(page, f"{width[0]}-item-self-reported")


def _held_by(page: Page, item: UUID, holder: str) -> bool:
    page.goto(f"/ui/items/{item}")
    return page.locator("#item-holder").inner_text() == holder


def test_the_demos_diverted_items_read_as_diverted_with_the_brokers_custody_drawn_so(
    browser: Browser,
    demo_site: tuple[str, str, demo.DemoProgramme],
    width: tuple[str, dict[str, int]],
) -> None:
    url, token, programme = demo_site
    with signed_in_page(browser, url, token, viewport=width[1]) as page:
        assert programme.diverted
        for n, item in enumerate(programme.diverted):
            page.goto(f"/ui/items/{item}")

            expect(page.locator("#item-standing-label")).to_have_text("diverted")
            expect(page.locator("#timeline-chart rect.span-diverted")).to_have_count(1)
            expect(page.locator("#intervals-table")).to_contain_text("diverted")
            if n == 0:
                shot(page, f"{width[0]}-demo-diverted-item")


# 2. The unaccounted page ------------------------------------------------------------------------


def test_the_unaccounted_list_filters_by_recipient_and_reason_and_downloads_what_it_shows(
    signed_in: Page, width: tuple[str, dict[str, int]]
) -> None:
    page = signed_in
    page.goto("/ui/unaccounted")
    assert rows(page, "unaccounted-table") == ["A-1", "B-1", "C-1"]

    page.select_option("#recipient", "unit-3")
    page.click("#filter")

    expect(page.locator("#summary")).to_contain_text("1 item unaccounted for")
    assert rows(page, "unaccounted-table") == ["C-1"]
    page.select_option("#recipient", "unit-1")
    page.select_option("#items-shown", "all")
    page.select_option("#reason", "inspection_overdue")
    page.click("#filter")
    assert rows(page, "unaccounted-table") == ["D-1"]
    expect(page.locator("#unaccounted-table")).to_contain_text("inspection overdue")
    expect(page.locator("#unaccounted-table")).not_to_contain_text("diversion")
    shot(page, f"{width[0]}-unaccounted-filtered")

    with page.expect_download() as download:
        page.click("#csv-link")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["serial"], r["rule"]) for r in table] == [("D-1", "inspection_overdue")]
    assert download.value.suggested_filename == "unaccounted-2026-04-02.csv"


def test_every_figure_of_the_overview_links_to_a_list_of_that_many_items(
    signed_in: Page, width: tuple[str, dict[str, int]]
) -> None:
    page = signed_in
    page.goto("/ui")
    links = page.locator(
        "#total-items a, #total-unaccounted a, #status-table a, #rates-table td a:not(.rate)"
    )
    figures = [(a.inner_text(), a.get_attribute("href") or "") for a in links.all()]
    assert len(figures) == 2 + 4 * 2 + 3 * 4  # the lede, the table's row and foot, 3 recipients

    wrong = {}
    for figure, href in figures:
        page.goto(href)
        if summary_count(page) != int(figure):
            wrong[href] = (figure, summary_count(page))

    assert wrong == {}
    shot(page, f"{width[0]}-unaccounted-from-a-figure")


# 3. The flags page ------------------------------------------------------------------------------


def test_the_flags_page_is_paged_filtered_and_the_gravest_oldest_first(
    signed_in: Page, width: tuple[str, dict[str, int]]
) -> None:
    page = signed_in

    page.goto("/ui/flags?limit=2")

    expect(page.locator("#summary")).to_contain_text("6 open flags")
    expect(page.locator("nav.pager p")).to_have_text("1 to 2 of 6 flags.")
    first = page.locator("#flags-table tbody .severity").all_inner_texts()
    page.click("nav.pager a[rel=next]")
    expect(page.locator("nav.pager p")).to_have_text("3 to 4 of 6 flags.")
    second = page.locator("#flags-table tbody .severity").all_inner_texts()
    page.click("nav.pager a[rel=next]")
    expect(page.locator("nav.pager p")).to_have_text("5 to 6 of 6 flags.")
    expect(page.locator("nav.pager a[rel=next]")).to_have_count(0)
    second += page.locator("#flags-table tbody .severity").all_inner_texts()
    order = ["critical", "high", "medium", "low"]
    severities = first + second
    assert severities == sorted(severities, key=order.index)
    assert severities[0] == "critical"
    shot(page, f"{width[0]}-flags-page-2")

    page.select_option("#rule", "diversion")
    page.click("#show")

    expect(page).to_have_url(re.compile(r"rule=diversion"))
    assert rows(page, "flags-table") == ["diversion"]
    page.select_option("#rule", "")
    page.select_option("#recipient", "unit-1")
    page.click("#show")
    assert sorted(page.locator("#flags-table a.serial").all_inner_texts()) == ["A-1", "D-1"]
    page.select_option("#recipient", "")
    page.select_option("#severity", "medium")
    page.click("#show")
    assert rows(page, "flags-table") == ["inspection overdue"] * 3
    expect(page.locator("#unrecorded-count")).to_contain_text("3 of them are not on record yet")


def test_oversight_puts_the_filtered_findings_on_record_in_one_action(
    browser: Browser, fresh: Site, width: tuple[str, dict[str, int]]
) -> None:
    with signed_in_page(
        browser, fresh, fresh.token, "/ui/flags?rule=inspection_overdue", viewport=width[1]
    ) as page:
        expect(page.locator("#flags-table .badge-unrecorded")).to_have_count(3)
        shot(page, f"{width[0]}-flags-before-record")

        page.click("#record")

        expect(page.locator("#message")).to_have_text("3 new findings put on record as flags.")
        expect(page).to_have_url(re.compile(r"/ui/flags\?rule=inspection_overdue&scanned=3$"))
        expect(page.locator("#flags-table .badge-unrecorded")).to_have_count(0)
        expect(page.locator("#flags-table textarea")).to_have_count(3)  # now resolvable
        page.goto("/ui/flags?status=all")
        expect(page.locator("#flags-table .badge-unrecorded")).to_have_count(0)
        expect(page.locator("#record")).to_be_disabled()
        shot(page, f"{width[0]}-flags-recorded")


# 4. The overview --------------------------------------------------------------------------------


def test_the_overview_emphasises_rates_past_the_policy_thresholds(
    signed_in: Page, width: tuple[str, dict[str, int]]
) -> None:
    """unit-1: A-1 lost, D-1 overdue: accountability 50% and delinquency 100%, both alerts."""
    page = signed_in

    page.goto("/ui")

    cells = page.locator("#rates-table tbody tr")
    unit_1 = cells.filter(has_text="unit-1")
    expect(unit_1.locator("td.emph-alert")).to_have_count(2)
    expect(unit_1.locator("td.emph-alert .emph-word")).to_have_text(["alert", "alert"])
    expect(page.locator("#rates-help")).to_contain_text("delinquency above 10.0% a warning")
    shot(page, f"{width[0]}-overview-emphasis")


def test_the_overview_draws_one_small_chart_per_recipient_over_twelve_months(
    signed_in: Page, width: tuple[str, dict[str, int]]
) -> None:
    page = signed_in

    page.goto("/ui")

    charts = page.locator("#trend-charts li.trend")
    expect(charts).to_have_count(3)
    first = charts.first
    expect(first.locator("svg.trend-chart polyline")).to_have_count(2)
    title = first.locator("svg.trend-chart > title").text_content() or ""
    assert title.count(";") == 11  # twelve months, each said in words
    assert "Apr 2026 (to date) accountability 50.0%, delinquency 100.0%" in title
    first.locator("h3 a").click()
    expect(page.locator("#summary")).to_contain_text("1 item unaccounted for")
    shot(page, f"{width[0]}-overview-trends")


def test_since_the_last_visit_the_overview_lists_new_findings_losses_and_sightings(
    browser: Browser, fresh: Site, width: tuple[str, dict[str, int]]
) -> None:
    with signed_in_page(browser, fresh, fresh.token, viewport=width[1]) as page:
        expect(page.locator("#since-first")).to_contain_text("first visit")
        fresh.clock.advance(hours=2)
        at = fresh.clock() - timedelta(hours=1)
        d1, b1 = fresh.items["D-1"], fresh.items["B-1"]
        fresh.ledger.report_lost(d1, circumstances="stolen", occurred_at=at, actor=ADMIN)
        fresh.ledger.sight(
            b1,
            observer="investigator",
            location="depot",
            held_by="unit-2",
            occurred_at=at,
            actor=ADMIN,
        )

        page.reload()

        expect(page.locator("#since-mark")).to_contain_text("Since 2026-04-02 09:00 UTC")
        expect(page.locator("#new-losses-count")).to_have_text("1")
        expect(page.locator("#new-sightings-count")).to_have_text("1")
        expect(page.locator("#new-findings-count")).to_have_text("1")  # D-1's loss
        expect(page.locator("#new-findings-list")).to_contain_text("D-1")
        shot(page, f"{width[0]}-overview-since-last-visit")
        page.reload()  # the same visit: the panel stays
        expect(page.locator("#new-losses-count")).to_have_text("1")


# 5. Presentation --------------------------------------------------------------------------------

PAGES = ["/ui", "/ui/unaccounted?show=all", "/ui/flags?status=all", "/ui/investigations"]


def test_identifiers_never_break_and_every_time_is_written_the_same_way(
    signed_in: Page, site: Site, width: tuple[str, dict[str, int]]
) -> None:
    page = signed_in
    paths = [*PAGES, *(f"/ui/items/{i}" for i in site.items.values())]

    broken, raw, odd = {}, {}, {}
    for path in paths:
        page.goto(path)
        lines = page.evaluate(
            """() => [...document.querySelectorAll('main .serial, main .ident')]
                .filter(el => el.getClientRects().length > 0)
                .map(el => [el.innerText, new Set([...el.getClientRects()].map(r => r.top)).size])
            """
        )
        broken[path] = [text for text, tops in lines if tops > 1]
        raw[path] = RAW_TIME.findall(page.locator("main").inner_text())
        odd[path] = [
            t for t in page.locator("main time").all_inner_texts() if not SHOWN_TIME.match(t)
        ]

    assert {p: b for p, b in broken.items() if b} == {}
    assert {p: r for p, r in raw.items() if r} == {}
    assert {p: o for p, o in odd.items() if o} == {}


@pytest.mark.parametrize(
    ("who", "title"), [("oversight", "oversight dashboard"), ("partner", "partner dashboard")]
)
def test_the_page_title_names_the_signed_in_partys_role(
    browser: Browser, site: Site, who: str, title: str
) -> None:
    with signed_in_page(
        browser, site, site.token if who == "oversight" else site.partner_token
    ) as page:
        expect(page).to_have_title(re.compile(title))
        expect(page.locator("#dashboard-title")).to_have_text(title)
        if who == "partner":
            assert "oversight" not in page.title()
            expect(page.locator("header")).not_to_contain_text("oversight dashboard")
        shot(page, f"title-{who}")


def test_the_pages_keep_labels_scoped_headers_a_skip_link_and_tables_in_their_width(
    signed_in: Page, site: Site, width: tuple[str, dict[str, int]]
) -> None:
    page = signed_in
    paths = [*PAGES, f"/ui/items/{site.items['C-1']}", "/ui/log"]

    problems = {}
    for path in paths:
        page.goto(path)
        problems[path] = page.evaluate(
            """() => {
                const found = [];
                for (const el of document.querySelectorAll('input, select, textarea')) {
                    if (el.type !== 'hidden' && el.labels.length === 0) {
                        found.push('no label: ' + el.id);
                    }
                }
                for (const th of document.querySelectorAll('thead th')) {
                    if (!th.getAttribute('scope')) found.push('th without scope: ' + th.innerText);
                }
                if (!document.querySelector('a.skip-link[href="#main"]')) {
                    found.push('no skip link');
                }
                const root = document.documentElement;
                if (root.scrollWidth > root.clientWidth) found.push('page scrolls sideways');
                return found;
            }"""
        )
        shot(page, f"{width[0]}-a11y{path.replace('/', '-').split('?')[0]}")

    assert {p: f for p, f in problems.items() if f} == {}
