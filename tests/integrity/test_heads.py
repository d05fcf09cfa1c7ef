"""The map of heads (ledger/integrity/heads.py) against a naive recomputation (tests/reference.py),
and its
proofs against every way of bending them: a head dropped, a sibling flipped, a proof for another
key, an absent key claimed present."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.errors import ProofError
from ledger.integrity.heads import EMPTY, Head, HeadMap, MapProof, root_from_proof, verify_head
from tests import reference

IDS = [UUID(int=n * 7919 + 1) for n in range(40)]


def leaf(n: int) -> bytes:
    return hashlib.sha256(n.to_bytes(8, "big")).digest()


def head(aggregate_id: UUID, version: int, index: int) -> Head:
    return Head(aggregate_id, version, index, leaf(index))


def naive(heads: list[Head]) -> bytes:
    return reference.map_root(
        [(str(h.aggregate_id), h.version, h.log_index, h.leaf_hash) for h in heads]
    )


histories = st.lists(st.sampled_from(IDS), max_size=120)


def replay(history: list[UUID]) -> tuple[HeadMap, dict[UUID, Head]]:
    """Append one entry per id in `history`; each aggregate's newest entry is its head."""
    heads: dict[UUID, Head] = {}
    versions: dict[UUID, int] = {}
    for index, aggregate_id in enumerate(history):
        versions[aggregate_id] = versions.get(aggregate_id, 0) + 1
        heads[aggregate_id] = head(aggregate_id, versions[aggregate_id], index)
    return HeadMap(heads.values()), heads


def test_the_empty_map_has_the_empty_root() -> None:
    assert HeadMap().root() == EMPTY == reference.map_root([])


def test_a_map_of_one_head_has_that_heads_hash_as_its_root() -> None:
    only = head(IDS[0], 1, 0)

    assert HeadMap([only]).root() == only.hash() == naive([only])


@settings(max_examples=150, deadline=None)
@given(histories)
def test_the_root_is_the_naive_recomputation_over_each_aggregates_newest_entry(
    history: list[UUID],
) -> None:
    heads, newest = replay(history)

    assert heads.root() == naive(list(newest.values()))


@settings(max_examples=60, deadline=None)
@given(histories, st.lists(st.sampled_from(IDS), max_size=40))
def test_updating_in_steps_gives_the_root_of_computing_once(
    first: list[UUID], then: list[UUID]
) -> None:
    stepwise, _ = replay(first)
    stepwise.root()  # fills the cache of subtree hashes that the update must forget
    _, newest = replay(first + then)
    stepwise.update(h for h in newest.values())

    assert stepwise.root() == naive(list(newest.values()))


@settings(max_examples=100, deadline=None)
@given(histories, st.sampled_from(IDS))
def test_every_proof_leads_to_the_root_and_shows_the_head_or_its_absence(
    history: list[UUID], asked: UUID
) -> None:
    heads, newest = replay(history)

    proven = verify_head(asked, heads.prove(asked), heads.root())

    assert proven == newest.get(asked)


def test_with_many_heads_the_cache_of_large_subtrees_stays_correct() -> None:
    many = [head(uuid4(), 1, n) for n in range(500)]
    heads = HeadMap(many)
    heads.root()
    changed = [Head(h.aggregate_id, 2, 500 + n, leaf(500 + n)) for n, h in enumerate(many[::7])]
    heads.update(changed)
    current = {h.aggregate_id: h for h in many} | {h.aggregate_id: h for h in changed}

    assert heads.root() == naive(list(current.values()))
    assert (
        verify_head(many[7].aggregate_id, heads.prove(many[7].aggregate_id), heads.root())
        == (changed[1])
    )


# Bent proofs: each refused by the root check (ProofError) --------------------------------------


@pytest.fixture
def mapped() -> tuple[HeadMap, bytes]:
    heads, _ = replay([IDS[n % 30] for n in range(90)])
    return heads, heads.root()


def a_sibling_flipped(proof: MapProof) -> MapProof:
    flipped = bytes([proof.siblings[0][0] ^ 1]) + proof.siblings[0][1:]
    return MapProof(proof.key, (flipped, *proof.siblings[1:]), proof.found)


def an_older_version_claimed_as_the_head(proof: MapProof) -> MapProof:
    assert proof.found is not None
    older = Head(IDS[3], proof.found.version - 1, proof.found.log_index - 30, leaf(1))
    return MapProof(proof.key, proof.siblings, older)


def absence_claimed_of_a_present_head(proof: MapProof) -> MapProof:
    return MapProof(proof.key, proof.siblings, None)


def cut_short(proof: MapProof) -> MapProof:
    return MapProof(proof.key, proof.siblings[:-1], proof.found)


def made_longer(proof: MapProof) -> MapProof:
    return MapProof(proof.key, (*proof.siblings, EMPTY), proof.found)


BENDS = [
    (a_sibling_flipped, "leads to another root"),
    (an_older_version_claimed_as_the_head, "leads to another root"),
    (absence_claimed_of_a_present_head, "leads to another root"),
    (cut_short, "leads to another root|not on the key's path"),
    (made_longer, "leads to another root|not on the key's path"),
]


@pytest.mark.parametrize(("bend", "check"), BENDS, ids=[bend.__name__ for bend, _ in BENDS])
def test_a_bent_proof_of_a_present_head_is_refused(
    mapped: tuple[HeadMap, bytes], bend: Callable[[MapProof], MapProof], check: str
) -> None:
    heads, root = mapped
    bent = bend(heads.prove(IDS[3]))

    with pytest.raises(ProofError, match=check):
        verify_head(IDS[3], bent, root)


def test_one_keys_proof_is_not_a_proof_for_another(mapped: tuple[HeadMap, bytes]) -> None:
    heads, _ = mapped

    with pytest.raises(ProofError, match="not for"):
        root_from_proof(IDS[4], heads.prove(IDS[3]))


def test_an_absent_key_is_proven_absent_and_cannot_be_claimed_present(
    mapped: tuple[HeadMap, bytes],
) -> None:
    heads, root = mapped
    absent = IDS[35]
    proof = heads.prove(absent)
    claimed = MapProof(proof.key, proof.siblings, Head(absent, 1, 0, leaf(0)))

    assert verify_head(absent, proof, root) is None
    with pytest.raises(ProofError, match="leads to another root"):
        verify_head(absent, claimed, root)
