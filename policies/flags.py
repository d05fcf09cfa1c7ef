"""Findings put on record as flags, and the flags listed with their resolutions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from uuid import UUID

from ledger.application import Ledger
from ledger.domain import Actor, Flag
from policies.engine import ItemAccount
from policies.findings import Finding, Severity


@dataclass(frozen=True)
class FlagView:
    """A finding and its flag: `holds` says whether the finding still holds on the date asked
    about; a raised flag whose finding no longer holds stays listed, with its resolution."""

    finding: Finding
    raised: bool
    resolution: dict[str, str] | None
    holds: bool = True

    @property
    def open(self) -> bool:
        return self.holds and self.resolution is None


def raise_findings(ledger: Ledger, findings: Iterable[Finding], *, actor: Actor) -> int:
    """Raise every finding not raised yet; answers how many were new."""
    raised = 0
    for f in findings:
        recorded = ledger.raise_flag(
            flag_id=f.finding_id,
            rule=f.rule,
            item_id=f.item_id,
            severity=f.severity.value,
            since=f.since,
            evidence=f.evidence,
            detail=f.detail,
            actor=actor,
        )
        raised += recorded is not None
    return raised


def flag_views(
    ledger: Ledger, findings: Iterable[Finding], *, item_ids: set[UUID] | None = None
) -> list[FlagView]:
    """The current findings with their flags, then the raised flags whose findings no longer hold
    (for the items in `item_ids`, if given)."""
    current = {f.finding_id: f for f in findings}
    views = []
    for f in current.values():
        flag = ledger.flag(f.finding_id)
        views.append(FlagView(f, flag is not None, flag.resolution if flag else None))
    for flag in ledger.raised_flags():
        if flag.id not in current and (item_ids is None or flag.item_id in item_ids):
            views.append(FlagView(_finding_of(flag), True, flag.resolution, holds=False))
    return views


def flag_order(
    accounts: Iterable[ItemAccount], traced: Iterable[Finding]
) -> Callable[[FlagView], tuple[int, int, int, str]]:
    """The order flags are listed in, and the key their pages follow: the findings that hold, by
    item (in the order issued) and then as the rules found them (`accounts`' findings, then
    `traced`); then the raised flags whose findings no longer hold, by item and since when. The
    finding's id makes the key unique."""
    issued: dict[UUID, int] = {}
    rank: dict[UUID, int] = {}
    for a in accounts:
        issued[a.item_id] = a.issued_log_index
        rank |= {f.finding_id: n for n, f in enumerate(a.findings)}
    rank |= {f.finding_id: len(rank) + n for n, f in enumerate(traced)}

    def key(view: FlagView) -> tuple[int, int, int, str]:
        f = view.finding
        then = rank[f.finding_id] if view.holds else int(f.since.timestamp())
        return (0 if view.holds else 1, issued[f.item_id], then, str(f.finding_id))

    return key


def _finding_of(flag: Flag) -> Finding:
    return Finding(
        flag.rule,
        flag.item_id,
        Severity(flag.severity),
        flag.since,
        tuple(flag.evidence),
        flag.detail,
    )
