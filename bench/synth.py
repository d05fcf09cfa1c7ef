"""The synthetic programme the benchmarks run on: deterministic for a given seed, clearly synthetic
names (BENCH-...). One plan, two ways to write it:

- `write_single`: through the Ledger's public commands, one write (one transaction) per event, as
  the API does: every check, the entry, its `prev`, the leaf and the Merkle nodes.
- `write_bulk`: the same aggregates and events built with the domain model's own commands
  (`Item.issue`, `item.transfer`, ...) and saved many aggregates per `Ledger.save` call: one
  transaction per batch through the Ledger's mapper and log recorder, so every entry, chain link,
  leaf and tree node is the same as a single write would store. What it skips is the Ledger's
  command-side lookups (the agreement, the parties, the item reloaded for each event), which
  `Ledger.batch` (what `custody import` uses) still makes for each command.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.events import Report
from ledger.domain.ids import item_id, normalise_serial
from ledger.domain.items import Item
from ledger.domain.tokens import Role

NOW = datetime(2026, 11, 25, tzinfo=UTC)
ADMIN = Actor("operator", Role.ADMIN)
SUPPLIER = "BENCH-SUPPLIER"
FORCE = "BENCH-FORCE"
UNITS = tuple(f"BENCH-UNIT-{n}" for n in range(1, 9))
INSPECTORATE = "BENCH-INSPECTORATE"
OUTSIDER = "BENCH-OUTSIDER"  # registered, authorized by no agreement: a transfer to it is diversion
AGREEMENTS = {
    "BENCH-EUA-1": ("BENCH-EUA-1 programme", (FORCE, *UNITS[:4])),
    "BENCH-EUA-2": ("BENCH-EUA-2 programme", (FORCE, *UNITS[4:])),
}
KINDS = (
    ("rifle", "Bench Arms", "BA-7"),
    ("pistol", "Bench Arms", "BP-9"),
    ("machine_gun", "Bench Arms", "BM-2"),
    ("launcher", "Bench Ordnance", "BL-1"),
    ("night_vision", "Bench Optics", "BN-3"),
    ("ammunition_lot", "Bench Ordnance", "LOT-556"),
)


@dataclass(frozen=True)
class Step:
    kind: str  # transfer, inspect, lose
    occurred_at: datetime
    value: str  # the receiving party, the inspection result, or the loss circumstances


@dataclass(frozen=True)
class ItemPlan:
    serial: str
    category: str
    manufacturer: str
    model: str
    agreement: str
    recipient: str
    issued_at: datetime
    steps: tuple[Step, ...] = field(default=())

    @property
    def item_id(self) -> UUID:
        return item_id(self.manufacturer, self.model, self.serial)

    @property
    def events(self) -> int:
        return 1 + len(self.steps)

    @property
    def issue(self) -> dict[str, Any]:
        """The issue as `Ledger.issue` and `POST /v1/items` take it (less the actor)."""
        return {
            "serial": self.serial,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "category": self.category,
            "agreement": self.agreement,
            "recipient": self.recipient,
            "occurred_at": self.issued_at,
        }


def setup(ledger: Ledger) -> str:
    """Bootstrap the ledger and register the parties and agreements; answers the admin token."""
    token = ledger.bootstrap()
    ledger.register_party(party_id=SUPPLIER, name="Bench supplier", kind="supplier", actor=ADMIN)
    ledger.register_party(party_id=FORCE, name="Bench force", kind="recipient", actor=ADMIN)
    for unit in UNITS:
        ledger.register_party(party_id=unit, name=unit, kind="recipient", parent=FORCE, actor=ADMIN)
    ledger.register_party(party_id=INSPECTORATE, name="Bench insp.", kind="inspector", actor=ADMIN)
    ledger.register_party(party_id=OUTSIDER, name="Bench outsider", kind="recipient", actor=ADMIN)
    for agreement, (programme, holders) in AGREEMENTS.items():
        ledger.conclude_agreement(
            agreement_id=agreement,
            supplier=SUPPLIER,
            programme=programme,
            authorized_holders=list(holders),
            actor=ADMIN,
        )
    return token


def plans(count: int, events_per_item: int, *, seed: int = 7, first: int = 0) -> Iterator[ItemPlan]:
    """`count` items numbered from `first`, each with `events_per_item` events: the issue, then
    transfers (35%) and inspections (mostly verified; 4% not presented, 2% serial mismatch, 2%
    damaged); 2% of items end with a loss, 0.5% of transfers go to an unauthorized party."""
    for n in range(first, first + count):
        rng = random.Random(seed * 1_000_003 + n)
        category, maker, model = KINDS[n % len(KINDS)]
        agreement = "BENCH-EUA-1" if n % 2 == 0 else "BENCH-EUA-2"
        holders = AGREEMENTS[agreement][1][1:]
        issued_at = NOW - timedelta(days=rng.randint(100, 700), seconds=rng.randint(0, 86_399))
        yield _plan(n, rng, category, maker, model, agreement, holders, issued_at, events_per_item)


def long_history(serial: str, events: int) -> ItemPlan:
    """One item with `events` events (alternating transfers and verified inspections)."""
    holders = AGREEMENTS["BENCH-EUA-1"][1][1:]
    issued_at = NOW - timedelta(days=700)
    span = (NOW - timedelta(days=1) - issued_at) / max(events, 1)
    steps, holder = [], holders[0]
    for j in range(1, events):
        moment = issued_at + span * j
        if j % 2:
            holder = holders[(holders.index(holder) + 1) % len(holders)]
            steps.append(Step("transfer", moment, holder))
        else:
            steps.append(Step("inspect", moment, "verified"))
    return ItemPlan(
        serial, "rifle", "Bench Arms", "BA-7", "BENCH-EUA-1", holders[0], issued_at, tuple(steps)
    )


def _plan(
    n: int,
    rng: random.Random,
    category: str,
    maker: str,
    model: str,
    agreement: str,
    holders: Sequence[str],
    issued_at: datetime,
    events_per_item: int,
) -> ItemPlan:
    recipient = rng.choice(holders)
    holder, steps = recipient, []
    span = (NOW - timedelta(days=1) - issued_at) / max(events_per_item, 1)
    for j in range(1, events_per_item):
        moment = issued_at + span * j
        draw = rng.random()
        if j == events_per_item - 1 and draw < 0.02:
            steps.append(Step("lose", moment, "missing"))
        elif draw < 0.35:
            others = [h for h in holders if h != holder]
            holder = OUTSIDER if rng.random() < 0.005 and holder != OUTSIDER else rng.choice(others)
            steps.append(Step("transfer", moment, holder))
        else:
            result = rng.random()
            outcome = (
                "not_presented"
                if result < 0.04
                else "serial_mismatch"
                if result < 0.06
                else "damaged"
                if result < 0.08
                else "verified"
            )
            steps.append(Step("inspect", moment, outcome))
    letter = category[0].upper()
    return ItemPlan(
        f"BENCH-{letter}-{n:07d}",
        category,
        maker,
        model,
        agreement,
        recipient,
        issued_at,
        tuple(steps),
    )


# Writing a plan ---------------------------------------------------------------------------------


def write_single(ledger: Ledger, plan: ItemPlan) -> UUID:
    """The item and its history through the Ledger's commands, one write per event."""
    item = ledger.issue(**plan.issue, actor=ADMIN).id
    for step in plan.steps:
        if step.kind == "transfer":
            ledger.transfer(item, to=step.value, occurred_at=step.occurred_at, actor=ADMIN)
        elif step.kind == "inspect":
            ledger.inspect(
                item,
                result=step.value,
                method="physical",
                occurred_at=step.occurred_at,
                inspector=INSPECTORATE,
                actor=ADMIN,
            )
        else:
            ledger.report_lost(
                item, circumstances=step.value, occurred_at=step.occurred_at, actor=ADMIN
            )
    return item


