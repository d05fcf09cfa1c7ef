"""Dashboard sessions: the bearer token kept in a cookie, CSRF tokens for forms, and the security
headers of every /ui response (docs/dashboard.md, "Sign-in and cookies").

- The session cookie `custody_token` holds the token itself (HttpOnly, SameSite=Strict, path /ui),
  checked with `Ledger.authenticate` on every request, so revoking the token ends the session.
  It is `Secure` unless the request is plain http to a loopback host (`custody serve` on
  127.0.0.1 for a local demo), where a browser would otherwise drop it.
- A form's CSRF token is an HMAC of the session token: no server secret or state, the same in
  every worker, and useless without the token, which the page's scripts cannot read. The login
  form, before there is a session, uses a random double-submit value in a second cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from api.deps import LedgerDep
from api.security import counting_failures
from ledger.domain import Actor, InvalidInput, Unauthenticated

COOKIE = "custody_token"
LOGIN_CSRF_COOKIE = "custody_login_csrf"
UI_PATH = "/ui"
LOGIN_PATH = "/ui/login"
STATIC_URL = "/ui/static"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
CSRF_CONTEXT = b"custody dashboard csrf v1"
MAX_FORM_FIELDS = 20
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
PAGE_HEADERS = SECURITY_HEADERS | {"Cache-Control": "no-store"}


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form."""


class FormRefused(Exception):
    """A form that is not accepted: a missing or wrong CSRF token, or an unreadable body."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Session:
    actor: Actor
    csrf: str


def csrf_for(token: str) -> str:
    return hmac.new(token.encode("utf-8"), CSRF_CONTEXT, hashlib.sha256).hexdigest()


def current_session(request: Request, ledger: LedgerDep) -> Session:
    token = request.cookies.get(COOKIE)
    if not token:
        raise LoginRequired
    try:
        with counting_failures(request):
            actor = ledger.authenticate(token)
    except (Unauthenticated, InvalidInput):
        raise LoginRequired from None
    session = Session(actor, csrf_for(token))
    request.state.ui_session = session
    return session


async def form_fields(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (what an HTML form sends) as a dict."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormRefused("send the form as application/x-www-form-urlencoded", 400)
    try:
        pairs = parse_qsl(
            (await request.body()).decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise FormRefused("the form could not be read", 400) from None
    return dict(reversed(pairs))  # the first value of a repeated field wins


SessionDep = Annotated[Session, Depends(current_session)]
FormDep = Annotated[dict[str, str], Depends(form_fields)]


def checked_form(session: SessionDep, form: FormDep) -> dict[str, str]:
    """The form of a signed-in user, if it carries the session's CSRF token."""
    require_same(form.get("csrf", ""), session.csrf)
    return form


CheckedFormDep = Annotated[dict[str, str], Depends(checked_form)]


def require_same(sent: str, expected: str) -> None:
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise FormRefused(
            "the form was refused: its security token is missing or out of date."
            " Reload the page and send it again."
        )


def secure_cookie(request: Request) -> bool:
    """Secure, except over plain http to a loopback host (a local demo without TLS)."""
    return not (request.url.scheme == "http" and request.url.hostname in LOCAL_HOSTS)


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    path: str = UI_PATH,
    max_age: int | None = None,
) -> None:
    """Every dashboard cookie: HttpOnly, SameSite=Strict, Secure unless plain HTTP to a loopback
    host (secure_cookie)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=secure_cookie(request),
        httponly=True,
        samesite="strict",
    )


def _delete_cookie(response: Response, request: Request, name: str, *, path: str) -> None:
    response.delete_cookie(
        name, path=path, secure=secure_cookie(request), httponly=True, samesite="strict"
    )


def start_session(response: Response, request: Request, token: str) -> None:
    set_cookie(response, request, COOKIE, token)
    _delete_cookie(response, request, LOGIN_CSRF_COOKIE, path=LOGIN_PATH)


def end_session(response: Response, request: Request) -> None:
    _delete_cookie(response, request, COOKIE, path=UI_PATH)


def login_csrf(request: Request) -> str:
    """The login form's double-submit value: the browser's, or a new one."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def keep_login_csrf(response: Response, request: Request, value: str) -> None:
    set_cookie(response, request, LOGIN_CSRF_COOKIE, value, path=LOGIN_PATH, max_age=3600)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path only, never another site."""
    if target and target.startswith(UI_PATH) and "\\" not in target and "//" not in target:
        return target
    return UI_PATH


class DashboardStatic(StaticFiles):
    """The dashboard's stylesheet, with the same security headers as its pages."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response
