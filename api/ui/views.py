"""What the dashboard pages show, computed from the Ledger and the policies: plain data, no HTTP.

Every figure comes from the same functions as the JSON API (policies.engine, policies.flags,
Ledger reads), so a page and `GET /v1/...` never disagree. Geometry for the inline SVG charts is
computed here too, in percent of the chart's width, so the pages need no script and no inline style.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

import ledger.domain as domain
from ledger.application import Ledger, ReadScope
from ledger.domain import (
    PERMISSIONS,
    Action,
    Actor,
    CustodyError,
    Fact,
    Flag,
    InvalidInput,
    Item,
    NotFound,
    ProofError,
    Role,
    Sighting,
    Status,
)
from ledger.integrity import Checkpoint, decode_entry, merkle, split_note, verify_checkpoint
from ledger.readmodels import Interval, ItemEntry, timeline
from ledger.verification import entry_detail
from ledger.witness import CosignerVerifier, cosignature_timestamps
from policies.config import PolicyConfig
from policies.engine import (
    ItemAccount,
    RecipientRates,
    Scope,
    UnaccountedReport,
    accounts,
    findings,
    item_account,
    recipients,
    registrations,
    scope_for,
    unaccounted_report,
)
from policies.findings import Finding
from policies.flags import FlagView, flag_views
from policies.months import MONTHS_KEPT, add_months, month_end, month_reports
from policies.rules import Registration, independent
from policies.standing import Selection, Standing, standing

MONTHS = MONTHS_KEPT
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
STATUSES = tuple(s.value for s in Status)
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
RECENT_ENTRIES = 20
RECENT_CHECKPOINTS = 10
MAX_CHECKPOINTS_SCANNED = 500
COSIGNATURE_BYTES = 8 + 64
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
T = TypeVar("T")


# Reading the fleet once per page ------------------------------------------------------------------


class CachedReads:
    """A read-through view of the Ledger for one page: the overview asks the policies thirteen
    questions (now, and the end of each month), and each would replay every item again. This
    replays each item once; everything else goes to the Ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._ids: list[UUID] | None = None
        self._facts: dict[UUID, list[Fact]] = {}

    def item_ids(self) -> Iterator[UUID]:
        if self._ids is None:
            self._ids = list(self._ledger.item_ids())
        return iter(self._ids)

    def facts(self, item: UUID) -> list[Fact]:
        if item not in self._facts:
            self._facts[item] = self._ledger.facts(item)
        return self._facts[item]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)


def cached(ledger: Ledger) -> Ledger:
    return cast(Ledger, CachedReads(ledger))


def may(actor: Actor, action: Action) -> bool:
    """For showing or hiding a form only; the Ledger decides when the form is sent."""
    return action in PERMISSIONS[actor.role]


# Dates ------------------------------------------------------------------------------------------


def end_of_day(text: str | None, today: date) -> tuple[date, datetime]:
    """`YYYY-MM-DD` (default: today) and the last instant of that day, UTC."""
    day = _date(text) if text else today
    return day, domain.end_of_day(day, field="as_of")


def _date(text: str) -> date:
    try:
        if DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidInput(f"as_of must be a date written YYYY-MM-DD, got {text!r}")


