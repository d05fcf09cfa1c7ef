"""Rendering: the Jinja2 templates, their filters, the refusal page, and the route class that
gives every /ui response its security headers and turns refusals into pages, not JSON."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from api.errors import status_of
from api.security import RateLimited
from api.ui.session import LOGIN_PATH, PAGE_HEADERS, FormRefused, LoginRequired
from ledger.domain import CustodyError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def when(value: datetime | str | None, precision: str = "minute") -> str:
    """A time for people: `2026-03-10 08:00 UTC`, or the date alone. The one way a page writes a
    time (`time_tag` in macros.html wraps it in `<time>`; `prose` rewrites times inside text)."""
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


CANONICAL_TIME = re.compile(
    r"\b[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-/.:][A-Za-z0-9]+)+")
"""An identifier inside text: letters and digits joined by separators (`DEMO-SOUTH-4`); not
`_`, which joins the words of a value (`not_presented`) a line may break after."""


def prose(text: str) -> Markup:
    """Text that may hold times in the log's form and identifiers (an entry's detail, a finding's):
    each time written as `when`, each identifier kept on one line as `ident` keeps it. Escaped
    first: the entities escaping makes (`&lt;`) hold no separator, so no token."""
    escaped = escape(CANONICAL_TIME.sub(lambda m: when(m.group(0)), text))
    return Markup(TOKEN.sub(lambda m: str(ident(m.group(0))), escaped))  # noqa: S704 - escaped above


def ident(value: object) -> Markup:
    """An identifier (a party id, a holder) that never wraps: a line too long for its cell makes
    its table scroll sideways in its region instead (`.ident` in dashboard.css)."""
    return Markup('<span class="ident">{}</span>').format(value)


def with_query(path: str, params: Mapping[str, object], **changes: object) -> str:
    """`path?query` with the params changed (None or '' drops one): links that keep filters."""
    merged = {**params, **changes}
    kept = {k: str(v) for k, v in merged.items() if v is not None and v != ""}
    return f"{path}?{urlencode(kept)}" if kept else path


ROLE_TITLES = {
    "oversight": "oversight dashboard",
    "admin": "administrator's dashboard",
    "partner": "partner dashboard",
    "supplier": "supplier dashboard",
    "inspector": "inspectorate dashboard",
    "investigator": "investigator dashboard",
}


def dashboard_title(role: str | None) -> str:
    """What the page title and the header call the dashboard: the signed-in party's role."""
    return ROLE_TITLES.get(role or "", "dashboard")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def label(value: str) -> str:
    """`not_presented` -> `not presented`."""
    return value.replace("_", " ")


templates.env.filters.update(
    when=when, iso=iso, percent=percent, label=label, b64=b64, prose=prose, ident=ident
)
templates.env.globals.update(with_query=with_query, dashboard_title=dashboard_title)


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
