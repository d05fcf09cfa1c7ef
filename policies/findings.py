"""What a policy returns: findings, as data (never exceptions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid5

from ledger.domain import NAMESPACE, format_time

INDEPENDENT_KINDS = ("inspector", "supplier", "oversight", "investigator")
"""The kinds of party independent of the holder (a recipient force and its units): their entries
may clear a finding about the holder's items (docs/policies.md, "Independence")."""


@dataclass(frozen=True)
class Clearing:
    """What may clear a rule's finding: a sentence, and the kinds of party whose entries may (none:
    the finding rests on facts no later entry undoes)."""

    text: str
    kinds: tuple[str, ...] = ()


STANDS = Clearing("nothing: the entries it rests on stand (a correction annotates them)")
CLEARING: dict[str, Clearing] = {
    "lost": Clearing(
        "a recovery recorded by an independent party, or the holder's recovery followed by a"
        " verified inspection by an independent party",
        INDEPENDENT_KINDS,
    ),
    "failed_inspection": Clearing(
        "a later verified inspection by an independent party (a self-report clears only the"
        " holder's own failed self-reports)",
        INDEPENDENT_KINDS,
    ),
    "inspection_overdue": Clearing(
        "a verified inspection by an independent party; a self-report does not count",
        INDEPENDENT_KINDS,
    ),
    "diversion": Clearing(
        "for a sighting, a later verified inspection by an independent party; for custody given"
        " to an unauthorized party, its return to an authorized holder",
        INDEPENDENT_KINDS,
    ),
}


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Finding:
    """A rule's finding about one item: since when it holds, and the log entries that prove it."""

    rule: str
    item_id: UUID
    severity: Severity
    since: datetime
    evidence: tuple[int, ...]
    detail: str
    unaccounted: bool = False
    """True when this finding makes the item unaccounted for as of the date asked about."""

    @property
    def cleared_by(self) -> str:
        """What may clear this finding (docs/policies.md, "What clears a finding")."""
        return CLEARING.get(self.rule, STANDS).text

    @property
    def cleared_by_kinds(self) -> tuple[str, ...]:
        """The kinds of party whose entries may clear it; empty if nothing does."""
        return CLEARING.get(self.rule, STANDS).kinds

    @property
    def finding_id(self) -> UUID:
        """The same finding found again (another day, another process) has the same id."""
        return uuid5(NAMESPACE, f"finding:{self.rule}:{self.item_id}:{format_time(self.since)}")
