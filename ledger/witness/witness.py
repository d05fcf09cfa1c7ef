"""A transparency log witness (c2sp.org/tlog-witness), pure: no HTTP, no clock, no storage.

Spec: c2sp.org/tlog-witness (C2SP/C2SP, tlog-witness.md), section "add-checkpoint". The request
body is an old size line `old <size>` (ASCII decimal, no leading zeros), zero to 63 consistency
proof lines (one base64 hash each), an empty line, then the signed checkpoint note; every line
ends in U+000A. `Witness.add_checkpoint` answers with the status the spec prescribes, never an
exception for bad input, checking in the spec's order:

 1. A malformed body: 400 (a body over MAX_BODY_BYTES: 413, our limit; the spec is silent).
 2. The checkpoint origin is not a configured log: 404.
 3. No signature by a trusted key of that log verifies (or one by a trusted key fails): 403.
 4. The old size is larger than the checkpoint size: 400.
 5. The old size is not the size of the latest checkpoint cosigned for the origin (0 if none):
    409, body `<latest size>\\n`, Content-Type `text/x.tlog.size`.
 6. The consistency proof (RFC 6962 2.1.2, RFC 9162 2.1.4; ledger.merkle) from the latest
    cosigned checkpoint does not verify, or is not empty although the old size is 0: 422.
 7. Same size as the latest cosigned checkpoint but another root hash: 409 (text/plain; the
    spec gives the size body to the old size mismatch only).
 8. Otherwise the checkpoint is stored, atomically against the old size (compare and swap; a
    lost race answers 409 as in 5, so the witness never rolls back), then cosigned: 200, the
    cosignature line (c2sp.org/tlog-cosignature). The spec names no success content type;
    text/plain; charset=utf-8 is what litewitness (filippo.io/torchwood) sends.

A refused checkpoint whose log signature verified but which contradicts what the witness cosigned
(6 and 7, and a size-0 checkpoint whose root is not SHA-256 of nothing) is kept as evidence of log
misbehaviour with both notes and the proof, as the spec allows ("MAY log the request").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from threading import Lock
from typing import NoReturn, Protocol

from ledger.domain.errors import InvalidInput, ProofError
from ledger.domain.times import aware_utc
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint, parse_checkpoint
from ledger.integrity.notes import open_note, split_note
from ledger.integrity.signing import Verifier, decode_base64, encode_base64
from ledger.witness.cosignatures import CosignerKey, CosignerVerifier, cosign

MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 1 << 20
MAX_SIZE = 2**64 - 1
TEXT_PLAIN = "text/plain; charset=utf-8"
TLOG_SIZE = "text/x.tlog.size"
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]*)")


@dataclass(frozen=True)
class AddCheckpointRequest:
    """An add-checkpoint request; the note is well formed but its signatures are unchecked."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    @cached_property
    def unverified_checkpoint(self) -> Checkpoint:
        return parse_checkpoint(split_note(self.note)[0])


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """The request in `body`, or InvalidInput naming what is malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"request body is not valid UTF-8 at byte {error.start}") from None
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise InvalidInput("request body has no empty line before the checkpoint")
    old, *proof = head.split("\n")
    request = AddCheckpointRequest(_parse_old(old), _parse_proof(proof), note)
    request.unverified_checkpoint  # noqa: B018 - refuse a malformed note here, as a 400
    return request


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The request body for a checkpoint `note` and a consistency proof from `old_size`."""
    if not 0 <= old_size <= MAX_SIZE:
        raise InvalidInput(f"old size must be from 0 to 2**64 - 1, got {old_size}")
    lines = "".join(encode_base64(digest) + "\n" for digest in proof)
    body = f"old {old_size}\n{lines}\n{note}".encode()
    parse_add_checkpoint(body)
    return body


