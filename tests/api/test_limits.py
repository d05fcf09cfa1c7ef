"""Input limits (issue 9, part 2): bodies, fields, lists, pages, serials and times. Each is refused
with 413 or 422 and the error body, and what is refused records nothing. docs/api.md, "Limits".

The store makes no difference to any of this: these tests run on SQLite only."""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH
from api.main import create_app
from ledger.application.ledger import Ledger
from tests.conftest import LedgerFactory
from tests.programme import issue, register, rifle_request

MiB = 1024 * 1024
RIFLE = rifle_request("2026-02-01T08:00:00Z")
WHEN = "2026-02-20T08:00:00Z"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def api_ledger(make_ledger: LedgerFactory, sqlite_url: str) -> Ledger:
    """tests/api/conftest.py's `client` and `admin_token`, over a SQLite file only."""
    ledger = make_ledger(sqlite_url)
    register(ledger)
    return ledger


@pytest.fixture
def item(api_ledger: Ledger) -> str:
    return str(issue(api_ledger, "AK-0900", days_ago=20))


@pytest.fixture
def log_size(api_ledger: Ledger) -> Callable[[], int]:
    return api_ledger.log_store.log_size


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def padded(body: dict[str, Any], size: int) -> bytes:
    """The body as JSON, padded with white space to exactly `size` bytes."""
    text = json.dumps(body).encode()
    return text[:-1] + b" " * (size - len(text)) + b"}"


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    for _ in range(total // size):
        yield b" " * size


# Body size ----------------------------------------------------------------------------------------


def test_a_body_of_exactly_1_mib_is_not_refused_for_its_size(client: TestClient) -> None:
    response = client.post("/v1/items", content=padded(RIFLE, MAX_BODY_BYTES), headers=JSON)

    assert response.status_code == 201, response.text


def test_a_body_declared_over_1_mib_is_413_and_records_nothing(
    client: TestClient, log_size: Callable[[], int]
) -> None:
    before = log_size()

    response = client.post("/v1/items", content=padded(RIFLE, MAX_BODY_BYTES + 1), headers=JSON)

    assert error_of(response) == (
        413,
        "too_large",
        "the body is over the limit of 1 MiB (1048576 bytes)",
    )
    assert response.headers["connection"] == "close"
    assert log_size() == before


def test_a_chunked_body_without_content_length_is_cut_off_at_1_mib(
    client: TestClient, log_size: Callable[[], int]
) -> None:
    before = log_size()

    response = client.post("/v1/items", content=chunks(2 * MiB), headers=JSON)

    assert "content-length" not in response.request.headers
    assert error_of(response)[:2] == (413, "too_large")
    assert log_size() == before


def test_a_content_length_that_lies_is_no_way_past_the_limit(client: TestClient) -> None:
    body = padded(RIFLE, 2 * MiB)

    response = client.post("/v1/items", content=body, headers=JSON | {"Content-Length": "200"})

    assert response.request.headers["content-length"] == "200"
    assert error_of(response)[:2] == (413, "too_large")


def test_a_content_length_that_is_not_a_number_is_refused(client: TestClient) -> None:
    response = client.post("/v1/items", content=b"{}", headers=JSON | {"Content-Length": "2e9"})

    assert error_of(response)[:2] == (413, "too_large")


@pytest.fixture
def served(api_ledger: Ledger, admin_token: str) -> Iterator[tuple[str, int]]:
    """The app under a real uvicorn on a loopback port, in a thread of this process."""
    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(api_ledger), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield listener.getsockname()[:2]
    server.should_exit = True
    thread.join(timeout=30)
    listener.close()


class Streamed:
    """A request body of `total` bytes, made on demand, counting what was taken."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk, self.taken = total, chunk, 0

    def __iter__(self) -> Iterator[bytes]:
        while self.taken < self.total:
            self.taken += self.chunk
            yield b" " * self.chunk


def post_chunked(
    address: tuple[str, int], path: str, body: Streamed, token: str
) -> tuple[int, bytes]:
    """POST with `Transfer-Encoding: chunked`, as a careful client does it: stop sending once an
    answer has come (a 413 while the body is still going). Then read the answer to the end of
    the connection, which the server closes."""
    with socket.create_connection(address, timeout=30) as conn:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {address[0]}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        conn.sendall(head.encode())
        try:
            for chunk in body:
                if select.select([conn], [], [], 0)[0]:
                    break
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                conn.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending
        return _answer(conn)


def _answer(conn: socket.socket) -> tuple[int, bytes]:
    """Status and body, read to the end of the connection. Closing a socket with unread data in
    it resets the connection, so a reset after the answer is that close too."""
    answer = b""
    with contextlib.suppress(ConnectionResetError):
        while part := conn.recv(65536):
            answer += part
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def test_a_50_mb_chunked_body_is_413_without_the_server_reading_it_all(
    served: tuple[str, int], admin_token: str
) -> None:
    body = Streamed(50 * 1000 * 1000)

    status, answer = post_chunked(served, "/v1/items", body, admin_token)

    assert status == 413
    assert json.loads(answer)["error"]["code"] == "too_large"
    # The server stopped reading at 1 MiB and closed: the client was never asked for the rest,
    # only for what socket buffers on the way hold.
    assert body.taken < 10 * MiB, body.taken
    key = httpx.get(
        f"http://{served[0]}:{served[1]}/v1/log/key",
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert key.status_code == 200  # and it still serves


# Nesting ------------------------------------------------------------------------------------------


def receipt_nested(levels: int) -> dict[str, Any]:
    """A receipt body `levels` deep: the body itself is the first level."""
    note: Any = "leaf"
    for _ in range(levels - 1):
        note = [note]
    return {"occurred_at": WHEN, "note": note}


def test_a_write_body_nested_deeper_than_the_limit_is_422_and_records_nothing(
    client: TestClient, item: str, log_size: Callable[[], int]
) -> None:
    before = log_size()

    deepest = client.post(
        f"/v1/items/{item}/receipts",
        json=receipt_nested(MAX_JSON_DEPTH),
        headers={"Idempotency-Key": "deep-0001"},
    )
    deeper = client.post(
        f"/v1/items/{item}/receipts",
        json=receipt_nested(MAX_JSON_DEPTH + 1),
        headers={"Idempotency-Key": "deep-0002"},
    )

    assert deepest.status_code == 201, deepest.text
    assert error_of(deeper) == (
        422,
        "invalid_input",
        f"the body is nested more than {MAX_JSON_DEPTH} levels deep",
    )
    assert log_size() == before + 2  # the receipt and its nonce, from the first only


def test_a_body_nested_too_deep_for_any_parser_is_422_not_500(client: TestClient) -> None:
    body = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    response = client.post("/v1/items", content=body, headers=JSON)

    assert error_of(response) == (422, "invalid_input", "the body is nested too deeply")


# Fields and lists ---------------------------------------------------------------------------------


def longer(field: str, limit: int) -> str:
    return f"{field}: String should have at most {limit} characters"


def more(field: str, limit: int) -> str:
    return f"{field}: List should have at most {limit} items after validation, not {limit + 1}"


def above(field: str, limit: int) -> str:
    return f"{field}: Input should be less than or equal to {limit}"


INSPECTION = {"result": "verified", "method": "physical", "occurred_at": WHEN}
SIGHTING = {"observer": "investigator", "location": "x", "occurred_at": WHEN}
DISPOSAL = {"method": "destroyed", "occurred_at": WHEN, "certificate": "C-1"}
ITEM_WRITES: list[tuple[str, dict[str, Any], str]] = [
    ("receipts", {"occurred_at": WHEN, "location": "x" * 201}, longer("location", 200)),
    ("inspections", INSPECTION | {"observed_serial": "9" * 65}, longer("observed_serial", 64)),
    ("sightings", SIGHTING | {"evidence": ["ab" * 32] * 51}, more("evidence", 50)),
    ("disposals", DISPOSAL | {"witnesses": ["w"] * 21}, more("witnesses", 20)),
    ("corrections", {"entry": 2**53, "reason": "typo"}, above("entry", 2**53 - 1)),
    ("corrections", {"entry": 0, "reason": "r" * 2001}, longer("reason", 2000)),
    ("transfers", {"to": "u" * 101, "occurred_at": WHEN}, longer("to", 100)),
]


AGREEMENT = {"id": "eua-9", "supplier": "supplier", "programme": "P", "authorized_holders": []}
REGISTRY_WRITES: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/items", RIFLE | {"description": "d" * 2001}, longer("description", 2000)),
    ("/v1/items", RIFLE | {"year": 3000}, above("year", 2200)),
    ("/v1/items", RIFLE | {"lot_size": 0}, "lot_size: Input should be greater than or equal to 1"),
    ("/v1/parties", {"id": "p-1", "name": "n" * 201, "kind": "recipient"}, longer("name", 200)),
    (
        "/v1/agreements",
        AGREEMENT | {"authorized_holders": ["unit-1"] * 1001},
        more("authorized_holders", 1000),
    ),
    ("/v1/agreements", AGREEMENT | {"areas": ["a"] * 101}, more("areas", 100)),
    (
        "/v1/parties/unit-1/keys",
        {"public_key": "A" * 45, "proof": "A" * 88},
        longer("public_key", 44),
    ),
]


WRITES = [(f"/v1/items/{{item}}/{write}", *case) for write, *case in ITEM_WRITES] + REGISTRY_WRITES


@pytest.mark.parametrize(("path", "body", "message"), WRITES)
def test_a_write_with_a_field_or_list_over_its_limit_is_422_and_records_nothing(
    client: TestClient,
    item: str,
    log_size: Callable[[], int],
    path: str,
    body: dict[str, Any],
    message: str,
) -> None:
    """An item write's path names an item issued 20 days ago (`{item}`)."""
    before = log_size()

    response = client.post(path.format(item=item), json=body)

    assert error_of(response) == (422, "invalid_input", message)
    assert log_size() == before


PARAMETERS = [
    ("/v1/custody", {"holder": "h" * 101, "at": WHEN}, longer("query.holder", 100)),
    ("/v1/reports/unaccounted", {"programme": "p" * 201}, longer("query.programme", 200)),
    ("/v1/flags", {"rule": "r" * 201}, longer("query.rule", 200)),
    (
        "/v1/log/entries",
        {"start": 0, "end": 1001},
        "ask for 0 <= start <= end with at most 1000 entries at a time",
    ),
    ("/v1/log/entries", {"start": 0, "end": 2**53}, above("query.end", 2**53 - 1)),
    ("/v1/log/proof/inclusion", {"index": 0, "size": 2**53}, above("query.size", 2**53 - 1)),
]


@pytest.mark.parametrize(("path", "params", "message"), PARAMETERS)
def test_a_query_parameter_or_page_over_its_limit_is_422(
    client: TestClient, path: str, params: dict[str, Any], message: str
) -> None:
    response = client.get(path, params=params)

    assert error_of(response) == (422, "invalid_input", message)


def test_a_party_id_or_key_id_in_a_path_over_its_limit_is_422(client: TestClient) -> None:
    key = client.post(
        f"/v1/parties/{'p' * 101}/keys", json={"public_key": "A" * 44, "proof": "A" * 88}
    )
    revocation = client.post("/v1/parties/unit-1/keys/NOT-HEX/revocation", json={"reason": "r"})

    assert error_of(key) == (
        422,
        "invalid_input",
        "path.party_id: String should have at most 100 characters",
    )
    assert error_of(revocation)[:2] == (422, "invalid_input")
    assert "path.key_id: String should match pattern" in error_of(revocation)[2]


def test_an_idempotency_key_over_128_characters_is_422(client: TestClient, item: str) -> None:
    response = client.post(
        f"/v1/items/{item}/receipts",
        json={"occurred_at": WHEN},
        headers={"Idempotency-Key": "k" * 129},
    )

    assert error_of(response) == (
        422,
        "invalid_input",
        "header.idempotency-key: String should have at most 128 characters",
    )


def bounded(schema: dict[str, Any]) -> bool:
    """A string with a maximum length, an enum, a uuid or date-time format, or a pattern without
    open-ended repetition; an integer with both bounds; an array with a maximum size."""
    kind = schema.get("type")
    if kind == "string":
        pattern = schema.get("pattern")
        return (
            "maxLength" in schema
            or "enum" in schema
            or schema.get("format") in ("uuid", "date-time")
            or (pattern is not None and not re.search(r"[*+]|\{\d+,\}", pattern))
        )
    if kind == "integer":
        return "minimum" in schema and "maximum" in schema
    if kind == "array":
        return "maxItems" in schema
    return kind in ("boolean", "null", "object", None)


def unbounded_inputs(openapi: dict[str, Any]) -> list[str]:
    """Every request parameter and body field, at any depth, that `bounded` refuses."""
    components = openapi["components"]["schemas"]
    found: list[str] = []

    def walk(schema: dict[str, Any], where: str) -> None:
        while "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[1]]
        for alternative in schema.get("anyOf", []) + schema.get("allOf", []):
            walk(alternative, where)
        if not bounded(schema):
            found.append(f"{where}: {schema}")
        for name, field in schema.get("properties", {}).items():
            walk(field, f"{where}.{name}")
        if "items" in schema:
            walk(schema["items"], f"{where}[]")

    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                walk(parameter["schema"], f"{where} {parameter['in']} {parameter['name']}")
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content["schema"], f"{where} body")
    return found


