"""The witness (c2sp.org/tlog-witness, "add-checkpoint"): every answer with the status of the spec.

Vectors:
- SPEC_BODY: the example request body of c2sp.org/tlog-witness, "add-checkpoint".
- SIGSUM_*: the signed checkpoints of sizes 1, 3 and 5, with their consistency proofs, of
  filippo.io/torchwood internal/witness/witness_test.go (TestRace, TestTooManyProofs); the log
  key there is a Sigsum log key, whose checkpoint key name is the origin.
- The table of TestZeroSize of the same file, with our own keys.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.errors import InvalidInput, ProofError
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.integrity.merkle import MemoryNodeStore, leaf_hash, nodes_to_append
from ledger.integrity.signing import Signer, Verifier
from ledger.witness.cosignatures import CosignerKey, verify_cosignature
from ledger.witness.witness import (
    TEXT_PLAIN,
    TLOG_SIZE,
    AddResult,
    CosignedCheckpoint,
    MemoryWitnessState,
    Misbehaviour,
    Witness,
    format_add_checkpoint,
    parse_add_checkpoint,
)

SPEC_BODY = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Z"
    "hcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49"
    "/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
).encode()

SIGSUM_ORIGIN = (
    "sigsum.org/v1/tree/4d6d8825a6bb689d459628312889dfbb0bcd41b5211d9e1ce768b0ff0309e562"
)
SIGSUM_KEY = Verifier(
    SIGSUM_ORIGIN, bytes.fromhex("ffdc2d4d98e4124d3feaf788c0c2f9abfd796083d1f0495437f302ec79cf100f")
)
SIGSUM_1 = (
    f"old 0\n\n{SIGSUM_ORIGIN}\n1\nKgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
    f"\u2014 {SIGSUM_ORIGIN} UgIom7fPZTqpxWWhyjWduBvTvGVqsokMbqTArsQilegKoFBJQjUFAmQ0+YeSPM3wfUQMF"
    "SzVnnNuWRTYrajXpNUbIQY=\n"
).encode()
SIGSUM_3 = (
    "old 1\nKgEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    "KgIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    f"\n{SIGSUM_ORIGIN}\n3\nRcCI1Nk56ZcSmIEfIn0SleqtV7uvrlXNccFx595Iwl0=\n\n"
    f"\u2014 {SIGSUM_ORIGIN} UgIom2VbtIcdFbwFAy1n7s6IkAxIY6J/GQOTuZF2ORV39d75cbAj2aQYwyJre36kezNob"
    "Zs4SUUdrcawfAB8WVrx6go=\n"
).encode()
SIGSUM_5 = (
    "old 1\nKgEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    "+fUDV+k970B4I3uKrqJM4aP1lloPZP8mvr2Z4wRw2LI=\n"
    f"KgQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n{SIGSUM_ORIGIN}\n5\n"
    "QrtXrQZCCvpIgsSmOsah7HdICzMLLyDfxToMql9WTjY=\n\n"
    f"\u2014 {SIGSUM_ORIGIN} UgIomw/EOJmWi0i1FQsOj+etB7F8IccFam/jgd6wzRns4QPVmyEZtdvl1U2KEmLOZ/AS"
    "RcWJi0tW90dJWAShei7sDww=\n"
).encode()

ORIGIN = "custody.example/log"
LOG = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x01" * 32))
IMPOSTOR = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x09" * 32))
KEY = CosignerKey("witness.example/w1", Ed25519PrivateKey.from_private_bytes(b"\x02" * 32))
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class Tree:
    """A log of `leaves` entries, `fork` of them shared with the honest log (all by default)."""

    def __init__(self, leaves: int, fork: int | None = None) -> None:
        entries = [b"entry %d" % i for i in range(leaves)]
        if fork is not None:
            entries[fork:] = [b"forked entry %d" % i for i in range(fork, leaves)]
        self.store = MemoryNodeStore()
        self.store.add(nodes_to_append(0, [leaf_hash(e) for e in entries], self.store))

    def root(self, size: int) -> bytes:
        return merkle.root(size, self.store)

    def note(self, size: int, signer: Signer = LOG) -> str:
        return sign_checkpoint(Checkpoint(ORIGIN, size, self.root(size)), signer)

    def proof(self, old: int, size: int) -> list[bytes]:
        return merkle.consistency_proof(old, size, self.store) if old else []

    def request(self, old: int, size: int) -> bytes:
        return format_add_checkpoint(old, self.proof(old, size), self.note(size))


HONEST = Tree(64)


def witness(state: MemoryWitnessState | None = None) -> tuple[Witness, MemoryWitnessState]:
    state = state or MemoryWitnessState()
    return Witness(KEY, {ORIGIN: LOG.verifier}, state, Clock()), state


def refused(result: AddResult, status: int, message: str) -> None:
    assert (result.status, result.text, result.content_type) == (status, message + "\n", TEXT_PLAIN)
    assert "\u2014" not in result.text


# The published examples


def test_the_spec_example_request_parses_and_formats_back_byte_for_byte() -> None:
    request = parse_add_checkpoint(SPEC_BODY)

    assert request.old_size == 20852014
    assert len(request.proof) == 4
    assert request.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert request.unverified_checkpoint.size == 20852163
    assert format_add_checkpoint(20852014, request.proof, request.note) == SPEC_BODY


def test_the_torchwood_vectors_are_cosigned_in_order_and_the_rollback_is_refused() -> None:
    state = MemoryWitnessState()
    sigsum = Witness(KEY, {SIGSUM_ORIGIN: SIGSUM_KEY}, state, Clock())

    first, fifth, third = (sigsum.add_checkpoint(b) for b in (SIGSUM_1, SIGSUM_5, SIGSUM_3))

    assert (first.status, fifth.status) == (200, 200)
    assert (third.status, third.body, third.content_type) == (409, b"5\n", TLOG_SIZE)
    latest = state.latest(SIGSUM_ORIGIN)
    assert latest is not None
    assert (latest.size, latest.root_hash.hex()) == (
        5,
        "42bb57ad06420afa4882c4a63ac6a1ec77480b330b2f20dfc53a0caa5f564e36",
    )
    note = parse_add_checkpoint(SIGSUM_5).note
    assert verify_cosignature(note + fifth.text, KEY.verifier) == int(START.timestamp()) + 2


def test_the_torchwood_request_with_64_proof_lines_is_malformed() -> None:
    proof = b"KgEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * 64
    body = SIGSUM_1.replace(b"old 0\n", b"old 0\n" + proof, 1)

    result = Witness(
        KEY, {SIGSUM_ORIGIN: SIGSUM_KEY}, MemoryWitnessState(), Clock()
    ).add_checkpoint(body)

    refused(result, 400, "request has 64 consistency proof lines; at most 63")


ZERO = merkle.EMPTY_ROOT
ONE = leaf_hash(b"leaf")


@pytest.mark.parametrize(
    ("known", "old", "size", "root", "proof", "status"),
    [
        (0, 0, 0, ZERO, [], 200),  # empty tree
        (0, 0, 0, ONE, [], 422),  # invalid empty root
        (0, 0, 0, bytes(32), [], 422),  # zero empty root
        (0, 0, 0, ZERO, [ONE], 422),  # empty tree with proof
        (0, 0, 1, ONE, [], 200),  # first nonempty tree
        (0, 0, 1, ONE, [ONE], 422),  # first nonempty tree with proof
        (1, 0, 1, ONE, [ONE], 409),  # old size mismatch
        (1, 1, 0, ZERO, [], 400),  # old size greater than new
    ],
)
def test_the_torchwood_zero_size_table_gets_the_same_statuses(
    known: int, old: int, size: int, root: bytes, proof: list[bytes], status: int
) -> None:
    state = MemoryWitnessState()
    state.checkpoints[ORIGIN] = CosignedCheckpoint(known, ONE if known else ZERO, "")
    body = format_add_checkpoint(old, proof, sign_checkpoint(Checkpoint(ORIGIN, size, root), LOG))

    result = witness(state)[0].add_checkpoint(body)

    assert result.status == status


# Cosigning


def test_a_log_is_cosigned_through_a_sequence_of_growing_checkpoints() -> None:
    wit, state = witness()
    sizes = [0, 1, 2, 5, 5, 8, 13, 64]

    results = [wit.add_checkpoint(HONEST.request(old, new)) for old, new in pairwise(sizes)]

    assert [r.status for r in results] == [200] * 7
    assert all(r.content_type == TEXT_PLAIN for r in results)
    for number, (result, size) in enumerate(zip(results, sizes[1:], strict=True), start=1):
        note = HONEST.note(size) + result.text
        assert verify_cosignature(note, KEY.verifier) == int(START.timestamp()) + number
    assert state.latest(ORIGIN) == CosignedCheckpoint(64, HONEST.root(64), HONEST.note(64))
    assert state.misbehaviour == []


def test_the_first_checkpoint_of_a_log_is_cosigned_without_a_proof() -> None:
    wit, state = witness()

    result = wit.add_checkpoint(HONEST.request(0, 10))

    assert result.ok
    assert result.text.startswith(f"\u2014 {KEY.name} ")
    assert state.latest(ORIGIN) == CosignedCheckpoint(10, HONEST.root(10), HONEST.note(10))


def test_the_same_checkpoint_is_cosigned_again_with_a_later_timestamp() -> None:
    wit, _ = witness()
    wit.add_checkpoint(HONEST.request(0, 10))

    again = wit.add_checkpoint(HONEST.request(10, 10))

    assert verify_cosignature(HONEST.note(10) + again.text, KEY.verifier) == START.timestamp() + 2


def test_a_log_with_two_trusted_keys_is_cosigned_when_either_signs() -> None:
    rotated = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x05" * 32))
    state = MemoryWitnessState()
    wit = Witness(KEY, {ORIGIN: [LOG.verifier, rotated.verifier]}, state, Clock())
    second = format_add_checkpoint(3, HONEST.proof(3, 6), HONEST.note(6, rotated))

    results = [wit.add_checkpoint(HONEST.request(0, 3)), wit.add_checkpoint(second)]

    assert [r.status for r in results] == [200, 200]


def test_a_checkpoint_signed_by_the_log_and_by_unknown_keys_is_cosigned() -> None:
    note = HONEST.note(4)
    extra = sign_checkpoint(Checkpoint(ORIGIN, 4, HONEST.root(4)), IMPOSTOR).split("\n\n")[1]
    extra = extra.replace(ORIGIN, "someone.else/key")

    result = witness()[0].add_checkpoint(format_add_checkpoint(0, [], note + extra))

    assert result.ok


# Refusals, in the order of the spec


def test_a_body_larger_than_the_limit_is_refused_with_413() -> None:
    result = witness()[0].add_checkpoint(b"old 0\n" + b" " * (1 << 20))

    refused(result, 413, "request body is 1048582 bytes; the limit is 1048576")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"old 0\n\xff\n\n", "request body is not valid UTF-8 at byte 6"),
        (b"old 0\nexample\n", "request body has no empty line before the checkpoint"),
        (b"new 0\n\n", "the first line must be 'old <size>', the size in decimal without leading"),
        (b"old 01\n\n", "the first line must be 'old <size>'"),
        (b"old -1\n\n", "the first line must be 'old <size>'"),
        (b"old 1 \n\n", "the first line must be 'old <size>'"),
        (b"old  1\n\n", "the first line must be 'old <size>'"),
        (b"old 18446744073709551616\n\n", "old size 18446744073709551616 is larger than 2**64 - 1"),
        (b"old 1\nnot base64!\n\n", "proof line 2 is not standard base64"),
        (b"old 1\nAAAA\n\n", "proof line 2 holds 3 bytes; expected 32"),
        (b"old 0\n\nhello\n", "note has no blank line between its text and its signatures"),
        (b"old 0\n\nhello\n\n\xe2\x80\x94 k AAAAAAA=\n", "checkpoint has 1 lines"),
    ],
)
def test_a_malformed_body_is_refused_with_400_saying_what_is_wrong(
    body: bytes, message: str
) -> None:
    result = witness()[0].add_checkpoint(body)

    assert (result.status, result.content_type) == (400, TEXT_PLAIN)
    assert result.text.startswith(message)


def test_a_checkpoint_of_an_unknown_log_is_refused_with_404() -> None:
    other = Signer("other.example/log", Ed25519PrivateKey.from_private_bytes(b"\x06" * 32))
    note = sign_checkpoint(Checkpoint("other.example/log", 1, HONEST.root(1)), other)

    result = witness()[0].add_checkpoint(format_add_checkpoint(0, [], note))

    refused(result, 404, "unknown log: other.example/log")


def test_a_checkpoint_signed_by_another_key_of_the_same_name_is_refused_with_403() -> None:
    result = witness()[0].add_checkpoint(format_add_checkpoint(0, [], HONEST.note(3, IMPOSTOR)))

    assert result.status == 403
    assert result.text.startswith("checkpoint signature: note is not signed by any known key")


def test_a_checkpoint_whose_log_signature_does_not_verify_is_refused_with_403() -> None:
    forged = (
        HONEST.note(3)
        .replace("\n3\n", "\n4\n", 1)
        .replace(
            base64.b64encode(HONEST.root(3)).decode(), base64.b64encode(HONEST.root(4)).decode()
        )
    )

    result = witness()[0].add_checkpoint(format_add_checkpoint(0, [], forged))

    assert result.status == 403
    assert result.text.startswith("checkpoint signature: signature does not verify")


def test_an_old_size_larger_than_the_checkpoint_is_refused_with_400() -> None:
    wit, _ = witness()
    wit.add_checkpoint(HONEST.request(0, 8))

    result = wit.add_checkpoint(format_add_checkpoint(8, [], HONEST.note(5)))

    refused(result, 400, "old size 8 is larger than the tree size 5")


def test_an_old_size_that_is_not_the_latest_cosigned_is_refused_with_409_and_the_size() -> None:
    wit, _ = witness()
    wit.add_checkpoint(HONEST.request(0, 8))

    result = wit.add_checkpoint(HONEST.request(5, 10))

    assert (result.status, result.body, result.content_type) == (409, b"8\n", "text/x.tlog.size")


def test_a_first_request_with_an_old_size_learns_that_the_witness_has_none() -> None:
    result = witness()[0].add_checkpoint(HONEST.request(5, 10))

    assert (result.status, result.body, result.content_type) == (409, b"0\n", TLOG_SIZE)


def test_a_smaller_checkpoint_than_the_one_cosigned_is_refused_the_witness_never_rolls_back() -> (
    None
):
    wit, state = witness()
    wit.add_checkpoint(HONEST.request(0, 8))

    stale = wit.add_checkpoint(HONEST.request(0, 5))
    claimed = wit.add_checkpoint(format_add_checkpoint(5, [], HONEST.note(5)))

    assert (stale.status, stale.body) == (409, b"8\n")
    assert (claimed.status, claimed.body) == (409, b"8\n")
    assert state.latest(ORIGIN) == CosignedCheckpoint(8, HONEST.root(8), HONEST.note(8))


def test_a_proof_that_does_not_verify_is_refused_with_422_and_kept_as_evidence() -> None:
    wit, state = witness()
    wit.add_checkpoint(HONEST.request(0, 8))
    proof = HONEST.proof(8, 12)
    proof[0] = bytes(32)

    result = wit.add_checkpoint(format_add_checkpoint(8, proof, HONEST.note(12)))

    assert result.status == 422
    assert result.text.startswith("not consistent with the cosigned checkpoint: the consistency")
    assert [e.proof for e in state.misbehaviour] == [tuple(proof)]


def test_a_proof_when_the_old_size_is_zero_is_refused_with_422_and_is_no_evidence() -> None:
    wit, state = witness()

    result = wit.add_checkpoint(format_add_checkpoint(0, [bytes(32)], HONEST.note(3)))

    refused(result, 422, "the consistency proof must be empty when the old size is 0")
    assert state.misbehaviour == []


def test_a_proof_between_equal_sizes_is_refused_with_422_and_is_no_evidence() -> None:
    wit, state = witness()
    wit.add_checkpoint(HONEST.request(0, 8))

    result = wit.add_checkpoint(format_add_checkpoint(8, [bytes(32)], HONEST.note(8)))

    refused(result, 422, "consistency proof: equal tree sizes need an empty proof at position 8")
    assert state.misbehaviour == []


def test_a_checkpoint_of_size_zero_with_another_root_is_refused_with_422_and_kept() -> None:
    wit, state = witness()
    note = sign_checkpoint(Checkpoint(ORIGIN, 0, bytes(32)), LOG)

    result = wit.add_checkpoint(format_add_checkpoint(0, [], note))

    refused(result, 422, "a checkpoint of tree size 0 must have the root SHA-256 of nothing")
    assert [(e.cosigned_note, e.refused_note) for e in state.misbehaviour] == [(None, note)]


def test_the_same_size_with_another_root_is_refused_with_409_and_kept_as_evidence() -> None:
    wit, state = witness()
    wit.add_checkpoint(HONEST.request(0, 8))
    fork = Tree(8, fork=6)

    result = wit.add_checkpoint(format_add_checkpoint(8, [], fork.note(8)))

    refused(result, 409, "tree size 8 was cosigned with another root hash")
    assert state.misbehaviour == [
        Misbehaviour(
            ORIGIN,
            "tree size 8 was cosigned with another root hash",
            HONEST.note(8),
            fork.note(8),
            8,
            (),
            START + timedelta(seconds=2),
        )
    ]


def test_a_fork_shown_to_the_witness_is_refused_and_kept_as_evidence_a_third_party_can_check() -> (
    None
):
    wit, state = witness()
    wit.add_checkpoint(HONEST.request(0, 10))
    fork = Tree(20, fork=7)

    result = wit.add_checkpoint(format_add_checkpoint(10, fork.proof(10, 20), fork.note(20)))

    assert result.status == 422
    [evidence] = state.misbehaviour
    assert (evidence.origin, evidence.old_size) == (ORIGIN, 10)
    assert evidence.proof == tuple(fork.proof(10, 20))
    cosigned = verify_checkpoint(evidence.cosigned_note or "", LOG.verifier)
    refused_ = verify_checkpoint(evidence.refused_note, LOG.verifier)
    with pytest.raises(ProofError, match="the consistency proof leads to another old root"):
        merkle.verify_consistency(10, 20, evidence.proof, cosigned.root_hash, refused_.root_hash)
    assert state.latest(ORIGIN) == CosignedCheckpoint(10, HONEST.root(10), HONEST.note(10))
    assert wit.add_checkpoint(HONEST.request(10, 20)).ok


class RacingState(MemoryWitnessState):
    """Another request stores `size` between this request's checks and its store."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def store(self, origin: str, size: int, root: bytes, note: str, *, old_size: int) -> bool:
        current = self.checkpoints.get(origin)
        if current is not None and current.size < self.size:
            super().store(origin, self.size, HONEST.root(self.size), "", old_size=current.size)
        return super().store(origin, size, root, note, old_size=old_size)


