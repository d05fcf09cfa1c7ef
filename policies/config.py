"""Policy thresholds: documented defaults (docs/policies.md, each tied to its source), overridable
by a TOML policy file:

    [inspections]
    interval_days = 92          # quarterly serial inventory
    [inspections.sensitive]
    categories = ["launcher", "night_vision"]
    initial_days = 90           # initial inventory after issue
    interval_days = 365         # then annual
    [losses]
    report_within_days = 30
    discovery_gap_days = 92
    [disposals]
    min_witnesses = 2
    [emphasis]                  # the dashboard's emphasis of a recipient's rates
    accountability_warn_below = 0.98
    accountability_alert_below = 0.9
    delinquency_warn_above = 0.1
    delinquency_alert_above = 0.25
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ledger.domain import Category, InvalidInput

SENSITIVE_DEFAULT = frozenset({"launcher", "night_vision"})
RATES = frozenset(
    {
        "accountability_warn_below",
        "accountability_alert_below",
        "delinquency_warn_above",
        "delinquency_alert_above",
    }
)
"""Settings that are fractions from 0 to 1, not days or counts."""


@dataclass(frozen=True)
class Emphasis:
    """When a recipient's rates are shown with emphasis: `warn`, then `alert`. No finding depends
    on them, so they are not part of the policy's fingerprint (policies/accounts.py)."""

    accountability_warn_below: float = 0.98
    accountability_alert_below: float = 0.90
    delinquency_warn_above: float = 0.10
    delinquency_alert_above: float = 0.25

    def accountability(self, rate: float) -> str | None:
        if rate < self.accountability_alert_below:
            return "alert"
        return "warn" if rate < self.accountability_warn_below else None

    def delinquency(self, rate: float) -> str | None:
        if rate > self.delinquency_alert_above:
            return "alert"
        return "warn" if rate > self.delinquency_warn_above else None


@dataclass(frozen=True)
class PolicyConfig:
    inspection_interval_days: int = 92
    sensitive_categories: frozenset[str] = SENSITIVE_DEFAULT
    sensitive_initial_days: int = 90
    sensitive_interval_days: int = 365
    loss_report_within_days: int = 30
    discovery_gap_days: int = 92
    disposal_min_witnesses: int = 2
    trace_answer_days: int = 28
    emphasis: Emphasis = Emphasis()


TOML_KEYS: dict[tuple[str, ...], str] = {
    ("inspections", "interval_days"): "inspection_interval_days",
    ("inspections", "sensitive", "categories"): "sensitive_categories",
    ("inspections", "sensitive", "initial_days"): "sensitive_initial_days",
    ("inspections", "sensitive", "interval_days"): "sensitive_interval_days",
    ("losses", "report_within_days"): "loss_report_within_days",
    ("losses", "discovery_gap_days"): "discovery_gap_days",
    ("disposals", "min_witnesses"): "disposal_min_witnesses",
    ("traces", "answer_days"): "trace_answer_days",
    **{("emphasis", name): name for name in RATES},
}


def load_policy(path: str | Path | None) -> PolicyConfig:
    """The defaults, changed by whatever the policy file sets; unknown keys are refused."""
    if path is None:
        return PolicyConfig()
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InvalidInput(f"policy file {path}: {error}") from None
    settings = _settings(document, ())
    rates = {name: settings.pop(name) for name in RATES & set(settings)}
    return replace(PolicyConfig(), emphasis=replace(Emphasis(), **rates), **settings)


def _settings(table: dict[str, Any], prefix: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in table.items():
        path = (*prefix, key)
        is_table = path not in TOML_KEYS and any(k[: len(path)] == path for k in TOML_KEYS)
        if isinstance(value, dict) and is_table:
            found |= _settings(value, path)
        elif path in TOML_KEYS:
            found[TOML_KEYS[path]] = _typed(TOML_KEYS[path], value, ".".join(path))
        else:
            raise InvalidInput(f"policy file: unknown setting {'.'.join(path)}")
    return found


def _typed(name: str, value: Any, where: str) -> Any:
    if name == "sensitive_categories":
        known = {c.value for c in Category}
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"policy file: {where} must be a list of category names")
        unknown = sorted(set(value) - known)
        if unknown:
            raise InvalidInput(
                f"policy file: {where} names unknown categories: {', '.join(unknown)}"
            )
        return frozenset(value)
    if name in RATES:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise InvalidInput(f"policy file: {where} must be a fraction from 0 to 1")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"policy file: {where} must be a whole number of days or a count >= 0")
    return value
