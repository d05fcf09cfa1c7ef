"""The walkthrough of docs/investigations.md, end to end through the API on SQLite and PostgreSQL:
a photo with a partial serial, to candidates, to a trace and its answer, to a matched sighting, to
an evidence bundle that verifies offline and shows the sighting."""

from __future__ import annotations

import base64
import hashlib
from uuid import UUID

from fastapi.testclient import TestClient

from ledger.application.ledger import Ledger
from ledger.integrity.entries import decode_entry
from ledger.verification.evidence_check import describe, load_bundle, verify_bundle
from tests.conftest import SIGNER, Clock
from tests.programme import ADMIN, ago, issue, record_sighting

PHOTO = hashlib.sha256(b"photo of the receiver").hexdigest()
SALES_RECORD = hashlib.sha256(b"the supplier's sales record").hexdigest()


def _as(ledger: Ledger, party: str, role: str) -> dict[str, str]:
    token, _ = ledger.grant_token(party=party, role=role, actor=ADMIN)
    return {"Authorization": f"Bearer {token}"}


def test_from_a_partial_serial_on_a_photo_to_a_verified_evidence_bundle(
    client: TestClient, api_ledger: Ledger, clock: Clock
) -> None:
    rifle = issue(api_ledger, "AK-1000", days_ago=300)
    issue(api_ledger, "AK-1090", days_ago=300)
    issue(api_ledger, "AK-2000", days_ago=300)
    investigator = _as(api_ledger, "investigator", "investigator")
    supplier = _as(api_ledger, "supplier", "supplier")
    seen_at = ago(api_ledger, days=3).isoformat()

    # 1. The photo: half the serial filed off, in Cyrillic lettering, held by an armed group.
    sighting = client.post(
        "/v1/sightings",
        json={
            "observer": "investigator",
            "location": "market, grid 38S MB 123 456",
            "occurred_at": seen_at,
            "serial_as_read": "\u0410\u041a-10?0",
            "manufacturer": "Maker",
            "held_by": "armed group X",
            "evidence": [PHOTO],
        },
        headers=investigator,
    ).json()["sighting_id"]

    # 2. Candidates: from the list of unmatched sightings, and from the search at the photo's time.
    [unmatched] = client.get("/v1/sightings", headers=investigator).json()["sightings"]
    found = client.get(
        "/v1/items/search",
        params={"q": "AK-10?0", "manufacturer": "Maker", "at": seen_at},
        headers=investigator,
    ).json()["items"]
    assert [c["serial"] for c in unmatched["candidates"]] == ["AK-1090", "AK-1000"]
    assert [(c["serial"], c["at"]["holder"]) for c in found] == [
        ("AK-1090", "unit-1"),
        ("AK-1000", "unit-1"),
    ]

    # 3. A trace to the supplier about the sighting; the supplier answers with its sales record.
    trace = client.post(
        "/v1/traces",
        json={
            "sighting_id": sighting,
            "addressee": "supplier",
            "question": "Which of AK-1000 and AK-1090 has a receiver with this repair weld?",
        },
        headers=investigator,
    ).json()["trace_id"]
    clock.advance(days=2)
    answered = client.post(
        f"/v1/traces/{trace}/answers",
        json={"answer": "AK-1000: the weld is ours, repair 2025-06", "documents": [SALES_RECORD]},
        headers=supplier,
    )
    assert answered.status_code == 201, answered.text
    assert client.get("/v1/traces", params={"status": "answered"}).json()["traces"][0]["answer"][
        "documents"
    ] == [SALES_RECORD]

    # 4. The match: the item gets a Sighted naming the sighting's entry; a diversion finding.
    matched = client.post(
        f"/v1/sightings/{sighting}/match", json={"item_id": str(rifle)}, headers=investigator
    )
    assert matched.status_code == 201, matched.text
    flags = client.get("/v1/flags", params={"item": str(rifle)}).json()["flags"]
    assert "diversion" in {f["rule"] for f in flags}

    # 5. The bundle, found by the serial as marked, verifies offline and shows the sighting.
    [named] = client.get(
        "/v1/items", params={"serial": "AK 1000", "manufacturer": "Maker", "model": "M1"}
    ).json()["items"]
    bundle = client.get(f"/v1/items/{named['item_id']}/evidence")
    report = verify_bundle(load_bundle(bundle.content), SIGNER.verifier)
    recorded = api_ledger.log_store.log_entries_of(UUID(sighting))[0].entry
    assert UUID(named["item_id"]) == rifle
    assert any("seen by investigator with armed group X" in line for line in describe(report))
    [sighted] = [
        decode_entry(base64.b64decode(e["entry"]))
        for e in load_bundle(bundle.content)["entries"]
        if e["log_index"] == matched.json()["log_index"]
    ]
    assert sighted["payload"]["evidence"] == [hashlib.sha256(recorded).hexdigest(), PHOTO]


def test_the_bundle_carries_the_items_traces_and_matched_sightings_proved_in_its_context(
    client: TestClient, api_ledger: Ledger
) -> None:
    rifle = issue(api_ledger, "AK-1000", days_ago=300)
    issue(api_ledger, "AK-2000", days_ago=300)
    sighting = record_sighting(api_ledger, "AK-10?0", ago(api_ledger, days=3)).id
    trace = api_ledger.request_trace(
        item=rifle, addressee="supplier", question="Sold to whom?", answer_days=28, actor=ADMIN
    ).id
    api_ledger.answer_trace(trace, answer="To the force", documents=[], actor=ADMIN)
    unrelated = api_ledger.request_trace(
        sighting=sighting, addressee="supplier", question="Yours?", answer_days=28, actor=ADMIN
    ).id
    api_ledger.match_sighting(sighting, item=rifle, actor=ADMIN)

    bundle = load_bundle(client.get(f"/v1/items/{rifle}/evidence").content)

    verify_bundle(bundle, SIGNER.verifier)
    context = {
        (str(body["aggregate_id"]), str(body["type"]))
        for body in (decode_entry(base64.b64decode(e["entry"])) for e in bundle["context"])
    }
    assert {
        (str(trace), "custody:Trace.Requested"),
        (str(trace), "custody:Trace.Answered"),
        (str(sighting), "custody:Sighting.Recorded"),
        (str(sighting), "custody:Sighting.Matched"),
    } <= context
    assert str(unrelated) not in {aggregate for aggregate, _ in context}
