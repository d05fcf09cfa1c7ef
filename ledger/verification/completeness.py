"""Step 6 of `custody verify-evidence`: the bundle holds every entry, up to its checkpoint, of the
item, of its agreement and of every party whose key signed one of its entries (docs/verification.md,
sections 7 and 9).

The checkpoint's last entry is a map root (ledger/integrity/maproots.py) committing every
aggregate's head
before it. Each required aggregate's head is proven from that root (ledger/integrity/heads.py); the
bundle's
entries of it must then run from version 1 to exactly the head's version, ending at the head's log
index and leaf hash. A bundle that drops the last entry (say, the loss report) or a key revocation
is refused, naming the index that is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from ledger.domain.errors import InvalidInput, ProofError
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint
from ledger.integrity.heads import Head, verify_head
from ledger.integrity.maproots import committed
from ledger.verification.headproofs import proof_from_json

Proved = Any
"""ledger.verification.evidence_check.Proved: an entry proven included in the checkpoint
(log_index, entry,
body); typed loosely here to keep the two modules from importing each other."""


def check_complete(
    bundle: Mapping[str, Any],
    checkpoint: Checkpoint,
    prove: Callable[[Mapping[str, Any]], Proved],
    required: Mapping[str, Sequence[Proved]],
) -> int:
    """Each aggregate of `required` (id -> its entries in the bundle) is complete up to the map
    root at the end of `checkpoint`; answer the number of entries that map root covers."""
    covered, root = _map_root(prove(bundle["map_root"]), checkpoint)
    proofs = {str(raw["aggregate_id"]): raw["proof"] for raw in bundle["heads"]}
    for aggregate_id, entries in required.items():
        if aggregate_id not in proofs:
            raise ProofError(
                f"the bundle lacks the head proof of {aggregate_id}",
                expected="a head proof for the item, its agreement and every signer",
                got="none",
            )
        head = _verified_head(UUID(aggregate_id), proofs[aggregate_id], root)
        _require_up_to(aggregate_id, entries, head, checkpoint.size)
    return covered


def _map_root(entry: Proved, checkpoint: Checkpoint) -> tuple[int, bytes]:
    """The checkpoint's last entry, which must be a map root covering every entry before it."""
    commit = committed(entry.body)
    last = checkpoint.size - 1
    if entry.log_index != last or commit is None or commit[0] != last:
        raise ProofError(
            "the checkpoint does not end with a map root covering the log before it",
            position=entry.log_index,
            expected=f"a map root of size {last} at entry {last}",
            got=f"entry {entry.log_index}" + (f" of size {commit[0]}" if commit else ""),
        )
    return commit


def _verified_head(aggregate_id: UUID, raw: Mapping[str, Any], root: bytes) -> Head | None:
    try:
        proof = proof_from_json(aggregate_id, raw)
    except (InvalidInput, KeyError, TypeError, ValueError) as error:
        raise ProofError(f"the head proof of {aggregate_id} is malformed ({error})") from None
    return verify_head(aggregate_id, proof, root)


def _require_up_to(
    aggregate_id: str, entries: Sequence[Proved], head: Head | None, size: int
) -> None:
    """The entries must be versions 1 to the head's, the last being the head's entry."""
    have = sorted(entries, key=lambda e: e.body["aggregate_version"])
    if head is None:
        if have:
            raise ProofError(
                f"the map shows no entry of {aggregate_id} before the checkpoint of size {size}",
                position=have[0].log_index,
            )
        return
    last = have[-1] if have else None
    if last is None or last.body["aggregate_version"] < head.version:
        raise ProofError(
            f"the bundle lacks entry {head.log_index} (version {head.version}) of "
            f"{aggregate_id}: the map of heads shows it before the checkpoint of size {size}",
            position=head.log_index,
            expected=f"versions 1 to {head.version}",
            got=f"versions 1 to {last.body['aggregate_version']}" if last else "none",
        )
    if (last.log_index, merkle.leaf_hash(last.entry)) != (head.log_index, head.leaf_hash):
        raise ProofError(
            f"the last entry of {aggregate_id} in the bundle is not its head in the map",
            position=last.log_index,
            expected=f"entry {head.log_index} with leaf hash {head.leaf_hash.hex()}",
            got=f"entry {last.log_index} (version {last.body['aggregate_version']})",
        )
    _require_versions(aggregate_id, have)


def _require_versions(aggregate_id: str, have: Sequence[Proved]) -> None:
    for version, entry in enumerate(have, 1):
        if entry.body["aggregate_version"] != version:
            raise ProofError(
                f"the bundle lacks version {version} of {aggregate_id}",
                position=entry.log_index,
                expected=f"version {version}",
                got=f"version {entry.body['aggregate_version']}",
            )


def entries_by_aggregate(entries: Sequence[Proved]) -> dict[str, list[Proved]]:
    found: dict[str, list[Proved]] = {}
    for entry in entries:
        found.setdefault(str(entry.body["aggregate_id"]), []).append(entry)
    return found
