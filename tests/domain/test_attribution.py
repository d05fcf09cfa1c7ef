"""Attribution bound to the actor (docs/events.md, "Who did it"): the inspector, observer and
recoverer an entry names are its actor or one of the actor's units; only an admin names another
party, and the timeline then says the operator recorded it for that party."""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import Unauthorised
from ledger.integrity.entries import decode_entry
from ledger.verification.evidence_check import entry_detail
from tests.programme import ADMIN, INSPECTOR, INVESTIGATOR, ago, inspect, issue, register, sight


@pytest.fixture
def item(ledger: Ledger) -> UUID:
    register(ledger)
    ledger.register_party(
        party_id="inspectorate-north",
        name="Northern office",
        kind="inspector",
        parent="inspectorate",
        actor=ADMIN,
    )
    return issue(ledger)


def test_an_inspector_may_not_name_another_party_as_the_inspector(
    ledger: Ledger, item: UUID
) -> None:
    refusal = (
        "^inspectorate may record inspections only by itself or its units, not by investigator$"
    )

    with pytest.raises(Unauthorised, match=refusal):
        inspect(ledger, item, ago(ledger, days=1), inspector="investigator", actor=INSPECTOR)


def test_an_investigator_may_not_name_another_party_as_the_observer(
    ledger: Ledger, item: UUID
) -> None:
    refusal = "^investigator may record sightings only by itself or its units, not by inspectorate$"

    with pytest.raises(Unauthorised, match=refusal):
        sight(ledger, item, ago(ledger, days=1), observer="inspectorate", actor=INVESTIGATOR)


def test_an_inspector_may_name_one_of_its_units_and_the_timeline_says_who_recorded_it(
    ledger: Ledger, item: UUID
) -> None:
    inspect(ledger, item, ago(ledger, days=1), inspector="inspectorate-north", actor=INSPECTOR)

    body = decode_entry(ledger.history(item)[-1].entry)
    assert entry_detail("Inspected", body["payload"], str(body["actor"])) == (
        "verified (physical), recorded by inspectorate for inspectorate-north"
    )


def test_an_admin_may_record_for_another_party_and_the_timeline_says_so(
    ledger: Ledger, item: UUID
) -> None:
    sight(ledger, item, ago(ledger, days=1), held_by="unknown armed group", location="border")
    inspect(ledger, item, ago(ledger, hours=1), inspector=None, actor=INSPECTOR)

    details = [
        entry_detail(b["type"].rsplit(".", 1)[-1], b["payload"], b["actor"])
        for b in (decode_entry(r.entry) for r in ledger.history(item)[1:])
    ]
    assert details == [
        "seen with unknown armed group at border, recorded by operator for investigator",
        "verified (physical) by inspectorate",
    ]


def test_an_entry_naming_someone_else_reads_as_its_actors_word_whoever_it_names() -> None:
    """An entry recorded before the rule (a partner naming the inspectorate) is attributed by its
    actor: it never reads as the inspectorate's inspection."""
    payload = {"result": "verified", "method": "self_report", "inspector": "inspectorate"}

    detail = entry_detail("Inspected", payload, "unit-1")

    assert detail == "verified (self_report), recorded by unit-1 for inspectorate"
