"""Evidence bundles: built by a witnessed ledger, checked offline with the log's key and a policy.

The history (log indexes as built, one checkpoint after each step, the clock one hour on each time;
before signing each checkpoint the ledger appends a map root, ledger/integrity/maproots.py, which
is then
the checkpoint's last entry):

    0-10  the programme (tests/programme.py)     11  unit-2's key
                                                 12  map root   checkpoint 13 at 12:00
    13    issue to unit-1                        14  map root   checkpoint 15 at 13:00
    15    transfer to unit-2                     16  map root   checkpoint 17 at 14:00
    17    inspection, verified, by inspectorate  18  map root   checkpoint 19 at 15:00
    19    unit-2's own inspection, signed        20  its nonce
                                                 21  map root   checkpoint 22 at 16:00
    22    reported lost                          23  map root   checkpoint 24 at 17:00
    24    sighted, held by outsider              25  map root   checkpoint 26 at 18:00

Three witnesses (quorum 2 of 3) cosign each checkpoint at the time of the test's clock, so each
entry's window is (the hour before it was recorded, the hour it was recorded).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.deps import current_actor
from api.main import create_app
from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.errors import ProofError
from ledger.domain.ids import agreement_uuid, party_uuid
from ledger.domain.times import format_time
from ledger.domain.tokens import Role
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint, sign_checkpoint
from ledger.integrity.heads import Head, HeadMap, verify_head
from ledger.integrity.maproots import committed
from ledger.integrity.signing import Signer
from ledger.verification.evidence_check import (
    EvidenceReport,
    TimelineEntry,
    load_bundle,
    verify_bundle,
)
from ledger.verification.headproofs import proof_from_json, proof_json
from ledger.witness.witness_policy import WitnessPolicy, parse_policy
from tests import reference
from tests.checks_submissions import UNIT_2_KEY, registered_by_the_operator, unit_2_reports_itself
from tests.conftest import SIGNER, START, Clock, LedgerFactory
from tests.programme import ADMIN, inspect, issue, register, sight
from tests.witness.test_witnessing import WITNESS_KEYS, Network, policy_text

ORIGIN = SIGNER.name
CHECKPOINT_SIZES = [13, 15, 17, 19, 22, 24, 26]
SIZE = CHECKPOINT_SIZES[-1]
ITEM_INDEXES = [13, 15, 17, 19, 22, 24]
SIGNED = ITEM_INDEXES[3]  # unit-2's own inspection, signed with its key
KEY_REGISTERED = 11  # unit-2's key
CONTEXT_INDEXES = [0, 2, 4, 5, 7, 8, 9, 10, 11]  # operator, supplier, units 1-2, the outsider
# (named by `held_by`, and registered), inspectorate, investigator, the agreement, unit-2's key
ISSUED = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
TRANSFERRED = datetime(2026, 2, 5, 10, 0, tzinfo=UTC)
INSPECTED = datetime(2026, 2, 10, 11, 0, tzinfo=UTC)
SELF_REPORTED = datetime(2026, 2, 20, 8, 0, tzinfo=UTC)
LOST = datetime(2026, 2, 25, 22, 0, tzinfo=UTC)
DISCOVERED = datetime(2026, 2, 26, 7, 0, tzinfo=UTC)
SIGHTED = datetime(2026, 2, 28, 15, 0, tzinfo=UTC)
INVESTIGATOR = Actor("investigator", Role.INVESTIGATOR)
PARTNER_KEY_ID = "dbc298251c51321b"
OTHER_SIGNER = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x0b" * 32))
COMPLETE = (
    f"complete up to the checkpoint of size {SIZE}: versions 1 to 6 are every entry of the item "
    f"among the first {SIZE - 1} entries of the log (map of heads)"
)
UNBOUNDED = (
    "no witness policy given: nothing but the log key vouches for this bundle; the times "
    "entries were on record are not bounded, and the log's word is all there is"
)

# The item's timeline, which the report and `custody verify-evidence` show: log index, kind, field
# time, recorded at hour n, actor, holder, detail, signed by. The admin registered unit-2's key and
# unit-2 never confirmed it: the report says so.
TIMELINE = [
    (
        ITEM_INDEXES[0],
        "Issued",
        ISSUED,
        1,
        "operator",
        "unit-1",
        "issued to unit-1 under eua-1",
        None,
    ),
    (
        ITEM_INDEXES[1],
        "Transferred",
        TRANSFERRED,
        2,
        "operator",
        "unit-2",
        "unit-1 -> unit-2",
        None,
    ),
    (
        ITEM_INDEXES[2],
        "Inspected",
        INSPECTED,
        3,
        "operator",
        "unit-2",
        "verified (physical), recorded by operator for inspectorate",
        None,
    ),
    (
        SIGNED,
        "Inspected",
        SELF_REPORTED,
        4,
        "unit-2",
        "unit-2",
        "verified (self_report) by unit-2",
        f"unit-2 (key {PARTNER_KEY_ID}, operator-registered: not confirmed by unit-2)",
    ),
    (
        ITEM_INDEXES[4],
        "ReportedLost",
        LOST,
        5,
        "operator",
        "unit-2",
        f"stolen, discovered {format_time(DISCOVERED)}",
        None,
    ),
    (
        ITEM_INDEXES[5],
        "Sighted",
        SIGHTED,
        6,
        "operator",
        "unit-2",
        "seen with outsider at Town market, recorded by operator for investigator",
        None,
    ),
]


def hour(n: int) -> datetime:
    return START + timedelta(hours=n)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class History:
    ledger: Ledger
    network: Network
    item: UUID
    indexes: list[int]
    bundle: dict[str, Any]

    def entries(self) -> list[bytes]:
        return [row.entry for row in self.ledger.tlog.log_entries(0, SIZE)]


def build_history(ledger: Ledger, network: Network, clock: Clock) -> History:
    """The history of the module docstring, on `ledger`; its bundle made at the end."""
    register(ledger)
    assert registered_by_the_operator(ledger, "unit-2", UNIT_2_KEY) == PARTNER_KEY_ID
    indexes: list[int] = []

    def checkpointed(recorded: Any = None) -> None:
        if recorded is not None:
            indexes.append(recorded.log_index)
        ledger.tlog.checkpoint()
        clock.advance(hours=1)

    checkpointed()
    fields = {"manufacturer": "Maker", "model": "M1", "category": "rifle", "agreement": "eua-1"}
    issued = ledger.issue(
        serial="AK-0001", recipient="unit-1", occurred_at=ISSUED, actor=ADMIN, **fields
    )
    item = issued.id
    checkpointed(issued)
    checkpointed(ledger.transfer(item, to="unit-2", occurred_at=TRANSFERRED, actor=ADMIN))
    checkpointed(inspect(ledger, item, INSPECTED, location="depot"))
    checkpointed(unit_2_reports_itself(ledger, item, SELF_REPORTED))
    checkpointed(
        ledger.report_lost(
            item, circumstances="stolen", occurred_at=LOST, discovered_at=DISCOVERED, actor=ADMIN
        )
    )
    checkpointed(sight(ledger, item, SIGHTED, location="Town market", held_by="outsider"))
    return History(ledger, network, item, indexes, ledger.evidence(item))


@pytest.fixture
def history(make_ledger: LedgerFactory, db_url: str, tmp_path: Path, clock: Clock) -> History:
    network = Network(tmp_path, clock)
    return build_history(make_ledger(db_url, **network.ledger_options()), network, clock)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """One history on SQLite for the tampering tests, which change only the bundle."""
    clock, directory = Clock(), tmp_path_factory.mktemp("evidence")
    network = Network(directory, clock)
    ledger = Ledger(
        clock=clock,
        db=f"sqlite:///{directory / 'custody.db'}",
        create_tables=True,
        signer=SIGNER,
        **network.ledger_options(),  # type: ignore[arg-type]
    )
    yield build_history(ledger, network, clock)
    ledger.close()


@pytest.fixture
def bundle(built: History) -> dict[str, Any]:
    """A fresh copy of the good bundle, to tamper with."""
    return copy.deepcopy(built.bundle)


def expected_timeline(item_windows: bool = True) -> list[TimelineEntry]:
    def entry(index: int, kind: str, occurred: datetime, recorded: int, *rest: Any) -> Any:
        window = (hour(recorded - 1), hour(recorded)) if item_windows else (None, None)
        # the inspectorate's inspection is independent; unit-2's own is its word, signed by a key
        # the operator registered and unit-2 never confirmed
        independent = {ITEM_INDEXES[2]: True, SIGNED: False}.get(index)
        key_endorsed = False if index == SIGNED else None
        return TimelineEntry(
            index,
            kind,
            format_time(occurred),
            format_time(hour(recorded)),
            *rest,
            *window,
            independent,
            key_endorsed,
        )

    return [entry(*row) for row in TIMELINE]


POLICY = parse_policy(policy_text())


def refused(bundle: dict[str, Any], check: str, *, policy: WitnessPolicy | None = POLICY) -> str:
    """The message of the ProofError the bundle is refused with, by default under the policy;
    `check` matches the words of the check that must refuse it."""
    with pytest.raises(ProofError, match=check) as error:
        verify_bundle(bundle, SIGNER.verifier, policy=policy)
    return error.value.message


def not_in_the_log(built: History, at: int, got: str) -> str:
    """The refusal of entry `at`, whose inclusion proof leads to the root `got`, not the
    checkpoint's."""
    return (
        f"entry {at} is not in the checkpointed log: the inclusion proof leads to another root at"
        f" position {at}: expected {built.ledger.tlog.root(SIZE).hex()}, got {got}"
    )


