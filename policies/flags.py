"""Findings put on record as flags, and the flags listed with their resolutions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ledger.access import Actor
from ledger.application import Ledger
from policies.findings import Finding


@dataclass(frozen=True)
class FlagView:
    finding: Finding
    raised: bool
    resolution: dict[str, str] | None

    @property
    def open(self) -> bool:
        return self.resolution is None


def raise_findings(ledger: Ledger, findings: Iterable[Finding], *, actor: Actor) -> int:
    """Raise every finding not raised yet; answers how many were new."""
    raised = 0
    for f in findings:
        recorded = ledger.raise_flag(
            flag_id=f.finding_id, rule=f.rule, item_id=f.item_id, severity=f.severity.value,
            since=f.since, evidence=f.evidence, detail=f.detail, actor=actor,
        )
        raised += recorded is not None
    return raised


def flag_views(ledger: Ledger, findings: Iterable[Finding]) -> list[FlagView]:
    views = []
    for f in findings:
        flag = ledger.flag(f.finding_id)
        views.append(FlagView(f, flag is not None, flag.resolution if flag else None))
    return views
