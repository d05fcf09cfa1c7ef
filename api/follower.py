"""The server's follower (docs/readmodels.md, "Who brings them up to date").

The app listens to every save of the Ledger it serves (`Ledger.after_save`): after each write
the read models and the stored accounts are brought up to date with the log
(policies/following.py), so no reader ever pays for it. Without a clock (`follow_interval` 0,
as in tests) the catch-up runs at once in the writer's thread, after the commit; with one (`custody
serve`), a write only wakes the clock's thread, which waits `SETTLE` for the rest of a burst, then
catches up; it also ticks every `interval` seconds for the entries other processes append
(`custody import`, another server on the store). A catch-up that
finds one running leaves it a note to run again (`Follower.request`), so writers never queue. A
catch-up that fails is logged; the next one goes on from the position the last one committed.
"""

from __future__ import annotations

import logging

from api.clock import BackgroundClock
from ledger.application import Ledger
from ledger.readmodels import Follower

log = logging.getLogger("custody.follower")
SETTLE = 0.25
"""Seconds a woken follower waits for more writes before it catches up: a burst's writes are
applied in one catch-up, and a write is read back within about this long."""


def follow(follower: Follower) -> None:
    """One catch-up (or a note to the running one); never raises."""
    try:
        follower.request()
    except Exception:
        log.exception("catching the read models up failed; the next write or tick tries again")


class FollowerClock(BackgroundClock):
    """Catch up in a background thread: when started, when woken (after `SETTLE`, so that the
    writes of a burst are caught up together), and every `interval` s."""

    kind = "follower"
    settle = SETTLE

    def __init__(self, follower: Follower, interval: float) -> None:
        super().__init__(interval)
        self.follower = follower

    def tick(self) -> None:
        follow(self.follower)

    def _run(self) -> None:
        self.tick()  # as it starts (api/main.py counts on it)
        super()._run()


def listen(ledger: Ledger, follower: Follower, clock: FollowerClock | None) -> None:
    """After every save of `ledger`: wake the clock if it runs, else catch up now."""

    def after_save() -> None:
        if clock is not None and clock.running:
            clock.wake()
        else:
            follow(follower)

    ledger.after_save.append(after_save)
