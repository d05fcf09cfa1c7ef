"""The one place where errors become HTTP status codes and the contract's error body:

{"error": {"code": "...", "message": "..."}}
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ledger.errors import (
    Conflict,
    CustodyError,
    IntegrityFailure,
    InvalidInput,
    NotFound,
    RuleViolation,
    Unauthenticated,
    Unauthorised,
)

STATUS: list[tuple[type[CustodyError], int]] = [
    (InvalidInput, 422),
    (NotFound, 404),
    (Unauthenticated, 401),
    (Unauthorised, 403),
    (RuleViolation, 409),
    (Conflict, 409),
    (IntegrityFailure, 500),
]
RETRY_AFTER_SECONDS = "1"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def status_of(error: CustodyError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 500)


def _custody_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CustodyError)
    headers = {}
    if isinstance(error, Conflict):
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(error.code, error.message), status_of(error), headers=headers)


def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = error.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return JSONResponse(error_body("malformed_json", "the body is not valid JSON"), 400)
    message = "; ".join(_describe(p) for p in problems[:10])
    return JSONResponse(error_body("invalid_input", message), 422)


def _describe(problem: Any) -> str:
    where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
    return f"{where or 'body'}: {problem.get('msg', 'invalid')}"


def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = {
        401: "unauthenticated",
        404: "not_found",
        405: "method_not_allowed",
        413: "too_large",
    }.get(error.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(error.detail)), error.status_code, headers=error.headers
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(CustodyError, _custody_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
