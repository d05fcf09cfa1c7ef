"""`custody verify`: recompute everything the store claims, and name the first bad position.

One pass over the log in index order, a batch at a time (docs/verification.md, "Verifying a whole
store"). For each entry, in this order:

1. Leaf. Indexes run 0, 1, 2, ... without a gap; the stored leaf hash is SHA-256(0x00 || entry).
4. Event and chain. The library's stored events, read in notification order, are the entries'
   events one for one: the recorders append each event's entry in the transaction that inserts
   it, in the same order (ledger/store/log.py), so the n-th stored event must have the n-th entry's
   aggregate and version. Version 1 has no `prev`; any other version's `prev` is the leaf hash of
   the aggregate's previous version, read with the row, and that version must be in the log. The
   entry must be exactly the bytes its event maps to, and the event's stored bytes exactly what
   it encodes to again (`_Entries`). That byte equality also proves that the entry is a
   custody-entry/v1 of this origin for its row's aggregate and version, so entries are decoded
   only to say what is wrong with one that differs.
5. Receipt. The stored receipt is the log key's Ed25519 signature of the entry's receipt text
   (ledger/integrity/receipts.py): this origin, this index, this leaf hash, the entry's
   recorded_at. An
   entry appended or rewritten by anyone without the log key, with everything else recomputed,
   fails here. One signature verification per entry.

Then, for the batch:

2. Tree. From the leaves, every complete subtree hash is recomputed and compared with the stored
   `custody_tree` row; at the end the number of stored rows must be the number recomputed.
3. Checkpoints. At each checkpointed size, the recomputed root must equal the checkpoint's root and
   the checkpoint's signature must verify with the log's key. A checkpoint beyond the log's end
   means the log was truncated. Checkpoints sharing one append-only recomputation are consistent.

6. Map roots. The map of heads (ledger/integrity/heads.py) is recomputed from the entries as they
pass: each
   map-root entry must cover exactly the entries before it and commit the root of their map, and
   from the first map root on, every checkpoint's last entry must be a map root.

At the end (4.): no stored event is left over without an entry, and no (aggregate, version) is in
the log twice (with the events one for one, versions then run 1, 2, 3, ... per aggregate).

Against what someone else kept (ledger/verification/trusted.py), when given:

7. Trusted checkpoints: before the pass, the store must be at least as long as each (else it was
   rolled back); in the pass, the recomputed root at each one's size must be its root (else the
   history was rewritten). Both roots, or both sizes, are named.
8. Witness policy: at the end, the newest stored checkpoint must carry the policy's quorum of
   valid cosignatures; the witnesses with none are named.

Steps 1 (the leaf hash), 4 (the entry against its stored event) and 5 need no other entry, so on
a large log they run in worker processes, a batch each (ledger/verification/pool.py); their
answers are taken in log order and each batch's answer before its steps 2, 3 and 6, so a failure
is named exactly as one process names it. The rest runs in the calling process.

Memory holds a few batches of entries and events, the tree's right edge (O(log n) hashes) and every
aggregate's head (for step 6), never the whole log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, NoReturn
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from ledger.domain.errors import IntegrityFailure, InvalidInput
from ledger.domain.events import Reported
from ledger.domain.times import format_time
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint, verify_checkpoint
from ledger.integrity.entries import (
    ENTRY_FORMAT,
    ENVELOPE,
    decode_entry,
    encode_entry,
    entry_body,
    json_value,
)
from ledger.integrity.heads import Head, HeadMap
from ledger.integrity.maproots import MAP_ID, committed
from ledger.integrity.merkle import Key, Node
from ledger.integrity.receipts import ReceiptChecker
from ledger.integrity.signing import Verifier
from ledger.store.log import LogStore, StoredRow, VerifyRow
from ledger.verification.pool import in_order
from ledger.verification.trusted import check_witnessed
from ledger.witness.witness_policy import WitnessCosignature, WitnessPolicy

BATCH = 5_000
PARALLEL_BATCH = 1_000
"""Entries a worker checks at a time: with two batches per worker out at once, the calling process
holds a few thousand entries whatever the log's size."""
PARALLEL_FROM = 4 * BATCH
"""The log size from which the checks of single entries run in worker processes by default."""
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Verified:
    entries: int
    nodes: int
    checkpoints: int
    root: bytes
    trusted: int = 0
    """How many trusted checkpoints the store was found consistent with."""
    cosigned_by: tuple[str, ...] = ()
    """The witnesses of the policy whose cosignatures of the newest checkpoint made the quorum."""


