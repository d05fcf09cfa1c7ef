"""Verification against what someone else kept (docs/verification.md, section 6): checkpoints
obtained elsewhere (`custody verify --trusted FILE`) and a witness policy (`--witness-policy FILE`).

A store can be consistent with itself and still not be the log others saw: rolled back to an older
copy with the newer checkpoints deleted, or its newest entries rewritten with chain, tree and
checkpoint recomputed and re-signed by whoever holds the log key. Only what someone else kept can
tell: a checkpoint from a witness, a receipt holder or an earlier export, and the witnesses'
cosignatures the policy requires.

A trusted file holds one or more signed checkpoint notes, as `GET /v1/log/checkpoint` serves them
(text, blank line, signature lines, cosignature lines included), one after the other, each
separated from the next by one or more blank lines. Each must verify with the log key; its
cosignatures are not needed. ledger/verification/verify.py then checks the store against each one
in its pass:
at least as long, and the recomputed root at its size equal to its root.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ledger.domain.errors import IntegrityFailure, InvalidInput, ProofError
from ledger.integrity.checkpoints import Checkpoint, parse_checkpoint, verify_checkpoint
from ledger.integrity.notes import SIGNATURE_PREFIX, split_note
from ledger.integrity.signing import Verifier
from ledger.witness.cosignatures import cosignature_timestamps
from ledger.witness.witness_policy import WitnessCosignature, WitnessPolicy, check_quorum

MAX_TRUSTED_NOTES = 10_000
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")


def split_notes(text: str, *, source: str) -> list[str]:
    """The signed notes in a trusted file, in file order, or InvalidInput saying what is wrong.

    The file is read as paragraphs separated by blank lines: a paragraph of signature lines (each
    beginning with an em dash and a space) closes the paragraph of note text before it."""
    notes: list[str] = []
    body: str | None = None
    for paragraph in _BLANK_LINES.split(text.replace("\r\n", "\n").strip("\n")):
        lines = paragraph.split("\n")
        signed = [line.startswith(SIGNATURE_PREFIX) for line in lines]
        where = f"{source}: note {len(notes) + 1}"
        if all(signed):
            if body is None:
                raise InvalidInput(f"{where}: signature lines with no checkpoint text before them")
            notes.append(f"{body}\n\n{paragraph}\n")
            body = None
        elif any(signed):
            raise InvalidInput(
                f"{where}: signature lines and text in one paragraph; separate notes by blank lines"
            )
        elif body is not None:
            raise InvalidInput(f"{where} has no signature lines")
        elif paragraph.strip():
            body = paragraph
    if body is not None:
        raise InvalidInput(f"{source}: note {len(notes) + 1} has no signature lines")
    if not notes:
        raise InvalidInput(f"{source}: no signed checkpoint note in it")
    if len(notes) > MAX_TRUSTED_NOTES:
        raise InvalidInput(f"{source}: more than {MAX_TRUSTED_NOTES} notes")
    return notes


def trusted_checkpoints(
    notes: Sequence[str], verifier: Verifier, *, origin: str, source: str
) -> list[Checkpoint]:
    """The checkpoints of `notes`, each signed by the log key for `origin`; ProofError naming the
    first that is not."""
    checkpoints = []
    for number, note in enumerate(notes, start=1):
        try:
            checkpoints.append(verify_checkpoint(note, verifier, origin))
        except (IntegrityFailure, InvalidInput) as error:
            raise ProofError(
                f"{source}: trusted checkpoint {number} does not verify with the log key: "
                f"{error.message}"
            ) from None
    return checkpoints


def check_witnessed(note: str, size: int, policy: WitnessPolicy) -> list[WitnessCosignature]:
    """The cosignatures of the store's newest checkpoint (`note`, of tree size `size`, whose log
    signature is checked already) that meet the policy's quorum; else ProofError naming the
    policy's witnesses with no valid cosignature."""
    where = f"the newest checkpoint (size {size})"
    try:
        stamps = cosignature_timestamps(note, [w.verifier for w in policy.witnesses])
        checkpoint = parse_checkpoint(split_note(note)[0])
    except (ProofError, InvalidInput) as error:
        raise ProofError(f"{where} carries a bad cosignature: {error.message}") from None
    try:
        return check_quorum(policy, note, checkpoint)
    except ProofError as error:
        missing = ", ".join(w.name for w in policy.witnesses if w.verifier not in stamps)
        raise ProofError(
            f"{where} lacks the witness quorum: {error.message}; "
            f"no valid cosignature by {missing or 'no one'}"
        ) from None
