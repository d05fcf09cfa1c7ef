"""Schemathesis against our own OpenAPI schema (issue 9, part 1): whatever it sends, the API
answers without a 5xx, with a status code the schema documents, with the content type and body
the schema gives for that status, and refuses what the schema says is invalid.

It runs schemathesis's engine, the one behind `schemathesis run`, in process over ASGI: every
phase (examples, coverage, fuzzing, stateful) and every built-in check but one (`CHECKS`), as an
admin with a real token, on a SQLite ledger holding the tests' small programme and a few items.
Most valid requests get the ids of things that exist (an item per write, known parties) and a
plausible time (`Known`), so that reads of real items and writes that pass the custody rules are
fuzzed too, not only 404s and 422s. (The engine, not `schema.parametrize()`: its pytest plugin's
lazy loader, the one a fixture-built app needs, does not run under pytest 9.2.)

Bounded by CUSTODY_FUZZ_EXAMPLES (fuzzing-phase examples per operation, default 10); docs/api.md
("Fuzzing") gives the longer run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from api.main import create_app
from api.security import FailureLimiter
from ledger.application import directory
from ledger.application.ledger import Ledger
from ledger.domain.times import format_time
from tests.conftest import LedgerFactory
from tests.programme import ADMIN, ago, issue, register

EXAMPLES = int(os.environ.get("CUSTODY_FUZZ_EXAMPLES", "10"))
# Every built-in check but `positive_data_acceptance`: a request the schema allows may still break a
# custody rule (a transfer by a non-holder, an unknown party) and is rightly refused with a 4xx.
CHECKS = {"positive_data_acceptance": {"enabled": False}}
# Four valid cases in five get the known ids and values (`Known`), so that every item write gets
# through the custody rules at least once in a short run; the fifth stays as it was made.
KNOWN_SHARE = (True, True, True, True, False)

WRITES = (
    "transfers",
    "receipts",
    "inspections",
    "losses",
    "recoveries",
    "sightings",
    "disposals",
    "corrections",
)
PLAIN = {
    "serial": "FZ-ISSUED",
    "manufacturer": "Maker",
    "model": "M2",
    "calibre": None,
    "country_of_manufacture": None,
    "description": None,
    "agreement": "eua-1",
    "supplier": "supplier",
    "recipient": "unit-1",
    "to": "unit-2",
    "by": "unit-1",
    "observer": "investigator",
    "inspector": "inspectorate",
    "from": None,
    "parent": None,  # a party registered under no parent: an unknown one is 404
    "held_by": "unit-2",
    "location": "Depot 4",
    "condition": "serviceable",
    "authority": "order 12",
    "certificate": "DEMIL-1",
    "witnesses": ["A. Witness", "B. Witness"],
    "reason": "typing error",
    "observed_serial": None,
    "serial_as_read": None,
    "signature": None,
}


@dataclass
class Run:
    """What one engine run sent and found."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    succeeded: Counter[str] = field(default_factory=Counter)  # 2xx answers per operation
    failures: list[str] = field(default_factory=list)
    phases: dict[str, str] = field(default_factory=dict)  # phase name -> how it finished

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def fuzz(schema: Any, ledger: Ledger) -> Run:
    run = Run()
    hook = schemathesis.hook(known_parents(ledger))
    try:
        _run(schema, run)
    finally:
        schemathesis.hooks.unregister(hook)
    return run


def known_parents(ledger: Ledger) -> Callable[[Any, Any, Any], None]:
    """A `before_call` hook (global: schemathesis allows no other), for every phase, since the
    coverage phase bypasses `flatmap_case`: a valid party's `parent` that names no registered
    party becomes none, else no generated party is ever made once the fuzzer has learnt real ids
    from GET /v1/parties. An unknown parent stays in the invalid cases."""

    def before_call(context: Any, case: Any, kwargs: Any) -> None:
        positive = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
        if positive and case.operation.path == "/v1/parties" and isinstance(case.body, dict):
            parent = case.body.get("parent")
            if parent is not None and parent not in {p.party_id for p in directory.parties(ledger)}:
                case.body["parent"] = None

    return before_call


def _run(schema: Any, run: Run) -> None:
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _tally(run, event.recorder)
        elif isinstance(event, events.PhaseFinished):
            run.phases[event.phase.name.value] = event.status.value
        elif isinstance(event, events.NonFatalError | events.FatalError):
            run.failures.append(f"engine error: {getattr(event, 'value', event)!r}")