def flip(text: str, at: int) -> str:
    data = bytearray(base64.b64decode(text))
    data[at] ^= 0x01
    return b64(bytes(data))


def entry_of(bundle: dict[str, Any], index: int) -> dict[str, Any]:
    return next(e for e in bundle["entries"] + bundle["context"] if e["log_index"] == index)


def root_with(entries: list[bytes], index: int, entry: bytes) -> str:
    """The root of the log with entry `index` replaced: where that entry's proof then leads."""
    return reference.mth((*entries[:index], entry, *entries[index + 1 :])).hex()


def root_from(entry: bytes | str, index: int, proof: list[str]) -> str:
    data = base64.b64decode(entry) if isinstance(entry, str) else entry
    hashes = [base64.b64decode(h) for h in proof]
    return merkle.root_from_inclusion_proof(merkle.leaf_hash(data), index, SIZE, hashes).hex()


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def forged(history: History, index: int, change: Callable[[dict[str, Any]], None]) -> dict:
    """The bundle a dishonest log could make: entry `index` changed, its aggregate's later entries
    chained to it again, the map of heads and the map root ending the checkpoint computed again,
    the whole tree hashed again and its checkpoint signed with the log's key. Only a party's
    signature can then tell."""
    entries = history.entries()
    body = json.loads(entries[index])
    change(body)
    entries[index] = previous = canonical(body)
    for later in range(index + 1, SIZE):
        body = json.loads(entries[later])
        if body["aggregate_id"] == json.loads(previous)["aggregate_id"]:
            body["prev"] = merkle.leaf_hash(previous).hex()
            entries[later] = previous = canonical(body)
    heads = map_of_heads(entries[: SIZE - 1])
    map_root = json.loads(entries[SIZE - 1])
    map_root["payload"]["root"] = heads.root().hex()
    entries[SIZE - 1] = canonical(map_root)
    tree = tuple(entries)
    bundle = copy.deepcopy(history.bundle)
    bundle["checkpoint"] = sign_checkpoint(Checkpoint(ORIGIN, SIZE, reference.mth(tree)), SIGNER)
    bundle["earlier_checkpoints"] = []
    for proved in [*bundle["entries"], *bundle["context"], bundle["map_root"]]:
        i = proved["log_index"]
        proved["entry"] = b64(entries[i])
        proved["inclusion_proof"] = [b64(h) for h in reference.path(i, tree)]
    for head in bundle["heads"]:
        head["proof"] = proof_json(heads.prove(UUID(head["aggregate_id"])))
    return bundle


