"""Witnessing: C2SP tlog-cosignatures, the tlog-witness logic and tlog-policy quorums."""

from __future__ import annotations

from ledger.witness.cosignatures import (
    CosignerKey,
    CosignerVerifier,
    cosignature_timestamps,
    generate_cosigner_key,
)
from ledger.witness.witness import (
    Witness,
    format_add_checkpoint,
)
from ledger.witness.witness_policy import (
    PolicyWitness,
    WitnessPolicy,
    parse_policy,
)

__all__ = [
    "CosignerKey",
    "CosignerVerifier",
    "PolicyWitness",
    "Witness",
    "WitnessPolicy",
    "cosignature_timestamps",
    "format_add_checkpoint",
    "generate_cosigner_key",
    "parse_policy",
]
