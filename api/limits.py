"""Limits on a request body as a whole (docs/api.md, "Limits"): its size, as pure ASGI
middleware, and the nesting depth of the JSON a write carries to the ledger as it was sent.

A body is refused with 413 by its Content-Length before anything reads it. A body without one
(`Transfer-Encoding: chunked`), or with one that lies, is counted as it arrives and cut off the
moment it passes the limit: the route that was reading it gets `BodyTooLarge`, which becomes the
413, and the answer closes the connection so the server stops reading the rest. No route ever
holds more than `MAX_BODY_BYTES` plus one chunk of a body in memory.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BodyTooLarge, too_large
from ledger.domain import InvalidInput

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 16


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif _declared_over(scope, self.max_bytes):
            await too_large(self.max_bytes)(scope, receive, send)
        else:
            await self._counting(scope, receive, send)

    async def _counting(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            # Routes read bodies under FastAPI's handler, which answers it; this is for any reader
            # that is not a route.
            if started:
                raise
            await too_large(self.max_bytes)(scope, receive, send)


def _declared_over(scope: Scope, max_bytes: int) -> bool:
    """A Content-Length over the limit, or one that is not a number (servers refuse that first)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and (not value.isdigit() or int(value) > max_bytes):
            return True
    return False


def check_depth(value: Any, *, limit: int = MAX_JSON_DEPTH) -> Any:
    """Refuse JSON nested deeper than `limit` (a signed body is 3 levels deep). The raw body of a
    write goes into its submission's canonical bytes, whose encoder recurses once per level.
    Walked with a stack, not recursion, so that the check itself cannot run out of stack."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if not isinstance(node, dict | list):
            continue
        if depth > limit:
            raise InvalidInput(f"the body is nested more than {limit} levels deep")
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children)
    return value
