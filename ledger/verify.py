"""`custody verify`: recompute everything the store claims, and name the first bad position.

Steps, in the order they run (docs/verification.md, "Verifying a whole store"):

1. Leaves. Stream `custody_log` in index order: indexes run 0, 1, 2, ... without a gap; each stored
   leaf hash is SHA-256(0x00 || entry); each entry is a custody-entry/v1 of this log's origin.
2. Tree. From those leaves, recompute every complete subtree hash and compare it with the stored
   `custody_tree` row; at the end the number of stored rows must be the number recomputed.
3. Checkpoints. At each checkpointed size, the recomputed root must equal the checkpoint's root and
   the checkpoint's signature must verify with the log's key. A checkpoint beyond the log's end
   means the log was truncated. Checkpoints sharing one append-only recomputation are consistent.
4. Events and chains. Stream the library's stored events and the entries, both ordered by
   (aggregate, version): each stored event must map to exactly its entry's bytes, with `prev` the
   leaf hash of the aggregate's previous entry; versions run 1, 2, 3 ...; no event lacks an entry
   and no entry lacks an event.

Memory holds one batch and the tree's right edge (O(log n) hashes), never the whole log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent

from ledger import merkle
from ledger.checkpoints import verify_checkpoint
from ledger.entries import ENTRY_FORMAT, decode_entry, encode_entry, entry_body
from ledger.errors import IntegrityFailure, InvalidInput
from ledger.log import LogRow, LogStore
from ledger.merkle import Key, Node
from ledger.signing import Verifier

BATCH = 5_000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Verified:
    entries: int
    nodes: int
    checkpoints: int
    root: bytes


def verify_store(
    store: LogStore,
    mapper: Mapper[Any],
    verifier: Verifier,
    *,
    origin: str,
    progress: Progress | None = None,
) -> Verified:
    """Return what was verified, or raise IntegrityFailure at the first bad position."""
    step = progress or (lambda _: None)
    size = store.log_size()
    checkpoints = dict(store.all_checkpoints())
    _check_not_truncated(checkpoints, size)
    frontier = _Frontier()
    for start, end in _batches(size, checkpoints):
        rows = store.log_entries(start, end)
        _check_leaves(rows, start, end, origin)  # 1.
        _check_nodes(store, start, frontier.advance(start, [r.leaf_hash for r in rows]))  # 2.
        if end in checkpoints:
            _check_checkpoint(
                checkpoints[end], end, merkle.root(end, frontier), verifier, origin
            )  # 3.
        step(len(rows))
    _check_counts(store.count_nodes(), frontier.generated, "tree rows", size)  # 2.
    _check_events(store, mapper, origin, step)  # 4.
    root = merkle.root(size, frontier) if size else merkle.EMPTY_ROOT
    return Verified(size, frontier.generated, len(checkpoints), root)


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


def _batches(size: int, checkpoints: Mapping[int, str]) -> Iterator[tuple[int, int]]:
    """[start, end) ranges of at most BATCH leaves that also end at every checkpointed size."""
    cuts = sorted(
        {s for s in checkpoints if 0 < s <= size} | set(range(BATCH, size, BATCH)) | {size}
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


def _check_leaves(rows: Sequence[LogRow], start: int, end: int, origin: str) -> None:
    for expected, row in enumerate(rows, start):
        if row.log_index != expected:
            raise IntegrityFailure(
                "the log has a gap",
                position=expected,
                expected=f"entry {expected}",
                got=f"entry {row.log_index}",
            )
        digest = merkle.leaf_hash(row.entry)
        if digest != row.leaf_hash:
            raise IntegrityFailure(
                "the entry does not hash to its leaf hash",
                position=expected,
                expected=digest.hex(),
                got=row.leaf_hash.hex(),
            )
        _check_entry_header(row, origin)
    if start + len(rows) != end:
        raise IntegrityFailure(
            "the log has a gap",
            position=start + len(rows),
            expected=f"entry {start + len(rows)}",
            got="nothing",
        )


def _check_entry_header(row: LogRow, origin: str) -> None:
    try:
        body = decode_entry(row.entry)
    except (InvalidInput, ValueError) as error:
        raise IntegrityFailure(
            f"the entry is not {ENTRY_FORMAT}: {error}", position=row.log_index
        ) from None
    found = (body.get("origin"), body.get("aggregate_id"), body.get("aggregate_version"))
    wanted = (origin, str(row.aggregate_id), row.aggregate_version)
    if found != wanted:
        raise IntegrityFailure(
            "the entry's origin, aggregate or version is not its row's",
            position=row.log_index,
            expected=repr(wanted),
            got=repr(found),
        )


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


def _check_counts(stored: int, expected: int, what: str, size: int) -> None:
    if stored != expected:
        raise IntegrityFailure(
            f"the store has the wrong number of {what}",
            position=size,
            expected=str(expected),
            got=str(stored),
        )


def _check_events(store: LogStore, mapper: Mapper[Any], origin: str, step: Progress) -> None:
    previous: LogRow | None = None
    for row, stored in _paired(store):
        prev = _expected_prev(row, previous)
        expected = _expected_entry(mapper, stored, row, origin, prev)
        if expected != row.entry:
            raise IntegrityFailure(
                "the stored event does not match its entry",
                position=row.log_index,
                expected=_differences(expected, row.entry),
                got="the stored entry",
            )
        previous = row
        step(1)


def _expected_entry(
    mapper: Mapper[Any], stored: StoredEvent, row: LogRow, origin: str, prev: bytes | None
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
            position=row.log_index,
        ) from None
    if (again.topic, again.state) != (stored.topic, stored.state):
        raise IntegrityFailure(
            "the stored event's bytes were changed",
            position=row.log_index,
            expected=f"{again.topic} {again.state[:300]!r}",
            got=f"{stored.topic} {stored.state[:300]!r}",
        )
    return expected


def _expected_prev(row: LogRow, previous: LogRow | None) -> bytes | None:
    same = previous is not None and previous.aggregate_id == row.aggregate_id
    wanted = previous.aggregate_version + 1 if same and previous else 1
    if row.aggregate_version != wanted:
        raise IntegrityFailure(
            f"aggregate {row.aggregate_id} skips a version",
            position=row.log_index,
            expected=f"version {wanted}",
            got=f"version {row.aggregate_version}",
        )
    return previous.leaf_hash if same and previous else None


def _paired(store: LogStore) -> Iterator[tuple[LogRow, StoredEvent]]:
    """Entries and stored events, both in (aggregate, version) order, one for one."""
    events = store.stored_events_in_order(BATCH)
    for row in _entries_in_order(store):
        stored = next(events, None)
        key = (str(row.aggregate_id), row.aggregate_version)
        got = (str(stored.originator_id), stored.originator_version) if stored else None
        if stored is None or got != key:
            raise IntegrityFailure(
                "an entry and the stored events disagree",
                position=row.log_index,
                expected=f"event {key}",
                got=f"{got}",
            )
        yield row, stored
    extra = next(events, None)
    if extra is not None:
        raise IntegrityFailure(
            "a stored event has no entry",
            position=store.log_size(),
            expected="no more events",
            got=f"event {extra.originator_id} v{extra.originator_version}",
        )


def _entries_in_order(store: LogStore) -> Iterator[LogRow]:
    after = ("", 0)
    while rows := store.log_entries_by_aggregate(after, BATCH):
        yield from rows
        after = (str(rows[-1].aggregate_id), rows[-1].aggregate_version)


def _differences(expected: bytes, got: bytes) -> str:
    try:
        want, have = decode_entry(expected), decode_entry(got)
    except (InvalidInput, ValueError):
        return "a well-formed entry"
    fields = sorted(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))
    return "an entry equal to the stored event; these fields differ: " + ", ".join(fields)