def map_of_heads(entries: list[bytes]) -> HeadMap:
    """The map of heads of `entries` (the first entries of a log), computed from scratch."""
    bodies = [json.loads(entry) for entry in entries]
    return HeadMap(
        Head(UUID(b["aggregate_id"]), b["aggregate_version"], i, merkle.leaf_hash(entries[i]))
        for i, b in enumerate(bodies)
    )


# A bundle that verifies ---------------------------------------------------------------------------


def test_the_evidence_route_serves_a_bundle_that_verifies_with_the_timeline_and_windows(
    history: History,
) -> None:
    app = create_app(history.ledger)
    app.dependency_overrides[current_actor] = lambda: INVESTIGATOR  # a token would grow the log
    api = TestClient(app)

    response = api.get(f"/v1/items/{history.item}/evidence")
    served = load_bundle(response.content)
    report = verify_bundle(served, SIGNER.verifier, policy=POLICY)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="evidence-{history.item}.json"'
    )
    assert served == history.bundle
    assert history.indexes == ITEM_INDEXES
    assert [s for s, _ in history.ledger.log_store.all_checkpoints()] == CHECKPOINT_SIZES
    assert report == EvidenceReport(
        str(history.item),
        Checkpoint(ORIGIN, SIZE, history.ledger.tlog.root(SIZE)),
        [("w0", hour(6)), ("w1", hour(6)), ("w2", hour(6))],
        expected_timeline(),
        expected_timeline()[2],
        expected_timeline()[4],
        [COMPLETE],
    )
    # unit-2's own self-report is its word: the last independent verification is the inspection
    assert (report.last_verified_in_control.log_index, report.left_control.log_index) == (
        ITEM_INDEXES[2],
        ITEM_INDEXES[4],
    )
    assert report.left_control.on_record_by == hour(5)  # the loss was on record by 17:00


