"""An item's standing at a glance, from its findings, and the selections of the dashboard's lists
(docs/dashboard.md). Plain data: the pages only show what these functions decide.

The standing names the gravest thing the findings say, in this order: `diverted` (custody given
to, or the item seen with, a party its agreement does not authorize, and not back), `unaccounted
for` (any other finding that makes it so: a loss, an item not presented), `failed inspection`,
`inspection overdue`, `findings` (only findings that do not change custody: a late loss report, a
poor serial), else `in order`. Its severity is the gravest of all the item's findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger.domain import InvalidInput
from policies.engine import ItemAccount
from policies.findings import Finding, Severity

RULE_NAMES = (
    "diversion",
    "lost",
    "failed_inspection",
    "inspection_overdue",
    "late_loss_report",
    "late_discovery",
    "after_disposal",
    "after_loss",
    "missing_serial",
    "duplicate_serial",
    "disposal_unverified",
    "trace_unanswered",
)
"""Every rule a finding may name (policies/rules.py, policies/traces.py), gravest story first."""
SHOWN = ("unaccounted", "accounted", "all")
STATUSES = ("in_custody", "lost", "disposed")


@dataclass(frozen=True)
class Standing:
    label: str
    severity: Severity | None
    findings: tuple[Finding, ...]
    """The findings the label rests on."""

    @property
    def css(self) -> str:
        return self.label.replace(" ", "-")


def gravest(findings: Iterable[Finding]) -> Severity | None:
    return min((f.severity for f in findings), key=list(Severity).index, default=None)


def standing(account: ItemAccount) -> Standing:
    found = account.findings
    severity = gravest(found)
    for label, chosen in (
        ("diverted", [f for f in found if f.rule == "diversion" and f.unaccounted]),
        ("unaccounted for", list(account.reasons)),
        ("failed inspection", [f for f in found if f.rule == "failed_inspection"]),
        ("inspection overdue", [f for f in found if f.rule == "inspection_overdue"]),
        ("findings", list(found)),
    ):
        if chosen:
            return Standing(label, severity, tuple(chosen))
    return Standing("in order", None, ())


@dataclass(frozen=True)
class Selection:
    """Which items a list shows and which of their findings: `show` the unaccounted items (their
    reasons), the accounted-for ones or all (every finding); `reason` and `severity` keep the items
    with such a finding among those, and only those findings; `status` the items' status."""

    show: str = "unaccounted"
    reason: str | None = None
    severity: str | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        _one_of("show", self.show, SHOWN)
        _one_of("reason", self.reason, RULE_NAMES)
        _one_of("severity", self.severity, tuple(s.value for s in Severity))
        _one_of("status", self.status, STATUSES)

    def rows(self, accounts: Iterable[ItemAccount]) -> list[tuple[ItemAccount, list[Finding]]]:
        """(item, the findings shown with it) for each item selected, in the order given."""
        chosen = []
        for account in accounts:
            if self._wanted(account):
                findings = [f for f in self._findings(account) if self._matches(f)]
                if findings or not (self.reason or self.severity):
                    chosen.append((account, findings))
        return chosen

    def _wanted(self, account: ItemAccount) -> bool:
        if self.status and account.status != self.status:
            return False
        return self.show == "all" or account.unaccounted == (self.show == "unaccounted")

    def _findings(self, account: ItemAccount) -> Sequence[Finding]:
        return account.reasons if self.show == "unaccounted" else account.findings

    def _matches(self, finding: Finding) -> bool:
        if self.reason and finding.rule != self.reason:
            return False
        return not self.severity or finding.severity.value == self.severity


def _one_of(name: str, value: str | None, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