def verify_store(
    store: LogStore,
    mapper: Mapper[Any],
    verifier: Verifier,
    *,
    origin: str,
    progress: Progress | None = None,
    trusted: Sequence[Checkpoint] = (),
    witness_policy: WitnessPolicy | None = None,
    workers: int | None = None,
    batch: int | None = None,
) -> Verified:
    """Return what was verified, or raise IntegrityFailure at the first bad position. `progress`
    is told of two steps per entry (the CLI's bar counts the leaf and the event apart). `trusted`
    checkpoints (signatures checked by the caller, ledger/verification/trusted.py) and a
    `witness_policy` add steps 7 and 8. `workers` processes check single entries (0: none, all in
    this process; None: one per CPU from PARALLEL_FROM entries on), `batch` entries at a time
    (default BATCH in one process, PARALLEL_BATCH with workers)."""
    with store.snapshot() as pinned:  # the store as it was when verification began
        plan = _Plan(progress or (lambda _: None), workers, batch)
        verified = _verify(pinned, mapper, verifier, origin, plan, trusted)
        if witness_policy is None:
            return verified
        cosigned = _check_witnessed(pinned, witness_policy)  # 8.
        return replace(verified, cosigned_by=tuple(c.witness for c in cosigned))


@dataclass(frozen=True)
class _Plan:
    step: Progress
    workers: int | None
    batch: int | None

    def processes(self, size: int) -> int:
        if self.workers is not None:
            return self.workers
        return (os.cpu_count() or 1) if size >= PARALLEL_FROM else 0

    def batch_size(self, size: int) -> int:
        return self.batch or (PARALLEL_BATCH if self.processes(size) else BATCH)


def _verify(
    store: LogStore,
    mapper: Mapper[Any],
    verifier: Verifier,
    origin: str,
    plan: _Plan,
    trusted: Sequence[Checkpoint],
) -> Verified:
    size = store.log_size()
    checkpoints = dict(store.all_checkpoints())
    _check_not_truncated(checkpoints, size)
    _check_not_rolled_back(store, trusted, size)  # 7.
    anchors: dict[int, list[Checkpoint]] = {}
    for checkpoint in trusted:
        anchors.setdefault(checkpoint.size, []).append(checkpoint)
    frontier = _Frontier()
    workers, batch = plan.processes(size), plan.batch_size(size)
    events = store.stored_events_in_log_order(batch)
    single = _SingleEntries(_Entries(mapper, origin), ReceiptChecker(verifier, origin))
    map_roots = _MapRoots()
    jobs = (
        _job(start, end, store.verify_rows(start, end), events)
        for start, end in _batches(size, {*checkpoints, *anchors}, batch)
    )
    with closing(in_order(single, jobs, workers=workers, ahead=2 * workers)) as checked:
        for (start, end, rows, _), failure in checked:  # the workers stop when this ends
            if failure is not None:
                raise failure.error()  # 1, 4, 5
            _check_nodes(store, start, frontier.advance(start, [row[3] for row in rows]))  # 2.
            map_roots.check(rows)  # 6.
            if end in checkpoints:
                _check_checkpoint(
                    checkpoints[end], end, merkle.root(end, frontier), verifier, origin
                )  # 3.
                map_roots.check_checkpoint(end)  # 6.
            for kept in anchors.get(end, []):
                _check_trusted(kept, merkle.root(end, frontier))  # 7.
            plan.step(2 * len(rows))
    _check_counts(store.count_nodes(), frontier.generated, "tree rows", size)  # 2.
    _check_no_event_left(events, size)  # 4.
    _check_versions_once(store, size)  # 4.
    root = merkle.root(size, frontier) if size else merkle.EMPTY_ROOT
    for kept in anchors.get(0, []):
        _check_trusted(kept, merkle.EMPTY_ROOT)  # 7.
    return Verified(size, frontier.generated, len(checkpoints), root, len(trusted))


