"""The map of heads: a sparse Merkle tree from every aggregate id to its newest log entry
(docs/verification.md, section 9).

The log proves what it holds; it cannot show that it holds nothing *more* about an item. The map
can: its root, committed in the log before each checkpoint (ledger/integrity/maproots.py), binds
every
aggregate to its head, so a proof from the map shows that version V at log index i is the item's
last entry up to that point (a log-backed map, as in Trillian's design; the shape is the sparse
Merkle tree of Laurie and Kasper's "Revocation Transparency", with subtrees of one head shortened
to that head, as in Diem's Jellyfish Merkle tree).

- Key: K = SHA-256(aggregate id as lower-case UUID text), 256 bits, most significant bit first.
- Head: `HEAD_LEAF || K || leaf hash || uint64 log index || uint64 version` (big-endian), hashed.
- A subtree (all keys sharing a prefix of d bits) hashes to EMPTY if it holds no head, to its one
  head's hash if it holds one, and to SHA-256(MAP_NODE || left || right) if it holds more.
- A proof for K: the siblings along K's path from the root down to the first subtree that holds at
  most one head, and what that subtree holds (nothing, K's head, or another key's head).

`HeadMap` keeps the heads in memory (sorted keys) and caches the hashes of large subtrees, so a
commit after k changed heads costs O(k log n) hashes. Verification needs no map: `root_from_proof`.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

from ledger.domain.errors import ProofError

KEY_BITS = 256
EMPTY = bytes(32)
HEAD_LEAF, MAP_NODE = b"\x02", b"\x03"
"""Prefixes apart from the log's 0x00 (leaf) and 0x01 (node): no map hash is ever a log hash."""
CACHE_AT_LEAST = 32
"""Subtrees holding at least this many heads keep their hash between commits."""


@dataclass(frozen=True)
class Head:
    """An aggregate's newest entry: its version, log index and leaf hash."""

    aggregate_id: UUID
    version: int
    log_index: int
    leaf_hash: bytes

    @property
    def key(self) -> int:
        return map_key(self.aggregate_id)

    def hash(self) -> bytes:
        return head_hash(self.key, self.leaf_hash, self.log_index, self.version)


@dataclass(frozen=True)
class MapProof:
    """Siblings from the root down (`siblings[d]` is the other child at depth d + 1) and what the
    subtree at depth len(siblings) on the key's path holds: None, or one head."""

    key: int
    siblings: tuple[bytes, ...]
    found: Head | None

    def head_of(self, aggregate_id: UUID) -> Head | None:
        """The proven head of `aggregate_id`, or None if the proof shows it has none."""
        found = self.found
        return found if found is not None and found.aggregate_id == aggregate_id else None


def map_key(aggregate_id: UUID) -> int:
    return int.from_bytes(hashlib.sha256(str(aggregate_id).encode("ascii")).digest(), "big")


def head_hash(key: int, leaf_hash: bytes, log_index: int, version: int) -> bytes:
    return hashlib.sha256(
        HEAD_LEAF
        + key.to_bytes(32, "big")
        + leaf_hash
        + log_index.to_bytes(8, "big")
        + version.to_bytes(8, "big")
    ).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(MAP_NODE + left + right).digest()


def bit(key: int, depth: int) -> int:
    """The key's bit at `depth` (0 is the most significant)."""
    return (key >> (KEY_BITS - 1 - depth)) & 1


def root_from_proof(aggregate_id: UUID, proof: MapProof) -> bytes:
    """The root `proof` leads to for `aggregate_id`; ProofError if it cannot be a proof for it."""
    key = map_key(aggregate_id)
    depth = len(proof.siblings)
    if proof.key != key or depth > KEY_BITS:
        raise ProofError(f"the map proof is not for {aggregate_id}")
    digest = EMPTY
    if proof.found is not None:
        if proof.found.key >> (KEY_BITS - depth) != key >> (KEY_BITS - depth):
            raise ProofError("the head a map proof ends at is not on the key's path")
        digest = proof.found.hash()
    for level in range(depth - 1, -1, -1):
        sibling = proof.siblings[level]
        digest = node_hash(sibling, digest) if bit(key, level) else node_hash(digest, sibling)
    return digest


