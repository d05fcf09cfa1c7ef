"""A whole programme, on SQLite and on PostgreSQL: four recipients under two agreements, 44 items, a
mass theft at one site on one day, slow leakage over months, an unauthorized retransfer surfaced
by an investigator's sighting, another to a unit outside the agreement, late loss reports, a late
discovery, a recovery, failed inspections and a delinquent unit. The oversight report is checked
item by item and rate by rate, as of two dates and as known at an earlier recording time, through
the engine and then through HTTP (JSON, CSV, filters, flags).

Field time: day n is T0 + n days at 08:00 UTC; an event is recorded at noon on its recording day.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.items import Status
from ledger.domain.times import format_time
from ledger.domain.tokens import Role
from policies.config import PolicyConfig
from policies.engine import Scope, UnaccountedReport, accounts, unaccounted_report
from policies.following import follower_of
from tests.conftest import SIGNER, Clock, fresh_schema
from tests.days import T0, day
from tests.programme import (
    ADMIN,
    INSPECTOR,
    INVESTIGATOR,
    UNITS,
    conclude_agreement,
    register,
    sight,
)

D1, D2 = T0 + timedelta(days=200), T0 + timedelta(days=290)
R = T0 + timedelta(days=120)  # a recording time: what the ledger knew on day 120
CSV_HEADER = [
    "as_of",
    "known_at",
    "item_id",
    "serial",
    "category",
    "programme",
    "agreement",
    "recipient",
    "holder",
    "status",
    "rule",
    "severity",
    "since",
    "detail",
    "evidence",
]


def partner(party: str) -> Actor:
    return Actor(party, Role.PARTNER)


# The programme -----------------------------------------------------------------------------------

ISSUES: dict[str, tuple[str, str, str, list[str]]] = {
    # recipient: (agreement, category, manufacturer, serials)
    "unit-1": ("eua-1", "rifle", "Arsenal", [f"U1-{i:02}" for i in range(1, 13)]),
    "unit-1/nv": ("eua-1", "night_vision", "Optic", ["NV-01", "NV-02"]),
    "unit-2": ("eua-1", "rifle", "Arsenal", [f"U2-{i:02}" for i in range(1, 13)]),
    "unit-3": ("eua-1", "rifle", "Arsenal", [f"U3-{i:02}" for i in range(1, 11)]),
    "unit-3/launcher": ("eua-1", "launcher", "Tube Works", ["L3-01", "L3-02"]),
    "b-1": ("eua-2", "pistol", "Pistolet", [f"B1-{i:02}" for i in range(1, 7)]),
}


@dataclass
class Programme:
    """The scenario as recorded: item ids by serial and the log index of every notable entry."""

    ledger: Ledger
    clock: Clock
    ids: dict[str, UUID] = field(default_factory=dict)
    serial_of: dict[UUID, str] = field(default_factory=dict)
    entry: dict[tuple[str, str], int] = field(default_factory=dict)
    token: str = ""

    def record_on(self, n: float) -> None:
        self.clock.now = day(n) + timedelta(hours=4)

    def issue_all(self) -> None:
        self.record_on(0)
        for key, (agreement, category, maker, serials) in ISSUES.items():
            for serial in serials:
                recorded = self.ledger.issue(
                    serial=serial,
                    manufacturer=maker,
                    model="Mk" + category[:2],
                    category=category,
                    agreement=agreement,
                    recipient=key.split("/")[0],
                    occurred_at=day(0),
                    actor=ADMIN,
                )
                self.ids[serial], self.serial_of[recorded.id] = recorded.id, serial
                self.entry[serial, "issue"] = recorded.log_index

    def inspect(self, serial: str, n: float, result: str = "verified") -> None:
        self.entry[serial, f"inspect@{n}"] = self.ledger.inspect(
            self.ids[serial], result=result, method="physical", occurred_at=day(n), actor=INSPECTOR
        ).log_index

    def round(self, n: float, serials: list[str], results: dict[str, str]) -> None:
        """An inspection round of every listed item still in custody (as the ledger knows now)."""
        self.record_on(n)
        for serial in serials:
            if self.ledger.item(self.ids[serial]).status is Status.IN_CUSTODY:
                self.inspect(serial, n, results.get(serial, "verified"))

    def lose(
        self,
        serial: str,
        by: str,
        circumstances: str,
        occurred: float,
        discovered: float,
        recorded: float,
    ) -> None:
        self.record_on(recorded)
        self.entry[serial, "loss"] = self.ledger.report_lost(
            self.ids[serial],
            circumstances=circumstances,
            occurred_at=day(occurred),
            discovered_at=day(discovered),
            actor=partner(by),
        ).log_index


def rifles_and_pistols(*recipients: str) -> list[str]:
    return [s for r in recipients for s in ISSUES[r][3]]


def build(ledger: Ledger, clock: Clock) -> Programme:
    clock.now = day(-10)
    register(ledger)
    ledger.register_party(party_id="force-b", name="Second force", kind="recipient", actor=ADMIN)
    for unit in ("b-1", "b-2"):
        ledger.register_party(
            party_id=unit, name=unit, kind="recipient", parent="force-b", actor=ADMIN
        )
    conclude_agreement(ledger, "eua-2", "Programme Two", ["force-b", "b-1", "b-2"])
    p = Programme(ledger, clock)
    every = rifles_and_pistols("unit-1", "unit-2", "unit-3", "b-1")

    p.issue_all()
    p.lose("U3-01", "unit-3", "lost", occurred=30, discovered=30, recorded=32)
    p.record_on(60)
    p.inspect("NV-01", 60)
    p.inspect("L3-01", 60)
    p.round(80, every, {})
    p.record_on(100)
    ledger.transfer(p.ids["U1-07"], to="unit-2", occurred_at=day(100), actor=partner("unit-1"))
    p.record_on(121)
    p.entry["U1-06", "transfer"] = ledger.transfer(
        p.ids["U1-06"], to="b-1", occurred_at=day(120), actor=partner("unit-1")
    ).log_index
    p.lose("U3-02", "unit-3", "missing", occurred=95, discovered=100, recorded=140)  # 40 days late
    p.record_on(150)
    ledger.dispose(
        p.ids["U1-12"],
        method="destroyed",
        certificate="DEST-2025-17",
        witnesses=["inspectorate", "supplier"],
        occurred_at=day(150),
        actor=partner("unit-1"),
    )
    p.entry["U2-12", "disposal"] = ledger.dispose(
        p.ids["U2-12"],
        method="destroyed",
        witnesses=["unit-2", "inspectorate"],
        occurred_at=day(150),
        actor=partner("unit-2"),
    ).log_index
    p.lose("U3-03", "unit-3", "lost", occurred=160, discovered=165, recorded=168)
    p.round(
        170,
        [s for s in every if s != "B1-01"],  # stolen on day 150, not yet reported
        {"U1-08": "serial_mismatch", "U2-10": "damaged", "U3-05": "not_presented"},
    )
    p.lose("B1-01", "b-1", "stolen", occurred=150, discovered=150, recorded=182)  # 32 days late
    for serial in ISSUES["unit-2"][3][:6]:  # the mass theft: one site, one day
        p.lose(serial, "unit-2", "stolen", occurred=180, discovered=181, recorded=185)
    p.lose("U3-05", "unit-3", "missing", occurred=171, discovered=171, recorded=185)
    p.record_on(192)
    p.entry["U1-05", "sighting"] = sight(
        ledger,
        p.ids["U1-05"],
        day(190),
        held_by="outsider",
        location="Border market",
        serial_as_read="U1-05",
        actor=INVESTIGATOR,
    ).log_index
    p.record_on(231)
    ledger.recover(p.ids["U2-03"], by="unit-2", occurred_at=day(230), actor=partner("unit-2"))
    p.lose("U3-06", "unit-3", "lost", occurred=240, discovered=240, recorded=241)
    p.round(  # unit-3 misses its third round; nobody presents U1-05
        255, [s for s in rifles_and_pistols("unit-1", "unit-2", "b-1") if s != "U1-05"], {}
    )
    p.lose("U3-04", "unit-3", "missing", occurred=210, discovered=275, recorded=280)
    p.record_on(300)
    follower_of(ledger, PolicyConfig()).catch_up()  # as a server's follower does after writes
    return p


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def programme(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Programme]:
    """The programme built once per store, for the tests that only read it."""
    with ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(fresh_schema())
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('programme') / 'custody.db'}"
        clock = Clock()
        ledger = Ledger(clock=clock, db=url, create_tables=True, signer=SIGNER)
        stack.callback(ledger.close)
        yield build(ledger, clock)


@pytest.fixture
def fresh(store_ledger: Ledger, clock: Clock) -> Programme:
    """The programme built for one test, which writes to it (scans, resolutions, more events)."""
    return build(store_ledger, clock)


# What the report must say ------------------------------------------------------------------------

Expected = dict[str, list[tuple[str, str, datetime, tuple[str, ...], str]]]
"""serial -> its reasons: (rule, severity, since, evidence as entry labels, detail)."""


def lost(
    circumstances: str, severity: str, n: float
) -> tuple[str, str, datetime, tuple[str, ...], str]:
    return ("lost", severity, day(n), ("loss",), f"reported {circumstances} and not recovered")


SIGHTED = (
    "diversion",
    "critical",
    day(190),
    ("sighting",),
    "seen with outsider, not authorized by agreement eua-1",
)
RETRANSFERRED = (
    "diversion",
    "critical",
    day(120),
    ("transfer",),
    "in the custody of b-1, not authorized by agreement eua-1",
)
NOT_PRESENTED = (
    "failed_inspection",
    "high",
    day(170),
    ("inspect@170",),
    "inspection found: not_presented",
)
UNACCOUNTED_D1: Expected = {
    "U1-05": [SIGHTED],
    "U1-06": [RETRANSFERRED],
    "U1-08": [
        (
            "failed_inspection",
            "high",
            day(170),
            ("inspect@170",),
            "inspection found: serial_mismatch",
        )
    ],
    **{f"U2-0{i}": [lost("stolen", "critical", 180)] for i in range(1, 7)},
    "U3-01": [lost("lost", "high", 30)],
    "U3-02": [lost("missing", "high", 95)],
    "U3-03": [lost("lost", "high", 160)],
    "U3-05": [lost("missing", "high", 171), NOT_PRESENTED],
    "B1-01": [lost("stolen", "critical", 150)],
}
UNACCOUNTED_D2: Expected = {
    "U1-05": [SIGHTED],
    "U1-06": [RETRANSFERRED],
    **{f"U2-0{i}": [lost("stolen", "critical", 180)] for i in (1, 2, 4, 5, 6)},
    "U3-01": [lost("lost", "high", 30)],
    "U3-02": [lost("missing", "high", 95)],
    "U3-03": [lost("lost", "high", 160)],
    "U3-04": [lost("missing", "high", 210)],
    "U3-05": [lost("missing", "high", 171), NOT_PRESENTED],
    "U3-06": [lost("lost", "high", 240)],
    "B1-01": [lost("stolen", "critical", 150)],
}
UNACCOUNTED_KNOWN_AT_R: Expected = {"U3-01": [lost("lost", "high", 30)]}

# recipient -> (issued, accounted, in custody, overdue). In custody: issued, less the items lost
# (and not recovered) or disposed by the date. Day 200: unit-1 less U1-12 (disposed); unit-2 less
# U2-01 to U2-06 (stolen on day 180) and U2-12 (disposed); unit-3 less U3-01, U3-02, U3-03 and
# U3-05; b-1 less B1-01. Day 290: U2-03 recovered on day 230; U3-04 (day 210) and U3-06 (day 240)
# lost. As known on day 120: only U3-01's loss was recorded.
Rates = dict[str, tuple[int, int, int, int]]
RATES_D1: Rates = {
    "b-1": (6, 5, 5, 0),
    "unit-1": (14, 11, 13, 2),
    "unit-2": (12, 6, 5, 1),
    "unit-3": (12, 8, 8, 1),
}
RATES_D2: Rates = {
    "b-1": (6, 5, 5, 0),
    "unit-1": (14, 12, 13, 2),
    "unit-2": (12, 7, 6, 0),
    "unit-3": (12, 6, 6, 5),
}
RATES_KNOWN_AT_R: Rates = {
    "b-1": (6, 6, 6, 6),
    "unit-1": (14, 14, 14, 13),
    "unit-2": (12, 12, 12, 12),
    "unit-3": (12, 11, 11, 10),
}
# serial -> (the day its inspection fell due, the entry it counts from)
NEVER_INSPECTED = {"NV-02": (90, "issue"), "L3-02": (90, "issue")}  # sensitive: 90 days
OVERDUE_D1 = {"U1-08": (172, "inspect@80"), "U2-10": (172, "inspect@80")} | NEVER_INSPECTED
OVERDUE_D2 = {
    **{s: (262, "inspect@170") for s in ("U1-05", "U3-07", "U3-08", "U3-09", "U3-10")},
    **NEVER_INSPECTED,
}


QUESTIONS = pytest.mark.parametrize(
    ("as_of", "known_at", "expected", "rates"),
    [
        (D1, None, UNACCOUNTED_D1, RATES_D1),
        (D2, None, UNACCOUNTED_D2, RATES_D2),
        (D1, R, UNACCOUNTED_KNOWN_AT_R, RATES_KNOWN_AT_R),
    ],
    ids=["as_of_day_200", "as_of_day_290", "as_of_day_200_known_at_day_120"],
)
"""The report's three questions, each with what it must answer, asked of the engine and of HTTP."""