class _Frontier:
    """The right edge of the tree being recomputed: a merkle.NodeReader of O(log n) nodes."""

    def __init__(self) -> None:
        self.nodes: dict[Key, bytes] = {}
        self.generated = 0

    def read_nodes(self, keys: Sequence[Key]) -> Mapping[Key, bytes]:
        return {key: self.nodes[key] for key in keys if key in self.nodes}

    def advance(self, size: int, leaves: Sequence[bytes]) -> list[Node]:
        nodes = merkle.nodes_to_append(size, leaves, self)
        self.nodes.update(((level, index), digest) for level, index, digest in nodes)
        keep = set(merkle.frontier_keys(size + len(leaves)))
        self.nodes = {key: digest for key, digest in self.nodes.items() if key in keep}
        self.generated += len(nodes)
        return nodes


def _batches(size: int, checkpointed: Iterable[int], batch: int) -> Iterator[tuple[int, int]]:
    """[start, end) ranges of at most `batch` leaves that also end at every checkpointed size."""
    cuts = sorted(
        {s for s in checkpointed if 0 < s <= size} | set(range(batch, size, batch)) | {size}
    )
    start = 0
    for end in cuts:
        if end > start:
            yield start, end
            start = end


def _check_not_truncated(checkpoints: Mapping[int, str], size: int) -> None:
    beyond = [s for s in checkpoints if s > size]
    if beyond:
        raise IntegrityFailure(
            "the log is shorter than a signed checkpoint: entries were removed",
            position=size,
            expected=f"at least {max(beyond)} entries",
            got=f"{size}",
        )


def _check_not_rolled_back(store: LogStore, trusted: Sequence[Checkpoint], size: int) -> None:
    longer = [t for t in trusted if t.size > size]
    if longer:
        kept = max(longer, key=lambda t: t.size)
        root = merkle.root(size, store) if size else merkle.EMPTY_ROOT
        raise IntegrityFailure(
            "the store is shorter than a trusted checkpoint: it was rolled back or truncated",
            position=size,
            expected=f"at least {kept.size} entries (trusted root {kept.root_hash.hex()})",
            got=f"{size} entries (root {root.hex()})",
        )


def _check_trusted(trusted: Checkpoint, root: bytes) -> None:
    if root != trusted.root_hash:
        raise IntegrityFailure(
            f"the store's history up to size {trusted.size} is not the one a trusted checkpoint"
            " covers: it was rewritten",
            position=trusted.size,
            expected=f"root {trusted.root_hash.hex()} (trusted)",
            got=f"root {root.hex()} (recomputed from the store)",
        )


def _check_witnessed(store: LogStore, policy: WitnessPolicy) -> list[WitnessCosignature]:
    latest = store.latest_checkpoint()
    if latest is None:
        raise IntegrityFailure("the store has no checkpoint for the witness policy to check")
    return check_witnessed(latest[1], latest[0], policy)


# 1., 4. and 5., entry by entry ------------------------------------------------------------------

_Job = tuple[int, int, list[VerifyRow], list[StoredRow]]
"""[start, end), the log rows read for it and as many stored events, in order."""


def _job(start: int, end: int, rows: list[VerifyRow], events: Iterator[StoredRow]) -> _Job:
    return start, end, rows, list(islice(events, len(rows)))


@dataclass(frozen=True)
class _Failure:
    """An IntegrityFailure as data, to come back from a worker process whole."""

    kind: type[IntegrityFailure]
    reason: str
    position: int | None
    expected: str
    got: str

    def error(self) -> IntegrityFailure:
        return self.kind(self.reason, position=self.position, expected=self.expected, got=self.got)


