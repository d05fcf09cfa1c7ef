"""The Ledger, one method per use case, with its write path, registry, read scopes and keys, and
`open_ledger`, the one place it is wired from configuration.
"""

from __future__ import annotations

from ledger.application import directory, lists
from ledger.application.ledger import (
    Ledger,
)
from ledger.application.scope import (
    ReadScope,
    recipient_for,
)
from ledger.application.wiring import (
    log_key,
    open_ledger,
)
from ledger.application.writes import (
    Recorded,
)

__all__ = [
    "Ledger",
    "ReadScope",
    "Recorded",
    "directory",
    "lists",
    "log_key",
    "open_ledger",
    "recipient_for",
]
