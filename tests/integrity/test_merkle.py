from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from ledger.domain.errors import IntegrityFailure, InvalidInput, ProofError
from ledger.integrity.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    node_hash,
    nodes_to_append,
    root,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from tests.reference import TEST_TREE_ENTRIES

ENTRIES = TEST_TREE_ENTRIES
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


class CountingReader:
    """Any key exists (a stand-in hash per key); records what was asked for."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[int, int]]] = []

    def read_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        self.calls.append(list(keys))
        return {key: node_hash(key[0].to_bytes(8), key[1].to_bytes(8)) for key in keys}


class ForgetfulReader:
    """Answers without one of the keys asked for, as a buggy database adapter might."""

    def read_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        return {key: EMPTY_ROOT for key in keys[1:]}


def tree(entries: Sequence[bytes]) -> MemoryNodeStore:
    store = MemoryNodeStore()
    store.add(nodes_to_append(0, [leaf_hash(entry) for entry in entries], store))
    return store


@pytest.fixture
def store() -> MemoryNodeStore:
    return tree(ENTRIES)


def test_a_leaf_hash_is_sha256_of_a_zero_byte_and_the_entry() -> None:
    assert leaf_hash(b"").hex() == ROOTS[0]


def test_the_empty_tree_has_the_sha256_of_nothing_as_root_and_reads_no_node() -> None:
    reader = CountingReader()

    assert root(0, reader) == EMPTY_ROOT
    assert EMPTY_ROOT.hex().startswith("e3b0c44298fc1c14")
    assert reader.calls == []


def test_every_root_of_the_rfc_6962_test_tree_is_the_published_one(store: MemoryNodeStore) -> None:
    assert [root(size, store).hex() for size in range(1, 9)] == ROOTS


def test_a_root_is_the_node_hash_of_its_two_halves(store: MemoryNodeStore) -> None:
    assert root(8, store) == node_hash(root(4, store), store.nodes[(2, 1)])


def test_appending_one_leaf_returns_it_and_every_node_it_completes() -> None:
    store = tree(ENTRIES[:3])

    nodes = nodes_to_append(3, [leaf_hash(ENTRIES[3])], store)

    assert [(level, index) for level, index, _ in nodes] == [(0, 3), (1, 1), (2, 0)]
    assert nodes[-1][2].hex() == ROOTS[3]


def test_appending_reads_only_the_left_siblings_on_the_right_edge_once() -> None:
    reader = CountingReader()

    nodes_to_append(0b1011, [EMPTY_ROOT] * 5, reader)

    assert reader.calls == [[(3, 0), (1, 4), (0, 10)]]


def test_appending_nothing_reads_nothing_and_adds_nothing() -> None:
    reader = CountingReader()

    assert nodes_to_append(12345, [], reader) == []
    assert reader.calls == []


def test_appending_in_batches_stores_the_same_nodes_as_one_by_one() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(37)]
    batched, single = MemoryNodeStore(), MemoryNodeStore()

    for start, end in [(0, 5), (5, 6), (6, 30), (30, 37)]:
        batched.add(nodes_to_append(start, leaves[start:end], batched))
    for size, leaf in enumerate(leaves):
        single.add(nodes_to_append(size, [leaf], single))

    assert batched.nodes == single.nodes


def test_a_root_and_each_proof_cost_one_read(store: MemoryNodeStore) -> None:
    store.calls = 0

    root(7, store)
    inclusion_proof(2, 7, store)
    consistency_proof(3, 7, store)

    assert store.calls == 3


def test_the_proofs_of_many_leaves_are_each_leafs_proof_from_one_read(
    store: MemoryNodeStore,
) -> None:
    expected = [inclusion_proof(i, 8, store) for i in range(8)]
    store.calls = 0

    proofs = inclusion_proofs(list(range(8)), 8, store)

    assert (proofs, store.calls) == (expected, 1)


def test_the_proofs_of_many_leaves_refuse_a_leaf_outside_the_tree(store: MemoryNodeStore) -> None:
    with pytest.raises(InvalidInput, match="leaf index 8 is not in a tree of size 8"):
        inclusion_proofs([0, 8], 8, store)


def test_at_ten_million_leaves_a_proof_reads_a_logarithmic_number_of_nodes() -> None:
    reader = CountingReader()
    size = 10_000_000

    root(size, reader)
    inclusion_proof(size - 3, size, reader)
    consistency_proof(6_543_210, size, reader)
    nodes_to_append(size, [EMPTY_ROOT] * 300, reader)

    assert len(reader.calls) == 4
    assert all(len(keys) <= 2 * size.bit_length() for keys in reader.calls)


def test_a_missing_node_is_an_integrity_failure_that_names_it() -> None:
    store = tree(ENTRIES[:5])
    del store.nodes[(2, 0)]

    with pytest.raises(IntegrityFailure, match=r"Merkle node \(level 2, index 0\) is missing"):
        root(5, store)


def test_a_reader_that_leaves_out_a_node_is_caught() -> None:
    with pytest.raises(IntegrityFailure, match=r"Merkle node \(level 0, index 4\) is missing"):
        root(5, ForgetfulReader())


def test_a_proof_for_an_index_beyond_the_tree_size_is_refused(store: MemoryNodeStore) -> None:
    with pytest.raises(InvalidInput, match="leaf index 8 is not in a tree of size 8"):
        inclusion_proof(8, 8, store)


def test_a_proof_for_a_negative_index_is_refused(store: MemoryNodeStore) -> None:
    with pytest.raises(InvalidInput, match="leaf index -1 is not in a tree of size 8"):
        inclusion_proof(-1, 8, store)


@pytest.mark.parametrize(("m", "n"), [(5, 4), (0, 4), (-1, 4)])
def test_a_consistency_proof_needs_a_nonempty_older_tree_no_larger_than_the_newer(
    store: MemoryNodeStore, m: int, n: int
) -> None:
    with pytest.raises(InvalidInput, match=f"no consistency proof from tree size {m} to {n}"):
        consistency_proof(m, n, store)


def test_a_consistency_proof_between_equal_sizes_is_empty(store: MemoryNodeStore) -> None:
    assert consistency_proof(5, 5, store) == []


def test_a_negative_tree_size_is_refused(store: MemoryNodeStore) -> None:
    with pytest.raises(InvalidInput, match="tree size -1 is negative"):
        root(-1, store)
    with pytest.raises(InvalidInput, match="tree size -1 is negative"):
        nodes_to_append(-1, [EMPTY_ROOT], store)


def test_a_leaf_hash_of_the_wrong_length_is_not_appended(store: MemoryNodeStore) -> None:
    with pytest.raises(InvalidInput, match="every leaf hash must have 32 bytes"):
        nodes_to_append(8, [b"short"], store)


def test_a_valid_inclusion_proof_verifies(store: MemoryNodeStore) -> None:
    proof = inclusion_proof(5, 7, store)

    verify_inclusion(leaf_hash(ENTRIES[5]), 5, 7, proof, root(7, store))


def test_an_inclusion_proof_for_another_leaf_names_both_roots(store: MemoryNodeStore) -> None:
    proof = inclusion_proof(5, 7, store)
    wrong = leaf_hash(b"not the entry")

    with pytest.raises(ProofError, match="the inclusion proof leads to another root at") as caught:
        verify_inclusion(wrong, 5, 7, proof, root(7, store))

    assert caught.value.message.startswith("the inclusion proof leads to another root at")
    assert caught.value.expected == ROOTS[6]
    assert caught.value.got == root_from_inclusion_proof(wrong, 5, 7, proof).hex()


def test_an_inclusion_proof_beyond_the_tree_size_fails(store: MemoryNodeStore) -> None:
    with pytest.raises(ProofError, match="leaf index 7 is beyond tree size 7 at position 7"):
        verify_inclusion(leaf_hash(ENTRIES[5]), 7, 7, [], root(7, store))


def test_an_inclusion_proof_with_an_extra_hash_fails(store: MemoryNodeStore) -> None:
    proof = [*inclusion_proof(5, 7, store), EMPTY_ROOT]

    with pytest.raises(ProofError, match="the inclusion proof has too many hashes at position 5"):
        verify_inclusion(leaf_hash(ENTRIES[5]), 5, 7, proof, root(7, store))


def test_an_inclusion_proof_missing_a_hash_fails(store: MemoryNodeStore) -> None:
    proof = inclusion_proof(5, 7, store)[:-1]

    with pytest.raises(ProofError, match="the inclusion proof has too few hashes at position 5"):
        verify_inclusion(leaf_hash(ENTRIES[5]), 5, 7, proof, root(7, store))


def test_an_inclusion_proof_with_a_short_hash_fails(store: MemoryNodeStore) -> None:
    proof = [b"", *inclusion_proof(5, 7, store)[1:]]

    with pytest.raises(ProofError, match="proof hash 0 has the wrong length: expected 32 bytes"):
        verify_inclusion(leaf_hash(ENTRIES[5]), 5, 7, proof, root(7, store))


def test_an_inclusion_proof_for_a_short_leaf_hash_fails(store: MemoryNodeStore) -> None:
    with pytest.raises(ProofError, match="the leaf hash has the wrong length: expected 32 bytes"):
        verify_inclusion(b"leaf", 0, 1, [], root(1, store))


def test_a_valid_consistency_proof_verifies(store: MemoryNodeStore) -> None:
    proof = consistency_proof(3, 7, store)

    verify_consistency(3, 7, proof, root(3, store), root(7, store))


def test_a_consistency_proof_to_another_new_root_names_both(store: MemoryNodeStore) -> None:
    proof = consistency_proof(3, 7, store)

    with pytest.raises(
        ProofError, match="the consistency proof leads to another new root"
    ) as caught:
        verify_consistency(3, 7, proof, root(3, store), root(8, store))

    assert caught.value.message.startswith("the consistency proof leads to another new root")
    assert (caught.value.expected, caught.value.got) == (ROOTS[7], ROOTS[6])


def test_a_consistency_proof_from_another_old_root_fails(store: MemoryNodeStore) -> None:
    proof = consistency_proof(3, 7, store)

    with pytest.raises(ProofError, match="leads to another old root at position 3: expected 4e3b"):
        verify_consistency(3, 7, proof, root(5, store), root(7, store))


@pytest.mark.parametrize(("m", "n"), [(0, 0), (0, 7), (8, 7), (-1, 7)])
def test_a_consistency_proof_needs_a_nonempty_older_tree_to_verify(
    store: MemoryNodeStore, m: int, n: int
) -> None:
    with pytest.raises(ProofError, match=f"no consistency proof from tree size {m} to {n}"):
        verify_consistency(m, n, [], EMPTY_ROOT, root(7, store))


def test_equal_sizes_verify_with_equal_roots_and_no_proof(store: MemoryNodeStore) -> None:
    verify_consistency(7, 7, [], root(7, store), root(7, store))


def test_equal_sizes_with_different_roots_fail(store: MemoryNodeStore) -> None:
    with pytest.raises(ProofError, match="leads to another new root at position 7"):
        verify_consistency(7, 7, [], root(7, store), root(6, store))


def test_equal_sizes_with_a_proof_fail(store: MemoryNodeStore) -> None:
    with pytest.raises(ProofError, match="equal tree sizes need an empty proof at position 7"):
        verify_consistency(7, 7, [EMPTY_ROOT], root(7, store), root(7, store))


def test_an_empty_consistency_proof_between_different_sizes_fails(store: MemoryNodeStore) -> None:
    with pytest.raises(ProofError, match="the consistency proof is empty at position 7"):
        verify_consistency(3, 7, [], root(3, store), root(7, store))


def test_a_consistency_proof_with_an_extra_hash_fails(store: MemoryNodeStore) -> None:
    proof = [*consistency_proof(3, 7, store), EMPTY_ROOT]

    with pytest.raises(ProofError, match="the consistency proof has too many hashes at position 7"):
        verify_consistency(3, 7, proof, root(3, store), root(7, store))


def test_a_consistency_proof_missing_a_hash_fails(store: MemoryNodeStore) -> None:
    proof = consistency_proof(3, 7, store)[:-1]

    with pytest.raises(ProofError, match="the consistency proof has too few hashes at position 7"):
        verify_consistency(3, 7, proof, root(3, store), root(7, store))


def test_a_consistency_proof_with_a_long_hash_fails(store: MemoryNodeStore) -> None:
    proof = consistency_proof(3, 7, store)
    proof[1] += b"\x00"

    with pytest.raises(ProofError, match="hash 1 has the wrong length: expected 32 bytes, got 33"):
        verify_consistency(3, 7, proof, root(3, store), root(7, store))
