"""The synthetic programme of `custody demo`: two partner forces of six units each, supplied under
two end-use agreements over two years, with what oversight looks for in such a programme.

Everything is plainly synthetic (party ids and serials start with DEMO-, names say "(synthetic)"),
goes through the Ledger's public methods, and is deterministic for a seed and `now`. The history is
back-filled: every entry is recorded now, with its field time (`occurred_at`) in the past, so a loss
discovered more than 30 days ago is, truthfully, a late loss report.

What the programme holds (the counts scale with `items`; shown for the default 3,000):
- items of eight categories, issued in nine shipments over two years, each to one unit, and mostly
  confirmed received; some moved once between units of the same force under a transfer order;
- quarterly inventories (every 90 days) of each unit's items by the inspectorate: a few items are
  not presented to one, or are found damaged or misread, and one unit (DEMO-NORTH-6) stopped being
  inspected five months ago, so its items are overdue;
- a mass loss: 40 items stolen from DEMO-NORTH-3's armoury in one night 25 days ago (reported in
  time), a fifth recovered at a checkpoint by a sister unit, two seen later in a market;
- slow leakage: 15 single losses at DEMO-SOUTH-2 spread over ten months, each found missing at the
  next inventory (most reported late), a third of them found again; in one of them the inventory
  after the loss was signed off as verified (a contradiction);
- losses in combat (captured, destroyed in action);
- an unauthorized retransfer: 6 items passed by DEMO-SOUTH-4 to DEMO-BROKER, a registered party in
  no agreement, surfaced when a third-party monitor saw one of them at a border crossing;
- disposals, witnessed and certified, but one without a certificate;
- one item with a registry-assigned serial and one serial marked on two models (cloned marking);
- DEMO-NORTH-6, no longer inspected, self-reports its items verified every month, signed with its
  own key: its statements are on record and shown as such, and its items stay overdue (a
  self-report is the holder's word, never an independent inspection). Its first key was
  registered by the operator, confirmed by the unit, then rotated: the new key endorsed by the
  old, the old revoked (docs/signing.md).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.items import Status
from ledger.domain.times import aware_utc, format_time
from ledger.domain.tokens import Role
from ledger.integrity.endorsements import confirm_key, prove_key
from ledger.integrity.submissions import Submission, Submitted, key_id
from ledger.readmodels.models import Fleet
from ledger.readmodels.reconciliation import Count, take_inventory

OPERATOR = Actor("operator", Role.ADMIN)
Progress = Callable[[int], None]

SUPPLIER = "DEMO-SUPPLIER"
NORTH, SOUTH = "DEMO-NORTH", "DEMO-SOUTH"
FORCES = {NORTH: "Demo Northern Force", SOUTH: "Demo Southern Force"}
ORDINALS = ("1st", "2nd", "3rd", "4th", "5th", "6th")
UNITS = {force: tuple(f"{force}-{n}" for n in range(1, 7)) for force in FORCES}
AGREEMENTS = {NORTH: "DEMO-EUA-NORTH", SOUTH: "DEMO-EUA-SOUTH"}
INSPECTOR = "DEMO-INSPECTORATE"
OVERSIGHT = "DEMO-OVERSIGHT"
INVESTIGATOR = "DEMO-INVESTIGATOR"
MONITOR = "DEMO-MONITOR"
BROKER = "DEMO-BROKER"
ARMED_GROUP = "unknown armed group (synthetic)"
TRACE_DAYS = 28
WITNESSES = ("Demo Inspectorate officer (synthetic)", "Demo Oversight officer (synthetic)")

MASS_UNIT, MASS_RECOVERER = f"{NORTH}-3", f"{NORTH}-5"
LEAK_UNIT = f"{SOUTH}-2"
DIVERT_UNIT = f"{SOUTH}-4"
DELINQUENT_UNIT = f"{NORTH}-6"

SHIPMENTS = (720, 630, 540, 450, 360, 270, 180, 90, 40)
"""Days before today of the nine deliveries; the southern force's arrive SOUTH_LAG days later."""
SOUTH_LAG = 4
CAMPAIGN_DAYS = 90
"""Each unit's inventories; an item's fall within a day of its unit's, so two in a row of the same
item are never more than 92 days apart (the policy's interval)."""
DELINQUENT_SINCE = 150
SELF_REPORT_DAYS = (120, 90, 60, 30)
"""Days before today of the delinquent unit's monthly self-reports."""
MASS_DAYS_AGO = 25
DIVERT_DAYS_AGO = 140
BROKER_SEEN_DAYS_AGO = 35
RECEIPT_RATE = 0.96
SKIP_RATE = 0.03
TRANSFER_RATE = 0.08
BATCH = 250


