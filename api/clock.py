"""Checkpoints on a clock (docs/verification.md, "Checkpoints on a clock").

While the server runs, a background thread ticks every `CUSTODY_CHECKPOINT_INTERVAL` seconds:
- if the log has grown since the latest checkpoint, `Ledger.tlog.checkpoint()` signs a new one
  (checked for consistency with the previous one first) and shows it to the witnesses of the policy;
- otherwise `Ledger.tlog.cosign_latest()` shows the latest one again to the witnesses if its
  cosignatures fall short of the policy's quorum.
One more tick runs when the server stops. A tick that fails is logged and the clock goes on.
Several servers on one store may tick at once: the store keeps the first checkpoint of a size.

`BackgroundClock` is the thread both this clock and the follower's (api/follower.py) run on.
"""

from __future__ import annotations

import logging
import threading
import time

from ledger.application import Ledger

log = logging.getLogger("custody.clock")


class BackgroundClock:
    """A daemon thread that calls `tick` every `interval` seconds until stopped (`stop` waits
    for it); `wake` makes it tick early, after `settle` seconds."""

    kind = "background"
    """What ticks, for the thread's name and the refusal of an interval."""
    settle = 0.0

    def __init__(self, interval: float) -> None:
        if interval <= 0:
            raise ValueError(f"a {self.kind} clock needs an interval above 0 seconds")
        self.interval = interval
        self._woken = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopping

    def tick(self) -> None:
        """The clock's work, once; never raises."""
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"{self.kind}-clock", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._woken.set()

    def stop(self) -> None:
        self._stopping = True
        self._woken.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while self._next():
            self.tick()

    def _next(self) -> bool:
        """Wait `interval` seconds, or until woken and then `settle` more; False once stopping."""
        if self._woken.wait(self.interval) and not self._stopping:
            time.sleep(self.settle)  # what else wakes it meanwhile is done in the same tick
        self._woken.clear()
        return not self._stopping


class CheckpointClock(BackgroundClock):
    kind = "checkpoint"

    def __init__(self, ledger: Ledger, interval: float) -> None:
        super().__init__(interval)
        self.ledger = ledger

    def tick(self) -> None:
        """Sign a checkpoint if the log has grown, else re-send one below quorum; never raises."""
        try:
            latest = self.ledger.tlog.latest_checkpoint()
            if latest is None or self.ledger.tlog.size() > latest[0]:
                self.ledger.tlog.checkpoint()
            else:
                self.ledger.tlog.cosign_latest()
        except Exception:
            log.exception("checkpoint tick failed; trying again in %s s", self.interval)

    def stop(self) -> None:
        """Stop ticking, then tick once more: the log as the server leaves it is signed."""
        super().stop()
        self.tick()
