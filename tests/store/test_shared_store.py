"""Two ledgers on one store, as two API processes on one PostgreSQL (and two on one SQLite file):
what one records, the other sees at once, although each keeps parties, agreements, tokens and keys
in memory (ledger/application/registry.py, `Ledger.current`).
"""

from __future__ import annotations

import base64
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import OperationalError

from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.errors import NotFound, Unauthenticated
from ledger.domain.tokens import Role
from ledger.integrity.endorsements import prove_key
from ledger.integrity.submissions import Submission, Submitted
from tests.conftest import LedgerFactory
from tests.programme import ADMIN, ago, issue, register

UNIT_1 = Actor("unit-1", Role.PARTNER)


@pytest.fixture
def two(make_ledger: LedgerFactory, db_url: str) -> tuple[Ledger, Ledger]:
    """Two ledgers on one store, each with its own connections and memory."""
    first = make_ledger(db_url)
    register(first)
    return first, make_ledger(db_url)


def signed_transfer(ledger: Ledger, key: Ed25519PrivateKey, key_id: str, item: UUID) -> None:
    """unit-1 transfers `item` to unit-2 yesterday, by a submission signed with its key `key_id`."""
    submission = Submission(
        origin=ledger.origin,
        party="unit-1",
        key_id=key_id,
        action="transfer",
        item=str(item),
        nonce=f"nonce-{item.hex}",
        body={"to": "unit-2"},
    )
    via = Submitted.from_signed(submission.sign(key))
    ledger.transfer(item, to="unit-2", occurred_at=ago(ledger, days=1), actor=UNIT_1, via=via)


def test_a_token_revoked_through_the_other_ledger_is_refused_at_once(
    two: tuple[Ledger, Ledger],
) -> None:
    first, second = two
    token, granted = first.grant_token(party="unit-1", role="partner", actor=ADMIN)
    assert first.authenticate(token) == second.authenticate(token) == UNIT_1

    second.revoke_token(granted.id, actor=ADMIN)

    with pytest.raises(Unauthenticated, match="token revoked"):
        first.authenticate(token)


def test_a_key_revoked_through_the_other_ledger_is_refused_at_once(
    two: tuple[Ledger, Ledger],
) -> None:
    first, second = two
    key = Ed25519PrivateKey.generate()
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    proved = prove_key(key, origin=first.origin, party="unit-1")
    assert proved["public_key"] == public
    key_id, _ = first.register_key(party="unit-1", actor=ADMIN, **proved)
    before, after = issue(first, "AK-0001"), issue(first, "AK-0002")
    signed_transfer(first, key, key_id, before)

    second.revoke_key(party="unit-1", key=key_id, reason="lost laptop", actor=ADMIN)

    with pytest.raises(Unauthenticated, match=f"key {key_id} of party unit-1 was revoked"):
        signed_transfer(first, key, key_id, after)
    assert first.item(after).holder == "unit-1"


def test_a_party_the_other_ledger_registers_is_found_though_it_was_looked_for_before(
    two: tuple[Ledger, Ledger],
) -> None:
    first, second = two
    item = issue(first)
    with pytest.raises(NotFound, match="party newcomer not found"):
        first.transfer(item, to="newcomer", occurred_at=ago(first, days=1), actor=ADMIN)

    second.register_party(party_id="newcomer", name="New unit", kind="recipient", actor=ADMIN)
    first.transfer(item, to="newcomer", occurred_at=ago(first, days=1), actor=ADMIN)

    assert second.item(item).holder == "newcomer"


def test_a_party_registered_in_a_batch_that_failed_is_not_remembered(
    two: tuple[Ledger, Ledger],
) -> None:
    first, _ = two
    with pytest.raises(RuntimeError, match="the batch fails"), first.batch():
        first.register_party(party_id="ghost", name="Never stored", kind="recipient", actor=ADMIN)
        issue(first, "AK-0009", recipient="ghost")
        raise RuntimeError("the batch fails")

    with pytest.raises(NotFound, match="party ghost not found"):
        issue(first, "AK-0010", recipient="ghost")


def test_a_request_stored_meanwhile_and_reported_as_an_aborted_pipeline_is_answered_as_stored(
    store_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers given the same request at once: on PostgreSQL the loser's insert may fail as
    "pipeline aborted" (the library's OperationalError) rather than as the unique violation of the
    nonce. The nonce is in the store, so it is answered as stored, not refused as a busy store."""
    register(store_ledger)
    item = issue(store_ledger, "AK-1000")
    writes = store_ledger._writes
    save_all = writes._save_all

    def stored_then_aborted(*args: object, **kwargs: object) -> None:
        save_all(*args, **kwargs)  # as the other server, first
        raise OperationalError("pipeline aborted")

    def transfer() -> object:
        via = Submitted("aborted-0001", "b" * 64)
        when = ago(store_ledger, days=1)
        return store_ledger.transfer(item, to="unit-2", occurred_at=when, actor=ADMIN, via=via)

    size = store_ledger.log_store.log_size()
    with monkeypatch.context() as losing:
        losing.setattr(writes, "_save_all", stored_then_aborted)
        answered = transfer()

    assert answered == transfer()  # the first answer, replayed
    assert store_ledger.log_store.log_size() == size + 2  # the transfer and its nonce, once