@dataclass(frozen=True)
class Kind:
    category: str
    manufacturer: str
    model: str
    letter: str
    weight: int
    calibre: str | None = None


KINDS = (
    Kind("rifle", "Demo Arms", "DA-7", "R", 40, "5.56x45mm"),
    Kind("pistol", "Demo Arms", "DP-9", "P", 15, "9x19mm"),
    Kind("machine_gun", "Demo Arms", "DM-2", "M", 10, "7.62x51mm"),
    Kind("launcher", "Demo Ordnance", "DL-1", "L", 6, "84mm"),
    Kind("night_vision", "Demo Optics", "NV-3", "N", 12),
    Kind("mortar", "Demo Ordnance", "DMR-81", "T", 3, "81mm"),
    Kind("vehicle", "Demo Motors", "DV-4", "V", 4),
    Kind("ammunition_lot", "Demo Ordnance", "LOT-556", "A", 10, "5.56x45mm"),
)
ARMOURY = frozenset({"rifle", "pistol", "machine_gun", "launcher", "night_vision"})
"""What an armoury holds and a thief or a broker takes."""


@dataclass
class DemoProgramme:
    """The items issued (in order), the entries recorded, and the notable items of each story."""

    items: list[UUID] = field(default_factory=list)
    events: int = 0
    mass_loss: list[UUID] = field(default_factory=list)
    leaked: list[UUID] = field(default_factory=list)
    diverted: list[UUID] = field(default_factory=list)
    recovered: list[UUID] = field(default_factory=list)
    disposed: list[UUID] = field(default_factory=list)
    sightings: list[UUID] = field(default_factory=list)
    traces: list[UUID] = field(default_factory=list)
    inventory: UUID | None = None


