"""A small synthetic programme for `custody demo`: clearly synthetic names and serials (DEMO-...),
deterministic for a given seed and `now`. Everything goes through the Ledger's public methods."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from ledger.access import Actor
from ledger.application import Ledger
from ledger.tokens import Role

OPERATOR = Actor("operator", Role.ADMIN)
SUPPLIER = "DEMO-SUPPLIER"
FORCE = "DEMO-FORCE"
UNITS = tuple(f"DEMO-UNIT-{n}" for n in range(1, 7))
INSPECTOR = "DEMO-INSPECTORATE"
OVERSIGHT = "DEMO-OVERSIGHT"
INVESTIGATOR = "DEMO-INVESTIGATOR"
KINDS = (
    ("rifle", "Demo Arms", "DA-7", "R"),
    ("pistol", "Demo Arms", "DP-9", "P"),
    ("machine_gun", "Demo Arms", "DM-2", "M"),
    ("launcher", "Demo Ordnance", "DL-1", "L"),
    ("night_vision", "Demo Optics", "NV-3", "N"),
    ("ammunition_lot", "Demo Ordnance", "LOT-556", "A"),
)
Progress = Callable[[int], None]


@dataclass
class DemoProgramme:
    items: list[UUID] = field(default_factory=list)
    lost: UUID | None = None
    recovered: UUID | None = None
    events: int = 0


def build(
    ledger: Ledger,
    *,
    now: datetime,
    items: int = 300,
    seed: int = 7,
    progress: Progress | None = None,
) -> DemoProgramme:
    """Register the parties and agreements, then issue `items` items with a history each."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible on purpose
    _register(ledger)
    programme = DemoProgramme()
    for n in range(items):
        quiet_after = now - timedelta(days=70) if n < 2 else now  # items 0 and 1 are lost later
        programme.items.append(_issue_with_history(ledger, rng, n, quiet_after, programme))
        if progress:
            progress(1)
    _loss_and_recovery(ledger, programme, now)
    return programme


def _register(ledger: Ledger) -> None:
    ledger.register_party(
        party_id=SUPPLIER, name="Demo Supplier (synthetic)", kind="supplier", actor=OPERATOR
    )
    ledger.register_party(
        party_id=FORCE, name="Demo Partner Force (synthetic)", kind="recipient", actor=OPERATOR
    )
    for unit in UNITS:
        ledger.register_party(
            party_id=unit,
            name=f"{unit} (synthetic)",
            kind="recipient",
            parent=FORCE,
            actor=OPERATOR,
        )
    for party, kind in (
        (INSPECTOR, "inspector"),
        (OVERSIGHT, "oversight"),
        (INVESTIGATOR, "investigator"),
    ):
        ledger.register_party(
            party_id=party, name=f"{party} (synthetic)", kind=kind, actor=OPERATOR
        )
    for agreement, units in (("DEMO-EUA-1", UNITS[:4]), ("DEMO-EUA-2", UNITS[3:])):
        ledger.conclude_agreement(
            agreement_id=agreement,
            supplier=SUPPLIER,
            programme=f"{agreement} programme",
            authorized_holders=[FORCE, *units],
            actor=OPERATOR,
        )


def _issue_with_history(
    ledger: Ledger, rng: random.Random, n: int, until: datetime, programme: DemoProgramme
) -> UUID:
    category, maker, model, letter = KINDS[n % len(KINDS)]
    agreement = "DEMO-EUA-1" if n % 2 == 0 else "DEMO-EUA-2"
    holders = UNITS[:4] if agreement == "DEMO-EUA-1" else UNITS[3:]
    issued_at = until - timedelta(days=rng.randint(120, 720))
    item = ledger.issue(
        serial=f"DEMO-{letter}-{n:06d}",
        manufacturer=maker,
        model=model,
        category=category,
        agreement=agreement,
        recipient=rng.choice(holders),
        occurred_at=issued_at,
        actor=OPERATOR,
    ).id
    programme.events += 1
    moment = issued_at
    for _ in range(rng.randint(0, 4)):
        moment += timedelta(days=rng.randint(20, 100))
        if moment >= until:
            break
        programme.events += 1
        if rng.random() < 0.35:
            _transfer_elsewhere(ledger, rng, item, holders, moment)
        else:
            ledger.inspect(
                item,
                result=_result(rng),
                method="physical",
                occurred_at=moment,
                inspector=INSPECTOR,
                actor=OPERATOR,
            )
    return item


def _transfer_elsewhere(
    ledger: Ledger, rng: random.Random, item: UUID, holders: tuple[str, ...], moment: datetime
) -> None:
    holder = ledger.item(item).holder
    ledger.transfer(
        item,
        to=rng.choice([h for h in holders if h != holder]),
        occurred_at=moment,
        authority="DEMO-ORDER",
        actor=OPERATOR,
    )


def _result(rng: random.Random) -> str:
    return "verified" if rng.random() < 0.9 else rng.choice(["not_presented", "serial_mismatch"])


def _loss_and_recovery(ledger: Ledger, programme: DemoProgramme, now: datetime) -> None:
    lost, recovered = programme.items[0], programme.items[1]
    ledger.report_lost(
        lost,
        circumstances="stolen",
        occurred_at=now - timedelta(days=40),
        discovered_at=now - timedelta(days=35),
        actor=OPERATOR,
    )
    ledger.report_lost(
        recovered, circumstances="missing", occurred_at=now - timedelta(days=60), actor=OPERATOR
    )
    ledger.recover(
        recovered,
        by=ledger.item(recovered).holder,
        occurred_at=now - timedelta(days=10),
        location="Demo depot",
        condition="serviceable",
        actor=OPERATOR,
    )
    ledger.sight(
        lost,
        observer=INVESTIGATOR,
        location="Demo market (synthetic)",
        occurred_at=now - timedelta(days=5),
        held_by="unknown armed group",
        actor=OPERATOR,
    )
    programme.lost, programme.recovered = lost, recovered
    programme.events += 4