def test_every_parameter_and_body_field_in_the_schema_has_a_bound(client: TestClient) -> None:
    openapi = client.get("/openapi.json").json()

    assert unbounded_inputs(openapi) == []


def test_the_bound_check_finds_an_unbounded_parameter() -> None:
    parameter = {"in": "query", "name": "q", "schema": {"type": "string"}}
    openapi = {"components": {"schemas": {}}, "paths": {"/x": {"get": {"parameters": [parameter]}}}}

    assert unbounded_inputs(openapi) == ["GET /x query q: {'type': 'string'}"]


# Serials ------------------------------------------------------------------------------------------


def test_a_full_width_serial_is_kept_as_marked_and_a_plain_copy_of_it_is_a_duplicate(
    client: TestClient,
) -> None:
    first = client.post("/v1/items", json=RIFLE | {"serial": "ＢＸ－０００９"})
    again = client.post("/v1/items", json=RIFLE | {"serial": "bx 0009"})

    assert first.status_code == 201, first.text
    state = client.get(f"/v1/items/{first.json()['item_id']}").json()
    assert (state["serial"], state["normalised_serial"]) == ("ＢＸ－０００９", "bxooo9")
    assert error_of(again)[:2] == (409, "duplicate_item")


@pytest.mark.parametrize(
    ("serial", "what"),
    [
        ("AK\u00000001", "a control character (U+0000)"),  # NUL
        ("AK\t0001", "a control character (U+0009)"),
        ("AK\u200b0001", "a format character (U+200B)"),  # zero-width space
        ("AK\u202e0001", "a format character (U+202E)"),  # right-to-left override
        ("\ufeffAK0001", "a format character (U+FEFF)"),  # byte-order mark
        ("AK\u00ad0001", "a format character (U+00AD)"),  # soft hyphen
        ("AK\ue0000001", "a private-use character (U+E000)"),
    ],
)
def test_a_serial_with_a_control_or_invisible_character_is_422_and_records_nothing(
    client: TestClient, log_size: Callable[[], int], serial: str, what: str
) -> None:
    before = log_size()

    response = client.post("/v1/items", json=RIFLE | {"serial": serial})

    assert error_of(response) == (
        422,
        "invalid_input",
        f"serial {serial!r} contains {what}, which is refused",
    )
    assert log_size() == before


