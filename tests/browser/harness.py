"""What the browser tests share (docs/dashboard.md, "Browser tests"): the four-rifle ledger, the
app served by uvicorn on a free loopback port, Chromium's settings, the two widths, screenshots.

The ledger: four rifles under eua-1 issued on 2026-03-01. A-1 goes to unit-2 on 03-05, is
inspected (verified) on 03-08 and stolen on 03-20; B-1 is not presented at its inspection on
03-25; C-1 is seen on 03-22 with `outsider`, whom the agreement does not authorize; D-1 is fine.
The clock then reads 2026-04-02 09:00 UTC and oversight has put the findings on record as flags.

No browser is downloaded: Playwright starts /usr/bin/chromium (`apt-get install chromium`, which
.ci/run does). Without it the tests are skipped on a workstation and fail in CI (`CI` set).
Each step saves a screenshot to test-artifacts/ at the repository's root (git-ignored), a folder
the run creates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from playwright.sync_api import Browser, BrowserContext, Page, expect

from api.main import create_app
from api.ui.views import findings_now
from ledger.application import Ledger
from ledger.domain.access import Actor
from ledger.domain.tokens import Role
from policies.config import PolicyConfig
from policies.flags import raise_findings
from policies.following import follower_of
from tests import serving
from tests.conftest import SIGNER, Clock
from tests.programme import (
    ADMIN,
    APR_2,
    inspect_on,
    issue_rifles,
    mar,
    recorded,
    register,
    transfer_inspect_and_lose,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# As the machine notes say for Chromium as root on a closed network; Playwright adds a new, empty
# --user-data-dir itself (it refuses one in `args`).
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
TIMEOUT_MS = 20_000
# Playwright's `expect` waits 5 s by default, not the context's timeout: ReDoc's bundle alone took
# longer than that to render on a loaded 2-core machine. Assertions wait as long as actions do.
expect.set_options(timeout=TIMEOUT_MS)
TABLET = {"width": 768, "height": 1024}
DESKTOP = {"width": 1280, "height": 800}
WIDTHS = [("tablet", TABLET), ("desktop", DESKTOP)]
AUDITOR = Actor("auditor", Role.OVERSIGHT)


@dataclass(frozen=True)
class Site:
    url: str
    token: str  # oversight: may resolve flags
    items: dict[str, UUID]
    ledger: Ledger
    clock: Clock
    partner_token: str = ""  # unit-2's


def build(ledger: Ledger, clock: Clock) -> dict[str, UUID]:
    register(ledger)
    ledger.register_party(party_id="auditor", name="Auditor", kind="oversight", actor=ADMIN)
    recipients = {"A-1": "unit-1", "B-1": "unit-2", "C-1": "unit-3", "D-1": "unit-1"}
    items = issue_rifles(ledger, clock, recipients, day=1)
    transfer_inspect_and_lose(ledger, clock, items["A-1"])
    ledger.sight(
        items["C-1"],
        observer="investigator",
        location="market, north district",
        held_by="outsider",
        occurred_at=recorded(clock, mar(22)),
        actor=ADMIN,
    )
    inspect_on(ledger, clock, items["B-1"], day=25, result="not_presented")
    clock.now = APR_2
    follower_of(ledger, PolicyConfig()).catch_up()  # as the server's follower does after writes
    # The findings that POST /v1/flags/scan (and the flags page's button) put on record.
    assert raise_findings(ledger, findings_now(ledger, PolicyConfig(), APR_2), actor=AUDITOR) >= 3
    return items


@contextmanager
def served(ledger: Ledger, policy: PolicyConfig | None = None) -> Iterator[str]:
    """The app over `ledger` on a free loopback port, for the block: its base URL
    (tests/serving.py serves it)."""
    with serving.served(create_app(ledger, policy)) as url:
        yield url


@contextmanager
def four_rifles(db: Path, policy: PolicyConfig | None = None) -> Iterator[Site]:
    """The four rifles' ledger in a SQLite file, served, with an oversight and a partner token."""
    clock = Clock()
    ledger = Ledger(clock=clock, db=f"sqlite:///{db}", create_tables=True, signer=SIGNER)
    try:
        items = build(ledger, clock)
        token, _ = ledger.grant_token(party="auditor", role="oversight", actor=ADMIN)
        partner, _ = ledger.grant_token(party="unit-2", role="partner", actor=ADMIN)
        with served(ledger, policy) as url:
            yield Site(url, token, items, ledger, clock, partner)
    finally:
        ledger.close()


def new_context(browser: Browser, site: Site | str, **options: object) -> BrowserContext:
    options.setdefault("viewport", DESKTOP)
    url = site if isinstance(site, str) else site.url
    context = browser.new_context(base_url=url, **options)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    return context


@contextmanager
def signed_in_page(
    browser: Browser, site: Site | str, token: str, path: str = "/ui", **options: object
) -> Iterator[Page]:
    """A page in a new context (`new_context`'s options), signed in with `token` by way of
    `path`; the context closed after the block."""
    context = new_context(browser, site, **options)
    try:
        page = context.new_page()
        sign_in(page, token, path)
        yield page
    finally:
        context.close()


def shot(page: Page, step: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{step}.png", full_page=True)


def sign_in(page: Page, token: str, path: str = "/ui") -> None:
    page.goto(path)
    assert "/ui/login?next=" in page.url
    page.fill("#token", token)
    page.click("#sign-in")


def rows(page: Page, table: str) -> list[str]:
    """The serial (or first header cell) of each body row of a table."""
    return [" ".join(t.split()) for t in page.locator(f"#{table} tbody th").all_inner_texts()]