def test_a_request_that_loses_the_race_to_store_is_refused_with_409_and_not_cosigned() -> None:
    state = RacingState(30)
    wit, _ = witness(state)
    wit.add_checkpoint(HONEST.request(0, 10))

    result = wit.add_checkpoint(HONEST.request(10, 20))

    assert (result.status, result.body, result.content_type) == (409, b"30\n", TLOG_SIZE)
    assert state.latest(ORIGIN) == CosignedCheckpoint(30, HONEST.root(30), "")


def test_a_witness_needs_a_key_for_every_log() -> None:
    with pytest.raises(InvalidInput, match="every log of a witness needs at least one verifier"):
        Witness(KEY, {ORIGIN: []}, MemoryWitnessState(), Clock())


# The request format


@pytest.mark.parametrize(
    ("old", "proof", "message"),
    [
        (-1, [], "old size must be from 0 to 2**64 - 1, got -1"),
        (2**64, [], "old size must be from 0 to 2**64 - 1"),
        (1, [bytes(31)], "proof line 2 holds 31 bytes; expected 32"),
        (1, [bytes(32)] * 64, "request has 64 consistency proof lines; at most 63"),
    ],
)
def test_a_request_that_would_be_malformed_is_not_formatted(
    old: int, proof: list[bytes], message: str
) -> None:
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}") as caught:
        format_add_checkpoint(old, proof, HONEST.note(3))

    assert caught.value.message.startswith(message)


