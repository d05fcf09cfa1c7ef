"""Paging everywhere (issue 18, item 3; docs/api.md, "Paging"): every list answer takes `limit`
and `cursor` and answers `next`; walked a page at a time it gives what one big page gives, in the
same order, nothing lost or doubled, also while another thread writes; `next` is null on the last
page; a limit out of bounds or an edited cursor is 422."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from ledger.application.ledger import Ledger
from ledger.domain.items import LossCircumstances
from ledger.domain.paging import MAX_LIMIT
from ledger.integrity import merkle
from ledger.verification.evidence import dump_bundle
from policies.config import PolicyConfig
from policies.engine import Scope, unaccounted_report
from policies.export import report_csv
from tests.programme import ADMIN, ago, conclude_agreement, issue, record_sighting

AS_OF = "2030-01-01T00:00:00Z"


@dataclass(frozen=True)
class Listing:
    path: str
    params: dict[str, str]
    field: str
    key: str


@pytest.fixture
def programme(api_ledger: Ledger) -> dict[str, Any]:
    """Items of unit-1 (some lost; two of one serial by two makers), one item with a long history,
    sightings, traces, tokens: every list has more than one row."""
    items = [issue(api_ledger, f"PG-{n:04d}", days_ago=40 - n) for n in range(7)]
    for lost in items[:3]:
        api_ledger.report_lost(
            lost,
            circumstances=LossCircumstances.STOLEN.value,
            occurred_at=ago(api_ledger, days=2),
            actor=ADMIN,
        )
    issue(api_ledger, "PG-0001", days_ago=30, manufacturer="Other maker")  # a twin serial
    conclude_agreement(api_ledger, "eua-2", "Programme Two", ["force"])
    moved = issue(api_ledger, "MV-0001", days_ago=30, recipient="unit-3")
    for n in range(6):
        to = "unit-2" if n % 2 == 0 else "unit-3"
        api_ledger.transfer(moved, to=to, occurred_at=ago(api_ledger, days=20 - n), actor=ADMIN)
    for n in range(3):
        record_sighting(api_ledger, f"ZZ-{n:04d}", ago(api_ledger, days=1), location=f"market {n}")
        api_ledger.request_trace(
            addressee="unit-1", question="where is it?", answer_days=28, item=items[n], actor=ADMIN
        )
        api_ledger.grant_token(party="unit-2", role="partner", actor=ADMIN)
    return {"items": items, "moved": moved, "size": api_ledger.log_store.log_size()}


def listings(programme: dict[str, Any]) -> list[Listing]:
    moved = programme["moved"]
    holder = {"holder": "unit-1", "at": "2029-01-01T00:00:00Z"}
    return [
        Listing(f"/v1/items/{moved}/history", {}, "entries", "log_index"),
        Listing(f"/v1/items/{moved}/evidence/entries", {}, "entries", "log_index"),
        Listing(
            "/v1/log/entries", {"start": "0", "end": str(programme["size"])}, "entries", "log_index"
        ),
        Listing("/v1/tokens", {}, "tokens", "token_id"),
        Listing("/v1/parties", {}, "parties", "id"),
        Listing("/v1/agreements", {}, "agreements", "id"),
        Listing("/v1/custody", holder, "items", "item_id"),
        Listing("/v1/reports/unaccounted", {"as_of": AS_OF}, "unaccounted", "item_id"),
        Listing("/v1/flags", {"status": "all", "as_of": AS_OF}, "flags", "flag_id"),
        Listing("/v1/sightings", {"status": "all"}, "sightings", "sighting_id"),
        Listing("/v1/traces", {}, "traces", "trace_id"),
        Listing("/v1/items", {"serial": "PG-0001"}, "items", "item_id"),
        Listing("/v1/items/search", {"q": "PG*"}, "items", "item_id"),
    ]


def walk(
    client: TestClient, listing: Listing, limit: int, between: Callable[[], None] = lambda: None
) -> Iterator[dict[str, Any]]:
    """Every page of the listing, `limit` a page, following `next` until it is null; `between`
    runs before each next page is asked for."""
    params: dict[str, Any] = listing.params | {"limit": limit}
    while True:
        response = client.get(listing.path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        yield page
        if page["next"] is None:
            return
        between()
        params["cursor"] = page["next"]


def keys(pages: Iterator[dict[str, Any]], listing: Listing) -> list[Any]:
    return [row[listing.key] for page in pages for row in page[listing.field]]


def test_every_list_walked_two_at_a_time_gives_what_one_page_gives(
    client: TestClient, programme: dict[str, Any]
) -> None:
    for listing in listings(programme):
        (whole,) = list(walk(client, listing, MAX_LIMIT))

        paged = keys(walk(client, listing, 2), listing)

        reference = [row[listing.key] for row in whole[listing.field]]
        assert paged == reference, listing.path
        assert len(set(map(str, paged))) == len(paged), listing.path


def test_every_list_has_more_than_one_page_at_limit_one_and_a_null_next_at_the_end(
    client: TestClient, programme: dict[str, Any]
) -> None:
    for listing in listings(programme):
        pages = list(walk(client, listing, 1))

        assert pages[-1]["next"] is None, listing.path
        assert all(len(p[listing.field]) <= 1 for p in pages), listing.path
        if len(keys(iter(pages), listing)) > 1:
            assert pages[0]["next"] is not None, listing.path


@pytest.mark.parametrize("limit", ["0", "-1", str(MAX_LIMIT + 1), "ten"])
def test_a_limit_out_of_bounds_is_422_on_every_list(
    client: TestClient, programme: dict[str, Any], limit: str
) -> None:
    """The schema's bound (api/schemas.py, `Limit`: 1 to 1000)."""
    for listing in listings(programme):
        response = client.get(listing.path, params=listing.params | {"limit": limit})

        assert response.status_code == 422, listing.path
        assert response.json()["error"]["code"] == "invalid_input"
        assert "limit" in response.json()["error"]["message"], listing.path