@dataclass(frozen=True)
class _SingleEntries:
    """Steps 1, 4 and 5 for one batch: the first failure among its entries, or None."""

    entries: _Entries
    receipts: ReceiptChecker

    def __call__(self, job: _Job) -> _Failure | None:
        start, end, rows, events = job
        try:
            _check_rows(rows, events, start, end, self.entries, self.receipts)
        except IntegrityFailure as error:
            return _Failure(type(error), error.reason, error.position, error.expected, error.got)
        return None


def _check_rows(
    rows: Sequence[VerifyRow],
    events: Sequence[StoredRow],
    start: int,
    end: int,
    entries: _Entries,
    receipts: ReceiptChecker,
) -> None:
    for offset, row in enumerate(rows):
        _check_leaf(row, start + offset)  # 1.
        entries.check(row, events[offset] if offset < len(events) else None)  # 4.
        receipts.check(row[0], row[3], row[4], row[6])  # 5.
    if start + len(rows) != end:
        raise IntegrityFailure(
            "the log has a gap",
            position=start + len(rows),
            expected=f"entry {start + len(rows)}",
            got="nothing",
        )


def _check_leaf(row: VerifyRow, expected: int) -> None:
    """The entry's header (format, origin, aggregate, version) is not decoded here: `_Entries`
    finds the entry byte for byte equal to the one derived with exactly the row's aggregate and
    version and this origin, or else decodes it to name what differs (`_check_entry_header`)."""
    index, _, _, leaf, entry, _, _ = row
    if index != expected:
        raise IntegrityFailure(
            "the log has a gap",
            position=expected,
            expected=f"entry {expected}",
            got=f"entry {index}",
        )
    digest = merkle.leaf_hash(entry)
    if digest != leaf:
        raise IntegrityFailure(
            "the entry does not hash to its leaf hash",
            position=expected,
            expected=digest.hex(),
            got=leaf.hex(),
        )


class _Entries:
    """4. for one entry: its stored event is the one of its aggregate and version, its `prev` is
    its aggregate's previous leaf hash, the entry is exactly what the event maps to, and the
    event's stored bytes are exactly what the event encodes to again.

    `_reference` is the definition: the library's mapper decodes the stored event and encodes it
    again, and entries.entry_body and encode_entry make its entry. `_Plain` reaches the same
    verdict for the events the ledger writes in a fraction of the time; whatever it cannot show
    equal goes to the reference, which decides and names the failure.
    """

    def __init__(self, mapper: Mapper[Any], origin: str) -> None:
        self.mapper, self.origin = mapper, origin
        self.plain: _Plain | None = None
        transcoder = mapper.transcoder
        if type(transcoder) is JSONTranscoder and not (mapper.compressor or mapper.cipher):
            self.plain = _Plain(transcoder, origin)  # the only mapper `_Plain` stands in for

    def check(self, row: VerifyRow, event: StoredRow | None) -> None:
        _, aggregate_id, version, _, entry, prev, _ = row
        key = _event_key(event)
        if event is None or key != (aggregate_id, version):
            wanted = f"event {(aggregate_id, version)}"
            self._fail(row, "an entry and the stored events disagree", wanted, f"{key}")
        if version < 1 or (version > 1 and prev is None):
            wanted = f"version {version - 1} before it" if version > 1 else "version 1"
            self._fail(
                row, f"aggregate {aggregate_id} skips a version", wanted, f"version {version}"
            )
        plain = (
            self.plain.entry(aggregate_id, version, event[2], event[3], prev)
            if self.plain
            else None
        )
        if plain != entry:
            self._reference(row, event)

    def _fail(self, row: VerifyRow, message: str, expected: str, got: str) -> NoReturn:
        """Name a failure at this row, unless its entry's header is not its row's: that first,
        as step 1 used to."""
        _check_entry_header(row, self.origin)
        raise IntegrityFailure(message, position=row[0], expected=expected, got=got)

    def _reference(self, row: VerifyRow, event: StoredRow) -> None:
        _check_entry_header(row, self.origin)
        index, aggregate_id, version, _, entry, prev, _ = row
        stored = StoredEvent(UUID(aggregate_id), version, event[2], bytes(event[3]))
        expected = _expected_entry(self.mapper, stored, index, self.origin, prev)
        if expected != entry:
            raise IntegrityFailure(
                "the stored event does not match its entry",
                position=index,
                expected=_differences(expected, entry),
                got="the stored entry",
            )


