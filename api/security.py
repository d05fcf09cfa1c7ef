"""HTTP hardening that is not one route's business (docs/security.md): security headers on every
response, and a limit on failed authentications per client.

- Headers: every response gets `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and
  `Referrer-Policy: no-referrer` unless it set its own (the dashboard sets stricter ones,
  api/ui/session.py); the JSON API (`/v1`, `/openapi.json`) also a CSP that allows nothing and
  `Cache-Control: no-store` (answers carry tokens and custody records); a request that arrived
  over https, `Strict-Transport-Security`. No CORS middleware: no other origin may read an answer.
- Failed authentications: an unknown or revoked token (a bearer header, the dashboard's cookie or
  its sign-in form) counts against the client's address. Past `FAILURES_PER_WINDOW` failures in
  `WINDOW_SECONDS`, a failure is answered 429 `rate_limited` with `Retry-After` instead of 401.
  A valid token is never refused: guessing a 256-bit token is hopeless at any rate, and a lockout
  would let anyone behind the same address lock out everyone else. Counters live in this process
  (each API worker keeps its own), in bounded memory. The client's address is the connection's,
  or, from a proxy listed in CUSTODY_TRUSTED_PROXIES only, what that proxy put in
  `X-Forwarded-For` (`custody serve` turns uvicorn's own proxy-header handling off).
"""

from __future__ import annotations

import ipaddress
import math
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from api.schemas import ErrorOut
from ledger.domain import InvalidInput, Unauthenticated

FAILURES_PER_WINDOW = 10
WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000
IPV6_PREFIX = 64  # one host usually holds a whole /64: count the prefix, not each address
HSTS = "max-age=31536000"
TRUSTED_PROXIES = "CUSTODY_TRUSTED_PROXIES"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
API_RESPONSE = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}
# The API docs (api/docs.py) load their scripts from this app, never a CDN. Swagger UI starts with
# an inline script and ReDoc runs its search in a blob: worker; nothing comes from another origin.
DOCS_PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'self';"
    " form-action 'self'"
)
RATE_LIMITED = {  # JSON on every route, text/plain ones too: the error body is always JSON
    "description": "too many failed authentications from this client",
    "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
    "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorOut.__name__}"}}
    },
}


def install(app: FastAPI) -> None:
    """Call before the routers are included (so that 429 is documented on each) and after the
    other middleware (so that the headers are on their answers too)."""
    app.state.failure_limiter = FailureLimiter()
    app.state.trusted_proxies = trusted_proxies(os.environ.get(TRUSTED_PROXIES, ""))
    app.router.responses = {**app.router.responses, 429: RATE_LIMITED}
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_middleware(SecurityHeaders)


# Failed authentications ---------------------------------------------------------------------------


class RateLimited(Exception):
    """Too many failed authentications from one client: answer 429, not 401."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        self.message = (
            f"too many failed authentications from this address; retry after {retry_after} seconds"
        )
        super().__init__(self.message)


class FailureLimiter:
    """Failed authentications per client in a sliding window: the times of its last `limit`
    failures, for at most `max_clients` clients (the least recently failed are forgotten)."""

    def __init__(
        self,
        *,
        limit: int = FAILURES_PER_WINDOW,
        window: float = WINDOW_SECONDS,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.max_clients, self.clock = limit, window, max_clients, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def failed(self, client: str) -> None:
        """Record a failure of `client`; raise RateLimited if it had `limit` failures in the
        window already."""
        now = self.clock()
        with self._lock:
            times = self._recent(client, now)
            over = len(times) >= self.limit
            times.append(now)
            retry_after = times[0] + self.window - now
        if over:
            raise RateLimited(max(1, math.ceil(retry_after)))

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.pop(client, None) or deque(maxlen=self.limit)
        while times and times[0] <= now - self.window:
            times.popleft()
        self._failures[client] = times
        if len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)
        return times


def trusted_proxies(text: str) -> tuple[Network, ...]:
    """CUSTODY_TRUSTED_PROXIES: addresses or networks, comma-separated (`10.0.0.5,10.1.0.0/16`)."""
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in text.split(",")
            if part.strip()
        )
    except ValueError as error:
        raise InvalidInput(f"{TRUSTED_PROXIES} {text!r}: {error}") from None


def client_address(request: Request) -> str:
    """The client's address: the connection's peer, unless the peer is one of the trusted proxies;
    then the last address of `X-Forwarded-For` that is not a trusted proxy (what the nearest
    trusted proxy saw). Anything a client writes into the header itself sits left of that and is
    never read, so rotating the header gains nothing."""
    peer = request.client.host if request.client else "unknown"
    state = getattr(request.scope.get("app"), "state", None)
    proxies: tuple[Network, ...] = getattr(state, "trusted_proxies", ())
    if not _among(peer, proxies):
        return peer
    hops = [
        hop.strip()
        for value in request.headers.getlist("x-forwarded-for")
        for hop in value.split(",")
        if hop.strip()
    ]
    return next((hop for hop in reversed(hops) if not _among(hop, proxies)), peer)


def _among(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_key(request: Request) -> str:
    """Whom to count a failure against: the client's address (`client_address`), an IPv6
    address by its /64."""
    host = client_address(request)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


@contextmanager
def counting_failures(request: Request) -> Iterator[None]:
    """Around a token check: an Unauthenticated raised inside counts against the client, and
    becomes RateLimited once the client is over the limit."""
    try:
        yield
    except Unauthenticated:
        limiter: FailureLimiter = request.app.state.failure_limiter
        limiter.failed(client_key(request))
        raise


def _rate_limited(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RateLimited)
    return JSONResponse(
        error_body("rate_limited", error.message),
        429,
        headers={"Retry-After": str(error.retry_after)},
    )


# Headers ------------------------------------------------------------------------------------------


def headers_for(path: str, scheme: str) -> dict[str, str]:
    headers = dict(EVERY_RESPONSE)
    if path.startswith("/v1/") or path in ("/v1", "/openapi.json"):
        headers |= API_RESPONSE
    if path in DOCS_PAGES:
        headers["Content-Security-Policy"] = DOCS_CSP
    if scheme == "https":
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeaders:
    """ASGI middleware: add `headers_for` the request to its answer, keeping any the answer set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"], scope.get("scheme", "http"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
