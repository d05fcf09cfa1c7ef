"""`custody verify` two ways: in one process, and with worker processes checking single entries
on batches of a few entries (ledger/verification/pool.py). Tamper tests verify through
`verify_each_way`, so every tamper case the one-process check finds, the parallel check finds
with the same IntegrityFailure (class, message, position, expected, got)."""

from __future__ import annotations

from typing import Any

from ledger.application.ledger import Ledger
from ledger.domain.errors import IntegrityFailure
from ledger.integrity.signing import Verifier
from ledger.verification.verify import Verified, verify_store

PARALLEL = {"workers": 2, "batch": 4}


def verify_each_way(ledger: Ledger, verifier: Verifier, **options: Any) -> Verified:
    """What `ledger.tlog.verify(verifier, **options)` returns or raises, after checking that the
    parallel check returns or raises exactly the same."""
    alone = _outcome(ledger, verifier, workers=0, **options)
    parallel = _outcome(ledger, verifier, **PARALLEL, **options)
    assert _described(parallel) == _described(alone)
    if isinstance(alone, IntegrityFailure):
        raise alone
    return alone


def _outcome(ledger: Ledger, verifier: Verifier, **options: Any) -> Verified | IntegrityFailure:
    try:
        return verify_store(
            ledger.log_store, ledger.mapper, verifier, origin=ledger.origin, **options
        )
    except IntegrityFailure as error:
        return error


def _described(outcome: Verified | IntegrityFailure) -> object:
    if isinstance(outcome, IntegrityFailure):
        return type(outcome), outcome.message, outcome.position, outcome.expected, outcome.got
    return outcome