# Properties


def expected_status(cosigned: tuple[int, Tree] | None, old: int, size: int, tree: Tree) -> int:
    """The spec's answer, computed from the witness's view: (size, tree) it cosigned last."""
    known = cosigned[0] if cosigned else 0
    if old > size:
        return 400
    if old != known:
        return 409
    if cosigned is None or old == 0:
        return 200
    consistent = tree.root(known) == cosigned[1].root(known)
    if size == known and not consistent:
        return 409
    return 200 if consistent else 422


TREES = [HONEST, Tree(64, fork=20), Tree(64, fork=3)]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2),  # which tree signed the checkpoint
            st.integers(0, 64),  # its size
            st.booleans(),  # whether the client knows the witness's size
            st.integers(0, 64),  # the old size claimed otherwise
        ),
        min_size=1,
        max_size=12,
    )
)
def test_the_witness_cosigns_exactly_the_checkpoints_consistent_with_what_it_cosigned(
    steps: Sequence[tuple[int, int, bool, int]],
) -> None:
    wit, state = witness()
    cosigned: list[tuple[int, Tree]] = []
    evidence = 0
    for choice, size, informed, guess in steps:
        tree, last = TREES[choice], (cosigned[-1] if cosigned else None)
        old = (last[0] if last else 0) if informed else guess
        proof = tree.proof(old, size) if 0 < old <= size else []

        result = wit.add_checkpoint(format_add_checkpoint(old, proof, tree.note(size)))

        expected = expected_status(last, old, size, tree)
        assert result.status == expected
        evidence += expected in (409, 422) and last is not None and 0 < old == last[0] <= size
        if result.ok:
            cosigned.append((size, tree))
    assert len(state.misbehaviour) == evidence
    for (earlier, before), (later, after) in pairwise(cosigned):
        assert earlier <= later and before.root(earlier) == after.root(earlier)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 64), min_size=1, max_size=10))
def test_every_growing_sequence_of_honest_checkpoints_is_cosigned(sizes: list[int]) -> None:
    wit, _ = witness()
    old = 0

    for size in sorted(sizes):
        result = wit.add_checkpoint(HONEST.request(old, size))

        assert result.ok
        old = size
