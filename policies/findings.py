"""What a policy returns: findings, as data (never exceptions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid5

from ledger.ids import NAMESPACE
from ledger.times import format_time


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
    def finding_id(self) -> UUID:
        """The same finding found again (another day, another process) has the same id."""
        return uuid5(NAMESPACE, f"finding:{self.rule}:{self.item_id}:{format_time(self.since)}")