def _flipped(cursor: str) -> str:
    """The cursor with one bit of its third byte flipped, still canonical base64url."""
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[2] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_an_edited_cursor_is_422_with_a_clear_message_on_every_list(
    client: TestClient, programme: dict[str, Any]
) -> None:
    """ledger/domain/paging.py's check of 12 bytes of SHA-256 catches the edit."""
    for listing in listings(programme):
        first = client.get(listing.path, params=listing.params | {"limit": 1}).json()
        edited = _flipped(first["next"])

        response = client.get(listing.path, params=listing.params | {"cursor": edited})

        assert response.status_code == 422, listing.path
        error = response.json()["error"]
        assert error["code"] == "invalid_input"
        assert error["message"].startswith(f"cursor {edited[:80]!r} is not one this ")


def test_a_cursor_of_another_list_or_another_item_is_422(
    api_ledger: Ledger, client: TestClient, programme: dict[str, Any]
) -> None:
    """The listing and the question (here: the item) are in the checked payload."""
    moved, other = programme["moved"], programme["items"][0]
    history = client.get(f"/v1/items/{moved}/history", params={"limit": 1}).json()["next"]

    elsewhere = client.get(f"/v1/items/{other}/history", params={"cursor": history})
    tokens = client.get("/v1/tokens", params={"cursor": history})

    assert (elsewhere.status_code, tokens.status_code) == (422, 422)
    assert (
        elsewhere.json()["error"]["message"]
        == f"cursor {history[:80]!r} is not one this history gave"
    )
    assert (
        tokens.json()["error"]["message"]
        == f"cursor {history[:80]!r} is not one this token list gave"
    )


def test_the_evidence_entries_pages_are_the_bundles_entries_and_their_proofs_check(
    api_ledger: Ledger, client: TestClient, programme: dict[str, Any]
) -> None:
    moved = programme["moved"]
    pages = list(walk(client, Listing(f"/v1/items/{moved}/evidence/entries", {}, "", ""), 3))
    bundle = api_ledger.evidence(moved)

    entries = [e for p in pages for e in p["entries"]]
    assert {p["checkpoint"] for p in pages} == {bundle["checkpoint"]}
    assert entries == bundle["entries"]
    size = pages[0]["size"]
    for e in entries:
        leaf = merkle.leaf_hash(base64.b64decode(e["entry"]))
        proof = [base64.b64decode(h) for h in e["inclusion_proof"]]
        merkle.verify_inclusion(leaf, e["log_index"], size, proof, api_ledger.tlog.root(size))