def evidence(p: Programme, serial: str, labels: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(sorted(p.entry[serial, label] for label in labels))


def reasons_of(report: UnaccountedReport, p: Programme) -> dict[str, list[tuple[Any, ...]]]:
    return {
        a.serial: [(f.rule, f.severity.value, f.since, f.evidence, f.detail) for f in a.reasons]
        for a in report.unaccounted
    }


def expected_reasons(p: Programme, expected: Expected) -> dict[str, list[tuple[Any, ...]]]:
    return {
        serial: [
            (rule, severity, since, evidence(p, serial, labels), detail)
            for rule, severity, since, labels, detail in reasons
        ]
        for serial, reasons in expected.items()
    }


def rates_of(report: UnaccountedReport) -> Rates:
    return {
        r.recipient: (r.issued, r.accounted, r.in_custody, r.overdue) for r in report.recipients
    }


def report(p: Programme, as_of: datetime, **scope: Any) -> UnaccountedReport:
    return unaccounted_report(p.ledger, Scope(as_of=as_of, **scope), PolicyConfig())


# Through the engine ------------------------------------------------------------------------------


@QUESTIONS
def test_the_report_names_each_unaccounted_item_its_reasons_and_evidence_and_each_rate(
    programme: Programme,
    as_of: datetime,
    known_at: datetime | None,
    expected: Expected,
    rates: Rates,
) -> None:
    answer = report(programme, as_of, known_at=known_at)

    assert [a.serial for a in answer.unaccounted] == list(expected)
    assert reasons_of(answer, programme) == expected_reasons(programme, expected)
    assert rates_of(answer) == rates
    for r in answer.recipients:
        issued, accounted, in_custody, overdue = rates[r.recipient]
        assert r.accountability_rate == accounted / issued
        assert r.delinquency_rate == overdue / in_custody


def test_each_unaccounted_item_names_its_recipient_its_last_holder_and_its_status(
    programme: Programme,
) -> None:
    answer = report(programme, D2)

    rows = {a.serial: (a.recipient, a.holder, a.status, a.category) for a in answer.unaccounted}
    assert rows["U1-05"] == ("unit-1", "unit-1", "in_custody", "rifle")
    assert rows["U1-06"] == ("unit-1", "b-1", "in_custody", "rifle")
    assert rows["U2-01"] == ("unit-2", "unit-2", "lost", "rifle")
    assert rows["B1-01"] == ("b-1", "b-1", "lost", "pistol")
    assert {a.programme for a in answer.unaccounted if a.serial != "B1-01"} == {"Programme One"}


@pytest.mark.parametrize(
    ("as_of", "overdue"), [(D1, OVERDUE_D1), (D2, OVERDUE_D2)], ids=["day_200", "day_290"]
)
def test_the_delinquent_items_are_those_with_an_inspection_overdue_since_its_due_date(
    programme: Programme, as_of: datetime, overdue: dict[str, tuple[float, str]]
) -> None:
    found = {
        a.serial: [(f.since, f.evidence) for f in a.findings if f.rule == "inspection_overdue"]
        for a in accounts(programme.ledger, Scope(as_of=as_of), PolicyConfig())
        if a.overdue
    }

    assert found == {
        serial: [(day(n), evidence(programme, serial, (label,)))]
        for serial, (n, label) in overdue.items()
    }


def test_the_findings_that_do_not_make_an_item_unaccounted_are_reported_too(
    programme: Programme,
) -> None:
    others = {
        (a.serial, f.rule): (f.severity.value, f.since, f.evidence, f.detail)
        for a in accounts(programme.ledger, Scope(as_of=D1), PolicyConfig())
        for f in a.findings
        if not f.unaccounted and f.rule != "inspection_overdue"
    }

    p = programme
    assert others == {
        ("U2-10", "failed_inspection"): (
            "low",
            day(170),
            evidence(p, "U2-10", ("inspect@170",)),
            "inspection found: damaged",
        ),
        ("U2-12", "disposal_unverified"): (
            "high",
            day(150),
            evidence(p, "U2-12", ("disposal",)),
            "disposal with no certificate and 1 witnesses distinct from the holder",
        ),
        ("U3-02", "late_loss_report"): (
            "medium",
            day(130),
            evidence(p, "U3-02", ("loss",)),
            "recorded 40 days after its discovery",
        ),
        ("B1-01", "late_loss_report"): (
            "medium",
            day(180),
            evidence(p, "B1-01", ("loss",)),
            "recorded 32 days after its discovery",
        ),
    }
    late_discovery = [
        (a.serial, f.since, f.evidence, f.detail)
        for a in accounts(p.ledger, Scope(as_of=D2), PolicyConfig())
        for f in a.findings
        if f.rule == "late_discovery"
    ]
    assert late_discovery == [
        (
            "U3-04",
            day(262),
            evidence(p, "U3-04", ("inspect@170", "loss")),
            "discovered 105 days after it was last verified",
        )
    ]


def test_the_same_question_asked_twice_gives_the_same_answer(fresh: Programme) -> None:
    first = report(fresh, D1, known_at=day(150))

    fresh.lose("U1-09", "unit-1", "stolen", occurred=199, discovered=199, recorded=310)
    again = report(fresh, D1, known_at=day(150))

    assert again == first
    assert "U1-09" in [a.serial for a in report(fresh, D1).unaccounted]


# Through HTTP ------------------------------------------------------------------------------------


def admin_client(p: Programme) -> Iterator[TestClient]:
    if not p.token:
        p.token, _ = p.ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    with TestClient(create_app(p.ledger), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {p.token}"
        yield test_client


@pytest.fixture
def client(programme: Programme) -> Iterator[TestClient]:
    yield from admin_client(programme)


@pytest.fixture
def fresh_client(fresh: Programme) -> Iterator[TestClient]:
    yield from admin_client(fresh)


def when(moment: datetime) -> str:
    return format_time(moment)


def get_report(client: TestClient, **params: Any) -> Any:
    response = client.get("/v1/reports/unaccounted", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def get_csv(client: TestClient, **params: Any) -> list[list[str]]:
    response = client.get("/v1/reports/unaccounted", params=params, headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def verification_columns(client: TestClient, **params: Any) -> list[list[str]]:
    """The recipients' last two CSV columns as the JSON report answers them."""
    return [
        [str(r["verified_independently"]), str(r["self_reported"])]
        for r in get_report(client, **params)["recipients"]
    ]


def json_reasons(body: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        item["serial"]: [
            (
                r["rule"],
                r["severity"],
                datetime.fromisoformat(r["since"]),
                tuple(r["evidence"]),
                r["detail"],
            )
            for r in item["reasons"]
        ]
        for item in body["unaccounted"]
    }


def normalised(body: Any) -> Any:
    """The JSON report with its times parsed, to compare with the engine's answer."""
    return {
        "as_of": datetime.fromisoformat(body["as_of"]),
        "known_at": body["known_at"] and datetime.fromisoformat(body["known_at"]),
        "unaccounted": [
            {
                **{k: v for k, v in item.items() if k != "reasons"},
                "reasons": [
                    {**r, "since": datetime.fromisoformat(r["since"])} for r in item["reasons"]
                ],
            }
            for item in body["unaccounted"]
        ],
        "recipients": body["recipients"],
    }


def engine_as_json(answer: UnaccountedReport) -> Any:
    return {
        "as_of": answer.scope.as_of,
        "known_at": answer.scope.known_at,
        "unaccounted": [
            {
                "item_id": str(a.item_id),
                "serial": a.serial,
                "category": a.category,
                "programme": a.programme,
                "agreement": a.agreement,
                "recipient": a.recipient,
                "holder": a.holder,
                "status": a.status,
                "reasons": [
                    {
                        "flag_id": str(f.finding_id),
                        "rule": f.rule,
                        "item_id": str(f.item_id),
                        "severity": f.severity.value,
                        "since": f.since,
                        "evidence": list(f.evidence),
                        "detail": f.detail,
                        "cleared_by": f.cleared_by,
                        "cleared_by_kinds": list(f.cleared_by_kinds),
                    }
                    for f in a.reasons
                ],
            }
            for a in answer.unaccounted
        ],
        "recipients": [
            {
                "recipient": r.recipient,
                "issued": r.issued,
                "accounted": r.accounted,
                "in_custody": r.in_custody,
                "overdue": r.overdue,
                "accountability_rate": r.accountability_rate,
                "delinquency_rate": r.delinquency_rate,
                "verified_independently": r.verified_independently,
                "self_reported": r.self_reported,
            }
            for r in answer.recipients
        ],
    }


@QUESTIONS
def test_the_json_report_is_the_engines_answer(
    client: TestClient,
    programme: Programme,
    as_of: datetime,
    known_at: datetime | None,
    expected: Expected,
    rates: Rates,
) -> None:
    params = {"as_of": when(as_of)} | ({"known_at": when(known_at)} if known_at else {})

    body = get_report(client, **params)

    engine = report(programme, as_of, known_at=known_at)
    assert normalised(body) == engine_as_json(engine)
    assert json_reasons(body) == expected_reasons(programme, expected)
    assert {
        r["recipient"]: (r["issued"], r["accounted"], r["in_custody"], r["overdue"])
        for r in body["recipients"]
    } == rates
    assert [(r["accountability_rate"], r["delinquency_rate"]) for r in body["recipients"]] == [
        (accounted / issued, overdue / in_custody)
        for _, (issued, accounted, in_custody, overdue) in sorted(rates.items())
    ]


def test_the_csv_report_has_one_row_per_reason_with_its_evidence(
    client: TestClient, programme: Programme
) -> None:
    rows = get_csv(client, as_of=when(D1))

    p = programme
    items = {a.serial: a for a in accounts(p.ledger, Scope(as_of=D1), PolicyConfig())}
    assert rows[0] == CSV_HEADER
    assert rows[1:] == [
        [
            "2025-07-20T08:00:00.000000Z",
            "",
            str(p.ids[serial]),
            serial,
            items[serial].category,
            items[serial].programme,
            items[serial].agreement,
            items[serial].recipient,
            items[serial].holder,
            items[serial].status,
            rule,
            severity,
            format_time(since),
            detail,
            " ".join(str(i) for i in evidence(p, serial, labels)),
        ]
        for serial, reasons in UNACCOUNTED_D1.items()
        for rule, severity, since, labels, detail in reasons
    ]
    assert len(rows) == 1 + 15
    assert {(row[5], row[6]) for row in rows[1:]} == {
        ("Programme One", "eua-1"),
        ("Programme Two", "eua-2"),
    }


def test_each_csv_row_says_which_question_it_answers(
    client: TestClient, programme: Programme
) -> None:
    asked = {"as_of": "2025-07-20T10:00:00+02:00", "known_at": when(R)}

    items = get_csv(client, **asked)
    recipients = get_csv(client, view="recipients", **asked)

    stamp = ["2025-07-20T08:00:00.000000Z", "2025-05-01T08:00:00.000000Z"]
    assert items[0] == CSV_HEADER
    assert items[1:] == [
        [
            *stamp,
            str(programme.ids["U3-01"]),
            "U3-01",
            "rifle",
            "Programme One",
            "eua-1",
            "unit-3",
            "unit-3",
            "lost",
            "lost",
            "high",
            "2025-01-31T08:00:00.000000Z",
            "reported lost and not recovered",
            str(programme.entry["U3-01", "loss"]),
        ]
    ]
    assert [row[:2] for row in recipients[1:]] == [stamp] * 4
    assert [row[9:] for row in recipients[1:]] == verification_columns(client, **asked)
    assert [row[2:9] for row in recipients[1:]] == [
        ["b-1", "6", "6", "6", "6", "1.0000", "1.0000"],
        ["unit-1", "14", "14", "14", "13", "1.0000", "0.9286"],
        ["unit-2", "12", "12", "12", "12", "1.0000", "1.0000"],
        ["unit-3", "12", "11", "11", "10", "0.9167", "0.9091"],
    ]


@pytest.mark.parametrize(
    ("as_of", "rates"), [(D1, RATES_D1), (D2, RATES_D2)], ids=["day_200", "day_290"]
)
def test_the_csv_recipients_view_has_the_rates(
    client: TestClient, as_of: datetime, rates: Rates
) -> None:
    rows = get_csv(client, as_of=when(as_of), view="recipients")

    stamp = [format_time(as_of), ""]
    assert rows == [
        [
            "as_of",
            "known_at",
            "recipient",
            "issued",
            "accounted",
            "in_custody",
            "overdue",
            "accountability_rate",
            "delinquency_rate",
            "verified_independently",
            "self_reported",
        ],
        *(
            [*stamp, r, str(i), str(a), str(c), str(o), f"{a / i:.4f}", f"{o / c:.4f}", *extra]
            for (r, (i, a, c, o)), extra in zip(
                sorted(rates.items()), verification_columns(client, as_of=when(as_of)), strict=True
            )
        ),
    ]
    assert [row[2:9] for row in rows[1:]] == (
        [
            ["b-1", "6", "5", "5", "0", "0.8333", "0.0000"],
            ["unit-1", "14", "11", "13", "2", "0.7857", "0.1538"],
            ["unit-2", "12", "6", "5", "1", "0.5000", "0.2000"],
            ["unit-3", "12", "8", "8", "1", "0.6667", "0.1250"],
        ]
        if as_of == D1
        else [
            ["b-1", "6", "5", "5", "0", "0.8333", "0.0000"],
            ["unit-1", "14", "12", "13", "2", "0.8571", "0.1538"],
            ["unit-2", "12", "7", "6", "0", "0.5833", "0.0000"],
            ["unit-3", "12", "6", "6", "5", "0.5000", "0.8333"],
        ]
    )


@pytest.mark.parametrize(
    ("params", "serials", "recipients"),
    [
        (
            {"recipient": "unit-2"},
            [f"U2-0{i}" for i in range(1, 7)],
            {"unit-2": RATES_D1["unit-2"]},
        ),
        (
            {"recipient": "force"},
            [s for s in UNACCOUNTED_D1 if s != "B1-01"],
            {u: RATES_D1[u] for u in UNITS},
        ),
        ({"programme": "Programme Two"}, ["B1-01"], {"b-1": RATES_D1["b-1"]}),
        ({"category": "launcher"}, [], {"unit-3": (2, 2, 2, 1)}),
        (
            {"recipient": "unit-3", "category": "rifle"},
            ["U3-01", "U3-02", "U3-03", "U3-05"],
            {"unit-3": (10, 6, 6, 0)},
        ),
        ({"programme": "No such programme"}, [], {}),
    ],
    ids=["recipient", "parent_force", "programme", "category", "recipient_and_category", "none"],
)
def test_the_filters_narrow_the_report_and_its_rates(
    client: TestClient,
    params: dict[str, str],
    serials: list[str],
    recipients: Rates,
) -> None:
    body = get_report(client, as_of=when(D1), **params)
    rows = get_csv(client, as_of=when(D1), **params)

    assert [i["serial"] for i in body["unaccounted"]] == serials
    assert {
        r["recipient"]: (r["issued"], r["accounted"], r["in_custody"], r["overdue"])
        for r in body["recipients"]
    } == recipients
    assert sorted({row[3] for row in rows[1:]}) == sorted(serials)


def flags(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/flags", params={"as_of": when(D1)} | params)
    assert response.status_code == 200, response.text
    return list(response.json()["flags"])


def test_the_flags_are_the_findings_filtered_by_rule_severity_and_item(
    client: TestClient, programme: Programme
) -> None:
    p = programme

    every = flags(client, status="all")
    lost = flags(client, rule="lost")
    critical = flags(client, severity="critical")
    one_item = flags(client, item=str(p.ids["U3-05"]))
    late_and_medium = flags(client, rule="late_loss_report", severity="medium")
    later = flags(client, as_of=when(D2), rule="late_discovery")

    def serials(found: list[dict[str, Any]]) -> list[str]:
        return [p.serial_of[UUID(f["item_id"])] for f in found]

    assert len(every) == 23
    assert all(not f["raised"] and f["holds"] and f["resolution"] is None for f in every)
    assert serials(lost) == [
        *(f"U2-0{i}" for i in range(1, 7)),
        "U3-01",
        "U3-02",
        "U3-03",
        "U3-05",
        "B1-01",
    ]
    assert serials(critical) == ["U1-05", "U1-06", *(f"U2-0{i}" for i in range(1, 7)), "B1-01"]
    assert [(f["rule"], f["severity"]) for f in one_item] == [
        ("lost", "high"),
        ("failed_inspection", "high"),
    ]
    assert [(p.serial_of[UUID(f["item_id"])], f["evidence"]) for f in late_and_medium] == [
        ("U3-02", [p.entry["U3-02", "loss"]]),
        ("B1-01", [p.entry["B1-01", "loss"]]),
    ]
    assert [(p.serial_of[UUID(f["item_id"])], f["evidence"]) for f in later] == [
        ("U3-04", sorted([p.entry["U3-04", "inspect@170"], p.entry["U3-04", "loss"]]))
    ]


RESOLUTION = {
    "by": "operator",
    "reason": "serial re-read at the armoury: a transcription error",
    "at": format_time(day(301) + timedelta(hours=4)),
}
"""The resolution of U1-08's serial mismatch as the flags answer it (`resolve_the_mismatch`)."""


def resolve_the_mismatch(client: TestClient, p: Programme) -> tuple[dict[str, Any], Any]:
    """The operator resolves U1-08's failed inspection (a serial mismatch, day 170) on day 301 as
    a transcription error: the flag, and the answer to the resolution."""
    (flag,) = flags(client, item=str(p.ids["U1-08"]), rule="failed_inspection")
    p.record_on(301)
    resolved = client.post(
        f"/v1/flags/{flag['flag_id']}/resolution", json={"reason": RESOLUTION["reason"]}
    )
    return flag, resolved


def test_a_scan_raises_each_finding_once_and_a_resolution_records_who_and_why(
    fresh_client: TestClient, fresh: Programme
) -> None:
    first = fresh_client.post("/v1/flags/scan", params={"as_of": when(D1)})
    second = fresh_client.post("/v1/flags/scan", params={"as_of": when(D1)})
    flag, resolved = resolve_the_mismatch(fresh_client, fresh)
    again = fresh_client.post(
        f"/v1/flags/{flag['flag_id']}/resolution", json={"reason": "once more"}
    )

    assert (first.status_code, first.json()) == (200, {"findings": 23, "raised": 23})
    assert (second.status_code, second.json()) == (200, {"findings": 23, "raised": 0})
    assert resolved.status_code == 201, resolved.text
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_exists"
    assert [
        (f["flag_id"], f["raised"], f["resolution"]) for f in flags(fresh_client, status="resolved")
    ] == [(flag["flag_id"], True, RESOLUTION)]
    still_open = flags(fresh_client)
    assert len(still_open) == 22 and all(f["raised"] for f in still_open)
    index = resolved.json()["log_index"]
    (row,) = fresh_client.get("/v1/log/entries", params={"start": index, "end": index + 1}).json()[
        "entries"
    ]
    entry = json.loads(base64.b64decode(row["entry"]))
    assert (entry["type"], entry["actor"], entry["aggregate_id"]) == (
        "custody:Flag.Resolved",
        "operator",
        flag["flag_id"],
    )
    assert entry["payload"]["reason"] == RESOLUTION["reason"]


def test_a_raised_flag_whose_finding_no_longer_holds_stays_listed_with_its_resolution(
    fresh_client: TestClient, fresh: Programme
) -> None:
    """U1-08's serial mismatch and U2-10's damage (day 170), and both items' overdue inspections,
    are cleared by the verified round of day 255; U2-03's theft ends with its recovery on day 230.
    Raised on day 200, they no longer hold on day 290."""
    p = fresh
    scanned = fresh_client.post("/v1/flags/scan", params={"as_of": when(D1)})
    mismatch, resolved = resolve_the_mismatch(fresh_client, p)

    def seen(item: str, status: str, as_of: datetime = D2) -> list[tuple[Any, ...]]:
        return [
            (
                f["rule"],
                datetime.fromisoformat(f["since"]),
                f["raised"],
                f["holds"],
                f["resolution"],
            )
            for f in flags(fresh_client, as_of=when(as_of), item=str(p.ids[item]), status=status)
        ]

    assert scanned.status_code == 200 and resolved.status_code == 201, resolved.text
    on_d1 = {status: seen("U1-08", status, D1) for status in ("open", "resolved", "all")}
    failed = ("failed_inspection", day(170), True)
    overdue = ("inspection_overdue", day(172), True)
    assert on_d1 == {
        "open": [(*overdue, True, None)],
        "resolved": [(*failed, True, RESOLUTION)],
        "all": [(*failed, True, RESOLUTION), (*overdue, True, None)],
    }
    assert seen("U1-08", "resolved") == [(*failed, False, RESOLUTION)]
    assert seen("U1-08", "all") == [(*failed, False, RESOLUTION), (*overdue, False, None)]
    assert seen("U1-08", "open") == []
    assert (seen("U2-10", "all"), seen("U2-10", "open"), seen("U2-10", "resolved")) == (
        [(*failed, False, None), (*overdue, False, None)],
        [],
        [],
    )
    assert seen("U2-03", "all") == [("lost", day(180), True, False, None)]
    assert seen("U3-04", "open") == [
        ("lost", day(210), False, True, None),
        ("late_discovery", day(262), False, True, None),
    ]
    assert [
        (f["flag_id"], f["holds"], f["resolution"])
        for f in flags(fresh_client, as_of=when(D2), status="resolved")
    ] == [(mismatch["flag_id"], False, RESOLUTION)]
    assert all(f["holds"] for f in flags(fresh_client, as_of=when(D2)))


def test_a_partner_may_read_the_report_but_not_scan_or_resolve_flags(
    fresh_client: TestClient, fresh: Programme
) -> None:
    token, _ = fresh.ledger.grant_token(party="unit-1", role="partner", actor=ADMIN)
    as_partner = {"Authorization": f"Bearer {token}"}
    fresh_client.post("/v1/flags/scan", params={"as_of": when(D1)})
    (flag,) = flags(fresh_client, item=str(fresh.ids["U1-05"]))

    read = fresh_client.get(
        "/v1/reports/unaccounted", params={"as_of": when(D1)}, headers=as_partner
    )
    scan = fresh_client.post("/v1/flags/scan", params={"as_of": when(D1)}, headers=as_partner)
    resolve = fresh_client.post(
        f"/v1/flags/{flag['flag_id']}/resolution", json={"reason": "ours"}, headers=as_partner
    )

    assert read.status_code == 200
    assert [i["serial"] for i in read.json()["unaccounted"]] == ["U1-05", "U1-06", "U1-08"]
    assert (scan.status_code, scan.json()["error"]["code"]) == (403, "unauthorised")
    assert (resolve.status_code, resolve.json()["error"]["code"]) == (403, "unauthorised")
    assert flags(fresh_client, item=str(fresh.ids["U1-05"]))[0]["resolution"] is None


@pytest.mark.parametrize(
    ("party", "serials", "recipients"),
    [
        ("unit-1", ["U1-05", "U1-06", "U1-08"], ["unit-1"]),
        ("unit-3", ["U3-01", "U3-02", "U3-03", "U3-05"], ["unit-3"]),
        ("force", [s for s in UNACCOUNTED_D1 if s != "B1-01"], list(UNITS)),
        ("force-b", ["B1-01"], ["b-1"]),
        ("outsider", [], []),
    ],
)
def test_a_partner_sees_only_the_items_issued_to_itself_or_its_units(
    client: TestClient,
    programme: Programme,
    party: str,
    serials: list[str],
    recipients: list[str],
) -> None:
    token, _ = programme.ledger.grant_token(party=party, role="partner", actor=ADMIN)
    as_partner = {"Authorization": f"Bearer {token}"}

    body = client.get(
        "/v1/reports/unaccounted", params={"as_of": when(D1)}, headers=as_partner
    ).json()
    own = client.get(
        "/v1/reports/unaccounted",
        params={"as_of": when(D1), "recipient": party},
        headers=as_partner,
    ).json()
    found = client.get(
        "/v1/flags", params={"as_of": when(D1), "status": "all"}, headers=as_partner
    ).json()

    assert [i["serial"] for i in body["unaccounted"]] == serials
    assert body["recipients"] == [
        r for r in get_report(client, as_of=when(D1))["recipients"] if r["recipient"] in recipients
    ]
    assert own == body
    recipient_of = {
        str(a.item_id): a.recipient
        for a in accounts(programme.ledger, Scope(as_of=D1), PolicyConfig())
    }
    assert found["flags"] == [
        f for f in flags(client, status="all") if recipient_of[f["item_id"]] in recipients
    ]
    assert len(found["flags"]) == {"unit-1": 5, "unit-3": 7, "force": 21, "force-b": 2}.get(
        party, 0
    )


def test_resolving_a_flag_never_raised_is_404(client: TestClient, programme: Programme) -> None:
    (flag,) = flags(client, item=str(programme.ids["U1-05"]))

    response = client.post(f"/v1/flags/{flag['flag_id']}/resolution", json={"reason": "why"})

    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/v1/reports/unaccounted", "/v1/flags"])
@pytest.mark.parametrize("name", ["as_of", "known_at"])
def test_a_date_without_a_zone_is_422(client: TestClient, path: str, name: str) -> None:
    params = {"as_of": when(D1)} | {name: "2025-07-20T08:00:00"}

    response = client.get(path, params=params)

    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "invalid_input",
        "message": f"query.{name}: expected RFC 3339 with a time zone, e.g. 2026-03-01T09:30:00Z",
    }
