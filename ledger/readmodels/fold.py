"""An item's custody over field time, as the read models keep it (docs/readmodels.md).

`timeline(steps)` folds an item's entries as `ledger/domain/replay.py` replays them: the issue
first, then the rest by (occurred_at, version), each changing holder and status as its event's
`apply` does. `Fold` grows that timeline one recording time at a time and says which intervals
each recording time closed and opened: the bitemporal rows of `custody_intervals`. An entry that
comes after every other in field order (the usual case) changes the last interval only, in
constant time; any other entry recomputes the item's timeline, in time linear in its entries.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from ledger.domain.items import InspectionResult, Item, Status
from ledger.integrity.entries import decode_entry

ITEM_TOPIC = "custody:Item."
State = tuple[str, str]
"""(holder, status)"""
PARTY_FIELD = {
    Item.Issued.TOPIC: "recipient",
    Item.Transferred.TOPIC: "to",
    Item.Recovered.TOPIC: "by",
}
"""The payload field that names the party an event hands the item to."""


@dataclass(frozen=True)
class Step:
    """What the read models keep of one entry of an item (`custody_item_entries`). Times are
    canonical RFC 3339 text (`format_time`: fixed width, UTC), so they order as text."""

    log_index: int
    version: int
    type: str
    occurred_at: str
    recorded_at: str
    party: str | None
    """the new holder: the issue's recipient, a transfer's `to`, a recovery's `by`"""
    verified: bool
    """an inspection with result `verified`"""

    @property
    def field_key(self) -> tuple[str, int]:
        return (self.occurred_at, self.version)


@dataclass(frozen=True)
class ItemEntry:
    """One log entry of an item, decoded."""

    log_index: int
    version: int
    type: str
    occurred_at: str
    recorded_at: str
    payload: Mapping[str, Any]

    @classmethod
    def decode(cls, log_index: int, version: int, entry: bytes) -> ItemEntry | None:
        """The entry if it is an item's; None for parties, tokens, nonces, flags."""
        body = decode_entry(entry)
        if not str(body["type"]).startswith(ITEM_TOPIC):
            return None
        return cls(
            log_index,
            version,
            str(body["type"]),
            str(body["occurred_at"]),
            str(body["recorded_at"]),
            body["payload"],
        )

    def step(self) -> Step:
        field = PARTY_FIELD.get(self.type)
        verified = (
            self.type == Item.Inspected.TOPIC
            and self.payload.get("result") == InspectionResult.VERIFIED.value
        )
        party = str(self.payload[field]) if field is not None else None
        return Step(
            self.log_index,
            self.version,
            self.type,
            self.occurred_at,
            self.recorded_at,
            party,
            verified,
        )


@dataclass(frozen=True)
class Interval:
    """Holder and status over field time [valid_from, valid_to); valid_to None: still so."""

    valid_from: str
    valid_to: str | None
    holder: str
    status: str

    @property
    def state(self) -> State:
        return (self.holder, self.status)


@dataclass(frozen=True)
class IntervalRow:
    """An interval as known over recording time [recorded_from, recorded_to); None: still known."""

    interval: Interval
    recorded_from: str
    recorded_to: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.interval.valid_from, self.recorded_from)


def transition(step: Step, state: State) -> State:
    """What the event's `apply` (ledger/domain/items.py) does to holder and status; others keep
    both."""
    holder, status = state
    match step.type:
        case Item.Transferred.TOPIC:
            return str(step.party), status
        case Item.ReportedLost.TOPIC:
            return holder, Status.LOST.value
        case Item.Recovered.TOPIC:
            return str(step.party), Status.IN_CUSTODY.value
        case Item.Disposed.TOPIC:
            return holder, Status.DISPOSED.value
    return state


def timeline(entries: Sequence[ItemEntry]) -> tuple[Interval, ...]:
    """The item's custody over field time from these decoded entries; empty before the issue is
    among them."""
    return fold_steps([e.step() for e in entries])


def fold_steps(steps: Iterable[Step]) -> tuple[Interval, ...]:
    """The item's custody over field time from these steps (any order); empty before the issue
    is among them."""
    steps = list(steps)
    issued = next((s for s in steps if s.type == Item.Issued.TOPIC), None)
    if issued is None:
        return ()
    rest = sorted((s for s in steps if s is not issued), key=lambda s: s.field_key)
    return _fold(issued, rest)


def _fold(issued: Step, rest: Sequence[Step]) -> tuple[Interval, ...]:
    state: State = (str(issued.party), Status.IN_CUSTODY.value)
    points = {issued.occurred_at: state}
    for step in rest:
        state = transition(step, state)
        points[max(step.occurred_at, issued.occurred_at)] = state  # replay applies the issue first
    return _intervals(points)