def _tally(run: Run, recorder: Any) -> None:
    run.cases += len(recorder.cases)
    for interaction in recorder.interactions.values():
        if interaction.response is not None:
            run.statuses[interaction.response.status_code] += 1
            if interaction.response.status_code < 300:
                run.succeeded[recorder.label] += 1
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                node = recorder.cases.get(case_id)
                curl = node.value.as_curl_command() if node is not None else ""
                run.failures.append(f"{recorder.label}: {failure.title}: {failure.message}\n{curl}")


@dataclass
class Known:
    """What exists in the ledger, for a hook to put into most valid generated requests:
    an item of its own for each item write (a disposal ends an item; a recovery needs a lost one),
    values by field name (parties, the agreement, a plausible time, plain text), and the fuzzer's
    token."""

    items: dict[str, str]  # item id by operation path; "" for the reads
    values: dict[str, Any]
    token_id: str

    def put_into(self, case: Any) -> Any:
        item = self.items.get(case.operation.path, self.items[""])
        _update(case.path_parameters, {"item_id": item, "party_id": "unit-1"})
        _update(case.body, self.values)
        case.headers.pop("Idempotency-Key", None)
        return case


def _update(given: Any, known: dict[str, Any]) -> None:
    if isinstance(given, dict):
        given.update((name, value) for name, value in known.items() if name in given)


def known(ledger: Ledger, token_id: UUID) -> Known:
    items = {"": str(issue(ledger, "FZ-READ"))}
    for write in WRITES:
        items[f"/v1/items/{{item_id}}/{write}"] = str(issue(ledger, f"FZ-{write}"))
    lost = items["/v1/items/{item_id}/recoveries"]
    ledger.report_lost(
        UUID(lost), circumstances="lost", occurred_at=ago(ledger, days=2), actor=ADMIN
    )
    when = format_time(ago(ledger, days=1))
    corrected = ledger.history(UUID(items["/v1/items/{item_id}/corrections"]))[0].log_index
    values = PLAIN | {"occurred_at": when, "discovered_at": when, "entry": corrected}
    return Known(items, values, str(token_id))


def schema_for(ledger: Ledger, *, token: str, known: Known) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {"max-examples": EXAMPLES, "database": "none"},
            "checks": CHECKS,
        }
    )
    app = create_app(ledger)
    # One client sends thousands of bad tokens here on purpose: api/security.py rightly answers
    # 429 after ten, but the `ignored_auth` check needs the 401 every time.
    app.state.failure_limiter = FailureLimiter(limit=10**9)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)

    @schema.hook
    def flatmap_case(context: Any, case: Any) -> Any:
        """Only valid cases: a negative one must stay as invalid as it was made."""
        if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
            return st.just(case)
        return st.sampled_from(KNOWN_SHARE).map(lambda put: known.put_into(case) if put else case)

    @schema.hook
    def filter_path_parameters(context: Any, given: Any) -> bool:
        """The fuzzer learns token ids from GET /v1/tokens; revoking its own would turn every
        later request into a 401."""
        return not (isinstance(given, dict) and given.get("token_id") == known.token_id)

    return schema


def test_the_api_answers_every_generated_request_as_its_schema_says(
    make_ledger: LedgerFactory, sqlite_url: str, figures: Callable[[str], None]
) -> None:
    ledger = make_ledger(sqlite_url)
    register(ledger)
    token, granted = ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    schema = schema_for(ledger, token=token, known=known(ledger, granted.id))

    run = fuzz(schema, ledger)

    figures(f"schemathesis: {run.cases} cases, {run.server_errors} server errors")
    assert run.failures == [], "\n".join(run.failures[:20])
    assert run.server_errors == 0
    # The stateful phase (sequences of calls linked by the schema's ids) ran, not skipped.
    assert run.phases.get("stateful") == "success", run.phases
    # The token was used: reads of the real item and writes were answered 2xx.
    assert run.succeeded["GET /v1/items/{item_id}/history"] > 0, run.succeeded
    assert run.succeeded["POST /v1/parties"] > 0, run.succeeded
    assert run.succeeded["POST /v1/items"] > 0, run.succeeded
    for write in WRITES:
        assert run.succeeded[f"POST /v1/items/{{item_id}}/{write}"] > 0, run.succeeded


# What the fuzzer found, pinned --------------------------------------------------------------------


@pytest.fixture
def api_ledger(make_ledger: LedgerFactory, sqlite_url: str) -> Ledger:
    """tests/api/conftest.py's `client`, over a SQLite file only."""
    ledger = make_ledger(sqlite_url)
    register(ledger)
    return ledger