def _parse_old(line: str) -> int:
    match = _OLD_LINE.fullmatch(line)
    if match is None:
        raise InvalidInput(
            "the first line must be 'old <size>', the size in decimal without leading zeros"
        )
    if int(match[1]) > MAX_SIZE:
        raise InvalidInput(f"old size {match[1]} is larger than 2**64 - 1")
    return int(match[1])


def _parse_proof(lines: list[str]) -> tuple[bytes, ...]:
    if len(lines) > MAX_PROOF_LINES:
        raise InvalidInput(
            f"request has {len(lines)} consistency proof lines; at most {MAX_PROOF_LINES}"
        )
    proof = tuple(decode_base64(line, what=f"proof line {i + 2}") for i, line in enumerate(lines))
    for i, digest in enumerate(proof):
        if len(digest) != merkle.HASH_SIZE:
            raise InvalidInput(f"proof line {i + 2} holds {len(digest)} bytes; expected 32")
    return proof


@dataclass(frozen=True)
class CosignedCheckpoint:
    """The latest checkpoint a witness cosigned for a log: size, root hash and the note it saw."""

    size: int
    root_hash: bytes
    note: str


@dataclass(frozen=True)
class Misbehaviour:
    """Evidence: a checkpoint signed by the log that contradicts the one the witness cosigned."""

    origin: str
    reason: str
    cosigned_note: str | None
    refused_note: str
    old_size: int
    proof: tuple[bytes, ...]
    observed_at: datetime


class WitnessState(Protocol):
    """What a witness keeps per log. `store` is a compare and swap: it stores and answers True
    only if the latest cosigned size is still `old_size` (0 when there is none)."""

    def latest(self, origin: str) -> CosignedCheckpoint | None: ...

    def store(self, origin: str, size: int, root: bytes, note: str, *, old_size: int) -> bool: ...

    def record_misbehaviour(self, origin: str, evidence: Misbehaviour) -> None: ...


class MemoryWitnessState:
    """WitnessState in memory, for tests; `misbehaviour` lists the evidence recorded."""

    def __init__(self) -> None:
        self.checkpoints: dict[str, CosignedCheckpoint] = {}
        self.misbehaviour: list[Misbehaviour] = []
        self._lock = Lock()

    def latest(self, origin: str) -> CosignedCheckpoint | None:
        return self.checkpoints.get(origin)

    def store(self, origin: str, size: int, root: bytes, note: str, *, old_size: int) -> bool:
        with self._lock:
            current = self.checkpoints.get(origin)
            if (current.size if current else 0) != old_size:
                return False
            self.checkpoints[origin] = CosignedCheckpoint(size, root, note)
            return True

    def record_misbehaviour(self, origin: str, evidence: Misbehaviour) -> None:
        with self._lock:
            self.misbehaviour.append(evidence)


@dataclass(frozen=True)
class AddResult:
    """The HTTP answer to add-checkpoint: status, body and its content type."""

    status: int
    body: bytes
    content_type: str

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class _Refused(Exception):
    def __init__(self, status: int, message: str, content_type: str = TEXT_PLAIN) -> None:
        super().__init__(message)
        self.result = AddResult(status, (message + "\n").encode("utf-8"), content_type)


