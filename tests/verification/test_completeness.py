"""Complete histories (issue 13, item 1): a bundle proves, by the map of heads committed at the end
of its checkpoint, that it holds every entry of the item, of its agreement and of each party whose
key signed one of the item's entries. Whoever assembles a bundle cannot drop the last entry (the
loss report) or a key revocation; the check that catches each is the map's head proof
(ledger/verification/completeness.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import copy
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.deps import current_actor
from api.main import create_app
from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.errors import NotFound, ProofError
from ledger.domain.ids import party_uuid
from ledger.domain.tokens import Role
from ledger.integrity import merkle
from ledger.integrity.entries import decode_entry
from ledger.integrity.heads import verify_head
from ledger.integrity.maproots import MAP_ID, committed
from ledger.verification.evidence_check import verify_bundle
from ledger.verification.headproofs import proof_from_json, proved_entry
from tests.checks_submissions import registered_by_the_operator, self_reported_inspection
from tests.conftest import SIGNER, Clock, LedgerFactory
from tests.programme import ADMIN, ago, issue, register

PARTNER_KEY = Ed25519PrivateKey.from_private_bytes(b"\x0c" * 32)


def signed_inspection(ledger: Ledger, item: UUID, nonce: str) -> int:
    said = ago(ledger, days=1)
    return self_reported_inspection(
        ledger, item, party="unit-2", key=PARTNER_KEY, nonce=nonce, occurred_at=said
    ).log_index


@pytest.fixture
def history(make_ledger: LedgerFactory, db_url: str, clock: Clock) -> tuple[Ledger, UUID, str]:
    """An item issued, given to unit-2, inspected by unit-2 with its signed key, then lost; the
    checkpoint signed after each step."""
    ledger = make_ledger(db_url)
    register(ledger)
    key = registered_by_the_operator(ledger, "unit-2", PARTNER_KEY)
    item = issue(ledger, "CMP-0001")
    ledger.tlog.checkpoint()
    ledger.transfer(item, to="unit-2", occurred_at=ago(ledger, days=20), actor=ADMIN)
    clock.advance(minutes=1)
    signed_inspection(ledger, item, "nonce-complete-0001")
    ledger.tlog.checkpoint()
    ledger.report_lost(item, circumstances="stolen", occurred_at=ago(ledger, hours=5), actor=ADMIN)
    return ledger, item, key


def entries_of(bundle: dict[str, Any]) -> list[int]:
    return [e["log_index"] for e in bundle["entries"]]


def test_a_complete_bundle_says_it_is_complete_up_to_its_checkpoint(
    history: tuple[Ledger, UUID, str],
) -> None:
    ledger, item, _ = history

    bundle = ledger.evidence(item)
    report = verify_bundle(bundle, SIGNER.verifier)

    size = report.checkpoint.size
    assert report.notes[0] == (
        f"complete up to the checkpoint of size {size}: versions 1 to 4 are every entry of the "
        f"item among the first {size - 1} entries of the log (map of heads)"
    )
    assert report.left_control is not None and report.left_control.kind == "ReportedLost"


def test_a_bundle_without_the_loss_report_is_refused_naming_the_missing_index(
    history: tuple[Ledger, UUID, str],
) -> None:
    ledger, item, _ = history
    bundle = ledger.evidence(item)
    loss = bundle["entries"][-1]["log_index"]
    bundle["entries"] = bundle["entries"][:-1]

    with pytest.raises(
        ProofError,
        match="the bundle lacks entry .*: the map of heads shows it before the checkpoint",
    ) as refused:
        verify_bundle(bundle, SIGNER.verifier)

    assert refused.value.position == loss
    assert refused.value.message.startswith(f"the bundle lacks entry {loss} (version 4) of {item}")


def test_a_bundle_whose_map_root_is_an_older_one_is_refused(
    history: tuple[Ledger, UUID, str],
) -> None:
    ledger, item, _ = history
    bundle = ledger.evidence(item)
    size = bundle["map_root"]["log_index"] + 1
    older = ledger.log_store.last_entry_of(MAP_ID, size - 1)  # the map root before it
    assert older is not None
    bundle["map_root"] = proved_entry(ledger.log_store, older, size)

    with pytest.raises(ProofError, match="does not end with a map root"):
        verify_bundle(bundle, SIGNER.verifier)


def test_a_bundle_without_a_signers_key_revocation_is_refused(
    history: tuple[Ledger, UUID, str], clock: Clock
) -> None:
    # The key is found compromised late: revoked from before the inspection it signed.
    ledger, item, key = history
    ledger.revoke_key(
        party="unit-2",
        key=key,
        reason="found compromised",
        actor=ADMIN,
        revoked_at=ago(ledger, days=2),
    )
    clock.advance(minutes=1)
    bundle = ledger.evidence(item)
    revoked = next(
        e["log_index"]
        for e in bundle["context"]
        if "KeyRevoked" in decode_entry(base64.b64decode(e["entry"]))["type"]
    )
    dropped = copy.deepcopy(bundle)
    dropped["context"] = [e for e in bundle["context"] if e["log_index"] != revoked]

    with pytest.raises(ProofError, match="signed by a revoked key"):
        verify_bundle(bundle, SIGNER.verifier)
    with pytest.raises(
        ProofError,
        match="the bundle lacks entry .*: the map of heads shows it before the checkpoint",
    ) as refused:
        verify_bundle(dropped, SIGNER.verifier)

    assert refused.value.message.startswith(
        f"the bundle lacks entry {revoked} (version 3) of {party_uuid('unit-2')}"
    )


def test_a_bundle_without_the_head_proof_of_its_signer_is_refused(
    history: tuple[Ledger, UUID, str],
) -> None:
    ledger, item, _ = history
    bundle = ledger.evidence(item)
    signer = str(party_uuid("unit-2"))
    bundle["heads"] = [h for h in bundle["heads"] if h["aggregate_id"] != signer]

    with pytest.raises(ProofError, match=f"lacks the head proof of {signer}"):
        verify_bundle(bundle, SIGNER.verifier)


def test_the_heads_route_proves_a_head_and_an_absence_at_a_checkpoint(
    history: tuple[Ledger, UUID, str],
) -> None:
    ledger, item, _ = history
    size = int(ledger.tlog.checkpoint().split("\n")[1])
    app = create_app(ledger)
    app.dependency_overrides[current_actor] = lambda: Actor("oversight", Role.OVERSIGHT)
    client = TestClient(app)

    found = client.get(f"/v1/log/heads/{item}", params={"size": size}).json()
    absent = client.get(f"/v1/log/heads/{UUID(int=5)}", params={"size": size}).json()

    map_root = found["map_root"]
    entry = base64.b64decode(map_root["entry"])
    covered, root = committed(decode_entry(entry)) or (0, b"")
    merkle.verify_inclusion(
        merkle.leaf_hash(entry),
        map_root["log_index"],
        size,
        [base64.b64decode(h) for h in map_root["inclusion_proof"]],
        ledger.tlog.root(size),
    )
    head = verify_head(item, proof_from_json(item, found["proof"]), root)
    assert head is not None and head.version == 4 and head.log_index < covered == size - 1
    assert verify_head(UUID(int=5), proof_from_json(UUID(int=5), absent["proof"]), root) is None


def test_a_head_asked_before_any_map_root_is_not_found(
    make_ledger: LedgerFactory, db_url: str
) -> None:
    ledger = make_ledger(db_url)
    register(ledger)

    with pytest.raises(NotFound, match="no map root is committed within the first 3 entries"):
        ledger.tlog.head_proof(party_uuid("operator"), 3)


def test_map_roots_are_appended_once_per_checkpoint_and_cover_the_entries_before_them(
    history: tuple[Ledger, UUID, str],
) -> None:
    ledger, _, _ = history
    before = ledger.log_store.log_size()

    note = ledger.tlog.checkpoint()
    again = ledger.tlog.checkpoint()

    size = int(note.split("\n")[1])
    last = ledger.tlog.log_entries(size - 1, size)[0]
    assert (size, again) == (before + 1, note)
    assert committed(decode_entry(last.entry)) == (size - 1, ledger.tlog.heads.root(size - 1))
