"""A deliberately naive Merkle tree, as RFC 6962 section 2.1 (and RFC 9162 section 2.1) write it.

For cross-checks in tests only: recursion over the list of entries D, nothing stored, no cleverness.
MTH is memoised on the tuple of entries so that exhaustive tests stay fast; that changes no result.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

Entries = tuple[bytes, ...]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@lru_cache(maxsize=1 << 17)
def mth(d: Entries) -> bytes:
    """MTH(D[n]) (RFC 6962 2.1)."""
    n = len(d)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + d[0])
    k = _k(n)
    return _sha256(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: Entries) -> list[bytes]:
    """PATH(m, D[n]) (RFC 6962 2.1.1): the audit path of leaf m."""
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def proof(m: int, d: Entries) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 6962 2.1.2): the consistency proof from size m."""
    return subproof(m, d, True)


def subproof(m: int, d: Entries, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) (RFC 6962 2.1.2)."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


# The RFC 6962 test tree of certificate-transparency and transparency-dev/merkle (testonly), from
# which the public vectors were generated.
TEST_TREE_ENTRIES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]


# The map of heads (docs/verification.md, section 9), as naive as the tree above: a set of heads,
# split bit by bit, nothing stored; the bytes written out here from the documentation, not imported.

MapHead = tuple[str, int, int, bytes]
"""(aggregate id text, version, log index, leaf hash)"""


def map_key(aggregate_id: str) -> bytes:
    return _sha256(aggregate_id.encode("ascii"))


def map_head_hash(head: MapHead) -> bytes:
    aggregate_id, version, index, leaf = head
    return _sha256(
        b"\x02"
        + map_key(aggregate_id)
        + leaf
        + index.to_bytes(8, "big")
        + version.to_bytes(8, "big")
    )


def _key_bit(key: bytes, depth: int) -> int:
    return (key[depth // 8] >> (7 - depth % 8)) & 1


def map_root(heads: list[MapHead], depth: int = 0) -> bytes:
    """The hash of the subtree holding `heads` (all sharing their first `depth` key bits)."""
    if not heads:
        return bytes(32)
    if len(heads) == 1:
        return map_head_hash(heads[0])
    left = [h for h in heads if _key_bit(map_key(h[0]), depth) == 0]
    right = [h for h in heads if _key_bit(map_key(h[0]), depth) == 1]
    return _sha256(b"\x03" + map_root(left, depth + 1) + map_root(right, depth + 1))


def map_heads(rows: list[tuple[int, str, int, bytes]]) -> list[MapHead]:
    """Each aggregate's newest row of (log index, aggregate id, version, leaf hash)."""
    newest: dict[str, MapHead] = {}
    for index, aggregate_id, version, leaf in rows:
        newest[aggregate_id] = (aggregate_id, version, index, leaf)
    return list(newest.values())