def build(
    ledger: Ledger,
    *,
    now: datetime,
    items: int = 3000,
    seed: int = 7,
    progress: Progress | None = None,
) -> DemoProgramme:
    """Register the parties and agreements, then issue `items` items, each with its history.

    The ledger must be initialised (`bootstrap`) and its clock at or after `now`. Items are written
    in batches of BATCH, each batch saved in one transaction."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible on purpose
    calendar = Calendar.starting(aware_utc(now, field="now"), rng)
    _register(ledger)
    keys = {DELINQUENT_UNIT: _rotated_key(ledger, random.Random(seed + 1), DELINQUENT_UNIT)}  # noqa: S311
    plans = _plan(rng, calendar, items)
    programme = DemoProgramme()
    for start in range(0, len(plans), BATCH):
        with ledger.batch():
            for plan in plans[start : start + BATCH]:
                Life(ledger, rng, calendar, plan, programme, keys).record()
                if progress:
                    progress(1)
    before = ledger.log_store.log_size()
    _investigations(ledger, calendar, programme)
    programme.events += ledger.log_store.log_size() - before
    return programme


def _investigations(ledger: Ledger, calendar: Calendar, programme: DemoProgramme) -> None:
    """Issue 17's workflows: two unmatched sightings (a leaked rifle's serial half read, and a
    serial no item has), a trace answered and one overdue, and an inventory of one unit with one
    item not counted and one serial unknown to the ledger."""
    if not programme.leaked:
        return  # too small a programme for a story
    leaked = ledger.item(programme.leaked[0])
    for serial in (leaked.serial[:-3] + "??" + leaked.serial[-1], "DEMO-X-??17"):
        programme.sightings.append(
            ledger.record_sighting(
                observer=MONITOR,
                location="weapons market, border town (synthetic)",
                occurred_at=calendar.day(12),
                serial_as_read=serial,
                manufacturer=leaked.manufacturer,
                held_by=ARMED_GROUP,
                evidence=[hashlib.sha256(f"demo photo of {serial}".encode()).hexdigest()],
                actor=OPERATOR,
            ).id
        )
    answered = ledger.request_trace(
        item=leaked.id,
        addressee=SUPPLIER,
        question=f"To which unit was serial {leaked.serial} delivered, and when?",
        answer_days=TRACE_DAYS,
        occurred_at=calendar.day(10),
        actor=OPERATOR,
    ).id
    ledger.answer_trace(
        answered,
        answer=f"Delivered to {LEAK_UNIT} with the first shipment (synthetic)",
        documents=[hashlib.sha256(b"demo delivery note").hexdigest()],
        actor=OPERATOR,
    )
    overdue = ledger.request_trace(
        sighting=programme.sightings[1],
        addressee=SUPPLIER,
        question="Is DEMO-X-??17 a marking of yours? The photo shows a repair weld.",
        answer_days=TRACE_DAYS,
        occurred_at=calendar.day(TRACE_DAYS + 12),
        actor=OPERATOR,
    ).id
    programme.traces = [answered, overdue]
    programme.inventory = _count(ledger, calendar)


def _count(ledger: Ledger, calendar: Calendar) -> UUID | None:
    """An inventory of one unit: every item it holds but the first counted, one serial unknown."""
    unit, at = f"{NORTH}-1", calendar.day(2)
    fleet = Fleet.of(ledger)
    fleet.catch_up()  # the demo is the writer: it brings the read models up to date
    held = [h.serial for h in fleet.holdings(unit, at=at) if h.status is Status.IN_CUSTODY]
    if len(held) < 2:
        return None
    serials = [*held[1:], "DEMO-UNKNOWN-000001"]
    count = Count(unit, at, "serial_read", serials, site=_armoury(unit))
    inspectorate = Actor(INSPECTOR, Role.INSPECTOR)  # an independent count, as EEUM takes them
    return take_inventory(ledger, fleet, count, actor=inspectorate).inventory_id


# The calendar ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Dates relative to `today` (midnight UTC of `now`); nothing is dated after `latest`."""

    today: datetime
    campaigns: dict[str, tuple[datetime, ...]]
    """Each unit's quarterly inventories, oldest first."""

    @classmethod
    def starting(cls, now: datetime, rng: random.Random) -> Calendar:
        today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        campaigns = {}
        for unit in (*UNITS[NORTH], *UNITS[SOUTH]):
            newest = DELINQUENT_SINCE if unit == DELINQUENT_UNIT else rng.randint(6, 70)
            days = range(newest, SHIPMENTS[0] + CAMPAIGN_DAYS, CAMPAIGN_DAYS)
            campaigns[unit] = tuple(today - timedelta(days=d, hours=-9) for d in reversed(days))
        return cls(today, campaigns)

    @property
    def latest(self) -> datetime:
        return self.today - timedelta(hours=6)

    def day(self, days_ago: float) -> datetime:
        return self.today - timedelta(days=days_ago)

    def next_campaign(self, unit: str, after: datetime) -> datetime | None:
        return next((c for c in self.campaigns[unit] if c > after), None)

    def clamp(self, moment: datetime) -> datetime:
        return min(moment, self.latest)


def _hours(rng: random.Random, first: int = 8, last: int = 16) -> timedelta:
    return timedelta(hours=rng.randint(first, last), minutes=rng.randint(0, 59))


# Parties and agreements --------------------------------------------------------------------------


def _register(ledger: Ledger) -> None:
    def party(party_id: str, name: str, kind: str, parent: str | None = None) -> None:
        ledger.register_party(
            party_id=party_id, name=name, kind=kind, parent=parent, actor=OPERATOR
        )

    party(SUPPLIER, "Demo Arms Supplier (synthetic)", "supplier")
    for force, name in FORCES.items():
        party(force, f"{name} (synthetic)", "recipient")
        for unit in UNITS[force]:
            party(unit, _unit_name(unit), "recipient", parent=force)
    party(BROKER, "Demo Arms Broker (synthetic; named in no agreement)", "recipient")
    party(INSPECTOR, "Demo Inspectorate (synthetic)", "inspector")
    party(OVERSIGHT, "Demo Oversight Office (synthetic)", "oversight")
    party(INVESTIGATOR, "Demo Investigations Unit (synthetic)", "investigator")
    party(MONITOR, "Demo Conflict Arms Monitor, a third party (synthetic)", "investigator")
    for force, agreement in AGREEMENTS.items():
        ledger.conclude_agreement(
            agreement_id=agreement,
            supplier=SUPPLIER,
            programme=f"{FORCES[force]} Assistance Programme (synthetic)",
            authorized_holders=[force, *UNITS[force]],
            areas=[f"{FORCES[force]} area of operations (synthetic)"],
            actor=OPERATOR,
        )


