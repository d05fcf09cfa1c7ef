"""The Ledger, one method per use case, with its write path, registry, read scopes and keys."""

from __future__ import annotations

from ledger.application import directory
from ledger.application.ledger import (
    OPERATOR,
    Ledger,
    Recorded,
)
from ledger.application.scope import (
    ReadScope,
    recipient_for,
)

__all__ = [
    "OPERATOR",
    "Ledger",
    "ReadScope",
    "Recorded",
    "directory",
    "recipient_for",
]
