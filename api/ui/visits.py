"""The overview's "since your last visit": where each party's previous visit left the log, kept
in the browser (docs/dashboard.md, "Since your last visit").

A cookie per signed-in party (`custody_visit_<16 hex of the party's SHA-256>`, HttpOnly,
SameSite=Strict, path /ui, a year) holds two marks, the previous visit's and the current one's:
time, log size and the store's last notification id. A visit is the overview seen again within
VISIT_GAP of the last time; after a longer gap the current mark becomes the previous one. So the
panel stays the same while one visit lasts (a reload does not empty it), and the server keeps no
state and writes nothing to the ledger on a page read, as the session and CSRF tokens (session.py).
The cookie is the reader's own bookmark: editing it changes only what this panel counts as new,
never what the reader may see (the counts come from the same scoped reads as the page).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response

from api.ui.session import set_cookie
from api.ui.views import Mark

PREFIX = "custody_visit_"
VISIT_GAP = timedelta(minutes=30)
YEAR = 365 * 24 * 3600


def cookie_name(party: str) -> str:
    return PREFIX + hashlib.sha256(party.encode("utf-8")).hexdigest()[:16]


def marks(request: Request, party: str) -> tuple[Mark | None, Mark | None]:
    """(previous visit, current visit) from the cookie; (None, None) if absent or unreadable."""
    parts = request.cookies.get(cookie_name(party), "").split(".")
    try:
        found = [_mark(parts[i : i + 3]) for i in (0, 3)] if len(parts) == 6 else []
    except (ValueError, OverflowError, OSError):
        found = []
    return (found[0], found[1]) if found else (None, None)


def visit(request: Request, party: str, now: Mark) -> tuple[Mark | None, Mark]:
    """The mark to show changes since (None on a first visit), and the marks to keep."""
    previous, current = marks(request, party)
    if current is None or current.at > now.at:
        return None, now
    if now.at - current.at > VISIT_GAP:
        return current, now
    return previous, now


def keep(
    response: Response, request: Request, party: str, previous: Mark | None, now: Mark
) -> None:
    value = ".".join(_text(m) for m in (previous or now, now))
    set_cookie(response, request, cookie_name(party), value, max_age=YEAR)


def _mark(parts: list[str]) -> Mark:
    at, size, notification = (int(p) for p in parts)
    if min(size, notification) < 0:
        raise ValueError("negative")
    return Mark(datetime.fromtimestamp(at, tz=UTC), size, notification)


def _text(mark: Mark) -> str:
    return f"{int(mark.at.timestamp())}.{mark.log_size}.{mark.notification}"