def _rotated_key(ledger: Ledger, rng: random.Random, unit: str) -> Ed25519PrivateKey:
    """The unit's first key, registered by the operator and confirmed by the unit, then rotated:
    a second key endorsed by the first, the first revoked. Answers the second."""
    first, second = (Ed25519PrivateKey.from_private_bytes(rng.randbytes(32)) for _ in range(2))
    actor, origin = Actor(unit, Role.PARTNER), ledger.origin
    ledger.register_key(party=unit, actor=OPERATOR, **prove_key(first, origin=origin, party=unit))
    old = key_id(first.public_key().public_bytes_raw())
    ledger.confirm_key(
        party=unit, key=old, actor=actor, **confirm_key(first, origin=origin, party=unit)
    )
    rotation = prove_key(second, origin=origin, party=unit, endorsing_key=first)
    ledger.register_key(party=unit, actor=actor, **rotation)
    ledger.revoke_key(party=unit, key=old, reason="rotated (synthetic)", actor=actor)
    return second


def _unit_name(unit: str) -> str:
    force = unit.rsplit("-", 1)[0]
    ordinal = ORDINALS[int(unit.rsplit("-", 1)[1]) - 1]
    return f"{FORCES[force]}, {ordinal} Brigade (synthetic)"


def _armoury(unit: str) -> str:
    return f"{_unit_name(unit).removesuffix(' (synthetic)')} armoury (synthetic)"


# The plan: who gets what, and what becomes of it -------------------------------------------------


@dataclass
class Plan:
    n: int
    kind: Kind
    force: str
    unit: str
    issued_at: datetime
    serial: str
    model: str
    registry_serial: bool = False
    fate: str = ""
    """'' (ordinary custody), mass, leak, combat, divert or dispose."""
    fate_at: datetime | None = None
    circumstances: str = ""
    transfer: tuple[datetime, str] | None = None
    recover: bool = False
    sight: bool = False
    contradict: bool = False
    certificate: bool = True


