"""The server's follower (docs/readmodels.md, "Who brings them up to date").

After every write request it answers (a method other than GET, HEAD or OPTIONS, answered below
400), the server catches the read models and the stored accounts up with the log
(policies/following.py): after the answer is sent, in a worker thread, so the writer's client does
not wait and no reader ever pays. A catch-up already running takes the new entries on instead
(`Follower.request`). A background thread also ticks every `interval` seconds while the server
runs, for the entries other processes append (`custody import`, another server on the store). A
catch-up that fails is logged; the next one goes on from the position the last committed.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import anyio

from ledger.readmodels.follower import Follower

log = logging.getLogger("custody.follower")
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def follow(follower: Follower) -> None:
    """One catch-up (or a note to the running one); never raises."""
    try:
        follower.request()
    except Exception:
        log.exception("catching the read models up failed; the next write or tick tries again")


class FollowWrites:
    """ASGI middleware: after a write's answer is sent, catch up (in a worker thread)."""

    def __init__(self, app: Any, follower: Follower) -> None:
        self.app = app
        self.follower = follower

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in READS:
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        await self.app(scope, receive, sending)
        if status and status[0] < 400:
            await anyio.to_thread.run_sync(follow, self.follower)


class FollowerClock:
    """Catch up every `interval` seconds in a background thread, and once when started."""

    def __init__(self, follower: Follower, interval: float) -> None:
        if interval <= 0:
            raise ValueError("a follower clock needs an interval above 0 seconds")
        self.follower = follower
        self.interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        follow(self.follower)
        while not self._stopping.wait(self.interval):
            follow(self.follower)
