"""The Item aggregate's own rules, without a store or a Ledger: its commands decide, `apply` only
assigns (ledger/domain/items.py). The Ledger's checks on top of these (parties, agreements, roles,
markings, duplicates) are in test_item_rules.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any
from uuid import uuid4

import pytest

from ledger.domain.errors import (
    InvalidInput,
    InvalidTime,
    ItemDisposed,
    ItemLost,
    ItemNotLost,
    NotTheHolder,
)
from ledger.domain.events import Report
from ledger.domain.items import Item, Status
from tests.programme import RIFLE

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def said(**fields: Any) -> dict[str, Any]:
    """The report every event carries, as the Ledger passes it (who, when, unsigned), with the
    `fields` given: those of the report go into it, the command's own stand beside it."""
    stamp = {"actor": "operator", "signature": None, "now": NOW, "occurred_at": ago(days=1)}
    own = {name: value for name, value in fields.items() if name not in stamp}
    return own | {"report": Report(**stamp | {n: v for n, v in fields.items() if n in stamp})}


def issued(*, days_ago: float = 30, occurred_at: datetime | None = None) -> Item:
    """The programme's rifle AK-0001 (tests/programme.py `RIFLE`), issued under eua-1 to unit-1,
    as the Ledger would issue it."""
    return Item.issue(
        item_id=uuid4(),
        serial="AK-0001",
        normalised_serial="akoool",
        registry_serial=False,
        programme="Programme One",
        supplier="supplier",
        details={},
        **RIFLE,
        **said(occurred_at=occurred_at or ago(days=days_ago)),
    )


def lost() -> Item:
    item = issued()
    item.report_lost(circumstances="stolen", discovered_at=None, **said(occurred_at=ago(days=5)))
    return item


def disposed() -> Item:
    item = issued()
    item.dispose(
        method="destroyed", certificate="C-1", witnesses=["a"], **said(occurred_at=ago(days=5))
    )
    return item


def transfer(item: Item, **fields: Any) -> None:
    item.transfer(**{"to": "unit-2", "from_holder": None, "authority": None} | said(**fields))


def inspect(item: Item) -> None:
    item.inspect(
        inspector="inspectorate",
        method="physical",
        result="verified",
        observed_serial=None,
        location=None,
        **said(),
    )


def receive(item: Item) -> None:
    item.receive(location=None, condition=None, **said())


def report_lost(item: Item, **fields: Any) -> None:
    item.report_lost(**{"circumstances": "lost", "discovered_at": None} | said(**fields))


def recover(item: Item) -> None:
    item.recover(by="unit-3", location=None, condition=None, **said())


def dispose(item: Item) -> None:
    item.dispose(method="destroyed", certificate=None, witnesses=[], **said())


def sight(item: Item) -> None:
    item.sight(
        observer="investigator",
        held_by="armed group",
        location="market",
        serial_as_read=None,
        evidence=[],
        **said(),
    )


CUSTODY_COMMANDS: list[tuple[Callable[[Item], None], str]] = [
    (transfer, "transfer"),
    (receive, "confirm receipt of"),
    (inspect, "inspect"),
    (report_lost, "report lost"),
    (dispose, "dispose of"),
]
"""The commands that need the item in custody, each with what its refusal calls it."""


def replayed(item: Item) -> Item:
    """The item rebuilt from the events its commands decided, as a store would rebuild it."""
    return reduce(lambda state, event: event.mutate(state), item.collect_events(), None)


def test_an_issue_puts_the_item_in_the_custody_of_its_recipient_as_of_its_field_time() -> None:
    item = issued(days_ago=30)

    assert (item.holder, item.status, item.version) == ("unit-1", Status.IN_CUSTODY, 1)
    assert item.issued_at == ago(days=30)
    assert (item.last_inspection, item.last_receipt, item.loss) == (None, None, None)


def test_an_issue_dated_beyond_the_clock_skew_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidTime, match="occurred_at .* is in the future"):
        issued(days_ago=-1)


def test_an_issue_dated_within_the_clock_skew_is_taken() -> None:
    item = issued(occurred_at=NOW + timedelta(minutes=4))

    assert item.issued_at == NOW + timedelta(minutes=4)


def test_a_transfer_moves_custody_and_names_the_holder_it_left() -> None:
    item = issued()

    transfer(item, to="unit-2")

    assert item.holder == "unit-2"
    assert (item.pending_events[-1].from_holder, item.pending_events[-1].to) == ("unit-1", "unit-2")


def test_a_transfer_stated_to_come_from_someone_who_does_not_hold_the_item_is_refused() -> None:
    item = issued()

    with pytest.raises(NotTheHolder, match="item is held by unit-1, not by unit-3"):
        transfer(item, from_holder="unit-3")

    assert (item.holder, item.version) == ("unit-1", 1)


def test_a_transfer_to_the_current_holder_is_refused() -> None:
    with pytest.raises(NotTheHolder, match="item is already held by unit-1"):
        transfer(issued(), to="unit-1")


def test_an_event_dated_before_the_items_issue_is_refused() -> None:
    item = issued(days_ago=10)

    with pytest.raises(
        InvalidTime, match=r"occurred_at .* is before the item was issued \(2026-02-19"
    ):
        transfer(item, occurred_at=ago(days=11))


def test_an_event_dated_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidTime, match="occurred_at .* is in the future"):
        transfer(issued(), occurred_at=NOW + timedelta(minutes=6))


