"""Who may do what: the role table the Ledger enforces on every command.

This is the coarse table (role x action). Finer rules that need the item (a partner records
transfers and losses only for items it holds) are checked in the Ledger next to the command.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledger.errors import Unauthorised
from ledger.tokens import Role


class Action(StrEnum):
    REGISTER_PARTY = "register_party"
    CONCLUDE_AGREEMENT = "conclude_agreement"
    GRANT_TOKEN = "grant_token"  # noqa: S105 - an action name, not a secret
    ISSUE = "issue"
    TRANSFER = "transfer"
    INSPECT = "inspect"
    REPORT_LOST = "report_lost"
    RECOVER = "recover"
    SIGHT = "sight"
    DISPOSE = "dispose"
    CORRECT = "correct"
    READ = "read"


_ALL = frozenset(Action)
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: _ALL,
    Role.SUPPLIER: frozenset(
        {Action.ISSUE, Action.TRANSFER, Action.DISPOSE, Action.CORRECT, Action.READ}
    ),
    Role.PARTNER: frozenset(
        {
            Action.TRANSFER,
            Action.INSPECT,
            Action.REPORT_LOST,
            Action.RECOVER,
            Action.DISPOSE,
            Action.CORRECT,
            Action.READ,
        }
    ),
    Role.INSPECTOR: frozenset({Action.INSPECT, Action.SIGHT, Action.READ}),
    Role.OVERSIGHT: frozenset({Action.READ}),
    Role.INVESTIGATOR: frozenset({Action.SIGHT, Action.READ}),
}


@dataclass(frozen=True)
class Actor:
    """An authenticated caller: the party it acts for and the role its token grants."""

    party: str
    role: Role

    def require(self, action: Action) -> None:
        if action not in PERMISSIONS[self.role]:
            raise Unauthorised(f"role {self.role.value} may not {action.value.replace('_', ' ')}")