def test_the_bundle_holds_the_entries_their_proofs_the_checkpoint_and_every_key(
    history: History,
) -> None:
    bundle = history.bundle

    assert bundle["format"] == "custody-evidence/v2"
    assert bundle["item_id"] == str(history.item)
    assert bundle["log_key"] == SIGNER.verifier.vkey
    assert bundle["witness_keys"] == [f"w{i} {k.verifier.vkey}" for i, k in enumerate(WITNESS_KEYS)]
    assert bundle["checkpoint"] == history.ledger.tlog.checkpoint()
    assert [e["log_index"] for e in bundle["entries"]] == ITEM_INDEXES
    assert sorted(e["log_index"] for e in bundle["context"]) == CONTEXT_INDEXES
    entries = history.entries()
    tree = tuple(entries)
    assert bundle["map_root"]["log_index"] == SIZE - 1  # the checkpoint's last entry
    for proved in [*bundle["entries"], *bundle["context"], bundle["map_root"]]:
        i = proved["log_index"]
        assert proved["entry"] == b64(entries[i])
        assert proved["inclusion_proof"] == [b64(h) for h in reference.path(i, tree)]
    key = json.loads(base64.b64decode(entry_of(bundle, KEY_REGISTERED)["entry"]))
    assert key["payload"]["public_key"] == b64(UNIT_2_KEY.public_key().public_bytes_raw())
    assert [e["consistency_proof"] for e in bundle["earlier_checkpoints"]] == [
        [b64(h) for h in reference.proof(size, tree)] for size in CHECKPOINT_SIZES[:-1]
    ]


def test_the_bundle_proves_the_heads_of_the_item_its_agreement_and_its_signer_from_the_map_root(
    history: History,
) -> None:
    bundle, entries = history.bundle, history.entries()
    commit = committed(json.loads(entries[SIZE - 1]))
    heads = map_of_heads(entries[: SIZE - 1])  # a naive recomputation from the entries

    assert commit == (SIZE - 1, heads.root())
    assert [h["aggregate_id"] for h in bundle["heads"]] == [
        str(history.item),
        str(agreement_uuid("eua-1")),
        str(party_uuid("unit-2")),
    ]
    proven = [
        verify_head(
            UUID(h["aggregate_id"]), proof_from_json(UUID(h["aggregate_id"]), h["proof"]), commit[1]
        )
        for h in bundle["heads"]
    ]
    assert proven == [heads.get(UUID(h["aggregate_id"])) for h in bundle["heads"]]
    assert (proven[0].version, proven[0].log_index) == (6, ITEM_INDEXES[-1])


def test_without_a_policy_the_bundle_verifies_and_the_report_says_the_windows_are_unbounded(
    history: History,
) -> None:
    report = verify_bundle(history.bundle, SIGNER.verifier)

    assert report.cosignatures == []
    assert report.timeline == expected_timeline(item_windows=False)
    assert report.notes == [COMPLETE, UNBOUNDED]
    assert (report.last_verified_in_control, report.left_control) == (
        expected_timeline(item_windows=False)[2],
        expected_timeline(item_windows=False)[4],
    )


