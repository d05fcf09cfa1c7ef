"""Head proofs: an aggregate's head at a checkpoint, proven from the map root the checkpoint's last
entry commits (docs/verification.md, section 9), and their JSON form.

`MapFollower` keeps the map of heads (ledger/integrity/heads.py) of one log store in memory, caught
up on
demand from the log's rows; a map at an older size is computed afresh from the log.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from ledger.domain.errors import InvalidInput, NotFound, ProofError
from ledger.integrity import merkle
from ledger.integrity.entries import decode_entry
from ledger.integrity.heads import Head, HeadMap, MapProof, heads_of, map_key
from ledger.integrity.maproots import MAP_ID, committed
from ledger.integrity.signing import decode_base64, encode_base64
from ledger.store.log import LogRow, LogStore

PAGE = 10_000


class MapFollower:
    """The map of heads over the first `size` entries of a log store, for any size asked."""

    def __init__(self, store: LogStore) -> None:
        self._store = store
        self._map, self._size = HeadMap(), 0
        self._lock = threading.Lock()

    def root(self, size: int) -> bytes:
        with self._lock:
            return self._at(size).root()

    def prove(self, aggregate_id: UUID, size: int) -> tuple[bytes, MapProof]:
        """The map's root over the first `size` entries and the proof of `aggregate_id`'s head."""
        with self._lock:
            found = self._at(size)
            return found.root(), found.prove(aggregate_id)

    def _at(self, size: int) -> HeadMap:
        if size < self._size:
            return _fold(HeadMap(), self._store, 0, size)
        _fold(self._map, self._store, self._size, size)
        self._size = size
        return self._map


def _fold(heads: HeadMap, store: LogStore, start: int, end: int) -> HeadMap:
    for page in range(start, end, PAGE):
        heads.update(heads_of(store.head_rows(page, min(page + PAGE, end))))
    return heads


def map_root_entry(store: LogStore, size: int) -> LogRow:
    """The newest map-root entry within the first `size` entries (a checkpoint's size)."""
    row = store.last_entry_of(MAP_ID, size)
    if row is None:
        raise NotFound(f"no map root is committed within the first {size} entries")
    return row


def head_proof(
    store: LogStore, heads: MapFollower, aggregate_id: UUID, size: int
) -> dict[str, Any]:
    """`aggregate_id`'s head as of the newest map root within tree size `size`, with the map
    root's entry and inclusion proof to that size and the map proof (or proof of absence)."""
    if not 0 < size <= store.log_size():
        raise InvalidInput(f"tree size {size} is not in the log")
    row = map_root_entry(store, size)
    commit = committed(decode_entry(row.entry))
    assert commit is not None, "the map aggregate holds only map roots"
    covered, root = commit
    computed, proof = heads.prove(aggregate_id, covered)
    if computed != root:
        raise ProofError(
            f"the map root committed at entry {row.log_index} is not the map of the log",
            position=row.log_index,
            expected=computed.hex(),
            got=root.hex(),
        )
    return {
        "aggregate_id": str(aggregate_id),
        "size": size,
        "map_root": proved_entry(store, row, size),
        "proof": proof_json(proof),
    }


def proved_entry(store: LogStore, row: LogRow, size: int) -> dict[str, Any]:
    """An entry with its inclusion proof to tree size `size`."""
    return {
        "log_index": row.log_index,
        "entry": encode_base64(row.entry),
        "inclusion_proof": [
            encode_base64(h) for h in merkle.inclusion_proof(row.log_index, size, store)
        ],
    }


def proved_entries(store: LogStore, rows: Sequence[LogRow], size: int) -> list[dict[str, Any]]:
    """`proved_entry` of each row, the proofs read together (merkle.inclusion_proofs)."""
    proofs = merkle.inclusion_proofs([r.log_index for r in rows], size, store)
    return [
        {
            "log_index": row.log_index,
            "entry": encode_base64(row.entry),
            "inclusion_proof": [encode_base64(h) for h in proof],
        }
        for row, proof in zip(rows, proofs, strict=True)
    ]


def head_json(head: Head) -> dict[str, Any]:
    return {
        "aggregate_id": str(head.aggregate_id),
        "version": head.version,
        "log_index": head.log_index,
        "leaf_hash": encode_base64(head.leaf_hash),
    }


def proof_json(proof: MapProof) -> dict[str, Any]:
    return {
        "siblings": [encode_base64(s) for s in proof.siblings],
        "found": head_json(proof.found) if proof.found is not None else None,
    }


def proof_from_json(aggregate_id: UUID, raw: Mapping[str, Any]) -> MapProof:
    """The proof in `raw` (proof_json's form); InvalidInput if it is malformed."""
    siblings = tuple(_unb64(s, "a map proof sibling") for s in raw["siblings"])
    found = raw["found"]
    head = None
    if found is not None:
        head = Head(
            UUID(str(found["aggregate_id"])),
            _count(found["version"], "version"),
            _count(found["log_index"], "log_index"),
            _unb64(found["leaf_hash"], "a head's leaf hash"),
        )
    return MapProof(map_key(aggregate_id), siblings, head)


def _count(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value < 2**63:
        raise InvalidInput(f"a head's {what} must be a non-negative integer")
    return value


def _unb64(text: Any, what: str) -> bytes:
    decoded = decode_base64(str(text), what=what)
    if len(decoded) != merkle.HASH_SIZE:
        raise InvalidInput(f"{what} must have {merkle.HASH_SIZE} bytes")
    return decoded