def _plan(rng: random.Random, calendar: Calendar, count: int) -> list[Plan]:
    plans = []
    weights = [k.weight for k in KINDS]
    for n in range(count):
        kind = rng.choices(KINDS, weights)[0]
        force = NORTH if n % 2 == 0 else SOUTH
        days = rng.choice(SHIPMENTS) - (SOUTH_LAG if force == SOUTH else 0)
        plans.append(
            Plan(
                n=n,
                kind=kind,
                force=force,
                unit=rng.choice(UNITS[force]),
                issued_at=calendar.day(days) + _hours(rng),
                serial=f"DEMO-{kind.letter}-{n:06d}",
                model=kind.model,
            )
        )
    _serial_quality(plans)
    _mass_loss(calendar, plans, min(40, count // 20))
    _leakage(rng, calendar, plans, min(15, count // 80))
    _combat(rng, calendar, plans, count // 400)
    _diversion(calendar, plans, min(6, count // 100))
    _disposals(rng, calendar, plans, min(8, count // 150))
    _transfers(rng, calendar, plans)
    return plans


def _armoury_items(plans: list[Plan], unit: str, at: datetime, count: int) -> list[Plan]:
    """Up to `count` of `unit`'s armoury items issued a month before `at`, not yet given a fate."""
    month_before = at - timedelta(days=30)
    return [
        p
        for p in plans
        if not p.fate
        and p.unit == unit
        and p.kind.category in ARMOURY
        and p.issued_at < month_before
    ][:count]


def _serial_quality(plans: list[Plan]) -> None:
    rifles = [p for p in plans if p.kind.category == "rifle"]
    if len(plans) < 50 or len(rifles) < 3:
        return
    rifles[0].registry_serial, rifles[0].serial = True, f"DEMO-REG-{rifles[0].n:06d}"
    rifles[2].serial, rifles[2].model = rifles[1].serial, f"{rifles[1].model}S"  # cloned marking


def _mass_loss(calendar: Calendar, plans: list[Plan], count: int) -> None:
    night = calendar.day(MASS_DAYS_AGO) + timedelta(hours=2, minutes=30)
    stolen = _armoury_items(plans, MASS_UNIT, night, count)
    unrecovered = 0
    for i, plan in enumerate(stolen):
        plan.fate, plan.fate_at, plan.circumstances = "mass", night, "stolen"
        plan.recover = i % 5 == 4
        unrecovered += not plan.recover
        plan.sight = not plan.recover and unrecovered in (1, 3)


def _leakage(rng: random.Random, calendar: Calendar, plans: list[Plan], count: int) -> None:
    """Single losses at one unit, spread from 330 to 45 days ago."""
    for i in range(count):
        days = 330 - i * 285 / max(count - 1, 1) + rng.uniform(-5, 5)
        at = calendar.day(days) + _hours(rng)
        early = [p for p in plans if not p.fate and p.issued_at < at - timedelta(days=20)]
        here = [p for p in early if p.unit == LEAK_UNIT] or [p for p in early if p.force == SOUTH]
        for plan in here[:1]:
            plan.fate, plan.fate_at = "leak", at
            plan.circumstances = "missing" if i % 2 else "lost"
            plan.recover = i % 3 == 1
            plan.contradict = i == 0


def _combat(rng: random.Random, calendar: Calendar, plans: list[Plan], count: int) -> None:
    for i in range(count):
        at = calendar.day(rng.randint(45, 500)) + _hours(rng, 0, 23)
        chosen = [
            p
            for p in plans
            if not p.fate
            and p.force == SOUTH
            and p.unit != LEAK_UNIT
            and p.issued_at < at - timedelta(days=20)
        ]
        for plan in chosen[:1]:
            plan.fate, plan.fate_at = "combat", at
            plan.circumstances = "destroyed_in_action" if i % 2 else "captured"


def _diversion(calendar: Calendar, plans: list[Plan], count: int) -> None:
    handed = calendar.day(DIVERT_DAYS_AGO) + timedelta(hours=15)
    passed = _armoury_items(plans, DIVERT_UNIT, handed, count)
    for i, plan in enumerate(passed):
        plan.fate, plan.fate_at, plan.sight = "divert", handed, i == 0


def _disposals(rng: random.Random, calendar: Calendar, plans: list[Plan], count: int) -> None:
    for i in range(count):
        at = calendar.day(rng.randint(10, 200)) + _hours(rng)
        chosen = [p for p in plans if not p.fate and p.issued_at < at - timedelta(days=90)]
        for plan in chosen[:1]:
            plan.fate, plan.fate_at, plan.certificate = "dispose", at, i != 0


def _transfers(rng: random.Random, calendar: Calendar, plans: list[Plan]) -> None:
    for plan in plans:
        last = calendar.day(30)
        if plan.fate or plan.issued_at > last - timedelta(days=90):
            continue
        if rng.random() < TRANSFER_RATE:
            span = (last - plan.issued_at - timedelta(days=30)).total_seconds()
            at = plan.issued_at + timedelta(days=30, seconds=rng.uniform(0, span))
            plan.transfer = (at, rng.choice([u for u in UNITS[plan.force] if u != plan.unit]))


# One item's life, recorded -----------------------------------------------------------------------


class Life:
    """Records one planned item: issue, receipt, inventories, then what becomes of it."""

    def __init__(
        self,
        ledger: Ledger,
        rng: random.Random,
        calendar: Calendar,
        plan: Plan,
        programme: DemoProgramme,
        keys: dict[str, Ed25519PrivateKey],
    ) -> None:
        self.ledger, self.rng, self.calendar, self.plan = ledger, rng, calendar, plan
        self.programme, self.keys = programme, keys
        self.item = UUID(int=0)
        self.holder = plan.unit

    def record(self) -> None:
        plan = self.plan
        self.item = self.ledger.issue(
            serial=plan.serial,
            manufacturer=plan.kind.manufacturer,
            model=plan.model,
            category=plan.kind.category,
            agreement=AGREEMENTS[plan.force],
            recipient=plan.unit,
            occurred_at=plan.issued_at,
            registry_serial=plan.registry_serial,
            details=self._details(),
            actor=OPERATOR,
        ).id
        self._counted()
        self.programme.items.append(self.item)
        until = plan.fate_at or self.calendar.today
        if plan.transfer is None:
            self._custody(plan.issued_at, until, receipt=self.rng.random() < RECEIPT_RATE)
        else:
            moved, to = plan.transfer
            self._custody(plan.issued_at, moved, receipt=self.rng.random() < RECEIPT_RATE)
            self._transfer(to, moved, authority=f"DEMO-ORDER-{plan.n:06d}")
            self._custody(moved, until, receipt=True)
        fates = {
            "mass": self._mass,
            "leak": self._leak,
            "combat": self._combat,
            "divert": self._divert,
            "dispose": self._dispose,
        }
        if plan.fate:
            fates[plan.fate]()

    def _details(self) -> dict[str, str | int]:
        kind = self.plan.kind
        marking: dict[str, str | int] = {
            "description": f"{kind.category.replace('_', ' ')} (synthetic)",
            "country_of_manufacture": "Demoland (synthetic)",
            "year": self.plan.issued_at.year - 1,
        }
        if kind.calibre:
            marking["calibre"] = kind.calibre
        if kind.category == "ammunition_lot":
            marking["lot_size"] = 10_000
        return marking

    # Ordinary custody: receipt and inventories --------------------------------------------------

    def _custody(self, start: datetime, until: datetime, *, receipt: bool) -> None:
        """In the holder's hands from `start` to `until`: a receipt, then every inventory."""
        rng = self.rng
        if receipt:
            received = start + timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 4))
            if received < until:
                self.ledger.receive(
                    self.item,
                    occurred_at=received,
                    location=_armoury(self.holder),
                    condition="serviceable",
                    actor=OPERATOR,
                )
                self._counted()
                start = received
        for campaign in self.calendar.campaigns[self.holder]:
            at = campaign + timedelta(days=rng.randint(0, 1), minutes=rng.randint(0, 420))
            if start < at < until and rng.random() >= SKIP_RATE:
                self._inventory(at)
        if self.holder in self.keys:
            for days in SELF_REPORT_DAYS:
                at = self.calendar.day(days) + timedelta(hours=10)
                if start < at < until:
                    self._self_report(at, days)

    def _self_report(self, at: datetime, days: int) -> None:
        """The holder says it has the item, signed with its own key: its statement."""
        key, holder = self.keys[self.holder], self.holder
        body = {"result": "verified", "method": "self_report", "occurred_at": format_time(at)}
        nonce = f"DEMO-{self.plan.n:06d}-{days}"
        kid = key_id(key.public_key().public_bytes_raw())
        submission = Submission(
            self.ledger.origin, holder, kid, "inspect", str(self.item), nonce, body
        )
        self.ledger.inspect(
            self.item,
            result="verified",
            method="self_report",
            occurred_at=at,
            actor=Actor(holder, Role.PARTNER),
            via=Submitted.from_signed(submission.sign(key)),
        )
        self._counted()
        self._counted()  # its nonce's entry

    def _inventory(self, at: datetime) -> None:
        roll = self.rng.random()
        result = (
            "verified"
            if roll < 0.975
            else "damaged"
            if roll < 0.985
            else "location_mismatch"
            if roll < 0.992
            else "serial_mismatch"
            if roll < 0.996
            else "not_presented"
        )
        method = "serial_read" if self.rng.random() < 0.2 else "physical"
        observed = None
        if method == "serial_read" or result == "serial_mismatch":
            observed = self.plan.serial if result != "serial_mismatch" else self.plan.serial[:-1]
        self._inspect(at, result, method=method, observed_serial=observed)

    def _inspect(
        self,
        at: datetime,
        result: str = "verified",
        *,
        method: str = "physical",
        observed_serial: str | None = None,
        location: str | None = None,
    ) -> None:
        self.ledger.inspect(
            self.item,
            result=result,
            method=method,
            occurred_at=at,
            inspector=INSPECTOR,
            observed_serial=observed_serial,
            location=location or _armoury(self.holder),
            actor=OPERATOR,
        )
        self._counted()

    # Fates ----------------------------------------------------------------------------------------

    def _mass(self) -> None:
        """Stolen from the armoury at night, found in the morning; a fifth recovered later."""
        night = self._fate_at()
        self._lose(night, discovered=night + timedelta(hours=5, minutes=15))
        self.programme.mass_loss.append(self.item)
        rng, calendar = self.rng, self.calendar
        if self.plan.recover:
            found = calendar.clamp(night + timedelta(days=rng.randint(3, 18)) + _hours(rng))
            self._recover(found, by=MASS_RECOVERER, location="Demo checkpoint 7 (synthetic)")
        if self.plan.sight:
            seen = calendar.clamp(night + timedelta(days=rng.randint(8, 20)) + _hours(rng))
            self._sight(seen, INVESTIGATOR, held_by=ARMED_GROUP, location="Demo market (synthetic)")

    def _leak(self) -> None:
        """Gone one day; found missing at the next inventory (or a few days later if none came)."""
        lost, calendar, rng = self._fate_at(), self.calendar, self.rng
        self.programme.leaked.append(self.item)
        if self.plan.contradict:  # the next inventory was signed off without looking
            signed_off = calendar.next_campaign(self.holder, lost)
            if signed_off is not None and signed_off + timedelta(days=45) < calendar.latest:
                self._inspect(signed_off + timedelta(hours=2))
                checked = signed_off + timedelta(days=rng.randint(20, 40)) + _hours(rng)
                self._inspect(checked, "not_presented", method="physical")
                self._lose(lost, discovered=checked)
                return
        inventory = calendar.next_campaign(self.holder, lost)
        if inventory is not None and inventory < calendar.latest:
            discovered = inventory + timedelta(minutes=rng.randint(0, 420))
            self._inspect(discovered, "not_presented")
        else:
            discovered = calendar.clamp(lost + timedelta(days=rng.randint(2, 8)))
        self._lose(lost, discovered=discovered)
        if self.plan.recover:
            found = discovered + timedelta(days=rng.randint(15, 90))
            if found < calendar.latest - timedelta(days=3):
                self._recover(found, by=self.holder, location=f"{_armoury(self.holder)}, store")

    def _combat(self) -> None:
        at = self._fate_at()
        self._lose(at, discovered=at)

    def _divert(self) -> None:
        """Passed to a party no agreement names; seen there months later by a third party."""
        self._transfer(BROKER, self._fate_at(), authority=None)
        self.programme.diverted.append(self.item)
        if self.plan.sight:
            seen = self.calendar.day(BROKER_SEEN_DAYS_AGO) + _hours(self.rng)
            self._sight(seen, MONITOR, held_by=BROKER, location="Demo border crossing (synthetic)")

    def _dispose(self) -> None:
        plan = self.plan
        self.ledger.dispose(
            self.item,
            method="destroyed" if plan.n % 2 else "demilitarised",
            occurred_at=self._fate_at(),
            certificate=f"DEMO-CERT-{plan.n:06d}" if plan.certificate else None,
            witnesses=WITNESSES,
            actor=OPERATOR,
        )
        self._counted()
        self.programme.disposed.append(self.item)

    # Writes ---------------------------------------------------------------------------------------

    def _fate_at(self) -> datetime:
        assert self.plan.fate_at is not None
        return self.plan.fate_at

    def _lose(self, occurred: datetime, *, discovered: datetime) -> None:
        self.ledger.report_lost(
            self.item,
            circumstances=self.plan.circumstances,
            occurred_at=occurred,
            discovered_at=discovered,
            actor=OPERATOR,
        )
        self._counted()

    def _recover(self, at: datetime, *, by: str, location: str) -> None:
        """Found again, then checked by the inspectorate; back under ordinary custody after."""
        self.ledger.recover(
            self.item,
            by=by,
            occurred_at=at,
            location=location,
            condition="serviceable",
            actor=OPERATOR,
        )
        self._counted()
        self.holder = by
        self.programme.recovered.append(self.item)
        checked = self.calendar.clamp(at + timedelta(days=self.rng.randint(1, 2)))
        self._inspect(checked, location=location)
        self._custody(checked, self.calendar.today, receipt=False)

    def _sight(self, at: datetime, observer: str, *, held_by: str, location: str) -> None:
        self.ledger.sight(
            self.item,
            observer=observer,
            held_by=held_by,
            location=location,
            occurred_at=at,
            serial_as_read=self.plan.serial,
            actor=OPERATOR,
        )
        self._counted()

    def _transfer(self, to: str, at: datetime, *, authority: str | None) -> None:
        self.ledger.transfer(self.item, to=to, occurred_at=at, authority=authority, actor=OPERATOR)
        self._counted()
        self.holder = to

    def _counted(self) -> None:
        self.programme.events += 1
