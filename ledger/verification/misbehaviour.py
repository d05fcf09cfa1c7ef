"""Misbehaviour files: what a client writes when the log contradicts what it signed before, and
the offline check a third party runs on one with nothing but the log's verifier key.

A file is one JSON object (docs/verification.md, section 11):

    {"format": "custody-misbehaviour/v1", "kind": ..., "origin": ..., "log_key": vkey,
     "detected_at": RFC 3339, "detail": text, ...the evidence of its kind...}

Kinds, and the evidence each holds (notes are the signed notes as served; hashes standard base64):

    fork           "checkpoints": [a, b]: two checkpoints of one size with different roots.
    inconsistent   "checkpoints": [older, newer], "consistency_proof": [...]: the newer is larger,
                   and the proof the log served from the older to it does not verify.
    rollback       "checkpoints": [kept, newer]: the log presented a smaller tree after a larger.
    receipt-contradicted
                   "receipt", "checkpoint", "entry" (base64 of the entry bytes the log served at
                   the receipt's index), "inclusion_proof": the entry is at that index in the
                   checkpoint's tree, and its leaf hash is not the receipt's.
    receipt-unincorporated
                   "receipt", "checkpoint": the checkpoint's tree stops before the receipt's index
                   although the maximum merge delay since the receipt's recorded_at has passed.
    receipt-unserved
                   "receipt", "checkpoint": the checkpoint's tree covers the receipt's index, and
                   the log served no entry there, or none with an inclusion proof to that root.
    receipts-conflict
                   "receipts": [a, b]: two receipts for one index with different leaf hashes.

`check_misbehaviour` verifies every signature with the given key and recomputes every proof, then
answers what the file proves (`Finding`), or raises ProofError (or InvalidInput for a malformed
file) when it proves nothing: a file with one byte changed is refused, never believed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.domain.errors import InvalidInput, ProofError
from ledger.domain.times import format_time
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint, verify_checkpoint
from ledger.integrity.receipts import EntryReceipt, verify_receipt
from ledger.integrity.signing import Verifier, decode_base64, encode_base64

FORMAT = "custody-misbehaviour/v1"
MAX_FILE_BYTES = 4 << 20
KINDS = (
    "fork",
    "inconsistent",
    "rollback",
    "receipt-contradicted",
    "receipt-unincorporated",
    "receipt-unserved",
    "receipts-conflict",
)
Record = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    """What a misbehaviour file proves: `conclusive` if the signed notes and proofs in it alone
    contradict each other; otherwise what the log must still answer to clear itself."""

    kind: str
    conclusive: bool
    statement: str


def misbehaviour_record(
    kind: str,
    *,
    origin: str,
    log_key: Verifier,
    detected_at: datetime,
    detail: str,
    **evidence: Any,
) -> Record:
    """A misbehaviour file's object; byte values in `evidence` become standard base64."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown misbehaviour kind {kind!r}")
    return {
        "format": FORMAT,
        "kind": kind,
        "origin": origin,
        "log_key": log_key.vkey,
        "detected_at": format_time(detected_at),
        "detail": detail,
        **{name: _json_value(value) for name, value in evidence.items()},
    }


def dump_misbehaviour(record: Record) -> bytes:
    return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"


