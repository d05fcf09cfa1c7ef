"""The one error tree of the ledger.

    CustodyError
    ├── InvalidInput            bad data: a malformed serial, a naive timestamp, a float
    │   └── InvalidTime         dated before the item's issue, or in the future
    ├── NotFound                no such item, party, agreement or log entry
    ├── Unauthenticated         no valid token
    ├── Unauthorised            a valid actor that may not do this
    ├── RuleViolation           the command breaks a custody rule and records nothing
    │   ├── DuplicateItem       an item with this identity was issued already
    │   ├── NotTheHolder        the item is held by someone else
    │   ├── ItemLost            the item is reported lost
    │   ├── ItemNotLost         a recovery of an item that is not lost
    │   ├── ItemDisposed        anything after disposal
    │   └── AlreadyExists       a party or agreement id that is taken
    ├── LimitExceeded           over a bound on keys or writes per item and day (bounds.py)
    ├── Conflict                a concurrent write won; retry
    └── IntegrityFailure        stored bytes do not match what they must (position, expected, got)
        └── ProofError          a proof or signature does not verify

api/errors.py is the only place that maps these to HTTP status codes. Each class carries a
stable machine-readable `code`; the message is for people.
"""

from __future__ import annotations


class CustodyError(Exception):
    code = "custody_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CustodyError):
    code = "invalid_input"


class InvalidTime(InvalidInput):
    code = "invalid_time"


class NotFound(CustodyError):
    code = "not_found"


class Unauthenticated(CustodyError):
    code = "unauthenticated"


class Unauthorised(CustodyError):
    code = "unauthorised"


class RuleViolation(CustodyError):
    code = "rule_violation"


class DuplicateItem(RuleViolation):
    code = "duplicate_item"


class NotTheHolder(RuleViolation):
    code = "not_the_holder"


class ItemLost(RuleViolation):
    code = "item_lost"


class ItemNotLost(RuleViolation):
    code = "item_not_lost"


class ItemDisposed(RuleViolation):
    code = "item_disposed"


class AlreadyExists(RuleViolation):
    code = "already_exists"


class LimitExceeded(CustodyError):
    """A write over one of the bounds of ledger/domain/bounds.py: nothing is recorded."""

    code = "limit_exceeded"


class Conflict(CustodyError):
    code = "conflict"


class IntegrityFailure(CustodyError):
    """Stored or presented bytes are not what they must be.

    `position` names where (a log index, a tree size, a line of a note), `expected` and `got`
    say what was computed and what was found, so the first bad place can be reported exactly.
    """

    code = "integrity_failure"

    def __init__(
        self, message: str, *, position: int | None = None, expected: str = "", got: str = ""
    ) -> None:
        detail = message
        if position is not None:
            detail += f" at position {position}"
        if expected or got:
            detail += f": expected {expected}, got {got}"
        super().__init__(detail)
        self.reason = message
        self.position = position
        self.expected = expected
        self.got = got


class ProofError(IntegrityFailure):
    code = "proof_error"