def verify_head(aggregate_id: UUID, proof: MapProof, root: bytes) -> Head | None:
    """The aggregate's head under `root` (None: it has no entry), or ProofError."""
    got = root_from_proof(aggregate_id, proof)
    if got != root:
        raise ProofError(
            f"the map proof for {aggregate_id} leads to another root",
            expected=root.hex(),
            got=got.hex(),
        )
    return proof.head_of(aggregate_id)


class HeadMap:
    """Every aggregate's head, and the map's root and proofs over them."""

    def __init__(self, heads: Iterable[Head] = ()) -> None:
        self._heads: dict[int, Head] = {}
        self._keys: list[int] = []
        self._fresh: list[int] = []
        self._cache: dict[tuple[int, int], bytes] = {}
        self._cached_depth = 0
        self.update(heads)

    def __len__(self) -> int:
        return len(self._heads)

    def get(self, aggregate_id: UUID) -> Head | None:
        return self._heads.get(map_key(aggregate_id))

    def update(self, heads: Iterable[Head]) -> None:
        """Set each head (a newer version replaces the aggregate's older one)."""
        for head in heads:
            key = head.key
            if key not in self._heads:
                self._fresh.append(key)
            self._heads[key] = head
            self._forget_path(key)

    def root(self) -> bytes:
        self._sort()
        return self._hash(0, 0, 0, len(self._keys))

    def prove(self, aggregate_id: UUID) -> MapProof:
        """Siblings down `aggregate_id`'s path to the subtree of at most one head."""
        self._sort()
        key = map_key(aggregate_id)
        lo, hi, prefix = 0, len(self._keys), 0
        siblings: list[bytes] = []
        for depth in range(KEY_BITS + 1):
            if hi - lo <= 1:
                found = self._heads[self._keys[lo]] if hi > lo else None
                return MapProof(key, tuple(siblings), found)
            middle = self._split(depth, prefix, lo, hi)
            if bit(key, depth):
                siblings.append(self._hash(depth + 1, prefix << 1, lo, middle))
                lo, prefix = middle, (prefix << 1) | 1
            else:
                siblings.append(self._hash(depth + 1, (prefix << 1) | 1, middle, hi))
                hi, prefix = middle, prefix << 1
        raise AssertionError("two heads cannot share a 256-bit key")  # pragma: no cover

    def _hash(self, depth: int, prefix: int, lo: int, hi: int) -> bytes:
        """The hash of the subtree at `prefix` (`depth` bits), whose keys are _keys[lo:hi]."""
        if hi - lo == 0:
            return EMPTY
        if hi - lo == 1:
            return self._heads[self._keys[lo]].hash()
        cached = self._cache.get((depth, prefix))
        if cached is not None:
            return cached
        middle = self._split(depth, prefix, lo, hi)
        digest = node_hash(
            self._hash(depth + 1, prefix << 1, lo, middle),
            self._hash(depth + 1, (prefix << 1) | 1, middle, hi),
        )
        if hi - lo >= CACHE_AT_LEAST:
            self._cache[(depth, prefix)] = digest
            self._cached_depth = max(self._cached_depth, depth)
        return digest

    def _split(self, depth: int, prefix: int, lo: int, hi: int) -> int:
        """The first index in [lo, hi) whose key has bit `depth` set."""
        first_right = ((prefix << 1) | 1) << (KEY_BITS - 1 - depth)
        return bisect_left(self._keys, first_right, lo, hi)

    def _forget_path(self, key: int) -> None:
        """Drop the cached hashes of the subtrees on `key`'s path (they hold it)."""
        if self._cache:
            for depth in range(self._cached_depth + 1):
                self._cache.pop((depth, key >> (KEY_BITS - depth)), None)

    def _sort(self) -> None:
        """Merge the keys added since the last root or proof into the sorted keys (two sorted
        runs: Python's sort merges them in linear time)."""
        if self._fresh:
            self._fresh.sort()
            self._keys += self._fresh
            self._keys.sort()
            self._fresh = []


def heads_of(rows: Sequence[tuple[int, UUID, int, bytes]]) -> list[Head]:
    """Heads from log rows (log index, aggregate id, version, leaf hash), later rows winning."""
    return [Head(aggregate_id, version, index, leaf) for index, aggregate_id, version, leaf in rows]
