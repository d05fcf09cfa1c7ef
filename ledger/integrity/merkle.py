"""The Merkle tree of the log: RFC 9162 section 2.1, which restates RFC 6962 section 2.1.

- Hashing (RFC 9162 2.1.1): a leaf is SHA-256(0x00 || entry), a node SHA-256(0x01 || left || right).
- Storage: only complete (perfect) subtrees are stored, keyed (level, index); a node covers the
  leaves [index * 2**level, (index + 1) * 2**level), level 0 holds leaf hashes. A range a proof uses
  is such a node or a right-edge range, whose hash folds its perfect subtrees: a root or a proof at
  any size reads O(log n) nodes in one `read_nodes` call.
- Computation: `root`, `inclusion_proof` (PATH, RFC 9162 2.1.3.1), `consistency_proof` (PROOF and
  SUBPROOF, RFC 9162 2.1.4.1). Nonsense arguments raise InvalidInput.
- Verification needs no storage: `root_from_inclusion_proof`, `verify_inclusion` (RFC 9162 2.1.3.2),
  `verify_consistency` (RFC 9162 2.1.4.2), steps numbered as there; failures raise ProofError. As in
  transparency-dev/merkle, m == 0 is refused and m == n needs an empty proof and equal roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from functools import reduce
from typing import Protocol

from ledger.domain.errors import IntegrityFailure, InvalidInput, ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Key = tuple[int, int]
Node = tuple[int, int, bytes]
Range = tuple[int, int]


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class NodeReader(Protocol):
    def read_nodes(self, keys: Sequence[Key]) -> Mapping[Key, bytes]:
        """The hash of every (level, index) asked for; IntegrityFailure if one is missing."""


class MemoryNodeStore:
    """Complete subtree hashes in a dict; `calls` counts `read_nodes` calls."""

    def __init__(self) -> None:
        self.nodes: dict[Key, bytes] = {}
        self.calls = 0

    def add(self, nodes: Iterable[Node]) -> None:
        self.nodes.update(((level, index), digest) for level, index, digest in nodes)

    def read_nodes(self, keys: Sequence[Key]) -> Mapping[Key, bytes]:
        self.calls += 1
        return _require_all(keys, {key: self.nodes[key] for key in keys if key in self.nodes})


def nodes_to_append(size: int, leaf_hashes: Sequence[bytes], read: NodeReader) -> list[Node]:
    """Every node that appending `leaf_hashes` to a tree of `size` completes, leaves included."""
    if size < 0:
        raise InvalidInput(f"tree size {size} is negative")
    if any(len(digest) != HASH_SIZE for digest in leaf_hashes):
        raise InvalidInput(f"every leaf hash must have {HASH_SIZE} bytes")
    end = size + len(leaf_hashes)
    waiting = [key for key in _subtrees(0, size) if (key[1] + 2) << key[0] <= end]
    frontier = dict(_read(read, waiting))
    nodes: list[Node] = []
    for offset, digest in enumerate(leaf_hashes):
        nodes += _complete(size + offset, digest, frontier)
    return nodes


def frontier_keys(size: int) -> list[Key]:
    """The perfect subtrees tiling a tree of `size` (its right edge): all a root or append needs."""
    return _subtrees(0, size)


def root(size: int, read: NodeReader) -> bytes:
    """MTH(D[size]) (RFC 9162 2.1.1)."""
    if size < 0:
        raise InvalidInput(f"tree size {size} is negative")
    return _range_hashes([(0, size)], read)[0] if size else EMPTY_ROOT


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 2.1.3.1), from the leaf's sibling up."""
    if not 0 <= index < size:
        raise InvalidInput(f"leaf index {index} is not in a tree of size {size}")
    return _range_hashes(_path_ranges(index, size), read)


def inclusion_proofs(indexes: Sequence[int], size: int, read: NodeReader) -> list[list[bytes]]:
    """`inclusion_proof` of each index, from one read of every node they need (a page of an
    item's evidence entries: one query instead of one a proof)."""
    for index in indexes:
        if not 0 <= index < size:
            raise InvalidInput(f"leaf index {index} is not in a tree of size {size}")
    paths = [_path_ranges(index, size) for index in indexes]
    hashes = _range_hashes([r for path in paths for r in path], read)
    proofs, start = [], 0
    for path in paths:
        proofs.append(hashes[start : start + len(path)])
        start += len(path)
    return proofs