def _intervals(points: Mapping[str, State]) -> tuple[Interval, ...]:
    """Points in time order (the state after everything at each time) -> maximal intervals."""
    changes: list[tuple[str, State]] = []
    for at, state in points.items():
        if not changes or changes[-1][1] != state:
            changes.append((at, state))
    ends = [at for at, _ in changes[1:]]
    return tuple(
        Interval(at, end, *state) for (at, state), end in zip(changes, [*ends, None], strict=True)
    )


class Fold:
    """An item's timeline grown one recording time at a time. Starts from the steps already
    folded (`known`) and the rows still open (interval -> recorded_from), which must be that
    timeline; `add` folds the steps of one recording time and answers the rows it closed."""

    def __init__(
        self, known: Sequence[Step] = (), open_rows: Mapping[Interval, str] | None = None
    ) -> None:
        self.issued = next((s for s in known if s.type == Item.Issued.TOPIC), None)
        self.rest = sorted((s for s in known if s is not self.issued), key=lambda s: s.field_key)
        self.intervals = list(fold_steps(known))
        self.open = dict(open_rows or {})
        if set(self.intervals) != set(self.open):
            raise ValueError("the open rows are not the timeline of the steps known")

    def add(self, recorded_at: str, steps: Sequence[Step]) -> list[IntervalRow]:
        """Fold `steps` (all recorded at `recorded_at`, after every step known): close the open
        rows of intervals the timeline no longer has, open rows of its new ones."""
        removed: set[Interval] = set()
        added: set[Interval] = set()
        for step in steps:
            for interval, gone in self._step(step):
                _toggle(interval, gone, removed, added)
        closed = [IntervalRow(i, self.open.pop(i), recorded_at) for i in removed]
        self.open.update(dict.fromkeys(added, recorded_at))
        return closed

    def open_rows(self) -> list[IntervalRow]:
        return [IntervalRow(i, since, None) for i, since in self.open.items()]

    def _step(self, step: Step) -> list[tuple[Interval, bool]]:
        """Fold one step; answers the (interval, removed?) changes of the timeline."""
        if step.type == Item.Issued.TOPIC and self.issued is None:
            self.issued = step
            return self._recompute()
        if self.issued is not None and (not self.rest or step.field_key > self.rest[-1].field_key):
            self.rest.append(step)
            return self._extend(step)
        insort(self.rest, step, key=lambda s: s.field_key)
        return self._recompute()

    def _extend(self, step: Step) -> list[tuple[Interval, bool]]:
        """A step after every other in field order changes the last interval only."""
        assert self.issued is not None
        last = self.intervals[-1]
        state = transition(step, last.state)
        at = max(step.occurred_at, self.issued.occurred_at)
        if state == last.state:
            return []
        if at > last.valid_from:
            new = [Interval(last.valid_from, at, *last.state), Interval(at, None, *state)]
            self.intervals[-1:] = new
            return [(last, True), *((i, False) for i in new)]
        before = self.intervals[-2] if len(self.intervals) > 1 else None
        if before is not None and before.state == state:  # the change at `at` is undone
            merged = Interval(before.valid_from, None, *state)
            self.intervals[-2:] = [merged]
            return [(before, True), (last, True), (merged, False)]
        replaced = Interval(last.valid_from, None, *state)
        self.intervals[-1] = replaced
        return [(last, True), (replaced, False)]

    def _recompute(self) -> list[tuple[Interval, bool]]:
        old = set(self.intervals)
        self.intervals = list(_fold(self.issued, self.rest)) if self.issued is not None else []
        new = set(self.intervals)
        return [(i, True) for i in old - new] + [(i, False) for i in new - old]


def _toggle(interval: Interval, gone: bool, removed: set[Interval], added: set[Interval]) -> None:
    """Net changes within one recording time: an interval opened and closed in it never was."""
    undo, do = (added, removed) if gone else (removed, added)
    if interval in undo:
        undo.remove(interval)
    else:
        do.add(interval)


def by_recording(steps: Iterable[Step]) -> list[tuple[str, list[Step]]]:
    """Steps grouped by recording time, in recording order."""
    ordered = sorted(steps, key=lambda s: s.recorded_at)
    return [(at, list(group)) for at, group in groupby(ordered, key=lambda s: s.recorded_at)]


def known_intervals(
    entries: Sequence[ItemEntry], *, since: str | None, open_rows: Mapping[Interval, str]
) -> list[IntervalRow]:
    """The item's interval rows over recording time: at each recording time of `entries` from
    `since` on (all if None), the timeline of the entries recorded by then. `open_rows` (interval ->
    recorded_from) are the runs still open before `since`."""
    steps = [e.step() for e in entries]
    fold = Fold([s for s in steps if since is not None and s.recorded_at < since], open_rows)
    rows: list[IntervalRow] = []
    for recorded, group in by_recording(
        s for s in steps if since is None or s.recorded_at >= since
    ):
        rows.extend(fold.add(recorded, group))
    return rows + fold.open_rows()