class _Plain:
    """The entry the reference derives from a stored event, if the stored bytes are also exactly
    what the reference encodes the event to again; None when that is not shown.

    The reference decodes and encodes JSON through the library's Python hooks and runs
    json_value on every value. Here the state is decoded as plain JSON, which gives what the
    library's decoder gives unless a value is transcoded (an object {"_type_", "_data_"}): so
    those may be top-level fields only (`timestamp`, `occurred_at` and payload fields), each
    written exactly as the transcoder writes its value, and every '"_type_"' in the text must be
    one of them. Encoding that plain JSON again must give the stored bytes. json_value still
    checks every payload value that is not text, true, false or null (so it refuses floats as
    the reference does), and every set of field names once. Topics must be ledger event classes
    the library stores under that very topic, not upcast.
    tests/verification/test_verify_plain.py holds this to the reference's verdicts.
    """

    def __init__(self, transcoder: JSONTranscoder, origin: str) -> None:
        self.transcoder, self.origin = transcoder, origin
        self.kinds: dict[str, str | None] = {}
        self.field_names: set[tuple[str, ...]] = set()
        self.times: dict[tuple[str, str], str] = {}

    def entry(
        self, aggregate_id: str, version: int, topic: str, state: bytes, prev: bytes | None
    ) -> bytes | None:
        kind = self._kind(topic)
        if kind is None:
            return None
        try:
            text = bytes(state).decode("utf-8")
            fields = _PLAIN_JSON.decode(text)
            if self.transcoder.encoder.encode(fields) != text or fields.keys() & _REWRITTEN:
                return None
            body = {  # entries.entry_body's fields, from the same values
                "format": ENTRY_FORMAT,
                "origin": self.origin,
                "aggregate_id": aggregate_id,
                "aggregate_version": version,
                "type": kind,
                "payload": self._payload(fields, text.count('"_type_"')),
                "occurred_at": self._time(fields["occurred_at"]),
                "recorded_at": self._time(fields["timestamp"]),
                "actor": fields["actor"],
                "signature": fields["signature"],
            }
            return encode_entry(body, prev=prev)
        except Exception:  # whatever is unusual, the reference decides and names
            return None

    def _kind(self, topic: str) -> str | None:
        """The entry `type` of events stored under `topic`, or None if they are not plain."""
        if topic not in self.kinds:
            try:
                cls = resolve_topic(topic)
                plain = (
                    isinstance(cls, type)
                    and issubclass(cls, Reported)
                    and get_topic(cls) == topic
                    and getattr(cls, "class_version", 1) == 1
                )
                self.kinds[topic] = str(cls.TOPIC) if plain else None
            except Exception:
                self.kinds[topic] = None
        return self.kinds[topic]

    def _payload(self, fields: dict[str, Any], transcoded: int) -> dict[str, Any]:
        """json_value of the payload; `transcoded` counts the '"_type_"' in the stored text."""
        payload = {name: value for name, value in fields.items() if name not in ENVELOPE}
        for name in [name for name, value in payload.items() if type(value) not in _SCALARS]:
            value = payload[name]
            if type(value) is dict and "_type_" in value:
                value, transcoded = _transcoded(value, self.transcoder), transcoded - 1
            payload[name] = json_value(value)
        if transcoded != 2:  # the two left are `timestamp` and `occurred_at`, read by _time
            raise _NotPlain
        names = tuple(payload)
        if names not in self.field_names:
            json_value(dict.fromkeys(names))  # its rule for field names
            if len(self.field_names) < _CACHED:
                self.field_names.add(names)
        return payload

    def _time(self, value: Any) -> str:
        """format_time of a transcoded time: cached by its stored text, which the events saved
        together share."""
        if type(value) is not dict or tuple(value) != _TRANSCODED:
            raise _NotPlain
        key = (value["_type_"], value["_data_"])
        text = self.times.get(key)
        if text is None:
            text = format_time(_transcoded(value, self.transcoder))
            if len(self.times) >= _CACHED:
                self.times.clear()
            self.times[key] = text
        return text