def test_the_entries_in_another_order_in_the_file_verify_to_the_same_report(
    built: History, bundle: dict[str, Any]
) -> None:
    bundle["entries"].reverse()
    bundle["context"].reverse()

    report = verify_bundle(bundle, SIGNER.verifier, policy=POLICY)

    assert report == verify_bundle(built.bundle, SIGNER.verifier, policy=POLICY)


def test_a_sighting_with_an_unauthorized_holder_before_any_loss_is_when_it_left_control(
    make_ledger: LedgerFactory, clock: Clock
) -> None:
    ledger = make_ledger("sqlite:///:memory:")
    register(ledger)
    item = issue(ledger, days_ago=10)
    inspect(ledger, item, clock() - timedelta(days=5))
    seen = sight(
        ledger, item, clock() - timedelta(days=2), location="border", held_by="unknown armed group"
    )
    ledger.report_lost(
        item, circumstances="missing", occurred_at=clock() - timedelta(days=1), actor=ADMIN
    )

    report = verify_bundle(ledger.evidence(item), SIGNER.verifier)

    assert report.left_control is not None and report.left_control.log_index == seen.log_index
    assert report.left_control.detail == (
        "seen with unknown armed group at border, recorded by operator for investigator"
    )
    assert report.last_verified_in_control is not None
    assert report.last_verified_in_control.log_index == seen.log_index - 1


# Tampering ----------------------------------------------------------------------------------------


def test_a_flipped_byte_in_an_entry_is_refused_naming_the_entry_and_the_roots(
    built: History, bundle: dict[str, Any]
) -> None:
    bundle["entries"][1]["entry"] = flip(bundle["entries"][1]["entry"], 40)
    entries = built.entries()

    message = refused(bundle, "the inclusion proof leads to another root")

    second = ITEM_INDEXES[1]
    assert message == not_in_the_log(
        built, second, root_with(entries, second, base64.b64decode(bundle["entries"][1]["entry"]))
    )


def test_a_dropped_middle_entry_is_refused_naming_the_missing_version(
    built: History, bundle: dict[str, Any]
) -> None:
    del bundle["entries"][2]

    message = refused(bundle, "an entry of the item is missing or foreign")

    assert message == (
        f"an entry of the item is missing or foreign at position {ITEM_INDEXES[3]}: "
        f"expected {built.item} version 3, got {built.item} version 4"
    )


def test_another_entry_in_place_of_one_of_the_items_is_refused_as_foreign(
    built: History, bundle: dict[str, Any]
) -> None:
    bundle["entries"][2] = copy.deepcopy(entry_of(bundle, 10))  # the agreement, proved

    message = refused(bundle, "an entry of the item is missing or foreign")

    assert message == (
        "an entry of the item is missing or foreign at position 10: expected "
        f"{built.item} version 2, got {json.loads(built.entries()[10])['aggregate_id']} version 1"
    )


def test_two_entries_swapped_between_log_indexes_are_refused(
    built: History, bundle: dict[str, Any]
) -> None:
    second, third = bundle["entries"][1], bundle["entries"][2]
    second["entry"], third["entry"] = third["entry"], second["entry"]
    at, other = ITEM_INDEXES[1], ITEM_INDEXES[2]

    message = refused(bundle, "the inclusion proof leads to another root")

    assert message == not_in_the_log(
        built, at, root_with(built.entries(), at, built.entries()[other])
    )


def test_two_entries_with_their_log_indexes_swapped_are_refused(
    built: History, bundle: dict[str, Any]
) -> None:
    second, third = bundle["entries"][1], bundle["entries"][2]
    second["log_index"], third["log_index"] = third["log_index"], second["log_index"]
    at = ITEM_INDEXES[2]

    message = refused(bundle, "the inclusion proof leads to another root")

    assert message == not_in_the_log(
        built, at, root_from(second["entry"], at, second["inclusion_proof"])
    )


def test_an_inclusion_proof_with_a_hash_flipped_is_refused(
    built: History, bundle: dict[str, Any]
) -> None:
    proved = bundle["entries"][3]
    proved["inclusion_proof"][1] = flip(proved["inclusion_proof"][1], 0)

    message = refused(bundle, "the inclusion proof leads to another root")

    assert message == not_in_the_log(
        built, SIGNED, root_from(proved["entry"], SIGNED, proved["inclusion_proof"])
    )


