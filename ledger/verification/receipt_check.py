"""`custody receipts check`: each receipt a client kept, proved to be in the log's checkpoint.

For each kept receipt (ledger/verification/client_state.py), against a checkpoint already checked
for
consistency with the kept one:

1. The receipt verifies with the log key.
2. Its index is beyond the checkpoint's size: pending, unless the maximum merge delay has passed
   since its recorded_at (then `receipt-unincorporated`).
3. The log's inclusion proof for the index leads from the receipt's leaf hash to the checkpoint's
   root: included. The entry the log serves there must hash to that leaf too.
4. Otherwise, if the proof leads there from the hash of the entry the log serves, the log's own
   signed tree holds another entry where it promised this one: `receipt-contradicted`, with the
   entry and the proof in the file, conclusive offline (ledger/verification/misbehaviour.py).
5. Otherwise the log served no entry it can prove: `receipt-unserved`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ledger.domain.errors import CustodyError, ProofError
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint
from ledger.integrity.receipts import EntryReceipt, verify_receipt
from ledger.integrity.signing import Verifier
from ledger.verification.client_state import ClientState

FAILED = frozenset({"invalid", "late", "contradicted", "unserved", "served-otherwise"})


@dataclass(frozen=True)
class ReceiptSource:
    """Where the log's entries and inclusion proofs come from (HTTP for the CLI)."""

    entry: Callable[[int], bytes | None]
    inclusion: Callable[[int, int], list[bytes]]


@dataclass(frozen=True)
class ReceiptResult:
    file: Path
    log_index: int | None
    status: str
    detail: str = ""
    misbehaviour: Path | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILED

    def line(self) -> str:
        index = "?" if self.log_index is None else str(self.log_index)
        evidence = f"; evidence in {self.misbehaviour}" if self.misbehaviour else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"entry {index}: {self.status}{detail}{evidence}"


def check_receipts(
    state: ClientState,
    key: Verifier,
    checkpoint: Checkpoint,
    checkpoint_note: str,
    source: ReceiptSource,
    *,
    now: datetime,
    max_delay: timedelta,
) -> list[ReceiptResult]:
    check = _Check(state, key, checkpoint, checkpoint_note, source, now, max_delay)
    return [check.one(path, note) for path, note in state.receipts(key.name)]


@dataclass
class _Check:
    state: ClientState
    key: Verifier
    checkpoint: Checkpoint
    note: str
    source: ReceiptSource
    now: datetime
    max_delay: timedelta

    def one(self, path: Path, note: str) -> ReceiptResult:
        try:
            receipt = verify_receipt(note, self.key)  # 1.
        except CustodyError as error:
            return ReceiptResult(path, None, "invalid", f"the kept file is no receipt: {error}")
        if receipt.log_index >= self.checkpoint.size:  # 2.
            return self._beyond(path, note, receipt)
        return self._covered(path, note, receipt)

    def _beyond(self, path: Path, note: str, receipt: EntryReceipt) -> ReceiptResult:
        due = datetime.fromisoformat(receipt.recorded_at) + self.max_delay
        if self.now < due:
            return ReceiptResult(path, receipt.log_index, "pending", f"due by {due.isoformat()}")
        evidence = self._write(
            "receipt-unincorporated",
            note,
            f"index {receipt.log_index} is not in the tree of {self.checkpoint.size} entries "
            f"{self.max_delay} after it was recorded",
        )
        return ReceiptResult(path, receipt.log_index, "late", misbehaviour=evidence)

    def _covered(self, path: Path, note: str, receipt: EntryReceipt) -> ReceiptResult:
        index, size, root = receipt.log_index, self.checkpoint.size, self.checkpoint.root_hash
        entry = self.source.entry(index)
        proof = self.source.inclusion(index, size)
        if _leads(receipt.leaf_hash, index, size, proof, root):  # 3.
            if entry is not None and merkle.leaf_hash(entry) == receipt.leaf_hash:
                return ReceiptResult(path, index, "included")
            return ReceiptResult(
                path, index, "served-otherwise", "included, but the log serves other entry bytes"
            )
        if entry is not None and _leads(merkle.leaf_hash(entry), index, size, proof, root):  # 4.
            evidence = self._write(
                "receipt-contradicted",
                note,
                f"the tree of size {size} holds another entry at index {index}",
                entry=entry,
                inclusion_proof=proof,
            )
            return ReceiptResult(path, index, "contradicted", misbehaviour=evidence)
        evidence = self._write(  # 5.
            "receipt-unserved", note, f"no entry with an inclusion proof at index {index}"
        )
        return ReceiptResult(path, index, "unserved", misbehaviour=evidence)

    def _write(self, kind: str, receipt: str, detail: str, **evidence: object) -> Path:
        return self.state.write_misbehaviour(
            kind,
            self.key,
            self.now,
            detail=detail,
            receipt=receipt,
            checkpoint=self.note,
            **evidence,
        )


def _leads(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    try:
        merkle.verify_inclusion(leaf, index, size, proof, root)
    except ProofError:
        return False
    return True
