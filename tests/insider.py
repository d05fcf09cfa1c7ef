"""The operator's toolkit, for the tamper suite (tests/verification/test_insider.py): a consistent
rewrite of a whole store, as someone with database access and the log's key would make it.

`Rewrite` reads a store through `custody export` (every entry up to the latest checkpoint, with its
stored event and receipt), lets a test drop, change or reorder entries, then recomputes everything
the store derives from them with the ledger's own code: each stored event is decoded and encoded
again by the ledger's mapper (so the event and its entry agree byte for byte), every `prev` link
and leaf hash, every map root (unless told not to), and signs the checkpoints again with the key.
`restore_into` writes the result into a fresh store through `custody restore`, which rebuilds the
tree and verifies it before it commits. The result is a store that `custody verify` alone calls
intact: what catches it must come from outside the store (a trusted checkpoint, a witness policy, a
receipt), or from a step the rewrite skipped.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.application.ledger import Ledger
from ledger.domain.times import format_time
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint, sign_checkpoint
from ledger.integrity.entries import canonical_json, encode_entry
from ledger.integrity.heads import Head, HeadMap
from ledger.integrity.maproots import MAP_ID
from ledger.integrity.receipts import EntryReceipt, receipt_signature, recorded_at_of
from ledger.integrity.signing import Signer
from ledger.operations.backup import FORMAT, export_log, restore_log
from ledger.store.log import LoggedEvent


@dataclass
class Entry:
    """One entry of the rewritten log: its stored event, as the ledger's mapper decodes it."""

    event: Any

    @property
    def aggregate_id(self) -> UUID:
        return UUID(str(self.event.originator_id))


