"""The demo programme's issue-17 stories (ledger/operations/demo.py `_investigations`): unmatched
sightings
with candidates, a trace answered and one overdue, an inventory with a missing and an unknown
serial."""

from __future__ import annotations

from datetime import timedelta

from ledger.application.ledger import Ledger
from ledger.domain.inventories import ELSEWHERE, NOT_COUNTED, ON_BOOK, UNKNOWN
from ledger.domain.traces import ANSWERED, OVERDUE
from ledger.operations.demo import OPERATOR
from ledger.readmodels.models import Fleet
from ledger.readmodels.search import Filters, Pattern, search
from tests.operations.test_demo import NOW, built


def test_the_demo_has_unmatched_sightings_traces_and_an_inventory() -> None:
    ledger: Ledger = built(300)
    sightings = [s for _, s in ledger.sightings()]
    traces = list(ledger.traces())
    inventories = ledger.recorder.select_notifications(
        start=None, limit=10, topics=["custody:Inventory.Reconciled"]
    )

    leaked = search(
        ledger,
        Fleet.of(ledger),
        Pattern.parse(str(sightings[0].serial_as_read)),
        filters=Filters(),
        actor=OPERATOR,
    )
    assert [s.status for s in sightings] == ["unmatched", "unmatched"]
    assert leaked.candidates, "the half-read serial of a leaked rifle finds candidates"
    assert [t.status(NOW + timedelta(hours=1)) for t in traces] == [ANSWERED, OVERDUE]
    [reconciled] = [ledger.repository.get(n.originator_id).reconciled for n in inventories]
    assert reconciled[NOT_COUNTED] >= 1 and reconciled[UNKNOWN] == 1
    assert reconciled[ON_BOOK] >= 1 and reconciled[ELSEWHERE] == 0
    ledger.close()