class Witness:
    """Cosigns checkpoints of the configured logs that extend what it cosigned before."""

    def __init__(
        self,
        key: CosignerKey,
        logs: Mapping[str, Verifier | Sequence[Verifier]],
        state: WitnessState,
        clock: Callable[[], datetime],
    ) -> None:
        self._key = key
        self._logs = {o: [v] if isinstance(v, Verifier) else list(v) for o, v in logs.items()}
        if not all(self._logs.values()):
            raise InvalidInput("every log of a witness needs at least one verifier key")
        self._state = state
        self._clock = clock

    @property
    def verifier(self) -> CosignerVerifier:
        return self._key.verifier

    def add_checkpoint(self, body: bytes) -> AddResult:
        """The answer to an add-checkpoint request `body` (steps 1 to 8 above)."""
        try:
            request = _parse(body)
            checkpoint = self._verified(request)
            latest = self._state.latest(checkpoint.origin)
            _check_old_size(request, checkpoint, latest)
            self._check_consistency(request, checkpoint, latest)
            return self._store_and_cosign(request, checkpoint)
        except _Refused as refusal:
            return refusal.result

    def _verified(self, request: AddCheckpointRequest) -> Checkpoint:
        origin = request.unverified_checkpoint.origin
        if origin not in self._logs:
            raise _Refused(404, f"unknown log: {origin}")
        try:
            return parse_checkpoint(open_note(request.note, self._logs[origin]).text)
        except ProofError as error:
            raise _Refused(403, f"checkpoint signature: {error.message}") from None

    def _check_consistency(
        self,
        request: AddCheckpointRequest,
        checkpoint: Checkpoint,
        latest: CosignedCheckpoint | None,
    ) -> None:
        if request.old_size == 0 and request.proof:
            raise _Refused(422, "the consistency proof must be empty when the old size is 0")
        if checkpoint.size == 0 and checkpoint.root_hash != merkle.EMPTY_ROOT:
            reason = "a checkpoint of tree size 0 must have the root SHA-256 of nothing"
            self._refuse_misbehaviour(request, latest, 422, reason)
        if latest is None or request.old_size == 0:
            return
        if checkpoint.size == latest.size and checkpoint.root_hash != latest.root_hash:
            reason = f"tree size {latest.size} was cosigned with another root hash"
            self._refuse_misbehaviour(request, latest, 409, reason)
        try:
            merkle.verify_consistency(
                latest.size, checkpoint.size, request.proof, latest.root_hash, checkpoint.root_hash
            )
        except ProofError as error:
            if checkpoint.size == latest.size:  # the same tree: a proof where none belongs
                raise _Refused(422, f"consistency proof: {error.message}") from None
            reason = f"not consistent with the cosigned checkpoint: {error.message}"
            self._refuse_misbehaviour(request, latest, 422, reason)

    def _refuse_misbehaviour(
        self,
        request: AddCheckpointRequest,
        latest: CosignedCheckpoint | None,
        status: int,
        reason: str,
    ) -> NoReturn:
        origin = request.unverified_checkpoint.origin
        evidence = Misbehaviour(
            origin,
            reason,
            latest.note if latest else None,
            request.note,
            request.old_size,
            request.proof,
            aware_utc(self._clock(), field="witness clock"),
        )
        self._state.record_misbehaviour(origin, evidence)
        raise _Refused(status, reason)

    def _store_and_cosign(self, request: AddCheckpointRequest, checkpoint: Checkpoint) -> AddResult:
        stored = self._state.store(
            checkpoint.origin,
            checkpoint.size,
            checkpoint.root_hash,
            request.note,
            old_size=request.old_size,
        )
        if not stored:
            _refuse_old_size(self._state.latest(checkpoint.origin))
        now = aware_utc(self._clock(), field="witness clock")
        line = cosign(checkpoint.to_text(), self._key, timestamp=int(now.timestamp()))
        return AddResult(200, line.encode("utf-8"), TEXT_PLAIN)


def _parse(body: bytes) -> AddCheckpointRequest:
    if len(body) > MAX_BODY_BYTES:
        raise _Refused(413, f"request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        return parse_add_checkpoint(body)
    except InvalidInput as error:
        raise _Refused(400, error.message) from None


def _check_old_size(
    request: AddCheckpointRequest, checkpoint: Checkpoint, latest: CosignedCheckpoint | None
) -> None:
    if request.old_size > checkpoint.size:
        raise _Refused(
            400, f"old size {request.old_size} is larger than the tree size {checkpoint.size}"
        )
    if request.old_size != (latest.size if latest else 0):
        _refuse_old_size(latest)


def _refuse_old_size(latest: CosignedCheckpoint | None) -> NoReturn:
    raise _Refused(409, str(latest.size if latest else 0), TLOG_SIZE)
