"""The one place where errors become HTTP status codes and the contract's error body:

{"error": {"code": "...", "message": "..."}}

Every error answer is JSON, on every route (the OpenAPI schema says so too, `_json_errors`), and a
405 lists in `Allow` every method the path has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from ledger.domain import (
    Conflict,
    CustodyError,
    IntegrityFailure,
    InvalidInput,
    LimitExceeded,
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
    (LimitExceeded, 429),
    (IntegrityFailure, 500),
]
RETRY_AFTER_SECONDS = "1"
JSON = "application/json"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class BodyTooLarge(HTTPException):
    """A request body over the limit, by its Content-Length or counted as it arrives
    (api/limits.py). An HTTPException, so that FastAPI's body reading lets it through to
    `_http_error`. The answer closes the connection: the rest of the body is never read."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the body is over the limit of {limit / 2**20:g} MiB ({limit} bytes)",
            headers={"Connection": "close"},
        )


def too_large(limit: int) -> JSONResponse:
    """The 413 answer, for a middleware that refuses a body before any route sees it."""
    error = BodyTooLarge(limit)
    return JSONResponse(
        error_body("too_large", str(error.detail)), error.status_code, headers=error.headers
    )


def error_body(code: str, message: str) -> dict[str, Any]:
    """The error body; a message that echoes a lone surrogate from the input keeps it escaped, so
    that the answer itself can be encoded."""
    text = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return {"error": {"code": code, "message": text}}


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
    message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")  # pydantic's noise
    return f"{where or 'body'}: {message}"


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    if isinstance(error.__cause__, RecursionError):  # FastAPI's JSON parser gave up: a limit
        return JSONResponse(error_body("invalid_input", "the body is nested too deeply"), 422)
    code = {
        400: "malformed_body",
        401: "unauthenticated",
        404: "not_found",
        405: "method_not_allowed",
        413: "too_large",
    }.get(error.status_code, "http_error")
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
    return JSONResponse(error_body(code, str(error.detail)), error.status_code, headers=headers)


def _allowed_methods(request: Request) -> set[str]:
    """The methods some route answers on this path: Starlette's own `Allow` names only those of
    the first route that matched the path (GET /v1/tokens and POST /v1/tokens are two routes)."""
    return {
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    }


def _json_errors(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI documents an error model under the route's media type, so a text/plain route (the
    checkpoint, the key) would claim text/plain errors; they are JSON like every other."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = build()  # FastAPI keeps it on the app: this runs once
        if fresh:
            for path in schema["paths"].values():
                for operation in path.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content")
                        if status[0] in "45" and content and JSON not in content:
                            response["content"] = {JSON: next(iter(content.values()))}
        return schema

    return openapi


def _unexpected(request: Request, _: Exception) -> JSONResponse:
    """A bug: the contract's body, not Starlette's plain text; the traceback goes to the server's
    log (Starlette re-raises it after this answer), never to the client."""
    from api.security import headers_for  # api.security imports this module

    body = error_body("internal_error", "unexpected server error; see the log")
    # Starlette answers this outside every middleware: the security headers go on here.
    return JSONResponse(body, 500, headers=headers_for(request.url.path, request.url.scheme))


def install(app: FastAPI) -> None:
    app.add_exception_handler(CustodyError, _custody_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.openapi = _json_errors(app)  # type: ignore[method-assign]
