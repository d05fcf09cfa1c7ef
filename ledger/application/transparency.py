"""The ledger's log as its readers see it (`Ledger.tlog`): signed checkpoints and their witnesses'
cosignatures, inclusion, consistency and head proofs, entries, receipts, evidence bundles and the
check of a whole store. None of it changes an item; the one thing it writes is the map root that a
new checkpoint commits (ledger/integrity/maproots.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper

from ledger.application.aggregates import Aggregates
from ledger.application.writes import Clock
from ledger.domain.access import OPERATOR
from ledger.domain.errors import (
    Conflict,
    CustodyError,
    IntegrityFailure,
    InvalidInput,
    NotFound,
    ProofError,
)
from ledger.integrity import merkle
from ledger.integrity.checkpoints import (
    Checkpoint,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from ledger.integrity.maproots import MAP_ID, LogMap
from ledger.integrity.notes import split_note
from ledger.integrity.receipts import EntryReceipt, receipt_note, recorded_at_of
from ledger.integrity.signing import Signer, Verifier
from ledger.store.log import Appended, LogRow, LogStore
from ledger.verification.evidence import build_bundle
from ledger.verification.headproofs import MapFollower, head_proof
from ledger.verification.verify import Progress, Verified, verify_store
from ledger.witness.cosignatures import signed_only_by, with_signatures
from ledger.witness.witness_policy import WitnessPolicy, check_quorum

Cosigners = Callable[[str, Callable[[int], list[bytes]]], list[str]]
"""(signed checkpoint note, proof from an old size) -> the witnesses' cosignature lines."""
MAX_ENTRIES_PAGE = 1000
MAP_COMMIT_TRIES = 20