@pytest.mark.parametrize(
    ("write", "body", "field"),
    [
        (
            "inspections",
            {"result": "serial_mismatch", "method": "serial_read", "observed_serial": "AK\u200b1"},
            "observed_serial",
        ),
        ("sightings", SIGHTING | {"serial_as_read": "AK\u202e1"}, "serial_as_read"),
    ],
)
def test_a_serial_as_read_in_the_field_is_checked_the_same_way(
    client: TestClient, item: str, write: str, body: dict[str, Any], field: str
) -> None:
    response = client.post(f"/v1/items/{item}/{write}", json=body | {"occurred_at": WHEN})

    assert error_of(response) == (
        422,
        "invalid_input",
        f"{field} {body[field]!r} contains a format character"
        f" (U+{ord(body[field][2]):04X}), which is refused",
    )


# Times --------------------------------------------------------------------------------------------

NOT_RFC_3339 = [
    "2026-02-20T08:00:00",  # no zone
    "2026-02-20",  # a date
    "2026-02-20 08:00:00Z",  # a space for the T
    "2026-02-20T08:00Z",  # no seconds
    "1771574400",  # a Unix time
]
TIME_MESSAGE = "expected RFC 3339 with a time zone, e.g. 2026-03-01T09:30:00Z"


@pytest.mark.parametrize("when", NOT_RFC_3339)
def test_an_occurred_at_that_is_not_rfc_3339_with_a_zone_is_422_and_records_nothing(
    client: TestClient, item: str, log_size: Callable[[], int], when: str
) -> None:
    before = log_size()

    issued = client.post("/v1/items", json=RIFLE | {"serial": "T-1", "occurred_at": when})
    received = client.post(f"/v1/items/{item}/receipts", json={"occurred_at": when})
    lost = client.post(
        f"/v1/items/{item}/losses",
        json={"circumstances": "lost", "occurred_at": WHEN, "discovered_at": when},
    )

    assert error_of(issued) == (422, "invalid_input", f"occurred_at: {TIME_MESSAGE}")
    assert error_of(received) == (422, "invalid_input", f"occurred_at: {TIME_MESSAGE}")
    assert error_of(lost) == (422, "invalid_input", f"discovered_at: {TIME_MESSAGE}")
    assert log_size() == before


@pytest.mark.parametrize("when", NOT_RFC_3339)
def test_a_time_in_a_query_that_is_not_rfc_3339_with_a_zone_is_422(
    client: TestClient, item: str, when: str
) -> None:
    holdings = {"holder": "unit-1", "at": WHEN, "known_at": when}
    answers = {
        "at": client.get(f"/v1/items/{item}/custody", params={"at": when}),
        "known_at": client.get("/v1/custody", params=holdings),
        "as_of": client.get("/v1/reports/unaccounted", params={"as_of": when}),
    }

    for name, response in answers.items():
        assert error_of(response) == (422, "invalid_input", f"query.{name}: {TIME_MESSAGE}")


def test_a_time_with_an_offset_or_fractions_is_taken(client: TestClient, item: str) -> None:
    response = client.get(
        f"/v1/items/{item}/custody", params={"at": "2026-02-20T10:00:00.123456789+02:00"}
    )

    assert response.status_code == 200, response.text