def load_misbehaviour(data: bytes) -> Record:
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"the misbehaviour file is larger than {MAX_FILE_BYTES} bytes")
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidInput(f"the misbehaviour file is not JSON: {error}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise InvalidInput(f"not a {FORMAT} file")
    return record


def check_misbehaviour(record: Mapping[str, Any], log_key: Verifier) -> Finding:
    """What the file proves against the log of `log_key`, checked offline; ProofError if the
    evidence does not show what the file claims."""
    kind = _text(record, "kind")
    origin = _text(record, "origin")
    if origin != log_key.name:
        raise ProofError("the file is about another log", expected=log_key.name, got=origin)
    check = _CHECKS.get(kind)
    if check is None:
        raise InvalidInput(f"unknown misbehaviour kind {kind!r}; expected one of {KINDS}")
    return check(record, log_key)


# One check per kind -------------------------------------------------------------------------------


def _fork(record: Mapping[str, Any], key: Verifier) -> Finding:
    a, b = _checkpoints(record, key)
    if a.size != b.size or a.root_hash == b.root_hash:
        raise ProofError(
            "the checkpoints are no fork",
            expected="one size, two roots",
            got=f"sizes {a.size} and {b.size}, {'equal' if a.root_hash == b.root_hash else 'two'}"
            " roots",
        )
    return Finding(
        "fork",
        True,
        f"the log key signed two different trees of size {a.size}: roots "
        f"{a.root_hash.hex()} and {b.root_hash.hex()}",
    )


def _inconsistent(record: Mapping[str, Any], key: Verifier) -> Finding:
    older, newer = _checkpoints(record, key)
    proof = _hashes(record, "consistency_proof")
    if not 0 < older.size < newer.size:
        raise ProofError(
            "the checkpoints are not an older and a larger newer tree",
            expected="0 < first size < second size",
            got=f"{older.size} and {newer.size}",
        )
    try:
        merkle.verify_consistency(older.size, newer.size, proof, older.root_hash, newer.root_hash)
    except ProofError:
        return Finding(
            "inconsistent",
            False,
            f"the log key signed trees of sizes {older.size} and {newer.size}, and the "
            "consistency proof the log served between them does not verify. Not proof alone: "
            "ask the log for that proof; an honest log can always give one, a forked log never",
        )
    raise ProofError("the consistency proof verifies: the two trees are consistent")


def _rollback(record: Mapping[str, Any], key: Verifier) -> Finding:
    kept, newer = _checkpoints(record, key)
    if newer.size >= kept.size:
        raise ProofError(
            "the second checkpoint is no rollback",
            expected=f"a size below {kept.size}",
            got=str(newer.size),
        )
    return Finding(
        "rollback",
        False,
        f"the log key signed a tree of size {kept.size}, and the log later presented one of "
        f"size {newer.size} as its latest. Not proof alone (the order is the client's word): "
        f"ask the log for a consistency proof from {newer.size} to {kept.size}; if it cannot "
        "give one, it forked",
    )


def _receipt_contradicted(record: Mapping[str, Any], key: Verifier) -> Finding:
    receipt, checkpoint = _receipt_and_checkpoint(record, key)
    entry = decode_base64(_text(record, "entry"), what="entry")
    leaf = merkle.leaf_hash(entry)
    merkle.verify_inclusion(
        leaf,
        receipt.log_index,
        checkpoint.size,
        _hashes(record, "inclusion_proof"),
        checkpoint.root_hash,
    )
    if leaf == receipt.leaf_hash:
        raise ProofError("the entry is the receipt's: no contradiction", position=receipt.log_index)
    return Finding(
        "receipt-contradicted",
        True,
        f"the log key signed a receipt for leaf {receipt.leaf_hash.hex()} at index "
        f"{receipt.log_index}, and a tree of size {checkpoint.size} whose leaf at that index is "
        f"{leaf.hex()} (the entry and its inclusion proof are in the file)",
    )


def _receipt_unincorporated(record: Mapping[str, Any], key: Verifier) -> Finding:
    receipt, checkpoint = _receipt_and_checkpoint(record, key)
    if receipt.log_index < checkpoint.size:
        raise ProofError(
            "the checkpoint includes the receipt's index",
            expected=f"a tree of at most {receipt.log_index} entries",
            got=str(checkpoint.size),
        )
    return Finding(
        "receipt-unincorporated",
        False,
        f"the log key signed a receipt for index {receipt.log_index} recorded at "
        f"{receipt.recorded_at}, and a tree of only {checkpoint.size} entries, which the log "
        f"served as its latest on {_text(record, 'detected_at')}, after the maximum merge delay. "
        "Conclusive once a witness cosigned a checkpoint that size later than the delay",
    )


def _receipt_unserved(record: Mapping[str, Any], key: Verifier) -> Finding:
    receipt, checkpoint = _receipt_and_checkpoint(record, key)
    if receipt.log_index >= checkpoint.size:
        raise ProofError(
            "the checkpoint does not cover the receipt's index",
            expected=f"a tree of more than {receipt.log_index} entries",
            got=str(checkpoint.size),
        )
    return Finding(
        "receipt-unserved",
        False,
        f"the log key signed a receipt for index {receipt.log_index} and a tree of "
        f"{checkpoint.size} entries covering it, and the log served no entry with an inclusion "
        "proof there. Not proof alone: ask the log for the entry and its inclusion proof to "
        "this checkpoint; an honest log can always give them",
    )


def _receipts_conflict(record: Mapping[str, Any], key: Verifier) -> Finding:
    notes = _list(record, "receipts", 2)
    a, b = (verify_receipt(_as_text(note, "receipt"), key) for note in notes)
    if a.log_index != b.log_index or a.leaf_hash == b.leaf_hash:
        raise ProofError(
            "the receipts do not conflict",
            expected="one index, two leaf hashes",
            got=f"indexes {a.log_index} and {b.log_index}",
        )
    return Finding(
        "receipts-conflict",
        True,
        f"the log key signed two receipts for index {a.log_index}: leaves "
        f"{a.leaf_hash.hex()} and {b.leaf_hash.hex()}",
    )


_CHECKS = {
    "fork": _fork,
    "inconsistent": _inconsistent,
    "rollback": _rollback,
    "receipt-contradicted": _receipt_contradicted,
    "receipt-unincorporated": _receipt_unincorporated,
    "receipt-unserved": _receipt_unserved,
    "receipts-conflict": _receipts_conflict,
}


# Reading the file ---------------------------------------------------------------------------------


def _checkpoints(record: Mapping[str, Any], key: Verifier) -> tuple[Checkpoint, Checkpoint]:
    first, second = _list(record, "checkpoints", 2)
    return (
        verify_checkpoint(_as_text(first, "checkpoint"), key),
        verify_checkpoint(_as_text(second, "checkpoint"), key),
    )


def _receipt_and_checkpoint(
    record: Mapping[str, Any], key: Verifier
) -> tuple[EntryReceipt, Checkpoint]:
    return (
        verify_receipt(_text(record, "receipt"), key),
        verify_checkpoint(_text(record, "checkpoint"), key),
    )


def _hashes(record: Mapping[str, Any], name: str) -> list[bytes]:
    values = record.get(name)
    if not isinstance(values, list):
        raise InvalidInput(f"{name} must be a list of base64 hashes")
    return [decode_base64(_as_text(v, name), what=f"{name} hash") for v in values]


def _list(record: Mapping[str, Any], name: str, length: int) -> Sequence[Any]:
    values = record.get(name)
    if not isinstance(values, list) or len(values) != length:
        raise InvalidInput(f"{name} must be a list of {length}")
    return values


def _text(record: Mapping[str, Any], name: str) -> str:
    return _as_text(record.get(name), name)


def _as_text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} is missing or not text")
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return encode_base64(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value
