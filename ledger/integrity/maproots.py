"""Map roots: the map of heads (ledger/integrity/heads.py) committed through the log itself.

Before each checkpoint the ledger appends one `LogMap.Committed` entry holding the map's root over
every entry before it and the size it covers, which must be the entry's own log index (the
recorder refuses anything else, ledger/store/log.py). The checkpoint is then signed at that entry's
size plus one, so every checkpoint's last entry commits the heads of everything before it, and any
monitor can audit the commitment by recomputing the map from the entries (`custody verify`).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.domain.events import LedgerAggregate, Report, Reported
from ledger.integrity.entries import Body

MAP_ID = uuid5(UUID(int=0), "custody:map-of-heads")
"""The one LogMap aggregate of every ledger."""


class MapRoot(Reported):
    """What both of the map's events record: its root (hex) over the first `size` entries."""

    size: int
    root: str

    def apply(self, log_map: LogMap) -> None:
        log_map.size, log_map.root = self.size, bytes.fromhex(self.root)


class LogMap(LedgerAggregate):
    TOPIC = "custody:LogMap"

    class Created(Reported, Aggregate.Created):
        TOPIC = "custody:LogMap.Created"

    class Started(MapRoot, Created):
        TOPIC = "custody:LogMap.Started"

    class Committed(MapRoot):
        TOPIC = "custody:LogMap.Committed"

    size: int
    root: bytes

    def __init__(self) -> None:
        """State is assigned by Started.apply."""

    @classmethod
    def start(cls, *, size: int, root: bytes, now: datetime, actor: str) -> LogMap:
        return cls._create_reported(
            cls.Started,
            MAP_ID,
            Report.unsigned(actor, now),
            size=size,
            root=root.hex(),
        )

    def commit(self, *, size: int, root: bytes, now: datetime, actor: str) -> None:
        self._trigger_reported(
            self.Committed, Report.unsigned(actor, now), size=size, root=root.hex()
        )


COMMIT_TYPES = frozenset({LogMap.Started.TOPIC, LogMap.Committed.TOPIC})


def committed(body: Body) -> tuple[int, bytes] | None:
    """(size, root) of a map-root entry's body; None for any other entry."""
    if body.get("type") not in COMMIT_TYPES or body.get("aggregate_id") != str(MAP_ID):
        return None
    payload = body["payload"]
    return int(payload["size"]), bytes.fromhex(str(payload["root"]))
