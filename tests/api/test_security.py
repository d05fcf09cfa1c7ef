"""The security review's checks (docs/security.md): CORS closed, security headers, the limit on
failed authentications, no secret in logs or URLs, tokens stored only hashed, SQL only through
parameters, key files 0600."""

from __future__ import annotations

import ast
import base64
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request
from uvicorn.logging import AccessFormatter

from api import security
from api.main import create_app
from api.security import FailureLimiter, client_key
from ledger.application.ledger import Ledger
from ledger.domain.errors import InvalidInput
from ledger.integrity.signing import read_private_key_file, write_private_key_file
from tests import serving
from tests.conftest import SIGNER, Clock, LedgerFactory
from tests.programme import ADMIN

ROOT = Path(__file__).resolve().parents[2]
LOCAL = "http://localhost"
LIMIT = security.FAILURES_PER_WINDOW
WRONG = {"Authorization": "Bearer cst_not-a-token-of-this-ledger"}
ATTACKER = ("203.0.113.7", 40000)
NEIGHBOUR = ("198.51.100.9", 40000)
UVICORN_ACCESS_FORMAT = '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'
INSPECTION = {"result": "verified", "method": "self_report", "occurred_at": "2026-02-01T09:30:00Z"}


class Seconds:
    """A monotonic clock the test moves by hand, for the failure limiter."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# Fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "custody.db"


@pytest.fixture
def store_ledger(make_ledger: LedgerFactory, db_file: Path) -> Ledger:
    """The ledger under conftest.py's api_ledger and admin_token, on a file these tests read."""
    return make_ledger(f"sqlite:///{db_file}")


@pytest.fixture
def seconds() -> Seconds:
    return Seconds()


@pytest.fixture
def app(api_ledger: Ledger, seconds: Seconds) -> FastAPI:
    app = create_app(api_ledger)
    app.state.failure_limiter = FailureLimiter(clock=seconds)
    return app


