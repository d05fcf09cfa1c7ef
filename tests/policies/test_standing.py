"""The dashboard's plain decisions (policies/standing.py, policies/config.py's `[emphasis]`): an
item's standing from its findings, the selections of its lists, and the thresholds of emphasis."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from ledger.domain.errors import InvalidInput
from policies.accounts import fingerprint
from policies.config import Emphasis, PolicyConfig, load_policy
from policies.engine import ItemAccount
from policies.findings import Finding, Severity
from policies.standing import Selection, standing

SINCE = datetime(2026, 3, 1, tzinfo=UTC)


def finding(rule: str, severity: Severity, *, unaccounted: bool = False) -> Finding:
    return Finding(rule, uuid4(), severity, SINCE, (1,), f"{rule} found", unaccounted)


def account(*findings: Finding, status: str = "in_custody", serial: str = "S-1") -> ItemAccount:
    return ItemAccount(uuid4(), serial, "rifle", "p", "eua-1", "unit-1", "unit-1", status, findings)


DIVERTED = finding("diversion", Severity.CRITICAL, unaccounted=True)
RETURNED = finding("diversion", Severity.CRITICAL)
LOST = finding("lost", Severity.CRITICAL, unaccounted=True)
FAILED = finding("failed_inspection", Severity.MEDIUM)
OVERDUE = finding("inspection_overdue", Severity.MEDIUM)
LATE = finding("late_loss_report", Severity.LOW)


@pytest.mark.parametrize(
    ("found", "label", "severity"),
    [
        ((OVERDUE, DIVERTED), "diverted", Severity.CRITICAL),
        ((RETURNED, LOST), "unaccounted for", Severity.CRITICAL),
        ((OVERDUE, FAILED), "failed inspection", Severity.MEDIUM),
        ((LATE, OVERDUE), "inspection overdue", Severity.MEDIUM),
        ((LATE,), "findings", Severity.LOW),
        ((), "in order", None),
    ],
    ids=["diverted", "unaccounted", "failed", "overdue", "other", "none"],
)
def test_the_standing_names_the_gravest_story_and_the_gravest_severity(
    found: tuple[Finding, ...], label: str, severity: Severity | None
) -> None:
    result = standing(account(*found))

    assert (result.label, result.severity) == (label, severity)


def test_a_diversion_that_no_longer_makes_the_item_unaccounted_is_not_a_diverted_standing() -> None:
    assert standing(account(RETURNED)).label == "findings"


def test_a_selection_by_reason_keeps_the_items_with_it_and_shows_only_those_findings() -> None:
    lost, overdue, both = account(LOST), account(OVERDUE), account(LOST, OVERDUE)

    chosen = Selection(show="all", reason="inspection_overdue").rows([lost, overdue, both])

    assert chosen == [(overdue, [OVERDUE]), (both, [OVERDUE])]


def test_the_unaccounted_selection_shows_the_reasons_and_the_accounted_one_the_rest() -> None:
    lost, overdue = account(LOST, status="lost"), account(OVERDUE)

    assert Selection().rows([lost, overdue]) == [(lost, [LOST])]
    assert Selection(show="accounted").rows([lost, overdue]) == [(overdue, [OVERDUE])]
    assert Selection(show="all", status="lost").rows([lost, overdue]) == [(lost, [LOST])]
    assert Selection(show="all", severity="critical").rows([lost, overdue]) == [(lost, [LOST])]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("show", "everything", "show must be one of unaccounted, accounted, all, got 'everything'"),
        ("reason", "theft", "reason must be one of diversion, lost,"),
        ("severity", "urgent", "severity must be one of critical, high, medium, low, got 'urgent'"),
        ("status", "stolen", "status must be one of in_custody, lost, disposed, got 'stolen'"),
    ],
)
def test_a_selection_with_an_unknown_value_is_refused_and_names_the_allowed_ones(
    field: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        Selection(**{field: value})


@pytest.mark.parametrize(
    ("rate", "accountability", "delinquency"),
    [
        (1.0, None, "alert"),
        (0.98, None, "alert"),
        (0.95, "warn", "alert"),
        (0.5, "alert", "alert"),
        (0.1, "alert", None),
        (0.2, "alert", "warn"),
        (0.0, "alert", None),
    ],
)
def test_emphasis_warns_then_alerts_past_each_threshold(
    rate: float, accountability: str | None, delinquency: str | None
) -> None:
    emphasis = Emphasis()

    assert (emphasis.accountability(rate), emphasis.delinquency(rate)) == (
        accountability,
        delinquency,
    )


def test_the_policy_file_sets_the_emphasis_without_changing_the_policys_fingerprint(
    tmp_path: Path,
) -> None:
    (tmp_path / "policy.toml").write_text(
        "[emphasis]\naccountability_warn_below = 0.99\ndelinquency_alert_above = 0.5\n"
    )

    config = load_policy(tmp_path / "policy.toml")

    assert config.emphasis == Emphasis(accountability_warn_below=0.99, delinquency_alert_above=0.5)
    assert fingerprint(config) == fingerprint(PolicyConfig())


@pytest.mark.parametrize("value", ["1.5", "-0.1", "true", '"high"'])
def test_an_emphasis_threshold_that_is_not_a_fraction_is_refused(
    tmp_path: Path, value: str
) -> None:
    (tmp_path / "policy.toml").write_text(f"[emphasis]\ndelinquency_warn_above = {value}\n")

    with pytest.raises(InvalidInput, match="delinquency_warn_above must be a fraction from 0 to 1"):
        load_policy(tmp_path / "policy.toml")
