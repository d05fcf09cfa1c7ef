"""A bundle is judged on the item's own terms (docs/verification.md, section 7, step 6), on SQLite
and PostgreSQL: a context entry the item's record does not rest on is refused, not ignored."""

from __future__ import annotations

import base64
import copy
from typing import Any
from uuid import UUID

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import ProofError
from ledger.domain.ids import agreement_uuid, party_uuid
from ledger.integrity.entries import decode_entry
from ledger.verification.evidence_check import verify_bundle
from tests.conftest import SIGNER
from tests.programme import ADMIN, ago, conclude_agreement, issue, register


@pytest.fixture
def diverted(store_ledger: Ledger) -> tuple[Ledger, UUID]:
    """An item of eua-1 transferred to `outsider`, whom only another agreement, eua-2, names."""
    ledger = store_ledger
    register(ledger)
    conclude_agreement(ledger, "eua-2", "Programme Two", ["outsider"])
    item = issue(ledger)
    ledger.transfer(item, to="outsider", occurred_at=ago(ledger, days=1), actor=ADMIN)
    return ledger, item


def with_context_of(ledger: Ledger, bundle: dict[str, Any], aggregate: UUID) -> dict[str, Any]:
    """The bundle plus the aggregate's entries, each with its valid inclusion proof."""
    forged = copy.deepcopy(bundle)
    size = int(bundle["checkpoint"].split("\n")[1])
    for row in ledger.log_store.log_entries_of(aggregate):
        forged["context"].append(
            {
                "log_index": row.log_index,
                "entry": base64.b64encode(row.entry).decode(),
                "inclusion_proof": [
                    base64.b64encode(h).decode()
                    for h in ledger.tlog.inclusion_proof(row.log_index, size)
                ],
            }
        )
    return forged


def test_the_item_left_control_when_it_went_to_a_party_its_own_agreement_does_not_authorize(
    diverted: tuple[Ledger, UUID],
) -> None:
    ledger, item = diverted

    report = verify_bundle(ledger.evidence(item), SIGNER.verifier)

    assert report.left_control is not None
    assert report.left_control.detail == "unit-1 -> outsider"


def test_another_agreements_concluded_entry_with_its_valid_proof_is_refused(
    diverted: tuple[Ledger, UUID],
) -> None:
    ledger, item = diverted
    forged = with_context_of(ledger, ledger.evidence(item), agreement_uuid("eua-2"))
    index = ledger.log_store.log_entries_of(agreement_uuid("eua-2"))[0].log_index

    with pytest.raises(ProofError, match="is not part of this item's evidence") as refused:
        verify_bundle(forged, SIGNER.verifier)

    assert refused.value.reason == f"entry {index} is not part of this item's evidence"
    assert refused.value.position == index


def test_a_party_none_of_the_items_entries_names_is_refused(
    diverted: tuple[Ledger, UUID],
) -> None:
    ledger, item = diverted
    forged = with_context_of(ledger, ledger.evidence(item), party_uuid("unit-3"))

    with pytest.raises(ProofError, match="is not part of this item's evidence") as refused:
        verify_bundle(forged, SIGNER.verifier)

    assert refused.value.reason.endswith("is not part of this item's evidence")
    assert "Registered of" in refused.value.got


def test_a_trace_about_another_item_is_refused_though_one_about_this_item_is_part_of_it(
    diverted: tuple[Ledger, UUID],
) -> None:
    """Issue 17 puts the item's traces in the context; a trace about another item stays out."""
    ledger, item = diverted
    other = issue(ledger, "OTHER-1")
    ours, theirs = (
        ledger.request_trace(
            item=about, addressee="supplier", question="Sold to whom?", answer_days=28, actor=ADMIN
        ).id
        for about in (item, other)
    )
    bundle = ledger.evidence(item)
    forged = with_context_of(ledger, bundle, theirs)
    index = ledger.log_store.log_entries_of(theirs)[0].log_index

    with pytest.raises(ProofError, match="is not part of this item's evidence") as refused:
        verify_bundle(forged, SIGNER.verifier)

    assert verify_bundle(bundle, SIGNER.verifier).left_control is not None
    assert str(ours) in {
        str(decode_entry(base64.b64decode(e["entry"]))["aggregate_id"]) for e in bundle["context"]
    }
    assert refused.value.reason == f"entry {index} is not part of this item's evidence"
    assert refused.value.got == f"Requested of {theirs}"