def client_from(app: FastAPI, address: tuple[str, int] = ATTACKER, **kwargs: Any) -> TestClient:
    kwargs.setdefault("base_url", LOCAL)
    return TestClient(app, raise_server_exceptions=False, client=address, **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fail(client: TestClient, times: int) -> list[int]:
    return [client.get("/v1/flags", headers=WRONG).status_code for _ in range(times)]


def login_form(client: TestClient, token: str) -> httpx.Response:
    page = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
    assert csrf, page.text
    form = {"csrf": csrf.group(1), "token": token, "next": "/ui"}
    cookie = {"Cookie": f"custody_login_csrf={csrf.group(1)}"}
    response: httpx.Response = client.post(
        "/ui/login", data=form, headers=cookie, follow_redirects=False
    )
    return response


def request_from(host: str) -> Request:
    return Request({"type": "http", "client": (host, 1), "headers": [], "app": None})


# CORS ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/items", "/v1/flags", "/ui/login", "/openapi.json"])
def test_a_cross_origin_preflight_is_not_allowed_anything(app: FastAPI, path: str) -> None:
    preflight = {
        "Origin": "https://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }

    response = client_from(app).options(path, headers=preflight)

    assert response.status_code >= 400
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


def test_a_cross_origin_read_with_a_valid_token_carries_no_allow_origin(
    app: FastAPI, admin_token: str
) -> None:
    headers = bearer(admin_token) | {"Origin": "https://evil.example"}

    response = client_from(app).get("/v1/flags", headers=headers)

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_the_app_has_no_cors_middleware(app: FastAPI) -> None:
    assert "CORSMiddleware" not in [m.cls.__name__ for m in app.user_middleware]  # type: ignore[attr-defined]


# Security headers ---------------------------------------------------------------------------------


def api_responses(client: TestClient, token: str) -> list[httpx.Response]:
    big = {"Content-Length": str(2 * 1024 * 1024), "Content-Type": "application/json"}
    return [
        client.get("/v1/flags", headers=bearer(token)),
        client.get("/v1/log/checkpoint", headers=bearer(token)),
        client.get("/v1/flags"),  # 401
        client.get("/v1/items/not-an-id", headers=bearer(token)),  # 422
        client.get(f"/v1/items/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers=bearer(token)),
        client.post("/v1/parties", headers=bearer(token) | big, content=b"{}"),  # 413
        client.get("/v1/nowhere"),  # 404 outside every route
        client.get("/openapi.json"),
    ]


def test_every_api_answer_is_nosniff_unframeable_uncached_and_allows_no_content(
    app: FastAPI, admin_token: str
) -> None:
    responses = api_responses(client_from(app), admin_token)

    assert sorted({r.status_code for r in responses}) == [200, 401, 404, 413, 422]
    for response in responses:
        where = (response.request.url.path, response.status_code)
        assert response.headers["X-Content-Type-Options"] == "nosniff", where
        assert response.headers["X-Frame-Options"] == "DENY", where
        assert response.headers["Content-Security-Policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        ), where
        assert response.headers["Cache-Control"] == "no-store", where
        assert response.headers["Referrer-Policy"] == "no-referrer", where
        assert "Strict-Transport-Security" not in response.headers, where


def test_the_dashboard_keeps_its_own_headers_and_the_docs_page_is_nosniff(app: FastAPI) -> None:
    client = client_from(app)

    login, docs = client.get("/ui/login"), client.get("/docs")

    assert login.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert login.headers["Referrer-Policy"] == "same-origin"
    assert (login.headers["X-Content-Type-Options"], login.headers["X-Frame-Options"]) == (
        "nosniff",
        "DENY",
    )
    assert docs.status_code == 200
    assert (docs.headers["X-Content-Type-Options"], docs.headers["X-Frame-Options"]) == (
        "nosniff",
        "DENY",
    )
    # Swagger UI's assets are the app's own (api/docs.py): nothing from another origin
    assert docs.headers["Content-Security-Policy"].startswith("default-src 'self'; ")


def test_over_https_every_answer_carries_hsts_and_over_http_none(
    app: FastAPI, admin_token: str
) -> None:
    https = client_from(app, base_url="https://custody.example")
    http = client_from(app, base_url="http://custody.example")

    for client, expected in ((https, "max-age=31536000"), (http, None)):
        for path in ("/ui/login", "/v1/flags", "/ui/static/dashboard.css"):
            response = client.get(path, headers=bearer(admin_token))
            assert response.headers.get("Strict-Transport-Security") == expected, (client, path)


# Failed authentications ---------------------------------------------------------------------------


def test_after_the_limit_of_failed_tokens_a_client_gets_429_with_retry_after(app: FastAPI) -> None:
    client = client_from(app)

    statuses = fail(client, LIMIT)
    limited = client.get("/v1/flags", headers=WRONG)

    assert statuses == [401] * LIMIT
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == str(int(security.WINDOW_SECONDS))
    assert limited.json() == {
        "error": {
            "code": "rate_limited",
            "message": "too many failed authentications from this address; retry after 60 seconds",
        }
    }


def test_a_valid_token_from_a_limited_client_is_still_answered(
    app: FastAPI, admin_token: str
) -> None:
    client = client_from(app)
    fail(client, LIMIT + 5)

    responses = [client.get("/v1/flags", headers=bearer(admin_token)) for _ in range(LIMIT + 5)]

    assert {r.status_code for r in responses} == {200}


def test_other_clients_are_not_limited_by_one_clients_failures(app: FastAPI) -> None:
    fail(client_from(app, ATTACKER), LIMIT + 1)

    assert fail(client_from(app, NEIGHBOUR), 1) == [401]
    assert fail(client_from(app, ATTACKER), 1) == [429]


def test_a_limited_client_is_answered_401_again_once_the_window_has_passed(
    app: FastAPI, seconds: Seconds
) -> None:
    client = client_from(app)
    fail(client, LIMIT + 1)

    seconds.now += security.WINDOW_SECONDS - 1
    still = fail(client, 1)
    seconds.now += security.WINDOW_SECONDS + 1
    again = fail(client, 1)

    assert (still, again) == ([429], [401])


def test_a_request_without_a_token_is_not_counted_as_a_failed_token(app: FastAPI) -> None:
    client = client_from(app)

    anonymous = [client.get("/v1/flags").status_code for _ in range(LIMIT * 2)]

    assert anonymous == [401] * (LIMIT * 2)
    assert fail(client, 1) == [401]


def test_a_valid_token_with_a_bad_signature_is_not_counted_as_a_failed_token(
    app: FastAPI, api_ledger: Ledger
) -> None:
    partner, _ = api_ledger.grant_token(party="unit-1", role="partner", actor=ADMIN)
    client = client_from(app)
    body = INSPECTION | {
        "signature": {"key_id": "0" * 16, "nonce": "nonce-0001", "value": "AAAA"},
    }
    item = f"{'0' * 8}-0000-0000-0000-{'0' * 12}"

    answers = [
        client.post(f"/v1/items/{item}/inspections", json=body, headers=bearer(partner))
        for _ in range(LIMIT + 2)
    ]

    assert {r.status_code for r in answers} == {401}, answers[0].text
    assert {r.json()["error"]["code"] for r in answers} == {"unauthenticated"}


def test_the_dashboard_sign_in_form_is_limited_too_but_a_good_token_still_signs_in(
    app: FastAPI, admin_token: str
) -> None:
    client = client_from(app)

    failed = [login_form(client, "cst_wrong").status_code for _ in range(LIMIT)]
    limited = login_form(client, "cst_wrong")
    good = login_form(client, admin_token)

    assert failed == [401] * LIMIT
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert "Too many failed sign-ins from your address" in limited.text
    assert limited.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert (good.status_code, good.headers["location"]) == (303, "/ui")


def test_a_wrong_session_cookie_counts_as_a_failed_token_and_is_answered_with_a_page(
    app: FastAPI,
) -> None:
    client = client_from(app, headers={"Cookie": "custody_token=cst_guess"})

    redirects = [client.get("/ui", follow_redirects=False).status_code for _ in range(LIMIT)]
    limited = client.get("/ui", follow_redirects=False)

    assert redirects == [303] * LIMIT
    assert limited.status_code == 429
    assert "Too many attempts" in limited.text and limited.headers["Retry-After"] == "60"
    assert "text/html" in limited.headers["content-type"]


def test_failures_through_the_api_the_form_and_the_cookie_share_one_count(app: FastAPI) -> None:
    client = client_from(app)

    fail(client, LIMIT - 1)
    form = login_form(client, "cst_wrong")
    api = client.get("/v1/flags", headers=WRONG)

    assert (form.status_code, api.status_code) == (401, 429)


def test_an_ipv6_client_is_counted_by_its_64_prefix_and_ipv4_by_its_address() -> None:
    assert client_key(request_from("2001:db8:1:2::1")) == client_key(
        request_from("2001:db8:1:2:ffff::9")
    )
    assert client_key(request_from("2001:db8:1:3::1")) != client_key(
        request_from("2001:db8:1:2::1")
    )
    assert client_key(request_from("192.0.2.1")) == "192.0.2.1"
    assert client_key(request_from("192.0.2.1")) != client_key(request_from("192.0.2.2"))


def test_the_limiter_remembers_at_most_max_clients_and_limit_failures_each() -> None:
    limiter = FailureLimiter(limit=3, window=60, max_clients=100, clock=Seconds())

    for n in range(1000):
        limiter.failed(f"client-{n}")
        with pytest.raises(
            security.RateLimited, match="too many failed authentications from this address"
        ):
            for _ in range(10):
                limiter.failed("busy")

    assert len(limiter._failures) == 100
    assert max(len(times) for times in limiter._failures.values()) == 3


def test_429_is_documented_with_the_error_body_on_every_api_operation(app: FastAPI) -> None:
    schema = app.openapi()

    operations = [op for path in schema["paths"].values() for op in path.values()]

    assert operations and "ErrorOut" in schema["components"]["schemas"]
    for operation in operations:
        documented = operation["responses"]["429"]
        assert documented["content"] == {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
        }
        assert "Retry-After" in documented["headers"]


# Secrets: never in a URL, never in a log ---------------------------------------------------------


SECRET_NAMES = re.compile(r"token|secret|password|passwd|key|auth|cookie|session", re.I)


def test_no_api_operation_takes_a_secret_in_its_url(app: FastAPI) -> None:
    schema = app.openapi()

    in_urls = [
        (path, parameter["name"])
        for path, item in schema["paths"].items()
        for operation in item.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] in ("query", "path") and SECRET_NAMES.search(parameter["name"])
    ]

    public_ids = {"key_id", "token_id"}  # a public key's id; a token's id, never the token
    assert {name for _, name in in_urls} <= public_ids, in_urls


def test_the_sign_in_form_posts_the_token_in_the_body(app: FastAPI) -> None:
    page = client_from(app).get("/ui/login").text

    form = re.search(r'<form method="(\w+)" action="/ui/login" id="login-form"', page)

    assert form and form.group(1) == "post"
    assert 'type="password" id="token" name="token"' in page


def every_logged_text(records: list[logging.LogRecord]) -> str:
    texts = []
    for record in records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        texts.append(repr(record.__dict__))
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(texts)


def test_no_token_or_cookie_appears_in_any_log_record(
    app: FastAPI, admin_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "cst_a-wrong-token-that-must-not-be-logged"
    client = client_from(app)

    client.get("/v1/flags", headers=bearer(admin_token))
    client.get("/v1/flags", headers=bearer(wrong))
    client.post(
        "/v1/tokens", headers=bearer(admin_token), json={"party": "unit-1", "role": "partner"}
    )
    login_form(client, wrong)
    login_form(client, admin_token)
    client.get("/ui")
    fail(client, LIMIT + 1)

    assert caplog.records, "nothing was logged: the check would prove nothing"
    logged = every_logged_text(caplog.records)
    for secret in (admin_token, wrong, admin_token.removeprefix("cst_"), "cst_not-a-token"):
        assert secret not in logged


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The app under uvicorn, as `custody serve` runs it (access log on), on a free port; its
    log records go to the root logger, where caplog sees them."""
    with serving.served(app, log_config=None, log_level="info") as url:
        yield url


def test_uvicorns_access_log_shows_paths_and_queries_but_never_a_token(
    served: str, admin_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    headers = bearer(admin_token) | {"Cookie": f"custody_token={admin_token}"}

    with httpx.Client(base_url=served, headers=headers) as http:
        http.get("/v1/flags", params={"status": "open"})
        http.get("/ui")
        http.post("/v1/tokens", json={"party": "unit-1", "role": "partner"})
        http.post("/ui/login", data={"token": admin_token, "csrf": "x"})

    formatter = AccessFormatter(UVICORN_ACCESS_FORMAT, use_colors=False)
    lines = [formatter.format(r) for r in caplog.records if r.name == "uvicorn.access"]
    assert len(lines) == 4, lines
    assert '"GET /v1/flags?status=open HTTP/1.1" 200' in lines[0]  # queries are logged ...
    assert not [line for line in lines if admin_token in line]  # ... so no secret may travel in one


# Tokens at rest -----------------------------------------------------------------------------------


def test_the_store_holds_a_tokens_sha256_and_never_the_token(
    api_ledger: Ledger, db_file: Path, admin_token: str
) -> None:
    api_ledger.tlog.checkpoint()

    stored = b"".join(p.read_bytes() for p in db_file.parent.glob(f"{db_file.name}*"))

    assert hashlib.sha256(admin_token.encode()).hexdigest().encode() in stored
    assert admin_token.encode() not in stored
    assert admin_token.removeprefix("cst_").encode() not in stored


def test_the_api_shows_a_token_once_and_never_again(app: FastAPI, admin_token: str) -> None:
    client = client_from(app)

    created = client.post(
        "/v1/tokens", headers=bearer(admin_token), json={"party": "unit-1", "role": "partner"}
    ).json()
    listed = client.get("/v1/tokens", headers=bearer(admin_token)).text
    entries = client.get(
        "/v1/log/entries", headers=bearer(admin_token), params={"start": 0, "end": 1000}
    ).json()["entries"]

    decoded = b"".join(base64.b64decode(e["entry"]) for e in entries).decode()
    for secret in (admin_token, created["token"]):
        assert secret not in listed and secret not in decoded
        assert hashlib.sha256(secret.encode()).hexdigest() in decoded


# SQL only through parameters ----------------------------------------------------------------------


HOSTILE = ["' OR '1'='1", "x'; DROP TABLE custody_log; --", 'a" OR "1"="1', "\\'; --"]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_in_a_query_is_data_not_sql(app: FastAPI, admin_token: str, text: str) -> None:
    client = client_from(app)

    holdings = client.get(
        "/v1/custody",
        headers=bearer(admin_token),
        params={"holder": text, "at": "2026-03-01T00:00:00Z"},
    )
    report = client.get(
        "/v1/reports/unaccounted", headers=bearer(admin_token), params={"recipient": text}
    )
    log = client.get("/v1/log/checkpoint", headers=bearer(admin_token))

    assert holdings.status_code in (200, 404, 422), holdings.text
    assert holdings.status_code != 200 or holdings.json()["items"] == []
    assert report.status_code in (200, 422) and (
        report.status_code != 200 or report.json()["unaccounted"] == []
    ), report.text
    assert log.status_code == 200


def execute_calls(path: Path) -> list[tuple[int, ast.expr]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.args[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("execute", "executemany")
        and node.args
    ]


def test_no_statement_is_built_from_values_where_it_is_executed() -> None:
    """Statements are constants or prepared once from table names (ledger/store/log.py `Statements`,
    ledger/store/readmodel_tables.py `ViewStatements`, ledger/store/accounts_tables.py); values
    always travel as parameters. An f-string,
    `%` or `.format` at an execute call would be the place a value could slip into SQL."""
    built_inline = []
    for path in [*(ROOT / "ledger").rglob("*.py"), *(ROOT / "policies").glob("*.py")]:
        for line, statement in execute_calls(path):
            is_format = isinstance(statement, ast.Call) and getattr(statement.func, "attr", "") in (
                "format",
                "join",
            )
            if isinstance(statement, ast.JoinedStr | ast.BinOp) or is_format:
                built_inline.append(f"{path.relative_to(ROOT)}:{line}")

    assert built_inline == []
    scanned = execute_calls(ROOT / "ledger" / "store" / "log.py")
    assert scanned, "the scan found no execute call at all"


@pytest.mark.parametrize("schema", ['x"; DROP SCHEMA public; --', "a b", "1abc"])
def test_a_postgresql_schema_that_is_not_a_plain_identifier_is_refused(
    schema: str, clock: Clock
) -> None:
    url = f"postgresql://postgres@127.0.0.1:5432/test?schema={schema}"

    with pytest.raises(Exception, match="not a plain identifier"):
        Ledger(clock=clock, db=url, create_tables=False, signer=SIGNER)


# Key files ----------------------------------------------------------------------------------------


def test_a_key_file_is_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    previous = os.umask(0)
    try:
        write_private_key_file(path, SIGNER.to_text())
    finally:
        os.umask(previous)

    assert path.stat().st_mode & 0o777 == 0o600
    assert read_private_key_file(path) == SIGNER.to_text()


def test_a_fifo_in_place_of_the_key_file_is_refused_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    os.mkfifo(path, 0o600)
    outcome: list[BaseException] = []
    reader = threading.Thread(
        target=lambda: outcome.append(_error_of(read_private_key_file, path)), daemon=True
    )

    reader.start()
    reader.join(timeout=5)

    if reader.is_alive():  # release the blocked reader before failing
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a FIFO as the key file blocked")
    assert isinstance(outcome[0], InvalidInput)
    assert outcome[0].message == f"key file {path} is not a regular file"


def test_a_directory_or_binary_file_as_the_key_file_is_refused_with_a_reason(
    tmp_path: Path,
) -> None:
    binary = tmp_path / "binary.key"
    binary.write_bytes(b"\xff\xfe" * 10)
    binary.chmod(0o600)

    assert _error_of(read_private_key_file, tmp_path).message == (  # type: ignore[attr-defined]
        f"key file {tmp_path} is not a regular file"
    )
    assert _error_of(read_private_key_file, binary).message == (  # type: ignore[attr-defined]
        f"key file {binary} is not UTF-8 text"
    )


def _error_of(function: Any, *args: Any) -> BaseException:
    try:
        function(*args)
    except BaseException as error:
        return error
    raise AssertionError("no error")