def consistency_proof(m: int, n: int, read: NodeReader) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 9162 2.1.4.1); empty when m == n."""
    if not 0 < m <= n:
        raise InvalidInput(f"no consistency proof from tree size {m} to {n}: need 0 < m <= n")
    return _range_hashes(_subproof_ranges(m, n), read)


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root `proof` leads to from `leaf_hash` at `index` (RFC 9162 2.1.3.2, steps 1 to 5)."""
    _require_hash("the leaf hash", leaf_hash)
    _require_proof(proof)
    if not 0 <= index < size:  # 1.
        raise ProofError(f"leaf index {index} is beyond tree size {size}", position=index)
    fn, sn, r = index, size - 1, leaf_hash  # 2. and 3.
    for p in proof:  # 4.
        if sn == 0:
            raise ProofError("the inclusion proof has too many hashes", position=index)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # 5. (the comparison of r with the root is the caller's)
        raise ProofError("the inclusion proof has too few hashes", position=index)
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 2.1.3.2: the proof must lead to `root` (step 5)."""
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    _require_match("the inclusion proof leads to another root", index, root, computed)


def verify_consistency(
    m: int, n: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """RFC 9162 2.1.4.2: the tree (n, `new_root`) extends the tree (m, `old_root`)."""
    _require_proof(proof)
    if not 0 < m <= n:
        raise ProofError(f"no consistency proof from tree size {m} to {n}: need 0 < m <= n")
    if m == n and proof:
        raise ProofError("equal tree sizes need an empty proof", position=n)
    fr, sr = (old_root, old_root) if m == n else _roots_from_consistency(m, n, proof, old_root)
    _require_match("the consistency proof leads to another old root", m, old_root, fr)  # 7.
    _require_match("the consistency proof leads to another new root", n, new_root, sr)


def _roots_from_consistency(
    m: int, n: int, proof: Sequence[bytes], old_root: bytes
) -> tuple[bytes, bytes]:
    """RFC 9162 2.1.4.2 steps 1 to 6 and the size check of 7, for 0 < m < n."""
    if not proof:  # 1.
        raise ProofError("the consistency proof is empty", position=n)
    path = [old_root, *proof] if m & (m - 1) == 0 else list(proof)  # 2.
    fn, sn = m - 1, n - 1  # 3.
    while fn & 1:  # 4.
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # 5.
    for c in path[1:]:  # 6.
        if sn == 0:
            raise ProofError("the consistency proof has too many hashes", position=n)
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # 7.
        raise ProofError("the consistency proof has too few hashes", position=n)
    return fr, sr


def _path_ranges(index: int, size: int) -> list[Range]:
    """The ranges PATH(index, D[size]) hashes, unrolled: the sibling at each split, lowest first."""
    lo, hi, ranges = 0, size, []
    while hi - lo > 1:
        k = 1 << ((hi - lo - 1).bit_length() - 1)  # RFC 9162 2.1.1: largest power of 2 < n
        left = index < lo + k  # then the sibling is the right half
        ranges.append((lo + k, hi) if left else (lo, lo + k))
        lo, hi = (lo, lo + k) if left else (lo + k, hi)
    return ranges[::-1]


def _subproof_ranges(m: int, n: int) -> list[Range]:
    """The ranges SUBPROOF(m, D[n], true) hashes, unrolled, lowest first; lo < m <= hi."""
    lo, hi, whole, ranges = 0, n, True, []
    while m != hi:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        left = m <= lo + k
        ranges.append((lo + k, hi) if left else (lo, lo + k))
        lo, hi, whole = (lo, lo + k, whole) if left else (lo + k, hi, False)
    if not whole:
        ranges.append((lo, hi))
    return ranges[::-1]


def _subtrees(start: int, end: int) -> list[Key]:
    """The perfect subtrees tiling [start, end), largest first; start is 0 or a multiple of a power
    of two at least end - start, as in every range of an RFC tree, so each tile is aligned."""
    keys = []
    while start < end:
        level = (end - start).bit_length() - 1
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def _range_hashes(ranges: Sequence[Range], read: NodeReader) -> list[bytes]:
    """MTH of each range, folding its perfect subtrees right to left; one read for all."""
    tiles = [_subtrees(start, end) for start, end in ranges]
    found = _read(read, sorted({key for tile in tiles for key in tile}))
    hashes = [[found[key] for key in tile] for tile in tiles]
    return [reduce(lambda right, left: node_hash(left, right), h[::-1]) for h in hashes]


def _complete(index: int, digest: bytes, frontier: dict[Key, bytes]) -> list[Node]:
    """Leaf `index` and the nodes it completes; `frontier` holds the left siblings still waiting."""
    nodes, level = [(0, index, digest)], 0
    while index & 1:
        digest = node_hash(frontier.pop((level, index - 1)), digest)
        level, index = level + 1, index >> 1
        nodes.append((level, index, digest))
    frontier[(level, index)] = digest
    return nodes


def _read(read: NodeReader, keys: Sequence[Key]) -> Mapping[Key, bytes]:
    return _require_all(keys, read.read_nodes(keys)) if keys else {}


def _require_all(keys: Sequence[Key], found: Mapping[Key, bytes]) -> Mapping[Key, bytes]:
    for level, index in keys:
        if (level, index) not in found:
            raise IntegrityFailure(f"Merkle node (level {level}, index {index}) is missing")
    return found


def _require_proof(proof: Sequence[bytes]) -> None:
    for number, digest in enumerate(proof):
        _require_hash(f"proof hash {number}", digest)


def _require_hash(name: str, digest: bytes) -> None:
    if len(digest) != HASH_SIZE:
        raise ProofError(
            f"{name} has the wrong length",
            expected=f"{HASH_SIZE} bytes",
            got=f"{len(digest)} bytes",
        )


def _require_match(message: str, position: int, expected: bytes, got: bytes) -> None:
    if got != expected:
        raise ProofError(message, position=position, expected=expected.hex(), got=got.hex())
