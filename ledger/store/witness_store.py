"""The witness's own small store: a SQLite file with the latest cosigned checkpoint per log and
the evidence of any misbehaviour it saw. Independent of the ledger's store on purpose."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from threading import Lock

from ledger.domain.times import format_time
from ledger.witness.witness import CosignedCheckpoint, Misbehaviour

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS latest (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, "
    "root BLOB NOT NULL, note TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS misbehaviour (id INTEGER PRIMARY KEY, origin TEXT NOT NULL, "
    "evidence TEXT NOT NULL)",
)


class SQLiteWitnessState:
    """ledger.witness.witness.WitnessState in a SQLite file; `store` is a compare and swap in one
    transaction, so two requests racing for the same old size cannot both win."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = Lock()
        for statement in _SCHEMA:
            self._db.execute(statement)

    def latest(self, origin: str) -> CosignedCheckpoint | None:
        with self._lock:
            row = self._db.execute(
                "SELECT size, root, note FROM latest WHERE origin = ?", (origin,)
            ).fetchone()
        return CosignedCheckpoint(int(row[0]), bytes(row[1]), str(row[2])) if row else None

    def store(self, origin: str, size: int, root: bytes, note: str, *, old_size: int) -> bool:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT size FROM latest WHERE origin = ?", (origin,)
                ).fetchone()
                if (int(row[0]) if row else 0) != old_size:
                    return False
                self._db.execute(
                    "INSERT INTO latest (origin, size, root, note) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (origin) DO UPDATE SET size = ?, root = ?, note = ?",
                    (origin, size, root, note, size, root, note),
                )
                return True
            finally:
                self._db.execute("COMMIT")

    def record_misbehaviour(self, origin: str, evidence: Misbehaviour) -> None:
        document = {
            "origin": evidence.origin,
            "reason": evidence.reason,
            "cosigned_note": evidence.cosigned_note,
            "refused_note": evidence.refused_note,
            "old_size": evidence.old_size,
            "proof": [base64.b64encode(h).decode("ascii") for h in evidence.proof],
            "observed_at": format_time(evidence.observed_at),
        }
        with self._lock:
            self._db.execute(
                "INSERT INTO misbehaviour (origin, evidence) VALUES (?, ?)",
                (origin, json.dumps(document, sort_keys=True)),
            )

    def misbehaviour(self) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute("SELECT evidence FROM misbehaviour ORDER BY id").fetchall()
        return [json.loads(r[0]) for r in rows]
