"""Rendering: the Jinja2 templates, their filters, the refusal page, and the route class that
gives every /ui response its security headers and turns refusals into pages, not JSON."""

from __future__ import annotations

import base64
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from api.errors import status_of
from api.security import RateLimited
from api.ui.session import LOGIN_PATH, PAGE_HEADERS, FormRefused, LoginRequired
from ledger.domain import CustodyError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def when(value: datetime | str | None, precision: str = "minute") -> str:
    """A time for people: `2026-03-10 08:00 UTC`, or the date alone."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = _parsed(value)
    if precision == "date":
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M UTC")


def iso(value: datetime | str) -> str:
    """For <time datetime=...>."""
    if isinstance(value, str):
        value = _parsed(value)
    return value.isoformat().replace("+00:00", "Z")


def _parsed(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def label(value: str) -> str:
    """`not_presented` -> `not presented`."""
    return value.replace("_", " ")


templates.env.filters.update(when=when, iso=iso, percent=percent, label=label, b64=b64)


def render(
    request: Request, name: str, context: Mapping[str, Any] | None = None, status: int = 200
) -> Response:
    session = getattr(request.state, "ui_session", None)
    return templates.TemplateResponse(
        request, name, {"session": session, **(context or {})}, status_code=status
    )


Refusal = CustodyError | FormRefused | RequestValidationError | RateLimited


def refusal(request: Request, error: Refusal) -> Response:
    """A refusal as a page: what was refused and why, with the status the API would answer."""
    if isinstance(error, CustodyError):
        status, message = status_of(error), error.message
    elif isinstance(error, FormRefused):
        status, message = error.status, error.message
    elif isinstance(error, RateLimited):
        status, message = 429, error.message
    else:
        status, message = 422, "; ".join(str(p.get("msg", "invalid")) for p in error.errors())
    title = {403: "Not allowed", 404: "Not found", 429: "Too many attempts"}.get(status, "Refused")
    response = render(request, "refused.html", {"title": title, "message": message}, status)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    where = LOGIN_PATH if request.method != "GET" else f"{LOGIN_PATH}?next={quote(target)}"
    return RedirectResponse(where, status_code=303)


class DashboardRoute(APIRoute):
    """Every dashboard route: no session -> the login page; a refusal (too many failed sign-ins
    included) -> a page with its status; every response -> the security headers."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired:
                response = to_login(request)
            except (CustodyError, FormRefused, RequestValidationError, RateLimited) as error:
                response = refusal(request, error)
            response.headers.update(PAGE_HEADERS)
            return response

        return page