class _NotPlain(Exception):
    """Something `_Plain` leaves to the reference."""


_PLAIN_JSON = json.JSONDecoder()
_REWRITTEN = frozenset({"originator_id", "originator_version", "class_version"})
"""State fields the library's decoder replaces or drops, so that encoding again changes bytes."""
_SCALARS = frozenset({str, bool, type(None)})
"""Plain JSON values json_value gives back unchanged, whatever they are."""
_TRANSCODED = ("_type_", "_data_")
"""A transcoded value's keys, in the order the library's transcoder writes them."""
_CACHED = 1024


def _transcoded(value: dict[str, Any], transcoder: JSONTranscoder) -> Any:
    """A transcoded value, if the transcoder writes it back exactly as it is stored."""
    if tuple(value) != _TRANSCODED:
        raise _NotPlain
    transcoding, data = transcoder.names[value["_type_"]], value["_data_"]
    decoded = transcoding.decode(data)
    if (
        transcoder.types.get(type(decoded)) is not transcoding
        or transcoding.encode(decoded) != data
    ):
        raise _NotPlain
    return decoded


def _event_key(event: StoredRow | None) -> tuple[str, int] | None:
    """(canonical aggregate id, version) of a stored event; None if there is none to name."""
    if event is None:
        return None
    try:
        stored_id = event[0] if isinstance(event[0], UUID) else UUID(event[0])
    except (TypeError, ValueError):
        return None
    return str(stored_id), event[1]


def _check_entry_header(row: VerifyRow, origin: str) -> None:
    index, aggregate_id, version, _, entry, _, _ = row
    try:
        body = decode_entry(entry)
    except (InvalidInput, ValueError) as error:
        raise IntegrityFailure(
            f"the entry is not {ENTRY_FORMAT}: {error}", position=index
        ) from None
    found = (body.get("origin"), body.get("aggregate_id"), body.get("aggregate_version"))
    wanted = (origin, aggregate_id, version)
    if found != wanted:
        raise IntegrityFailure(
            "the entry's origin, aggregate or version is not its row's",
            position=index,
            expected=repr(wanted),
            got=repr(found),
        )


def _expected_entry(
    mapper: Mapper[Any], stored: StoredEvent, index: int, origin: str, prev: bytes | None
) -> bytes:
    """The entry a stored event must have. The stored bytes must also be exactly what the decoded
    event encodes to: decoding alone is lossy (a time written another way), and one changed byte
    must show. Bytes too damaged to decode or encode again are a failure at this entry too."""
    try:
        event = mapper.to_domain_event(stored)
        again = mapper.to_stored_event(event)
        expected = encode_entry(entry_body(event, origin=origin), prev=prev)  # type: ignore[arg-type]
    except Exception as error:
        raise IntegrityFailure(
            f"the stored event cannot be read ({type(error).__name__}: {error})",
            position=index,
        ) from None
    if (again.topic, again.state) != (stored.topic, stored.state):
        raise IntegrityFailure(
            "the stored event's bytes were changed",
            position=index,
            expected=f"{again.topic} {again.state[:300]!r}",
            got=f"{stored.topic} {stored.state[:300]!r}",
        )
    return expected


def _differences(expected: bytes, got: bytes) -> str:
    try:
        want, have = decode_entry(expected), decode_entry(got)
    except (InvalidInput, ValueError):
        return "a well-formed entry"
    fields = sorted(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))
    return "an entry equal to the stored event; these fields differ: " + ", ".join(fields)


# 2. and 3., batch by batch ---------------------------------------------------------------------


