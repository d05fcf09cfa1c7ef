"""Checks of a log from outside it: `custody verify`, evidence bundles and their offline check,
receipts, head proofs, monitoring and trusted checkpoints.
"""

from __future__ import annotations

from ledger.verification.client_state import (
    ClientState,
    max_merge_delay,
    state_dir,
)
from ledger.verification.evidence import (
    dump_bundle,
    stream_bundle,
)
from ledger.verification.evidence_check import (
    describe,
    entry_detail,
    load_bundle,
    verify_bundle,
)
from ledger.verification.misbehaviour import (
    check_misbehaviour,
    load_misbehaviour,
)
from ledger.verification.monitor import (
    monitor_step,
)
from ledger.verification.receipt_check import (
    ReceiptSource,
    check_receipts,
)
from ledger.verification.trusted import (
    split_notes,
    trusted_checkpoints,
)

__all__ = [
    "ClientState",
    "ReceiptSource",
    "check_misbehaviour",
    "check_receipts",
    "describe",
    "dump_bundle",
    "entry_detail",
    "load_bundle",
    "load_misbehaviour",
    "max_merge_delay",
    "monitor_step",
    "split_notes",
    "state_dir",
    "stream_bundle",
    "trusted_checkpoints",
    "verify_bundle",
]