def test_an_inclusion_proof_with_a_hash_dropped_is_refused(bundle: dict[str, Any]) -> None:
    del bundle["entries"][3]["inclusion_proof"][-1]

    message = refused(bundle, "the inclusion proof has too few hashes")

    assert message.startswith(f"entry {SIGNED} is not in the checkpointed log: ")


def test_an_inclusion_proof_with_a_hash_dropped_is_refused_saying_it_has_too_few_hashes(
    bundle: dict[str, Any],
) -> None:
    del bundle["entries"][3]["inclusion_proof"][-1]

    message = refused(bundle, "the inclusion proof has too few hashes")

    assert "the inclusion proof has too few hashes" in message


def test_the_checkpoint_signed_by_another_key_of_the_same_name_is_refused(
    bundle: dict[str, Any],
) -> None:
    text, signatures = bundle["checkpoint"].split("\n\n", 1)
    checkpoint = Checkpoint(ORIGIN, SIZE, base64.b64decode(text.split("\n")[2]))
    other_line = sign_checkpoint(checkpoint, OTHER_SIGNER).split("\n\n", 1)[1]
    cosignatures = signatures.split("\n", 1)[1]
    bundle["checkpoint"] = f"{text}\n\n{other_line}{cosignatures}"

    message = refused(bundle, "note is not signed by any known key")

    assert message == (
        f"note is not signed by any known key: expected a signature by {ORIGIN}+"
        f"{SIGNER.key_id:08x}, got {ORIGIN}+{OTHER_SIGNER.key_id:08x}, w0.example+"
        f"{WITNESS_KEYS[0].key_id:08x}, w1.example+{WITNESS_KEYS[1].key_id:08x}, w2.example+"
        f"{WITNESS_KEYS[2].key_id:08x}"
    )


def test_a_checkpoint_with_its_cosignatures_stripped_to_one_is_refused_under_the_quorum(
    bundle: dict[str, Any],
) -> None:
    lines = bundle["checkpoint"].split("\n")
    bundle["checkpoint"] = "\n".join(lines[:6]) + "\n"  # text, blank, the log's line, w0's

    message = refused(bundle, "witness quorum g is not met")

    assert (
        message == "witness quorum g is not met: 2 of 3 witnesses required, 1 valid cosignature: w0"
    )


def test_a_checkpoint_with_one_cosignature_verifies_without_a_policy(
    bundle: dict[str, Any],
) -> None:
    lines = bundle["checkpoint"].split("\n")
    bundle["checkpoint"] = "\n".join(lines[:6]) + "\n"

    report = verify_bundle(bundle, SIGNER.verifier)

    assert report.notes == [COMPLETE, UNBOUNDED]


def test_a_cosignature_with_a_flipped_byte_is_refused(bundle: dict[str, Any]) -> None:
    lines = bundle["checkpoint"].split("\n")
    name, signature = lines[6].rsplit(" ", 1)
    lines[6] = f"{name} {flip(signature, 20)}"
    bundle["checkpoint"] = "\n".join(lines)

    message = refused(bundle, "cosignature does not verify")

    assert message.startswith(
        "cosignature does not verify: expected an Ed25519 cosignature/v1 of the checkpoint by "
        f"w1.example+{WITNESS_KEYS[1].key_id:08x}, got "
    )


def test_an_earlier_checkpoint_with_a_wrong_consistency_proof_is_refused(
    built: History, bundle: dict[str, Any]
) -> None:
    earlier = bundle["earlier_checkpoints"][1]
    earlier["consistency_proof"][0] = flip(earlier["consistency_proof"][0], 0)

    message = refused(bundle, "the consistency proof leads to another old root")

    old = CHECKPOINT_SIZES[1]
    assert message.startswith(
        f"the checkpoint at size {old} is not an earlier state of this log: the consistency "
        f"proof leads to another old root at position {old}: expected "
        f"{built.ledger.tlog.root(old).hex()}, got "
    )


