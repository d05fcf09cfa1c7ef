"""What makes the log tamper-evident: canonical entries, RFC 6962 Merkle trees, Ed25519 keys, signed
notes and checkpoints, receipts, the map of heads and signed submissions.
"""

from __future__ import annotations

from ledger.integrity import merkle
from ledger.integrity.checkpoints import (
    Checkpoint,
    verify_checkpoint,
)
from ledger.integrity.endorsements import (
    confirm_key,
    prove_key,
)
from ledger.integrity.entries import (
    canonical_json,
    decode_entry,
)
from ledger.integrity.notes import (
    split_note,
)
from ledger.integrity.signing import (
    Signer,
    Verifier,
    decode_base64,
    generate_signer_key,
    read_private_key_file,
    write_private_key_file,
)
from ledger.integrity.submissions import (
    Submission,
    Submitted,
    signed_from_request,
)
from ledger.integrity.submissions import key_id as party_key_id

__all__ = [
    "Checkpoint",
    "Signer",
    "Submission",
    "Submitted",
    "Verifier",
    "canonical_json",
    "confirm_key",
    "decode_base64",
    "decode_entry",
    "generate_signer_key",
    "merkle",
    "party_key_id",
    "prove_key",
    "read_private_key_file",
    "signed_from_request",
    "split_note",
    "verify_checkpoint",
    "write_private_key_file",
]
