"""The follower: brings the read models (and whatever else follows the log, such as the policies'
stored accounts) up to date with the log, on the writer's side, so that no read pays for it
(docs/readmodels.md, "Who brings them up to date").

A `Follower` runs its steps in order; each step applies what the log has beyond its own position
and answers how much it did. The server asks for a catch-up after every write it answers, and on a
clock for the writes of other processes (api/follower.py); `custody import` runs one at its end,
with a progress bar. `request()` coalesces: a caller that finds a catch-up running leaves it a
note to run once more and returns at once, so writers never queue behind one another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ledger.application.ledger import Ledger
from ledger.readmodels.models import Fleet

Progress = Callable[[int], None]
CatchUp = Callable[[Progress | None], int]
"""A step: apply what the log has beyond the step's position; answers how much it applied."""


@dataclass(frozen=True)
class Step:
    name: str
    catch_up: CatchUp
    behind: Callable[[], int]
    """how much the step has to do, in the units its progress counts (0: up to date)"""


def views_step(ledger: Ledger) -> Step:
    """The read models of ledger/readmodels/models.py, opened (their tables made if missing) on
    the first run."""
    fleets: list[Fleet] = []

    def fleet() -> Fleet:
        if not fleets:
            fleets.append(Fleet.of(ledger))
        return fleets[0]

    def behind() -> int:
        return max(0, ledger.log_store.log_size() - fleet().position())

    return Step("read models", lambda progress: fleet().catch_up(progress), behind)


class Follower:
    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)
        self._running = threading.Lock()
        self._pending = threading.Event()

    def catch_up(self) -> int:
        """Run every step once, now; answers how much they applied in all."""
        with self._running:
            return sum(step.catch_up(None) for step in self.steps)

    def request(self) -> None:
        """Catch up, unless a catch-up is running: then leave it a note to run once more. Returns
        when no catch-up is left for this call."""
        self._pending.set()
        while self._pending.is_set():
            if not self._running.acquire(blocking=False):
                return  # the running one sees the note before it lets go
            try:
                while self._pending.is_set():
                    self._pending.clear()
                    for step in self.steps:
                        step.catch_up(None)
            finally:
                self._running.release()