def aggregate(plan: ItemPlan, now: datetime = NOW) -> Item:
    """The item with its history as the Ledger's commands would build it, not yet saved."""
    actor = ADMIN.party
    issue = plan.issue  # its field time is the report's
    report = Report(occurred_at=issue.pop("occurred_at"), actor=actor, signature=None, now=now)
    item = Item.issue(
        item_id=plan.item_id,
        **issue,
        normalised_serial=normalise_serial(plan.serial),
        registry_serial=False,
        programme=AGREEMENTS[plan.agreement][0],
        supplier=SUPPLIER,
        details={},
        report=report,
    )
    for step in plan.steps:
        report = Report(occurred_at=step.occurred_at, actor=actor, signature=None, now=now)
        if step.kind == "transfer":
            item.transfer(to=step.value, from_holder=None, authority=None, report=report)
        elif step.kind == "inspect":
            item.inspect(
                inspector=INSPECTORATE,
                result=step.value,
                method="physical",
                observed_serial=None,
                location=None,
                report=report,
            )
        else:
            item.report_lost(circumstances=step.value, discovered_at=None, report=report)
    return item


def write_bulk(
    ledger: Ledger,
    items: Iterator[ItemPlan],
    *,
    batch: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Save the items `batch` aggregates per `Ledger.save` (one transaction each); answers the
    number of events written."""
    events, chunk = 0, []
    for plan in items:
        chunk.append(aggregate(plan))
        events += plan.events
        if len(chunk) == batch:
            ledger.save(*chunk)
            chunk.clear()
            if progress:
                progress(events)
    if chunk:
        ledger.save(*chunk)
    return events