def _check_nodes(store: LogStore, start: int, computed: Sequence[Node]) -> None:
    if not computed:
        return
    end = start + sum(1 for level, _, _ in computed if level == 0)
    stored = {(lv, ix): h for lv, ix, h in store.nodes_completed(_completed_ranges(start, end))}
    for level, index, digest in computed:
        found = stored.get((level, index))
        if found != digest:
            raise IntegrityFailure(
                f"tree node (level {level}, index {index}) is wrong",
                position=index << level,
                expected=digest.hex(),
                got=found.hex() if found else "no row",
            )


def _completed_ranges(start: int, end: int) -> list[tuple[int, int, int]]:
    """(level, first idx, end idx) of the nodes that leaves [start, end) complete."""
    ranges = []
    for level in range(end.bit_length() + 1):
        low, high = ((start + (1 << level)) >> level) - 1, end >> level
        if low < high:
            ranges.append((level, low, high))
    return ranges


def _check_checkpoint(note: str, size: int, root: bytes, verifier: Verifier, origin: str) -> None:
    try:
        checkpoint = verify_checkpoint(note, verifier, origin)
    except IntegrityFailure as error:
        raise IntegrityFailure(
            f"the checkpoint at size {size} does not verify",
            position=size,
            expected=error.expected or "a signature by the log's key",
            got=error.got or error.message,
        ) from None
    except InvalidInput as error:
        raise IntegrityFailure(
            f"the checkpoint at size {size} is malformed",
            position=size,
            expected="a C2SP checkpoint note",
            got=error.message,
        ) from None
    if checkpoint.size != size or checkpoint.root_hash != root:
        raise IntegrityFailure(
            f"the checkpoint at size {size} is not this log's",
            position=size,
            expected=f"size {size} root {root.hex()}",
            got=f"size {checkpoint.size} root {checkpoint.root_hash.hex()}",
        )


class _MapRoots:
    """6. The map of heads, recomputed entry by entry, against every map root the log commits."""

    def __init__(self) -> None:
        self.heads = HeadMap()
        self.last_root: int | None = None

    def check(self, rows: Sequence[VerifyRow]) -> None:
        for index, aggregate_id, version, leaf, entry, *_ in rows:
            if aggregate_id == _MAP_ID:
                self._check_root(index, entry)
            self.heads.update([Head(UUID(aggregate_id), version, index, leaf)])

    def check_checkpoint(self, size: int) -> None:
        if self.last_root is not None and self.last_root != size - 1:
            raise IntegrityFailure(
                f"the checkpoint at size {size} does not end with a map root",
                position=size - 1,
                expected=f"a map root at entry {size - 1}",
                got=f"the last map root at entry {self.last_root}",
            )

    def _check_root(self, index: int, entry: bytes) -> None:
        commit = committed(decode_entry(entry))
        if commit is None or commit[0] != index:
            raise IntegrityFailure(
                "a map root does not cover exactly the entries before it",
                position=index,
                expected=f"a map root of size {index}",
                got=f"size {commit[0]}" if commit else "another kind of entry",
            )
        computed = self.heads.root()
        if commit[1] != computed:
            raise IntegrityFailure(
                f"the map root at entry {index} is not the map of heads of the entries before it",
                position=index,
                expected=computed.hex(),
                got=commit[1].hex(),
            )
        self.last_root = index


_MAP_ID = str(MAP_ID)


# At the end ------------------------------------------------------------------------------------


def _check_counts(stored: int, expected: int, what: str, size: int) -> None:
    if stored != expected:
        raise IntegrityFailure(
            f"the store has the wrong number of {what}",
            position=size,
            expected=str(expected),
            got=str(stored),
        )


def _check_no_event_left(events: Iterator[StoredRow], size: int) -> None:
    extra = next(events, None)
    if extra is not None:
        raise IntegrityFailure(
            "a stored event has no entry",
            position=size,
            expected="no more events",
            got=f"event {extra[0]} v{extra[1]}",
        )


def _check_versions_once(store: LogStore, size: int) -> None:
    rows, keys = store.count_log_keys()
    _check_counts(keys, rows, "distinct (aggregate, version) pairs in the log", size)