def test_an_earlier_checkpoint_with_a_wrong_consistency_proof_names_its_position_once(
    bundle: dict[str, Any],
) -> None:
    earlier = bundle["earlier_checkpoints"][1]
    earlier["consistency_proof"][0] = flip(earlier["consistency_proof"][0], 0)

    message = refused(bundle, "is not an earlier state of this log")

    assert message.count(f"at position {CHECKPOINT_SIZES[1]}") == 1


def test_an_earlier_checkpoint_signed_by_another_key_is_refused(bundle: dict[str, Any]) -> None:
    bundle["earlier_checkpoints"][0]["checkpoint"] = sign_checkpoint(
        Checkpoint(ORIGIN, CHECKPOINT_SIZES[0], merkle.EMPTY_ROOT), OTHER_SIGNER
    )

    message = refused(bundle, "note is not signed by any known key")

    assert message == (
        f"note is not signed by any known key: expected a signature by {ORIGIN}+"
        f"{SIGNER.key_id:08x}, got {ORIGIN}+{OTHER_SIGNER.key_id:08x}"
    )


def test_a_signed_entry_whose_key_registration_is_left_out_is_refused_naming_that_entry(
    bundle: dict[str, Any],
) -> None:
    # The signer's key history must be complete: the map of heads shows unit-2's version 2.
    bundle["context"] = [e for e in bundle["context"] if e["log_index"] != KEY_REGISTERED]

    message = refused(bundle, "the bundle lacks entry .*: the map of heads shows it")

    assert message == (
        f"the bundle lacks entry {KEY_REGISTERED} (version 2) of {party_uuid('unit-2')}: the map "
        f"of heads shows it before the checkpoint of size {SIZE} at position {KEY_REGISTERED}: "
        "expected versions 1 to 2, got versions 1 to 1"
    )


def test_a_flipped_signature_byte_in_a_signed_entry_is_refused_as_not_in_the_log(
    built: History, bundle: dict[str, Any]
) -> None:
    body = json.loads(built.entries()[SIGNED])
    body["signature"]["signature"] = flip(body["signature"]["signature"], 3)
    entry_of(bundle, SIGNED)["entry"] = b64(canonical(body))

    message = refused(bundle, "the inclusion proof leads to another root")

    assert message == not_in_the_log(
        built, SIGNED, root_with(built.entries(), SIGNED, canonical(body))
    )


def another_key_id(body: dict[str, Any]) -> None:
    body["payload"]["key_id"] = "0123456789abcdef"


def a_flipped_party_signature(body: dict[str, Any]) -> None:
    body["signature"]["signature"] = flip(body["signature"]["signature"], 3)


def another_result(body: dict[str, Any]) -> None:
    body["payload"]["result"] = "damaged"


# What a dishonest log changes in one entry before it hashes and signs the whole tree again, the
# check that refuses it, and the message.
FORGED_LOGS = [
    pytest.param(
        KEY_REGISTERED,
        another_key_id,
        "is signed by a key the bundle does not show registered before it",
        f"entry {SIGNED} is signed by a key the bundle does not show registered before it at "
        f"position {SIGNED}: expected a KeyRegistered entry of unit-2 for key {PARTNER_KEY_ID}, "
        "got none",
        id="another-key-registered-refused-by-the-entry-signed-with-it",
    ),
    pytest.param(
        SIGNED,
        a_flipped_party_signature,
        "'s signature does not verify",
        f"entry {SIGNED}'s signature does not verify: the signature does not verify with key "
        f"{PARTNER_KEY_ID}: the submission was changed, or signed by another key at position "
        f"{SIGNED}",
        id="a-forged-party-signature-refused-by-that-signature",
    ),
    pytest.param(
        SIGNED,
        another_result,
        "records result otherwise than its reporter signed",
        f"entry {SIGNED} records result otherwise than its reporter signed at position {SIGNED}: "
        "expected 'verified', got 'damaged'",
        id="a-signed-entrys-payload-changed-refused-by-the-field-it-signed",
    ),
]


@pytest.mark.parametrize(("index", "forge", "check", "expected"), FORGED_LOGS)
def test_a_log_that_forges_an_entry_and_signs_the_tree_again_is_refused_by_a_partys_signature(
    built: History,
    index: int,
    forge: Callable[[dict[str, Any]], None],
    check: str,
    expected: str,
) -> None:
    bundle = forged(built, index, forge)

    message = refused(bundle, check, policy=None)  # the witnesses never saw this tree

    assert message == expected


