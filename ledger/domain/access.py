"""Who may do what: the role table the Ledger enforces on every command (docs/api.md, "Roles").

This is the coarse table (role x action). The rules that need the item are checked in the Ledger
next to the command: a partner writes only for items it or its units hold (HOLDER_ACTIONS), and
records recoveries only by itself or its units; a partner's own inspection is a self-report; a
supplier issues only under its own agreements; an entry is corrected only by whoever recorded it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledger.domain.errors import Unauthorised
from ledger.domain.parties import PartyKind
from ledger.domain.tokens import Role

OPERATOR = "operator"
"""The party id of the ledger's operator, registered by `Ledger.bootstrap`."""


class Action(StrEnum):
    REGISTER_PARTY = "register_party"
    CONCLUDE_AGREEMENT = "conclude_agreement"
    GRANT_TOKEN = "grant_token"  # noqa: S105 - an action name, not a secret
    REVOKE_TOKEN = "revoke_token"  # noqa: S105 - an action name, not a secret
    MANAGE_KEYS = "manage_keys"
    ISSUE = "issue"
    TRANSFER = "transfer"
    RECEIVE = "receive"
    INSPECT = "inspect"
    REPORT_LOST = "report_lost"
    RECOVER = "recover"
    SIGHT = "sight"
    DISPOSE = "dispose"
    CORRECT = "correct"
    RAISE_FLAG = "raise_flag"
    RESOLVE_FLAG = "resolve_flag"
    COUNT = "count"  # a serial-number inventory (ledger/domain/inventories.py)
    TRACE = "trace"  # a trace request (ledger/domain/traces.py)
    ANSWER_TRACE = "answer_trace"  # by the trace's addressee only, whatever its role
    READ = "read"


_EVERYONE = frozenset({Action.READ, Action.MANAGE_KEYS, Action.REVOKE_TOKEN, Action.ANSWER_TRACE})
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.SUPPLIER: _EVERYONE | {Action.ISSUE, Action.CORRECT, Action.COUNT},
    Role.PARTNER: _EVERYONE
    | {
        Action.TRANSFER,
        Action.RECEIVE,
        Action.INSPECT,
        Action.REPORT_LOST,
        Action.RECOVER,
        Action.DISPOSE,
        Action.CORRECT,
    },
    Role.INSPECTOR: _EVERYONE | {Action.INSPECT, Action.SIGHT, Action.CORRECT, Action.COUNT},
    Role.OVERSIGHT: _EVERYONE
    | {Action.RAISE_FLAG, Action.RESOLVE_FLAG, Action.COUNT, Action.TRACE},
    Role.INVESTIGATOR: _EVERYONE
    | {Action.SIGHT, Action.CORRECT, Action.RESOLVE_FLAG, Action.TRACE},
}
# The item writes a party can sign (docs/signing.md); CUSTODY_SIGNED_ROLES applies to these only, so
# a party can always rotate its own keys and revoke its own tokens.
SIGNABLE = frozenset(
    {
        Action.ISSUE,
        Action.TRANSFER,
        Action.RECEIVE,
        Action.INSPECT,
        Action.REPORT_LOST,
        Action.RECOVER,
        Action.SIGHT,
        Action.DISPOSE,
        Action.CORRECT,
    }
)
HOLDER_ACTIONS = frozenset(
    {Action.TRANSFER, Action.RECEIVE, Action.INSPECT, Action.REPORT_LOST, Action.DISPOSE}
)
KIND_ROLES: dict[PartyKind, frozenset[Role]] = {
    PartyKind.OPERATOR: frozenset({Role.ADMIN}),
    PartyKind.SUPPLIER: frozenset({Role.SUPPLIER}),
    PartyKind.RECIPIENT: frozenset({Role.PARTNER}),
    PartyKind.INSPECTOR: frozenset({Role.INSPECTOR}),
    PartyKind.OVERSIGHT: frozenset({Role.OVERSIGHT}),
    PartyKind.INVESTIGATOR: frozenset({Role.INVESTIGATOR}),
}


@dataclass(frozen=True)
class Actor:
    """An authenticated caller: the party it acts for and the role its token grants."""

    party: str
    role: Role

    def require(self, action: Action) -> None:
        if action not in PERMISSIONS[self.role]:
            raise Unauthorised(f"role {self.role.value} may not {action.value.replace('_', ' ')}")