def test_an_event_time_without_a_zone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="occurred_at must carry a time zone"):
        transfer(issued(), occurred_at=ago(days=1).replace(tzinfo=None))


@pytest.mark.parametrize(("command", "action"), CUSTODY_COMMANDS)
def test_a_lost_item_cannot_change_hands_be_received_inspected_lost_again_or_disposed_of(
    command: Any, action: str
) -> None:
    item = lost()

    with pytest.raises(ItemLost, match=f"cannot {action} an item that is reported lost"):
        command(item)

    assert (item.status, item.version) == (Status.LOST, 2)


@pytest.mark.parametrize(("command", "action"), [*CUSTODY_COMMANDS, (recover, "recover")])
def test_a_disposed_item_takes_no_custody_event(command: Any, action: str) -> None:
    item = disposed()

    with pytest.raises(ItemDisposed, match=f"cannot {action} an item that was disposed of"):
        command(item)

    assert (item.status, item.version) == (Status.DISPOSED, 2)


@pytest.mark.parametrize("state", [lost, disposed])
def test_a_sighting_or_a_correction_is_recorded_whatever_became_of_the_item(state: Any) -> None:
    item = state()
    status = item.status

    sight(item)
    item.correct(entry=0, reason="typo", **said())

    assert (item.status, item.version) == (status, 4)


def test_a_loss_records_when_it_happened_and_when_it_was_discovered() -> None:
    item = issued()

    report_lost(item, circumstances="captured", occurred_at=ago(days=20), discovered_at=ago(days=3))

    assert item.status is Status.LOST
    assert item.loss == {
        "circumstances": "captured",
        "occurred_at": "2026-02-09T12:00:00.000000Z",
        "discovered_at": "2026-02-26T12:00:00.000000Z",
    }


def test_a_loss_without_a_discovery_time_was_discovered_when_it_happened() -> None:
    item = issued()

    report_lost(item, occurred_at=ago(days=4))

    assert item.loss is not None
    assert item.loss["discovered_at"] == item.loss["occurred_at"] == "2026-02-25T12:00:00.000000Z"


def test_a_loss_discovered_before_it_happened_is_refused() -> None:
    with pytest.raises(InvalidTime, match="discovered_at .* is before occurred_at"):
        report_lost(issued(), occurred_at=ago(days=2), discovered_at=ago(days=5))


def test_a_loss_discovered_before_the_issue_or_in_the_future_is_refused() -> None:
    item = issued(days_ago=10)

    with pytest.raises(InvalidTime, match="discovered_at .* is before the item was issued"):
        report_lost(item, occurred_at=ago(days=5), discovered_at=ago(days=11))
    with pytest.raises(InvalidTime, match="discovered_at .* is in the future"):
        report_lost(item, discovered_at=NOW + timedelta(hours=1))


def test_a_recovery_puts_the_item_back_in_the_custody_of_whoever_recovered_it() -> None:
    item = lost()

    recover(item)

    assert (item.status, item.holder, item.loss) == (Status.IN_CUSTODY, "unit-3", None)


def test_a_recovery_of_an_item_that_is_not_lost_is_refused() -> None:
    with pytest.raises(
        ItemNotLost, match="item is in_custody, not lost: there is nothing to recover"
    ):
        recover(issued())


def test_an_inspection_and_a_receipt_are_remembered_with_their_field_time() -> None:
    item = issued()

    inspect(item)
    receive(item)

    assert item.last_inspection == {
        "result": "verified",
        "method": "physical",
        "inspector": "inspectorate",
        "occurred_at": "2026-02-28T12:00:00.000000Z",
    }
    assert item.last_receipt == "2026-02-28T12:00:00.000000Z"


def test_inspections_and_sightings_are_counted_per_actor_and_recording_day() -> None:
    item = issued()

    inspect(item)
    inspect(item)
    sight(item)

    assert item.recorded_today("Inspected", "operator", NOW) == 2
    assert item.recorded_today("Sighted", "operator", NOW) == 1
    assert item.recorded_today("Inspected", "operator", NOW + timedelta(days=1)) == 0
    assert item.recorded_today("Inspected", "someone else", NOW) == 0


def test_a_correction_changes_no_state() -> None:
    item = issued()
    before = {k: v for k, v in vars(item).items() if not k.startswith("_")}

    item.correct(entry=0, reason="recipient was unit-2", **said())

    assert {k: v for k, v in vars(item).items() if not k.startswith("_")} == before
    assert item.version == 2


def test_replaying_the_decided_events_rebuilds_the_same_item() -> None:
    item = issued()
    transfer(item)
    inspect(item)
    report_lost(item)
    recover(item)

    rebuilt = replayed(item)

    assert vars(rebuilt) == vars(item)
    assert (rebuilt.holder, rebuilt.version) == ("unit-3", 5)


def test_apply_only_assigns_so_a_replay_takes_events_that_a_command_would_now_refuse() -> None:
    item = disposed()
    refused_now = Item.Transferred(
        originator_id=item.id,
        originator_version=item.version + 1,
        timestamp=NOW,
        occurred_at=ago(days=50),
        actor="operator",
        signature=None,
        from_holder="unit-9",
        to="unit-1",
        authority=None,
    )

    refused_now.mutate(item)

    assert (item.holder, item.status, item.version) == ("unit-1", Status.DISPOSED, 3)
