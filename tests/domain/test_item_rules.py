"""Every custody rule and every event of an item, on an in-memory ledger."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import (
    DuplicateItem,
    InvalidInput,
    InvalidTime,
    ItemDisposed,
    ItemLost,
    ItemNotLost,
    NotFound,
    NotTheHolder,
)
from ledger.domain.items import Status
from tests.programme import ADMIN, RIFLE, ago, inspect, issue, register, sight


@pytest.fixture
def ledger(ledger: Ledger) -> Ledger:
    register(ledger)
    return ledger


def entries(ledger: Ledger) -> int:
    return ledger.log_store.log_size()


def test_an_issued_item_is_in_the_custody_of_its_recipient(ledger: Ledger) -> None:
    item = ledger.item(issue(ledger))

    assert (item.holder, item.status, item.version) == ("unit-1", Status.IN_CUSTODY, 1)
    assert (item.programme, item.supplier, item.agreement) == ("Programme One", "supplier", "eua-1")


def test_issue_answers_with_the_entrys_log_index(ledger: Ledger) -> None:
    before = entries(ledger)

    recorded = ledger.issue(serial="X1", occurred_at=ago(ledger, days=1), actor=ADMIN, **RIFLE)

    assert recorded.log_index == before
    assert entries(ledger) == before + 1


@pytest.mark.parametrize("again", ["ak 0001", "AK-0001", "ak–0001", "ＡＫ０００１", " AK 00 01 "])
def test_a_second_issue_of_the_same_identity_is_refused_and_records_nothing(
    ledger: Ledger, again: str
) -> None:
    issue(ledger, "AK-0001")
    before = entries(ledger)

    with pytest.raises(DuplicateItem, match="was issued already .* normal form 'akoool'"):
        issue(ledger, again, manufacturer="MAKER", model="m1")

    assert entries(ledger) == before


def test_the_same_serial_from_another_manufacturer_is_another_item(ledger: Ledger) -> None:
    assert issue(ledger, "AK-0001") != issue(ledger, "AK-0001", manufacturer="Other")


@pytest.mark.parametrize(
    ("serial", "reason"),
    [
        ("", "serial must not be empty"),
        ("   ", "serial must not be empty"),
        ("AK\x000001", "contains a control character (U+0000), which is refused"),
        ("AK\u200b0001", "contains a format character (U+200B), which is refused"),
        ("A" * 65, "serial is 65 characters long; the limit is 64"),
        ("--", "serial '--' has no letter or digit"),
    ],
)
def test_a_bad_serial_is_refused(ledger: Ledger, serial: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(reason)):
        issue(ledger, serial)


def test_an_issue_under_an_unknown_agreement_or_to_an_unknown_party_is_refused(
    ledger: Ledger,
) -> None:
    with pytest.raises(NotFound, match="agreement eua-9 not found"):
        issue(ledger, agreement="eua-9")
    with pytest.raises(NotFound, match="party unit-9 not found"):
        issue(ledger, recipient="unit-9")


def test_a_transfer_moves_custody_and_names_both_holders(ledger: Ledger) -> None:
    item_id = issue(ledger)

    ledger.transfer(item_id, to="unit-2", occurred_at=ago(ledger, days=1), actor=ADMIN)

    item = ledger.item(item_id)
    assert item.holder == "unit-2"
    transferred = list(ledger.events.get(item_id))[-1]
    assert (transferred.from_holder, transferred.to) == ("unit-1", "unit-2")


def test_a_transfer_stated_to_come_from_someone_who_does_not_hold_the_item_is_refused(
    ledger: Ledger,
) -> None:
    item_id = issue(ledger)

    with pytest.raises(NotTheHolder, match="item is held by unit-1, not by unit-3"):
        ledger.transfer(
            item_id, to="unit-2", from_holder="unit-3", occurred_at=ago(ledger, days=1), actor=ADMIN
        )


def test_a_transfer_to_the_current_holder_is_refused(ledger: Ledger) -> None:
    with pytest.raises(NotTheHolder, match="already held by unit-1"):
        ledger.transfer(issue(ledger), to="unit-1", occurred_at=ago(ledger, days=1), actor=ADMIN)


def test_a_transfer_outside_the_agreement_is_recorded_because_the_record_must_show_reality(
    ledger: Ledger,
) -> None:
    item_id = issue(ledger)

    ledger.transfer(item_id, to="outsider", occurred_at=ago(ledger, days=1), actor=ADMIN)

    assert ledger.item(item_id).holder == "outsider"


def test_a_lost_item_cannot_be_transferred_inspected_or_lost_again(ledger: Ledger) -> None:
    item_id = issue(ledger)
    ledger.report_lost(
        item_id, circumstances="stolen", occurred_at=ago(ledger, days=2), actor=ADMIN
    )
    before = entries(ledger)

    with pytest.raises(ItemLost, match="cannot transfer an item that is reported lost"):
        ledger.transfer(item_id, to="unit-2", occurred_at=ago(ledger, days=1), actor=ADMIN)
    with pytest.raises(ItemLost, match="cannot inspect"):
        inspect(ledger, item_id, occurred_at=ago(ledger, days=1))
    with pytest.raises(ItemLost, match="cannot report lost"):
        ledger.report_lost(
            item_id, circumstances="lost", occurred_at=ago(ledger, days=1), actor=ADMIN
        )

    assert entries(ledger) == before


def test_a_loss_records_when_it_happened_and_when_it_was_discovered(ledger: Ledger) -> None:
    item_id = issue(ledger)

    ledger.report_lost(
        item_id,
        circumstances="captured",
        occurred_at=ago(ledger, days=20),
        discovered_at=ago(ledger, days=3),
        actor=ADMIN,
    )

    item = ledger.item(item_id)
    assert item.status is Status.LOST
    assert item.loss is not None
    assert item.loss["circumstances"] == "captured"
    assert item.loss["discovered_at"] == "2026-02-26T12:00:00.000000Z"


def test_a_loss_discovered_before_it_happened_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidTime, match="discovered_at .* is before occurred_at"):
        ledger.report_lost(
            issue(ledger),
            circumstances="lost",
            occurred_at=ago(ledger, days=2),
            discovered_at=ago(ledger, days=5),
            actor=ADMIN,
        )


def test_a_recovery_puts_the_item_back_in_custody_of_whoever_recovered_it(ledger: Ledger) -> None:
    item_id = issue(ledger)
    ledger.report_lost(
        item_id, circumstances="stolen", occurred_at=ago(ledger, days=5), actor=ADMIN
    )

    ledger.recover(
        item_id, by="unit-3", occurred_at=ago(ledger, days=1), location="checkpoint 4", actor=ADMIN
    )

    item = ledger.item(item_id)
    assert (item.status, item.holder, item.loss) == (Status.IN_CUSTODY, "unit-3", None)


def test_a_recovery_of_an_item_that_is_not_lost_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ItemNotLost, match="item is in_custody, not lost"):
        ledger.recover(issue(ledger), by="unit-1", occurred_at=ago(ledger, days=1), actor=ADMIN)


def test_an_inspection_records_its_result(ledger: Ledger) -> None:
    item_id = issue(ledger)

    inspect(
        ledger,
        item_id,
        result="serial_mismatch",
        method="serial_read",
        observed_serial="AK-0007",
        occurred_at=ago(ledger, days=1),
    )

    assert ledger.item(item_id).last_inspection == {
        "result": "serial_mismatch",
        "method": "serial_read",
        "inspector": "inspectorate",
        "occurred_at": "2026-02-28T12:00:00.000000Z",
    }


@pytest.mark.parametrize(("field", "value"), [("result", "fine"), ("method", "guess")])
def test_an_inspection_with_an_unknown_result_or_method_is_refused(
    ledger: Ledger, field: str, value: str
) -> None:
    with pytest.raises(InvalidInput, match=f"{field} '{value}' is not one of"):
        inspect(ledger, issue(ledger), occurred_at=ago(ledger, days=1), **{field: value})


def test_nothing_but_sightings_and_corrections_follow_a_disposal(ledger: Ledger) -> None:
    item_id = issue(ledger)
    ledger.dispose(
        item_id,
        method="destroyed",
        certificate="CERT-1",
        witnesses=["a", "b"],
        occurred_at=ago(ledger, days=3),
        actor=ADMIN,
    )

    with pytest.raises(ItemDisposed, match="cannot transfer an item that was disposed of"):
        ledger.transfer(item_id, to="unit-2", occurred_at=ago(ledger, days=1), actor=ADMIN)
    with pytest.raises(ItemDisposed, match="cannot report lost an item that was disposed of"):
        ledger.report_lost(
            item_id, circumstances="lost", occurred_at=ago(ledger, days=1), actor=ADMIN
        )
    with pytest.raises(ItemDisposed, match="cannot recover an item that was disposed of"):
        ledger.recover(item_id, by="unit-1", occurred_at=ago(ledger, days=1), actor=ADMIN)
    sight(ledger, item_id, ago(ledger, days=1), held_by="armed group", evidence=["ab" * 32])

    assert ledger.item(item_id).status is Status.DISPOSED


def test_a_sighting_of_a_lost_item_is_recorded_with_its_evidence_hashes(ledger: Ledger) -> None:
    item_id = issue(ledger)
    ledger.report_lost(
        item_id, circumstances="stolen", occurred_at=ago(ledger, days=5), actor=ADMIN
    )

    sight(
        ledger,
        item_id,
        ago(ledger, days=1),
        location="border crossing",
        held_by="unknown group",
        serial_as_read="AK 0001",
        evidence=["AB" * 32],
    )

    sighted = list(ledger.events.get(item_id))[-1]
    assert sighted.evidence == ["ab" * 32]
    assert ledger.item(item_id).status is Status.LOST


def test_a_sighting_with_evidence_that_is_not_a_sha256_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidInput, match="not a SHA-256 hex digest"):
        sight(ledger, issue(ledger), ago(ledger, days=1), location="x", evidence=["photo.jpg"])


def test_a_correction_names_an_entry_of_the_same_item_and_edits_nothing(ledger: Ledger) -> None:
    item_id = issue(ledger)
    other = issue(ledger, "OTHER-1")
    first = ledger.history(item_id)[0].log_index

    with pytest.raises(InvalidInput, match="is not an entry of item"):
        ledger.correct(
            item_id, entry=ledger.history(other)[0].log_index, reason="typo", actor=ADMIN
        )
    ledger.correct(item_id, entry=first, reason="recipient was unit-2, not unit-1", actor=ADMIN)

    assert ledger.item(item_id).holder == "unit-1"
    assert [e.aggregate_version for e in ledger.history(item_id)] == [1, 2]


def test_an_event_dated_before_the_items_issue_is_refused(ledger: Ledger) -> None:
    item_id = issue(ledger, days_ago=10)

    with pytest.raises(InvalidTime, match="is before the item was issued"):
        ledger.transfer(item_id, to="unit-2", occurred_at=ago(ledger, days=11), actor=ADMIN)


def test_an_event_dated_in_the_future_is_refused_beyond_a_small_clock_skew(ledger: Ledger) -> None:
    item_id = issue(ledger)

    inspect(ledger, item_id, occurred_at=ago(ledger, minutes=-4))
    with pytest.raises(InvalidTime, match="is in the future"):
        inspect(ledger, item_id, occurred_at=ago(ledger, minutes=-6))
    with pytest.raises(InvalidTime, match="is in the future"):
        issue(ledger, "FUTURE-1", days_ago=-1)


def test_a_time_without_a_zone_is_refused(ledger: Ledger) -> None:
    naive = ago(ledger, days=1).replace(tzinfo=None)

    with pytest.raises(InvalidInput, match="occurred_at must carry a time zone"):
        ledger.transfer(issue(ledger), to="unit-2", occurred_at=naive, actor=ADMIN)


def test_an_unknown_item_is_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFound, match="item 00000000-0000-0000-0000-000000000000 not found"):
        ledger.item("00000000-0000-0000-0000-000000000000")
    with pytest.raises(InvalidInput, match="is not a UUID"):
        ledger.item("not-a-uuid")


def test_a_party_id_is_not_an_item_id(ledger: Ledger) -> None:
    party_id = ledger.party("unit-1").id

    with pytest.raises(NotFound, match=f"item {party_id} not found"):
        ledger.item(party_id)


def test_optional_marking_fields_are_kept_and_floats_are_refused(ledger: Ledger) -> None:
    item_id = issue(ledger, details={"calibre": "7.62x39mm", "year": 1987, "value": "450.00"})

    assert ledger.item(item_id).details == {"calibre": "7.62x39mm", "year": 1987, "value": "450.00"}
    with pytest.raises(InvalidInput, match="must be text or a whole number"):
        issue(ledger, "F-1", details={"value": 450.0})
    with pytest.raises(InvalidInput, match="unknown item fields: colour"):
        issue(ledger, "F-2", details={"colour": "black"})


def test_each_event_is_recorded_late_but_in_the_past_without_complaint(ledger: Ledger) -> None:
    item_id = issue(ledger, days_ago=400)

    ledger.report_lost(
        item_id,
        circumstances="missing",
        occurred_at=ago(ledger, days=300),
        discovered_at=ago(ledger, days=1),
        actor=ADMIN,
    )

    assert ledger.item(item_id).status is Status.LOST
    assert timedelta(days=299) < ledger.clock() - ledger.item(item_id).issued_at