def month_ends(now: datetime, count: int = MONTHS) -> list[tuple[str, datetime]]:
    """(label, instant) for the ends of the `count - 1` months before this one, then now."""
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    ends = []
    for back in range(count - 1, 0, -1):
        month_start = add_months(first, -back)
        ends.append((month_start.strftime("%b %Y"), month_end(month_start)))
    ends.append((first.strftime("%b %Y") + " (to date)", now))
    return ends


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# Lists: filters and pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Paged(Generic[T]):
    """One page of a list: `rows` from `offset` (0-based) of `total`."""

    rows: list[T]
    offset: int
    limit: int
    total: int

    @property
    def previous(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset else None

    @property
    def next(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def first_shown(self) -> int:
        return self.offset + 1 if self.rows else 0

    @property
    def last_shown(self) -> int:
        return self.offset + len(self.rows)


def paged(rows: Sequence[T], offset: int, limit: int) -> Paged[T]:
    return Paged(list(rows[offset : offset + limit]), offset, limit, len(rows))


@dataclass(frozen=True)
class Where:
    """The filters of a list that place an item: recipient (itself and its units), programme and
    category. A partner may filter by itself or one of its units; another recipient is refused
    as by the API (ledger/scope.py, `recipient_for`)."""

    recipient: str | None = None
    programme: str | None = None
    category: str | None = None

    def accounts(
        self, ledger: Ledger, actor: Actor, policy: PolicyConfig, as_of: datetime
    ) -> tuple[Scope, list[ItemAccount]]:
        """The scope asked about, and the accounts of the items the filters place in it."""
        scope = self.scope(ledger, actor, as_of)
        unit = None if scope.recipient == self.recipient else self.recipient
        found = accounts(ledger, scope, policy)
        return scope, [a for a in found if unit is None or a.recipient == unit]

    def scope(self, ledger: Ledger, actor: Actor, as_of: datetime) -> Scope:
        """For a partner's filter by one of its units, the partner's scope (`accounts` then keeps
        the unit's items)."""
        recipient = self.recipient
        if actor.role is Role.PARTNER and recipient not in (None, actor.party):
            if not ReadScope(ledger, actor).answers_for(str(recipient)):
                scope_for(actor, Scope(as_of, recipient=recipient))  # refused, as by the API
            recipient = None
        return scope_for(actor, Scope(as_of, None, recipient, self.programme, self.category))


@dataclass(frozen=True)
class ItemList:
    scope: Scope
    rows: Paged[tuple[ItemAccount, list[Finding]]]
    report: UnaccountedReport
    everything: list[tuple[ItemAccount, list[Finding]]]
    """Every row the filters select, on every page: what the CSV download holds."""
    recipients: list[str]
    """The recipients the caller may filter by."""


def item_list(
    ledger: Ledger,
    actor: Actor,
    policy: PolicyConfig,
    as_of: datetime,
    where: Where,
    selection: Selection,
    page: tuple[int, int] = (0, PAGE_SIZE),
) -> ItemList:
    """The unaccounted page's list: the items the filters select with the findings shown."""
    scope, found = where.accounts(ledger, actor, policy, as_of)
    report = unaccounted_report(ledger, scope, policy)
    chosen = selection.rows(found)
    return ItemList(
        scope, paged(chosen, *page), report, chosen, recipient_choices(ledger, actor, policy)
    )


def recipient_choices(ledger: Ledger, actor: Actor, policy: PolicyConfig) -> list[str]:
    """The recipients a list's filter offers: those the caller may read."""
    return recipients(ledger, scope_for(actor, Scope(ledger.clock())), policy)


# The overview -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryRow:
    category: str
    counts: dict[str, int]
    total: int


@dataclass(frozen=True)
class Bar:
    label: str
    as_of: datetime
    count: int
    x: float
    width: float
    y: float
    height: float

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class RatesRow:
    """A recipient's rates and their emphasis by the policy file's thresholds: None, warn, alert."""

    rates: RecipientRates
    accountability: str | None
    delinquency: str | None


@dataclass(frozen=True)
class TrendPoint:
    label: str
    as_of: datetime
    rates: RecipientRates | None
    x: float
    accountability_y: float
    delinquency_y: float


@dataclass(frozen=True)
class Trend:
    """One recipient's small multiple: accountability and delinquency at each month's end."""

    recipient: str
    points: list[TrendPoint]
    emphasis: str | None

    @property
    def accountability_line(self) -> str:
        return " ".join(f"{p.x:.1f},{p.accountability_y:.1f}" for p in self.points if p.rates)

    @property
    def delinquency_line(self) -> str:
        return " ".join(f"{p.x:.1f},{p.delinquency_y:.1f}" for p in self.points if p.rates)

    @property
    def latest(self) -> RecipientRates | None:
        return self.points[-1].rates


@dataclass(frozen=True)
class Mark:
    """Where the signed-in party's previous visit left the log: its time, the log's size and the
    store's last notification id then (api/ui/visits.py keeps it)."""

    at: datetime
    log_size: int
    notification: int


@dataclass(frozen=True)
class Changes:
    """What is new since the mark, in the caller's scope."""

    mark: Mark
    findings: list[tuple[ItemAccount, Finding]]
    losses: list[ItemAccount]
    sightings: list[ItemAccount]
    unmatched_sightings: int


@dataclass(frozen=True)
class Overview:
    as_of: datetime
    categories: list[CategoryRow]
    totals: dict[str, int]
    total: int
    unaccounted: int
    rates: list[RatesRow]
    bars: list[Bar]
    chart_height: int
    log_size: int
    trends: list[Trend]
    changes: Changes | None
    policy: PolicyConfig


CHART_PLOT = 160
CHART_TOP = 20
TREND_WIDTH, TREND_HEIGHT, TREND_PAD = 240, 80, 8
NEW_SHOWN = 10
NEW_READ = 1000


def overview(
    ledger: Ledger, actor: Actor, policy: PolicyConfig, now: datetime, mark: Mark | None = None
) -> Overview:
    reads = cached(ledger)
    scope = scope_for(actor, Scope(now))
    current = list(accounts(reads, scope, policy))
    report = unaccounted_report(reads, scope, policy)
    *months, (this_month, _) = month_ends(now)
    tallies = [
        (label, end, *month)
        for (label, end), month in zip(
            months, month_tallies(reads, scope, policy, months), strict=True
        )
    ]
    tallies.append((this_month, now, report.recipients, len(report.unaccounted)))
    totals = Counter(a.status for a in current)
    return Overview(
        as_of=now,
        categories=_categories(current),
        totals={s: totals[s] for s in STATUSES},
        total=len(current),
        unaccounted=len(report.unaccounted),
        rates=[_emphasised(r, policy) for r in report.recipients],
        bars=bars([(label, end, count) for label, end, _, count in tallies]),
        chart_height=CHART_TOP + CHART_PLOT + 30,
        log_size=ledger.log_store.log_size(),
        trends=trends([(label, end, rates) for label, end, rates, _ in tallies], policy),
        changes=None if mark is None else changes(ledger, actor, current, mark),
        policy=policy,
    )


def _emphasised(rates: RecipientRates, policy: PolicyConfig) -> RatesRow:
    emphasis = policy.emphasis
    return RatesRow(
        rates,
        emphasis.accountability(rates.accountability_rate),
        emphasis.delinquency(rates.delinquency_rate),
    )


def month_tallies(
    ledger: Ledger, scope: Scope, policy: PolicyConfig, months: Sequence[tuple[str, datetime]]
) -> list[tuple[list[RecipientRates], int]]:
    """Past month ends' rates per recipient and counts of unaccounted items: read from the month
    rows the follower keeps (policies/months.py), else from the report."""
    found = month_reports(ledger, scope, policy, [end for _, end in months])
    return [
        month
        if month is not None
        else _tally(unaccounted_report(ledger, replace(scope, as_of=end), policy))
        for (_, end), month in zip(months, found, strict=True)
    ]


def _tally(report: UnaccountedReport) -> tuple[list[RecipientRates], int]:
    return report.recipients, len(report.unaccounted)


def trends(
    reports: Sequence[tuple[str, datetime, Sequence[RecipientRates]]], policy: PolicyConfig
) -> list[Trend]:
    """Per recipient, its rates at each month's end, placed in a TREND_WIDTH x TREND_HEIGHT box
    (rates from 0 at the bottom to 1 at the top)."""
    names = sorted({r.recipient for _, _, rates in reports for r in rates})
    step = (TREND_WIDTH - 2 * TREND_PAD) / max(len(reports) - 1, 1)
    plot = TREND_HEIGHT - 2 * TREND_PAD
    found = []
    for name in names:
        points = []
        for i, (label, end, month) in enumerate(reports):
            rates = next((r for r in month if r.recipient == name), None)
            a, d = (rates.accountability_rate, rates.delinquency_rate) if rates else (1.0, 0.0)
            x = TREND_PAD + i * step
            points.append(
                TrendPoint(
                    label, end, rates, x, TREND_PAD + plot * (1 - a), TREND_PAD + plot * (1 - d)
                )
            )
        latest = points[-1].rates
        row = _emphasised(latest, policy) if latest else None
        worst = _worse(row.accountability, row.delinquency) if row else None
        found.append(Trend(name, points, worst))
    return found


def _worse(a: str | None, b: str | None) -> str | None:
    return "alert" if "alert" in (a, b) else "warn" if "warn" in (a, b) else None


def changes(ledger: Ledger, actor: Actor, current: Sequence[ItemAccount], mark: Mark) -> Changes:
    """New findings (begun after the mark, or resting on an entry recorded after it), new losses
    and new sightings (entries recorded after it), of the items the caller may read."""
    mine = {a.item_id: a for a in current}
    new_findings = [
        (a, f)
        for a in current
        for f in a.findings
        if f.since > mark.at or max(f.evidence, default=-1) >= mark.log_size
    ]
    new_findings.sort(key=lambda pair: (SEVERITY_ORDER.get(pair[1].severity, 9), pair[1].since))
    losses = _recorded_since(ledger, mark, Item.ReportedLost.TOPIC, mine)
    sightings = _recorded_since(ledger, mark, Item.Sighted.TOPIC, mine)
    unmatched = 0
    if actor.role is not Role.PARTNER:
        unmatched = len(_notifications_since(ledger, mark, Sighting.Recorded.TOPIC))
    return Changes(mark, new_findings, losses, sightings, unmatched)


def _recorded_since(
    ledger: Ledger, mark: Mark, topic: str, mine: dict[UUID, ItemAccount]
) -> list[ItemAccount]:
    ids = dict.fromkeys(
        UUID(str(n.originator_id)) for n in _notifications_since(ledger, mark, topic)
    )
    return [mine[i] for i in ids if i in mine]


def _notifications_since(ledger: Ledger, mark: Mark, topic: str) -> list[Any]:
    """At most NEW_READ of the entries of `topic` recorded after the mark."""
    return list(
        ledger.recorder.select_notifications(
            start=mark.notification, limit=NEW_READ, topics=[topic], inclusive_of_start=False
        )
    )


def mark_now(ledger: Ledger, now: datetime) -> Mark:
    return Mark(now, ledger.log_store.log_size(), ledger.recorder.max_notification_id() or 0)


def _categories(current: Sequence[ItemAccount]) -> list[CategoryRow]:
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    for account in current:
        by_category[account.category][account.status] += 1
    return [
        CategoryRow(c, {s: by_category[c][s] for s in STATUSES}, sum(by_category[c].values()))
        for c in sorted(by_category)
    ]


def bars(counts: Sequence[tuple[str, datetime, int]]) -> list[Bar]:
    """Bars in percent of the width, heights in pixels of the plot area (CHART_PLOT high)."""
    top = max((c for _, _, c in counts), default=0) or 1
    slot = 100 / max(len(counts), 1)
    result = []
    for i, (label, end, count) in enumerate(counts):
        height = CHART_PLOT * count / top
        y = CHART_TOP + CHART_PLOT - height
        result.append(Bar(label, end, count, i * slot + slot * 0.15, slot * 0.7, y, height))
    return result


# Unaccounted items and flags --------------------------------------------------------------------


def unaccounted(
    ledger: Ledger, actor: Actor, policy: PolicyConfig, as_of: datetime
) -> UnaccountedReport:
    return unaccounted_report(ledger, scope_for(actor, Scope(as_of)), policy)


def findings_now(ledger: Ledger, policy: PolicyConfig, now: datetime) -> list[Finding]:
    """Every current finding, as POST /v1/flags/scan puts them on record."""
    return findings(ledger, Scope(now), policy)


@dataclass(frozen=True)
class FlagRow:
    view: FlagView
    serial: str
    recipient: str

    @property
    def flag_id(self) -> UUID:
        return self.view.finding.finding_id


FLAG_STATUSES = ("open", "resolved", "all")


@dataclass(frozen=True)
class FlagFilters:
    """The flags page's filters: the flag's state, the finding's rule and severity, the item's
    recipient (itself and its units)."""

    status: str = "open"
    rule: str | None = None
    severity: str | None = None
    recipient: str | None = None

    def __post_init__(self) -> None:
        Selection(reason=self.rule, severity=self.severity)  # the same checks as the list's
        if self.status not in FLAG_STATUSES:
            raise InvalidInput(f"status must be open, resolved or all, got {self.status!r}")

    def keeps(self, view: FlagView) -> bool:
        if self.rule and view.finding.rule != self.rule:
            return False
        if self.severity and view.finding.severity.value != self.severity:
            return False
        if self.status == "all":
            return True
        return view.open if self.status == "open" else view.resolution is not None


def flags(
    ledger: Ledger, actor: Actor, policy: PolicyConfig, now: datetime, filters: FlagFilters
) -> list[FlagRow]:
    """The policies' findings now with their flags, as GET /v1/flags lists them, the gravest and
    oldest first."""
    where = Where(recipient=filters.recipient)
    _, scoped = where.accounts(ledger, actor, policy, now)
    items = {a.item_id: a for a in scoped}
    current = [f for a in scoped for f in a.findings]
    views = [v for v in flag_views(ledger, current, item_ids=set(items)) if filters.keeps(v)]
    views.sort(key=lambda v: (SEVERITY_ORDER.get(v.finding.severity, 9), v.finding.since))
    return [_flag_row(v, items.get(v.finding.item_id)) for v in views]


def _flag_row(view: FlagView, account: ItemAccount | None) -> FlagRow:
    if account is None:
        return FlagRow(view, "?", "?")
    return FlagRow(view, account.serial, account.recipient)


def unrecorded(rows: Sequence[FlagRow]) -> list[Finding]:
    """The findings of the rows not on record yet (that still hold): what the bulk action raises."""
    return [r.view.finding for r in rows if not r.view.raised and r.view.holds]


# The item page: its custody timeline and its entries ---------------------------------------------


@dataclass(frozen=True)
class EntryRow:
    log_index: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    detail: str
    leaf_hash: str
    signed: bool
    payload: dict[str, Any]
    independent: bool | None = None
    """For an inspection: by a party independent of the holder, or the holder's own statement
    (a self-report; docs/policies.md, "Independence")."""
    key_id: str | None = None
    operator_key: bool = False
    """Signed by an operator-registered key the party had not confirmed when it was recorded
    (docs/signing.md, section 1)."""


@dataclass(frozen=True)
class Scale:
    """Field time -> percent of the chart's width; the lanes' labels take the left quarter."""

    start: datetime
    end: datetime
    left: float = 26.0
    width: float = 72.0

    def x(self, moment: datetime) -> float:
        total = (self.end - self.start).total_seconds() or 1.0
        return self.left + self.width * max(0.0, (moment - self.start).total_seconds()) / total


@dataclass(frozen=True)
class Lane:
    name: str
    y: int

    @property
    def middle(self) -> int:
        return self.y + LANE_HEIGHT // 2


@dataclass(frozen=True)
class Span:
    """One custody interval, and where it is drawn."""

    holder: str
    status: str
    start: datetime
    end: datetime | None
    lane: Lane
    x: float
    width: float
    diverted: bool = False
    """Held by a party the agreement does not authorize (a diversion finding says so)."""

    @property
    def css(self) -> str:
        return "diverted" if self.diverted else self.status

    @property
    def days(self) -> int | None:
        return None if self.end is None else (self.end - self.start).days


@dataclass(frozen=True)
class Marker:
    entry: EntryRow
    lane: Lane
    x: float
    css: str


@dataclass(frozen=True)
class Timeline:
    lanes: list[Lane]
    spans: list[Span]
    markers: list[Marker]
    scale: Scale

    @property
    def height(self) -> int:
        return LANE_TOP + LANE_HEIGHT * len(self.lanes) + 24


@dataclass(frozen=True)
class FindingRow:
    """A finding of the item with the entries it rests on and its flag, if on record."""

    finding: Finding
    evidence: list[EntryRow]
    flag: Flag | None

    @property
    def clearing_kinds(self) -> str:
        return ", ".join(self.finding.cleared_by_kinds)


RESOLVERS = tuple(r.value for r in Role if Action.RESOLVE_FLAG in PERMISSIONS[r])
"""The roles that may resolve a flag on record (ledger/access.py)."""


@dataclass(frozen=True)
class ItemPage:
    item: Item
    entries: list[EntryRow]
    timeline: Timeline
    standing: Standing
    findings: list[FindingRow]
    resolvers: tuple[str, ...] = RESOLVERS


LANE_TOP, LANE_HEIGHT = 8, 34
MARKED = {"Inspected": "inspection", "ReportedLost": "loss", "Recovered": "recovery"}
MARKED |= {"Sighted": "sighting", "Disposed": "disposal"}


def item_page(ledger: Ledger, item_id: str, policy: PolicyConfig, now: datetime) -> ItemPage:
    item = ledger.item(item_id)
    rows = ledger.history(item.id)
    registration = registrations(ledger, None)
    entries = [
        _judged(ledger, _entry_row(r.log_index, r.entry, r.leaf_hash), registration) for r in rows
    ]
    decoded = [ItemEntry.decode(r.log_index, r.aggregate_version, r.entry) for r in rows]
    intervals = timeline([e for e in decoded if e is not None])
    account = item_account(ledger, item.id, Scope(now), policy)
    assert account is not None  # every item of the ledger was issued by now
    found = _finding_rows(ledger, account, entries)
    drawn = _timeline(intervals, entries, now, _unauthorized_holders(account, entries))
    return ItemPage(item, entries, drawn, standing(account), found)


def _finding_rows(
    ledger: Ledger, account: ItemAccount, entries: Sequence[EntryRow]
) -> list[FindingRow]:
    by_index = {e.log_index: e for e in entries}
    ordered = sorted(account.findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.since))
    return [
        FindingRow(
            f,
            [by_index[i] for i in f.evidence if i in by_index],
            ledger.flag(f.finding_id),
        )
        for f in ordered
    ]


HOLDER_FIELDS = {"Issued": "recipient", "Transferred": "to", "Recovered": "by"}


def _unauthorized_holders(account: ItemAccount, entries: Sequence[EntryRow]) -> set[str]:
    """The parties a diversion finding says were given custody without authorization."""
    by_index = {e.log_index: e for e in entries}
    found = set()
    for f in account.findings:
        for i in f.evidence if f.rule == "diversion" else ():
            entry = by_index.get(i)
            if entry is not None and entry.kind in HOLDER_FIELDS:
                found.add(str(entry.payload.get(HOLDER_FIELDS[entry.kind])))
    return found


def _judged(ledger: Ledger, row: EntryRow, registration: Registration) -> EntryRow:
    """The row with whose word it is: an inspection's independence, a signature's key."""
    if row.kind == "Inspected":
        row = replace(row, independent=independent(registration, row.kind, row.actor, row.payload))
    return replace(row, operator_key=_operator_key(ledger, row))


def _operator_key(ledger: Ledger, row: EntryRow) -> bool:
    if row.key_id is None:
        return False
    try:
        key = ledger.party(row.actor).keys.get(row.key_id)
    except (NotFound, InvalidInput):
        return False
    if key is None or key.endorsement == "rotation":
        return False
    return key.confirmed_at is None or key.confirmed_at >= row.recorded_at


def _entry_row(log_index: int, entry: bytes, leaf_hash: bytes) -> EntryRow:
    body = decode_entry(entry)
    kind = str(body["type"]).rsplit(".", 1)[-1]
    payload = dict(body["payload"])
    detail = entry_detail(kind, payload, str(body["actor"]))
    return EntryRow(
        log_index,
        kind,
        parse_time(str(body["occurred_at"])),
        parse_time(str(body["recorded_at"])),
        str(body["actor"]),
        detail,
        leaf_hash.hex(),
        bool(body.get("signature")),
        payload,
        key_id=str(body["signature"]["key_id"]) if body.get("signature") else None,
    )


def _timeline(
    intervals: Sequence[Interval],
    entries: Sequence[EntryRow],
    now: datetime,
    unauthorized: set[str] = frozenset(),  # type: ignore[assignment]
) -> Timeline:
    """The intervals (as readmodels.timeline folds them) drawn one lane per holder, from the
    issue to now, with the inspections, the loss and the other events marked."""
    scale = Scale(
        parse_time(intervals[0].valid_from), max([now, *(e.occurred_at for e in entries)])
    )
    names = list(dict.fromkeys(_lane(i) for i in intervals))
    lanes = [Lane(name, LANE_TOP + n * LANE_HEIGHT) for n, name in enumerate(names)]
    spans = [_span(i, lanes[names.index(_lane(i))], scale, unauthorized) for i in intervals]
    markers = [
        Marker(e, _lane_at(spans, e), scale.x(e.occurred_at), _marker_css(e))
        for e in entries
        if e.kind in MARKED
    ]
    return Timeline(lanes, spans, markers, scale)


def _span(interval: Interval, lane: Lane, scale: Scale, unauthorized: set[str]) -> Span:
    start = parse_time(interval.valid_from)
    end = parse_time(interval.valid_to) if interval.valid_to else None
    x = scale.x(start)
    width = max(0.4, scale.x(end or scale.end) - x)
    diverted = interval.status == Status.IN_CUSTODY.value and interval.holder in unauthorized
    return Span(interval.holder, interval.status, start, end, lane, x, width, diverted)


def _lane(interval: Interval) -> str:
    """One lane per holder while in custody; one for the times it was lost, one once disposed
    (who held it last is in the table and the bar's tooltip)."""
    return interval.holder if interval.status == Status.IN_CUSTODY.value else f"({interval.status})"


def _lane_at(spans: Sequence[Span], entry: EntryRow) -> Lane:
    """The lane of the interval the event falls in (the last one starting by then)."""
    found = [s for s in spans if s.start <= entry.occurred_at]
    return found[-1].lane if found else spans[0].lane


def _marker_css(entry: EntryRow) -> str:
    css = MARKED[entry.kind]
    if entry.kind == "Inspected" and entry.payload.get("result") != "verified":
        css += " failed"
    if entry.independent is False:
        css += " self-reported"
    elif entry.independent is True:
        css += " independent"
    return css


# The log: checkpoint, witnesses, entries, proofs -------------------------------------------------


@dataclass(frozen=True)
class SignatureRow:
    name: str
    key: str
    role: str
    time: datetime | None
    verified: bool


@dataclass(frozen=True)
class WitnessRow:
    name: str
    key: str
    last_size: int | None
    last_time: datetime | None
    problem: str | None = None


@dataclass(frozen=True)
class LogEntryRow:
    log_index: int
    kind: str
    aggregate_id: str
    is_item: bool
    recorded_at: datetime


@dataclass(frozen=True)
class LogPage:
    size: int
    checkpoint: Checkpoint
    note: str
    signatures: list[SignatureRow]
    witnesses: list[WitnessRow]
    entries: list[LogEntryRow]
    checkpoints: list[tuple[int, int]]
    """(size, number of signature lines) of the latest checkpoints, newest first."""


def log_page(ledger: Ledger, readable: ReadScope) -> LogPage:
    note = ledger.tlog.checkpoint()
    checkpoint = verify_checkpoint(note, ledger.tlog.verifier(), ledger.origin)
    witnesses = _witness_verifiers(ledger.tlog.witness_keys)
    history = sorted(ledger.log_store.all_checkpoints(), reverse=True)
    start = max(0, checkpoint.size - RECENT_ENTRIES)
    return LogPage(
        size=ledger.log_store.log_size(),
        checkpoint=checkpoint,
        note=note,
        signatures=_signatures(ledger, note, witnesses),
        witnesses=_last_cosignatures(witnesses, history),
        entries=[
            _log_entry(r.log_index, r.entry)
            for r in ledger.tlog.log_entries(start, checkpoint.size)
            if readable.may_read_entry(r)
        ][::-1],
        checkpoints=[(size, len(split_note(n)[1])) for size, n in history[:RECENT_CHECKPOINTS]],
    )


def _witness_verifiers(keys: Sequence[str]) -> list[tuple[str, CosignerVerifier | None, str]]:
    """(policy name, verifier or None if unreadable, the key text) of each configured witness."""
    found = []
    for line in keys:
        name, _, vkey = line.strip().rpartition(" ")
        try:
            verifier: CosignerVerifier | None = CosignerVerifier.from_vkey(vkey)
        except CustodyError:
            verifier = None
        found.append((name or vkey.split("+", 1)[0], verifier, vkey))
    return found


def _signatures(
    ledger: Ledger, note: str, witnesses: Sequence[tuple[str, CosignerVerifier | None, str]]
) -> list[SignatureRow]:
    log_key = ledger.tlog.verifier()
    known = {(v.name, v.key_id): (name, v) for name, v, _ in witnesses if v is not None}
    try:
        stamps = cosignature_timestamps(note, [v for _, v in known.values()])
    except CustodyError:
        stamps = {}
    rows = []
    for sig in split_note(note)[1]:
        ref = (sig.name, sig.key_id)
        if ref == (log_key.name, log_key.key_id):
            rows.append(SignatureRow(sig.name, sig.key, "log", None, True))
        elif ref in known:
            name, verifier = known[ref]
            stamp = stamps.get(verifier)
            rows.append(SignatureRow(name, sig.key, "witness", _utc(stamp), stamp is not None))
        else:
            rows.append(SignatureRow(sig.name, sig.key, "unknown", _claimed(sig.signature), False))
    return rows


def _last_cosignatures(
    witnesses: Sequence[tuple[str, CosignerVerifier | None, str]],
    history: Sequence[tuple[int, str]],
) -> list[WitnessRow]:
    rows = []
    for name, verifier, vkey in witnesses:
        if verifier is None:
            rows.append(WitnessRow(name, vkey, None, None, "the configured key is unreadable"))
            continue
        rows.append(_last_cosignature(name, verifier, history))
    return rows


def _last_cosignature(
    name: str, verifier: CosignerVerifier, history: Sequence[tuple[int, str]]
) -> WitnessRow:
    for size, note in history[:MAX_CHECKPOINTS_SCANNED]:
        try:
            stamp = cosignature_timestamps(note, [verifier]).get(verifier)
        except CustodyError as error:
            return WitnessRow(name, verifier.key, size, None, f"invalid cosignature: {error}")
        if stamp is not None:
            return WitnessRow(name, verifier.key, size, _utc(stamp))
    return WitnessRow(name, verifier.key, None, None)


def _utc(stamp: int | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, tz=UTC)


def _claimed(signature: bytes) -> datetime | None:
    """The timestamp a cosignature line claims (unverified: its key is not configured)."""
    if len(signature) != COSIGNATURE_BYTES:
        return None
    return _utc(int.from_bytes(signature[:8], "big"))


def _log_entry(log_index: int, entry: bytes) -> LogEntryRow:
    body = decode_entry(entry)
    kind = str(body["type"])
    return LogEntryRow(
        log_index,
        kind.removeprefix("custody:"),
        str(body["aggregate_id"]),
        kind.startswith(Item.TOPIC + "."),
        parse_time(str(body["recorded_at"])),
    )


@dataclass(frozen=True)
class ProofPage:
    index: int
    size: int
    checkpoint: Checkpoint
    note: str
    entry: LogEntryRow
    entry_json: str
    entry_base64: str
    leaf_hash: bytes
    hashes: list[bytes]
    root: bytes
    verified: bool
    problem: str | None

    @property
    def at_checkpoint(self) -> bool:
        return self.size == self.checkpoint.size and self.root == self.checkpoint.root_hash


def proof_page(ledger: Ledger, index: int, size: int | None, readable: ReadScope) -> ProofPage:
    """Entry `index` and its RFC 9162 inclusion proof to the latest checkpoint (or `size`),
    checked here as a convenience; the point is that anyone can check it themselves. An entry the
    caller may not read (ledger/application/scope.py) is not found, as an entry beyond the log."""
    note = ledger.tlog.checkpoint()
    checkpoint = verify_checkpoint(note, ledger.tlog.verifier(), ledger.origin)
    size = checkpoint.size if size is None else size
    if size > ledger.log_store.log_size():
        raise NotFound(f"the log has no tree of {size} entries yet")
    if not 0 <= index < size:
        raise NotFound(f"log entry {index} is not in the tree of {size} entries")
    (row,) = ledger.tlog.log_entries(index, index + 1)
    if not readable.may_read_entry(row):
        raise NotFound(f"log entry {index} is not in the tree of {size} entries")
    leaf = merkle.leaf_hash(row.entry)
    hashes, root = ledger.tlog.inclusion_proof(index, size), ledger.tlog.root(size)
    problem = None
    try:
        merkle.verify_inclusion(leaf, index, size, hashes, root)
    except ProofError as error:
        problem = str(error)
    return ProofPage(
        index,
        size,
        checkpoint,
        note,
        _log_entry(index, row.entry),
        json.dumps(decode_entry(row.entry), indent=2, sort_keys=True, ensure_ascii=False),
        base64.b64encode(row.entry).decode("ascii"),
        leaf,
        hashes,
        root,
        problem is None,
        problem,
    )