def test_a_405_lists_every_method_of_the_path_in_allow(client: TestClient) -> None:
    response = client.request("OPTIONS", "/v1/tokens")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_an_error_from_a_text_route_is_json_and_documented_so(client: TestClient) -> None:
    response = client.get("/v1/log/key", headers={"Authorization": "Bearer nope"})
    documented = client.get("/openapi.json").json()["paths"]["/v1/log/key"]["get"]["responses"]

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert list(documented["401"]["content"]) == ["application/json"]
    assert list(documented["200"]["content"]) == ["text/plain"]


@pytest.mark.parametrize("path", ["/v1/flags", "/v1/reports/unaccounted"])
def test_a_number_is_not_taken_for_a_time_in_a_query(client: TestClient, path: str) -> None:
    response = client.get(path, params={"known_at": "0.5"})

    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("query.known_at: expected RFC 3339")


# The edge cases of issue 16, as explicit examples on every operation that takes them -------------

EDGE_TIMES = {
    "0001-01-01T00:00:00+01:00": "between the years 1800 and 9999",  # overflowed converting
    "9999-12-31T23:59:59-01:00": "between the years 1800 and 9999",  # overflowed converting
    "0999-01-01T00:00:00Z": "between the years 1800 and 9999",  # was written "999-01-01..."
    "1799-12-31T23:59:59Z": "between the years 1800 and 9999",
    "10000-01-01T00:00:00Z": "expected RFC 3339",
}


def time_fields(schema: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, field, the operation) for every time in a query or a JSON body."""
    found = []
    components = schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if "date-time" in str(parameter["schema"]):
                    found.append((method, path, parameter["name"], operation))
            ref = str(operation.get("requestBody", {}))
            for name, body in components.items():
                if f"'#/components/schemas/{name}'" in ref:
                    for field_name, field_schema in body.get("properties", {}).items():
                        if "date-time" in str(field_schema):
                            found.append((method, path, field_name, operation))
    return found


def request_for(
    known: Known, method: str, path: str, operation: dict[str, Any], field_name: str, value: str
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The operation asked with every value known and `field_name` set to `value`."""
    url = path.replace("{item_id}", known.items[""]).replace("{party_id}", "unit-1")
    url = url.replace("{key_id}", "0" * 16).replace("{flag_id}", str(UUID(int=1)))
    url = url.replace("{token_id}", str(UUID(int=1)))
    fill = known.values | {"holder": "unit-1", "at": known.values["occurred_at"], "q": "FZ-*"}
    query = {
        p["name"]: str(fill[p["name"]])
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    body = {k: v for k, v in fill.items() if v is not None} if method == "post" else {}
    if any(p["name"] == field_name for p in operation.get("parameters", [])):
        query[field_name] = value
    else:
        body[field_name] = value
    return url, query, body


def test_every_time_in_a_query_or_a_body_refuses_the_edge_times_with_422(
    api_ledger: Ledger, client: TestClient
) -> None:
    """Each time near the representable bounds, with an offset, or before 1000, on every operation
    and every time it takes: 422 naming the field, never a 500 (issue 16)."""
    _, granted = api_ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    given = known(api_ledger, granted.id)
    fields = time_fields(client.get("/openapi.json").json())
    answers = []

    for method, path, field_name, operation in fields:
        for value, expected in EDGE_TIMES.items():
            url, query, body = request_for(given, method, path, operation, field_name, value)
            response = client.request(method, url, params=query, json=body or None)
            message = response.json().get("error", {}).get("message", "")
            if response.status_code != 422 or field_name not in message or expected not in message:
                answers.append(
                    f"{method} {path} {field_name}={value}: {response.status_code} {message}"
                )

    # every write's occurred_at, the revocation's revoked_at, the reads' at, known_at, as_of
    assert len(fields) >= 21, [f[:3] for f in fields]
    assert answers == []


def test_a_lone_surrogate_in_any_write_is_refused_with_422_not_a_500(
    api_ledger: Ledger, client: TestClient
) -> None:
    """A JSON body may spell a lone surrogate as an escape; with an Idempotency-Key the whole
    body is encoded, an extra field too (issue 16)."""
    _, granted = api_ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    given = known(api_ledger, granted.id)
    write = given.items["/v1/items/{item_id}/inspections"]
    body = b'{"result": "verified", "method": "physical", "occurred_at": "%s", "note": "\\ud800"}'

    response = client.post(
        f"/v1/items/{write}/inspections",
        content=body % given.values["occurred_at"].encode(),
        headers={"Idempotency-Key": "surrogate-1", "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["error"]["message"] == (
        "text must be valid Unicode: '\\ud800' is a lone surrogate, which UTF-8 cannot hold"
    )
    assert len(api_ledger.history(UUID(write))) == 1