@dataclass
class Rewrite:
    ledger: Ledger
    signer: Signer
    entries: list[Entry] = field(default_factory=list)
    checkpoint_sizes: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, ledger: Ledger, signer: Signer) -> Rewrite:
        out = io.BytesIO()
        export_log(ledger, out, verifier=signer.verifier, now=ledger.clock())
        rewrite = cls(ledger, signer)
        for line in out.getvalue().splitlines():
            record = _json(line)
            if record["record"] == "entry":
                stored = StoredEvent(
                    UUID(record["aggregate_id"]),
                    record["aggregate_version"],
                    record["topic"],
                    base64.b64decode(record["state"]),
                )
                rewrite.entries.append(Entry(ledger.mapper.to_domain_event(stored)))
            elif record["record"] == "checkpoint":
                rewrite.checkpoint_sizes.append(record["size"])
        return rewrite

    # What the insider changes -------------------------------------------------------------------

    def index_of(self, aggregate_id: UUID, version: int) -> int:
        return next(
            i
            for i, e in enumerate(self.entries)
            if e.aggregate_id == aggregate_id and e.event.originator_version == version
        )

    def truncate(self, size: int) -> None:
        """A rollback: keep the first `size` entries and the checkpoints within them."""
        del self.entries[size:]
        self.checkpoint_sizes = [s for s in self.checkpoint_sizes if s <= size]

    def drop(self, index: int) -> None:
        """Delete one entry, which must be its aggregate's newest."""
        del self.entries[index]

    def change(self, index: int, **values: Any) -> None:
        """Rewrite fields of an entry's event (its payload, or `occurred_at`)."""
        self.entries[index].event = dataclasses.replace(self.entries[index].event, **values)

    def swap(self, first: int, second: int) -> None:
        """Reorder two entries (of different aggregates)."""
        self.entries[first], self.entries[second] = self.entries[second], self.entries[first]

    # Recomputing everything -----------------------------------------------------------------------

    def backup(self, *, map_roots: bool = True, sign_at_end: bool = True) -> bytes:
        """The rewritten store as a backup file: chain and leaves recomputed, and (unless told not
        to) the map roots, with a checkpoint signed again right after each of them, as the
        ledger signs; otherwise at the old sizes within the log. And one at its end."""
        if map_roots:
            self._recompute_map_roots()
        rows, leaves, prev = [], [], dict[UUID, bytes]()
        for index, entry in enumerate(self.entries):
            stored = self.ledger.mapper.to_stored_event(entry.event)
            assert isinstance(stored, LoggedEvent) and stored.entry_body is not None
            data = encode_entry(stored.entry_body, prev=prev.get(entry.aggregate_id))
            prev[entry.aggregate_id] = leaf = merkle.leaf_hash(data)
            leaves.append(leaf)
            rows.append(_entry_record(index, stored, data, leaf, self._receipt(index, data, leaf)))
        sizes = [s for s in self.checkpoint_sizes if s <= len(leaves)]
        if map_roots:  # as the ledger signs: right after each map root
            sizes = [i + 1 for i, e in enumerate(self.entries) if e.aggregate_id == MAP_ID]
        if sign_at_end and len(leaves) not in sizes:
            sizes.append(len(leaves))
        return self._file(rows, leaves, sorted(set(sizes)))

    def _receipt(self, index: int, data: bytes, leaf: bytes) -> bytes:
        """The log key's receipt of the rewritten entry: the insider holds the key."""
        at = EntryReceipt(self.ledger.origin, index, leaf, recorded_at_of(data))
        return receipt_signature(at, self.signer)

    def _recompute_map_roots(self) -> None:
        """Each map root set to the map of the rewritten entries before it, in one pass: an
        entry's leaf hash is known once the entries before it are final."""
        heads, prev = HeadMap(), dict[UUID, bytes]()
        for index, entry in enumerate(self.entries):
            if entry.aggregate_id == MAP_ID:
                self.change(index, size=index, root=heads.root().hex())
            leaf = merkle.leaf_hash(self._encoded(self.entries[index], prev))
            prev[entry.aggregate_id] = leaf
            heads.update([Head(entry.aggregate_id, entry.event.originator_version, index, leaf)])

    def _encoded(self, entry: Entry, prev: dict[UUID, bytes]) -> bytes:
        stored = self.ledger.mapper.to_stored_event(entry.event)
        assert isinstance(stored, LoggedEvent) and stored.entry_body is not None
        return encode_entry(stored.entry_body, prev=prev.get(entry.aggregate_id))

    def _file(self, rows: list[dict[str, Any]], leaves: list[bytes], sizes: list[int]) -> bytes:
        tree = merkle.MemoryNodeStore()
        tree.add(merkle.nodes_to_append(0, leaves, tree))
        records = [_header(self.ledger, self.signer, len(leaves))]
        checkpoints = {
            s: sign_checkpoint(Checkpoint(self.ledger.origin, s, merkle.root(s, tree)), self.signer)
            for s in sizes
        }
        for index, row in enumerate(rows):
            records += [
                {"record": "checkpoint", "size": s, "note": n}
                for s, n in checkpoints.items()
                if s == index
            ]
            records.append(row)
        if len(leaves) in checkpoints:
            records.append(
                {"record": "checkpoint", "size": len(leaves), "note": checkpoints[len(leaves)]}
            )
        body = b"".join(canonical_json(r) + b"\n" for r in records)
        counts = {k: sum(r["record"] == k for r in records) for k in ("entry", "checkpoint")}
        end = {
            "record": "end",
            "entries": counts["entry"],
            "checkpoints": counts["checkpoint"],
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        return body + canonical_json(end) + b"\n"


def restore_into(target: Ledger, backup: bytes, signer: Signer) -> Ledger:
    """The rewritten store: `backup` restored into the empty store of `target`. The restore runs
    `custody verify`'s own checks before it commits, so a rewrite that they catch is refused
    here with the same IntegrityFailure."""
    restore_log(target, io.BytesIO(backup), trusted=signer.verifier)
    return target


def _entry_record(
    index: int, stored: StoredEvent, data: bytes, leaf: bytes, receipt: bytes
) -> dict[str, Any]:
    return {
        "record": "entry",
        "log_index": index,
        "aggregate_id": str(stored.originator_id),
        "aggregate_version": stored.originator_version,
        "leaf_hash": leaf.hex(),
        "entry": base64.b64encode(data).decode(),
        "receipt": base64.b64encode(receipt).decode(),
        "topic": stored.topic,
        "state": base64.b64encode(stored.state).decode(),
    }


def _header(ledger: Ledger, signer: Signer, size: int) -> dict[str, Any]:
    return {
        "record": "header",
        "format": FORMAT,
        "origin": ledger.origin,
        "vkey": signer.verifier.vkey,
        "size": size,
        "exported_at": format_time(ledger.clock()),
    }


def _json(line: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(line)
    return value
