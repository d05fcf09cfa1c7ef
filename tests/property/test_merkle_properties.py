"""ledger.integrity.merkle against the naive RFC reference (tests/reference.py), exhaustively for
small trees
and at random for larger ones, and against pymerkle 7.0.0, an independent implementation: its
InmemoryTree hashes with the RFC 6962 0x00/0x01 prefixes by default (`disable_security=True` would
drop them) and counts leaves from one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import pymerkle  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.errors import ProofError
from ledger.integrity.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    nodes_to_append,
    root,
    verify_consistency,
    verify_inclusion,
)
from tests import reference

SMALL = 200
LARGE = 5000
ENTRIES = tuple(f"entry {i}".encode() for i in range(LARGE))
LEAVES = [leaf_hash(entry) for entry in ENTRIES]


def build(leaves: list[bytes]) -> MemoryNodeStore:
    store = MemoryNodeStore()
    store.add(nodes_to_append(0, leaves, store))
    return store


STORE = build(LEAVES)  # complete nodes never change, so one store serves every smaller size
ROOTS = [root(size, STORE) for size in range(SMALL + 2)]


def flipped(proof: list[bytes], at: int) -> list[bytes]:
    changed = bytes([proof[at][0] ^ 0x10]) + proof[at][1:]
    return [*proof[:at], changed, *proof[at + 1 :]]


def reshaped(proof: list[bytes]) -> Iterator[tuple[str, list[bytes]]]:
    yield from ((f"hash {at} flipped", flipped(proof, at)) for at in range(len(proof)))
    yield "a hash appended", [*proof, EMPTY_ROOT]
    yield "a hash prepended", [EMPTY_ROOT, *proof]
    if proof:
        yield "the last hash dropped", proof[:-1]
        yield "the first hash dropped", proof[1:]


Tampering = tuple[str, Callable[[], None]]


def rejected(check: Callable[[], None]) -> bool:
    try:
        check()
    except ProofError:
        return True
    return False


def inclusion_tamperings(i: int, n: int, proof: list[bytes]) -> Iterator[Tampering]:
    leaf, check = LEAVES[i], verify_inclusion
    for what, bad in reshaped(proof):
        yield what, partial(check, leaf, i, n, bad, ROOTS[n])
    yield "another leaf", partial(check, LEAVES[i + 1], i, n, proof, ROOTS[n])
    for index in (i - 1, i + 1):
        yield f"index {index}", partial(check, leaf, index, n, proof, ROOTS[n])
    for size in (n - 1, n + 1):
        yield f"size {size}", partial(check, leaf, i, size, proof, ROOTS[size])


def consistency_tamperings(m: int, n: int, proof: list[bytes]) -> Iterator[Tampering]:
    check = verify_consistency
    for what, bad in reshaped(proof):
        yield what, partial(check, m, n, bad, ROOTS[m], ROOTS[n])
    if m != n:
        yield "swapped roots", partial(check, m, n, proof, ROOTS[n], ROOTS[m])
    for old in (m - 1, m + 1):
        yield f"old size {old}", partial(check, old, n, proof, ROOTS[old], ROOTS[n])
    for new in (n - 1, n + 1):
        yield f"new size {new}", partial(check, m, new, proof, ROOTS[m], ROOTS[new])


def test_every_inclusion_proof_up_to_200_leaves_is_the_rfc_path_and_verifies() -> None:
    for n in range(1, SMALL + 1):
        for i in range(n):
            proof = inclusion_proof(i, n, STORE)

            assert proof == reference.path(i, ENTRIES[:n]), (i, n)
            verify_inclusion(LEAVES[i], i, n, proof, ROOTS[n])


def test_every_inclusion_proof_up_to_200_leaves_fails_once_tampered_with() -> None:
    for n in range(1, SMALL + 1):
        for i in range(n):
            proof = inclusion_proof(i, n, STORE)
            tamperings = inclusion_tamperings(i, n, proof)

            accepted = [what for what, bad in tamperings if not rejected(bad)]

            assert accepted == [], (i, n)


def test_every_consistency_proof_up_to_200_leaves_is_the_rfc_proof_and_verifies() -> None:
    for n in range(1, SMALL + 1):
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, STORE)

            assert proof == reference.proof(m, ENTRIES[:n]), (m, n)
            verify_consistency(m, n, proof, ROOTS[m], ROOTS[n])


def test_every_consistency_proof_up_to_200_leaves_fails_once_tampered_with() -> None:
    for n in range(1, SMALL + 1):
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, STORE)
            tamperings = consistency_tamperings(m, n, proof)

            accepted = [what for what, bad in tamperings if not rejected(bad)]

            assert accepted == [], (m, n)


def test_every_root_up_to_200_leaves_is_the_rfc_mth() -> None:
    assert ROOTS[: SMALL + 1] == [reference.mth(ENTRIES[:n]) for n in range(SMALL + 1)]


sizes = st.integers(min_value=1, max_value=LARGE)


@settings(max_examples=200, deadline=None)
@given(n=sizes, data=st.data())
def test_in_larger_trees_an_inclusion_proof_is_the_rfc_path_and_verifies(
    n: int, data: st.DataObject
) -> None:
    i = data.draw(st.integers(min_value=0, max_value=n - 1))

    proof = inclusion_proof(i, n, STORE)

    assert proof == reference.path(i, ENTRIES[:n])
    verify_inclusion(LEAVES[i], i, n, proof, root(n, STORE))
    for at in range(len(proof)):
        bad = flipped(proof, at)
        assert rejected(partial(verify_inclusion, LEAVES[i], i, n, bad, root(n, STORE)))


@settings(max_examples=200, deadline=None)
@given(n=sizes, data=st.data())
def test_in_larger_trees_a_consistency_proof_is_the_rfc_proof_and_verifies(
    n: int, data: st.DataObject
) -> None:
    m = data.draw(st.integers(min_value=1, max_value=n))

    proof = consistency_proof(m, n, STORE)

    assert proof == reference.proof(m, ENTRIES[:n])
    verify_consistency(m, n, proof, root(m, STORE), root(n, STORE))


@settings(max_examples=100, deadline=None)
@given(batches=st.lists(st.integers(min_value=0, max_value=70), max_size=12))
def test_appending_in_any_batches_stores_the_same_nodes_as_all_at_once(batches: list[int]) -> None:
    store, size = MemoryNodeStore(), 0

    for count in batches:
        store.calls = 0
        store.add(nodes_to_append(size, LEAVES[size : size + count], store))
        size += count
        assert store.calls <= 1

    assert store.nodes == build(LEAVES[:size]).nodes


@st.composite
def entry_lists(draw: st.DrawFn) -> list[bytes]:
    n = draw(st.integers(min_value=1, max_value=300))
    return draw(st.lists(st.binary(max_size=40), min_size=n, max_size=n))


@settings(max_examples=60, deadline=None)
@given(entries=entry_lists(), data=st.data())
def test_pymerkle_computes_the_same_roots_and_inclusion_proofs(
    entries: list[bytes], data: st.DataObject
) -> None:
    theirs = pymerkle.InmemoryTree.init_from_entries(entries)
    ours = build([leaf_hash(entry) for entry in entries])
    size = data.draw(st.integers(min_value=1, max_value=len(entries)))
    i = data.draw(st.integers(min_value=0, max_value=size - 1))

    their_proof = theirs.prove_inclusion(i + 1, size)  # pymerkle counts leaves from one

    assert theirs.get_root() == root(len(entries), ours)
    assert theirs.get_root(size) == root(size, ours)
    assert their_proof.path == [leaf_hash(entries[i]), *inclusion_proof(i, size, ours)]


@settings(max_examples=60, deadline=None)
@given(entries=entry_lists(), data=st.data())
def test_pymerkle_accepts_our_roots_for_its_consistency_proofs(
    entries: list[bytes], data: st.DataObject
) -> None:
    theirs = pymerkle.InmemoryTree.init_from_entries(entries)
    ours = build([leaf_hash(entry) for entry in entries])
    n = data.draw(st.integers(min_value=1, max_value=len(entries)))
    m = data.draw(st.integers(min_value=1, max_value=n))
    old, new = root(m, ours), root(n, ours)

    their_proof = theirs.prove_consistency(m, n)

    pymerkle.verify_consistency(old, new, their_proof, prior_size=m, later_size=n)
    with pytest.raises(pymerkle.InvalidProof, match="Prior state does not match"):
        pymerkle.verify_consistency(EMPTY_ROOT, new, their_proof, prior_size=m, later_size=n)


def test_pymerkle_hashes_the_empty_tree_as_we_do() -> None:
    assert pymerkle.InmemoryTree().get_root() == root(0, MemoryNodeStore())
