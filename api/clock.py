"""Checkpoints on a clock (docs/verification.md, "Checkpoints on a clock").

While the server runs, a background thread ticks every `CUSTODY_CHECKPOINT_INTERVAL` seconds:
- if the log has grown since the latest checkpoint, `Ledger.tlog.checkpoint()` signs a new one
  (checked for consistency with the previous one first) and shows it to the witnesses of the policy;
- otherwise `Ledger.tlog.cosign_latest()` shows the latest one again to the witnesses if its
  cosignatures fall short of the policy's quorum.
One more tick runs when the server stops. A tick that fails is logged and the clock goes on.
Several servers on one store may tick at once: the store keeps the first checkpoint of a size.
"""

from __future__ import annotations

import logging
import threading

from ledger.application import Ledger

log = logging.getLogger("custody.clock")


class CheckpointClock:
    def __init__(self, ledger: Ledger, interval: float) -> None:
        if interval <= 0:
            raise ValueError("a checkpoint clock needs an interval above 0 seconds")
        self.ledger = ledger
        self.interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

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

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="checkpoint-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking, then tick once more: the log as the server leaves it is signed."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self.tick()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.tick()