class TransparencyLog:
    def __init__(
        self,
        *,
        log_store: LogStore,
        mapper: Mapper[UUID],
        origin: str,
        clock: Clock,
        signer: Signer | None,
        aggregates: Aggregates,
        save: Callable[[Aggregate], object],
        cosigners: Cosigners | None = None,
        witness_keys: Sequence[str] = (),
        witness_policy: WitnessPolicy | None = None,
    ) -> None:
        self.log_store, self.mapper, self.origin, self.clock = log_store, mapper, origin, clock
        self.aggregates, self._save = aggregates, save
        self.cosigners = cosigners
        self.witness_keys = tuple(witness_keys)
        self.witness_policy = witness_policy
        self.heads = MapFollower(log_store)
        self.signer = signer

    @property
    def signer(self) -> Signer | None:
        """The log's key: it signs checkpoints and every entry's receipt. Without it the ledger
        reads but records nothing."""
        return self._log_key

    @signer.setter
    def signer(self, signer: Signer | None) -> None:
        self._log_key = signer
        self.log_store.receipt_signer = signer

    def verifier(self) -> Verifier:
        return self._signer().verifier

    # Checkpoints ---------------------------------------------------------------------------------

    def size(self) -> int:
        """How many entries the log has now."""
        return self.log_store.log_size()

    def latest_checkpoint(self) -> tuple[int, str] | None:
        """The latest stored checkpoint as (size, note with its cosignatures), without signing a
        new one; None before the first."""
        return self.log_store.latest_checkpoint()

    def checkpoint(self) -> str:
        """The latest signed checkpoint (a C2SP note), signing a new one if the log has grown.

        A new checkpoint's last entry is a map root (ledger/integrity/maproots.py) committing the
        head of every aggregate before it. Before signing, the new root is checked against the
        last checkpoint with a consistency proof, so the ledger never signs two inconsistent
        checkpoints, even over a tampered store.
        """
        # The checkpoint first: it is of a size the log had then, so another process appending
        # and signing between the two reads cannot make the log look shorter than it.
        latest = self.latest_checkpoint()
        size = self.size()
        if latest is not None and latest[0] == size:
            return latest[1]
        if latest is not None and latest[0] > size:
            raise IntegrityFailure(
                "the log is shorter than its last checkpoint",
                position=size,
                expected=f"at least {latest[0]} entries",
                got=str(size),
            )
        size = self._commit_map()
        root = merkle.root(size, self.log_store)
        if latest is not None and latest[0] > 0:
            self._check_consistent(latest[1], size, root)
        note = sign_checkpoint(Checkpoint(self.origin, size, root), self._signer())
        stored = self.log_store.store_checkpoint(size, note)
        return self._cosigned(stored, size) if stored == note else stored

    def cosign_latest(self) -> str | None:
        """The latest checkpoint, shown to the witnesses again if its cosignatures fall short of
        the witness policy's quorum (a witness was down, or refused); the cosignatures it has are
        kept and new ones merged in. None before the first checkpoint."""
        latest = self.latest_checkpoint()
        if latest is None or self.cosigners is None or self.witness_policy is None:
            return latest[1] if latest else None
        size, note = latest
        if self._has_quorum(note):
            return note
        shown = signed_only_by(note, self.verifier())
        lines = self.cosigners(shown, lambda old: self._proof_from(old, size))
        merged = with_signatures(note, lines)
        if merged != note:
            self.log_store.add_cosignatures(size, merged)
        return merged

    def _commit_map(self) -> int:
        """Append a map root over every entry before it, unless the log already ends with one;
        answer the log's size just after it (the size to sign)."""
        for _ in range(MAP_COMMIT_TRIES):
            size = self.size()
            last = self.log_store.last_entry_of(MAP_ID, size)
            if last is not None and last.log_index == size - 1:
                return size
            try:
                self._save(self._map_root(size))
            except Conflict:
                continue  # another write, or another map root, came first
            return size + 1
        raise Conflict("the log kept growing while its map root was committed; retry")

    def _map_root(self, size: int) -> LogMap:
        """The LogMap with its next commit: the map of heads over the first `size` entries."""
        root, now = self.heads.root(size), self.clock()
        try:  # the cached copy, fast-forwarded: not a replay of every map root ever committed
            log_map = copy.deepcopy(self.aggregates.current(MAP_ID, LogMap, "the map of heads"))
        except NotFound:
            return LogMap.start(size=size, root=root, now=now, actor=OPERATOR)
        log_map.commit(size=size, root=root, now=now, actor=OPERATOR)
        return log_map

    def _cosigned(self, note: str, size: int) -> str:
        """Ask the witnesses to cosign the new checkpoint and keep their cosignatures with it."""
        if self.cosigners is None:
            return note
        lines = self.cosigners(note, lambda old: self._proof_from(old, size))
        if not lines:
            return note
        cosigned = note + "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        self.log_store.add_cosignatures(size, cosigned)
        return cosigned

    def _has_quorum(self, note: str) -> bool:
        assert self.witness_policy is not None
        checkpoint = parse_checkpoint(split_note(note)[0])
        try:
            check_quorum(self.witness_policy, note, checkpoint)
        except ProofError:
            return False
        return True

    def _check_consistent(self, note: str, size: int, root: bytes) -> None:
        previous = verify_checkpoint(note, self.verifier(), self.origin)
        proof = merkle.consistency_proof(previous.size, size, self.log_store)
        merkle.verify_consistency(previous.size, size, proof, previous.root_hash, root)

    # Proofs and entries --------------------------------------------------------------------------

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._require_size(size)
        return merkle.inclusion_proof(index, size, self.log_store)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        self._require_size(second)
        return merkle.consistency_proof(first, second, self.log_store)

    def root(self, size: int) -> bytes:
        self._require_size(size)
        return merkle.root(size, self.log_store)

    def head_proof(self, aggregate_id: UUID, size: int) -> dict[str, Any]:
        """The aggregate's head as of the newest map root within tree size `size`, with proofs
        (or a proof that it has no entry by then)."""
        return head_proof(self.log_store, self.heads, aggregate_id, size)

    def log_entries(self, start: int, end: int) -> list[LogRow]:
        check_entry_range(start, end)
        return self.log_store.log_entries(start, end)

    def bundle(self, aggregate_id: UUID) -> dict[str, Any]:
        """An item's evidence bundle against the latest checkpoint (signed now if the log grew)."""
        return build_bundle(
            self.log_store,
            item_id=aggregate_id,
            checkpoint=self.checkpoint(),
            log_key=self.verifier(),
            heads=self.heads,
            witness_keys=self.witness_keys,
        )

    def _proof_from(self, old: int, size: int) -> list[bytes]:
        return merkle.consistency_proof(old, size, self.log_store) if 0 < old < size else []

    def _require_size(self, size: int) -> None:
        current = self.size()
        if not 0 <= size <= current:
            raise InvalidInput(f"tree size {size} is beyond the log's {current} entries")

    # Receipts ------------------------------------------------------------------------------------

    def receipt(self, log_index: int) -> str:
        """The receipt of the entry at `log_index`: a note signed by the log key (section 10 of
        docs/verification.md), rebuilt from the signature stored with the entry."""
        rows = self.log_store.log_entries(log_index, log_index + 1) if log_index >= 0 else []
        if not rows:
            raise NotFound(f"log entry {log_index} not found")
        return self.receipt_of(rows[0])

    def receipt_of(self, row: LogRow) -> str:
        """The receipt of a log row read from this store (`Ledger.history`, `log_entries`)."""
        if row.receipt is None:
            raise IntegrityFailure("the entry has no receipt", position=row.log_index)
        receipt = EntryReceipt(self.origin, row.log_index, row.leaf_hash, recorded_at_of(row.entry))
        return receipt_note(receipt, row.receipt, self.verifier())

    def note_of(self, appended: Appended) -> str:
        """The receipt of an entry this process appended, as the note a write answers (a batch's
        entries: `batch.receipt.newest(id)`)."""
        return receipt_note(
            EntryReceipt(self.origin, appended.log_index, appended.leaf_hash, appended.recorded_at),
            appended.receipt,
            self.verifier(),
        )

    # The whole store -----------------------------------------------------------------------------

    def verify(
        self,
        verifier: Verifier,
        progress: Progress | None = None,
        *,
        trusted: Sequence[Checkpoint] = (),
        witness_policy: WitnessPolicy | None = None,
        workers: int | None = None,
    ) -> Verified:
        """Recompute every leaf, node, chain and checkpoint, and check the store against trusted
        checkpoints and a witness policy if given (ledger/verification/verify.py); `workers`
        processes check single entries (None: one per CPU on a large log, 0: none)."""
        return verify_store(
            self.log_store,
            self.mapper,
            verifier,
            origin=self.origin,
            progress=progress,
            trusted=trusted,
            witness_policy=witness_policy,
            workers=workers,
        )

    def _signer(self) -> Signer:
        if self.signer is None:
            raise CustodyError("this ledger was opened without its signing key (CUSTODY_KEY)")
        return self.signer


def check_entry_range(start: int, end: int) -> None:
    """0 <= start <= end with at most MAX_ENTRIES_PAGE entries between, or InvalidInput."""
    if not 0 <= start <= end or end - start > MAX_ENTRIES_PAGE:
        raise InvalidInput(
            f"ask for 0 <= start <= end with at most {MAX_ENTRIES_PAGE} entries at a time"
        )
