"""Evidence bundles: everything a third party needs to check an item's custody record offline, with
only the published keys (docs/verification.md, section 7).

A bundle (JSON, `custody-evidence/v1`) holds one signed checkpoint (with any witness
cosignatures), the item's entries and the registry entries they rest on (its agreement; the parties
named, with their keys), each with an RFC 9162 inclusion proof to that checkpoint, and the earlier
checkpoints that bracket the item's entries, each with a consistency proof to it: their witness
cosignatures bound when each entry was on record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder

from ledger.domain.errors import InvalidInput
from ledger.domain.ids import agreement_uuid, party_uuid
from ledger.integrity import merkle
from ledger.integrity.checkpoints import parse_checkpoint
from ledger.integrity.entries import decode_entry
from ledger.integrity.notes import open_note
from ledger.integrity.signing import Verifier, encode_base64
from ledger.store.log import LogRow, LogStore
from ledger.verification.headproofs import MapFollower, head_proof, proved_entry

EVIDENCE_FORMAT = "custody-evidence/v2"
PARTY_FIELDS = (
    "held_by",
    "actor",
    "recipient",
    "supplier",
    "from_holder",
    "to",
    "by",
    "observer",
    "inspector",
)


def build_bundle(
    store: LogStore,
    *,
    item_id: UUID,
    checkpoint: str,
    log_key: Verifier,
    heads: MapFollower,
    witness_keys: Sequence[str] = (),
) -> dict[str, Any]:
    """The bundle of `item_id` against the signed `checkpoint` (which must cover its entries and
    end with a map root, as every checkpoint the ledger signs does)."""
    size = parse_checkpoint(open_note(checkpoint, [log_key]).text).size
    entries = [r for r in store.log_entries_of(item_id) if r.log_index < size]
    agreement = agreement_uuid(str(decode_entry(entries[0].entry)["payload"]["agreement"]))
    context = [
        r
        for a in (agreement, *_parties_named(entries), *_investigations_of(store, item_id))
        for r in store.log_entries_of(a)
        if r.log_index < size
    ]
    complete = (item_id, agreement, *_signers(entries))
    proofs = [head_proof(store, heads, a, size) for a in complete]
    return {
        "format": EVIDENCE_FORMAT,
        "item_id": str(item_id),
        "log_key": log_key.vkey,
        "witness_keys": list(witness_keys),
        "checkpoint": checkpoint,
        "entries": [proved_entry(store, r, size) for r in entries],
        "context": [proved_entry(store, r, size) for r in context],
        "map_root": proofs[0]["map_root"],
        "heads": [{"aggregate_id": p["aggregate_id"], "proof": p["proof"]} for p in proofs],
        "earlier_checkpoints": _bracketing(store, [r.log_index for r in entries], size),
    }


def dump_bundle(bundle: Mapping[str, Any]) -> bytes:
    return b"".join(stream_bundle(bundle))


def stream_bundle(bundle: Mapping[str, Any], chunk: int = 64 * 1024) -> Iterator[bytes]:
    """The bytes of `dump_bundle`, encoded as they are sent: about `chunk` bytes at a time, never
    the whole document (17.7 MB for an item with 3,000 entries) as one string."""
    encoder = json.JSONEncoder(indent=1, sort_keys=True)
    parts: list[str] = []
    size = 0
    for part in encoder.iterencode(bundle):
        parts.append(part)
        size += len(part)
        if size >= chunk:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    yield ("".join(parts) + "\n").encode("utf-8")


def _parties_named(entries: Iterable[LogRow]) -> list[UUID]:
    """The parties the entries name (free text, such as an armed group, names none)."""
    named: set[str] = set()
    for row in entries:
        body = decode_entry(row.entry)
        named |= {str(v) for k, v in body["payload"].items() if k in PARTY_FIELDS and v}
        named.add(str(body["actor"]))
    ids = []
    for name in sorted(named):
        try:
            ids.append(party_uuid(name))
        except InvalidInput:
            continue
    return ids


INVESTIGATION_TOPICS = ("custody:Trace.Requested", "custody:Sighting.Matched")


def _investigations_of(store: LogStore, item_id: UUID) -> list[UUID]:
    """The traces about the item and the sightings matched to it (ledger/domain/traces.py,
    ledger/domain/sightings.py): their entries go in the context, proved like the rest."""
    if not isinstance(store, ApplicationRecorder):
        return []
    found = []
    for n in store.select_notifications(start=None, limit=1_000_000, topics=INVESTIGATION_TOPICS):
        about = json.loads(n.state).get("item_id")
        if about == str(item_id):
            found.append(UUID(str(n.originator_id)))
    return found


def _signers(entries: Iterable[LogRow]) -> list[UUID]:
    """The parties whose keys signed an entry: their key histories must be complete."""
    signers = set()
    for row in entries:
        body = decode_entry(row.entry)
        if body.get("signature"):
            signers.add(str(body["actor"]))
    return [party_uuid(name) for name in sorted(signers)]


def _bracketing(store: LogStore, indexes: Sequence[int], size: int) -> list[dict[str, Any]]:
    """For each entry, the last checkpoint before it and the first after it (short of `size`)."""
    sizes = [s for s, _ in store.all_checkpoints() if 0 < s < size]
    chosen: set[int] = set()
    for index in indexes:
        before = [s for s in sizes if s <= index]
        after = [s for s in sizes if s > index]
        chosen |= {before[-1]} if before else set()
        chosen |= {after[0]} if after else set()
    notes = dict(store.all_checkpoints())
    return [
        {
            "checkpoint": notes[s],
            "consistency_proof": [
                encode_base64(h) for h in merkle.consistency_proof(s, size, store)
            ],
        }
        for s in sorted(chosen)
    ]