def test_the_evidence_bundle_streams_the_same_bytes_it_always_had(
    api_ledger: Ledger, client: TestClient, programme: dict[str, Any]
) -> None:
    moved = programme["moved"]

    response = client.get(f"/v1/items/{moved}/evidence")

    assert response.status_code == 200
    assert response.content == dump_bundle(api_ledger.evidence(moved))


def test_the_csv_report_streams_the_same_rows_as_the_whole_report(
    api_ledger: Ledger, client: TestClient, programme: dict[str, Any]
) -> None:
    response = client.get(
        "/v1/reports/unaccounted", params={"as_of": AS_OF}, headers={"Accept": "text/csv"}
    )

    report = unaccounted_report(api_ledger, Scope(datetime(2030, 1, 1, tzinfo=UTC)), PolicyConfig())
    assert response.status_code == 200
    assert response.text == report_csv(report)
    assert response.text.count("\n") == 1 + 3  # the header and one reason per lost item


# Stable under concurrent writes ------------------------------------------------------------------


class Writer(threading.Thread):
    """Writes while the test pages: items issued to unit-1 (their serials fall before and after
    any cursor), transfers of one item (its history grows), tokens and parties."""

    def __init__(self, ledger: Ledger, moved: UUID) -> None:
        super().__init__(daemon=True)
        self.ledger, self.moved = ledger, moved
        self.stop = threading.Event()
        self.writes = 0
        self.error: BaseException | None = None
        self.wrote = threading.Condition()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self._write(self.writes)
                with self.wrote:
                    self.writes += 1
                    self.wrote.notify_all()
        except BaseException as error:  # reported by the test, not lost in the thread
            with self.wrote:
                self.error = error
                self.wrote.notify_all()

    def one_more(self) -> None:
        """Wait until the writer has written once more (whatever the machine's load), so that
        writes land between the pages of a walk."""
        with self.wrote:
            seen = self.writes
            self.wrote.wait_for(lambda: self.writes > seen or self.error is not None, timeout=60)

    def _write(self, n: int) -> None:
        ledger = self.ledger
        issue(ledger, f"{'AB'[n % 2]}W-{n:04d}", days_ago=30)
        to = "unit-2" if n % 2 == 0 else "unit-3"
        ledger.transfer(self.moved, to=to, occurred_at=ago(ledger, days=5), actor=ADMIN)
        ledger.grant_token(party="unit-3", role="partner", actor=ADMIN)
        ledger.register_party(party_id=f"late-{n}", name="late", kind="recipient", actor=ADMIN)


@pytest.fixture
def writer(api_ledger: Ledger, programme: dict[str, Any]) -> Iterator[Writer]:
    thread = Writer(api_ledger, programme["moved"])
    yield thread
    thread.stop.set()
    thread.join(timeout=60)


def test_no_row_is_lost_or_doubled_across_pages_while_another_thread_writes(
    client: TestClient, programme: dict[str, Any], writer: Writer
) -> None:
    """Every row there before the walk is seen once, every row seen is there after it, and rows
    keyed in log order come in log order (a prefix of the list after the walk)."""
    chosen = [listings(programme)[i] for i in (0, 3, 4, 6)]  # history, tokens, parties, custody
    before = {c.path: keys(walk(client, c, MAX_LIMIT), c) for c in chosen}
    writer.start()

    walked = {c.path: keys(walk(client, c, 2, between=writer.one_more), c) for c in chosen}
    written_while_paging = writer.writes

    writer.stop.set()
    writer.join(timeout=60)
    assert writer.error is None, writer.error
    assert written_while_paging >= 2
    for c in chosen:
        after = keys(walk(client, c, MAX_LIMIT), c)
        seen = walked[c.path]
        assert len(set(seen)) == len(seen), f"{c.path}: a row doubled"
        assert set(before[c.path]) <= set(seen), f"{c.path}: a row lost"
        assert set(seen) <= set(after), f"{c.path}: a row that is not in the list"
        if c.path != "/v1/custody":  # the others are in log order: new rows come last
            assert seen == after[: len(seen)], c.path
