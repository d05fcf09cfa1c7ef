"""Keys the party endorsed (docs/signing.md, section 1), on SQLite and PostgreSQL: a registration
proves possession of the new key; a party with an active key endorses a new one with it (a
rotation); a key registered without that is operator-registered, and signatures by it are reported
so until the party confirms it; a revocation is never dated in the future; the active keys of a
party are bounded."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.bounds import Bounds
from ledger.domain.errors import InvalidTime, LimitExceeded, Unauthenticated, Unauthorised
from ledger.domain.tokens import Role
from ledger.integrity.endorsements import confirm_key, prove_key
from ledger.integrity.submissions import key_id
from ledger.verification.evidence_check import verify_bundle
from tests.checks_submissions import self_reported_inspection
from tests.conftest import SIGNER, Clock, LedgerFactory
from tests.programme import ADMIN, ago, issue, register

UNIT_1 = Actor("unit-1", Role.PARTNER)


@pytest.fixture
def ledger(store_ledger: Ledger) -> Ledger:
    register(store_ledger)
    return store_ledger


def kid(key: Ed25519PrivateKey) -> str:
    return key_id(key.public_key().public_bytes_raw())


def proved(ledger: Ledger, key: Ed25519PrivateKey, **endorsing: Any) -> dict[str, Any]:
    return prove_key(key, origin=ledger.origin, party="unit-1", **endorsing)


def how(ledger: Ledger) -> list[tuple[str, str, str]]:
    return [(k.key_id, k.registered_by, k.how) for k in ledger.key_history("unit-1")]


def test_a_registration_whose_proof_is_not_by_the_new_key_is_refused(ledger: Ledger) -> None:
    new, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    body = proved(ledger, new) | {"proof": proved(ledger, other)["proof"]}

    with pytest.raises(Unauthenticated, match="the proof of possession does not verify") as refused:
        ledger.register_key(party="unit-1", actor=ADMIN, **body)

    assert refused.value.message == (f"the proof of possession does not verify with key {kid(new)}")
    assert ledger.key_history("unit-1") == []


def test_a_proof_made_for_another_party_is_refused(ledger: Ledger) -> None:
    new = Ed25519PrivateKey.generate()
    body = prove_key(new, origin=ledger.origin, party="unit-2")

    with pytest.raises(Unauthenticated, match="the proof of possession does not verify"):
        ledger.register_key(party="unit-1", actor=ADMIN, **body)


def test_the_first_key_is_operator_registered_until_the_party_confirms_it(
    ledger: Ledger,
) -> None:
    first = Ed25519PrivateKey.generate()
    ledger.register_key(party="unit-1", actor=ADMIN, **proved(ledger, first))
    before = how(ledger)

    ledger.confirm_key(
        party="unit-1",
        key=kid(first),
        actor=UNIT_1,
        **confirm_key(first, origin=ledger.origin, party="unit-1"),
    )

    assert before == [(kid(first), "operator", "operator-registered, not confirmed by the party")]
    assert how(ledger) == [(kid(first), "operator", "operator-registered, confirmed by the party")]


def test_only_the_party_itself_may_confirm_its_key_and_only_with_a_signature_by_it(
    ledger: Ledger,
) -> None:
    first, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    ledger.register_key(party="unit-1", actor=ADMIN, **proved(ledger, first))
    good = confirm_key(first, origin=ledger.origin, party="unit-1")
    forged = confirm_key(other, origin=ledger.origin, party="unit-1")

    with pytest.raises(
        Unauthorised, match="only unit-1 itself, with its own token, may confirm its keys"
    ) as by_admin:
        ledger.confirm_key(party="unit-1", key=kid(first), actor=ADMIN, **good)
    with pytest.raises(Unauthenticated, match="the confirmation does not verify") as by_another_key:
        ledger.confirm_key(party="unit-1", key=kid(first), actor=UNIT_1, **forged)

    assert by_admin.value.message == "only unit-1 itself, with its own token, may confirm its keys"
    assert by_another_key.value.message == (
        f"the confirmation does not verify with key {kid(first)}"
    )
    assert how(ledger)[0][2] == "operator-registered, not confirmed by the party"


def test_a_second_key_without_an_endorsement_by_an_active_key_is_refused_even_for_an_admin(
    ledger: Ledger,
) -> None:
    """The issue's case: an admin, or anyone holding the partner's token, registered a key for
    the party and signed as it."""
    first, planted = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    ledger.register_key(party="unit-1", actor=ADMIN, **proved(ledger, first))

    with pytest.raises(
        Unauthorised, match="a new key must be endorsed by a signature of one of them"
    ) as by_admin:
        ledger.register_key(party="unit-1", actor=ADMIN, **proved(ledger, planted))
    with pytest.raises(
        Unauthorised, match="a new key must be endorsed by a signature of one of them"
    ):
        ledger.register_key(party="unit-1", actor=UNIT_1, **proved(ledger, planted))

    assert by_admin.value.message == (
        f"party unit-1 has active keys ({kid(first)}): a new key must be endorsed by a signature"
        " of one of them (endorsed_by, endorsement)"
    )
    assert [k for k, _, _ in how(ledger)] == [kid(first)]


def test_a_rotation_endorsed_by_an_active_key_is_the_partys_own(ledger: Ledger) -> None:
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    ledger.register_key(party="unit-1", actor=ADMIN, **proved(ledger, first))

    ledger.register_key(party="unit-1", actor=UNIT_1, **proved(ledger, second, endorsing_key=first))

    assert how(ledger) == [
        (kid(first), "operator", "operator-registered, not confirmed by the party"),
        (kid(second), "unit-1", f"endorsed by key {kid(first)}"),
    ]


def test_an_endorsement_by_a_revoked_key_or_a_forged_one_is_refused(ledger: Ledger) -> None:
    first, second, third = (Ed25519PrivateKey.generate() for _ in range(3))
    ledger.register_key(party="unit-1", actor=ADMIN, **proved(ledger, first))
    ledger.register_key(party="unit-1", actor=UNIT_1, **proved(ledger, second, endorsing_key=first))
    ledger.revoke_key(party="unit-1", key=kid(first), reason="rotated", actor=UNIT_1)
    forged = proved(ledger, third, endorsing_key=third) | {"endorsed_by": kid(second)}

    with pytest.raises(Unauthenticated, match="is not an active key of party unit-1") as revoked:
        ledger.register_key(
            party="unit-1", actor=UNIT_1, **proved(ledger, third, endorsing_key=first)
        )
    with pytest.raises(Unauthenticated, match="the endorsement does not verify") as not_by_it:
        ledger.register_key(party="unit-1", actor=UNIT_1, **forged)

    assert revoked.value.message == f"key {kid(first)} is not an active key of party unit-1"
    assert not_by_it.value.message == f"the endorsement does not verify with key {kid(second)}"


def test_after_every_key_is_revoked_an_admin_registers_an_operator_registered_key(
    ledger: Ledger,
) -> None:
    lost, replacement = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    ledger.register_key(party="unit-1", actor=ADMIN, **proved(ledger, lost))
    ledger.revoke_key(party="unit-1", key=kid(lost), reason="lost with the laptop", actor=ADMIN)

    ledger.register_key(party="unit-1", actor=ADMIN, **proved(ledger, replacement))

    history = ledger.key_history("unit-1")
    assert [(k.key_id, k.how, k.revocation_reason) for k in history] == [
        (kid(lost), "operator-registered, not confirmed by the party", "lost with the laptop"),
        (kid(replacement), "operator-registered, not confirmed by the party", None),
    ]


def test_a_revocation_dated_in_the_future_is_refused(ledger: Ledger) -> None:
    key = Ed25519PrivateKey.generate()
    ledger.register_key(party="unit-1", actor=ADMIN, **proved(ledger, key))
    later = ledger.clock() + timedelta(minutes=1)

    with pytest.raises(InvalidTime, match="revoked_at .* is in the future") as refused:
        ledger.revoke_key(
            party="unit-1", key=kid(key), reason="scheduled", revoked_at=later, actor=ADMIN
        )

    assert refused.value.message.startswith("revoked_at ")
    assert refused.value.message.endswith(
        "is in the future (now is 2026-03-01T12:00:00.000000Z): a revocation takes effect when"
        " it is recorded or earlier, never later"
    )
    assert ledger.key_history("unit-1")[0].revoked_at is None


def test_a_party_has_at_most_the_bound_of_active_keys(
    make_ledger: LedgerFactory, db_url: str
) -> None:
    ledger = make_ledger(db_url, bounds=Bounds(max_active_keys=2))
    register(ledger)
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    ledger.register_key(party="unit-1", actor=ADMIN, **proved(ledger, keys[0]))
    ledger.register_key(
        party="unit-1", actor=UNIT_1, **proved(ledger, keys[1], endorsing_key=keys[0])
    )

    with pytest.raises(
        LimitExceeded, match=r"active keys, the most allowed \(2\); revoke one first"
    ) as refused:
        ledger.register_key(
            party="unit-1", actor=UNIT_1, **proved(ledger, keys[2], endorsing_key=keys[0])
        )

    assert refused.value.message == (
        "party unit-1 has 2 active keys, the most allowed (2); revoke one first"
    )


def signed_self_report(ledger: Ledger, item: UUID, key: Ed25519PrivateKey, nonce: str) -> int:
    at = ago(ledger, hours=1)
    return self_reported_inspection(
        ledger, item, party="unit-1", key=key, nonce=nonce, occurred_at=at
    ).log_index


def test_the_bundle_reports_signatures_by_an_unconfirmed_operator_registered_key(
    ledger: Ledger, clock: Clock
) -> None:
    key = Ed25519PrivateKey.generate()
    ledger.register_key(party="unit-1", actor=ADMIN, **proved(ledger, key))
    item = issue(ledger)
    before = signed_self_report(ledger, item, key, "nonce-before-1")
    clock.advance(minutes=5)
    ledger.confirm_key(
        party="unit-1",
        key=kid(key),
        actor=UNIT_1,
        **confirm_key(key, origin=ledger.origin, party="unit-1"),
    )
    clock.advance(minutes=5)
    after = signed_self_report(ledger, item, key, "nonce-after-01")

    report = verify_bundle(ledger.evidence(item), SIGNER.verifier)

    signed = {t.log_index: (t.signed_by, t.key_endorsed) for t in report.timeline if t.signed_by}
    assert signed == {
        before: (f"unit-1 (key {kid(key)}, operator-registered: not confirmed by unit-1)", False),
        after: (f"unit-1 (key {kid(key)})", True),
    }


def test_the_proof_of_possession_signs_the_documented_bytes(ledger: Ledger) -> None:
    key = Ed25519PrivateKey.generate()
    body = proved(ledger, key)
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()

    message = (
        '{"format":"custody-key-registration/v1","key_id":"'
        + kid(key)
        + '","origin":"'
        + ledger.origin
        + '","party":"unit-1","public_key":"'
        + public
        + '"}'
    ).encode()

    key.public_key().verify(base64.b64decode(body["proof"]), message)