def test_a_forged_log_is_otherwise_accepted_under_the_log_key(built: History) -> None:
    bundle = forged(built, ITEM_INDEXES[2], lambda body: None)  # the same, rehashed: a sanity check

    report = verify_bundle(bundle, SIGNER.verifier)

    assert [t.log_index for t in report.timeline] == ITEM_INDEXES


def test_a_bundle_naming_another_log_key_is_refused(bundle: dict[str, Any]) -> None:
    bundle["log_key"] = OTHER_SIGNER.verifier.vkey

    message = refused(bundle, "the bundle names another log key")

    assert message == (
        f"the bundle names another log key: expected {SIGNER.verifier.vkey}, "
        f"got {OTHER_SIGNER.verifier.vkey}"
    )


def test_a_bundle_checked_with_another_log_key_is_refused(bundle: dict[str, Any]) -> None:
    with pytest.raises(ProofError, match="the bundle names another log key") as error:
        verify_bundle(bundle, OTHER_SIGNER.verifier)

    assert error.value.message == (
        f"the bundle names another log key: expected {OTHER_SIGNER.verifier.vkey}, "
        f"got {SIGNER.verifier.vkey}"
    )


def test_a_bundle_of_another_format_is_refused(bundle: dict[str, Any]) -> None:
    bundle["format"] = "custody-evidence/v0"

    message = refused(bundle, "not an evidence bundle")

    assert message == (
        "not an evidence bundle: expected custody-evidence/v2, got 'custody-evidence/v0'"
    )


def test_a_bundle_without_the_items_last_entries_is_refused_naming_the_head_it_lacks(
    built: History, bundle: dict[str, Any]
) -> None:
    # Dropping the loss report and the sighting leaves a good chain: only the map of heads tells.
    del bundle["entries"][4:]
    only_named_by_the_dropped = {str(party_uuid("investigator")), str(party_uuid("outsider"))}
    bundle["context"] = [
        e
        for e in bundle["context"]
        if json.loads(base64.b64decode(e["entry"]))["aggregate_id"] not in only_named_by_the_dropped
    ]

    message = refused(bundle, "the bundle lacks entry .*: the map of heads shows it", policy=None)

    assert message == (
        f"the bundle lacks entry {ITEM_INDEXES[-1]} (version 6) of {built.item}: the map of "
        f"heads shows it before the checkpoint of size {SIZE} at position {ITEM_INDEXES[-1]}: "
        "expected versions 1 to 6, got versions 1 to 4"
    )


def test_a_bundle_without_the_items_agreement_is_refused(bundle: dict[str, Any]) -> None:
    bundle["context"] = [e for e in bundle["context"] if e["log_index"] != 10]

    refused(bundle, "the bundle lacks the item's end-use agreement")


def test_a_sighting_held_by_a_unit_of_an_authorized_force_is_not_leaving_control(
    make_ledger: LedgerFactory, clock: Clock
) -> None:
    ledger = make_ledger("sqlite:///:memory:")
    register(ledger)
    ledger.register_party(
        party_id="platoon", name="Platoon", kind="recipient", parent="force", actor=ADMIN
    )
    item = issue(ledger, days_ago=10)
    sight(ledger, item, clock() - timedelta(days=1), location="barracks", held_by="platoon")

    report = verify_bundle(ledger.evidence(item), SIGNER.verifier)

    assert report.left_control is None


def test_an_entry_is_on_record_by_the_earliest_witness_cosignature_covering_it(
    make_ledger: LedgerFactory, tmp_path: Path, clock: Clock
) -> None:
    network = Network(tmp_path, clock, offsets=(20, 0, 10))
    ledger = make_ledger("sqlite:///:memory:", **network.ledger_options())
    register(ledger)
    ledger.tlog.checkpoint()
    clock.advance(hours=1)
    item = issue(ledger)
    ledger.tlog.checkpoint()

    report = verify_bundle(ledger.evidence(item), SIGNER.verifier, policy=POLICY)

    # On record by the earliest cosignature of a tree holding it; published after the latest
    # cosignature of a tree without it (w0's, 20 s late): each bound trusts its witness.
    assert (report.timeline[0].on_record_after, report.timeline[0].on_record_by) == (
        hour(0) + timedelta(seconds=20),
        hour(1),
    )
